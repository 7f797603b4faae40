//! `start_response`: how an application gives its status and headers.
//!
//! Stage: called during **call app**; what it records is written in **send headers**.
//!
//! Interface (PEP 3333, "The start_response() Callable"):
//! * [`StartResponse::start`] records the status (`"200 OK"`, or a [`Status`](super::Status)) and the
//!   headers, after checking both against the rules in `rules.rs` (so a header with a line
//!   break can never reach the wire). Nothing is sent yet: the headers wait for the first body
//!   bytes, so an application that fails before producing any can still get a clean 500
//!   instead of a half-sent 200.
//! * It returns a [`LegacyWrite`], WSGI's `write()` callable, for applications that want to
//!   push bytes imperatively. New code should return a [`Body`](super::Body) instead.
//! * [`StartResponse::start_after_error`] is the `exc_info` form: an application that failed
//!   after calling `start` may call it again to replace the status and headers with an error
//!   page — but only while nothing has been sent. After that, it returns an error that the
//!   application must pass on (`?`), and the server cuts the response short.
//!
//! A failed check returns a [`StartResponseError`] *and* is reported to the [`Responder`]
//! underneath, so the server answers 500 and logs exactly what was wrong even if the
//! application ignores the error.
//!
//! ## Who is on the other side: a [`Responder`]
//!
//! A `StartResponse` is a thin, checking front for a [`Responder`]: the thing that will
//! actually send the response. For a plain application that is the engine. For an application
//! wrapped in *middleware* it is the middleware, which sees the status and headers the inner
//! application chose, may change them, and passes them on to the `StartResponse` it was given
//! itself — exactly how a WSGI middleware hands the inner app its own `start_response`. The
//! `Responder` docs show one.

use std::error::Error;
use std::fmt;
use std::io;

use super::rules::{check_headers, check_status};

/// What sits behind a [`StartResponse`]: the engine, or a middleware that passes the response
/// on to the next `StartResponse` out. A middleware implements this to see and change what the
/// application inside it starts and writes.
///
/// A `StartResponse` is itself a `Responder` (it checks what it is given and passes it on), so
/// a middleware can hold the `StartResponse` it was handed and forward to it:
///
/// ```
/// use std::error::Error;
/// use std::io;
/// use rgiref::gateway::{AppError, Application, Body, Environ, Responder, StartResponse, StartResponseError};
///
/// /// Middleware: adds `X-Frame-Options: DENY` to every response of the application inside.
/// struct NoFraming<A>(A);
///
/// /// Its responder: changes the headers, then passes everything on to the real one.
/// struct AddHeader<'a, 'b>(&'a mut StartResponse<'b>);
///
/// impl Responder for AddHeader<'_, '_> {
///     fn start_response(&mut self, status: String, mut headers: Vec<(String, String)>,
///                       replacing: Option<&dyn Error>) -> Result<(), StartResponseError> {
///         headers.push(("X-Frame-Options".into(), "DENY".into()));
///         self.0.start_response(status, headers, replacing)
///     }
///     fn write_now(&mut self, bytes: &[u8]) -> io::Result<()> { self.0.write_now(bytes) }
///     fn headers_sent(&self) -> bool { self.0.headers_sent() }
///     fn refused(&mut self, error: &StartResponseError) { self.0.refused(error) }
/// }
///
/// impl<A: Application> Application for NoFraming<A> {
///     fn call(&self, environ: &mut Environ, start_response: &mut StartResponse) -> Result<Body, AppError> {
///         let mut add_header = AddHeader(start_response);
///         self.0.call(environ, &mut StartResponse::new(&mut add_header))
///     }
/// }
/// fn hello(_: &mut Environ, s: &mut StartResponse) -> Result<Body, AppError> {
///     s.start("200 OK", [])?;
///     Ok(Body::from("hi"))
/// }
/// let app = NoFraming(hello); // serve it like any other application
/// # fn is_app(_: &impl Application) {}
/// # is_app(&app);
/// ```
pub trait Responder {
    /// The application chose its status and headers; both have passed the rules. `replacing`
    /// is the error that made the application call `start_after_error`, or `None` for `start`.
    fn start_response(
        &mut self,
        status: String,
        headers: Vec<(String, String)>,
        replacing: Option<&dyn Error>,
    ) -> Result<(), StartResponseError>;

    /// Body bytes from the legacy `write()`: sent at once, headers first if they were not
    /// (PEP 3333: `write` returns only once its bytes are on their way).
    fn write_now(&mut self, bytes: &[u8]) -> io::Result<()>;

    /// True once the status line and headers have gone out; from then on the status is fixed.
    fn headers_sent(&self) -> bool;

    /// The application broke a rule (the error says which). The engine remembers it and
    /// answers 500; a middleware passes it on.
    fn refused(&mut self, error: &StartResponseError);
}

/// The application's handle on the response in progress (WSGI's `start_response`).
pub struct StartResponse<'a> {
    responder: &'a mut dyn Responder,
    started: bool,
}

impl<'a> StartResponse<'a> {
    /// A `start_response` that checks what the application gives it and passes it to
    /// `responder`. The engine makes one for each request; middleware makes one over its own
    /// [`Responder`] (see there).
    pub fn new(responder: &'a mut dyn Responder) -> StartResponse<'a> {
        StartResponse {
            responder,
            started: false,
        }
    }

    /// Sets the response status and headers. Call it once per response.
    ///
    /// `status` is anything that prints as `"404 Not Found"`: a `&str`, a `String` or a
    /// [`Status`](super::Status). `headers` is an array of `(&str, &str)` pairs, a slice of
    /// them, or a `Vec` of pairs; `[]` for none.
    ///
    /// ```
    /// # use rgiref::gateway::{AppError, Body, Environ, StartResponse, Status};
    /// fn app(environ: &mut Environ, start_response: &mut StartResponse) -> Result<Body, AppError> {
    ///     if environ.method() == "DELETE" {
    ///         start_response.start("204 No Content", [])?;
    ///         return Ok(Body::empty());
    ///     }
    ///     start_response.start(Status::NOT_FOUND, [("Content-Type", "text/plain")])?;
    ///     Ok(Body::from("no such page\n"))
    /// }
    /// # let _ = app;
    /// ```
    pub fn start(
        &mut self,
        status: impl fmt::Display,
        headers: impl IntoHeaders,
    ) -> Result<LegacyWrite<'_>, StartResponseError> {
        self.record(status.to_string(), headers.into_headers(), None)?;
        Ok(LegacyWrite {
            responder: &mut *self.responder,
        })
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
    pub fn start_after_error(
        &mut self,
        status: impl fmt::Display,
        headers: impl IntoHeaders,
        error: &dyn Error,
    ) -> Result<LegacyWrite<'_>, StartResponseError> {
        self.record(status.to_string(), headers.into_headers(), Some(error))?;
        Ok(LegacyWrite {
            responder: &mut *self.responder,
        })
    }

    /// True once the status line and headers have gone to the client; from then on the status
    /// cannot change.
    pub fn headers_sent(&self) -> bool {
        self.responder.headers_sent()
    }

    /// The checks, in the order PEP 3333 implies: the call itself (twice? too late?), then the
    /// status and headers; then the responder gets them.
    fn record(
        &mut self,
        status: String,
        headers: Vec<(String, String)>,
        replacing: Option<&dyn Error>,
    ) -> Result<(), StartResponseError> {
        let checked = match replacing {
            None if self.started => Err(StartResponseError::AlreadyStarted),
            Some(error) if self.responder.headers_sent() => {
                Err(StartResponseError::HeadersAlreadySent {
                    error: error.to_string(),
                })
            }
            _ => check_status(&status).and_then(|_| check_headers(&headers)),
        };
        if let Err(error) = checked {
            self.responder.refused(&error);
            return Err(error);
        }
        self.started = true;
        self.responder.start_response(status, headers, replacing)
    }
}

impl Responder for StartResponse<'_> {
    /// Checks the call as [`StartResponse::start`] (or `start_after_error`) would, and passes it
    /// on: this is how a middleware hands the response back to the layer outside it.
    fn start_response(
        &mut self,
        status: String,
        headers: Vec<(String, String)>,
        replacing: Option<&dyn Error>,
    ) -> Result<(), StartResponseError> {
        self.record(status, headers, replacing)
    }

    fn write_now(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.responder.write_now(bytes)
    }

    fn headers_sent(&self) -> bool {
        self.responder.headers_sent()
    }

    fn refused(&mut self, error: &StartResponseError) {
        self.responder.refused(error)
    }
}

impl fmt::Debug for StartResponse<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StartResponse")
            .field("started", &self.started)
            .field("headers_sent", &self.headers_sent())
            .finish()
    }
}

/// The header lists [`StartResponse::start`] takes. There is exactly one array form,
/// `[(&str, &str); N]`, so that an empty list can be written `[]`: with two, Rust could not
/// tell which one `[]` is.
pub trait IntoHeaders {
    /// The headers as owned `(name, value)` pairs, in order.
    fn into_headers(self) -> Vec<(String, String)>;
}

impl<const N: usize> IntoHeaders for [(&str, &str); N] {
    fn into_headers(self) -> Vec<(String, String)> {
        self.as_slice().into_headers()
    }
}

impl IntoHeaders for &[(&str, &str)] {
    fn into_headers(self) -> Vec<(String, String)> {
        self.iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect()
    }
}

impl IntoHeaders for Vec<(String, String)> {
    fn into_headers(self) -> Vec<(String, String)> {
        self
    }
}

impl IntoHeaders for Vec<(&str, String)> {
    fn into_headers(self) -> Vec<(String, String)> {
        self.into_iter()
            .map(|(name, value)| (name.to_owned(), value))
            .collect()
    }
}

impl IntoHeaders for Vec<(&str, &str)> {
    fn into_headers(self) -> Vec<(String, String)> {
        self.as_slice().into_headers()
    }
}

/// WSGI's `write()` callable: bytes written here go to the client at once, before any returned
/// body. Kept for applications that produce output imperatively; returning a
/// [`Body`](super::Body) is simpler and lets the server add `Content-Length`.
///
/// As PEP 3333 says, the first `write` sends the status and headers even if it writes no
/// bytes (`write(b"")`): an application uses that to push the headers out early.
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
    responder: &'s mut dyn Responder,
}

impl io::Write for LegacyWrite<'_> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.responder.write_now(bytes)?;
        Ok(bytes.len())
    }

    /// Nothing to do: each `write` has already sent its bytes.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
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
