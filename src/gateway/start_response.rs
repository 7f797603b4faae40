//! `start_response`: how an application gives its status and headers, and the checks on them.
//!
//! Stage: called during **call app**; what it records is written in **send headers**.
//!
//! Interface (PEP 3333, "The start_response() Callable"):
//! * [`StartResponse::start`] records the status (`"200 OK"`) and headers. Nothing is sent yet:
//!   the headers wait for the first body bytes, so an application that fails before producing
//!   any can still get a clean 500 instead of a half-sent 200.
//! * It returns a [`LegacyWrite`], WSGI's `write()` callable, for applications that want to
//!   push bytes imperatively. New code should return a [`Body`](super::Body) instead.
//! * [`StartResponse::start_after_error`] is the `exc_info` form: an application that failed
//!   after calling `start` may call it again to replace the status and headers with an error
//!   page — but only while nothing has been sent. After that, it returns an error that the
//!   application must pass on (`?`), and the server cuts the response short.
//!
//! The checks, and why each one exists (every one of these could otherwise reach the wire):
//!
//! ```text
//!   status      = 3DIGIT SP reason-phrase      RFC 9112 §4; code 200–599 (1xx are the
//!                                              server's to send, not the application's)
//!   header name = token                        RFC 9110 §5.1 — a space or colon in a name
//!                                              makes a different header
//!   header value: no control characters        RFC 9110 §5.5 — CR/LF would split the response
//!                 except tab
//!   no hop-by-hop headers                      PEP 3333; RFC 2616 §13.5.1 — the connection
//!                                              belongs to the server
//!   no Status header                           RFC 3875 §6.3.3 — behind a web server the
//!                                              engine writes it from the status argument
//!   Content-Length = 1*DIGIT, at most once     RFC 9110 §8.6
//! ```
//!
//! A failed check returns a [`StartResponseError`] *and* is remembered, so the server answers
//! 500 and logs exactly what was wrong even if the application ignores the error.

use std::error::Error;
use std::fmt;
use std::io;

use crate::handler::{ResponseState, Transport};
use crate::http::grammar::{is_forbidden_in_value, is_hop_by_hop, is_token};

/// The application's handle on the response in progress (WSGI's `start_response`).
pub struct StartResponse<'a> {
    state: &'a mut ResponseState,
    transport: &'a mut dyn Transport,
}

impl<'a> StartResponse<'a> {
    /// Made by the engine (`Handler::run`) for each call of the application.
    pub(crate) fn new(state: &'a mut ResponseState, transport: &'a mut dyn Transport) -> Self {
        StartResponse { state, transport }
    }

    /// Sets the response status and headers. Call it once per response.
    ///
    /// `headers` is anything that yields `(name, value)` pairs of strings: an array of `&str`
    /// pairs, a `Vec<(String, String)>`, ….
    ///
    /// ```
    /// # use rgiref::gateway::{AppError, Body, Environ, StartResponse};
    /// fn app(_: &mut Environ, start_response: &mut StartResponse) -> Result<Body, AppError> {
    ///     start_response.start("404 Not Found", [("Content-Type", "text/plain")])?;
    ///     Ok(Body::from("no such page\n"))
    /// }
    /// # let _ = app;
    /// ```
    pub fn start<I, N, V>(
        &mut self,
        status: &str,
        headers: I,
    ) -> Result<LegacyWrite<'_>, StartResponseError>
    where
        I: IntoIterator<Item = (N, V)>,
        N: Into<String>,
        V: Into<String>,
    {
        if self.state.is_started() {
            return Err(self.refuse(StartResponseError::AlreadyStarted));
        }
        self.record(status, headers)
    }

    /// Replaces the status and headers after the application hit `error` (WSGI's `exc_info`
    /// argument). Works only while no header has been sent; after that it returns
    /// [`StartResponseError::HeadersAlreadySent`], which the application should return with
    /// `?` so the server can end the broken response.
    ///
    /// ```
    /// # use rgiref::gateway::{AppError, Body, Environ, StartResponse};
    /// fn app(_: &mut Environ, start_response: &mut StartResponse) -> Result<Body, AppError> {
    ///     start_response.start("200 OK", [("Content-Type", "text/html")])?;
    ///     match std::fs::read_to_string("/no/such/template.html") {
    ///         Ok(page) => Ok(Body::from(page)),
    ///         Err(error) => {
    ///             start_response.start_after_error("503 Service Unavailable", [("Content-Type", "text/plain")], &error)?;
    ///             Ok(Body::from("try again later\n"))
    ///         }
    ///     }
    /// }
    /// # let _ = app;
    /// ```
    pub fn start_after_error<I, N, V>(
        &mut self,
        status: &str,
        headers: I,
        error: &dyn Error,
    ) -> Result<LegacyWrite<'_>, StartResponseError>
    where
        I: IntoIterator<Item = (N, V)>,
        N: Into<String>,
        V: Into<String>,
    {
        if self.state.headers_sent() {
            let refused = StartResponseError::HeadersAlreadySent {
                error: error.to_string(),
            };
            return Err(self.refuse(refused));
        }
        self.record(status, headers)
    }

    /// True once the status line and headers have gone to the client; from then on the status
    /// cannot change.
    pub fn headers_sent(&self) -> bool {
        self.state.headers_sent()
    }

    fn record<I, N, V>(
        &mut self,
        status: &str,
        headers: I,
    ) -> Result<LegacyWrite<'_>, StartResponseError>
    where
        I: IntoIterator<Item = (N, V)>,
        N: Into<String>,
        V: Into<String>,
    {
        let code = match check_status(status) {
            Ok(code) => code,
            Err(refused) => return Err(self.refuse(refused)),
        };
        let headers: Vec<(String, String)> = headers
            .into_iter()
            .map(|(name, value)| (name.into(), value.into()))
            .collect();
        let declared_length = match check_headers(&headers) {
            Ok(length) => length,
            Err(refused) => return Err(self.refuse(refused)),
        };
        self.state
            .set(code, status.to_owned(), headers, declared_length);
        Ok(LegacyWrite {
            state: &mut *self.state,
            transport: &mut *self.transport,
        })
    }

    /// Remembers the misuse (so the server answers 500 whatever the application does next) and
    /// hands the error back for the application to see.
    fn refuse(&mut self, error: StartResponseError) -> StartResponseError {
        self.state.record_misuse(format!("start_response: {error}"));
        error
    }
}

impl fmt::Debug for StartResponse<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StartResponse")
            .field("headers_sent", &self.headers_sent())
            .finish()
    }
}

/// WSGI's `write()` callable: bytes written here go to the client at once, before any returned
/// body. Kept for applications that produce output imperatively; returning a
/// [`Body`](super::Body) is simpler and lets the server add `Content-Length`.
///
/// ```
/// # use rgiref::gateway::{AppError, Body, Environ, StartResponse};
/// use std::io::Write;
/// fn app(_: &mut Environ, start_response: &mut StartResponse) -> Result<Body, AppError> {
///     let mut write = start_response.start("200 OK", [("Content-Type", "text/plain")])?;
///     write.write_all(b"written at once\n")?;
///     Ok(Body::empty())
/// }
/// # let _ = app;
/// ```
pub struct LegacyWrite<'s> {
    state: &'s mut ResponseState,
    transport: &'s mut dyn Transport,
}

impl io::Write for LegacyWrite<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        // PEP 3333: write() must not return until the bytes are sent or buffered for sending,
        // so each call is flushed — the reason the returned-body style is faster.
        self.state
            .write_body(self.transport, bytes, None)
            .map_err(|e| e.into_io())?;
        self.state.flush(self.transport).map_err(|e| e.into_io())?;
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.state.flush(self.transport).map_err(|e| e.into_io())
    }
}

impl fmt::Debug for LegacyWrite<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LegacyWrite { .. }")
    }
}

/// What was wrong with a call to [`StartResponse`]. The message says what the application did
/// and what it should do instead.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartResponseError {
    /// `start` was called a second time.
    AlreadyStarted,
    /// `start_after_error` came after the headers were sent; holds the application's error.
    HeadersAlreadySent {
        /// The error the application reported.
        error: String,
    },
    /// The status is not `DDD reason` with a code from 200 to 599.
    BadStatus {
        /// The status as given.
        status: String,
        /// Which rule it broke.
        why: &'static str,
    },
    /// A header name that is not an HTTP token.
    BadHeaderName {
        /// The name as given.
        name: String,
    },
    /// A header value containing a control character.
    BadHeaderValue {
        /// The header's name.
        name: String,
        /// The value as given.
        value: String,
    },
    /// A hop-by-hop header such as `Connection`.
    HopByHop {
        /// The name as given.
        name: String,
    },
    /// A `Status` header: the status is `start`'s first argument.
    StatusHeader,
    /// A `Content-Length` that is not a number, or is given twice.
    BadContentLength {
        /// The value(s) as given.
        value: String,
    },
}

impl fmt::Display for StartResponseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StartResponseError::AlreadyStarted => write!(
                f,
                "start was called twice; to replace the status after an error, \
                 call start_after_error"
            ),
            StartResponseError::HeadersAlreadySent { error } => write!(
                f,
                "start_after_error was called after the headers were sent, so the response \
                 cannot be changed; return the error instead (the server will end the \
                 response): {error}"
            ),
            StartResponseError::BadStatus { status, why } => {
                write!(f, "status {status:?} is not valid: {why} (example: \"200 OK\")")
            }
            StartResponseError::BadHeaderName { name } => write!(
                f,
                "header name {name:?} is not an HTTP token (letters, digits and !#$%&'*+-.^_`|~ only)"
            ),
            StartResponseError::BadHeaderValue { name, value } => write!(
                f,
                "header {name:?} has a value with a control character (CR, LF, NUL, …), \
                 which could end the header early: {value:?}"
            ),
            StartResponseError::HopByHop { name } => write!(
                f,
                "header {name:?} is hop-by-hop: it describes the connection, which belongs to \
                 the server, so an application may not set it"
            ),
            StartResponseError::StatusHeader => write!(
                f,
                "a header named \"Status\" is not allowed: give the status as start's first \
                 argument (behind a CGI or FastCGI web server, the engine sends it as that header)"
            ),
            StartResponseError::BadContentLength { value } => write!(
                f,
                "Content-Length {value:?} is not valid: it must be one whole number of bytes"
            ),
        }
    }
}

impl Error for StartResponseError {}

/// Checks `status` against `3DIGIT SP reason-phrase` and returns the code.
fn check_status(status: &str) -> Result<u16, StartResponseError> {
    let bad = |why| StartResponseError::BadStatus {
        status: status.to_owned(),
        why,
    };
    let bytes = status.as_bytes();
    if bytes.len() < 4 || !bytes[..3].iter().all(u8::is_ascii_digit) {
        return Err(bad("it must start with a three-digit code"));
    }
    if bytes[3] != b' ' {
        return Err(bad(
            "the code must be followed by a space and a reason phrase",
        ));
    }
    if status.chars().any(|c| c.is_control() && c != '\t') {
        return Err(bad("it contains a control character such as CR or LF"));
    }
    let code: u16 = status[..3]
        .parse()
        .map_err(|_| bad("the code is not a number"))?;
    if !(200..=599).contains(&code) {
        return Err(bad("the code must be from 200 to 599"));
    }
    Ok(code)
}

/// Checks every header and returns the application's `Content-Length`, if it gave one.
fn check_headers(headers: &[(String, String)]) -> Result<Option<u64>, StartResponseError> {
    let mut length = None;
    for (name, value) in headers {
        if !is_token(name) {
            return Err(StartResponseError::BadHeaderName { name: name.clone() });
        }
        if value.chars().any(is_forbidden_in_value) {
            return Err(StartResponseError::BadHeaderValue {
                name: name.clone(),
                value: value.clone(),
            });
        }
        if is_hop_by_hop(name) {
            return Err(StartResponseError::HopByHop { name: name.clone() });
        }
        if name.eq_ignore_ascii_case("Status") {
            return Err(StartResponseError::StatusHeader);
        }
        if name.eq_ignore_ascii_case("Content-Length") {
            let bad = || StartResponseError::BadContentLength {
                value: value.clone(),
            };
            let is_number = !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit());
            let parsed = value
                .parse::<u64>()
                .ok()
                .filter(|_| is_number)
                .ok_or_else(bad)?;
            if length.replace(parsed).is_some() {
                return Err(bad());
            }
        }
    }
    Ok(length)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        assert_eq!(check_status("200 OK"), Ok(200));
        assert_eq!(check_status("599 "), Ok(599));
        assert!(check_status("200").is_err());
        assert!(check_status("200OK").is_err());
        assert!(check_status("20x OK").is_err());
        assert!(check_status("100 Continue").is_err());
        assert!(check_status("600 Nope").is_err());
        assert!(check_status("200 OK\r\nSet-Cookie: x").is_err());
    }

    #[test]
    fn headers() {
        let h = |n: &str, v: &str| vec![(n.to_owned(), v.to_owned())];
        assert_eq!(check_headers(&h("X-Ok", "tab\tis fine")), Ok(None));
        assert_eq!(check_headers(&h("Content-Length", "12")), Ok(Some(12)));
        assert!(check_headers(&h("Bad Name", "x")).is_err());
        assert!(check_headers(&h("X", "a\r\nInjected: yes")).is_err());
        assert!(check_headers(&h("Connection", "close")).is_err());
        assert_eq!(
            check_headers(&h("status", "404")),
            Err(StartResponseError::StatusHeader)
        );
        assert!(check_headers(&h("Content-Length", "+12")).is_err());
        let two = vec![
            ("Content-Length".to_owned(), "1".to_owned()),
            ("content-length".to_owned(), "1".to_owned()),
        ];
        assert!(check_headers(&two).is_err());
    }
}
