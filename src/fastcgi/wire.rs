//! One connection's records, both ways, and the request they belong to: what the connection
//! loop (`connection.rs`), the application's `Input`, its error stream and the engine's
//! transport all share.
//!
//! Stages: **read request** (records in, as the loop and the application ask for them) and
//! **send headers**, **send body**, **finish** (records out).
//!
//! Interface:
//! * [`Wire::next`] reads one record and handles what needs no one else — management records,
//!   requests we refuse, records for requests that are over — and reports the rest as an
//!   [`Arrived`]. Its `match` over record types is the protocol, one arm per type.
//! * The application reads STDIN through [`StdinReader`] (its `Input`), writes error lines
//!   through [`StderrSink`] (its `ErrorStream`), and the engine writes the response through
//!   [`FcgiTransport`]. Each holds the request's `serial`; once that request is over, reads
//!   fail and writes go nowhere, so a handle kept too long cannot touch the next request.
//! * [`Wire::end_request`] sends the last records of a response in one write.
//!
//! Records out collect in one buffer and leave at each flush, so STDOUT and STDERR stay in the
//! order they were written. A response takes two writes: the engine's last flush (the body),
//! then the end records (empty STDOUT, empty STDERR, END_REQUEST). The engine cannot say which
//! flush is its last — a streamed body flushes every chunk, and each must go at once — so the
//! two cannot be merged; `TCP_NODELAY` (`Config::nodelay`) keeps Nagle's algorithm from holding
//! the second one back until the web server's delayed ACK, which costs 40 ms a response.
//! Measured with the tests' client on loopback (release build, one kept connection, a
//! hello-world app): 0.035 ms a request with it; with it off, 44 ms a request, 199 requests of
//! 200 waiting for the delayed ACK — flup's 23 requests a second.

use std::cell::RefCell;
use std::io::{self, BufRead, Read};
use std::net::Shutdown;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Instant;

use super::record::{
    parse_pairs, push_pair, push_record, push_stream, read_record, type_name, Header, Record,
    RecordError, ABORT_REQUEST, BEGIN_REQUEST, CANT_MPX_CONN, DATA, END_REQUEST, GET_VALUES,
    GET_VALUES_RESULT, HEADER_LEN, KEEP_CONN, MAX_CONNS, MAX_CONTENT_LENGTH, MAX_REQS, MPXS_CONNS,
    NULL_REQUEST_ID, PARAMS, REQUEST_COMPLETE, RESPONDER, STDERR, STDIN, STDOUT, UNKNOWN_ROLE,
    UNKNOWN_TYPE,
};
use super::{Config, Limits, Timeouts};
use crate::engine::{HeadStyle, Transport};
use crate::gateway::{ErrorSink, InputError, Status};
use crate::http::is_timeout;
use crate::log::Log;
use crate::net::{self, Limit, Peer, Stream, TimedReader};
use crate::observe::{Direction, Event, Observer};
use crate::read_ahead::ReadAhead;
use crate::Stage;

/// How far the connection reads ahead: several small records in one read.
const READ_BUFFER: usize = 8 * 1024;

/// How many bytes of records out collect before they are written anyway: two full records.
const OUT_BUFFER: usize = 128 * 1024;

/// The request being served, from its BEGIN_REQUEST to its END_REQUEST (§3.3: "active").
pub(super) struct Request {
    pub(super) id: u16,
    /// Tells this request from every other on the connection, for the handles.
    pub(super) serial: u64,
    /// §5.1: `FCGI_KEEP_CONN` — the web server keeps the connection after this request.
    pub(super) keep_conn: bool,
    pub(super) phase: Phase,
    /// The body's length, from `CONTENT_LENGTH`; `None` for a streamed upload of unknown size.
    pub(super) content_length: Option<u64>,
    /// The last STDIN record's content, and how much of it the application has read.
    stdin: Vec<u8>,
    stdin_read: usize,
    /// Body bytes handed to the application so far.
    delivered: u64,
    /// Set by ABORT_REQUEST (§5.4).
    pub(super) aborted: bool,
    /// True once a STDERR record went out: then the stream must be ended with an empty one.
    stderr_sent: bool,
}

/// Where a request is in its input streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// Collecting PARAMS, up to the empty PARAMS record.
    Params,
    /// The application may read STDIN, up to the empty STDIN record.
    Stdin,
    /// The empty STDIN record has arrived: the body is over.
    StdinEnded,
}

/// What a record meant for whoever asked for the next one.
#[derive(Debug)]
pub(super) enum Arrived {
    /// Nothing for the caller: a management record answered, a request refused, a record for
    /// a request that is over.
    Nothing,
    /// A BEGIN_REQUEST we accepted: [`Wire::request`] is the new request.
    Begun,
    /// A BEGIN_REQUEST refused while idle (a role we do not play); without `KEEP_CONN` the
    /// connection should close now that it is answered.
    Refused { keep_conn: bool },
    /// Some of the active request's PARAMS.
    Params(Vec<u8>),
    /// Its empty PARAMS record.
    ParamsEnded,
    /// Some of its STDIN.
    Stdin(Vec<u8>),
    /// Its empty STDIN record.
    StdinEnded,
    /// ABORT_REQUEST for it.
    Aborted,
}

/// Why no more records can be read from the connection.
#[derive(Debug, Clone)]
pub(super) enum Broke {
    /// The web server closed the connection between two records.
    Closed,
    /// Nothing arrived in the time allowed.
    TimedOut,
    /// The connection failed, or ended in the middle of a record: the web server is gone.
    Gone(String),
    /// The web server broke the protocol (or does not speak it); the message says how.
    Protocol(String),
    /// Not FastCGI at all but the start of an HTTP request (logged where it was found).
    Http,
}

impl std::fmt::Display for Broke {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Broke::Closed => f.write_str("the web server closed the connection"),
            Broke::TimedOut => f.write_str("nothing arrived in the time allowed"),
            Broke::Gone(why) | Broke::Protocol(why) => f.write_str(why),
            Broke::Http => f.write_str("an HTTP request arrived instead of FastCGI records"),
        }
    }
}

/// The settings a connection keeps for itself (the handles outlive any borrow of `Config`).
struct Settings {
    timeouts: Timeouts,
    limits: Limits,
    log: Log,
    observer: Option<Arc<dyn Observer + Send + Sync>>,
}

/// One connection: its socket, its records in and out, and the request on it.
pub(super) struct Wire {
    stream: Rc<Stream>,
    reader: ReadAhead<TimedReader<Stream>>,
    /// Records waiting to be written.
    out: Vec<u8>,
    /// The active request, if there is one.
    pub(super) request: Option<Request>,
    next_serial: u64,
    /// Records read so far.
    records_in: u64,
    /// Why reading can go no further (the framing is lost, the peer is gone, a timeout).
    read_broken: Option<Broke>,
    /// Why writing can go no further; once set, what is written is dropped.
    write_broken: Option<String>,
    /// The web server's name in log lines.
    pub(super) peer: String,
    settings: Settings,
}

impl Wire {
    /// Sets up the connection: its kernel wait for each `send` (`net::set_send_wait`; the write
    /// timeout itself is kept by `net::write_all`), and `TCP_NODELAY` if configured.
    pub(super) fn open(stream: Stream, peer: Peer, config: &Config) -> io::Result<Wire> {
        net::set_send_wait(&stream, config.timeouts.write)?;
        if config.nodelay {
            stream.set_nodelay()?;
        }
        let stream = Rc::new(stream);
        let reader = TimedReader::new(Rc::clone(&stream), Limit::NoWait);
        Ok(Wire {
            stream,
            reader: ReadAhead::new(reader, vec![0; READ_BUFFER]),
            out: Vec::with_capacity(1024),
            request: None,
            next_serial: 0,
            records_in: 0,
            read_broken: None,
            write_broken: None,
            peer: peer.name(),
            settings: Settings {
                timeouts: config.timeouts,
                limits: config.limits,
                log: config.log.clone(),
                observer: config.observer.clone(),
            },
        })
    }

    /// Tells the observer, if there is one, what just happened.
    pub(super) fn observe(&self, event: Event<'_>) {
        if let Some(observer) = &self.settings.observer {
            observer.event(&event);
        }
    }

    /// Tells the observer about each record in `bytes`, which are whole records.
    fn observe_records_out(&self, mut bytes: &[u8]) {
        if self.settings.observer.is_none() {
            return;
        }
        while let Some(head) = bytes.get(..HEADER_LEN) {
            let mut header = [0u8; HEADER_LEN];
            header.copy_from_slice(head);
            let header = Header::parse(header);
            self.observe(Event::Record {
                direction: Direction::Out,
                kind: type_name(header.kind),
                request_id: header.request_id,
                content_length: usize::from(header.content_length),
            });
            let length = HEADER_LEN
                + usize::from(header.content_length)
                + usize::from(header.padding_length);
            bytes = bytes.get(length..).unwrap_or(&[]);
        }
    }

    pub(super) fn log(&self, stage: Stage, message: &str) {
        self.settings
            .log
            .line(&self.peer, &format!("{stage}: {message}"));
    }

    pub(super) fn is_write_broken(&self) -> bool {
        self.write_broken.is_some()
    }

    pub(super) fn is_read_broken(&self) -> bool {
        self.read_broken.is_some()
    }

    /// Reads the next record under `limit` and handles it. An `Err` is final: the connection
    /// can be read no further (and, for a web server that is gone, not written either).
    pub(super) fn next(&mut self, limit: Limit) -> Result<Arrived, Broke> {
        if let Some(broke) = &self.read_broken {
            return Err(broke.clone());
        }
        self.reader.get_mut().set_limit(limit);
        let arrived = match read_record(&mut self.reader) {
            Ok(Some(record)) => {
                self.records_in += 1;
                self.observe(Event::Record {
                    direction: Direction::In,
                    kind: type_name(record.kind),
                    request_id: record.request_id,
                    content_length: record.content.len(),
                });
                self.dispatch(record)
            }
            Ok(None) => Err(Broke::Closed),
            Err(error) => Err(self.record_failed(error)),
        };
        if let Err(broke) = &arrived {
            self.broke(broke.clone());
        }
        arrived
    }

    /// What a failed record read means. Bytes that are not FastCGI are logged here, once.
    fn record_failed(&self, error: RecordError) -> Broke {
        match error {
            RecordError::Io(error) if is_timeout(&error) => Broke::TimedOut,
            RecordError::Io(error) => Broke::Gone(format!("reading failed: {error}")),
            RecordError::Truncated { .. } => Broke::Gone(error.to_string()),
            // An HTTP client sends HTTP from its first byte; HTTP-like bytes later are garbage.
            RecordError::Version { .. }
                if self.records_in == 0 && error.http_request_start().is_some() =>
            {
                self.log(Stage::ReadRequest, &error.to_string());
                Broke::Http
            }
            RecordError::Version { .. } => self.protocol(error.to_string()),
        }
    }

    /// Remembers that reading is over. A web server that is gone cannot read either; one that
    /// broke the protocol gets nothing more from us — not even an error page, since it would
    /// be answering a conversation we no longer understand.
    fn broke(&mut self, broke: Broke) {
        let no_more_writes = match &broke {
            Broke::Closed | Broke::Gone(_) => Some("the web server closed the connection"),
            Broke::Protocol(_) => Some("the web server broke the protocol"),
            Broke::TimedOut | Broke::Http => None,
        };
        if let Some(why) = no_more_writes {
            self.write_broken.get_or_insert_with(|| why.to_owned());
        }
        self.read_broken = Some(broke);
    }

    /// The protocol, one arm per record type. Management records are those on request id 0
    /// (§3.3); for application records, a request id that is not active is ignored (§3.3).
    fn dispatch(&mut self, record: Record) -> Result<Arrived, Broke> {
        if record.request_id == NULL_REQUEST_ID {
            return self.on_management(record);
        }
        match record.kind {
            BEGIN_REQUEST => self.on_begin_request(record),
            ABORT_REQUEST => Ok(self.on_abort_request(record)),
            PARAMS => self.on_params(record),
            STDIN => self.on_stdin(record),
            // §6.2: a Responder has no DATA stream; a web server that sends one anyway is
            // harmless, and the records are skipped.
            DATA => Ok(Arrived::Nothing),
            _ => self.on_unexpected(record),
        }
    }

    /// §4: management records. GET_VALUES is the only one a web server sends; any other type
    /// gets UNKNOWN_TYPE (§4.2), so a newer web server learns we do not know it.
    fn on_management(&mut self, record: Record) -> Result<Arrived, Broke> {
        match record.kind {
            GET_VALUES => self.on_get_values(&record.content)?,
            other => self.on_unknown_type(other),
        }
        self.write_now();
        Ok(Arrived::Nothing)
    }

    /// §4.1: answer the names asked about, and only those, with the truth about this
    /// responder: one connection at a time, one request at a time, no multiplexing.
    fn on_get_values(&mut self, content: &[u8]) -> Result<(), Broke> {
        let asked = parse_pairs(content)
            .map_err(|error| self.protocol(format!("a malformed GET_VALUES record: {error}")))?;
        let mut answer = Vec::new();
        for (name, _) in asked {
            let value: &[u8] = match name {
                MAX_CONNS | MAX_REQS => b"1",
                MPXS_CONNS => b"0",
                _ => continue, // §4.1: a name we do not know is left out of the answer
            };
            if answer.len() + name.len() + 16 > MAX_CONTENT_LENGTH {
                break; // a question longer than one answer can hold: answer what fits
            }
            let _ = push_pair(&mut answer, name, value); // short names: cannot fail
        }
        push_record(&mut self.out, GET_VALUES_RESULT, NULL_REQUEST_ID, &answer);
        Ok(())
    }

    /// §4.2: `{UNKNOWN_TYPE, 0, {type}}`.
    fn on_unknown_type(&mut self, kind: u8) {
        push_record(
            &mut self.out,
            UNKNOWN_TYPE,
            NULL_REQUEST_ID,
            &[kind, 0, 0, 0, 0, 0, 0, 0],
        );
    }

    /// §5.1: `{role (2 bytes), flags, 5 reserved bytes}`. A request starts — unless one is
    /// already active (we do not multiplex: CANT_MPX_CONN) or it wants a role other than
    /// Responder (UNKNOWN_ROLE).
    fn on_begin_request(&mut self, record: Record) -> Result<Arrived, Broke> {
        let id = record.request_id;
        let Some(body) = record.content.get(..8) else {
            let length = record.content.len();
            return Err(self.protocol(format!(
                "a BEGIN_REQUEST for request {id} with {length} content bytes; it must have 8"
            )));
        };
        let role = u16::from_be_bytes([body[0], body[1]]);
        let keep_conn = body[2] & KEEP_CONN != 0;
        if let Some(active) = &self.request {
            if active.id == id {
                return Err(self.protocol(format!(
                    "a second BEGIN_REQUEST for request {id}, which is still active"
                )));
            }
            let message = format!(
                "refused request {id} with CANT_MPX_CONN: request {} is still being served on \
                 this connection (GET_VALUES says FCGI_MPXS_CONNS=0)",
                active.id
            );
            self.log(Stage::ReadRequest, &message);
            self.end_refused(id, CANT_MPX_CONN);
            return Ok(Arrived::Nothing);
        }
        if role != RESPONDER {
            let message = format!(
                "refused request {id} with UNKNOWN_ROLE: it asked for role {role} ({}); rgiref is \
                 a Responder only",
                role_name(role)
            );
            self.log(Stage::ReadRequest, &message);
            self.end_refused(id, UNKNOWN_ROLE);
            return Ok(Arrived::Refused { keep_conn });
        }
        self.request = Some(Request {
            id,
            serial: self.next_serial,
            keep_conn,
            phase: Phase::Params,
            content_length: None,
            stdin: Vec::new(),
            stdin_read: 0,
            delivered: 0,
            aborted: false,
            stderr_sent: false,
        });
        self.next_serial += 1;
        Ok(Arrived::Begun)
    }

    /// §5.4: the web server gives up on a request. Whoever is reading learns it; the request
    /// still ends with exactly one END_REQUEST, sent when it is finished.
    fn on_abort_request(&mut self, record: Record) -> Arrived {
        match self.active(record.request_id) {
            Some(request) => {
                request.aborted = true;
                Arrived::Aborted
            }
            None => Arrived::Nothing,
        }
    }

    /// §5.2: PARAMS, a stream of name-value pairs ending with an empty record.
    fn on_params(&mut self, record: Record) -> Result<Arrived, Broke> {
        let id = record.request_id;
        let Some(request) = self.active(id) else {
            return Ok(Arrived::Nothing);
        };
        if request.phase != Phase::Params {
            return Err(self.protocol(format!(
                "a PARAMS record for request {id} after its PARAMS had ended"
            )));
        }
        if record.content.is_empty() {
            request.phase = Phase::Stdin;
            return Ok(Arrived::ParamsEnded);
        }
        Ok(Arrived::Params(record.content))
    }

    /// §5.3 and §6.2: STDIN, the request body, after the PARAMS and ending with an empty record.
    fn on_stdin(&mut self, record: Record) -> Result<Arrived, Broke> {
        let id = record.request_id;
        let Some(request) = self.active(id) else {
            return Ok(Arrived::Nothing);
        };
        let problem = match request.phase {
            Phase::Stdin if record.content.is_empty() => {
                request.phase = Phase::StdinEnded;
                return Ok(Arrived::StdinEnded);
            }
            Phase::Stdin => return Ok(Arrived::Stdin(record.content)),
            Phase::Params => "before its PARAMS had ended",
            Phase::StdinEnded => "after its STDIN had ended",
        };
        Err(self.protocol(format!("a STDIN record for request {id} {problem}")))
    }

    /// A record type a web server never sends (END_REQUEST, STDOUT, …, or one with no name).
    /// For a request that is over it is ignored like any other record; for the active one it
    /// means the web server is confused, and guessing what it meant is how streams get
    /// misread, so the connection ends.
    fn on_unexpected(&mut self, record: Record) -> Result<Arrived, Broke> {
        let id = record.request_id;
        if self.active(id).is_none() {
            return Ok(Arrived::Nothing);
        }
        let kind = record.kind;
        Err(self.protocol(format!(
            "a record of type {kind} ({}) for request {id}; a web server never sends one",
            type_name(kind)
        )))
    }

    /// The active request, if `id` is its id.
    fn active(&mut self, id: u16) -> Option<&mut Request> {
        self.request.as_mut().filter(|request| request.id == id)
    }

    /// A protocol error: logged here, where it is found, once.
    fn protocol(&self, message: String) -> Broke {
        self.log(Stage::ReadRequest, &message);
        Broke::Protocol(message)
    }

    // ---- The request body, for the application -------------------------------------------

    /// The application's read of the request body (its `Input`).
    fn read_stdin(&mut self, serial: u64, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if let Some(answer) = self.stdin_answer(serial, buf) {
                return answer;
            }
            let idle = Limit::Idle(self.settings.timeouts.body_read);
            match self.next(idle) {
                Ok(Arrived::Stdin(bytes)) => {
                    if let Some(request) = self.request.as_mut() {
                        request.stdin = bytes;
                        request.stdin_read = 0;
                    }
                }
                Ok(_) => {} // handled; the next turn of the loop looks at the request again
                Err(broke) => return Err(self.stdin_error(broke)),
            }
        }
    }

    /// What a body read returns without reading a record, if it can say: bytes from the last
    /// STDIN record, the end of the body, or why it cannot be read.
    fn stdin_answer(&mut self, serial: u64, buf: &mut [u8]) -> Option<io::Result<usize>> {
        let Some(request) = self.request.as_mut().filter(|r| r.serial == serial) else {
            return Some(Err(io::Error::other(
                "the request body can no longer be read: the response to this request is over \
                 (read it inside the application or its body, not later)",
            )));
        };
        if request.aborted {
            return Some(Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "the web server aborted this request (ABORT_REQUEST)",
            )));
        }
        // With a CONTENT_LENGTH, the body is that long (§6.2: "at most CONTENT_LENGTH bytes"),
        // whatever else STDIN holds; without one, it is all of STDIN.
        let allowed = match request.content_length {
            Some(length) => length.saturating_sub(request.delivered),
            None => u64::MAX,
        };
        let pending = &request.stdin[request.stdin_read..];
        if !pending.is_empty() && allowed > 0 && !buf.is_empty() {
            let n = pending.len().min(buf.len()).min(allowed as usize);
            buf[..n].copy_from_slice(&pending[..n]);
            request.stdin_read += n;
            request.delivered += n as u64;
            return Some(Ok(n));
        }
        if allowed == 0 || buf.is_empty() {
            return Some(Ok(0));
        }
        if request.phase == Phase::StdinEnded {
            return Some(request.end_of_body());
        }
        None
    }

    /// The error the application's read returns when no more records can be read.
    fn stdin_error(&self, broke: Broke) -> io::Error {
        let delivered = self.request.as_ref().map_or(0, |r| r.delivered);
        match broke {
            Broke::TimedOut => {
                let waited = self.settings.timeouts.body_read;
                InputError::new(
                    Status::REQUEST_TIMEOUT,
                    format!("the request body stopped arriving: nothing for {waited:?}"),
                )
                .into_io(io::ErrorKind::TimedOut)
            }
            Broke::Closed | Broke::Gone(_) => io::Error::new(
                io::ErrorKind::ConnectionAborted,
                format!(
                    "the web server closed the connection after sending {delivered} bytes of \
                     the request body"
                ),
            ),
            Broke::Protocol(why) => io::Error::other(format!(
                "the connection to the web server broke while reading the request body: {why}"
            )),
            Broke::Http => io::Error::other("the connection is not FastCGI"),
        }
    }

    /// Reads and throws away what is left of the active request's STDIN, up to its empty
    /// record, within `Timeouts::drain` and `Limits::max_drain_bytes`, so the next request's
    /// records come next. `Err` says why it gave up.
    pub(super) fn drain_stdin(&mut self) -> Result<(), String> {
        let limit = Limit::deadline_after(Instant::now(), self.settings.timeouts.drain);
        let max = self.settings.limits.max_drain_bytes;
        let mut thrown = 0u64;
        loop {
            match &self.request {
                Some(request) if request.phase == Phase::Stdin && !request.aborted => {}
                _ => return Ok(()),
            }
            match self.next(limit) {
                Ok(Arrived::Stdin(bytes)) => thrown += bytes.len() as u64,
                Ok(_) => {}
                Err(Broke::TimedOut) => {
                    let waited = self.settings.timeouts.drain;
                    return Err(format!(
                        "the end of the request body did not come within {waited:?}"
                    ));
                }
                Err(broke) => return Err(broke.to_string()),
            }
            if thrown > max {
                return Err(format!("more than the drain limit of {max} bytes"));
            }
        }
    }

    // ---- Records out --------------------------------------------------------------------

    /// The active request's id if `serial` is still the active request and its output can go
    /// anywhere; `None` means "drop it": the request is over or aborted, or the peer is gone.
    fn writable(&self, serial: u64) -> Option<u16> {
        let request = self.request.as_ref().filter(|r| r.serial == serial)?;
        if request.aborted || self.write_broken.is_some() {
            return None;
        }
        Some(request.id)
    }

    /// Queues `bytes` as records of the stream `kind` of the active request, writing out what
    /// has collected whenever it reaches [`OUT_BUFFER`].
    fn queue_stream(&mut self, kind: u8, id: u16, bytes: &[u8]) -> io::Result<()> {
        for piece in bytes.chunks(MAX_CONTENT_LENGTH) {
            if self.out.len() + piece.len() > OUT_BUFFER {
                self.write_out()?;
            }
            push_stream(&mut self.out, kind, id, piece);
        }
        Ok(())
    }

    /// Writes every queued record. The first write that fails returns its error, with words
    /// for what it means; from then on, records are dropped.
    fn write_out(&mut self) -> io::Result<()> {
        if self.write_broken.is_some() {
            self.out.clear();
            return Ok(());
        }
        if self.out.is_empty() {
            return Ok(());
        }
        self.observe_records_out(&self.out);
        // Each 64 KiB slice must be taken within Timeouts::write (`src/net/stream.rs`).
        let written = net::write_all(&*self.stream, &self.out, self.settings.timeouts.write);
        self.out.clear();
        written.map_err(|error| {
            let error = self.explain_write_error(error);
            self.write_broken = Some(error.to_string());
            error
        })
    }

    /// Writes what is queued, for records that must go now; a failure is remembered.
    fn write_now(&mut self) {
        let _ = self.write_out();
    }

    fn explain_write_error(&self, error: io::Error) -> io::Error {
        let kind = error.kind();
        let message = match kind {
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => format!(
                "the web server stopped reading: a 64 KiB slice of records was not taken within \
                 the write timeout of {:?}",
                self.settings.timeouts.write
            ),
            io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted => {
                format!("the web server closed the connection ({error})")
            }
            _ => return error,
        };
        io::Error::new(kind, message)
    }

    /// §5.5: END_REQUEST for a request we refuse, sent at once.
    fn end_refused(&mut self, id: u16, protocol_status: u8) {
        push_end_request(&mut self.out, id, protocol_status);
        self.write_now();
    }

    /// Ends the active request: the empty STDOUT (and STDERR, if it was used) that end its
    /// streams, then END_REQUEST (§5.5, appStatus 0, REQUEST_COMPLETE), all in one write with
    /// whatever is still queued. After an ABORT_REQUEST the streams are not ended: the web
    /// server wants only the END_REQUEST. Either way the request is over afterwards.
    pub(super) fn end_request(&mut self) -> io::Result<()> {
        let Some(request) = self.request.take() else {
            return Ok(());
        };
        if !request.aborted {
            push_record(&mut self.out, STDOUT, request.id, b"");
            if request.stderr_sent {
                push_record(&mut self.out, STDERR, request.id, b"");
            }
        }
        push_end_request(&mut self.out, request.id, REQUEST_COMPLETE);
        self.write_out()
    }

    /// Ends the active request without END_REQUEST, for a response cut short: what is queued
    /// (the engine's last error lines) goes out, and then the connection must close, so the web
    /// server sees an incomplete response and does not pass it on as a whole one.
    pub(super) fn abandon_request(&mut self) {
        self.write_now();
        self.request = None;
    }

    /// Writes `bytes` as they are, not as records: for answering an HTTP client.
    pub(super) fn write_raw(&mut self, bytes: &[u8]) {
        self.out.extend_from_slice(bytes);
        self.write_now();
    }

    // ---- Waiting, and closing -----------------------------------------------------------

    /// True if a byte (or the end of the stream) arrives within `limit`; at once for
    /// `Limit::NoWait`.
    pub(super) fn bytes_arrive(&mut self, limit: Limit) -> bool {
        if !self.reader.buffered().is_empty() || self.read_broken.is_some() {
            return true;
        }
        self.reader.get_mut().set_limit(limit);
        match self.reader.fill_buf() {
            Ok(_) => true,
            Err(error) => !is_timeout(&error),
        }
    }

    /// Closes the connection. Unless the web server is gone: what is queued goes out, then a
    /// half-close (our FIN says "no more from us") and a bounded read until the web server
    /// closes its end — closing with unread bytes would send a reset, which can destroy our
    /// last records before the web server reads them. Then the socket is shut for every owner,
    /// including an `Input` the application kept.
    pub(super) fn close(&mut self) {
        self.request = None;
        if self.write_broken.is_none() {
            self.write_now();
            let _ = self.stream.shutdown(Shutdown::Write);
            self.linger();
        }
        self.read_broken.get_or_insert(Broke::Closed);
        self.write_broken.get_or_insert_with(|| "closed".to_owned());
        let _ = self.stream.shutdown(Shutdown::Both);
    }

    /// Reads and throws away bytes until the web server closes, `Timeouts::drain` passes, or
    /// `Limits::max_drain_bytes` have been read.
    fn linger(&mut self) {
        let deadline = Limit::deadline_after(Instant::now(), self.settings.timeouts.drain);
        self.reader.get_mut().set_limit(deadline);
        let mut left = self.settings.limits.max_drain_bytes;
        let mut buffer = [0u8; 8 * 1024];
        while left > 0 {
            match self.reader.read(&mut buffer) {
                Ok(0) => return,
                Ok(n) => left = left.saturating_sub(n as u64),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return,
            }
        }
    }
}

impl Request {
    /// What a read at the end of STDIN returns: 0, or if the body ended short of its
    /// `CONTENT_LENGTH` (the web server's client stopped sending), a 400.
    fn end_of_body(&self) -> io::Result<usize> {
        match self.content_length {
            Some(length) if self.delivered < length => Err(InputError::new(
                Status::BAD_REQUEST,
                format!(
                    "the request body ended after {} of its {length} bytes (CONTENT_LENGTH)",
                    self.delivered
                ),
            )
            .into_io(io::ErrorKind::UnexpectedEof)),
            _ => Ok(0),
        }
    }
}

/// §5.5: `{appStatus (4 bytes), protocolStatus, 3 reserved bytes}`. The appStatus is what a
/// CGI program would exit with; a response that was sent is a program that exited 0.
fn push_end_request(out: &mut Vec<u8>, id: u16, protocol_status: u8) {
    let body = [0, 0, 0, 0, protocol_status, 0, 0, 0];
    push_record(out, END_REQUEST, id, &body);
}

/// §6: the roles, by name, for the log.
fn role_name(role: u16) -> &'static str {
    match role {
        1 => "RESPONDER",
        2 => "AUTHORIZER",
        3 => "FILTER",
        _ => "unknown",
    }
}

/// The application's `Input`: the active request's STDIN.
pub(super) struct StdinReader {
    pub(super) wire: Rc<RefCell<Wire>>,
    pub(super) serial: u64,
}

impl Read for StdinReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.wire.try_borrow_mut() {
            Ok(mut wire) => wire.read_stdin(self.serial, buf),
            Err(_) => Err(io::Error::other("the connection is busy")),
        }
    }
}

/// The application's `ErrorStream` sink: each line becomes STDERR records (§5.3), queued with
/// the response's records and sent with them. With `Config::stderr_to_log`, and whenever the
/// line cannot be sent (the request is over, the web server is gone), it goes to our log too.
pub(super) struct StderrSink {
    pub(super) wire: Rc<RefCell<Wire>>,
    pub(super) serial: u64,
    pub(super) log: Log,
    pub(super) client: String,
    pub(super) to_log: bool,
}

impl ErrorSink for StderrSink {
    fn line(&self, line: &str) {
        let sent = match self.wire.try_borrow_mut() {
            Ok(mut wire) => wire.queue_stderr(self.serial, line),
            Err(_) => false,
        };
        if self.to_log || !sent {
            self.log.line(&self.client, line);
        }
    }
}

impl Wire {
    /// Queues one error line as STDERR; false if it could not be.
    fn queue_stderr(&mut self, serial: u64, line: &str) -> bool {
        let Some(id) = self.writable(serial) else {
            return false;
        };
        let mut bytes = Vec::with_capacity(line.len() + 1);
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
        if self.queue_stream(STDERR, id, &bytes).is_err() {
            return false;
        }
        if let Some(request) = self.request.as_mut() {
            request.stderr_sent = true;
        }
        true
    }
}

/// The engine's transport: the response as STDOUT records, headed `Status:` like a CGI
/// response (§6.1: "FastCGI applications set response status using the Status … header").
pub(super) struct FcgiTransport {
    pub(super) wire: Rc<RefCell<Wire>>,
    pub(super) serial: u64,
    /// The configured observer, for the engine's events (a borrow of `wire` cannot lend it).
    pub(super) observer: Option<Arc<dyn Observer + Send + Sync>>,
    /// Set by `abort`: the response broke off; the connection closes without END_REQUEST.
    pub(super) cut_short: bool,
}

impl FcgiTransport {
    fn with_wire(&self, action: impl FnOnce(&mut Wire, u16) -> io::Result<()>) -> io::Result<()> {
        let Ok(mut wire) = self.wire.try_borrow_mut() else {
            return Err(io::Error::other("the connection is busy"));
        };
        match wire.writable(self.serial) {
            Some(id) => action(&mut wire, id),
            None => Ok(()), // over, aborted, or the peer is gone: nobody to send it to
        }
    }
}

impl Transport for FcgiTransport {
    fn head_style(&self) -> HeadStyle<'_> {
        HeadStyle::StatusHeader
    }

    fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.with_wire(|wire, id| wire.queue_stream(STDOUT, id, bytes))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.with_wire(|wire, _| wire.write_out())
    }

    fn abort(&mut self) {
        self.cut_short = true;
    }

    fn observer(&self) -> Option<&dyn Observer> {
        self.observer.as_deref().map(|o| o as &dyn Observer)
    }
}
