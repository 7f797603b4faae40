//! RGI, the Rust Gateway Interface: the contract between a server and an application.
//!
//! Stage: the line between **build environ** and **call app** in the stack diagram (see the
//! crate docs). Everything above it (sockets, CGI variables, FastCGI records) is the server's
//! business; everything below it is the application's. Neither side needs to know the other:
//! that is the whole point of a gateway interface — *write the application once, deploy it
//! behind any server*. So this module is the leaf of the crate: it uses nothing but std, and
//! can be read first and alone (a test fails if a file here names another module of the crate).
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
//! | `wsgi.errors`                            | [`Environ::errors`]: an [`ErrorStream`] (`Write`); the transport's [`ErrorSink`] decides where lines go |
//! | `wsgi.url_scheme`                        | [`Environ::url_scheme`]                             |
//! | `wsgi.multithread`, `wsgi.multiprocess`, `wsgi.run_once` | fields of the same names               |
//! | `wsgi.version` = `(1, 0)`                | [`VERSION`]                                         |
//! | `start_response(status, headers)`        | [`StartResponse::start`]`(status, headers)`; [`Status`] names the codes |
//! | `start_response(status, headers, exc_info)` | [`StartResponse::start_after_error`]`(status, headers, &error)` |
//! | the `write(data)` it returns             | the [`LegacyWrite`] it returns (`io::Write`)        |
//! | the returned iterable of `bytes`         | the returned [`Body`]: [`Body::from_chunks`], or bytes/`String` |
//! | `wsgi.file_wrapper(file)`                | [`Body::file`]: length known up front, copied in large blocks |
//! | `iterable.close()`                       | Rust's `Drop`, plus [`Body::on_close`]; always run  |
//! | an exception from the application        | `Err(AppError)` or a panic: both become a 500       |
//! | middleware: an app wrapping an app        | an [`Application`] calling another with `StartResponse::new(&mut its_responder)`; see [`Responder`] |
//! | `wsgiref.headers.Headers`                | [`Headers`]: ordered, case-insensitive, checked as it is built; `start` takes it |
//! | `wsgiref.util.is_hop_by_hop`             | [`is_hop_by_hop`]                                   |
//!
//! ## Where Rust lets us do better
//!
//! * **Misuse that types can prevent, they prevent.** There is no `write` before
//!   `start_response`: the write handle is what `start` returns. Headers are `(name, value)`
//!   pairs of strings, never a dict that could hold something else.
//! * **Misuse that types cannot prevent is a clear error, and never reaches the wire.** A status
//!   or header with a line break, a header name with a space, a hop-by-hop header: `start`
//!   returns an [`StartResponseError`] that says what was wrong, the server logs it, and the
//!   client gets a 500 — even if the application ignores the error.
//! * **Errors are values.** Return `Err(e)` (any error type works with `?`) and the server turns
//!   it into a 500 with the message in its log, just as an uncaught exception is in wsgiref. An
//!   error from reading the body that was the client's fault carries an [`InputError`], and
//!   becomes the status it names (a 408 for a client that stopped sending) instead.
//!
//! The byte rule — how every transport turns the bytes it receives into the `String`s of the
//! environ — is stated once, in [`Environ`]'s module (`src/gateway/environ.rs`).

mod body;
mod environ;
mod errors;
mod headers;
mod rules;
mod start_response;
mod status;

pub use body::{Body, BodyKind};
pub use environ::{value_from_bytes, Environ, Input, InputError};
pub use errors::{ErrorSink, ErrorStream};
pub use headers::{HeaderError, Headers};
pub(crate) use rules::is_tchar;
pub use rules::{is_forbidden_in_value, is_hop_by_hop, is_token, HOP_BY_HOP};
pub use start_response::{IntoHeaders, LegacyWrite, Responder, StartResponse, StartResponseError};
pub use status::Status;

use std::rc::Rc;
use std::sync::Arc;

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
///
/// Boxes, references and shared pointers to applications are applications too, so a router can
/// hold `Box<dyn Application>`s and a middleware can wrap an `Arc<A>` (the comment above the
/// impls says why `&A` is spelled `&dyn Application`):
///
/// ```
/// use rgiref::gateway::{Application, Body, Environ, StartResponse, AppError};
/// fn hello(_: &mut Environ, s: &mut StartResponse) -> Result<Body, AppError> {
///     s.start("200 OK", [])?;
///     Ok(Body::from("hi"))
/// }
/// fn bye(_: &mut Environ, s: &mut StartResponse) -> Result<Body, AppError> {
///     s.start("410 Gone", [])?;
///     Ok(Body::from("bye"))
/// }
/// let apps: Vec<Box<dyn Application>> = vec![Box::new(hello), Box::new(bye)];
/// # fn is_app(_: &impl Application) {}
/// # is_app(&apps[0]);
/// # is_app(&std::sync::Arc::new(hello));
/// ```
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

// Pointers to applications are applications. One wrinkle, worth knowing: every closure is an
// application through the blanket impl above, and `&F` and `Box<F>` of a closure are closures
// too (they implement `Fn`), so Rust cannot also have a blanket impl for every `&A` or
// `Box<A>` — the two would overlap. Hence the trait objects below (a router's
// `Box<dyn Application>`, a borrowed `&dyn Application`) and generic `Rc` and `Arc`; for a
// reference to an application type of your own, write `&app as &dyn Application`.

/// `Box<dyn Application>`: applications of different types in one list (a router's routes).
impl Application for Box<dyn Application> {
    fn call(
        &self,
        environ: &mut Environ,
        start_response: &mut StartResponse<'_>,
    ) -> Result<Body, AppError> {
        (**self).call(environ, start_response)
    }
}

/// The same, for a boxed application that a server on another thread may run
/// (`Server::spawn` needs `Send`).
impl Application for Box<dyn Application + Send> {
    fn call(
        &self,
        environ: &mut Environ,
        start_response: &mut StartResponse<'_>,
    ) -> Result<Body, AppError> {
        (**self).call(environ, start_response)
    }
}

/// `&dyn Application`: lend an application to a server and keep it.
impl Application for &dyn Application {
    fn call(
        &self,
        environ: &mut Environ,
        start_response: &mut StartResponse<'_>,
    ) -> Result<Body, AppError> {
        (**self).call(environ, start_response)
    }
}

/// `Rc<A>`: one application shared by several wrappers on one thread.
impl<A: Application + ?Sized> Application for Rc<A> {
    fn call(
        &self,
        environ: &mut Environ,
        start_response: &mut StartResponse<'_>,
    ) -> Result<Body, AppError> {
        (**self).call(environ, start_response)
    }
}

/// `Arc<A>`: one application shared across threads (a server on its own thread, and a test
/// that looks at the application's state).
impl<A: Application + ?Sized> Application for Arc<A> {
    fn call(
        &self,
        environ: &mut Environ,
        start_response: &mut StartResponse<'_>,
    ) -> Result<Body, AppError> {
        (**self).call(environ, start_response)
    }
}
