//! Shared fixtures for the integration tests: start a server on port 0 with a captured log and
//! short timeouts, speak raw HTTP to it over a real socket, and take the response apart.
//!
//! Every test file that needs these says `mod common;`. Not every file uses every helper, so
//! unused ones are allowed.
#![allow(dead_code)]
pub mod fcgi_client;
pub mod fuzz;
pub mod scgi_client;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use rgiref::gateway::{AppError, Application, Body, Environ, StartResponse};
use rgiref::log::{CapturedLog, Log};
use rgiref::server::{Config, RunningServer, Server, Timeouts};
use rgiref::validate::validator;

/// How long a test client waits for the server before giving up. A safety net so a broken
/// server fails a test instead of hanging the suite; no test should come near it.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(10);

/// A server running on a background thread, with its log captured.
pub struct TestServer {
    pub running: RunningServer,
    pub log: CapturedLog,
    pub addr: SocketAddr,
}

impl TestServer {
    /// Sends `raw` as one request and reads the whole response (until the server closes).
    pub fn request(&self, raw: &[u8]) -> Response {
        request(self.addr, raw)
    }

    /// `GET /` — also a barrier: the server is single-threaded, so once this is answered, every
    /// earlier connection is finished and its log lines are written.
    pub fn ping(&self) -> Response {
        self.request(b"GET / HTTP/1.0\r\n\r\n")
    }

    /// The captured log so far.
    pub fn log_text(&self) -> String {
        self.log.text()
    }
}

/// An application that reads the whole request body, then answers `read N bytes`: the simplest
/// app that is busy with the body when something goes wrong.
pub fn read_whole_body(
    environ: &mut Environ,
    start_response: &mut StartResponse,
) -> Result<Body, AppError> {
    let mut body = Vec::new();
    environ.input.read_to_end(&mut body)?;
    start_response.start("200 OK", [("Content-Type", "text/plain")])?;
    Ok(Body::from(format!("read {} bytes\n", body.len())))
}

/// Timeouts short enough that tests about them run quickly, long enough that no other test
/// trips over them on a loaded machine.
pub fn quick_timeouts() -> Timeouts {
    Timeouts {
        first_byte: Duration::from_millis(500),
        request_head: Duration::from_secs(2),
        body_read: Duration::from_secs(2),
        write: Duration::from_secs(2),
        drain: Duration::from_millis(500),
    }
}

/// Starts `app` under the validator (`rgiref::validate`) on 127.0.0.1, port 0, with
/// [`quick_timeouts`] and a captured log: an app meant to be correct that is not, or a server
/// that breaks the contract, fails its test with a `validate:` line in the log.
pub fn start<A: Application + Send + 'static>(app: A) -> TestServer {
    start_with(app, |_| {})
}

/// Like [`start`], letting `adjust` change the config first.
pub fn start_with<A: Application + Send + 'static>(
    app: A,
    adjust: impl FnOnce(&mut Config),
) -> TestServer {
    start_unvalidated_with(validator(app), adjust)
}

/// Like [`start`], without the validator: for tests of deliberately broken applications,
/// which check what the server itself does about them.
pub fn start_unvalidated<A: Application + Send + 'static>(app: A) -> TestServer {
    start_unvalidated_with(app, |_| {})
}

/// Like [`start_with`], without the validator.
pub fn start_unvalidated_with<A: Application + Send + 'static>(
    app: A,
    adjust: impl FnOnce(&mut Config),
) -> TestServer {
    let (log, captured) = Log::capture();
    let mut config = Config {
        log,
        timeouts: quick_timeouts(),
        ..Config::default()
    };
    adjust(&mut config);
    let server = Server::bind_with("127.0.0.1:0", app, config).expect("bind a test server");
    let addr = server.local_addr();
    let running = server.spawn().expect("spawn the server thread");
    TestServer {
        running,
        log: captured,
        addr,
    }
}

/// Connects to `addr` with the client timeouts set.
pub fn connect(addr: SocketAddr) -> TcpStream {
    let stream = TcpStream::connect(addr).expect("connect to the test server");
    stream.set_read_timeout(Some(CLIENT_TIMEOUT)).unwrap();
    stream.set_write_timeout(Some(CLIENT_TIMEOUT)).unwrap();
    stream
}

/// Sends `raw` and reads until the server closes the connection.
pub fn request(addr: SocketAddr, raw: &[u8]) -> Response {
    let mut stream = connect(addr);
    stream.write_all(raw).expect("send the request");
    read_response(&mut stream)
}

/// Percent-decodes `text` (RFC 3986 §2.1): the tests' own decoder, written separately from the
/// server's so that each checks the other. `None` for a `%` without two hex digits after it.
pub fn percent_decode(text: &str) -> Option<Vec<u8>> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            if !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None; // from_str_radix would take "+1"
            }
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Some(out)
}

/// `GET path HTTP/1.0` to `addr`, and the whole response.
pub fn get_and_read(addr: SocketAddr, path: &str) -> Response {
    request(addr, format!("GET {path} HTTP/1.0\r\n\r\n").as_bytes())
}

/// Reads until the server closes, and parses what came.
pub fn read_response(stream: &mut TcpStream) -> Response {
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read the response");
    Response::parse(raw)
}

/// A response taken apart. For an HTTP/0.9 response (no status line) `status` is 0 and the
/// whole thing is the body.
#[derive(Debug, Clone)]
pub struct Response {
    pub raw: Vec<u8>,
    pub status: u16,
    pub status_line: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn parse(raw: Vec<u8>) -> Response {
        let head_end = raw.windows(4).position(|w| w == b"\r\n\r\n");
        let (status_line, headers, body) = match head_end {
            Some(end) if raw.starts_with(b"HTTP/") => {
                let head = String::from_utf8_lossy(&raw[..end]).into_owned();
                let mut lines = head.split("\r\n");
                let status_line = lines.next().unwrap_or("").to_owned();
                let headers = lines
                    .filter_map(|l| l.split_once(':'))
                    .map(|(n, v)| (n.to_owned(), v.trim().to_owned()))
                    .collect();
                (status_line, headers, raw[end + 4..].to_vec())
            }
            _ => (String::new(), Vec::new(), raw.clone()),
        };
        let status = status_line
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        Response {
            raw,
            status,
            status_line,
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

    /// How many times header `name` appears.
    pub fn header_count(&self, name: &str) -> usize {
        self.headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .count()
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// The `KEY = "value"` lines of a demo-app page, as a map from key to the quoted value.
pub fn demo_environ(page: &str) -> std::collections::BTreeMap<String, String> {
    page.lines()
        .filter_map(|l| l.split_once(" = "))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}
