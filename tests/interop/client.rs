//! The HTTP client the interop test talks to each web server with: HTTP/1.1, one request per
//! connection (`Connection: close`), a body sent with `Content-Length` or chunked, and a
//! response read to the end and taken apart — a chunked one (Apache's, often) decoded.
//!
//! It is its own code, not the crate's: the test should not check rgiref with rgiref's parser.
//! Every read and write has a timeout ([`super::harness::PATIENCE`]), so a web server that
//! stops answering fails the test instead of hanging it.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::thread;

use super::harness::PATIENCE;

/// How a request carries its body.
#[derive(Clone, Copy)]
pub enum Upload<'a> {
    None,
    /// With `Content-Length`.
    Sized(&'a [u8]),
    /// With `Transfer-Encoding: chunked`, in chunks of 64 KiB.
    Chunked(&'a [u8]),
}

/// A response, taken apart.
#[derive(Clone)]
pub struct Reply {
    pub status: u16,
    pub status_line: String,
    pub headers: Vec<(String, String)>,
    /// The body, with any chunked framing removed.
    pub body: Vec<u8>,
    /// How many bytes the head took, status line to blank line.
    pub head_bytes: usize,
}

impl std::fmt::Debug for Reply {
    /// The status line, the headers and the start of the body as text: a failing assertion
    /// should show what came, not a wall of byte values.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let text = self.text();
        let start: String = text.chars().take(300).collect();
        f.debug_struct("Reply")
            .field("status_line", &self.status_line)
            .field("headers", &self.headers)
            .field("body_bytes", &self.body.len())
            .field("body_start", &start)
            .finish()
    }
}

impl Reply {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// `GET target` with the usual headers.
pub fn get(addr: SocketAddr, target: &str) -> Reply {
    send(addr, "GET", target, &[], Upload::None)
}

/// Sends one request and reads the whole response. Panics, naming the request, if the
/// connection fails or the response is not HTTP.
pub fn send(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    upload: Upload,
) -> Reply {
    try_send(addr, method, target, headers, upload)
        .unwrap_or_else(|why| panic!("{method} {target} to {addr}: {why}"))
}

/// [`send`], with the failure as an `Err`.
pub fn try_send(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    upload: Upload,
) -> Result<Reply, String> {
    let mut stream = connect(addr)?;
    let head = request_head(addr, method, target, headers, upload);
    // The body goes out on its own thread while this one reads: a web server may answer (with
    // an error, say) before it has read the whole upload, and a client that only wrote would
    // then wait on a full socket buffer.
    let mut writer = stream.try_clone().map_err(|e| e.to_string())?;
    let raw = thread::scope(|scope| {
        let sending = scope.spawn(move || -> std::io::Result<()> {
            writer.write_all(&head)?;
            write_body(&mut writer, upload)
        });
        let mut raw = Vec::new();
        let read = stream.read_to_end(&mut raw);
        let sent = sending.join().expect("the sending thread");
        match (read, sent) {
            (Ok(_), _) if !raw.is_empty() => Ok(raw),
            (Ok(_), Err(e)) => Err(format!("sending failed ({e}) and no response came")),
            (Ok(_), Ok(())) => Err("the connection closed without a response".to_owned()),
            (Err(e), _) => Err(format!("reading the response failed: {e}")),
        }
    })?;
    parse(&raw)
}

/// Connects with the safety-net timeouts set.
pub fn connect(addr: SocketAddr) -> Result<TcpStream, String> {
    let stream = TcpStream::connect_timeout(&addr, PATIENCE).map_err(|e| e.to_string())?;
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream.set_write_timeout(Some(PATIENCE)).unwrap();
    Ok(stream)
}

fn request_head(
    addr: SocketAddr,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    upload: Upload,
) -> Vec<u8> {
    let mut head = format!("{method} {target} HTTP/1.1\r\nHost: {addr}\r\n");
    let has = |name: &str| headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
    if !has("User-Agent") {
        head.push_str("User-Agent: rgiref-interop\r\n");
    }
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    match upload {
        Upload::None => {}
        Upload::Sized(body) => head.push_str(&format!("Content-Length: {}\r\n", body.len())),
        Upload::Chunked(_) => head.push_str("Transfer-Encoding: chunked\r\n"),
    }
    head.push_str("Connection: close\r\n\r\n");
    head.into_bytes()
}

fn write_body(stream: &mut TcpStream, upload: Upload) -> std::io::Result<()> {
    match upload {
        Upload::None => {}
        Upload::Sized(body) => stream.write_all(body)?,
        Upload::Chunked(body) => {
            for chunk in body.chunks(64 * 1024) {
                stream.write_all(format!("{:x}\r\n", chunk.len()).as_bytes())?;
                stream.write_all(chunk)?;
                stream.write_all(b"\r\n")?;
            }
            stream.write_all(b"0\r\n\r\n")?;
        }
    }
    stream.flush()
}

/// Takes a whole response apart (RFC 9112 §2.1: status line, fields, blank line, body).
pub fn parse(raw: &[u8]) -> Result<Reply, String> {
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| format!("no end of head in {:?}", String::from_utf8_lossy(raw)))?;
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default().to_owned();
    let status = status_line
        .strip_prefix("HTTP/1.")
        .and_then(|rest| rest.get(2..5))
        .and_then(|code| code.parse().ok())
        .ok_or_else(|| format!("not an HTTP status line: {status_line:?}"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.to_owned(), v.trim().to_owned()))
        .collect();
    let mut reply = Reply {
        status,
        status_line,
        headers,
        body: Vec::new(),
        head_bytes: end + 4,
    };
    let rest = &raw[end + 4..];
    reply.body = if reply
        .header("Transfer-Encoding")
        .is_some_and(|te| te.eq_ignore_ascii_case("chunked"))
    {
        dechunk(rest)?
    } else if let Some(length) = reply.header("Content-Length") {
        let length: usize = length.parse().map_err(|_| "bad Content-Length")?;
        if rest.len() != length {
            return Err(format!(
                "Content-Length {length}, but {} bytes came before the connection closed",
                rest.len()
            ));
        }
        rest.to_vec()
    } else {
        rest.to_vec()
    };
    Ok(reply)
}

/// Removes chunked framing (RFC 9112 §7.1), checking it as it goes.
fn dechunk(mut rest: &[u8]) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    loop {
        let line_end = rest
            .windows(2)
            .position(|w| w == b"\r\n")
            .ok_or("a chunk-size line without CRLF")?;
        let line = String::from_utf8_lossy(&rest[..line_end]);
        let size_text = line.split(';').next().unwrap_or_default().trim();
        let size = usize::from_str_radix(size_text, 16)
            .map_err(|_| format!("bad chunk size {size_text:?}"))?;
        rest = &rest[line_end + 2..];
        if size == 0 {
            return Ok(body);
        }
        if rest.len() < size + 2 {
            return Err(format!(
                "a chunk of {size} bytes cut short after {} (the body so far: {})",
                rest.len(),
                body.len()
            ));
        }
        body.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
}

/// Sends `GET target`, reads about `keep` bytes of the response and hangs up: the client that
/// goes away mid-response. Returns how many bytes it read.
pub fn hang_up_after(addr: SocketAddr, target: &str, keep: usize) -> usize {
    let mut stream = connect(addr).expect("connect");
    let head = request_head(addr, "GET", target, &[], Upload::None);
    stream.write_all(&head).expect("send the request");
    let mut buffer = vec![0; 16 * 1024];
    let mut read = 0;
    while read < keep {
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => read += n,
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
    read
}

/// The bytes `/bytes/N` of the echo gateway sends: byte `i` is `i % 251`.
pub fn pattern(length: usize) -> Vec<u8> {
    (0..length).map(|i| (i % 251) as u8).collect()
}

/// A body worth echoing: every byte value, in an order no buffer size lines up with.
pub fn upload(length: usize) -> Vec<u8> {
    let mut state: u32 = 0x2545_f491;
    (0..length)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 17;
            state ^= state << 5;
            (state >> 24) as u8
        })
        .collect()
}
