//! The HTTP/1.0 development server: Python's `wsgiref.simple_server`, in Rust.
//!
//! Stages: **accept** (here) and, per connection, **read request**, **build environ** and
//! **finish** (in `connection.rs`); the stages in between are the engine's (`crate::engine`).
//!
//! Interface:
//! * [`Server::bind`] listens on an address (`"127.0.0.1:8000"`, `"[::1]:0"`, …); port 0 asks
//!   the OS for a free port, and [`Server::local_addr`] tells you which one you got.
//! * [`Server::handle_request`] serves exactly one connection; [`Server::serve_forever`] serves
//!   until a [`ShutdownHandle`] (from [`Server::shutdown_handle`]) tells it to stop.
//! * [`Server::spawn`] runs `serve_forever` on a background thread and gives back a
//!   [`RunningServer`] that stops it when dropped: the shape a test suite wants.
//! * [`Config`] holds every knob: the request [`Limits`], the [`Timeouts`], and the [`Log`].
//! * Environ extension: with [`Config::raw_head_to_app`], the application finds the request
//!   head as received in `environ.extensions[RAW_HEAD]` ([`RAW_HEAD`] is `rgiref.raw_head`).
//!
//! ## One thread, one request at a time — on purpose
//!
//! The loop below accepts a connection, serves its one request, closes it, and only then
//! accepts the next. While it serves one client, every other client waits in the kernel's
//! listen queue. That is the simplest server there is, and the easiest to follow in a debugger:
//! there is never more than one request in flight. The cost is that one slow client delays
//! everyone, which is why every wait here has a timeout (see [`Timeouts`]).
//!
//! A production server serves many clients at once instead: a pool of threads or processes
//! (Apache, gunicorn), or one thread juggling many non-blocking sockets with epoll (nginx,
//! tokio-based servers). Both keep a slow client from holding up the others; both are more
//! code than this whole crate. `TUTORIAL.md` ("Real world") goes further.

mod connection;
mod recorder;
mod socket;

use std::io;
use std::net::{Shutdown, SocketAddr, TcpListener, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::gateway::Application;
use crate::http::Limits;
use crate::log::Log;
use crate::net::{self, ServerThread, StopHandle, Wake};
use crate::observe::Observer;

/// How long one client may take at each step. Every one of them exists because the server has
/// a single thread: a client that stalls without a timeout stalls the server.
///
/// Three kinds, and the difference matters. `first_byte`, `request_head` and `drain` are
/// *deadlines*: the whole step must be over in time. `body_read` is an *idle* timeout: each
/// read may wait that long, however many there are — so a large upload over a slow network is
/// never cut off as long as it keeps moving. `write` is in between: a deadline for each slice
/// of up to 64 KiB of the response, so a download goes on as long as the client keeps taking
/// at least that much per period. The price, said plainly: a client that sends one byte every
/// few seconds holds this server for as long as it likes, and so does one that reads 64 KiB
/// every 9 s. A production server does not care, because it serves others meanwhile; here,
/// the answer would be a deadline for the whole body, which would also cap how big a slow
/// upload can be. We chose to keep big uploads working.
///
/// ```
/// use std::time::Duration;
/// use rgiref::server::Timeouts;
/// let quick = Timeouts { first_byte: Duration::from_millis(200), ..Timeouts::default() };
/// assert_eq!(quick.request_head, Duration::from_secs(10));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// From accepting a connection to its first byte. Browsers open spare "pre-connect"
    /// sockets they may never use; without this, one would hold our only thread. Such a
    /// connection is closed without a response (there is no request to answer), and logged.
    pub first_byte: Duration,
    /// From accepting a connection to the end of its request head. This is what defeats
    /// "slowloris", which sends a header byte every few seconds so that no single read times out.
    /// Answered with 408.
    pub request_head: Duration,
    /// The longest wait for the next bytes of the request body, each time the application
    /// reads (an idle timeout, not a limit on the whole body). The application sees a `TimedOut` error; if it gives up, the client gets 408.
    pub body_read: Duration,
    /// How long the client may take to accept each slice of the response. The response goes
    /// to the socket in slices of at most 64 KiB; a slice not taken in this time means the
    /// client has stopped reading, and the response is abandoned and logged ("the client
    /// stopped reading: …"). So a client that takes less than one 64 KiB slice per `write`
    /// period (6.4 KiB/s, with the default 10 s) is taken to have stopped, and one that takes
    /// more is served however long the whole response lasts. A slice may overrun by up to
    /// 100 ms (the server waits on the socket in steps of that size; `src/net/stream.rs`
    /// says why). TCP frees room in the socket's buffer a segment or two at a time, so over
    /// loopback, whose segments are 64 KiB, a client must in fact read about 128 KiB per period.
    pub write: Duration,
    /// After the response, how long to keep reading request bytes the application did not
    /// read, so the client sees our response rather than a connection reset. Never after the
    /// request timed out (its head, or a read of its body): that client has had its time.
    pub drain: Duration,
}

impl Default for Timeouts {
    fn default() -> Timeouts {
        Timeouts {
            first_byte: Duration::from_secs(2),
            request_head: Duration::from_secs(10),
            body_read: Duration::from_secs(10),
            write: Duration::from_secs(10),
            drain: Duration::from_secs(2),
        }
    }
}

/// Everything a [`Server`] can be told.
///
/// ```
/// use rgiref::log::Log;
/// use rgiref::server::Config;
/// let config = Config { log: Log::silent(), ..Config::default() };
/// assert!(config.access_log);
/// ```
#[derive(Clone)]
pub struct Config {
    /// Limits on request lines, headers and chunk lines.
    pub limits: Limits,
    /// How long each step may take.
    pub timeouts: Timeouts,
    /// The most unread request-body bytes read and thrown away after a response (see
    /// [`Timeouts::drain`]). Past this the connection is closed anyway, and a client still
    /// sending may see a reset instead of the response.
    pub max_drain_bytes: u64,
    /// Where log lines go (standard error by default).
    pub log: Log,
    /// Whether to write the access log line for each request; errors are logged regardless.
    pub access_log: bool,
    /// The `Server` header and `SERVER_SOFTWARE`.
    pub server_software: String,
    /// Who is told about each stage of each request (see [`crate::observe`]); `None`, the
    /// default, costs nothing.
    pub observer: Option<Arc<dyn Observer + Send + Sync>>,
    /// Whether to hand the application the request head exactly as it arrived, as the environ
    /// extension [`RAW_HEAD`] (`rgiref.raw_head`): request line, headers and the empty line,
    /// byte for byte — case, order, repeats and line ends as the client sent them, which the
    /// CGI variables cannot show. Off by default, because then the head is not copied at all.
    /// For pages that show a request to the person who sent it, such as `examples/xray.rs`;
    /// mind that it holds the client's `Cookie` and `Authorization` values.
    pub raw_head_to_app: bool,
}

/// The [`Environ::extensions`](crate::gateway::Environ::extensions) key under which the
/// HTTP server puts the raw request head, when [`Config::raw_head_to_app`] is set.
///
/// ```
/// use std::io::{Read, Write};
/// use rgiref::gateway::{AppError, Body, Environ, StartResponse};
/// use rgiref::log::Log;
/// use rgiref::server::{Config, Server, RAW_HEAD};
///
/// let app = |environ: &mut Environ, start_response: &mut StartResponse| -> Result<Body, AppError> {
///     let raw = environ.extensions.get(RAW_HEAD).cloned().unwrap_or_default();
///     start_response.start("200 OK", [("Content-Type", "application/octet-stream")])?;
///     Ok(Body::from(raw))
/// };
/// let config = Config { raw_head_to_app: true, log: Log::silent(), ..Config::default() };
/// let server = Server::bind_with("127.0.0.1:0", app, config)?;
/// let mut client = std::net::TcpStream::connect(server.local_addr())?;
/// client.write_all(b"GET / HTTP/1.0\r\nx-Mixed-CASE:  kept \r\n\r\n")?;
/// server.handle_request()?;
/// let mut response = String::new();
/// client.read_to_string(&mut response)?;
/// assert!(response.ends_with("\r\n\r\nGET / HTTP/1.0\r\nx-Mixed-CASE:  kept \r\n\r\n"));
/// # Ok::<(), std::io::Error>(())
/// ```
pub const RAW_HEAD: &str = "rgiref.raw_head";

impl Config {
    /// Checks the settings the server cannot work with: a timeout of zero (the OS has no
    /// "wait zero seconds" setting — `Duration::ZERO` would mean *fail every read at once*). For
    /// "practically never", use a long duration instead; `Duration::MAX` is fine (a deadline too
    /// far away for an `Instant` to hold is taken to be a century away).
    ///
    /// ```
    /// use std::time::Duration;
    /// use rgiref::server::{Config, Timeouts};
    /// let bad = Config { timeouts: Timeouts { write: Duration::ZERO, ..Timeouts::default() }, ..Config::default() };
    /// assert_eq!(bad.check().unwrap_err().to_string(), "Config: timeouts.write must be longer than zero");
    /// ```
    pub fn check(&self) -> io::Result<()> {
        let t = &self.timeouts;
        let named = [
            ("first_byte", t.first_byte),
            ("request_head", t.request_head),
            ("body_read", t.body_read),
            ("write", t.write),
            ("drain", t.drain),
        ];
        match named.iter().find(|(_, duration)| duration.is_zero()) {
            Some((name, _)) => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("Config: timeouts.{name} must be longer than zero"),
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
            server_software: crate::SERVER_SOFTWARE.to_owned(),
            observer: None,
            raw_head_to_app: false,
        }
    }
}

/// A listening HTTP/1.0 server for one application.
///
/// ```
/// use std::io::{Read, Write};
/// use rgiref::gateway::{AppError, Body, Environ, StartResponse};
/// use rgiref::log::Log;
/// use rgiref::server::{Config, Server};
///
/// let app = |_: &mut Environ, start_response: &mut StartResponse| -> Result<Body, AppError> {
///     start_response.start("200 OK", [("Content-Type", "text/plain")])?;
///     Ok(Body::from("hi\n"))
/// };
/// let config = Config { log: Log::silent(), ..Config::default() };
/// let server = Server::bind_with("127.0.0.1:0", app, config)?;   // port 0: any free port
///
/// let mut client = std::net::TcpStream::connect(server.local_addr())?;
/// client.write_all(b"GET / HTTP/1.0\r\n\r\n")?;
/// server.handle_request()?;                                        // serve exactly one
/// let mut response = String::new();
/// client.read_to_string(&mut response)?;
/// assert!(response.starts_with("HTTP/1.0 200 OK\r\n"));
/// assert!(response.ends_with("\r\n\r\nhi\n"));
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Server<A> {
    listener: TcpListener,
    local: SocketAddr,
    app: A,
    config: Config,
    stop: Arc<AtomicBool>,
}

impl<A: Application> Server<A> {
    /// Listens on `address` with the default [`Config`].
    pub fn bind(address: impl ToSocketAddrs, app: A) -> io::Result<Server<A>> {
        Server::bind_with(address, app, Config::default())
    }

    /// Listens on `address` with `config`.
    /// Fails if the address cannot be bound, or if `config` asks for something the server
    /// cannot do (see [`Config::check`]).
    pub fn bind_with(address: impl ToSocketAddrs, app: A, config: Config) -> io::Result<Server<A>> {
        config.check()?;
        // std's TcpListener::bind sets SO_REUSEADDR (so a restarted server can reuse the port at
        // once) and a listen backlog of 128: clients beyond the one being served wait there.
        let listener = TcpListener::bind(address)?;
        let local = listener.local_addr()?;
        Ok(Server {
            listener,
            local,
            app,
            config,
            stop: Arc::new(AtomicBool::new(false)),
        })
    }

    /// The address the server listens on, with the real port if you asked for port 0.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The server's URL, e.g. `http://127.0.0.1:8000/`.
    pub fn url(&self) -> String {
        url_of(self.local)
    }

    /// A handle that can stop [`Server::serve_forever`] from another thread.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            inner: StopHandle::new(Arc::clone(&self.stop), Wake::tcp(self.local)),
        }
    }

    /// Waits for one connection and serves its request. Errors only if `accept` fails;
    /// everything that goes wrong with the request itself is answered and logged.
    pub fn handle_request(&self) -> io::Result<()> {
        // Stage "accept".
        let (stream, peer) = self.listener.accept()?;
        if self.stop.load(Ordering::SeqCst) {
            // Most likely the shutdown handle's wake-up call (see `ShutdownHandle::shutdown`).
            let _ = stream.shutdown(Shutdown::Both);
            return Ok(());
        }
        connection::serve(
            stream,
            peer,
            self.local,
            &self.app,
            &self.config,
            &self.stop,
        );
        Ok(())
    }

    /// Serves requests one after another until [`ShutdownHandle::shutdown`] is called.
    /// A failed `accept` is logged and retried after a pause (100 ms, doubling while the
    /// failures go on, up to a second); nothing a client does ends the loop.
    pub fn serve_forever(&self) {
        net::serve_forever(&self.stop, &self.config.log, || self.handle_request());
    }

    /// Runs [`Server::serve_forever`] on a new thread. The returned [`RunningServer`] knows the
    /// address and stops the server (and waits for the thread) when stopped or dropped.
    ///
    /// ```
    /// use rgiref::demo::demo_app;
    /// use rgiref::log::Log;
    /// use rgiref::server::{Config, Server};
    ///
    /// let config = Config { log: Log::silent(), ..Config::default() };
    /// let running = Server::bind_with("127.0.0.1:0", demo_app, config)?.spawn()?;
    /// println!("test server at {}", running.url());
    /// // ... make requests ...
    /// running.stop();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn spawn(self) -> io::Result<RunningServer>
    where
        A: Send + 'static,
    {
        let local = self.local;
        let handle = self.shutdown_handle();
        let name = format!("rgiref server {local}");
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
/// use rgiref::server::{Config, Server};
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
    /// progress (one whose first bytes have arrived) is finished first; a connection that has
    /// sent nothing yet is closed within about 50 ms (see `socket::wait_for_first_byte`).
    /// Returns at once; join the server's thread to wait for it.
    pub fn shutdown(&self) {
        // The wake-up trick: we connect to the server ourselves (`src/net/lifecycle.rs`).
        self.inner.shutdown();
    }
}

/// A server running on its own thread, made by [`Server::spawn`].
#[derive(Debug)]
pub struct RunningServer {
    local: SocketAddr,
    handle: ShutdownHandle,
    /// Stops the server and joins its thread when dropped.
    thread: ServerThread,
}

impl RunningServer {
    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The server's URL, e.g. `http://127.0.0.1:40123/`.
    pub fn url(&self) -> String {
        url_of(self.local)
    }

    /// A handle to stop the server from elsewhere.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.handle.clone()
    }

    /// Stops the server and waits for its thread to end: at once if it is idle, or waiting on a
    /// connection that has sent nothing; after the request in progress, if there is one.
    pub fn stop(self) {
        drop(self.thread);
    }
}

fn url_of(address: SocketAddr) -> String {
    format!("http://{address}/")
}
