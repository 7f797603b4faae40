//! The engine: runs an application for one request, over any transport.
//!
//! Stages: **call app**, **send headers**, **send body** and the first step of **finish** —
//! the part of the stack diagram that is the same whether the request came over HTTP, CGI or
//! FastCGI. This is wsgiref's `BaseHandler.run`, and [`run`] is the whole algorithm:
//!
//! ```text
//!   run(app, environ, transport):
//!       body = app.call(environ, start_response)    call app      (a panic or Err → fail)
//!       send body, the head before its first byte   send headers, send body
//!       drop body (WSGI's close(), always)          finish
//!       fail: nothing sent yet → an error page      (500, or the status an InputError names)
//!             something sent   → log "cut short", and transport.abort()
//! ```
//!
//! Interface:
//! * A transport implements [`Transport`]: how its response head looks ([`HeadStyle`]), where
//!   the bytes go (`write`, `flush`), and what to do with a response that broke off after some
//!   of it went out (`abort`). That is all the engine knows about sockets, pipes or records.
//! * [`run`] returns an [`Outcome`] — status, body bytes, how it ended — for the access log.
//! * [`send_error`] writes an error page the same way; the HTTP server uses it for the 4xx
//!   answers to requests it could not parse.
//!
//! What the engine deliberately does not do: read the request, build the environ, decide how a
//! connection ends, or write the access log. Those belong to the transport, which knows whether
//! there is a connection at all.

mod panic;
mod response;

use std::fmt;
use std::io::{self, Read};

use crate::gateway::{
    AppError, Application, Body, BodyKind, Environ, ErrorStream, InputError, Responder,
    StartResponse, Status,
};
use crate::observe::{Event, Observer};
use crate::Stage;
pub(crate) use panic::catch;
use response::Response;

/// What the engine needs from a transport (wsgiref's `_write`, `_flush`, `origin_server`).
///
/// A transport implements it, builds the environ, and calls [`run`]:
///
/// ```
/// use std::io;
/// use rgiref::engine::{self, Ending, HeadStyle, Transport};
/// use rgiref::gateway::{AppError, Body, Environ, StartResponse};
///
/// /// A transport that collects a CGI-style response in memory.
/// struct Memory(Vec<u8>);
///
/// impl Transport for Memory {
///     fn head_style(&self) -> HeadStyle<'_> {
///         HeadStyle::StatusHeader
///     }
///     fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
///         self.0.extend_from_slice(bytes);
///         Ok(())
///     }
///     fn flush(&mut self) -> io::Result<()> {
///         Ok(())
///     }
///     fn abort(&mut self) {} // nothing to mark: a test reads what arrived
/// }
///
/// let app = |_: &mut Environ, start_response: &mut StartResponse| -> Result<Body, AppError> {
///     start_response.start("200 OK", [("Content-Type", "text/plain")])?;
///     Ok(Body::from("hi"))
/// };
/// let mut out = Memory(Vec::new());
/// let outcome = engine::run(&app, Environ::default(), &mut out);
/// assert_eq!((outcome.status, outcome.ending), (Some(200), Ending::Complete));
/// assert_eq!(out.0, b"Status: 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi");
/// ```
///
/// The test client (`rgiref::testing`) is one more transport of this kind, with the HTTP
/// server's status line as its head.
pub trait Transport {
    /// How this transport's response head looks (see [`HeadStyle`]).
    fn head_style(&self) -> HeadStyle<'_>;

    /// Writes response bytes (the head, then the body), possibly into a buffer. An error's
    /// message should say what happened in words ("the client stopped reading: …"): the
    /// engine logs it as it is.
    fn write(&mut self, bytes: &[u8]) -> io::Result<()>;

    /// Sends anything buffered on to the peer.
    fn flush(&mut self) -> io::Result<()>;

    /// The response broke off after part of it went out (the application failed mid-body, or
    /// the body ended short of its `Content-Length`). Make the peer able to tell it is
    /// incomplete: the HTTP server closes the connection before the promised length arrives; a
    /// FastCGI responder closes *without* `END_REQUEST`, so the web server does not pass a
    /// truncated response on as complete.
    fn abort(&mut self);

    /// Who to tell what happens at each stage (see [`Observer`]); none by default, which
    /// costs nothing.
    fn observer(&self) -> Option<&dyn Observer> {
        None
    }
}

/// How a transport frames the head of its response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadStyle<'a> {
    /// We are the origin server, talking to the client itself: a status line (RFC 9112 §4)
    /// and the `Date` (RFC 9110 §6.6.1) and `Server` headers.
    StatusLine {
        /// The protocol on the status line, e.g. `"HTTP/1.0"`.
        version: &'a str,
        /// The `Server` header's value; empty for none.
        server: &'a str,
    },
    /// We are a gateway behind a web server (CGI, FastCGI): a `Status:` header instead of a
    /// status line (RFC 3875 §6.3.3), and the web server adds the rest.
    StatusHeader,
    /// No head at all, only the body: an HTTP/0.9 "Simple-Response" (RFC 1945 §4.1).
    None,
}

/// Runs `app` for one request: the whole gateway, in order. See the module docs, and
/// [`Transport`] for a transport calling it.
///
/// What it does to a response, seen through the test client, which calls it over an
/// in-memory transport: a body whose length is known gets its `Content-Length`, and an
/// application that fails before sending anything gets a clean 500, with the reason in the log.
///
/// ```
/// use rgiref::gateway::{AppError, Body, Environ, StartResponse};
/// use rgiref::testing::Client;
///
/// let app = |environ: &mut Environ, start_response: &mut StartResponse| -> Result<Body, AppError> {
///     if environ.path_info() == "/fail" {
///         return Err("the database is down".into());
///     }
///     start_response.start("200 OK", [("Content-Type", "text/plain")])?;
///     Ok(Body::from("hi"))
/// };
/// let client = Client::new(app);
/// let ok = client.get("/");
/// assert_eq!((ok.status, ok.header("Content-Length"), ok.text().as_str()), (200, Some("2"), "hi"));
/// let failed = client.get("/fail");
/// assert_eq!(failed.status, 500);
/// assert_eq!(failed.errors, ["call app: application error: the database is down"]);
/// ```
pub fn run<A>(app: &A, mut environ: Environ, transport: &mut dyn Transport) -> Outcome
where
    A: Application + ?Sized,
{
    let errors = environ.errors.clone();
    let mut response = Response::new(transport, environ.method() == "HEAD");

    // Stage "call app". The application gets the environ, and a start_response over `response`.
    let called = catch(|| app.call(&mut environ, &mut StartResponse::new(&mut response)));
    let (sent, cleaned_up) = match called {
        Ok(Ok(mut body)) => {
            // Stages "send headers" and "send body".
            let sent = send_body(&mut response, &mut body);
            // Stage "finish" starts with WSGI's close(): dropping the body runs its clean-up,
            // whether sending worked or not.
            (sent, close_body(body, &errors))
        }
        Ok(Err(error)) => (Err(Failure::from_app_error(&*error)), true),
        Err(panic) => {
            let message = format!("application {panic}");
            (Err(Failure::app(Stage::CallApp, message)), true)
        }
    };
    let mut outcome = match sent {
        Ok(()) => outcome_of(&response, Ending::Complete),
        Err(failure) => fail(&mut response, &errors, failure),
    };
    if !cleaned_up && outcome.ending == Ending::Complete {
        outcome.ending = Ending::CleanUpFailed;
    }
    response.observe(Event::Finished { outcome: &outcome });
    outcome
}

/// Sends a complete error page: `status`, and a plain-text body naming the problem. The HTTP
/// server uses it for the requests it refuses; the engine's own 500 is the same page. `method`
/// is the request's, if known: a HEAD request's error page has no body.
///
/// The test client sends a malformed request through the HTTP server's parser, which refuses
/// it with this page:
///
/// ```
/// use rgiref::demo::demo_app;
/// use rgiref::testing::Client;
/// let response = Client::new(demo_app).send_raw(b"GET  /x HTTP/1.0\r\n\r\n");
/// assert_eq!(response.status_line, "HTTP/1.0 400 Bad Request");
/// assert_eq!(response.header("Content-Type"), Some("text/plain; charset=utf-8"));
/// assert_eq!(response.header("X-Content-Type-Options"), Some("nosniff"));
/// assert_eq!(response.text(), "400 Bad Request: bad request line: \"GET  /x HTTP/1.0\" (it must be METHOD SP TARGET SP HTTP/x.y)\n");
/// ```
pub fn send_error(
    transport: &mut dyn Transport,
    method: &str,
    status: Status,
    message: &str,
) -> Outcome {
    let mut response = Response::new(transport, method == "HEAD");
    let ending = match write_error_page(&mut response, status, message) {
        Ok(()) => Ending::Complete,
        Err(_) => Ending::PeerGone,
    };
    outcome_of(&response, ending)
}

/// The body of a 500. Like wsgiref's, it tells the client nothing about the cause: that is in
/// the server's log, where the developer looks, and not in a page anyone can load.
pub const SERVER_ERROR_MESSAGE: &str = "the application failed; the server's error log says why";

/// Every error page: the status and one line saying what was wrong. Plain text, and marked
/// `nosniff`, because the message may quote what the client sent and a browser must never be
/// talked into reading it as HTML.
fn write_error_page(
    response: &mut Response<'_>,
    status: Status,
    message: &str,
) -> Result<(), Failure> {
    let body = format!("{status}: {message}\n");
    let headers = vec![
        (
            "Content-Type".to_owned(),
            "text/plain; charset=utf-8".to_owned(),
        ),
        ("X-Content-Type-Options".to_owned(), "nosniff".to_owned()),
    ];
    response.set(status.to_string(), headers);
    let length = Some(body.len() as u64);
    response.write_body(body.as_bytes(), length)?;
    response.finish(length)
}

/// Sends the body, in whichever shape the application chose, then finishes the response.
fn send_body(response: &mut Response<'_>, body: &mut Body) -> Result<(), Failure> {
    if let Some(misuse) = response.misuse() {
        return Err(Failure::app(Stage::CallApp, misuse.to_owned()));
    }
    if !response.is_started() {
        let message = "the application returned without calling start_response";
        return Err(Failure::app(Stage::CallApp, message.to_owned()));
    }
    let known_length = body.length();
    if !response.sends_body() {
        // HEAD, 204, 304: the head only. The body is not even iterated — producing bytes
        // nobody will receive is wasted work. So a length known in advance (bytes, a file)
        // still gives HEAD the Content-Length GET would have; one only found by iterating
        // (a one-chunk iterator) does not, which RFC 9110 §9.3.2 allows.
        return response.finish(known_length);
    }
    match &mut body.kind {
        BodyKind::Bytes(bytes) => response.write_body(bytes, known_length)?,
        BodyKind::Chunks(chunks) => send_chunks(response, chunks.as_mut())?,
        BodyKind::Reader { reader, .. } => send_reader(response, reader.as_mut(), known_length)?,
    }
    // If the head has still not gone out, no byte was sent: the body is empty, and says so with
    // `Content-Length: 0` — unless it declared a length, which `finish` then holds it to.
    response.finish(known_length.or(Some(0)))
}

/// Sends an iterator's chunks, flushing each one: PEP 3333 forbids holding a chunk back while
/// the application computes the next.
fn send_chunks(
    response: &mut Response<'_>,
    chunks: &mut dyn Iterator<Item = Result<Vec<u8>, AppError>>,
) -> Result<(), Failure> {
    loop {
        let chunk = match catch(|| chunks.next()) {
            Ok(None) => return Ok(()),
            Ok(Some(Ok(chunk))) => chunk,
            Ok(Some(Err(error))) => {
                let message = format!("the body iterator failed: {}", describe_error(&*error));
                return Err(Failure::app(Stage::SendBody, message));
            }
            Err(panic) => {
                let message = format!("the body iterator {panic}");
                return Err(Failure::app(Stage::SendBody, message));
            }
        };
        // wsgiref sends Content-Length when the body is "a list of one block"; the Rust
        // version of that question is "does the iterator promise there is nothing after this?"
        let is_last = chunks.size_hint().1 == Some(0);
        let known_length = is_last.then_some(chunk.len() as u64);
        response.write_body(&chunk, known_length)?;
        response.flush()?;
    }
}

/// Sends a reader's bytes in blocks until it ends.
fn send_reader(
    response: &mut Response<'_>,
    reader: &mut dyn Read,
    known_length: Option<u64>,
) -> Result<(), Failure> {
    let mut buffer = vec![0; 64 * 1024];
    loop {
        let n = match catch(|| reader.read(&mut buffer)) {
            Ok(Ok(0)) => return Ok(()),
            Ok(Ok(n)) => n,
            Ok(Err(error)) if error.kind() == io::ErrorKind::Interrupted => continue,
            Ok(Err(error)) => {
                let message = format!("reading the body failed: {error}");
                return Err(Failure::app(Stage::SendBody, message));
            }
            Err(panic) => {
                let message = format!("the body reader {panic}");
                return Err(Failure::app(Stage::SendBody, message));
            }
        };
        response.write_body(&buffer[..n], known_length)?;
        response.flush()?;
    }
}

/// WSGI's `close()`: drops the body, which runs its clean-up. A panic there is caught and
/// logged; returns false if there was one.
fn close_body(body: Body, errors: &ErrorStream) -> bool {
    match catch(move || drop(body)) {
        Ok(()) => true,
        Err(panic) => {
            errors.log(&format!("{}: the body's clean-up {panic}", Stage::Finish));
            false
        }
    }
}

/// Handles a failure: log it, then answer with an error page if nothing was sent yet, or cut
/// the response short if it is too late for that.
fn fail(response: &mut Response<'_>, errors: &ErrorStream, failure: Failure) -> Outcome {
    let stage = failure.stage();
    if let Some(gone) = response.peer_error() {
        // Whatever the application said, it failed because the peer went away.
        errors.log(&format!(
            "{stage}: the client went away after {} body bytes were written ({gone})",
            response.body_bytes()
        ));
        return outcome_of(response, Ending::PeerGone);
    }
    errors.log(&format!("{stage}: {failure}"));
    if response.headers_sent() {
        // Too late for an error page. What was sent so far still goes out, then the transport
        // marks the response as broken.
        let _ = response.flush();
        response.abort();
        errors.log(&format!(
            "{stage}: response cut short after {} body bytes were written",
            response.body_bytes()
        ));
        return outcome_of(response, Ending::CutShort);
    }
    let (status, message) = failure.error_page();
    let mut page = response.restart();
    match write_error_page(&mut page, status, &message) {
        Ok(()) => outcome_of(&page, Ending::ErrorPage),
        Err(_) => {
            let gone = page.peer_error().unwrap_or("write failed").to_owned();
            errors.log(&format!(
                "{stage}: the client went away before the error page was sent ({gone})"
            ));
            // Nothing reached the client, so the access log must not claim a status.
            Outcome {
                status: None,
                body_bytes: 0,
                ending: Ending::PeerGone,
            }
        }
    }
}

fn outcome_of(response: &Response<'_>, ending: Ending) -> Outcome {
    Outcome {
        status: response.status_code(),
        body_bytes: response.body_bytes(),
        ending,
    }
}

/// An error and its chain of causes, on one line: `outer: middle: root`.
fn describe_error(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Why the engine could not finish a response normally.
#[derive(Debug)]
pub(crate) enum Failure {
    /// The application failed or broke a rule, at `stage`; the message says how.
    App { stage: Stage, message: String },
    /// The application gave up because reading the request body failed, and that was the
    /// client's doing: the error page is the status the [`InputError`] names.
    BadInput { message: String, input: InputError },
    /// Writing to the peer failed: it went away, or stopped reading.
    PeerGone { stage: Stage, why: String },
}

impl Failure {
    fn app(stage: Stage, message: String) -> Failure {
        Failure::App { stage, message }
    }

    /// An `Err` the application returned.
    fn from_app_error(error: &(dyn std::error::Error + 'static)) -> Failure {
        let message = format!("application error: {}", describe_error(error));
        match InputError::find(error) {
            Some(input) => Failure::BadInput {
                message,
                input: input.clone(),
            },
            None => Failure::app(Stage::CallApp, message),
        }
    }

    fn stage(&self) -> Stage {
        match self {
            Failure::App { stage, .. } | Failure::PeerGone { stage, .. } => *stage,
            Failure::BadInput { .. } => Stage::CallApp,
        }
    }

    /// The error page that answers this failure, while one can still be sent.
    fn error_page(&self) -> (Status, String) {
        match self {
            Failure::BadInput { input, .. } => (input.status, input.message.clone()),
            _ => (
                Status::INTERNAL_SERVER_ERROR,
                SERVER_ERROR_MESSAGE.to_owned(),
            ),
        }
    }

    /// For the legacy `write` handle, which speaks `io::Error`.
    fn into_io(self) -> io::Error {
        match self {
            Failure::PeerGone { why, .. } => io::Error::new(io::ErrorKind::BrokenPipe, why),
            other => io::Error::new(io::ErrorKind::InvalidInput, other.to_string()),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::App { message, .. } | Failure::BadInput { message, .. } => {
                f.write_str(message)
            }
            Failure::PeerGone { why, .. } => write!(f, "writing to the client failed: {why}"),
        }
    }
}

/// How one response went, for the access log and for tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The status sent (or, with [`HeadStyle::None`], the status the application chose);
    /// `None` if the application never chose one and no error page went out.
    pub status: Option<u16>,
    /// Body bytes written to the transport, not counting the head. What the peer received
    /// may be less: the engine cannot see past the transport.
    pub body_bytes: u64,
    /// How it ended.
    pub ending: Ending,
}

/// How a response ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// Sent in full.
    Complete,
    /// The application failed before sending anything; an error page was sent instead.
    ErrorPage,
    /// The response broke off after its head went out (the application failed mid-body, or
    /// the body was shorter than its `Content-Length`), and the engine called
    /// [`Transport::abort`]. Whether the peer can tell depends on the framing: a
    /// `Content-Length` that was not reached shows it; a body without one (HTTP/1.0 ends those
    /// by closing the connection) looks complete.
    CutShort,
    /// Writing to the peer failed: it went away, or stopped reading.
    PeerGone,
    /// The response was sent, but the body's clean-up panicked (logged).
    CleanUpFailed,
}
