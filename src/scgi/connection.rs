//! One SCGI connection, one request, on the application's side: from an accepted socket to the
//! access-log line.
//!
//! Stages: **read request**, **build environ**, then the engine's **call app**, **send
//! headers**, **send body**, then **finish** — for the SCGI transport. `crate::engine` is the
//! half every transport shares; this file is SCGI's half.
//!
//! Interface: [`serve`] takes an accepted connection and returns when it is closed. It never
//! fails and never panics on anything the web server sends: every problem becomes a log line,
//! and a response where one can still be sent.
//!
//! The steps, as [`serve`] runs them:
//!
//! ```text
//!   read the header netstring      Timeouts::header (deadline)  bad → log line, close
//!   build the environ              cgi::environ_variables       bad path → Status: 400
//!   run the application            the engine; the body is read under Timeouts::body_read,
//!                                  and ends after CONTENT_LENGTH bytes, never later
//!   write the access-log line      before the web server can see the response end
//!   drain what the app left unread half-close, Config::max_drain_bytes, Timeouts::drain
//!   close the socket               the end of the response: SCGI has no other framing
//! ```
//!
//! Log lines name the client as the web server describes it (`REMOTE_ADDR`), or the web server
//! itself (its IP address, or `unix`) while there is no header to ask.

use std::cell::RefCell;
use std::io::{self, Read};
use std::net::Shutdown;
use std::rc::Rc;
use std::time::{Duration, Instant};

use super::request::{read_head, HeadError, RequestHead};
use super::Config;
use crate::cgi::{environ_variables, VariableError};
use crate::engine::{self, HeadStyle, Outcome, Transport};
use crate::gateway::Status;
use crate::gateway::{value_from_bytes, Application, Environ, ErrorStream, Input, InputError};
use crate::http::is_timeout;
use crate::log::ClientLog;
use crate::net::{self, DeadlinePassed, Limit, Stream, TimedReader};
use crate::observe::{Event, Observer};
use crate::read_ahead::ReadAhead;
use crate::write_buffer::WriteBuffer;
use crate::Stage;

/// The buffered read side of a connection, as the header parser and the body reader see it.
type ConnReader = ReadAhead<TimedReader<Stream>>;

/// Serves the one request on `stream`, then closes it. See the module docs.
pub(crate) fn serve<A>(stream: Stream, peer: String, app: &A, config: &Config)
where
    A: Application + ?Sized,
{
    let stream = Rc::new(stream);
    // The write timeout itself is kept by `net::write_all`; the kernel waits in short steps.
    if let Err(error) = net::set_send_wait(&*stream, config.timeouts.write) {
        let message = format!(
            "{}: setting up the connection failed: {error}",
            Stage::Accept
        );
        return config.log.line(&peer, &message);
    }
    let limit = Limit::deadline_after(Instant::now(), config.timeouts.header);
    // An empty buffer: `ReadAhead` makes its 8 KiB on the header's first read.
    let reader = ReadAhead::new(TimedReader::new(Rc::clone(&stream), limit), Vec::new());
    let mut conn = Connection {
        stream,
        client: peer,
        config,
    };
    conn.serve_request(reader, app);
    conn.close();
}

/// What one connection needs while it is served.
struct Connection<'c> {
    stream: Rc<Stream>,
    /// The first field of this connection's log lines.
    client: String,
    config: &'c Config,
}

impl Connection<'_> {
    /// Reads, checks and answers the request.
    fn serve_request<A: Application + ?Sized>(&mut self, mut reader: ConnReader, app: &A) {
        // Stage "read request": the header, under the header deadline.
        let head = match read_head(&mut reader, &self.config.limits) {
            Ok(head) => head,
            Err(error) => return self.refuse_unreadable(reader, error),
        };
        if let Some(client) = head.get("REMOTE_ADDR").filter(|a| !a.is_empty()) {
            self.client = value_from_bytes(client);
        }
        let body = RequestBody::new(reader, head.content_length, self.config);
        // Stage "build environ": the same rules as for CGI and FastCGI.
        let variables = match environ_variables(head.pairs()) {
            Ok(variables) => variables,
            Err(refusal) => return self.refuse(&head, refusal, body),
        };
        for note in &variables.left_out {
            self.log(Stage::BuildEnviron, note);
        }
        self.observe(Event::Environ {
            vars: &variables.vars,
        });
        let environ = Environ {
            vars: variables.vars,
            input: Input::new(BodyHandle(Rc::clone(&body))),
            errors: ErrorStream::new(ClientLog {
                log: self.config.log.clone(),
                client: self.client.clone(),
            }),
            url_scheme: variables.url_scheme,
            multithread: false,
            // Several rgiref processes may serve one web server (an nginx `upstream` with two
            // `server` lines, say), and the application cannot tell.
            multiprocess: true,
            run_once: false,
            // rgiref's SCGI server adds none (see `Environ::extensions`).
            extensions: Default::default(),
        };
        // Stages "call app", "send headers", "send body": the engine's.
        let mut transport = self.transport();
        let outcome = engine::run(app, environ, &mut transport);
        let aborted = transport.aborted;
        drop(transport);
        self.finish(&head, &outcome, &body, aborted);
    }

    /// Stage "finish": the access line, then draining — or, for a response the engine cut
    /// short, closing at once.
    fn finish(&self, head: &RequestHead, outcome: &Outcome, body: &SharedBody, aborted: bool) {
        self.access_log(head, outcome);
        if aborted {
            // SCGI's only "this response is broken" is the connection closing early: a web
            // server that was promised a Content-Length sees it fall short (nginx: "upstream
            // prematurely closed connection"). A body without one looks complete — which is
            // why the engine sends Content-Length whenever it knows the length.
            body.borrow_mut().ended = true;
            let _ = self.stream.shutdown(Shutdown::Both);
            return;
        }
        let drained = body.borrow_mut().finish(&self.stream, self.config);
        self.report_drain(drained);
    }

    /// Logs a header that could not be read, and closes the connection.
    fn refuse_unreadable(&self, mut reader: ConnReader, error: HeadError) {
        match error {
            // A port check (a health check, `nc -z`): nothing was asked, nothing to say.
            HeadError::Empty => {}
            HeadError::EndedEarly(message) => self.log(Stage::ReadRequest, &message),
            HeadError::Malformed(message) => {
                self.log(Stage::ReadRequest, &format!("bad SCGI request: {message}"));
                // The web server is waiting for an answer, and may still be sending: close our
                // side, and read what it sent (bounded) so that it sees our end of the
                // connection rather than a reset. It answers its client with 502 either way.
                let _ = self.stream.shutdown(Shutdown::Write);
                reader.get_mut().set_limit(Limit::deadline_after(
                    Instant::now(),
                    self.config.timeouts.drain,
                ));
                self.report_drain(Some(drain(&mut reader, self.config)));
            }
            HeadError::Io(error) if is_timeout(&error) => {
                let waited = self.config.timeouts.header;
                let message = format!("the request header did not arrive within {waited:?}");
                self.log(Stage::ReadRequest, &message);
            }
            HeadError::Io(error) => self.log(Stage::ReadRequest, &error.to_string()),
        }
    }

    /// Answers a request whose header was fine but whose variables cannot describe a request
    /// truthfully (a `PATH_INFO` that is not UTF-8): the status it names, as a CGI response.
    fn refuse(&self, head: &RequestHead, refusal: VariableError, body: SharedBody) {
        self.log(Stage::BuildEnviron, &refusal.to_string());
        let method = head.get("REQUEST_METHOD").map(value_from_bytes);
        let mut transport = self.transport();
        let outcome = engine::send_error(
            &mut transport,
            method.as_deref().unwrap_or(""),
            refusal.status,
            &refusal.message,
        );
        drop(transport);
        self.finish(head, &outcome, &body, false);
    }

    /// SCGI's transport for this connection: a CGI response (`Status:` header) on the socket.
    fn transport(&self) -> ScgiTransport<'_> {
        ScgiTransport {
            stream: &self.stream,
            buffer: WriteBuffer::new(),
            flushes: 0,
            write_timeout: self.config.timeouts.write,
            aborted: false,
            observer: self.config.observer.as_deref().map(|o| o as &dyn Observer),
        }
    }

    /// Tells the configured observer, if there is one, what just happened.
    fn observe(&self, event: Event<'_>) {
        if let Some(observer) = &self.config.observer {
            observer.event(&event);
        }
    }

    /// The access line, in the HTTP server's shape: the request as the web server describes it.
    fn access_log(&self, head: &RequestHead, outcome: &Outcome) {
        if !self.config.access_log {
            return;
        }
        let status = outcome
            .status
            .map_or_else(|| "-".to_owned(), |code| code.to_string());
        let line = format!("\"{}\" {status} {}", request_line(head), outcome.body_bytes);
        self.config.log.line(&self.client, &line);
    }

    /// Logs a drain that left bytes behind.
    fn report_drain(&self, drained: Option<Drained>) {
        if let Some(message) = drained.and_then(|drained| drained.complaint()) {
            self.log(Stage::Finish, &message);
        }
    }

    fn log(&self, stage: Stage, message: &str) {
        self.config
            .log
            .line(&self.client, &format!("{stage}: {message}"));
    }

    /// Closes the connection for every owner of the socket at once. An application that kept
    /// its `Input` past the response holds a reference to the socket; `shutdown` makes sure the
    /// web server still sees the connection end now.
    fn close(self) {
        self.observe(Event::Closed);
        if Rc::strong_count(&self.stream) > 1 {
            let _ = self.stream.shutdown(Shutdown::Both);
        }
        // Otherwise dropping the last owner closes the socket, which sends the FIN itself.
    }
}

/// `METHOD URI PROTOCOL`, from the variables the web server sent, for the access line.
fn request_line(head: &RequestHead) -> String {
    let text = |name| head.get(name).map(value_from_bytes);
    let target = text("REQUEST_URI").unwrap_or_else(|| {
        let path = text("SCRIPT_NAME").unwrap_or_default() + &text("PATH_INFO").unwrap_or_default();
        match text("QUERY_STRING").filter(|q| !q.is_empty()) {
            Some(query) => format!("{path}?{query}"),
            None => path,
        }
    });
    let target = if target.is_empty() {
        "-".to_owned()
    } else {
        target
    };
    let method = text("REQUEST_METHOD").unwrap_or_else(|| "-".to_owned());
    let protocol = text("SERVER_PROTOCOL").unwrap_or_else(|| "-".to_owned());
    format!("{method} {target} {protocol}")
}

/// Where the engine's response bytes go: through a [`WriteBuffer`], so a small response
/// leaves in one `write` (as in the HTTP server's transport, `src/server/connection.rs`).
struct ScgiTransport<'s> {
    stream: &'s Stream,
    buffer: WriteBuffer,
    flushes: u32,
    write_timeout: Duration,
    /// Set by `abort`: the connection closes at once, without draining.
    aborted: bool,
    observer: Option<&'s dyn Observer>,
}

/// Writes to the web server under `Timeouts::write`: each 64 KiB slice must be taken within it
/// (`src/net/stream.rs`).
fn send(stream: &Stream, bytes: &[u8], write_timeout: Duration) -> io::Result<()> {
    net::write_all(stream, bytes, write_timeout).map_err(|error| match error.kind() {
        // Say it in the web server's terms: it is our client.
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => io::Error::new(
            io::ErrorKind::TimedOut,
            format!(
                "the web server stopped reading: a 64 KiB slice of the response was not \
                 taken within the write timeout of {write_timeout:?}"
            ),
        ),
        _ => error,
    })
}

impl Transport for ScgiTransport<'_> {
    /// SCGI's response is a CGI response (SCGI §2 leaves it open; every web server expects
    /// this): a `Status:` header, then the application's headers, and the web server makes the
    /// status line of them.
    fn head_style(&self) -> HeadStyle<'_> {
        HeadStyle::StatusHeader
    }

    fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        let (stream, timeout) = (self.stream, self.write_timeout);
        self.buffer
            .write(bytes, |bytes| send(stream, bytes, timeout))
    }

    fn flush(&mut self) -> io::Result<()> {
        self.flushes += 1;
        if self.flushes == 2 {
            // A streamed body: without this, Nagle's algorithm could hold each small chunk
            // back until the web server acknowledges the last (the HTTP transport says more).
            self.stream.set_nodelay()?;
        }
        let (stream, timeout) = (self.stream, self.write_timeout);
        self.buffer.flush(|bytes| send(stream, bytes, timeout))
    }

    fn abort(&mut self) {
        self.aborted = true;
    }

    fn observer(&self) -> Option<&dyn Observer> {
        self.observer
    }
}

/// The request body, shared between the application (through its [`Input`]) and the
/// connection, which drains whatever the application leaves unread.
type SharedBody = Rc<RefCell<RequestBody>>;

/// Exactly `CONTENT_LENGTH` bytes of the connection, and not one more (SCGI §3: "The body is
/// sent following the headers and its length is specified by the CONTENT_LENGTH header").
struct RequestBody {
    reader: ConnReader,
    length: u64,
    remaining: u64,
    /// Set once reading failed: every later read fails the same way, so an application that
    /// retries cannot take a broken body for a short one.
    failed: Option<Failed>,
    /// True once the response is over: reads fail from then on.
    ended: bool,
    body_timeout: Duration,
}

/// How a body read failed, kept to be repeated.
struct Failed {
    kind: io::ErrorKind,
    message: String,
    input: Option<InputError>,
}

impl Failed {
    fn to_io(&self) -> io::Error {
        match &self.input {
            Some(input) => input.clone().into_io(self.kind),
            None => io::Error::new(self.kind, self.message.clone()),
        }
    }
}

impl RequestBody {
    fn new(mut reader: ConnReader, length: u64, config: &Config) -> SharedBody {
        // The body is read under the idle timeout only: no deadline for the whole upload.
        reader
            .get_mut()
            .set_limit(Limit::Idle(config.timeouts.body_read));
        Rc::new(RefCell::new(RequestBody {
            reader,
            length,
            remaining: length,
            failed: None,
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
        if let Some(failed) = &self.failed {
            return Err(failed.to_io());
        }
        if self.remaining == 0 || buf.is_empty() {
            return Ok(0);
        }
        let most = buf
            .len()
            .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
        match self.reader.read(&mut buf[..most]) {
            Ok(0) => Err(self.fail(self.ended_early())),
            Ok(n) => {
                self.remaining -= n as u64;
                Ok(n)
            }
            Err(error) if error.kind() == io::ErrorKind::Interrupted => Err(error),
            Err(error) => Err(self.fail(self.explain(error))),
        }
    }

    /// Remembers `failed`, and returns it as the error for this read.
    fn fail(&mut self, failed: Failed) -> io::Error {
        let error = failed.to_io();
        self.failed = Some(failed);
        error
    }

    fn received(&self) -> u64 {
        self.length - self.remaining
    }

    /// The connection ended before `CONTENT_LENGTH` bytes: the request is broken, a 400.
    fn ended_early(&self) -> Failed {
        let message = format!(
            "the request body ended after {} of its {} bytes (CONTENT_LENGTH)",
            self.received(),
            self.length
        );
        let input = InputError::new(Status::BAD_REQUEST, message.clone());
        Failed {
            kind: io::ErrorKind::UnexpectedEof,
            message,
            input: Some(input),
        }
    }

    /// Says what happened (a socket error says only "timed out" or "connection reset"), and
    /// when the peer was at fault, with the status it earned: 408 for a body that stopped.
    fn explain(&self, error: io::Error) -> Failed {
        let kind = error.kind();
        if is_timeout(&error) {
            let message = format!(
                "the request body stopped arriving: nothing for {:?}",
                self.body_timeout
            );
            let input = InputError::new(Status::REQUEST_TIMEOUT, message.clone());
            return Failed {
                kind: io::ErrorKind::TimedOut,
                message,
                input: Some(input),
            };
        }
        let message = match kind {
            io::ErrorKind::ConnectionReset | io::ErrorKind::ConnectionAborted => format!(
                "the web server reset the connection after sending {} body bytes",
                self.received()
            ),
            _ => error.to_string(),
        };
        Failed {
            kind,
            message,
            input: None, // nobody is left to answer
        }
    }

    /// Stage "finish": ends reading for the application, and drains what it left unread, so
    /// the web server is not sent a TCP reset (closing a socket with unread bytes sends one,
    /// and the peer may then lose our response before reading it). `None` if nothing was left.
    fn finish(&mut self, stream: &Stream, config: &Config) -> Option<Drained> {
        self.ended = true;
        // Bytes read ahead past the body mean a peer sending more than CONTENT_LENGTH: they are
        // unread too.
        let past_the_body = self.remaining == 0 && !self.reader.buffered().is_empty();
        if self.remaining == 0 && !past_the_body && self.failed.is_none() {
            return None;
        }
        // The response is complete; a FIN says so while we read what is left.
        let _ = stream.shutdown(Shutdown::Write);
        let deadline = Limit::deadline_after(Instant::now(), config.timeouts.drain);
        self.reader.get_mut().set_limit(deadline);
        Some(drain(&mut self.reader, config))
    }
}

/// What the application's [`Input`] reads through.
struct BodyHandle(SharedBody);

impl Read for BodyHandle {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.borrow_mut().read(buf)
    }
}

/// How a drain ended.
enum Drained {
    /// The bytes ran out (the peer closed, or waited without sending): nothing left behind.
    Clean,
    /// We stopped with bytes possibly still coming.
    GaveUp { read: u64, why: String },
}

impl Drained {
    /// A log line, if the drain left bytes behind.
    fn complaint(&self) -> Option<String> {
        match self {
            Drained::Clean => None,
            Drained::GaveUp { read, why } => Some(format!(
                "stopped reading the web server's unread bytes after {read} ({why}); it may \
                 see a connection reset"
            )),
        }
    }
}

/// Reads and throws away what `reader` still has, up to `Config::max_drain_bytes`, until it
/// ends or the deadline set on the socket passes. Like the HTTP server's drain: a read that
/// waited until the deadline and found nothing means the peer has stopped sending, and closing
/// then sends a normal FIN, not a reset.
fn drain(reader: &mut impl Read, config: &Config) -> Drained {
    let mut limited = reader.take(config.max_drain_bytes);
    let mut buffer = [0u8; 16 * 1024];
    let mut read = 0;
    loop {
        match limited.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => read += n as u64,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) if DeadlinePassed::is(&error) => {
                let why = format!("still arriving after {:?}", config.timeouts.drain);
                return Drained::GaveUp { read, why };
            }
            // Waited and nothing came, or the peer closed or reset: nothing left unread.
            Err(_) => return Drained::Clean,
        }
    }
    if limited.limit() == 0 {
        let why = format!("the drain limit of {} bytes", config.max_drain_bytes);
        return Drained::GaveUp { read, why };
    }
    Drained::Clean
}
