//! The engine: runs an application for one request, over any transport.
//!
//! Stages: **call app**, **send headers**, **send body** — the part of the stack diagram that
//! is the same whether the request came over HTTP, CGI or FastCGI. This is wsgiref's
//! `BaseHandler`, and like it, the whole algorithm fits in a few lines ([`Handler::run`]):
//!
//! ```text
//!   run(app, environ, transport):
//!       body = app.call(environ, start_response)     call app    (a panic or Err → fail)
//!       send body, headers before the first byte     send headers, send body
//!       drop body (WSGI's close(), always)           finish
//!       on failure: nothing sent yet → error page    (500, or the client's 4xx)
//!                   something sent   → log "cut short"; the transport closes the connection
//! ```
//!
//! Interface:
//! * A transport implements [`Transport`]: where response bytes go (`write`, `flush`), how to
//!   send a file, and whether a failed body read was the client's fault. That is all the engine
//!   needs to know about sockets, pipes or FastCGI records.
//! * A [`Handler`] holds the settings wsgiref keeps as class attributes: are we the origin
//!   server (status line) or a gateway behind one (`Status:` header), which HTTP version, what
//!   software name.
//! * [`Handler::run`] returns an [`Outcome`] — status, bytes, how it ended — for the access log.
//! * [`Handler::send_error`] writes an error page (status, plain-text body) the same way; the
//!   HTTP server uses it for 4xx answers to requests it could not parse.
//!
//! What the engine deliberately does not do: read the request, decide how the connection ends,
//! or log the access line. Those belong to the transport (the server), which knows whether a
//! connection exists at all.

mod response;

pub mod panic;

use std::fmt;
use std::io::{self, Read};

pub use response::RequestKind;
pub(crate) use response::{ResponseState, SendError};

use crate::gateway::{AppError, Application, Body, BodyKind, Environ, ErrorStream, StartResponse};
use crate::http::Status;
use crate::Stage;

/// What the engine needs from a transport (wsgiref's `_write`, `_flush`, `sendfile`).
///
/// ```
/// use std::io;
/// use rgiref::handler::Transport;
///
/// /// A transport that collects the response in memory.
/// struct Memory(Vec<u8>);
///
/// impl Transport for Memory {
///     fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
///         self.0.extend_from_slice(bytes);
///         Ok(())
///     }
///     fn flush(&mut self) -> io::Result<()> {
///         Ok(())
///     }
/// }
/// ```
pub trait Transport {
    /// Writes response bytes (status line, headers, body), possibly into a buffer.
    fn write(&mut self, bytes: &[u8]) -> io::Result<()>;

    /// Sends anything buffered to the client.
    fn flush(&mut self) -> io::Result<()>;

    /// If reading the request body failed because of the client (it stopped sending, or sent a
    /// malformed chunked body), the status and message to answer instead of a 500.
    fn request_error(&self) -> Option<(Status, String)> {
        None
    }
}

/// The engine's settings (wsgiref's `BaseHandler` class attributes).
///
/// ```
/// use rgiref::handler::Handler;
/// let http = Handler::origin_server("rgiref/0.1.0");
/// assert!(http.origin_server);
/// let cgi = Handler::gateway();
/// assert!(!cgi.origin_server);
/// ```
#[derive(Debug, Clone)]
pub struct Handler {
    /// True when we talk to the client directly (send a status line, `Date` and `Server`);
    /// false behind a web server, which wants a `Status:` header instead (RFC 3875 §6.3.3).
    pub origin_server: bool,
    /// The version on our status line. Always `"1.0"` here: we speak HTTP/1.0 to everyone.
    pub http_version: &'static str,
    /// The `Server` header and `SERVER_SOFTWARE`; empty for none.
    pub server_software: String,
}

impl Handler {
    /// Settings for a server that talks to clients itself (the HTTP server).
    pub fn origin_server(server_software: &str) -> Handler {
        Handler {
            origin_server: true,
            http_version: "1.0",
            server_software: server_software.to_owned(),
        }
    }

    /// Settings for a gateway behind a web server (CGI, FastCGI).
    pub fn gateway() -> Handler {
        Handler {
            origin_server: false,
            http_version: "1.0",
            server_software: String::new(),
        }
    }

    /// Runs `app` for one request: the whole gateway, in order. See the module docs.
    ///
    /// ```
    /// use std::io;
    /// use rgiref::gateway::{AppError, Body, Environ, StartResponse};
    /// use rgiref::handler::{Handler, Transport};
    ///
    /// struct Memory(Vec<u8>);
    /// impl Transport for Memory {
    ///     fn write(&mut self, bytes: &[u8]) -> io::Result<()> { self.0.extend_from_slice(bytes); Ok(()) }
    ///     fn flush(&mut self) -> io::Result<()> { Ok(()) }
    /// }
    ///
    /// let app = |_: &mut Environ, start_response: &mut StartResponse| -> Result<Body, AppError> {
    ///     start_response.start("200 OK", [("Content-Type", "text/plain")])?;
    ///     Ok(Body::from("hi"))
    /// };
    /// let mut out = Memory(Vec::new());
    /// let outcome = Handler::gateway().run(&app, Environ::default(), &mut out);
    /// assert_eq!(outcome.status, Some(200));
    /// assert_eq!(out.0, b"Status: 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi");
    /// ```
    pub fn run<A>(&self, app: &A, mut environ: Environ, transport: &mut dyn Transport) -> Outcome
    where
        A: Application + ?Sized,
    {
        let errors = environ.errors.clone();
        let mut state = ResponseState::new(self, RequestKind::from_environ(&environ));

        // Stage "call app". The application gets the environ and its door onto `state`.
        let called = panic::catch(|| {
            let mut start_response = StartResponse::new(&mut state, transport);
            app.call(&mut environ, &mut start_response)
        });
        let mut body = match called {
            Ok(Ok(body)) => body,
            Ok(Err(error)) => {
                let failure =
                    Failure::App(format!("application error: {}", describe_error(&*error)));
                return self.fail(&mut state, transport, &errors, Stage::CallApp, failure);
            }
            Err(panic) => {
                let failure = Failure::App(format!("application {panic}"));
                return self.fail(&mut state, transport, &errors, Stage::CallApp, failure);
            }
        };

        // Stages "send headers" and "send body".
        let sent = self.send_body(&mut state, transport, &mut body);

        // Stage "finish": WSGI's close(). Dropping the body runs its clean-up; it runs whether
        // sending worked or not, and a panic in it is caught like any other.
        let closed = panic::catch(move || drop(body));
        drop(environ);

        let mut outcome = match sent {
            Ok(()) => self.outcome(&state, Ending::Complete),
            Err((stage, failure)) => self.fail(&mut state, transport, &errors, stage, failure),
        };
        if let Err(panic) = closed {
            errors.log(&format!("{}: the body's clean-up {panic}", Stage::Finish));
            if outcome.ending == Ending::Complete {
                outcome.ending = Ending::CleanUpFailed;
            }
        }
        outcome
    }

    /// Sends a complete error page: `status`, a plain-text body naming the problem. The HTTP
    /// server uses it for the requests it refuses; the engine's own 500 is the same page.
    ///
    /// ```
    /// use rgiref::handler::{Handler, RequestKind, Transport};
    /// use rgiref::http::Status;
    /// # struct Memory(Vec<u8>);
    /// # impl Transport for Memory {
    /// #     fn write(&mut self, bytes: &[u8]) -> std::io::Result<()> { self.0.extend_from_slice(bytes); Ok(()) }
    /// #     fn flush(&mut self) -> std::io::Result<()> { Ok(()) }
    /// # }
    /// let mut out = Memory(Vec::new());
    /// let kind = RequestKind { http09: false, head: false };
    /// Handler::gateway().send_error(&mut out, kind, Status::BAD_REQUEST, "bad request line: \"x\"");
    /// let text = String::from_utf8(out.0).unwrap();
    /// assert!(text.starts_with("Status: 400 Bad Request\r\n"));
    /// assert!(text.ends_with("\r\n\r\n400 Bad Request: bad request line: \"x\"\n"));
    /// ```
    pub fn send_error(
        &self,
        transport: &mut dyn Transport,
        kind: RequestKind,
        status: Status,
        message: &str,
    ) -> Outcome {
        let mut state = ResponseState::new(self, kind);
        let sent = self.write_error_page(&mut state, transport, status, message);
        let ending = match sent {
            Ok(()) => Ending::Complete,
            Err(_) => Ending::ClientGone,
        };
        self.outcome(&state, ending)
    }

    /// The body of every error page: the status and one line saying what was wrong. Plain text,
    /// and marked `nosniff`, because the message may quote what the client sent and a browser
    /// must never be talked into reading it as HTML.
    fn write_error_page(
        &self,
        state: &mut ResponseState,
        transport: &mut dyn Transport,
        status: Status,
        message: &str,
    ) -> Result<(), SendError> {
        let body = format!("{status}: {message}\n");
        let headers = vec![
            (
                "Content-Type".to_owned(),
                "text/plain; charset=utf-8".to_owned(),
            ),
            ("X-Content-Type-Options".to_owned(), "nosniff".to_owned()),
        ];
        state.set(status.code, status.to_string(), headers, None);
        state.write_body(transport, body.as_bytes(), Some(body.len() as u64))?;
        state.finish(transport)
    }

    /// Sends the body, in whichever shape the application chose, then finishes the response.
    fn send_body(
        &self,
        state: &mut ResponseState,
        transport: &mut dyn Transport,
        body: &mut Body,
    ) -> Result<(), (Stage, Failure)> {
        if let Some(misuse) = state.misuse() {
            return Err((Stage::CallApp, Failure::App(misuse.to_owned())));
        }
        if !state.is_started() {
            let message = "the application returned without calling start_response".to_owned();
            return Err((Stage::CallApp, Failure::App(message)));
        }
        let at = |stage: Stage| move |error: SendError| (stage, Failure::from(error));
        if !state.sends_body() {
            // HEAD, 204, 304: headers only. The body is not even iterated — producing bytes
            // nobody will receive is wasted work. So a length known in advance (bytes, a file)
            // still gives HEAD the Content-Length GET would have; one only found by iterating
            // (a one-chunk iterator) does not, which RFC 9110 §9.3.2 allows.
            state
                .ensure_headers_sent(transport, body.length())
                .map_err(at(Stage::SendHeaders))?;
            return state.finish(transport).map_err(at(Stage::SendBody));
        }
        let known_length = body.length();
        match &mut body.kind {
            BodyKind::Bytes(bytes) => state
                .write_body(transport, bytes, known_length)
                .map_err(at(Stage::SendBody))?,
            BodyKind::Chunks(chunks) => send_chunks(state, transport, chunks.as_mut())?,
            BodyKind::Reader { reader, .. } => {
                send_reader(state, transport, reader.as_mut(), known_length)?
            }
        }
        state.finish(transport).map_err(at(Stage::SendBody))
    }

    /// Handles a failure: log it, then answer with an error page if nothing was sent yet, or
    /// report the response as cut short if it is too late for that.
    fn fail(
        &self,
        state: &mut ResponseState,
        transport: &mut dyn Transport,
        errors: &ErrorStream,
        stage: Stage,
        failure: Failure,
    ) -> Outcome {
        if let Some(gone) = state.client_error() {
            errors.log(&format!(
                "{stage}: the client went away after {} body bytes ({gone})",
                state.body_bytes()
            ));
            return self.outcome(state, Ending::ClientGone);
        }
        errors.log(&format!("{stage}: {failure}"));
        if state.headers_sent() {
            // Too late for an error page. What was sent so far still goes out, so the client
            // sees exactly where the response broke off.
            let _ = state.flush(transport);
            errors.log(&format!(
                "{stage}: response cut short after {} body bytes; the connection will be closed",
                state.body_bytes()
            ));
            return self.outcome(state, Ending::CutShort);
        }
        let (status, message) = match transport.request_error() {
            Some((status, message)) => (status, message),
            None => (
                Status::INTERNAL_SERVER_ERROR,
                SERVER_ERROR_MESSAGE.to_owned(),
            ),
        };
        let kind = state.kind();
        let mut error_state = ResponseState::new(self, kind);
        match self.write_error_page(&mut error_state, transport, status, &message) {
            Ok(()) => self.outcome(&error_state, Ending::ErrorPage),
            Err(_) => {
                let gone = error_state
                    .client_error()
                    .unwrap_or("write failed")
                    .to_owned();
                errors.log(&format!(
                    "{stage}: the client went away before the error page was sent ({gone})"
                ));
                // Nothing reached the client, so the access log must not claim a status.
                Outcome {
                    status: None,
                    body_bytes: 0,
                    ending: Ending::ClientGone,
                }
            }
        }
    }

    fn outcome(&self, state: &ResponseState, ending: Ending) -> Outcome {
        Outcome {
            status: state.status_code(),
            body_bytes: state.body_bytes(),
            ending,
        }
    }
}

/// The body of a 500. Like wsgiref's, it tells the client nothing about the cause: that is in
/// the server's log, where the developer looks, and not in a page anyone can load.
pub const SERVER_ERROR_MESSAGE: &str = "the application failed; the server's error log says why";

/// Sends an iterator's chunks, flushing each one: PEP 3333 forbids holding a chunk back while
/// the application computes the next.
fn send_chunks(
    state: &mut ResponseState,
    transport: &mut dyn Transport,
    chunks: &mut dyn Iterator<Item = Result<Vec<u8>, AppError>>,
) -> Result<(), (Stage, Failure)> {
    loop {
        let next = panic::catch(|| chunks.next()).map_err(|panic| {
            (
                Stage::SendBody,
                Failure::App(format!("the body iterator {panic}")),
            )
        })?;
        let chunk = match next {
            None => return Ok(()),
            Some(Ok(chunk)) => chunk,
            Some(Err(error)) => {
                let message = format!("the body iterator failed: {}", describe_error(&*error));
                return Err((Stage::SendBody, Failure::App(message)));
            }
        };
        // wsgiref sends Content-Length when the body is "a list of one block"; the Rust
        // version of that question is "does the iterator promise there is nothing after this?"
        let is_last = chunks.size_hint().1 == Some(0);
        let known_length = if is_last {
            Some(chunk.len() as u64)
        } else {
            None
        };
        state
            .write_body(transport, &chunk, known_length)
            .map_err(|e| (Stage::SendBody, e.into()))?;
        state
            .flush(transport)
            .map_err(|e| (Stage::SendBody, e.into()))?;
    }
}

/// Sends a reader's bytes in blocks until it ends.
fn send_reader(
    state: &mut ResponseState,
    transport: &mut dyn Transport,
    reader: &mut dyn Read,
    known_length: Option<u64>,
) -> Result<(), (Stage, Failure)> {
    let mut buffer = vec![0; 64 * 1024];
    loop {
        let n = match panic::catch(|| reader.read(&mut buffer)) {
            Ok(Ok(n)) => n,
            Ok(Err(error)) if error.kind() == io::ErrorKind::Interrupted => continue,
            Ok(Err(error)) => {
                return Err((
                    Stage::SendBody,
                    Failure::App(format!("reading the body failed: {error}")),
                ))
            }
            Err(panic) => {
                return Err((
                    Stage::SendBody,
                    Failure::App(format!("the body reader {panic}")),
                ))
            }
        };
        if n == 0 {
            return Ok(());
        }
        state
            .write_body(transport, &buffer[..n], known_length)
            .map_err(|e| (Stage::SendBody, e.into()))?;
        state
            .flush(transport)
            .map_err(|e| (Stage::SendBody, e.into()))?;
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
enum Failure {
    /// The application failed or broke a rule; the message says how.
    App(String),
    /// Writing to the client failed.
    Client(io::Error),
}

impl From<SendError> for Failure {
    fn from(error: SendError) -> Failure {
        match error {
            SendError::App(message) => Failure::App(message),
            SendError::Client(error) => Failure::Client(error),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::App(message) => f.write_str(message),
            Failure::Client(error) => write!(f, "writing to the client failed: {error}"),
        }
    }
}

/// How one response went, for the access log and for tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// The status sent (or, for HTTP/0.9, the status the application chose); `None` if the
    /// application never chose one and no error page went out.
    pub status: Option<u16>,
    /// Body bytes sent, not counting the status line and headers.
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
    /// The application failed after the headers were sent; the response is incomplete and the
    /// connection must be closed to show it.
    CutShort,
    /// The client stopped listening.
    ClientGone,
    /// The response was sent, but the body's clean-up panicked (logged).
    CleanUpFailed,
}
