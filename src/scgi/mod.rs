//! SCGI, the application's side: a responder behind nginx (`scgi_pass`), lighttpd
//! (`mod_scgi`) or Apache (`mod_proxy_scgi`), speaking Neil Schemenauer's SCGI protocol.
//!
//! Stages: **accept** (here), then per connection **read request**, **build environ** and
//! **finish** (`connection.rs`), with the header's wire format in `request.rs`; the stages in
//! between are the engine's (`crate::engine`), exactly as for HTTP.
//!
//! SCGI is the smallest of the web server ↔ application protocols. The web server (the SCGI
//! *client*) opens a connection per request and sends one netstring of CGI variables — the
//! environ, already built — then the body; the application writes a CGI response and closes the
//! connection. No records, no multiplexing, no keep-alive: `read_head` draws all of it.
//!
//! Interface:
//! * [`Server::bind`] / [`Server::bind_with`] listen on a TCP address, [`Server::bind_unix`] on
//!   a Unix socket file; [`Server::local_addr`] says where (the real port, if you asked for 0).
//! * [`Server::handle_connection`] serves exactly one connection; [`Server::serve_forever`]
//!   serves until a [`ShutdownHandle`] says stop; [`Server::spawn`] runs it on a thread and
//!   gives a [`RunningServer`] that stops it when dropped — the shape the HTTP server has.
//! * The environ is made by `cgi::environ_variables`, as for CGI and FastCGI: only request
//!   variables, never `HTTP_PROXY`, the byte rule. `CONTENT_LENGTH` is always set (SCGI
//!   requires it, `0` for no body), and the body ends after that many bytes. `multithread` is
//!   false, `multiprocess` true (a web server may balance over several rgiref processes),
//!   `run_once` false.
//! * A header that breaks a rule of the specification is one log line and a closed connection:
//!   the web server answers its client with 502 Bad Gateway, which is what it is. A body that
//!   ends before `CONTENT_LENGTH` is an `InputError` with 400.
//!
//! Like the HTTP server, this one serves one connection at a time on one thread, and every
//! wait has a [`Timeouts`] entry. Behind nginx that is less of a limit than it sounds: SCGI
//! never keeps a connection open between requests, and nginx by default reads the whole
//! request body before it connects. A production deployment runs several processes on
//! several ports (or sockets) and lists them in an nginx `upstream`.

mod connection;
mod request;
mod socket;

use std::fmt;
use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::gateway::Application;
use crate::log::Log;
use crate::net::Listener;
use crate::net::{self, ServerThread, StopHandle, Wake};
use crate::observe::Observer;
pub use request::{read_head, HeadError, Limits, RequestHead};
use socket::UnixSocketFile;

/// How long each step of a connection may take. As in the HTTP server (`server::Timeouts`),
/// `header` and `drain` are *deadlines* for the whole step, `body_read` is an *idle* timeout for
/// each read, so a large body keeps going while it keeps moving, and `write` is a deadline for
/// each 64 KiB slice of the response.
///
/// ```
/// use std::time::Duration;
/// use rgiref::scgi::Timeouts;
/// let quick = Timeouts { header: Duration::from_millis(500), ..Timeouts::default() };
/// assert_eq!(quick.body_read, Duration::from_secs(10));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// From accepting a connection to the `,` that ends its header. A web server sends the
    /// header at once, so this only ever catches a peer that is not one (a port scanner, a
    /// client that connected and waits). The connection is closed and logged.
    pub header: Duration,
    /// The longest wait for the next bytes of the body, each time the application reads. nginx
    /// reads the whole body before it connects (unless `scgi_request_buffering off`), so this
    /// too is rarely reached. The application sees a `TimedOut` error; if it gives up, 408.
    pub body_read: Duration,
    /// How long the web server may take to accept each slice of up to 64 KiB of the response;
    /// one not taken in time means it has stopped reading, and the response is abandoned and
    /// logged. The HTTP server's rule (`server::Timeouts::write`; `src/net/stream.rs` says why).
    pub write: Duration,
    /// After the response, how long to keep reading bytes the application left unread, so
    /// that the web server sees our response rather than a connection reset.
    pub drain: Duration,
}

impl Default for Timeouts {
    fn default() -> Timeouts {
        Timeouts {
            header: Duration::from_secs(10),
            body_read: Duration::from_secs(10),
            write: Duration::from_secs(10),
            drain: Duration::from_secs(2),
        }
    }
}

/// Everything an SCGI [`Server`] can be told.
///
/// ```
/// use rgiref::log::Log;
/// use rgiref::scgi::Config;
/// let config = Config { log: Log::silent(), ..Config::default() };
/// assert_eq!(config.unix_socket_mode, 0o660);
/// ```
#[derive(Clone)]
pub struct Config {
    /// How much of a request header the server holds.
    pub limits: Limits,
    /// How long each step may take.
    pub timeouts: Timeouts,
    /// The most unread request bytes read and thrown away after a response (see
    /// [`Timeouts::drain`]). Past this the connection is closed anyway.
    pub max_drain_bytes: u64,
    /// Where log lines go (standard error by default).
    pub log: Log,
    /// Whether to write an access-log line for each request; errors are logged regardless.
    pub access_log: bool,
    /// The permissions [`Server::bind_unix`] gives the socket file. Connecting needs write
    /// permission, so the default 0o660 lets the owner and the file's group connect and nobody
    /// else: run rgiref with the web server's group (`www-data`, `nginx`, `lighttpd`), or
    /// use 0o666 inside a directory only the right users can enter.
    pub unix_socket_mode: u32,
    /// Who is told about each stage of each request (see [`crate::observe`]); `None`, the
    /// default, costs nothing.
    pub observer: Option<Arc<dyn Observer + Send + Sync>>,
}

impl Config {
    /// Refuses a timeout of zero, as the HTTP server's `Config::check` does: the OS has no
    /// "wait zero seconds", and `Duration::ZERO` would fail every read at once.
    ///
    /// ```
    /// use std::time::Duration;
    /// use rgiref::scgi::{Config, Timeouts};
    /// let bad = Config { timeouts: Timeouts { header: Duration::ZERO, ..Timeouts::default() }, ..Config::default() };
    /// assert_eq!(bad.check().unwrap_err().to_string(), "scgi::Config: timeouts.header must be longer than zero");
    /// ```
    pub fn check(&self) -> io::Result<()> {
        let t = &self.timeouts;
        let named = [
            ("header", t.header),
            ("body_read", t.body_read),
            ("write", t.write),
            ("drain", t.drain),
        ];
        match named.iter().find(|(_, duration)| duration.is_zero()) {
            Some((name, _)) => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("scgi::Config: timeouts.{name} must be longer than zero"),
            )),
            None => Ok(()),
        }
    }
}

impl Default for Config {
    fn default() -> Config {
        Config {
            limits: Limits::default(),
            timeouts: Timeouts::default(),
            max_drain_bytes: 1024 * 1024,
            log: Log::stderr(),
            access_log: true,
            unix_socket_mode: 0o660,
            observer: None,
        }
    }
}

/// Where a [`Server`] listens. Displayed the way nginx's `scgi_pass` takes it:
/// `127.0.0.1:4000`, or `unix:/run/app/rgiref.sock`.
///
/// ```
/// use rgiref::scgi::Address;
/// let tcp = Address::Tcp("127.0.0.1:4000".parse().unwrap());
/// assert_eq!(tcp.to_string(), "127.0.0.1:4000");
/// assert_eq!(tcp.tcp(), Some("127.0.0.1:4000".parse().unwrap()));
/// let unix = Address::Unix("/run/app/rgiref.sock".into());
/// assert_eq!(unix.to_string(), "unix:/run/app/rgiref.sock");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// A TCP address, with the real port if port 0 was asked for.
    Tcp(SocketAddr),
    /// The path of a Unix socket file.
    Unix(PathBuf),
}

impl Address {
    /// The TCP address, if it is one.
    pub fn tcp(&self) -> Option<SocketAddr> {
        match self {
            Address::Tcp(address) => Some(*address),
            Address::Unix(_) => None,
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Tcp(address) => write!(f, "{address}"),
            Address::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

/// A listening SCGI server for one application.
///
/// ```
/// use std::io::{Read, Write};
/// use rgiref::gateway::{AppError, Body, Environ, StartResponse};
/// use rgiref::log::Log;
/// use rgiref::scgi::{Config, Server};
///
/// let app = |environ: &mut Environ, start_response: &mut StartResponse| -> Result<Body, AppError> {
///     start_response.start("200 OK", [("Content-Type", "text/plain")])?;
///     Ok(Body::from(format!("hi from {}\n", environ.path_info())))
/// };
/// let config = Config { log: Log::silent(), ..Config::default() };
/// let server = Server::bind_with("127.0.0.1:0", app, config)?;   // port 0: any free port
///
/// // What a web server sends: the header netstring, then CONTENT_LENGTH body bytes (none).
/// let header = b"CONTENT_LENGTH\x000\x00SCGI\x001\x00PATH_INFO\x00/x\x00";
/// let mut client = std::net::TcpStream::connect(server.local_addr().tcp().unwrap())?;
/// write!(client, "{}:", header.len())?;
/// client.write_all(header)?;
/// client.write_all(b",")?;
/// server.handle_connection()?;                                     // serve exactly one
/// let mut response = String::new();
/// client.read_to_string(&mut response)?;
/// assert!(response.starts_with("Status: 200 OK\r\n"));
/// assert!(response.ends_with("\r\n\r\nhi from /x\n"));
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Server<A> {
    listener: Listener,
    /// The socket file [`Server::bind_unix`] made; declared after `listener`, so that its
    /// `Drop` removes the file after the listener has closed.
    _socket_file: Option<UnixSocketFile>,
    local: Address,
    app: A,
    config: Config,
    stop: Arc<AtomicBool>,
}

impl<A: Application> Server<A> {
    /// Listens on the TCP `address` with the default [`Config`].
    pub fn bind(address: impl ToSocketAddrs, app: A) -> io::Result<Server<A>> {
        Server::bind_with(address, app, Config::default())
    }

    /// Listens on the TCP `address` with `config`. Fails if the address cannot be bound, or if
    /// `config` asks for something the server cannot do (see [`Config::check`]).
    pub fn bind_with(address: impl ToSocketAddrs, app: A, config: Config) -> io::Result<Server<A>> {
        config.check()?;
        let listener = TcpListener::bind(address)?;
        let local = Address::Tcp(listener.local_addr()?);
        Ok(Server::new(
            Listener::Tcp(listener),
            None,
            local,
            app,
            config,
        ))
    }

    /// Listens on a Unix socket file at `path`, with permissions [`Config::unix_socket_mode`].
    ///
    /// A file already at `path` is replaced only if it is a stale socket (one nobody answers
    /// on, left by a server that was killed); a live socket or any other file is an error.
    /// Between creating the socket and setting its mode, the file briefly has the permissions
    /// the umask gives, which std cannot change: keep the socket in a directory only the right
    /// users can enter. The file is removed when the server is dropped. A relative `path` is
    /// made absolute, and [`Server::local_addr`] says so.
    ///
    /// ```
    /// use rgiref::demo::demo_app;
    /// use rgiref::log::Log;
    /// use rgiref::scgi::{Address, Config, Server};
    /// use std::os::unix::fs::PermissionsExt;
    ///
    /// let path = std::env::temp_dir().join(format!("rgiref-doc-{}.sock", std::process::id()));
    /// let config = Config { log: Log::silent(), ..Config::default() };
    /// let server = Server::bind_unix(&path, demo_app, config)?;
    /// assert_eq!(server.local_addr(), &Address::Unix(path.clone()));
    /// assert_eq!(std::fs::metadata(&path)?.permissions().mode() & 0o777, 0o660);
    /// drop(server);
    /// assert!(!path.exists(), "the socket file goes with the server");
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind_unix(path: impl AsRef<Path>, app: A, config: Config) -> io::Result<Server<A>> {
        config.check()?;
        let (listener, file) = UnixSocketFile::bind(path.as_ref(), config.unix_socket_mode)?;
        let local = Address::Unix(file.path().to_owned());
        Ok(Server::new(
            Listener::Unix(listener),
            Some(file),
            local,
            app,
            config,
        ))
    }

    fn new(
        listener: Listener,
        socket_file: Option<UnixSocketFile>,
        local: Address,
        app: A,
        config: Config,
    ) -> Server<A> {
        Server {
            listener,
            _socket_file: socket_file,
            local,
            app,
            config,
            stop: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Where the server listens, with the real port if you asked for port 0.
    pub fn local_addr(&self) -> &Address {
        &self.local
    }

    /// A handle that can stop [`Server::serve_forever`] from another thread.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            inner: StopHandle::new(Arc::clone(&self.stop), wake(&self.local)),
        }
    }

    /// Waits for one connection and serves its request. Errors only if `accept` fails;
    /// everything that goes wrong with the request itself is logged (and answered, where an
    /// answer can still be sent).
    pub fn handle_connection(&self) -> io::Result<()> {
        // Stage "accept".
        let (stream, peer) = self.listener.accept()?;
        if self.stop.load(Ordering::SeqCst) {
            // Most likely the shutdown handle's wake-up call (see `ShutdownHandle::shutdown`).
            let _ = stream.shutdown(Shutdown::Both);
            return Ok(());
        }
        connection::serve(stream, peer.name(), &self.app, &self.config);
        Ok(())
    }

    /// Serves connections one after another until [`ShutdownHandle::shutdown`] is called. A
    /// failed `accept` is logged and retried after a pause (100 ms, doubling while the failures
    /// go on, up to a second), as in the HTTP server; nothing a peer sends ends the loop.
    pub fn serve_forever(&self) {
        net::serve_forever(&self.stop, &self.config.log, || self.handle_connection());
    }

    /// Runs [`Server::serve_forever`] on a new thread. The returned [`RunningServer`] knows the
    /// address, and stops the server (and waits for the thread) when stopped or dropped.
    ///
    /// ```
    /// use rgiref::demo::demo_app;
    /// use rgiref::log::Log;
    /// use rgiref::scgi::{Config, Server};
    ///
    /// let config = Config { log: Log::silent(), ..Config::default() };
    /// let running = Server::bind_with("127.0.0.1:0", demo_app, config)?.spawn()?;
    /// println!("SCGI test server at {}", running.local_addr());
    /// // ... point an SCGI client at it ...
    /// running.stop();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn spawn(self) -> io::Result<RunningServer>
    where
        A: Send + 'static,
    {
        let local = self.local.clone();
        let handle = self.shutdown_handle();
        let name = format!("rgiref scgi {local}");
        let thread = ServerThread::spawn(name, handle.inner.clone(), move || self.serve_forever())?;
        Ok(RunningServer {
            local,
            handle,
            thread,
        })
    }
}

/// Stops a [`Server::serve_forever`] loop, from any thread. Cheap to clone.
///
/// ```
/// use rgiref::demo::demo_app;
/// use rgiref::log::Log;
/// use rgiref::scgi::{Config, Server};
///
/// let config = Config { log: Log::silent(), ..Config::default() };
/// let server = Server::bind_with("127.0.0.1:0", demo_app, config)?;
/// let handle = server.shutdown_handle();
/// let thread = std::thread::spawn(move || server.serve_forever()); // blocked in accept()
/// handle.shutdown(); // wakes it, and the loop ends
/// thread.join().unwrap();
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct ShutdownHandle {
    inner: StopHandle,
}

impl ShutdownHandle {
    /// Asks the server to stop, and wakes it if it is waiting for a connection. A request in
    /// progress is finished first. Returns at once; join the server's thread to wait for it.
    pub fn shutdown(&self) {
        // The wake-up trick: we connect to the server ourselves (`src/net/lifecycle.rs`).
        self.inner.shutdown();
    }
}

/// Where to connect to wake a server listening at `local`.
fn wake(local: &Address) -> Wake {
    match local {
        Address::Tcp(address) => Wake::tcp(*address),
        Address::Unix(path) => Wake::Unix(path.clone()),
    }
}

/// An SCGI server running on its own thread, made by [`Server::spawn`].
#[derive(Debug)]
pub struct RunningServer {
    local: Address,
    handle: ShutdownHandle,
    /// Stops the server and joins its thread when dropped.
    thread: ServerThread,
}

impl RunningServer {
    /// Where the server listens.
    pub fn local_addr(&self) -> &Address {
        &self.local
    }

    /// A handle to stop the server from elsewhere.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.handle.clone()
    }

    /// Stops the server and waits for its thread to end.
    pub fn stop(self) {
        drop(self.thread);
    }
}
