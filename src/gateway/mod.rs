//! RGI, the Rust Gateway Interface: the contract between a server and an application.
//!
//! Stage: the line between **build environ** and **call app** in the stack diagram (see the
//! crate docs). Everything left of it (sockets, CGI variables, FastCGI records) is the server's
//! business; everything right of it is the application's. Neither side needs to know the other:
//! that is the whole point of a gateway interface — *write the application once, deploy it
//! behind any server*.
//!
//! Interface, in one sentence: the server hands the application an [`Environ`] (what was
//! asked) and a [`StartResponse`] (how to answer); the application calls
//! [`StartResponse::start`] with a status and headers and returns a [`Body`].
//!
//! ```
//! use rgiref::gateway::{AppError, Body, Environ, StartResponse};
//!
//! fn hello(environ: &mut Environ, start_response: &mut StartResponse) -> Result<Body, AppError> {
//!     start_response.start("200 OK", [("Content-Type", "text/plain")])?;
//!     Ok(Body::from(format!("Hello, {}!\n", environ.path_info())))
//! }
//! # let _ = hello;
//! ```
//!
//! ## The same shapes as WSGI (PEP 3333)
//!
//! | WSGI (PEP 3333)                          | RGI (this module)                                   |
//! |------------------------------------------|-----------------------------------------------------|
//! | `application(environ, start_response)`   | [`Application::call`]`(&self, environ, start_response)`; closures implement it |
//! | `environ` (a `dict`)                     | [`Environ`]: CGI variables in [`Environ::vars`], `wsgi.*` as typed fields |
//! | CGI variables (`REQUEST_METHOD`, …)      | `environ.vars["REQUEST_METHOD"]`, or [`Environ::method`] and friends |
//! | `wsgi.input`                             | [`Environ::input`]: an [`Input`] (`Read` + `BufRead`), ending where the body ends |
//! | `wsgi.errors`                            | [`Environ::errors`]: an [`ErrorStream`] (`Write`) into the server's log |
//! | `wsgi.url_scheme`                        | [`Environ::url_scheme`]                             |
//! | `wsgi.multithread`, `wsgi.multiprocess`, `wsgi.run_once` | fields of the same names               |
//! | `wsgi.version` = `(1, 0)`                | [`VERSION`]                                         |
//! | `start_response(status, headers)`        | [`StartResponse::start`]`(status, headers)`         |
//! | `start_response(status, headers, exc_info)` | [`StartResponse::start_after_error`]`(status, headers, &error)` |
//! | the `write(data)` it returns             | the [`LegacyWrite`] it returns (`io::Write`)        |
//! | the returned iterable of `bytes`         | the returned [`Body`]: [`Body::from_chunks`], or bytes/`String` |
//! | `wsgi.file_wrapper(file)`                | [`Body::file`]: length known up front, copied in large blocks |
//! | `iterable.close()`                       | Rust's `Drop`, plus [`Body::on_close`]; always run  |
//! | an exception from the application        | `Err(AppError)` or a panic: both become a 500       |
//!
//! ## Where Rust lets us do better
//!
//! * **Misuse that types can prevent, they prevent.** There is no `write` before
//!   `start_response` (the write handle is what `start` returns); the input cannot be read after
//!   the server has finished with the connection without an error saying so.
//! * **Misuse that types cannot prevent is a clear error, and never reaches the wire.** A status
//!   or header with a line break, a header name with a space, a hop-by-hop header: `start`
//!   returns an [`StartResponseError`] that says what was wrong, the server logs it, and the
//!   client gets a 500 — even if the application ignores the error.
//! * **Errors are values.** Return `Err(e)` (any error type works with `?`) and the server turns
//!   it into a 500 with the message in its log, just as an uncaught exception is in wsgiref.

mod body;
mod environ;
mod start_response;

pub use body::Body;
pub(crate) use body::BodyKind;
pub use environ::{Environ, ErrorStream, Input};
pub use start_response::{LegacyWrite, StartResponse, StartResponseError};

/// The RGI version, the counterpart of WSGI's `wsgi.version` tuple.
pub const VERSION: (u32, u32) = (1, 0);

/// Any error an application returns. `?` converts every `std::error::Error` into it, and
/// strings work too: `return Err("no such user".into())`.
pub type AppError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// An RGI application: given the request, it starts a response and returns its body.
///
/// Any closure or `fn` with the right signature is an application, so the smallest one is a few
/// lines:
///
/// ```
/// use rgiref::gateway::{AppError, Application, Body, Environ, StartResponse};
///
/// let app = |_environ: &mut Environ, start_response: &mut StartResponse| -> Result<Body, AppError> {
///     start_response.start("200 OK", [("Content-Type", "text/plain")])?;
///     Ok(Body::from("Hello world!\n"))
/// };
/// # fn is_app(_: &impl Application) {}
/// # is_app(&app);
/// ```
///
/// Applications with state implement the trait on their own type. `call` takes `&self` because
/// one application object serves every request; state that changes between requests lives in a
/// `Cell`, `RefCell` or `Mutex` (a `Mutex` if the server runs on another thread).
pub trait Application {
    /// Handles one request. See the module docs for the contract.
    fn call(
        &self,
        environ: &mut Environ,
        start_response: &mut StartResponse<'_>,
    ) -> Result<Body, AppError>;
}

impl<F> Application for F
where
    F: Fn(&mut Environ, &mut StartResponse<'_>) -> Result<Body, AppError>,
{
    fn call(
        &self,
        environ: &mut Environ,
        start_response: &mut StartResponse<'_>,
    ) -> Result<Body, AppError> {
        self(environ, start_response)
    }
}
