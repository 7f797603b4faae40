//! FastCGI without a gateway: a responder that speaks the records itself, in one file, with
//! nothing but std.
//!
//! Stage: all of a FastCGI responder's — **accept**, **read request**, a page in place of
//! **call app**, **send headers** and **send body**, **finish** — with no engine and no gateway
//! interface. It uses nothing from rgiref, not even `rgiref::fastcgi::record`, on purpose:
//! every byte in and out is handled here, where you can see it. It is the runnable answer to
//! the thread's "what would be involved to run Python on the web using FCGI without WSGI?"
//!
//! ```text
//!   cargo run --example fastcgi_raw                      # 127.0.0.1:9001, or: -- 127.0.0.1:0
//!   nginx:   location / { include fastcgi_params; fastcgi_pass 127.0.0.1:9001; }
//!            then: curl -i 'http://localhost/hello?x=1'
//!   our FastCGI test client (tests/common/fcgi_client.rs) sends it a request and prints the
//!   records that come back:  cargo test --test fastcgi_raw_example -- --nocapture
//!   or by hand, BEGIN_REQUEST, an empty PARAMS and an empty STDIN, with our raw client:
//!   cargo run --example raw -- --to 127.0.0.1:9001 '\x01\x01\0\x01\0\x08\0\0\0\x01\0\0\0\0\0\0\x01\x04\0\x01\0\0\0\0\x01\x05\0\x01\0\0\0\0'
//! ```
//!
//! What it leaves out, next to `src/fastcgi/`, and why each matters:
//! * **Management records** (GET_VALUES, §4.1; UNKNOWN_TYPE, §4.2): a web server that asks
//!   "how many connections may I open?" has its connection closed instead of an answer.
//! * **KEEP_CONN** (§5.1): every connection closes after one request, which costs a TCP
//!   handshake a request; the real one keeps it while no other connection waits.
//! * **Refusals** (§5.5): a second request on one connection, or a role other than Responder,
//!   should get END_REQUEST with CANT_MPX_CONN or UNKNOWN_ROLE; here the connection just closes
//!   and the browser gets the web server's 502.
//! * **Limits and timeouts**: PARAMS are held whole, however large, and a web server that stops
//!   sending holds the one thread forever, with every other connection waiting behind it.
//! * **Streaming and draining**: the body is read to its end before the page is made; the real
//!   one lets the application read STDIN as it arrives, drains what it left so that the next
//!   request's records come next, and closes lingering, so a reset cannot destroy its last
//!   records before the web server reads them.
//! * **The checks on the response** (`start_response`'s and the engine's): no CR or LF in a
//!   header value (response splitting), `Content-Length` matched against the body, no body for
//!   HEAD, no END_REQUEST for a response cut short, an error page when the application fails.
//! * **Building the environ** (`src/cgi/variables.rs`): the values here are bytes, shown
//!   lossily; an environ's are `String`s made by the byte rule of `src/gateway/environ.rs`,
//!   with `HTTP_PROXY` kept out (httpoxy) and `CONTENT_LENGTH` checked.
//!
//! That list is the lesson. A framework that spoke FastCGI itself would write all of it again,
//! and its applications would be written against its records. The gateway interface is what
//! lets the *application* not care: written once against `Environ` and `StartResponse`, it runs
//! over HTTP, CGI, FastCGI or SCGI, and each transport is written once, with all of the above.

// Side by side: each part here, and its counterpart in rgiref (tests/fastcgi_raw_example.rs
// checks that every file and name on the right still exists).
//
//   here                      rgiref
//   main                      src/fastcgi/mod.rs: Server::bind_with, Server::serve_forever
//                             (which pauses after a failed accept), Server::handle_connection,
//                             Server::allowed (FCGI_WEB_SERVER_ADDRS); the banner is
//                             src/main.rs: serve_fastcgi
//   serve                     src/fastcgi/connection.rs: serve, wait_for_request,
//                             serve_request, read_params, finish
//   read_record               src/fastcgi/record.rs: read_record, Header::parse;
//                             src/fastcgi/wire.rs: Wire::next, Wire::dispatch
//   read_exactly, bad         src/fastcgi/record.rs: read_full, RecordError;
//                             src/fastcgi/wire.rs: Broke, Wire::protocol
//   begin_request             src/fastcgi/wire.rs: Wire::on_begin_request, Wire::end_refused
//   the PARAMS and STDIN arms src/fastcgi/wire.rs: Wire::on_params, Wire::on_stdin; the body
//                             as the application reads it, StdinReader, Wire::drain_stdin
//   parse_pairs, read_length  src/fastcgi/record.rs: parse_pairs, read_length; then the
//                             environ, src/cgi/variables.rs: environ_variables, and
//                             src/fastcgi/connection.rs: run, environ_for
//   page                      the application, called by src/engine/mod.rs: run; its
//                             headers checked by src/gateway/rules.rs: check_header; its
//                             head made by src/engine/response.rs: Response::head, its
//                             length checked by Response::finish; error pages by
//                             src/engine/mod.rs: send_error
//   push_record               src/fastcgi/record.rs: push_record, push_stream; the engine
//                             writes through src/fastcgi/wire.rs: FcgiTransport,
//                             Wire::queue_stream, Wire::write_out
//   respond, then the close   src/fastcgi/wire.rs: Wire::end_request, push_end_request,
//                             Wire::close, Wire::linger

use std::io::{self, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};

// FastCGI 1.0 §8: the values this responder needs, with the specification's names.
const VERSION_1: u8 = 1;
const BEGIN_REQUEST: u8 = 1;
const END_REQUEST: u8 = 3;
const PARAMS: u8 = 4;
const STDIN: u8 = 5;
const STDOUT: u8 = 6;
const RESPONDER: u16 = 1;
const REQUEST_COMPLETE: u8 = 0;

fn main() {
    let address = std::env::args().nth(1).unwrap_or("127.0.0.1:9001".into());
    let listener = TcpListener::bind(&address).unwrap_or_else(|error| {
        eprintln!("fastcgi_raw: cannot listen on {address}: {error}");
        std::process::exit(2)
    });
    let bound = listener.local_addr().map_or(address, |a| a.to_string());
    println!("fastcgi_raw: listening on {bound} (FastCGI, not HTTP; Ctrl+C to quit)");
    // One connection at a time, each to its end: one thread, as in src/fastcgi/mod.rs. The
    // connection closes when `stream` is dropped, at the end of the closure.
    for connection in listener.incoming() {
        let served = connection.and_then(|stream| serve(&stream));
        if let Err(error) = served {
            eprintln!("fastcgi_raw: gave up on a connection: {error}");
        }
    }
}

/// One record, its padding read and gone.
struct Record {
    kind: u8,
    request_id: u16,
    content: Vec<u8>,
}

/// One connection, one request: BEGIN_REQUEST, PARAMS to an empty record, STDIN to an empty
/// record (§6.2), then the response. Any error ends it, and `main` says why.
fn serve(stream: &TcpStream) -> io::Result<()> {
    let mut reader = BufReader::new(stream);
    let id = begin_request(read_record(&mut reader)?)?;
    let mut params = Vec::new();
    let mut body_bytes = 0;
    loop {
        let record = read_record(&mut reader)?;
        if record.request_id != id {
            let other = record.request_id;
            return Err(bad(format!(
                "a record for request {other} while {id} is open"
            )));
        }
        match record.kind {
            PARAMS => params.extend_from_slice(&record.content), // empty: the end of PARAMS
            STDIN if record.content.is_empty() => break,         // empty: the end of the body
            STDIN => body_bytes += record.content.len(),
            other => return Err(bad(format!("a record of type {other} in request {id}"))),
        }
    }
    let pairs = parse_pairs(&params)?;
    respond(stream, id, &page(&pairs, body_bytes))
}

/// Reads one record. Every record starts with this header (FastCGI 1.0 §3.3):
///
/// ```text
///     byte 0    byte 1    byte 2    byte 3    byte 4    byte 5    byte 6    byte 7
///   +---------+---------+-------------------+-------------------+---------+---------+
///   | version |  type   |     requestId     |   contentLength   | padding | reserved|
///   |   = 1   |  1..11  |  B1 (high)   B0   |  B1 (high)   B0   | Length  |         |
///   +---------+---------+-------------------+-------------------+---------+---------+
///   then contentLength bytes of content, then paddingLength bytes to skip.
/// ```
fn read_record(reader: &mut impl Read) -> io::Result<Record> {
    let mut header = [0u8; 8];
    read_exactly(reader, &mut header)?;
    if header[0] != VERSION_1 {
        let shown = header.escape_ascii(); // an HTTP client here sends "GET / HT"
        return Err(bad(format!("not FastCGI: a header of \"{shown}\"")));
    }
    let content_length = usize::from(u16::from_be_bytes([header[4], header[5]]));
    let mut content = vec![0; content_length + usize::from(header[6])];
    read_exactly(reader, &mut content)?; // at most 65535 + 255 bytes
    content.truncate(content_length);
    let request_id = u16::from_be_bytes([header[2], header[3]]);
    Ok(Record {
        kind: header[1],
        request_id,
        content,
    })
}

/// Fills `buf`, or says the request was cut short (a bare "failed to fill whole buffer" would
/// not).
fn read_exactly(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<()> {
    reader.read_exact(buf).map_err(|error| match error.kind() {
        io::ErrorKind::UnexpectedEof => bad("the connection ended before the request".into()),
        _ => error,
    })
}

/// BEGIN_REQUEST (§5.1), content `{role B1, role B0, flags, 5 reserved}`: the request id, if
/// it is a Responder's request. Its KEEP_CONN flag is ignored: this closes after each request.
fn begin_request(record: Record) -> io::Result<u16> {
    let (kind, id) = (record.kind, record.request_id);
    if kind != BEGIN_REQUEST || id == 0 {
        return Err(bad(format!("type {kind}, id {id}: not a BEGIN_REQUEST")));
    }
    let [role_high, role_low, _flags, ..] = record.content[..] else {
        return Err(bad("a BEGIN_REQUEST too short for its role".into()));
    };
    match u16::from_be_bytes([role_high, role_low]) {
        RESPONDER => Ok(id),
        role => Err(bad(format!("role {role}: not a Responder (1)"))),
    }
}

/// Takes the PARAMS stream apart into name-value pairs (§3.4), each length one byte or four:
///
/// ```text
///   0xxxxxxx                              a length of 0 to 127, in one byte
///   1xxxxxxx xxxxxxxx xxxxxxxx xxxxxxxx   a length up to 2^31 - 1: the 31 x bits, big-endian
///
///   a pair:  nameLength  valueLength  nameData[nameLength]  valueData[valueLength]
/// ```
fn parse_pairs(mut stream: &[u8]) -> io::Result<Vec<(&[u8], &[u8])>> {
    let mut pairs = Vec::new();
    while !stream.is_empty() {
        let name_length = read_length(&mut stream)?;
        let value_length = read_length(&mut stream)?;
        if stream.len() < name_length + value_length {
            return Err(bad("a pair longer than the PARAMS left".into()));
        }
        let (name, rest) = stream.split_at(name_length);
        let (value, rest) = rest.split_at(value_length);
        pairs.push((name, value));
        stream = rest;
    }
    Ok(pairs)
}

/// Reads one length off the front of `stream`.
fn read_length(stream: &mut &[u8]) -> io::Result<usize> {
    match **stream {
        [b0, ref rest @ ..] if b0 < 0x80 => {
            *stream = rest;
            Ok(usize::from(b0))
        }
        [b3, b2, b1, b0, ref rest @ ..] => {
            *stream = rest;
            Ok(u32::from_be_bytes([b3 & 0x7f, b2, b1, b0]) as usize)
        }
        _ => Err(bad("PARAMS end inside a pair's length".into())),
    }
}

/// The "application": a CGI response (RFC 3875 §6), head and body, written by hand.
fn page(pairs: &[(&[u8], &[u8])], body_bytes: usize) -> Vec<u8> {
    let mut body = String::from("Hello from a FastCGI responder with no gateway interface.\n\n");
    for name in ["REQUEST_METHOD", "REQUEST_URI", "SERVER_SOFTWARE"] {
        if let Some((_, value)) = pairs.iter().find(|(n, _)| *n == name.as_bytes()) {
            body += &format!("{name} = {:?}\n", String::from_utf8_lossy(value));
        }
    }
    let count = pairs.len();
    body += &format!("\n{count} params in all; a body of {body_bytes} bytes\n");
    let head = "Status: 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n";
    format!("{head}Content-Length: {}\r\n\r\n{body}", body.len()).into_bytes()
}

/// The response as STDOUT records, the empty STDOUT record that ends that stream, and
/// END_REQUEST (§5.5: `{appStatus, 4 bytes; protocolStatus; 3 reserved}`), in one write.
/// Closing the connection afterwards (dropping it) is the last step.
fn respond(mut stream: &TcpStream, id: u16, response: &[u8]) -> io::Result<()> {
    let mut out = Vec::new();
    for piece in response.chunks(65535) {
        push_record(&mut out, STDOUT, id, piece);
    }
    push_record(&mut out, STDOUT, id, b"");
    let end = [0, 0, 0, 0, REQUEST_COMPLETE, 0, 0, 0]; // appStatus 0: a program that exited 0
    push_record(&mut out, END_REQUEST, id, &end);
    stream.write_all(&out)
}

/// Appends one record (at most 65535 content bytes), padded to a multiple of 8 (§3.3).
fn push_record(out: &mut Vec<u8>, kind: u8, id: u16, content: &[u8]) {
    let padding = (8 - content.len() % 8) % 8;
    out.extend_from_slice(&[VERSION_1, kind]);
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&(content.len() as u16).to_be_bytes());
    out.extend_from_slice(&[padding as u8, 0]); // paddingLength, reserved
    out.extend_from_slice(content);
    out.extend_from_slice(&[0; 7][..padding]);
}

/// An error that names what the web server sent wrong.
fn bad(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}
