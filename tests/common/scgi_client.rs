//! A small SCGI client of our own — the web server's side of SCGI, as nginx's `scgi_pass`
//! speaks it — and an SCGI server fixture like the HTTP one in `mod.rs`.
//!
//! Stage: none by itself; it drives every stage of `rgiref::scgi` from outside, over a real
//! socket.
//!
//! Interface:
//! * [`request`] builds what a web server sends: a netstring with `CONTENT_LENGTH` first and
//!   `SCGI` = `1` second, the variables given, then the body. [`netstring`] wraps any bytes,
//!   for the malformed cases.
//! * [`exchange`] sends bytes, half-closes (as a web server that has sent everything does),
//!   and reads until the server closes; [`CgiResponse`] takes the CGI response apart.
//! * [`start`] / [`start_with`] run an SCGI server on 127.0.0.1, port 0, with short timeouts
//!   and a captured log.
//!
//! It is written separately from the server (nothing here calls `rgiref::scgi`'s parser), so
//! that each checks the other.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

use rgiref::gateway::Application;
use rgiref::log::{CapturedLog, Log};
use rgiref::scgi::{Config, RunningServer, Server, Timeouts};

use super::CLIENT_TIMEOUT;

/// `LEN:` `content` `,` — D. J. Bernstein's netstring.
pub fn netstring(content: &[u8]) -> Vec<u8> {
    let mut out = format!("{}:", content.len()).into_bytes();
    out.extend_from_slice(content);
    out.push(b',');
    out
}

/// `name NUL value NUL` for each pair, in order.
pub fn pairs(vars: &[(&[u8], &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in vars {
        out.extend_from_slice(name);
        out.push(0);
        out.extend_from_slice(value);
        out.push(0);
    }
    out
}

/// A whole well-formed request: `CONTENT_LENGTH` (the body's length) first, `SCGI` = `1`, then
/// `vars`, then the body.
pub fn request(vars: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let length = body.len().to_string();
    let mut all: Vec<(&[u8], &[u8])> =
        vec![(b"CONTENT_LENGTH", length.as_bytes()), (b"SCGI", b"1")];
    all.extend(vars.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())));
    let mut out = netstring(&pairs(&all));
    out.extend_from_slice(body);
    out
}

/// The variables nginx's `scgi_params` sends for `GET target`, as a starting point.
pub fn get_vars(target: &str) -> Vec<(&'static str, String)> {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    vec![
        ("REQUEST_METHOD", "GET".to_owned()),
        ("REQUEST_URI", target.to_owned()),
        ("QUERY_STRING", query.to_owned()),
        ("PATH_INFO", path.to_owned()),
        ("SERVER_PROTOCOL", "HTTP/1.1".to_owned()),
        ("REMOTE_ADDR", "192.0.2.7".to_owned()),
    ]
}

/// `GET target`, as [`request`] bytes.
pub fn get(target: &str) -> Vec<u8> {
    let vars = get_vars(target);
    let borrowed: Vec<(&str, &str)> = vars.iter().map(|(n, v)| (*n, v.as_str())).collect();
    request(&borrowed, b"")
}

/// A CGI response taken apart: `Status: 200 OK`, headers, an empty line, the body. A
/// connection closed without a response has `status` 0 and an empty `raw`.
#[derive(Debug, Clone)]
pub struct CgiResponse {
    pub raw: Vec<u8>,
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl CgiResponse {
    pub fn parse(raw: Vec<u8>) -> CgiResponse {
        let Some(end) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
            return CgiResponse {
                raw,
                status: 0,
                headers: Vec::new(),
                body: Vec::new(),
            };
        };
        let head = String::from_utf8_lossy(&raw[..end]).into_owned();
        let headers: Vec<(String, String)> = head
            .split("\r\n")
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.to_owned(), v.trim().to_owned()))
            .collect();
        let status = headers
            .iter()
            .find(|(n, _)| n == "Status")
            .and_then(|(_, v)| v.split(' ').next()?.parse().ok())
            .unwrap_or(0);
        let body = raw[end + 4..].to_vec();
        CgiResponse {
            raw,
            status,
            headers,
            body,
        }
    }

    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Connects to `addr` with the client timeouts set.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect to the SCGI test server");
    stream.set_read_timeout(Some(CLIENT_TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(CLIENT_TIMEOUT)).unwrap();
    stream
}

/// Sends `raw`, half-closes, and reads until the server closes.
pub fn exchange(addr: SocketAddr, raw: &[u8]) -> CgiResponse {
    let mut stream = connect(addr);
    // A server that refuses early may close while we still write: that is its answer.
    let _ = stream.write_all(raw);
    let _ = stream.shutdown(Shutdown::Write);
    read_to_close(&mut stream)
}

/// Reads until the server closes; a reset counts as the end.
pub fn read_to_close(stream: &mut impl Read) -> CgiResponse {
    let mut raw = Vec::new();
    let mut buffer = [0u8; 64 * 1024];
    loop {
        match stream.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buffer[..n]),
            Err(error) if error.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(error) => panic!("reading the SCGI response failed: {error}"),
        }
    }
    CgiResponse::parse(raw)
}

/// An SCGI server on a background thread, with its log captured.
pub struct TestScgi {
    pub running: RunningServer,
    pub log: CapturedLog,
    pub addr: SocketAddr,
}

impl TestScgi {
    pub fn send(&self, raw: &[u8]) -> CgiResponse {
        exchange(self.addr, raw)
    }

    /// `GET /` — also a barrier: the server is single-threaded, so once this is answered, every
    /// earlier connection is finished and its log lines are written.
    pub fn ping(&self) -> CgiResponse {
        self.send(&get("/"))
    }

    pub fn log_text(&self) -> String {
        self.log.text()
    }
}

/// Timeouts short enough that tests about them run quickly, long enough that no other test
/// trips over them on a loaded machine.
pub fn quick_timeouts() -> Timeouts {
    Timeouts {
        header: Duration::from_secs(2),
        body_read: Duration::from_secs(2),
        write: Duration::from_secs(2),
        drain: Duration::from_millis(500),
    }
}

/// Starts `app` on 127.0.0.1, port 0, with [`quick_timeouts`] and a captured log.
pub fn start<A: Application + Send + 'static>(app: A) -> TestScgi {
    start_with(app, |_| {})
}

/// Like [`start`], letting `adjust` change the config first.
pub fn start_with<A: Application + Send + 'static>(
    app: A,
    adjust: impl FnOnce(&mut Config),
) -> TestScgi {
    let (log, captured) = Log::capture();
    let mut config = Config {
        log,
        timeouts: quick_timeouts(),
        ..Config::default()
    };
    adjust(&mut config);
    let server = Server::bind_with("127.0.0.1:0", app, config).expect("bind an SCGI test server");
    let addr = server.local_addr().tcp().expect("a TCP address");
    let running = server.spawn().expect("spawn the SCGI server thread");
    TestScgi {
        running,
        log: captured,
        addr,
    }
}
