//! # rgiref — the Rust Gateway Interface, and a server you can read
//!
//! rgiref is to Rust what Python's `wsgiref` is to Python: the *reference implementation* of a
//! web gateway interface, written to be read. It answers one question — *what actually happens
//! between a browser and a web application?* — with code small enough to read in an afternoon,
//! and a book that walks through it: the [`tutorial`], from raw bytes on a socket to your
//! application and back (it is `TUTORIAL.md` in the source).
//!
//! Stage: all of them. This file draws the stack diagram that names the stages; every other
//! file says at its top which of them it implements.
//!
//! It is a **development server**: one thread, one request at a time, HTTP/1.0. Use it to learn,
//! to run examples, and as a throwaway server inside your own tests. It is not a production
//! server and does not try to be: read the "Real world" notes in `TUTORIAL.md` for what a
//! production server does differently, and why.
//!
//! ## The stack diagram
//!
//! A request reaches an application one of two ways. In development, rgiref's own HTTP server
//! is the whole web server. In production, nginx, lighttpd or Apache talks HTTP to the world
//! and hands each request on — as a CGI program's environment, as FastCGI records, or as an
//! SCGI netstring — to rgiref's side of that protocol. Both ways meet at one line:
//!
//! ```text
//!   DEVELOPMENT: rgiref is the web server       PRODUCTION: a web server in front of rgiref
//!
//!   browser, curl, a test                       browser
//!      │  HTTP: "GET /hello HTTP/1.0\r\n…"         │  HTTP
//!      ▼                                           ▼
//!   rgiref's HTTP/1.0 server                    nginx, lighttpd or Apache: accept, read request
//!      [accept]         server/                    │  CGI: a process, its environment and stdin
//!      [read request]   http/                      │  FastCGI: records on a socket
//!      [build environ]  http/                      │  SCGI: a netstring on a socket
//!      │                                           ▼
//!      │                                        rgiref's CGI, FastCGI or SCGI side
//!      │                                           [read request]   cgi/  fastcgi/  scgi/
//!      │                                           [build environ]  cgi::environ_variables
//!      ▼                                           ▼
//!   ══════════════ the gateway interface, gateway/: Environ, StartResponse, Body ══════════════
//!      [call app]       engine/   app(environ, start_response) → status, headers, body
//!      [send headers]   engine/   status + headers → bytes, in the transport's HeadStyle
//!      [send body]      engine/   body → bytes
//!      [finish]         engine/ closes the body; the transport logs, drains and closes
//!   ════════════════════════════════════════════════════════════════════════════════════════
//!   application: your code (or demo::demo_app), the same on both sides
//! ```
//!
//! That line is the point: **an application written against the gateway interface does not
//! know, or care, which server is in front.** The [`engine`] runs it the same way whichever
//! transport brought the request. (A CGI program has no **accept** of its own: the web server
//! accepted the connection and started the program for that one request.)
//!
//! The stages in square brackets are [`Stage`]s. Every file says at its top which stage(s) it
//! implements, every error line in the log names the stage it happened in, and an
//! [`observe::Observer`] sees an event for each step of each stage.
//!
//! ## Where to start reading
//!
//! 1. [`gateway`] — the interface itself, with a table mapping it to WSGI (PEP 3333). It
//!    depends on nothing else in the crate, so it can be read first and alone.
//! 2. [`engine`] — `engine::run`, wsgiref's `BaseHandler.run`: the whole gateway algorithm,
//!    over a small `Transport` trait.
//! 3. [`http`] — request parsing, with the grammar drawn next to the code.
//! 4. [`server`] — the blocking accept loop, the timeouts, and why one slow client blocks all.
//! 5. [`cgi`] — behind a web server: the CGI meta-variables, and [`cgi::run`], a CGI program
//!    over the same engine.
//!
//! Then the toolkit an application author reaches for, wsgiref's other modules:
//! [`util`] (URLs, `shift_path_info` for mounting apps under a prefix, form decoding), and
//! [`testing`], a client that calls an application in-process, through the server's parser
//! and the engine, with no socket; and [`validate`], a middleware that reports every breach
//! of the gateway contract, by the server or the application, that the types do not prevent.
//!
//! ## Hello world
//!
//! ```no_run
//! use rgiref::gateway::{AppError, Body, Environ, StartResponse};
//! use rgiref::server::Server;
//!
//! fn hello(_environ: &mut Environ, start_response: &mut StartResponse) -> Result<Body, AppError> {
//!     start_response.start("200 OK", [("Content-Type", "text/plain")])?;
//!     Ok(Body::from("Hello world!\n"))
//! }
//!
//! fn main() -> std::io::Result<()> {
//!     let server = Server::bind("127.0.0.1:8000", hello)?;
//!     println!("development server at {}", server.url());
//!     server.serve_forever();
//!     Ok(())
//! }
//! ```

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod cgi;
mod date;
pub mod demo;
pub mod engine;
pub mod fastcgi;
pub mod gateway;
pub mod http;
pub mod log;
mod net;
pub mod observe;
mod percent;
mod read_ahead;
pub mod scgi;
pub mod server;
mod stage;
pub mod testing;
pub mod trace;
pub mod util;

/// The book of this crate: one request followed through every stage, with what to run, what
/// to notice, what production servers do differently, and exercises. This is `TUTORIAL.md`.
#[doc = include_str!("../TUTORIAL.md")]
pub mod tutorial {}
pub mod validate;
mod write_buffer;

pub use stage::Stage;

/// The name and version this server gives in `Server:` and `SERVER_SOFTWARE`.
pub const SERVER_SOFTWARE: &str = concat!("rgiref/", env!("CARGO_PKG_VERSION"));
