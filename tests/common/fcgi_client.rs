//! A FastCGI client of our own: the web server's side of FastCGI 1.0, as much as the tests
//! need. It builds records byte by byte from the specification (§3.3, §3.4, §5.1), on purpose
//! without the crate's own encoder, so a mistake in `src/fastcgi/record.rs` cannot hide behind
//! the same mistake here.
//!
//! Stage: none by itself; the tests use it to drive the responder through all of them.
//!
//! * Build: [`record`], [`begin`], [`pair`], [`stream`], and [`FcgiRequest`] for a whole
//!   request (BEGIN_REQUEST, PARAMS, STDIN) with the variables nginx sends.
//! * Talk: [`Client::connect`] (TCP or Unix), [`Client::send`], [`Client::read_reply`] (records
//!   up to END_REQUEST or the end of the connection), [`Client::read_record`].
//! * Look: a [`Reply`] has its STDOUT, STDERR and END_REQUEST apart, and the CGI response in
//!   STDOUT taken apart as a [`super::Response`].
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use rgiref::fastcgi::{Address, Config, RunningServer, Server, Timeouts};
use rgiref::gateway::Application;
use rgiref::log::{CapturedLog, Log};

use super::{Response, CLIENT_TIMEOUT};

// FastCGI 1.0 §8, typed in again from the specification.
pub const BEGIN_REQUEST: u8 = 1;
pub const ABORT_REQUEST: u8 = 2;
pub const END_REQUEST: u8 = 3;
pub const PARAMS: u8 = 4;
pub const STDIN: u8 = 5;
pub const STDOUT: u8 = 6;
pub const STDERR: u8 = 7;
pub const DATA: u8 = 8;
pub const GET_VALUES: u8 = 9;
pub const GET_VALUES_RESULT: u8 = 10;
pub const UNKNOWN_TYPE: u8 = 11;
pub const RESPONDER: u16 = 1;
pub const AUTHORIZER: u16 = 2;
pub const FILTER: u16 = 3;
pub const REQUEST_COMPLETE: u8 = 0;
pub const CANT_MPX_CONN: u8 = 1;
pub const UNKNOWN_ROLE: u8 = 3;

/// One record: version 1, `kind`, `id`, `content`, padded to a multiple of 8 bytes.
pub fn record(kind: u8, id: u16, content: &[u8]) -> Vec<u8> {
    let padding = (8 - content.len() % 8) % 8;
    record_with_padding(kind, id, content, padding as u8)
}

/// One record with exactly `padding` bytes of padding (filled with 0xAA, which must be
/// ignored).
pub fn record_with_padding(kind: u8, id: u16, content: &[u8], padding: u8) -> Vec<u8> {
    assert!(
        content.len() <= 65535,
        "one record holds at most 65535 bytes"
    );
    let mut out = vec![
        1,
        kind,
        (id >> 8) as u8,
        id as u8,
        (content.len() >> 8) as u8,
        content.len() as u8,
        padding,
        0,
    ];
    out.extend_from_slice(content);
    out.extend(std::iter::repeat_n(0xAA, usize::from(padding)));
    out
}

/// BEGIN_REQUEST (§5.1): role, flags (KEEP_CONN is bit 0), five reserved bytes.
pub fn begin(id: u16, role: u16, keep_conn: bool) -> Vec<u8> {
    let body = [
        (role >> 8) as u8,
        role as u8,
        keep_conn as u8,
        0,
        0,
        0,
        0,
        0,
    ];
    record(BEGIN_REQUEST, id, &body)
}

/// One name-value pair (§3.4): each length in one byte below 128, else four with the high bit.
pub fn pair(name: &[u8], value: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for length in [name.len(), value.len()] {
        if length < 128 {
            out.push(length as u8);
        } else {
            out.extend_from_slice(&(length as u32 | 0x8000_0000).to_be_bytes());
        }
    }
    out.extend_from_slice(name);
    out.extend_from_slice(value);
    out
}

/// `bytes` as records of `kind` of at most `piece` bytes each, then the empty record that ends
/// the stream.
pub fn stream(kind: u8, id: u16, bytes: &[u8], piece: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for chunk in bytes.chunks(piece.max(1)) {
        out.extend(record(kind, id, chunk));
    }
    out.extend(record(kind, id, b""));
    out
}

/// END_REQUEST's body (§5.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndRequest {
    pub app_status: u32,
    pub protocol_status: u8,
}

/// One record as it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rec {
    pub kind: u8,
    pub id: u16,
    pub content: Vec<u8>,
    pub padding: u8,
}

impl Rec {
    pub fn end_request(&self) -> Option<EndRequest> {
        if self.kind != END_REQUEST || self.content.len() != 8 {
            return None;
        }
        let c = &self.content;
        Some(EndRequest {
            app_status: u32::from_be_bytes([c[0], c[1], c[2], c[3]]),
            protocol_status: c[4],
        })
    }

    /// The name-value pairs of a GET_VALUES_RESULT.
    pub fn pairs(&self) -> Vec<(String, String)> {
        let mut pairs = Vec::new();
        let c = &self.content;
        let mut at = 0;
        let length = |at: &mut usize| -> usize {
            if c[*at] < 128 {
                *at += 1;
                usize::from(c[*at - 1])
            } else {
                let l = u32::from_be_bytes([c[*at] & 0x7f, c[*at + 1], c[*at + 2], c[*at + 3]]);
                *at += 4;
                l as usize
            }
        };
        while at < c.len() {
            let n = length(&mut at);
            let v = length(&mut at);
            let name = String::from_utf8_lossy(&c[at..at + n]).into_owned();
            let value = String::from_utf8_lossy(&c[at + n..at + n + v]).into_owned();
            pairs.push((name, value));
            at += n + v;
        }
        pairs
    }
}

/// A request as nginx would send it: BEGIN_REQUEST, PARAMS, STDIN.
#[derive(Debug, Clone)]
pub struct FcgiRequest {
    pub id: u16,
    pub keep_conn: bool,
    pub params: Vec<(Vec<u8>, Vec<u8>)>,
    pub body: Vec<u8>,
    /// The largest PARAMS and STDIN record to send.
    pub piece: usize,
}

impl FcgiRequest {
    /// A GET of `target` (path and query) with the variables nginx's `fastcgi_params` sends.
    pub fn get(target: &str) -> FcgiRequest {
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        let params = [
            ("REQUEST_METHOD", "GET"),
            ("SCRIPT_NAME", ""),
            ("PATH_INFO", path),
            ("QUERY_STRING", query),
            ("REQUEST_URI", target),
            ("SERVER_PROTOCOL", "HTTP/1.1"),
            ("GATEWAY_INTERFACE", "CGI/1.1"),
            ("SERVER_SOFTWARE", "nginx/1.26.0"),
            ("REMOTE_ADDR", "192.0.2.7"),
            ("REMOTE_PORT", "50000"),
            ("SERVER_ADDR", "127.0.0.1"),
            ("SERVER_PORT", "80"),
            ("SERVER_NAME", "example.test"),
            ("CONTENT_TYPE", ""),
            ("CONTENT_LENGTH", ""),
            ("HTTP_HOST", "example.test"),
        ];
        FcgiRequest {
            id: 1,
            keep_conn: false,
            params: params
                .iter()
                .map(|(n, v)| (n.as_bytes().to_vec(), v.as_bytes().to_vec()))
                .collect(),
            body: Vec::new(),
            piece: 65535,
        }
    }

    /// A POST of `body` to `target`, with its CONTENT_LENGTH.
    pub fn post(target: &str, body: &[u8]) -> FcgiRequest {
        FcgiRequest::get(target)
            .param("REQUEST_METHOD", "POST")
            .param("CONTENT_LENGTH", &body.len().to_string())
            .body(body)
    }

    /// Sets (or replaces) a variable.
    pub fn param(mut self, name: &str, value: &str) -> FcgiRequest {
        self.params.retain(|(n, _)| n != name.as_bytes());
        self.params
            .push((name.as_bytes().to_vec(), value.as_bytes().to_vec()));
        self
    }

    pub fn body(mut self, body: &[u8]) -> FcgiRequest {
        self.body = body.to_vec();
        self
    }

    pub fn id(mut self, id: u16) -> FcgiRequest {
        self.id = id;
        self
    }

    pub fn keep(mut self) -> FcgiRequest {
        self.keep_conn = true;
        self
    }

    pub fn piece(mut self, piece: usize) -> FcgiRequest {
        self.piece = piece;
        self
    }

    /// The PARAMS stream's bytes (the pairs, before they are cut into records).
    pub fn params_bytes(&self) -> Vec<u8> {
        self.params.iter().flat_map(|(n, v)| pair(n, v)).collect()
    }

    /// BEGIN_REQUEST and the PARAMS records, with the empty one.
    pub fn head_bytes(&self) -> Vec<u8> {
        let mut out = begin(self.id, RESPONDER, self.keep_conn);
        out.extend(stream(PARAMS, self.id, &self.params_bytes(), self.piece));
        out
    }

    /// The whole request: head, then STDIN records and the empty one.
    pub fn bytes(&self) -> Vec<u8> {
        let mut out = self.head_bytes();
        out.extend(stream(STDIN, self.id, &self.body, self.piece));
        out
    }
}

/// What came back for one request.
#[derive(Debug, Clone, Default)]
pub struct Reply {
    pub records: Vec<Rec>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub end: Option<EndRequest>,
    /// True if the connection ended before END_REQUEST (or right after, when reading on).
    pub closed: bool,
}

impl Reply {
    /// STDOUT taken apart as an HTTP response (`Status: 200 OK` becomes the status).
    pub fn response(&self) -> Response {
        let mut raw = b"HTTP/1.1 ".to_vec();
        let text = &self.stdout;
        let status = text
            .strip_prefix(b"Status: ")
            .and_then(|rest| rest.split(|&b| b == b'\r').next())
            .unwrap_or(b"000 none");
        raw.extend_from_slice(status);
        raw.extend_from_slice(b"\r\n");
        raw.extend_from_slice(text);
        Response::parse(raw)
    }

    pub fn stderr_text(&self) -> String {
        String::from_utf8_lossy(&self.stderr).into_owned()
    }

    /// How many records of `kind` arrived.
    pub fn count(&self, kind: u8) -> usize {
        self.records.iter().filter(|r| r.kind == kind).count()
    }

    /// Asserts the reply is a complete response: END_REQUEST(REQUEST_COMPLETE, 0), after the
    /// empty STDOUT record.
    pub fn assert_complete(&self) {
        assert_eq!(
            self.end,
            Some(EndRequest {
                app_status: 0,
                protocol_status: REQUEST_COMPLETE
            }),
            "{self:?}"
        );
        let stdout_ended = self
            .records
            .iter()
            .any(|r| r.kind == STDOUT && r.content.is_empty());
        assert!(stdout_ended, "no empty STDOUT record: {:?}", self.records);
    }
}

/// A connection to the responder, TCP or Unix.
pub enum Client {
    Tcp(TcpStream),
    Unix(UnixStream),
}

impl Client {
    pub fn connect(address: &Address) -> Client {
        let client = match address {
            Address::Tcp(address) => Client::Tcp(TcpStream::connect(address).expect("connect")),
            Address::Unix(Some(path)) => Client::Unix(UnixStream::connect(path).expect("connect")),
            Address::Unix(None) => panic!("cannot connect to an unnamed socket"),
        };
        client.set_timeout(CLIENT_TIMEOUT);
        client
    }

    /// A second handle on the same connection, to send from another thread.
    pub fn try_clone(&self) -> Client {
        match self {
            Client::Tcp(s) => Client::Tcp(s.try_clone().unwrap()),
            Client::Unix(s) => Client::Unix(s.try_clone().unwrap()),
        }
    }

    pub fn set_timeout(&self, timeout: Duration) {
        match self {
            Client::Tcp(s) => {
                s.set_read_timeout(Some(timeout)).unwrap();
                s.set_write_timeout(Some(timeout)).unwrap();
            }
            Client::Unix(s) => {
                s.set_read_timeout(Some(timeout)).unwrap();
                s.set_write_timeout(Some(timeout)).unwrap();
            }
        }
    }

    pub fn send(&mut self, bytes: &[u8]) {
        self.try_send(bytes).expect("send to the responder");
    }

    pub fn try_send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        match self {
            Client::Tcp(s) => s.write_all(bytes),
            Client::Unix(s) => s.write_all(bytes),
        }
    }

    /// Half-closes: "nothing more from the web server".
    pub fn shutdown_write(&self) {
        let _ = match self {
            Client::Tcp(s) => s.shutdown(std::net::Shutdown::Write),
            Client::Unix(s) => s.shutdown(std::net::Shutdown::Write),
        };
    }

    fn read_exactly(&mut self, buf: &mut [u8]) -> Option<()> {
        let result = match self {
            Client::Tcp(s) => s.read_exact(buf),
            Client::Unix(s) => s.read_exact(buf),
        };
        match result {
            Ok(()) => Some(()),
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => None,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => None,
            Err(e) => panic!("reading from the responder failed: {e}"),
        }
    }

    /// The next record, or `None` at the end of the connection. Panics on a malformed one.
    pub fn read_record(&mut self) -> Option<Rec> {
        let mut header = [0u8; 8];
        self.read_exactly(&mut header)?;
        assert_eq!(header[0], 1, "the responder sent version {}", header[0]);
        let length = usize::from(u16::from_be_bytes([header[4], header[5]]));
        let padding = header[6];
        let mut content = vec![0; length + usize::from(padding)];
        self.read_exactly(&mut content)
            .expect("a whole record, not half of one");
        content.truncate(length);
        assert_eq!(
            (8 + length + usize::from(padding)) % 8,
            0,
            "records are padded to a multiple of 8"
        );
        Some(Rec {
            kind: header[1],
            id: u16::from_be_bytes([header[2], header[3]]),
            content,
            padding,
        })
    }

    /// Reads records up to END_REQUEST for `id`, or to the end of the connection.
    pub fn read_reply(&mut self, id: u16) -> Reply {
        let mut reply = Reply::default();
        while let Some(rec) = self.read_record() {
            match rec.kind {
                STDOUT if rec.id == id => reply.stdout.extend_from_slice(&rec.content),
                STDERR if rec.id == id => reply.stderr.extend_from_slice(&rec.content),
                _ => {}
            }
            let done = rec.id == id && rec.kind == END_REQUEST;
            if done {
                reply.end = rec.end_request();
            }
            reply.records.push(rec);
            if done {
                return reply;
            }
        }
        reply.closed = true;
        reply
    }

    /// True if the responder closes the connection before sending anything more.
    pub fn is_closed_by_server(&mut self) -> bool {
        self.read_record().is_none()
    }
}

/// A responder on a background thread, with its log captured.
pub struct FcgiServer {
    pub running: RunningServer,
    pub log: CapturedLog,
    pub address: Address,
}

impl FcgiServer {
    pub fn connect(&self) -> Client {
        Client::connect(&self.address)
    }

    /// Sends `request` on a new connection and reads the reply. Also a barrier: once it is
    /// answered, every earlier connection is finished and logged (one thread).
    pub fn request(&self, request: &FcgiRequest) -> Reply {
        let mut client = self.connect();
        client.send(&request.bytes());
        client.read_reply(request.id)
    }

    pub fn ping(&self) -> Reply {
        self.request(&FcgiRequest::get("/ping"))
    }

    pub fn log_text(&self) -> String {
        self.log.text()
    }
}

/// Timeouts short enough for the tests about them, long enough for a loaded machine.
pub fn quick_timeouts() -> Timeouts {
    Timeouts {
        first_record: Duration::from_millis(500),
        keep_conn_idle: Duration::from_secs(5),
        params: Duration::from_secs(2),
        body_read: Duration::from_secs(2),
        write: Duration::from_secs(2),
        drain: Duration::from_millis(500),
    }
}

/// Starts `app` as a FastCGI responder on 127.0.0.1, port 0, with [`quick_timeouts`].
pub fn start<A: Application + Send + 'static>(app: A) -> FcgiServer {
    start_with(app, |_| {})
}

/// Like [`start`], letting `adjust` change the config first.
pub fn start_with<A: Application + Send + 'static>(
    app: A,
    adjust: impl FnOnce(&mut Config),
) -> FcgiServer {
    let (log, captured) = Log::capture();
    let mut config = Config {
        log,
        timeouts: quick_timeouts(),
        ..Config::default()
    };
    adjust(&mut config);
    let server = Server::bind_with("127.0.0.1:0", app, config).expect("bind a test responder");
    finish_start(server, captured)
}

/// Starts `app` on a Unix socket at `path`.
pub fn start_unix<A: Application + Send + 'static>(app: A, path: &std::path::Path) -> FcgiServer {
    let (log, captured) = Log::capture();
    let config = Config {
        log,
        timeouts: quick_timeouts(),
        ..Config::default()
    };
    let server = Server::bind_unix_with(path, app, config).expect("bind a Unix test responder");
    finish_start(server, captured)
}

fn finish_start<A: Application + Send + 'static>(
    server: Server<A>,
    log: CapturedLog,
) -> FcgiServer {
    let address = server.local_addr();
    let running = server.spawn().expect("spawn the responder thread");
    FcgiServer {
        running,
        log,
        address,
    }
}

/// A fresh path for a Unix socket in the temporary directory.
pub fn socket_path(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("rgiref-{}-{name}.sock", std::process::id()))
}
