//! A middleware that checks both sides of the gateway contract: wsgiref's `validate` module.
//!
//! Stage: **call app**, on both sides of the line — it looks at the environ the server built
//! (before the application runs) and at everything the application does with it.
//!
//! Interface:
//! * [`validator`]`(app)` wraps any [`Application`]; serve the result instead of `app`. It
//!   changes nothing about a correct request or response: same status, headers and bytes.
//! * Every violation is **one line in `environ.errors`**, starting with `validate:` and the
//!   PEP 3333 section that states the rule, as its anchor on peps.python.org (so
//!   `PEP 3333 §environ-variables` is `https://peps.python.org/pep-3333/#environ-variables`),
//!   with the RFC after it where the rule is HTTP's:
//!
//!   ```text
//!   validate: PEP 3333 §environ-variables: SCRIPT_NAME "app" must be empty or start with "/"
//!   validate: PEP 3333 §the-start-response-callable: header name "X-Bad-" ends in "-" …
//!   ```
//! * **A violation found while the response can still be replaced makes it a 500**, as
//!   wsgiref's `AssertionError` does: the validator returns a [`ValidationError`] from `call`
//!   (for the environ, without calling the application at all; for the application, once it
//!   returns), or fails the body before its first byte goes out. A violation found after the
//!   head was sent is only logged: the bytes the application chose go out unchanged, and the
//!   engine ends the response as it would without the validator.
//!
//! wsgiref raises `AssertionError` at the first problem, so it reports one; this reports each
//! one it finds, and the error the server logs says how many.
//!
//! ## Every check of `wsgiref.validate`, and where it went
//!
//! Many of wsgiref's checks are about Python's types — a list that must not be a tuple, a
//! `str` that must not be `bytes`. Here the compiler makes those mistakes impossible, and the
//! table says how. Some rules `start` itself enforces on every response, validated or not;
//! the validator reports those refusals in its own words too. The rest are checked here.
//!
//! | `wsgiref.validate` checks that…                        | here |
//! |--------------------------------------------------------|------|
//! | the app is called with two positional arguments        | types: [`Application::call`]`(&self, &mut Environ, &mut StartResponse)` |
//! | the environ is a `dict`, not a subclass                | types: [`Environ`] is a struct |
//! | `REQUEST_METHOD`, `SERVER_NAME`, `SERVER_PORT` are present | **checked**: present and not empty (PEP 3333 says they never are); `REQUEST_METHOD` a token, `SERVER_PORT` digits |
//! | the `wsgi.*` keys are present                          | types: fields of [`Environ`], always there; `wsgi.version` is `gateway::VERSION` |
//! | no `HTTP_CONTENT_TYPE`, `HTTP_CONTENT_LENGTH`          | **checked** |
//! | `QUERY_STRING` is present (a warning)                  | not checked: PEP 3333 lets it be absent, and [`Environ::query_string`] reads that as `""` (the warning was about Python's `cgi` module) |
//! | CGI variables are `str`                                | types: `BTreeMap<String, String>` |
//! | `wsgi.version` is a tuple                              | types: a constant |
//! | `wsgi.url_scheme` is `http` or `https`                 | **checked** |
//! | `wsgi.input` has `read`, `readline`, `readlines`, `__iter__` | types: [`Input`] is `Read` + `BufRead` |
//! | `wsgi.errors` has `write`, `writelines`, `flush`       | types: [`ErrorStream`] is `io::Write` |
//! | `REQUEST_METHOD` is a known method (a warning)         | not checked: methods are extensible (RFC 9110 §9.1); it is checked to be a token instead |
//! | `SCRIPT_NAME`, `PATH_INFO` are empty or start with `/` | **checked**, but for the `*` of `OPTIONS *` (RFC 9112 §3.2.4), which names no path |
//! | `SCRIPT_NAME` or `PATH_INFO` is set                    | **checked** |
//! | `SCRIPT_NAME` is not `/`                               | **checked** |
//! | `CONTENT_LENGTH` is a non-negative integer             | **checked**: digits only (no sign, no spaces), or empty |
//! | `start_response` gets 2 or 3 positional arguments      | types: [`StartResponse::start`] and `start_after_error(…, &error)` |
//! | the status is a `str`: three digits ≥ 100, a space, a reason | `start` refuses it (code 200–599, no control characters); **reported** |
//! | the headers are a `list` of 2-`tuple`s of `str`        | types: [`IntoHeaders`](crate::gateway::IntoHeaders) |
//! | no `Status` header                                     | `start` refuses it; **reported** |
//! | header names have no `:` or newline                    | `start` refuses names that are not tokens; **reported** |
//! | header names match `[a-zA-Z][a-zA-Z0-9-_]*`, not ending in `-` or `_` | **checked**: stricter than a token, as PEP 3333's "without … other punctuation" |
//! | header values have no control character                | `start` refuses them (tab allowed; DEL and C1 refused too); **reported** |
//! | a `Content-Type` is given, unless the status is 204 or 304 | **checked** once the body has bytes (an empty body needs no type) |
//! | no `Content-Type` with 204 or 304                      | **checked** |
//! | `exc_info` is a tuple or `None`                        | types: `start_after_error` takes `&dyn Error` |
//! | `write()` gets bytes; nothing else of it is used       | types: [`LegacyWrite`](crate::gateway::LegacyWrite) is an `io::Write` of `&[u8]` |
//! | `input.read()` gets exactly one argument               | types: `Read::read` always has a buffer, and reading to the end is safe because an `Input` ends where the body ends |
//! | the input returns bytes; `input.close()` is not called | types: `Input` yields bytes and has no `close` |
//! | `errors.write()` gets a `str`; `errors.close()` is not called | types |
//! | the app returns an iterable, not `None` or `False`     | types: `Result<Body, AppError>` |
//! | the iterable is not a string (slow, one byte at a time) | types: `Body::from(string)` is one piece |
//! | the iterator yields bytes                              | types: chunks become `Vec<u8>` |
//! | the body is not iterated before `start_response`       | **checked**: a body returned without calling `start` (`start` cannot be called later: its borrow ends when `call` returns) |
//! | the iterator is not used after `close()`               | types: the engine owns the body and drops it once |
//! | `close()` is called                                    | types: `Drop` always runs (and [`Body::on_close`]) |
//!
//! Two of those rows as the compiler sees them — wsgiref's `test_simple_validation_error`
//! passes the headers as a tuple, and PEP 3333 forbids closing the input:
//!
//! ```compile_fail
//! # use rgiref::gateway::{AppError, Body, Environ, StartResponse};
//! fn app(_: &mut Environ, start_response: &mut StartResponse) -> Result<Body, AppError> {
//!     start_response.start("200 OK", ("Content-Type", "text/plain"))?; // not a list of pairs
//!     Ok(Body::empty())
//! }
//! ```
//!
//! ```compile_fail
//! # use rgiref::gateway::{AppError, Body, Environ, StartResponse};
//! fn app(environ: &mut Environ, start_response: &mut StartResponse) -> Result<Body, AppError> {
//!     environ.input.close(); // there is no such method
//!     start_response.start("200 OK", [])?;
//!     Ok(Body::empty())
//! }
//! ```
//!
//! And what it checks that wsgiref's does not, all rules of PEP 3333 or HTTP:
//!
//! | rule                                                          | reported as |
//! |---------------------------------------------------------------|-------------|
//! | `start` called twice without error information                | `start`'s refusal |
//! | a hop-by-hop header (`Connection`, `Transfer-Encoding`, …)    | `start`'s refusal |
//! | `Content-Length` not one whole number                         | `start`'s refusal |
//! | body bytes that disagree with the application's `Content-Length` (more, or fewer at the end) | checked |
//! | body bytes in a 204 or 304 response, which has no content (RFC 9110 §6.4.1) | checked |
//! | an `Input` that gives more bytes than `CONTENT_LENGTH`, or ends before it without an error (the server's side of "the application should not read past it") | checked |
//!
//! A body returned for a HEAD request is **not** a violation: the engine sends none, and
//! returning the body GET would send is how the HEAD response gets GET's `Content-Length`
//! (RFC 9110 §9.3.2 asks for the same headers). A body the engine never iterates — a HEAD
//! response, a 204, a 304 — is not iterated by the validator either, so only its known length
//! is checked. The validator reads nothing the application did not read, and holds no byte
//! back.

use std::cell::RefCell;
use std::error::Error;
use std::fmt;
use std::io::{self, Read};
use std::rc::Rc;

use crate::gateway::{
    is_token, AppError, Application, Body, BodyKind, Environ, ErrorStream, Input, Responder,
    StartResponse, StartResponseError,
};

/// PEP 3333's sections, by their anchors on peps.python.org. A message whose rule is HTTP's
/// names the RFC section too.
const ENVIRON: &str = "PEP 3333 §environ-variables";
const STREAMS: &str = "PEP 3333 §input-and-error-streams";
const START: &str = "PEP 3333 §the-start-response-callable";
const CONTENT_LENGTH: &str = "PEP 3333 §handling-the-content-length-header";
const HTTP: &str = "PEP 3333 §other-http-features";
const DETAILS: &str = "PEP 3333 §specification-details";

/// Wraps `app` in the validator. See the module docs.
///
/// ```
/// use rgiref::gateway::{AppError, Body, Environ, StartResponse};
/// use rgiref::testing::{Client, TestRequest};
/// use rgiref::validate::validator;
///
/// // Forgets the Content-Type of a body with content.
/// fn sloppy(_: &mut Environ, start_response: &mut StartResponse) -> Result<Body, AppError> {
///     start_response.start("200 OK", [])?;
///     Ok(Body::from("hello"))
/// }
/// let response = Client::new(validator(sloppy)).request(TestRequest::get("/"));
/// assert_eq!(response.status, 500);
/// assert_eq!(response.errors[0], "validate: PEP 3333 §other-http-features: the body has content \
///     but the headers have no Content-Type (RFC 9110 §8.3: the client would have to guess)");
/// ```
pub fn validator<A: Application>(app: A) -> Validator<A> {
    Validator { app }
}

/// An application wrapped by [`validator`]: itself an application, and as `Send` as the one
/// inside, so a server on its own thread can run it.
///
/// ```
/// use rgiref::demo::demo_app;
/// use rgiref::gateway::Application;
/// use rgiref::validate::validator;
/// fn servable_from_a_thread(_: &(impl Application + Send)) {}
/// servable_from_a_thread(&validator(demo_app));
/// ```
#[derive(Debug, Clone)]
pub struct Validator<A> {
    app: A,
}

impl<A: Application> Application for Validator<A> {
    /// Checks the environ; runs the application with its `start_response`, input and body
    /// watched; fails the response if a violation turned up before its head went out.
    fn call(
        &self,
        environ: &mut Environ,
        start_response: &mut StartResponse<'_>,
    ) -> Result<Body, AppError> {
        let checks = Checks::new(environ);
        check_environ(environ, &checks);
        if checks.found_any() {
            return Err(checks.error());
        }
        watch_input(environ, &checks);
        let mut watch = Watch {
            outer: &mut *start_response,
            checks: checks.clone(),
        };
        let called = self.app.call(environ, &mut StartResponse::new(&mut watch));
        checks.state().head_sent = start_response.headers_sent();
        // The application's own error goes to the server as it is (a 500, or the status of an
        // InputError); anything the validator saw is logged already.
        let body = called?;
        checks.check_returned(&body);
        if checks.found_any() && !checks.state().head_sent {
            return Err(checks.error());
        }
        Ok(watch_body(body, &checks))
    }
}

// ---- The server's side: the environ ------------------------------------------------------

/// PEP 3333 "environ Variables", and RFC 3875 §4.1 for the forms of the values.
fn check_environ(environ: &Environ, checks: &Checks) {
    for key in ["REQUEST_METHOD", "SERVER_NAME", "SERVER_PORT"] {
        match environ.get(key) {
            None => checks.report(ENVIRON, format!("{key} is missing: it is always required")),
            Some("") => checks.report(ENVIRON, format!("{key} is empty: it never may be")),
            Some(_) => {}
        }
    }
    check_forms(environ, checks);
    for key in ["HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"] {
        if environ.get(key).is_some() {
            let proper = &key["HTTP_".len()..];
            checks.report(
                ENVIRON,
                format!("{key} is set: that header belongs in {proper}"),
            );
        }
    }
    if environ.url_scheme != "http" && environ.url_scheme != "https" {
        let scheme = &environ.url_scheme;
        checks.report(
            ENVIRON,
            format!("url_scheme {scheme:?} is neither \"http\" nor \"https\""),
        );
    }
    check_paths(environ, checks);
}

/// The values that have a grammar: a method is a token (RFC 3875 §4.1.12), a port and a
/// length are digits (§4.1.15, §4.1.2).
fn check_forms(environ: &Environ, checks: &Checks) {
    let method = environ.method();
    if !method.is_empty() && !is_token(method) {
        let why = "an HTTP method is a token (RFC 3875 §4.1.12)";
        checks.report(
            ENVIRON,
            format!("REQUEST_METHOD {method:?} is not a method: {why}"),
        );
    }
    let port = environ.get("SERVER_PORT").unwrap_or("");
    if !port.is_empty() && !is_digits(port) {
        checks.report(
            ENVIRON,
            format!("SERVER_PORT {port:?} is not a port number"),
        );
    }
    let length = environ.get("CONTENT_LENGTH").unwrap_or("");
    if !length.is_empty() && !is_digits(length) {
        let message = format!("CONTENT_LENGTH {length:?} is not a whole number of bytes");
        checks.report(ENVIRON, message);
    }
}

/// `SCRIPT_NAME` and `PATH_INFO`: where the application is mounted, and the rest of the path.
fn check_paths(environ: &Environ, checks: &Checks) {
    // `OPTIONS *` (RFC 9112 §3.2.4) asks about the server, not a path: its `*` is passed on
    // as PATH_INFO, and PEP 3333, which does not mention it, has nothing against it.
    let asterisk = environ.method() == "OPTIONS" && environ.path_info() == "*";
    for key in ["SCRIPT_NAME", "PATH_INFO"] {
        let value = environ.get(key).unwrap_or("");
        if key == "PATH_INFO" && asterisk {
            continue;
        }
        if !value.is_empty() && !value.starts_with('/') {
            let message = format!("{key} {value:?} must be empty or start with \"/\"");
            checks.report(ENVIRON, message);
        }
    }
    let script_name = environ.script_name();
    if script_name.is_empty() && environ.get("PATH_INFO").is_none() {
        let message = "neither SCRIPT_NAME nor PATH_INFO is set: \
                       an application at the root has PATH_INFO \"/\" at least";
        checks.report(ENVIRON, message.to_owned());
    }
    if script_name == "/" {
        let message = "SCRIPT_NAME is \"/\": an application at the root has SCRIPT_NAME \"\" \
                       and PATH_INFO \"/\"";
        checks.report(ENVIRON, message.to_owned());
    }
}

fn is_digits(value: &str) -> bool {
    !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit())
}

/// Replaces `environ.input` with one that checks the server's promise: the body ends where
/// `CONTENT_LENGTH` says (PEP 3333 "Input and Error Streams", note 1).
fn watch_input(environ: &mut Environ, checks: &Checks) {
    let Some(declared) = environ.get("CONTENT_LENGTH").and_then(|v| v.parse().ok()) else {
        return; // a chunked body, or none: nothing to hold the input to
    };
    let inner = environ.take_input();
    environ.input = Input::new(WatchedInput {
        inner,
        declared,
        read: 0,
        reported: false,
        checks: checks.clone(),
    });
}

struct WatchedInput {
    inner: Input,
    declared: u64,
    read: u64,
    reported: bool,
    checks: Checks,
}

impl Read for WatchedInput {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read += n as u64;
        let (read, declared) = (self.read, self.declared);
        if self.reported {
            return Ok(n);
        }
        if read > declared {
            self.reported = true;
            let message = format!(
                "the input gave {read} bytes, more than CONTENT_LENGTH ({declared}): \
                 it must end where the body ends"
            );
            self.checks.report(STREAMS, message);
        } else if n == 0 && !buf.is_empty() && read < declared {
            self.reported = true;
            let message = format!(
                "the input ended after {read} of CONTENT_LENGTH's {declared} bytes without \
                 an error, so the application takes a cut-off body for the whole one"
            );
            self.checks.report(STREAMS, message);
        }
        Ok(n)
    }
}

// ---- The application's side: start_response ----------------------------------------------

/// The validator's [`Responder`]: sees what the application starts and writes, then passes it
/// on unchanged.
struct Watch<'a, 'b> {
    outer: &'a mut StartResponse<'b>,
    checks: Checks,
}

impl Responder for Watch<'_, '_> {
    fn start_response(
        &mut self,
        status: String,
        headers: Vec<(String, String)>,
        replacing: Option<&dyn Error>,
    ) -> Result<(), StartResponseError> {
        // `StartResponse` has already checked the form of both; these are the extra rules.
        let code = status.get(..3).and_then(|c| c.parse().ok()).unwrap_or(500);
        check_header_names(&headers, &self.checks);
        check_content_type(code, &headers, &self.checks);
        let response = StartedResponse::new(code, &headers);
        self.outer.start_response(status, headers, replacing)?;
        let mut state = self.checks.state();
        state.response = Some(response);
        state.start_called = true;
        Ok(())
    }

    fn write_now(&mut self, bytes: &[u8]) -> io::Result<()> {
        let head_sent = self.outer.headers_sent();
        let refused = self.checks.on_piece(Piece::Written, bytes, head_sent);
        refused.map_err(io::Error::other)?;
        self.outer.write_now(bytes)
    }

    fn headers_sent(&self) -> bool {
        self.outer.headers_sent()
    }

    fn refused(&mut self, error: &StartResponseError) {
        let rule = match error {
            // Not the application's mistake: PEP 3333's way to learn it is too late to change
            // the status. It must pass the error on, and `start` makes sure of that.
            StartResponseError::HeadersAlreadySent { .. } => None,
            StartResponseError::HopByHop { .. } => Some(HTTP),
            _ => Some(START),
        };
        if let Some(rule) = rule {
            self.checks.report(rule, error.to_string());
        }
        // The application did call `start`: a body returned now is not "without start".
        self.checks.state().start_called = true;
        self.outer.refused(error)
    }
}

/// wsgiref's rule for names, stricter than HTTP's token: PEP 3333 asks for a field-name
/// "without a trailing colon or other punctuation".
fn check_header_names(headers: &[(String, String)], checks: &Checks) {
    for (name, _) in headers {
        let starts_with_letter = name.bytes().next().is_some_and(|b| b.is_ascii_alphabetic());
        let plain = name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        let message = if !starts_with_letter || !plain {
            "has punctuation: a name is a letter, then letters, digits, \"-\" and \"_\""
        } else if name.ends_with(['-', '_']) {
            "ends in \"-\" or \"_\""
        } else {
            continue;
        };
        checks.report(START, format!("header name {name:?} {message}"));
    }
}

/// A 204 or 304 response has no content, so nothing to give a type (RFC 9110 §6.4.1).
fn check_content_type(code: u16, headers: &[(String, String)], checks: &Checks) {
    let typed = headers
        .iter()
        .any(|(name, _)| name.eq_ignore_ascii_case("Content-Type"));
    if typed && matches!(code, 204 | 304) {
        let message = format!(
            "a {code} response has a Content-Type, but no content to describe (RFC 9110 §6.4.1)"
        );
        checks.report(HTTP, message);
    }
}

// ---- The application's side: the body ---------------------------------------------------

/// Rebuilds the body so the validator sees each piece as the engine takes it to send. A body
/// in memory is not wrapped: [`Checks::check_returned`] has seen all of it already.
fn watch_body(body: Body, checks: &Checks) -> Body {
    let checks = checks.clone();
    body.map_kind(|kind| match kind {
        BodyKind::Bytes(bytes) => BodyKind::Bytes(bytes),
        BodyKind::Chunks(chunks) => BodyKind::Chunks(Box::new(WatchedChunks { chunks, checks })),
        BodyKind::Reader { reader, length } => BodyKind::Reader {
            reader: Box::new(WatchedReader { reader, checks }),
            length,
        },
    })
}

struct WatchedChunks {
    chunks: Box<dyn Iterator<Item = Result<Vec<u8>, AppError>>>,
    checks: Checks,
}

impl Iterator for WatchedChunks {
    type Item = Result<Vec<u8>, AppError>;

    fn next(&mut self) -> Option<Self::Item> {
        let head_sent = self.checks.state().head_sent;
        match self.chunks.next() {
            Some(Ok(chunk)) => match self.checks.on_piece(Piece::Body, &chunk, head_sent) {
                Ok(()) => Some(Ok(chunk)),
                Err(refused) => Some(Err(refused.into())),
            },
            None => self
                .checks
                .on_end()
                .err()
                .map(|refused| Err(refused.into())),
            failed => failed,
        }
    }

    /// The inner iterator's: the engine's "one chunk, so Content-Length" rule still applies.
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.chunks.size_hint()
    }
}

struct WatchedReader {
    reader: Box<dyn Read>,
    checks: Checks,
}

impl Read for WatchedReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let head_sent = self.checks.state().head_sent;
        let n = self.reader.read(buf)?;
        let checked = match n {
            0 if !buf.is_empty() => self.checks.on_end(),
            _ => self.checks.on_piece(Piece::Body, &buf[..n], head_sent),
        };
        checked.map_err(io::Error::other)?;
        Ok(n)
    }
}

// ---- What the validator knows about one request --------------------------------------------

/// The status and headers the application chose, as far as the body checks need them.
struct StartedResponse {
    code: u16,
    declared_length: Option<u64>,
    has_content_type: bool,
}

impl StartedResponse {
    fn new(code: u16, headers: &[(String, String)]) -> StartedResponse {
        let header = |wanted: &str| {
            headers
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(wanted))
                .map(|(_, value)| value.as_str())
        };
        StartedResponse {
            code,
            declared_length: header("Content-Length").and_then(|v| v.parse().ok()),
            has_content_type: header("Content-Type").is_some(),
        }
    }

    /// 204 and 304 have no content, whatever the application produces (RFC 9110 §6.4.1).
    fn has_no_content(&self) -> bool {
        matches!(self.code, 204 | 304)
    }
}

/// Where body bytes came from: the legacy `write`, or the returned body.
#[derive(Clone, Copy)]
enum Piece {
    Written,
    Body,
}

/// One request's findings, shared by the validator's responder, input and body.
struct State {
    errors: ErrorStream,
    /// Every violation logged, for the [`ValidationError`].
    violations: Vec<String>,
    head_request: bool,
    /// True once the application called `start`, accepted or refused.
    start_called: bool,
    response: Option<StartedResponse>,
    /// Bytes given to the legacy `write`.
    written: u64,
    /// Bytes of the returned body, so far.
    body_bytes: u64,
    /// The length the returned body declared (`Body::length`), if it did.
    body_length: Option<u64>,
    head_sent: bool,
    content_seen: bool,
    length_reported: bool,
    ended: bool,
}

/// A handle on the [`State`] of one request.
#[derive(Clone)]
struct Checks(Rc<RefCell<State>>);

impl Checks {
    fn new(environ: &Environ) -> Checks {
        Checks(Rc::new(RefCell::new(State {
            errors: environ.errors.clone(),
            violations: Vec::new(),
            head_request: environ.method() == "HEAD",
            start_called: false,
            response: None,
            written: 0,
            body_bytes: 0,
            body_length: None,
            head_sent: false,
            content_seen: false,
            length_reported: false,
            ended: false,
        })))
    }

    fn state(&self) -> std::cell::RefMut<'_, State> {
        self.0.borrow_mut()
    }

    /// Logs one violation: `validate: RULE: MESSAGE`.
    fn report(&self, rule: &str, message: String) {
        let line = format!("validate: {rule}: {message}");
        let mut state = self.state();
        state.errors.log(&line);
        state.violations.push(line);
    }

    fn found_any(&self) -> bool {
        !self.state().violations.is_empty()
    }

    fn error(&self) -> AppError {
        let violations = self.state().violations.clone();
        Box::new(ValidationError { violations })
    }

    /// The application returned a body: was the response started, and does what is known of
    /// the body already agree with the headers?
    fn check_returned(&self, body: &Body) {
        let started = self.state().start_called;
        if !started {
            let message = "the application returned a body without calling start_response";
            return self.report(DETAILS, message.to_owned());
        }
        let Some(length) = body.length() else { return };
        let written = {
            let mut state = self.state();
            state.body_length = Some(length);
            state.written
        };
        if length > 0 {
            self.on_content();
        }
        self.check_length(written + length, length, true);
    }

    /// Body bytes on their way to the engine. Fails — so the response becomes a 500 — if a
    /// violation turns up while no byte has gone out yet.
    fn on_piece(&self, piece: Piece, bytes: &[u8], head_sent: bool) -> Result<(), ValidationError> {
        if bytes.is_empty() {
            return Ok(());
        }
        if !self.state().content_seen {
            self.on_content();
        }
        let (total, body_only) = {
            let mut state = self.state();
            match piece {
                Piece::Written => state.written += bytes.len() as u64,
                Piece::Body => state.body_bytes += bytes.len() as u64,
            }
            (state.written + state.body_bytes, state.body_bytes)
        };
        self.check_length(total, body_only, false);
        self.refuse_before_head(head_sent)?;
        self.state().head_sent = true; // these bytes go out, the head first
        Ok(())
    }

    /// The body ended: was it as long as promised?
    fn on_end(&self) -> Result<(), ValidationError> {
        let (total, body_only, head_sent) = {
            let mut state = self.state();
            if std::mem::replace(&mut state.ended, true) {
                return Ok(());
            }
            let total = state.written + state.body_bytes;
            (total, state.body_bytes, state.head_sent)
        };
        self.check_length(total, body_only, true);
        self.refuse_before_head(head_sent)
    }

    fn refuse_before_head(&self, head_sent: bool) -> Result<(), ValidationError> {
        let violations = self.state().violations.clone();
        match violations.is_empty() || head_sent {
            true => Ok(()),
            false => Err(ValidationError { violations }),
        }
    }

    /// The first body byte: content needs a type, and 204 and 304 have none.
    fn on_content(&self) {
        let (code, typed, head_request) = {
            let mut state = self.state();
            state.content_seen = true;
            let Some(response) = &state.response else {
                return;
            };
            (response.code, response.has_content_type, state.head_request)
        };
        if matches!(code, 204 | 304) {
            let message = format!(
                "a {code} response has no content, but the application produced body bytes \
                 (RFC 9110 §6.4.1; the server drops them)"
            );
            self.report(HTTP, message);
        } else if !typed && !head_request {
            let message = "the body has content but the headers have no Content-Type \
                           (RFC 9110 §8.3: the client would have to guess)";
            self.report(HTTP, message.to_owned());
        }
    }

    /// Holds the `total` body bytes (written and returned) to the application's
    /// `Content-Length`, or without one the returned body's bytes (`body_only`) to the length
    /// it declared: never more, and at the `end`, not fewer. HEAD, 204 and 304 send no body,
    /// so their lengths describe a body that is not there.
    fn check_length(&self, total: u64, body_only: u64, end: bool) {
        let message = {
            let state = self.state();
            let Some(response) = &state.response else {
                return;
            };
            if state.length_reported || state.head_request || response.has_no_content() {
                return;
            }
            let (promised, whose, total) = match (response.declared_length, state.body_length) {
                (Some(declared), _) => (declared, "the application's Content-Length", total),
                (None, Some(known)) => (known, "the length the body declared", body_only),
                (None, None) => return,
            };
            if total > promised {
                format!("the body has more bytes than {whose} ({promised})")
            } else if end && total < promised {
                format!("the body ended after {total} bytes, short of {whose} ({promised})")
            } else {
                return;
            }
        };
        self.state().length_reported = true;
        self.report(CONTENT_LENGTH, message);
    }
}

/// What the validator returns from `call`, or fails the body with, when it stops a response
/// that breaks the gateway contract. Each violation was logged already, one `validate:` line
/// each; this says how many, and holds them.
///
/// ```
/// use std::collections::BTreeMap;
/// use rgiref::gateway::{AppError, Application, Body, Environ, Responder, StartResponse};
/// use rgiref::validate::{validator, ValidationError};
/// # struct Nobody;
/// # impl Responder for Nobody {
/// #     fn start_response(&mut self, _: String, _: Vec<(String, String)>, _: Option<&dyn std::error::Error>) -> Result<(), rgiref::gateway::StartResponseError> { Ok(()) }
/// #     fn write_now(&mut self, _: &[u8]) -> std::io::Result<()> { Ok(()) }
/// #     fn headers_sent(&self) -> bool { false }
/// #     fn refused(&mut self, _: &rgiref::gateway::StartResponseError) {}
/// # }
/// fn hello(_: &mut Environ, s: &mut StartResponse) -> Result<Body, AppError> {
///     s.start("200 OK", [("Content-Type", "text/plain")])?;
///     Ok(Body::from("hi"))
/// }
/// // An environ without REQUEST_METHOD, SERVER_NAME or SERVER_PORT: the server's mistake.
/// let mut environ = Environ::default();
/// environ.vars.insert("PATH_INFO".into(), "/".into());
/// let error = validator(hello).call(&mut environ, &mut StartResponse::new(&mut Nobody)).unwrap_err();
/// let error = error.downcast_ref::<ValidationError>().unwrap();
/// assert_eq!(error.violations().len(), 3);
/// assert_eq!(error.violations()[0], "validate: PEP 3333 §environ-variables: REQUEST_METHOD is missing: it is always required");
/// assert_eq!(error.to_string(), "validate: the request or response breaks the gateway contract (3 violations, each logged)");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    violations: Vec<String>,
}

impl ValidationError {
    /// The `validate:` lines, as logged, in the order they were found.
    pub fn violations(&self) -> &[String] {
        &self.violations
    }
}

impl fmt::Display for ValidationError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.violations.len();
        let plural = if count == 1 { "" } else { "s" };
        write!(
            f,
            "validate: the request or response breaks the gateway contract \
             ({count} violation{plural}, each logged)"
        )
    }
}

impl Error for ValidationError {}
