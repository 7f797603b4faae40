//! A FastCGI responder: the application's side of FastCGI 1.0, behind nginx, lighttpd or Apache.
//!
//! Stages: **accept** (here), then per connection **read request** (records, `record.rs`),
//! **build environ** (PARAMS through `crate::cgi`) and **finish** (`connection.rs`); the
//! stages in between are the engine's, exactly as for the HTTP server. Only the transport
//! changes: the request arrives as records, the response leaves as STDOUT records, and the
//! application cannot tell (`TUTORIAL.md`, "Where next").
//!
//! Interface — the HTTP server's (`crate::server`), with a FastCGI address:
//! * [`Server::bind`] listens on TCP (`"127.0.0.1:9000"`; port 0 for any free port, then
//!   [`Server::local_addr`]); [`Server::bind_unix`] on a Unix socket path;
//!   [`Server::from_inherited_stdin`] adopts the listening socket a web server hands its
//!   children on standard input (FastCGI 1.0 §2.2, `FCGI_LISTENSOCK_FILENO` = 0).
//! * [`Server::handle_connection`] serves one connection, every request on it;
//!   [`Server::serve_forever`] serves until a [`ShutdownHandle`] says stop; [`Server::spawn`]
//!   does that on a thread, for tests.
//! * [`Config`] holds the [`Limits`], the [`Timeouts`], the log, and who may connect.
//! * Environ extension: with [`Config::raw_params_to_app`], the application finds the PARAMS
//!   as the web server sent them in `environ.extensions[RAW_PARAMS]` (`rgiref.fastcgi_params`).
//!
//! What the responder does, per request: answer BEGIN_REQUEST (role Responder only), collect
//! PARAMS to their empty record, run the application with STDIN as its `Input` and its error
//! lines sent as STDERR, send the response as STDOUT, and end with END_REQUEST. GET_VALUES is
//! answered at any time, with the truth: one connection, one request, no multiplexing.
//!
//! ## One thread, and web servers that keep connections open
//!
//! With `FCGI_KEEP_CONN` (nginx: `fastcgi_keep_conn on` and an upstream `keepalive`) the web
//! server keeps a connection open for its next request, and opens more when it has several
//! requests at once. A one-thread responder reading one kept connection is deaf to the others,
//! which wait unserved in the accept queue until the web server gives up (nginx: 504). So a kept
//! connection is only kept while nobody else is waiting:
//!
//! * after each request, if another connection is in the accept queue and this one has not
//!   started a new request, this one is closed and the other served;
//! * while it is idle, that check runs every [`IDLE_POLL`];
//! * and it is closed anyway after [`Timeouts::keep_conn_idle`] without a new request.
//!
//! The web server opens a new connection when it needs one, so the cost of closing is a TCP
//! handshake, tens of microseconds; the cost of not closing is a request that waits. Under
//! load this makes rgiref serve one request per connection, round robin — the fair share one
//! thread can offer. Closing a kept connection always races with a request the web server may
//! be sending on it just then; nginx gives a request that fails on a cached connection one more
//! try, but by default not a POST it had already sent (`fastcgi_next_upstream`'s
//! `non_idempotent`). A production responder avoids the race by serving every connection at
//! once (threads, or an event loop), and then keeps them all.
//!
//! ## Listening, and who may connect
//!
//! * TCP: [`Config::web_server_addrs`] (from `FCGI_WEB_SERVER_ADDRS`, §3.2, see
//!   [`web_server_addrs_from_env`]) lists the addresses allowed to connect; any other
//!   connection is closed with a log line.
//! * A Unix socket: the socket file is made with mode [`Config::unix_socket_mode`] (`0o660`:
//!   its owner and group). The web server's user (`www-data`, `nginx`, `http`) must be able to
//!   write to it, so run rgiref as that user, or in a group it belongs to, and put the socket
//!   in a directory both can reach (`/run/rgiref/`; not `/tmp` if the web server runs with
//!   systemd's `PrivateTmp`). A file left behind by an earlier run is removed only if it is a
//!   socket that nobody listens on. The file is removed when the server is dropped.
//!   `FCGI_WEB_SERVER_ADDRS` does not apply: §3.2 would close every Unix connection when it
//!   is set, and the file's permissions already decide who may connect.
//!
//! ## Left out, on purpose
//!
//! The Authorizer and Filter roles (refused with `UNKNOWN_ROLE`); multiplexing (refused with
//! `CANT_MPX_CONN`). lighttpd stops its children with SIGTERM, which std cannot catch, so the
//! process ends at once, even mid-request.

mod connection;
pub mod record;
mod socket;
mod wire;

use std::cell::RefCell;
use std::fmt;
use std::io;
use std::net::{IpAddr, Shutdown, SocketAddr, TcpListener, ToSocketAddrs};
use std::os::fd::AsFd;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::gateway::Application;
use crate::log::Log;
use crate::net::{self, ServerThread, StopHandle, Wake};
use crate::net::{Listener, Peer, Socket, Stream};
use crate::observe::Observer;
use crate::Stage;

/// How often a kept connection that is waiting for its next request looks whether another
/// connection is waiting for its turn (see the module docs). Each look is a few system calls.
pub const IDLE_POLL: Duration = Duration::from_millis(20);

/// Where a FastCGI responder listens.
///
/// ```
/// use rgiref::fastcgi::Address;
/// assert_eq!(Address::Tcp("127.0.0.1:9000".parse().unwrap()).to_string(), "127.0.0.1:9000");
/// assert_eq!(Address::Unix(Some("/run/rgiref.sock".into())).to_string(), "unix:/run/rgiref.sock");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// A TCP address and port.
    Tcp(SocketAddr),
    /// A Unix socket's path; `None` for a socket without one (an inherited abstract socket).
    Unix(Option<PathBuf>),
}

impl fmt::Display for Address {
    /// As nginx's `fastcgi_pass` takes it: `127.0.0.1:9000`, or `unix:/path/to.sock`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Tcp(address) => write!(f, "{address}"),
            Address::Unix(Some(path)) => write!(f, "unix:{}", path.display()),
            Address::Unix(None) => f.write_str("an unnamed Unix socket"),
        }
    }
}

/// How much one request may make the responder hold or read.
///
/// ```
/// use rgiref::fastcgi::Limits;
/// assert_eq!(Limits::default().max_params_bytes, 64 * 1024);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The most PARAMS bytes (the request's CGI variables, all records together) buffered for
    /// one request. A request with more is answered 431, after reading the rest of its PARAMS
    /// and throwing it away. nginx's default header buffers (4 × 8 KiB) stay well below it.
    pub max_params_bytes: usize,
    /// The most request-body bytes read and thrown away after a response, when the
    /// application did not read the whole body; also the most read during a lingering close.
    /// Past this the connection is closed instead of kept.
    pub max_drain_bytes: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_params_bytes: 64 * 1024,
            max_drain_bytes: 1024 * 1024,
        }
    }
}

/// How long the web server may take at each step. As with the HTTP server's `Timeouts`, each
/// exists because there is one thread: a front end that stalls without a timeout stalls us.
/// `first_record`, `keep_conn_idle`, `params` and `drain` are deadlines for the whole step;
/// `body_read` is an idle timeout, so a large body keeps going as long as it moves; `write` is
/// a deadline for each 64 KiB slice of the response, as in the HTTP server.
///
/// ```
/// use std::time::Duration;
/// use rgiref::fastcgi::Timeouts;
/// let quick = Timeouts { keep_conn_idle: Duration::from_millis(200), ..Timeouts::default() };
/// assert_eq!(quick.params, Duration::from_secs(10));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// From accepting a connection to its first BEGIN_REQUEST. A connection that sends none
    /// in time is closed and logged.
    pub first_record: Duration,
    /// How long a kept connection (`FCGI_KEEP_CONN`) may wait for its next BEGIN_REQUEST before
    /// it is closed; the web server opens a new one when it needs it. Short, because while it
    /// waits, a connection that arrives later waits too, up to [`IDLE_POLL`] (module docs).
    pub keep_conn_idle: Duration,
    /// From BEGIN_REQUEST to the end of the request's PARAMS.
    pub params: Duration,
    /// The longest wait for the next bytes of the request body (STDIN), each time the
    /// application reads. If it gives up, the answer is 408.
    pub body_read: Duration,
    /// How long the web server may take to accept each slice of up to 64 KiB of records; one
    /// not taken in time means it has stopped reading, and the connection is given up and
    /// logged. The HTTP server's rule (`server::Timeouts::write`; `src/net/stream.rs` says why).
    pub write: Duration,
    /// How long to read the body the application left unread, to the end of its STDIN, and
    /// how long a lingering close waits for the web server to close its end.
    pub drain: Duration,
}

impl Default for Timeouts {
    fn default() -> Timeouts {
        Timeouts {
            first_record: Duration::from_secs(2),
            keep_conn_idle: Duration::from_secs(1),
            params: Duration::from_secs(10),
            body_read: Duration::from_secs(10),
            write: Duration::from_secs(10),
            drain: Duration::from_secs(2),
        }
    }
}

/// Everything a FastCGI [`Server`] can be told.
///
/// ```
/// use rgiref::fastcgi::Config;
/// use rgiref::log::Log;
/// let config = Config { log: Log::silent(), ..Config::default() };
/// assert!(config.nodelay && config.web_server_addrs.is_none());
/// ```
#[derive(Clone)]
pub struct Config {
    /// Limits on PARAMS and on draining.
    pub limits: Limits,
    /// How long each step may take.
    pub timeouts: Timeouts,
    /// Where our own log lines go (standard error by default).
    pub log: Log,
    /// Whether to write an access-log line per request, as the HTTP server does. The web
    /// server in front keeps its own access log too.
    pub access_log: bool,
    /// The application's error lines (`environ.errors`) go to the web server as STDERR
    /// records, which it writes to its error log (nginx: "FastCGI sent in stderr"). With this
    /// on (the default), they are written to our log as well, so the terminal running rgiref
    /// shows them as it does for the HTTP server.
    pub stderr_to_log: bool,
    /// Sets `TCP_NODELAY` on each TCP connection, so the last records of a response leave at
    /// once. Without it, a response written in two pieces (the body, then the end records)
    /// can wait for the web server's delayed ACK: about 40 ms per response on a kept
    /// connection, as flup shows (23 requests a second). It costs one system call per
    /// connection; `wire.rs` says what it saves.
    pub nodelay: bool,
    /// The web servers allowed to connect over TCP (`FCGI_WEB_SERVER_ADDRS`, FastCGI 1.0
    /// §3.2); `None` lets anyone connect who can reach the port.
    pub web_server_addrs: Option<Vec<IpAddr>>,
    /// The mode of a Unix socket file made by [`Server::bind_unix`].
    pub unix_socket_mode: u32,
    /// Who is told about each stage of each request, and each record in and out (see
    /// [`crate::observe`]); `None`, the default, costs nothing.
    pub observer: Option<Arc<dyn Observer + Send + Sync>>,
    /// Whether to hand the application the request's PARAMS stream exactly as the web server
    /// sent it, as the environ extension [`RAW_PARAMS`] (`rgiref.fastcgi_params`): every
    /// name-value pair in the order sent, before `crate::cgi` filters them into the environ
    /// (the web server's own variables such as `DOCUMENT_URI` are left out there). Decode it
    /// with [`record::parse_pairs`]. Off by default, and then nothing is copied. This is the
    /// FastCGI side's counterpart of the HTTP server's `Config::raw_head_to_app`: behind a web
    /// server, the request head itself never reaches us.
    pub raw_params_to_app: bool,
}

/// The [`Environ::extensions`](crate::gateway::Environ::extensions) key under which the
/// responder puts the raw PARAMS stream, when [`Config::raw_params_to_app`] is set.
pub const RAW_PARAMS: &str = "rgiref.fastcgi_params";

impl Config {
    /// Checks the settings the server cannot work with: a timeout of zero (the OS has no
    /// "wait zero seconds"), or a PARAMS limit of zero.
    ///
    /// ```
    /// use std::time::Duration;
    /// use rgiref::fastcgi::{Config, Timeouts};
    /// let bad = Config { timeouts: Timeouts { drain: Duration::ZERO, ..Timeouts::default() }, ..Config::default() };
    /// assert_eq!(bad.check().unwrap_err().to_string(), "fastcgi::Config: timeouts.drain must be longer than zero");
    /// ```
    pub fn check(&self) -> io::Result<()> {
        let t = &self.timeouts;
        let named = [
            ("first_record", t.first_record),
            ("keep_conn_idle", t.keep_conn_idle),
            ("params", t.params),
            ("body_read", t.body_read),
            ("write", t.write),
            ("drain", t.drain),
        ];
        if let Some((name, _)) = named.iter().find(|(_, duration)| duration.is_zero()) {
            return Err(invalid(format!(
                "fastcgi::Config: timeouts.{name} must be longer than zero"
            )));
        }
        if self.limits.max_params_bytes == 0 {
            return Err(invalid(
                "fastcgi::Config: limits.max_params_bytes must be more than zero".to_owned(),
            ));
        }
        Ok(())
    }
}

impl Default for Config {
    fn default() -> Config {
        Config {
            limits: Limits::default(),
            timeouts: Timeouts::default(),
            log: Log::stderr(),
            access_log: true,
            stderr_to_log: true,
            nodelay: true,
            web_server_addrs: None,
            unix_socket_mode: 0o660,
            observer: None,
            raw_params_to_app: false,
        }
    }
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, message)
}

/// The environment variable that lists the web servers allowed to connect (§3.2).
pub const WEB_SERVER_ADDRS_VAR: &str = "FCGI_WEB_SERVER_ADDRS";

/// Reads `FCGI_WEB_SERVER_ADDRS`: `None` if it is unset or empty, else its addresses.
/// Fails, naming the entry, if one is not an IP address.
///
/// ```
/// use rgiref::fastcgi::{web_server_addrs_from_env, Config};
/// let config = Config { web_server_addrs: web_server_addrs_from_env()?, ..Config::default() };
/// # let _ = config;
/// # Ok::<(), String>(())
/// ```
pub fn web_server_addrs_from_env() -> Result<Option<Vec<IpAddr>>, String> {
    match std::env::var(WEB_SERVER_ADDRS_VAR) {
        Ok(text) if !text.trim().is_empty() => parse_web_server_addrs(&text).map(Some),
        _ => Ok(None),
    }
}

/// Parses a comma-separated list of IP addresses, as `FCGI_WEB_SERVER_ADDRS` holds them.
/// (FastCGI 1.0 shows IPv4 only; IPv6 addresses work too.) See [`web_server_addrs_from_env`].
///
/// ```
/// use rgiref::fastcgi::parse_web_server_addrs;
/// let allowed = parse_web_server_addrs("127.0.0.1, ::1").unwrap();
/// assert_eq!(allowed.len(), 2);
/// assert!(parse_web_server_addrs("localhost").unwrap_err().contains("\"localhost\""));
/// ```
pub fn parse_web_server_addrs(text: &str) -> Result<Vec<IpAddr>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|entry| !entry.is_empty())
        .map(|entry| {
            entry.parse().map_err(|_| {
                format!(
                    "{WEB_SERVER_ADDRS_VAR}: {entry:?} is not an IP address (such as 127.0.0.1)"
                )
            })
        })
        .collect()
}

/// A listening FastCGI responder for one application.
///
/// The example speaks FastCGI by hand: three records in, a response and END_REQUEST out.
///
/// ```
/// use std::io::{Read, Write};
/// use rgiref::fastcgi::{Address, Config, Server};
/// use rgiref::gateway::{AppError, Body, Environ, StartResponse};
/// use rgiref::log::Log;
///
/// let app = |_: &mut Environ, start_response: &mut StartResponse| -> Result<Body, AppError> {
///     start_response.start("200 OK", [("Content-Type", "text/plain")])?;
///     Ok(Body::from("hi\n"))
/// };
/// let config = Config { log: Log::silent(), ..Config::default() };
/// let server = Server::bind_with("127.0.0.1:0", app, config)?;   // port 0: any free port
/// let Address::Tcp(address) = server.local_addr() else { unreachable!() };
///
/// let mut web_server = std::net::TcpStream::connect(address)?;
/// web_server.write_all(&[
///     1, 1, 0, 1, 0, 8, 0, 0,  0, 1, 0, 0, 0, 0, 0, 0,   // BEGIN_REQUEST 1: RESPONDER, no flags
///     1, 4, 0, 1, 0, 0, 0, 0,                            // PARAMS 1, empty: no more params
///     1, 5, 0, 1, 0, 0, 0, 0,                            // STDIN 1, empty: no body
/// ])?;
/// server.handle_connection()?;                            // serve that connection
/// let mut reply = Vec::new();
/// web_server.read_to_end(&mut reply)?;                    // no KEEP_CONN: the server closed
/// let text = String::from_utf8_lossy(&reply);               // STDOUT records: the head, the body
/// assert!(text.contains("Status: 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\n"));
/// assert!(text.contains("hi\n"));
/// assert!(reply.ends_with(&[1, 3, 0, 1, 0, 8, 0, 0,  0, 0, 0, 0, 0, 0, 0, 0])); // END_REQUEST
/// # Ok::<(), std::io::Error>(())
/// ```
pub struct Server<A> {
    listener: Listener,
    local: Address,
    app: A,
    config: Config,
    stop: Arc<AtomicBool>,
    /// A connection taken off the accept queue early, to learn that it was waiting; it is
    /// served next.
    waiting: RefCell<Option<(Stream, Peer)>>,
    /// The socket file [`Server::bind_unix`] made, removed when the server is dropped.
    made_socket: Option<PathBuf>,
}

impl<A: Application> Server<A> {
    /// Listens on a TCP `address` with the default [`Config`].
    pub fn bind(address: impl ToSocketAddrs, app: A) -> io::Result<Server<A>> {
        Server::bind_with(address, app, Config::default())
    }

    /// Listens on a TCP `address` with `config`. Fails if the address cannot be bound or the
    /// config cannot work ([`Config::check`]).
    pub fn bind_with(address: impl ToSocketAddrs, app: A, config: Config) -> io::Result<Server<A>> {
        config.check()?;
        let listener = Listener::Tcp(TcpListener::bind(address)?);
        Server::listening(listener, app, config, None)
    }

    /// Listens on a Unix socket at `path`, with the default [`Config`].
    pub fn bind_unix(path: impl AsRef<Path>, app: A) -> io::Result<Server<A>> {
        Server::bind_unix_with(path, app, Config::default())
    }

    /// Listens on a Unix socket at `path`, with `config`; the file gets the mode
    /// [`Config::unix_socket_mode`]. A stale socket file at `path` (nobody listening) is
    /// replaced; anything else there is an error.
    ///
    /// ```
    /// use rgiref::fastcgi::{Address, Config, Server};
    /// use rgiref::log::Log;
    /// let path = std::env::temp_dir().join(format!("rgiref-doc-{}.sock", std::process::id()));
    /// let config = Config { log: Log::silent(), ..Config::default() };
    /// let server = Server::bind_unix_with(&path, rgiref::demo::demo_app, config)?;
    /// assert_eq!(server.local_addr(), Address::Unix(Some(path.clone())));
    /// drop(server);
    /// assert!(!path.exists()); // the socket file goes with the server
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn bind_unix_with(path: impl AsRef<Path>, app: A, config: Config) -> io::Result<Server<A>> {
        config.check()?;
        let path = path.as_ref();
        remove_stale_socket(path)?;
        let listener = UnixListener::bind(path)?;
        let mode = std::fs::Permissions::from_mode(config.unix_socket_mode);
        std::fs::set_permissions(path, mode)?;
        Server::listening(Listener::Unix(listener), app, config, Some(path.to_owned()))
    }

    /// Serves on the listening socket a web server handed us as standard input (FastCGI 1.0
    /// §2.2: lighttpd's `bin-path`, `spawn-fcgi`). Fails, saying what standard input is
    /// instead, if it is not a listening socket (a terminal, a file, a connected socket).
    ///
    /// ```no_run
    /// use rgiref::fastcgi::{Config, Server};
    /// match Server::from_inherited_stdin(rgiref::demo::demo_app, Config::default()) {
    ///     Ok(server) => server.serve_forever(),
    ///     // From a terminal: "standard input is a terminal or a device, not a socket: …"
    ///     Err(error) => eprintln!("{error}"),
    /// }
    /// ```
    pub fn from_inherited_stdin(app: A, config: Config) -> io::Result<Server<A>> {
        config.check()?;
        let fd = io::stdin().as_fd().try_clone_to_owned()?;
        let (listener, _) = socket::adopt(fd)?;
        Server::listening(listener, app, config, None)
    }

    fn listening(
        listener: Listener,
        app: A,
        config: Config,
        made_socket: Option<PathBuf>,
    ) -> io::Result<Server<A>> {
        Ok(Server {
            local: socket::address(&listener)?,
            listener,
            app,
            config,
            stop: Arc::new(AtomicBool::new(false)),
            waiting: RefCell::new(None),
            made_socket,
        })
    }

    /// Where the server listens, with the real port if you asked for port 0.
    pub fn local_addr(&self) -> Address {
        self.local.clone()
    }

    /// A handle that can stop [`Server::serve_forever`] from another thread.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            inner: StopHandle::new(Arc::clone(&self.stop), wake(&self.local)),
        }
    }

    /// Waits for one connection and serves every request on it until it closes. Errors only
    /// if `accept` fails; whatever goes wrong on the connection is answered or logged.
    pub fn handle_connection(&self) -> io::Result<()> {
        // Stage "accept".
        let (stream, peer) = match self.waiting.take() {
            Some(waiting) => waiting,
            None => self.listener.accept()?,
        };
        if self.stop.load(Ordering::SeqCst) {
            // Most likely the shutdown handle's wake-up call.
            let _ = stream.shutdown(Shutdown::Both);
            return Ok(());
        }
        if !self.allowed(peer) {
            return Ok(());
        }
        let hooks = connection::Hooks {
            stop: &self.stop,
            others_waiting: &|| self.another_is_waiting(),
        };
        connection::serve(stream, peer, &self.app, &self.config, &hooks);
        Ok(())
    }

    /// Serves connections one after another until [`ShutdownHandle::shutdown`] is called. A
    /// failed `accept` is logged and retried after a pause, as the HTTP server does.
    pub fn serve_forever(&self) {
        net::serve_forever(&self.stop, &self.config.log, || self.handle_connection());
    }

    /// Runs [`Server::serve_forever`] on a new thread; the [`RunningServer`] stops it when
    /// stopped or dropped. A kept connection that is idle is closed first, which takes up to
    /// [`Timeouts::keep_conn_idle`].
    ///
    /// ```
    /// use rgiref::fastcgi::{Config, Server};
    /// use rgiref::log::Log;
    /// let config = Config { log: Log::silent(), ..Config::default() };
    /// let running = Server::bind_with("127.0.0.1:0", rgiref::demo::demo_app, config)?.spawn()?;
    /// println!("FastCGI test responder on {}", running.local_addr());
    /// running.stop();
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn spawn(self) -> io::Result<RunningServer>
    where
        A: Send + 'static,
    {
        let local = self.local.clone();
        let handle = self.shutdown_handle();
        let name = format!("rgiref fastcgi {local}");
        let thread = ServerThread::spawn(name, handle.inner.clone(), move || self.serve_forever())?;
        Ok(RunningServer {
            local,
            handle,
            thread,
        })
    }

    /// `FCGI_WEB_SERVER_ADDRS` (§3.2): closes, and logs, a TCP connection from anyone else.
    fn allowed(&self, peer: Peer) -> bool {
        let (Some(allowed), Peer::Tcp(address)) = (&self.config.web_server_addrs, peer) else {
            return true;
        };
        let ip = address.ip().to_canonical();
        if allowed.iter().any(|a| a.to_canonical() == ip) {
            return true;
        }
        let list: Vec<String> = allowed.iter().map(IpAddr::to_string).collect();
        let message = format!(
            "{}: closed a connection from {ip}: it is not in {WEB_SERVER_ADDRS_VAR} ({})",
            Stage::Accept,
            list.join(",")
        );
        self.config.log.line(&ip.to_string(), &message);
        false
    }

    /// True if another connection is in the accept queue. Takes it off the queue (it is
    /// served next), without waiting: the listener is non-blocking just for this `accept`.
    fn another_is_waiting(&self) -> bool {
        let Ok(mut waiting) = self.waiting.try_borrow_mut() else {
            return false;
        };
        if waiting.is_some() {
            return true;
        }
        if self.listener.set_nonblocking(true).is_err() {
            return false;
        }
        let accepted = self.listener.accept();
        let _ = self.listener.set_nonblocking(false);
        match accepted {
            Ok((stream, peer)) => {
                // Some systems (not Linux) let an accepted socket inherit non-blocking mode.
                let _ = stream.set_nonblocking(false);
                *waiting = Some((stream, peer));
                true
            }
            Err(_) => false,
        }
    }
}

impl<A> Drop for Server<A> {
    fn drop(&mut self) {
        if let Some(path) = &self.made_socket {
            let is_socket =
                std::fs::symlink_metadata(path).is_ok_and(|meta| meta.file_type().is_socket());
            if is_socket {
                let _ = std::fs::remove_file(path);
            }
        }
    }
}

/// Makes room for a new socket at `path`: nothing there is fine; a socket nobody listens on is
/// left over from an earlier run and is removed; anything else is an error, not ours to delete.
fn remove_stale_socket(path: &Path) -> io::Result<()> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(error),
    };
    let shown = path.display();
    if !meta.file_type().is_socket() {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("{shown} exists and is not a socket; not removing it"),
        ));
    }
    if UnixStream::connect(path).is_ok() {
        return Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            format!("another server is listening on {shown}"),
        ));
    }
    std::fs::remove_file(path)
}

/// Stops a [`Server::serve_forever`] loop, from any thread. Cheap to clone.
///
/// ```
/// use rgiref::fastcgi::{Config, Server};
/// use rgiref::log::Log;
/// let config = Config { log: Log::silent(), ..Config::default() };
/// let server = Server::bind_with("127.0.0.1:0", rgiref::demo::demo_app, config)?;
/// let handle = server.shutdown_handle();
/// let thread = std::thread::spawn(move || server.serve_forever());
/// handle.shutdown();
/// thread.join().unwrap();
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct ShutdownHandle {
    inner: StopHandle,
}

impl ShutdownHandle {
    /// Asks the server to stop, and wakes it if it waits in `accept`, by connecting to it — the
    /// HTTP server's trick (`crate::server::ShutdownHandle`). A request in progress is
    /// finished first; a kept connection is closed after it. A server on an unnamed Unix
    /// socket cannot be woken, and stops at its next connection.
    pub fn shutdown(&self) {
        self.inner.shutdown();
    }
}

/// Where to connect to wake a server listening at `local`.
fn wake(local: &Address) -> Wake {
    match local {
        Address::Tcp(address) => Wake::tcp(*address),
        Address::Unix(Some(path)) => Wake::Unix(path.clone()),
        Address::Unix(None) => Wake::Nowhere,
    }
}

/// A responder running on its own thread, made by [`Server::spawn`].
#[derive(Debug)]
pub struct RunningServer {
    local: Address,
    handle: ShutdownHandle,
    /// Stops the server and joins its thread when dropped.
    thread: ServerThread,
}

impl RunningServer {
    /// Where the server listens.
    pub fn local_addr(&self) -> Address {
        self.local.clone()
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
