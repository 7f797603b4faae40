//! One connection, one request: from an accepted socket to the access-log line.
//!
//! Stages: **read request**, **build environ**, then the engine's **call app**, **send
//! headers**, **send body**, then **finish** — for the HTTP transport. This file is the HTTP
//! server's half of the stack diagram; `crate::engine` is the half every transport shares.
//!
//! Interface: [`serve`] takes an accepted connection and returns when it is closed. It never
//! fails and never panics on anything the client sends: every problem becomes a response
//! (where one can still be sent) and a log line.
//!
//! The steps, as [`serve`] runs them:
//!
//! ```text
//!   wait for the first byte        Timeouts::first_byte    nothing → close quietly, log if idle
//!   read the request head          Timeouts::request_head  bad → 4xx page; slow → 408
//!   decide the body's framing      Content-Length/chunked  bad → 400/411/501
//!   build the environ              CGI variables           bad path → 400
//!   run the application            the engine              its status, or 500
//!   write the access-log line      before the client can see the end of the response
//!   drain what the app left unread Config::max_drain_bytes so the client sees our response
//!   close the socket
//! ```
//!
//! The access-log line is written before the client can see the response end (before the
//! socket is shut down), so by the time a client sees the connection end, its request is in the
//! log; tests rely on this. Only a note about draining leftovers can come after it.

use std::cell::{Cell, RefCell};
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::rc::Rc;
use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use super::recorder::Recorder;
use super::socket;
use super::{Config, RAW_HEAD};
use crate::engine::{self, HeadStyle, Outcome, Transport};
use crate::gateway::{Application, Environ, ErrorStream, Input, InputError, Status};
use crate::http::{
    body_framing, cgi_variables, expects_continue, is_timeout, read_request_head, BodyReader,
    CgiVariables, ConnectionInfo, Framing, HeaderUse, Problem, Refusal, RequestError, RequestHead,
    Version,
};
use crate::log::ClientLog;
use crate::net::{self, DeadlinePassed, Limit, TimedReader};
use crate::observe::{Event, HeaderFate, Observer};
use crate::read_ahead::ReadAhead;
use crate::write_buffer::WriteBuffer;
use crate::Stage;

/// The buffered read side of a connection, as the head parser and the body reader see it.
type ConnReader = ReadAhead<TimedReader<TcpStream>>;

/// How far a connection reads ahead: one read usually takes in a whole request head.
const READ_BUFFER: usize = 8 * 1024;

thread_local! {
    /// The read buffer of the last connection on this thread, kept for the next one. A fresh
    /// buffer costs an allocation and, in safe Rust, zeroing all of it; see `read_ahead.rs`.
    static SPARE_READ_BUFFER: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// A read buffer: the spare one if there is one, or a new one.
fn take_read_buffer() -> Vec<u8> {
    let spare = SPARE_READ_BUFFER.take();
    if spare.len() == READ_BUFFER {
        spare
    } else {
        vec![0; READ_BUFFER]
    }
}

/// Keeps `buffer` for the next connection on this thread.
fn give_back_read_buffer(reader: ConnReader) {
    SPARE_READ_BUFFER.set(reader.into_buffer());
}

/// Serves the one request on `stream`, then closes it. See the module docs. If `stop` is set
/// while the client has sent nothing yet, closes it without waiting for a request.
pub(crate) fn serve<A>(
    stream: TcpStream,
    peer: SocketAddr,
    listening: SocketAddr,
    app: &A,
    config: &Config,
    stop: &AtomicBool,
) where
    A: Application + ?Sized,
{
    let accepted = Instant::now();
    let mut conn = match Connection::open(stream, peer, listening, accepted, config) {
        Ok(conn) => conn,
        Err(error) => {
            let client = peer.ip().to_canonical().to_string();
            return config.log.line(
                &client,
                &format!(
                    "{}: setting up the connection failed: {error}",
                    Stage::Accept
                ),
            );
        }
    };
    conn.observe(Event::Accepted {
        peer,
        local: conn.info.local,
    });
    if conn.wait_for_first_byte(stop) {
        conn.serve_request(app, accepted);
    }
    conn.close();
}

/// What one connection needs while it is served.
struct Connection<'s> {
    stream: Rc<TcpStream>,
    /// The read side, until the request body takes it over.
    reader: Option<ConnReader>,
    info: ConnectionInfo,
    client: String,
    config: &'s Config,
}

impl<'s> Connection<'s> {
    /// Sets up a connection that the listener at `listening` accepted. Every system call here
    /// is paid once per request, which is why there is only one — two for a listener on every
    /// address, which must ask which one was used (the benchmark counts them).
    fn open(
        stream: TcpStream,
        peer: SocketAddr,
        listening: SocketAddr,
        accepted: Instant,
        config: &'s Config,
    ) -> io::Result<Connection<'s>> {
        net::set_send_wait(&stream, config.timeouts.write)?;
        // Our end of the connection. A listener bound to one address can only accept there;
        // one bound to every address (0.0.0.0, ::) must ask the socket which one was used.
        let local = if listening.ip().is_unspecified() {
            stream.local_addr()?
        } else {
            listening
        };
        let info = ConnectionInfo {
            local,
            peer,
            server_software: config.server_software.clone(),
        };
        let stream = Rc::new(stream);
        // The first phase: waiting for the request's first byte.
        let first_byte = Limit::deadline_after(accepted, config.timeouts.first_byte);
        let reader = ReadAhead::new(
            TimedReader::new(Rc::clone(&stream), first_byte),
            take_read_buffer(),
        );
        Ok(Connection {
            stream,
            reader: Some(reader),
            info,
            client: peer.ip().to_canonical().to_string(),
            config,
        })
    }

    /// Tells the configured observer, if there is one, what just happened.
    fn observe(&self, event: Event<'_>) {
        if let Some(observer) = &self.config.observer {
            observer.event(&event);
        }
    }

    /// Waits for the client to start its request. False if there is nothing to serve.
    fn wait_for_first_byte(&mut self, stop: &AtomicBool) -> bool {
        let Some(reader) = self.reader.as_mut() else {
            return false;
        };
        match socket::wait_for_first_byte(reader, stop) {
            Ok(arrived) => arrived,
            // (false: connected and closed without a word — a port check, a shutdown wake-up
            // call — or the server is stopping. http.server is silent about these too.)
            Err(error) if is_timeout(&error) => {
                let waited = self.config.timeouts.first_byte;
                self.log(Stage::ReadRequest, &format!("closed an idle connection: no request within {waited:?} (a browser's spare pre-connect socket, usually)"));
                false
            }
            Err(error) => {
                self.log(
                    Stage::ReadRequest,
                    &format!("reading the request failed: {error}"),
                );
                false
            }
        }
    }

    /// Reads, checks and answers the request.
    fn serve_request<A: Application + ?Sized>(&mut self, app: &A, accepted: Instant) {
        // Stage "read request": the head, under the head deadline.
        let Some(reader) = self.reader.as_mut() else {
            return;
        };
        reader.get_mut().set_limit(Limit::deadline_after(
            accepted,
            self.config.timeouts.request_head,
        ));
        let (head, raw_head) = match read_head(reader, self.config) {
            Ok(read) => read,
            Err(error) => return self.refuse_unreadable(error),
        };
        self.observe(Event::RequestLine {
            method: &head.method,
            target: &head.target,
            version: &head.version.to_string(),
        });
        // What the head says about the body, and the environ's variables.
        let framing = match body_framing(&head) {
            Ok(framing) => framing,
            Err(refusal) => return self.refuse(Stage::ReadRequest, &head, refusal),
        };
        let wants_continue = match expects_continue(&head) {
            Ok(wants) => wants,
            Err(refusal) => return self.refuse(Stage::ReadRequest, &head, refusal),
        };
        // Stage "build environ".
        let cgi = match cgi_variables(&head, framing, &self.info) {
            Ok(cgi) => cgi,
            Err(refusal) => return self.refuse(Stage::BuildEnviron, &head, refusal),
        };
        for note in &cgi.dropped {
            self.log(Stage::BuildEnviron, note);
        }
        self.observe_environ(&head, &cgi);
        let Some(reader) = self.reader.take() else {
            return;
        };
        let body = RequestBody::new(
            reader,
            framing,
            wants_continue.then(|| Rc::clone(&self.stream)),
            self.config,
        );
        let mut environ = Environ::new(
            cgi.vars,
            Input::new(BodyHandle(Rc::clone(&body))),
            ErrorStream::new(ClientLog {
                log: self.config.log.clone(),
                client: self.client.clone(),
            }),
        );
        if let (true, Some(raw)) = (self.config.raw_head_to_app, raw_head) {
            environ.extensions.insert(RAW_HEAD.to_owned(), raw);
        }
        // Stages "call app", "send headers", "send body": the engine's.
        let mut transport = self.transport(head.version, Some(Rc::clone(&body)));
        let outcome = engine::run(app, environ, &mut transport);
        let aborted = transport.aborted;
        drop(transport);
        // Stage "finish". The access line goes first: draining tells the client the response
        // is over, and its request must be in the log by then.
        self.access_log(Some(&head.request_line), &outcome);
        if aborted {
            // The engine cut the response short: close now, so the client sees the body end
            // before its Content-Length. No draining: this response is broken anyway.
            body.borrow_mut().ended = true;
        } else {
            let drained = body.borrow_mut().finish(&self.stream, self.config);
            self.report_drain(drained);
        }
        // Unless the application kept its Input (and so a share of the body), the connection's
        // reader comes back to us, and with it the buffer for the next connection.
        if let Ok(body) = Rc::try_unwrap(body) {
            give_back_read_buffer(body.into_inner().reader.into_inner());
        }
    }

    /// Answers a request whose head could not be read.
    fn refuse_unreadable(&mut self, error: RequestError) {
        let line = error.request_line.as_deref();
        // The reader knows the method once it has seen the space after it, even if the rest of
        // the line was too long or bad: a HEAD request's refusal must not have a body either
        // (RFC 9110 §9.3.2).
        let method = error.method.clone().unwrap_or_default();
        let method = method.as_str();
        match error.problem {
            Problem::Refused(refusal) => {
                self.answer_refusal(Stage::ReadRequest, line, method, Version::HTTP_10, refusal)
            }
            Problem::TimedOut => {
                let waited = self.config.timeouts.request_head;
                let message = format!("the request head did not arrive within {waited:?}");
                let refusal = Refusal {
                    status: Status::REQUEST_TIMEOUT,
                    message,
                };
                self.answer_refusal(Stage::ReadRequest, line, method, Version::HTTP_10, refusal);
            }
            Problem::Closed => self.log(
                Stage::ReadRequest,
                "the client closed the connection in the middle of its request head",
            ),
            Problem::Io(error) => self.log(
                Stage::ReadRequest,
                &format!("reading the request failed: {error}"),
            ),
        }
    }

    /// Answers a request we read but will not run.
    fn refuse(&mut self, stage: Stage, head: &RequestHead, refusal: Refusal) {
        let line = Some(head.request_line.as_str());
        self.answer_refusal(stage, line, &head.method, head.version, refusal);
    }

    /// Sends the error page for `refusal`, drains what the client may still be sending, logs.
    fn answer_refusal(
        &mut self,
        stage: Stage,
        request_line: Option<&str>,
        method: &str,
        version: Version,
        refusal: Refusal,
    ) {
        self.log(stage, &refusal.to_string());
        self.observe(Event::Refused {
            stage,
            status: refusal.status,
            message: &refusal.message,
        });
        let mut transport = self.transport(version, None);
        let outcome = engine::send_error(&mut transport, method, refusal.status, &refusal.message);
        drop(transport);
        self.access_log(request_line, &outcome);
        let Some(mut reader) = self.reader.take() else {
            return;
        };
        if refusal.status != Status::REQUEST_TIMEOUT {
            // We don't know where this request's body ends (or whether the rest of the head is
            // still coming), so read until the client closes, within the drain limits. (Not
            // after a 408: a client too slow to send its head has had its time, and draining
            // it would hold the only thread for Timeouts::drain more.)
            let _ = self.stream.shutdown(Shutdown::Write);
            let deadline = Limit::deadline_after(Instant::now(), self.config.timeouts.drain);
            reader.get_mut().set_limit(deadline);
            let drained = drain(&mut reader, self.config);
            self.report_drain(Some(drained));
        }
        give_back_read_buffer(reader);
    }

    /// The HTTP transport for this connection's response: a status line, or for an HTTP/0.9
    /// request no head at all.
    fn transport(
        &self,
        version: Version,
        body: Option<Rc<RefCell<RequestBody>>>,
    ) -> HttpTransport<'_> {
        let head_style = if version == Version::HTTP_09 {
            HeadStyle::None
        } else {
            HeadStyle::StatusLine {
                version: "HTTP/1.0",
                server: &self.config.server_software,
            }
        };
        HttpTransport {
            stream: &self.stream,
            head_style,
            buffer: WriteBuffer::new(),
            flushes: 0,
            body,
            write_timeout: self.config.timeouts.write,
            observer: self.config.observer.as_deref().map(|o| o as &dyn Observer),
            aborted: false,
        }
    }

    /// Tells the observer what became of each header, then the whole environ.
    fn observe_environ(&self, head: &RequestHead, cgi: &CgiVariables) {
        if self.config.observer.is_none() {
            return;
        }
        for ((name, value), used) in head.headers.iter().zip(&cgi.headers) {
            let fate = match used {
                HeaderUse::Variable(key) => HeaderFate::Variable(key),
                HeaderUse::Joined(key) => HeaderFate::Joined(key),
                HeaderUse::Dropped(why) => HeaderFate::Dropped(why),
            };
            self.observe(Event::Header { name, value, fate });
        }
        self.observe(Event::Environ { vars: &cgi.vars });
    }

    /// Logs a drain that left bytes behind, and tells the observer how much was drained.
    fn report_drain(&self, drained: Option<Drained>) {
        let Some(drained) = drained else { return };
        if let Some(message) = drained.complaint() {
            self.log(Stage::Finish, &message);
        }
        self.observe(Event::Drained {
            bytes: drained.bytes(),
        });
    }

    fn access_log(&self, request_line: Option<&str>, outcome: &Outcome) {
        if !self.config.access_log {
            return;
        }
        let status = outcome
            .status
            .map_or_else(|| "-".to_owned(), |code| code.to_string());
        let line = format!(
            "\"{}\" {status} {}",
            request_line.unwrap_or("-"),
            outcome.body_bytes
        );
        self.config.log.line(&self.client, &line);
    }

    fn log(&self, stage: Stage, message: &str) {
        self.config
            .log
            .line(&self.client, &format!("{stage}: {message}"));
    }

    /// Closes the connection for every owner of the socket at once. An application that kept
    /// its `Input` past the response holds a reference to the socket; `shutdown` makes sure the
    /// client still sees the connection end now.
    fn close(mut self) {
        if let Some(reader) = self.reader.take() {
            give_back_read_buffer(reader);
        }
        self.observe(Event::Closed);
        if Rc::strong_count(&self.stream) > 1 {
            let _ = self.stream.shutdown(Shutdown::Both);
        }
        // Otherwise dropping the last owner closes the socket, which sends the FIN itself.
    }
}

/// Where the engine's response bytes go: through a [`WriteBuffer`], so a small response —
/// status line, headers and body — leaves in exactly one `write` system call (and one TCP
/// segment), to the socket under `Timeouts::write`, which `net::write_all` enforces (its error
/// says in words how the client stopped reading).
struct HttpTransport<'s> {
    stream: &'s TcpStream,
    head_style: HeadStyle<'s>,
    buffer: WriteBuffer,
    flushes: u32,
    body: Option<Rc<RefCell<RequestBody>>>,
    write_timeout: Duration,
    observer: Option<&'s dyn Observer>,
    /// Set by `abort`: the connection closes at once, without draining.
    aborted: bool,
}

impl Transport for HttpTransport<'_> {
    fn head_style(&self) -> HeadStyle<'_> {
        self.head_style
    }

    fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        if let Some(body) = &self.body {
            // Once the response has begun, a "100 Continue" would arrive in the middle of it.
            body.borrow_mut().response_started = true;
        }
        let (stream, timeout) = (self.stream, self.write_timeout);
        self.buffer
            .write(bytes, |bytes| net::write_all(stream, bytes, timeout))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flushes += 1;
        if self.flushes == 2 {
            // A second flush means more than one push to the client. Nagle's algorithm holds a
            // small segment back while earlier data is unacknowledged — and the client may
            // delay its ACK by up to 40 ms — so each chunk of a streamed body could stall. A
            // body in memory is flushed once and never pays for this system call. A one-chunk
            // iterator or a one-block file is flushed twice (after its block, and at the end)
            // and pays it without needing it: one cheap call, not worth a special case.
            self.stream.set_nodelay(true)?;
        }
        let (stream, timeout) = (self.stream, self.write_timeout);
        self.buffer
            .flush(|bytes| net::write_all(stream, bytes, timeout))
    }

    /// HTTP/1.0 has one way to say "this response is broken": close the connection before
    /// the promised `Content-Length` arrives. A body sent without a length ends at the close
    /// anyway, so the client cannot tell — which is why the engine sends `Content-Length`
    /// whenever it knows the length.
    fn abort(&mut self) {
        self.aborted = true;
    }

    fn observer(&self) -> Option<&dyn Observer> {
        self.observer
    }
}

/// The request body, shared between the application (through its [`Input`]) and the server,
/// which must drain whatever the application leaves unread.
struct RequestBody {
    reader: BodyReader<ConnReader>,
    /// Set while we owe the client a `100 Continue` (RFC 9110 §10.1.1).
    continue_to: Option<Rc<TcpStream>>,
    response_started: bool,
    /// True once reading the body failed: its framing can no longer be trusted.
    failed: bool,
    /// True if that failure was the body timeout: the client stopped sending.
    timed_out: bool,
    /// True once the response is over: reads fail from then on.
    ended: bool,
    body_timeout: Duration,
}

impl RequestBody {
    fn new(
        reader: ConnReader,
        framing: Framing,
        continue_to: Option<Rc<TcpStream>>,
        config: &Config,
    ) -> Rc<RefCell<RequestBody>> {
        let mut reader = BodyReader::new(reader, framing, &config.limits);
        // The body is read under the idle timeout only: no deadline for the whole upload.
        let idle = Limit::Idle(config.timeouts.body_read);
        reader.get_mut().get_mut().set_limit(idle);
        Rc::new(RefCell::new(RequestBody {
            reader,
            continue_to,
            response_started: false,
            failed: false,
            timed_out: false,
            ended: false,
            body_timeout: config.timeouts.body_read,
        }))
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.ended {
            return Err(io::Error::other(
                "the request body can no longer be read: the response to this request is over \
                 (read it inside the application or its body, not later)",
            ));
        }
        self.send_continue_if_owed()?;
        self.reader.read(buf).map_err(|error| {
            self.failed = true;
            self.timed_out = is_timeout(&error);
            self.explain(error)
        })
    }

    /// Says what happened to the body (a socket error says only "timed out" or "connection
    /// reset"), and when it was the client's doing, wraps an [`InputError`] with the status
    /// it earned: if the application gives up with this error, that is the answer, not a 500.
    fn explain(&self, error: io::Error) -> io::Error {
        let received = self.reader.received();
        let kind = error.kind();
        let (status, message) = match kind {
            _ if is_timeout(&error) => (
                Status::REQUEST_TIMEOUT,
                format!(
                    "the request body stopped arriving: nothing for {:?}",
                    self.body_timeout
                ),
            ),
            // The client stopped early, or sent a malformed chunked body.
            io::ErrorKind::UnexpectedEof | io::ErrorKind::InvalidData => {
                (Status::BAD_REQUEST, error.to_string())
            }
            io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => {
                let message =
                    format!("the client reset the connection after sending {received} body bytes");
                return io::Error::new(kind, message); // nobody is left to answer
            }
            _ => return error,
        };
        let kind = if is_timeout(&error) {
            io::ErrorKind::TimedOut
        } else {
            kind
        };
        InputError::new(status, message).into_io(kind)
    }

    /// The first read is the moment to say "go ahead" to a client waiting to send its body —
    /// PEP 3333's advice, and why `curl -T` uploads don't stall for a second.
    fn send_continue_if_owed(&mut self) -> io::Result<()> {
        let Some(stream) = self.continue_to.take() else {
            return Ok(());
        };
        if self.response_started || self.reader.is_done() {
            return Ok(());
        }
        // An interim response cannot be HTTP/1.0 (1.0 has no 1xx); the client asking is 1.1.
        (&*stream).write_all(b"HTTP/1.1 100 Continue\r\n\r\n")
    }

    /// Stage "finish": ends reading for the application, and drains what it left unread so the
    /// client is not sent a TCP reset (closing a socket with unread bytes sends RST, and the
    /// client may then lose our response before reading it). `None` if nothing was left.
    fn finish(&mut self, stream: &TcpStream, config: &Config) -> Option<Drained> {
        self.ended = true;
        // Bytes we read past the end of the body mean a client sending its next request before
        // this one is answered (pipelining). We answer one request per connection, so whatever
        // more it sends must be drained like an unread body: bytes left unread in the kernel
        // when we close would make it send a reset.
        let past_the_body = !self.reader.get_mut().buffered().is_empty();
        if self.reader.is_done() && !past_the_body {
            return None;
        }
        // Not after the body stopped arriving (the rule a slow request head follows, in
        // `answer_refusal`): the client has had its Timeouts::body_read, and a drain would hold
        // the only thread for Timeouts::drain more. Nothing arrived for that long, so nothing is
        // left unread to cause a reset.
        if self.timed_out {
            return None;
        }
        // The response is complete; a FIN tells the client so while we read what is left.
        let _ = stream.shutdown(Shutdown::Write);
        let deadline = Limit::deadline_after(Instant::now(), config.timeouts.drain);
        self.reader.get_mut().get_mut().set_limit(deadline);
        let drained = if self.failed || self.reader.is_done() {
            // Nothing left of the body (or its framing is broken): read until the client stops.
            drain(self.reader.get_mut(), config)
        } else {
            drain(&mut self.reader, config)
        };
        Some(drained)
    }
}

/// Reads the request head. With an observer or [`Config::raw_head_to_app`], also records its
/// bytes exactly as they arrive, and returns them; otherwise nothing is copied (`None`).
fn read_head(
    reader: &mut ConnReader,
    config: &Config,
) -> Result<(RequestHead, Option<Vec<u8>>), RequestError> {
    if config.observer.is_none() && !config.raw_head_to_app {
        return Ok((read_request_head(reader, &config.limits)?, None));
    }
    let mut recorder = Recorder::new(reader);
    let head = read_request_head(&mut recorder, &config.limits);
    let raw = recorder.into_recorded();
    if let Some(observer) = &config.observer {
        observer.event(&Event::HeadReceived { raw: &raw });
    }
    Ok((head?, Some(raw)))
}

/// What the application's [`Input`] reads through.
struct BodyHandle(Rc<RefCell<RequestBody>>);

impl Read for BodyHandle {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.borrow_mut().read(buf)
    }
}

/// How a drain ended.
enum Drained {
    /// The bytes ran out (the body ended, or the client closed): nothing left behind.
    Clean { read: u64 },
    /// We stopped with bytes possibly still coming.
    GaveUp { read: u64, why: String },
}

impl Drained {
    /// How many bytes were read and thrown away.
    fn bytes(&self) -> u64 {
        match self {
            Drained::Clean { read } | Drained::GaveUp { read, .. } => *read,
        }
    }

    /// A log line, if the drain left bytes behind.
    fn complaint(&self) -> Option<String> {
        match self {
            Drained::Clean { .. } => None,
            Drained::GaveUp { read, why } => Some(format!(
                "stopped reading the client's unread bytes after {read} ({why}); the client may see a connection reset"
            )),
        }
    }
}

/// Reads and throws away what `reader` still has, up to `Config::max_drain_bytes`, until it
/// ends or the deadline set on the socket passes.
///
/// Two endings may leave bytes behind, and are reported: the byte limit, and a client still
/// sending when the deadline passed. A read that *waited* until the deadline and found nothing
/// is different: the kernel's queue is empty, closing sends a normal FIN, not a reset, and there
/// is nothing to report (the client has stopped sending, or keeps its end open).
fn drain(reader: &mut impl Read, config: &Config) -> Drained {
    let mut limited = reader.take(config.max_drain_bytes);
    let mut buffer = [0u8; 16 * 1024];
    let mut read = 0;
    loop {
        match limited.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => read += n as u64,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) if error.kind() == io::ErrorKind::InvalidData => {
                return Drained::GaveUp {
                    read,
                    why: error.to_string(),
                };
            }
            Err(error) if DeadlinePassed::is(&error) => {
                let why = format!("still arriving after {:?}", config.timeouts.drain);
                return Drained::GaveUp { read, why };
            }
            // Waited and nothing came, or the client closed or reset: nothing left unread.
            Err(_) => return Drained::Clean { read },
        }
    }
    if limited.limit() == 0 {
        let why = format!("the drain limit of {} bytes", config.max_drain_bytes);
        return Drained::GaveUp { read, why };
    }
    Drained::Clean { read }
}
