//! Reading the request body through `environ.input`, over a real socket.
//!
//! Stage: **read request** — its second half, the body, which the application pulls while it
//! runs (and **finish**, which drains what the application left unread).
//!
//! What a reader learns here:
//! * `environ.input` ends exactly where the body ends, whether `Content-Length` or
//!   `Transfer-Encoding: chunked` framed it: read it to the end and you get the body and then
//!   end-of-file, never a read that waits for bytes the client is not going to send.
//! * When the client misbehaves (sends less than it promised, a malformed chunk, nothing at all
//!   for too long) the application's read fails with an `io::Error` whose kind and message say
//!   what happened; an application that gives up with `?` makes the client get a 400 or 408
//!   naming the problem, instead of a 500.
//! * `Expect: 100-continue`: the server says "go ahead" only when the application first reads.
//! * Bytes the application did not read are drained, so the client sees the response rather
//!   than a connection reset.

mod common;

use std::cell::RefCell;
use std::io::{BufRead, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::thread;
use std::time::Duration;

use common::Response;
use rgiref::gateway::{AppError, Body, Environ, Input, StartResponse};
use rgiref::log::Log;
use rgiref::server::{Config, Server};

type AppResult = Result<Body, AppError>;

fn show(response: &Response) -> String {
    String::from_utf8_lossy(&response.raw).into_owned()
}

fn text(start_response: &mut StartResponse, body: String) -> AppResult {
    start_response.start("200 OK", [("Content-Type", "text/plain")])?;
    Ok(Body::from(body))
}

/// Reads the whole body and reports what it saw, including a failed read's kind and message,
/// so the test can look at exactly what an application gets:
///
/// ```text
/// content_length=Some(5)
/// body="hello"
/// ```
/// or, when reading fails, `error=UnexpectedEof: the request body ended …` after the bytes
/// read so far.
fn report_app(environ: &mut Environ, start_response: &mut StartResponse) -> AppResult {
    let mut report = format!("content_length={:?}\n", environ.content_length());
    let mut body = Vec::new();
    let read = environ.input.read_to_end(&mut body);
    report += &format!("body={:?}\n", String::from_utf8_lossy(&body));
    match read {
        Ok(_) => {
            // Reading again at the end is end-of-file again, at once.
            let again = environ.input.read(&mut [0; 16]);
            report += &format!("again={again:?}\n");
        }
        Err(error) => report += &format!("error={:?}: {error}\n", error.kind()),
    }
    text(start_response, report)
}

/// Reads the whole body and gives up with `?` if it cannot: the server then answers for it.
fn strict_app(environ: &mut Environ, start_response: &mut StartResponse) -> AppResult {
    let mut body = String::new();
    environ.input.read_to_string(&mut body)?;
    text(start_response, format!("got {body:?}"))
}

/// Never looks at the body.
fn ignoring_app(_: &mut Environ, start_response: &mut StartResponse) -> AppResult {
    text(start_response, "did not read the body".to_owned())
}

/// `POST /` with a `Content-Length` body, HTTP/1.0.
fn post(body: &[u8]) -> Vec<u8> {
    let mut raw = format!("POST / HTTP/1.0\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
    raw.extend_from_slice(body);
    raw
}

/// The head of an HTTP/1.1 chunked `POST /`; the chunked body follows it.
const CHUNKED_HEAD: &str = "POST / HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked\r\n\r\n";

fn chunked(body: &str) -> Vec<u8> {
    format!("{CHUNKED_HEAD}{body}").into_bytes()
}

/// Reads up to and including the blank line that ends an interim (1xx) response.
fn read_interim(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8];
    while !head.ends_with(b"\r\n\r\n") {
        let n = stream.read(&mut byte).expect("read the interim response");
        assert_eq!(
            n, 1,
            "the server closed before the interim response ended: {head:?}"
        );
        head.push(byte[0]);
    }
    String::from_utf8_lossy(&head).into_owned()
}

// ---------------------------------------------------------------------------------------------
// Content-Length bodies.

#[test]
fn a_content_length_body_is_read_exactly_and_then_ends() {
    let server = common::start(report_app);
    // `request` keeps the socket open after sending: a read past the body would wait forever.
    let response = server.request(&post(b"hello world"));
    assert_eq!(response.status, 200, "{}", show(&response));
    assert_eq!(
        response.body_text(),
        "content_length=Some(11)\nbody=\"hello world\"\nagain=Ok(0)\n"
    );
}

#[test]
fn a_body_sent_in_several_writes_is_read_whole() {
    let server = common::start(report_app);
    let mut client = common::connect(server.addr);
    client.set_nodelay(true).unwrap();
    client
        .write_all(b"PUT /upload HTTP/1.0\r\nContent-Length: 14\r\n\r\n")
        .unwrap();
    for piece in ["first;", "second;", "3"] {
        client.write_all(piece.as_bytes()).unwrap();
    }
    let response = common::read_response(&mut client);
    assert_eq!(
        response.body_text(),
        "content_length=Some(14)\nbody=\"first;second;3\"\nagain=Ok(0)\n"
    );
}

#[test]
fn a_request_without_a_body_has_an_empty_input() {
    let server = common::start(report_app);
    let response = server.request(b"GET / HTTP/1.0\r\n\r\n");
    assert_eq!(
        response.body_text(),
        "content_length=None\nbody=\"\"\nagain=Ok(0)\n"
    );
}

#[test]
fn the_input_reads_line_by_line() {
    let server = common::start(
        |environ: &mut Environ, start_response: &mut StartResponse| {
            let mut lines = Vec::new();
            for line in environ.input.by_ref().lines() {
                lines.push(line?);
            }
            text(start_response, format!("{lines:?}"))
        },
    );
    let response = server.request(&post(b"name=ada\nrole=admin\nlast line, no newline"));
    assert_eq!(
        response.body_text(),
        r#"["name=ada", "role=admin", "last line, no newline"]"#
    );
}

#[test]
fn a_streaming_response_can_read_the_body_while_it_is_sent() {
    let server = common::start(
        |environ: &mut Environ, start_response: &mut StartResponse| {
            let input = environ.take_input();
            start_response.start("200 OK", [("Content-Type", "text/plain")])?;
            let shouted = input
                .lines()
                .map(|line| line.map(|l| l.to_uppercase() + "\n"));
            Ok(Body::from_fallible_chunks(shouted))
        },
    );
    let response = server.request(&post(b"one\ntwo\nthree\n"));
    assert_eq!(response.status, 200, "{}", show(&response));
    assert_eq!(response.body_text(), "ONE\nTWO\nTHREE\n");
}

// ---------------------------------------------------------------------------------------------
// Chunked bodies (HTTP/1.1 clients).

#[test]
fn a_chunked_body_is_decoded_with_extensions_and_trailers() {
    let server = common::start(report_app);
    let response = server.request(&chunked(
        "4;name=value\r\nwiki\r\n5 ; x\r\npedia\r\n0\r\nX-Checksum: 1234\r\n\r\n",
    ));
    assert_eq!(response.status, 200, "{}", show(&response));
    assert_eq!(
        response.body_text(),
        "content_length=None\nbody=\"wikipedia\"\nagain=Ok(0)\n",
        "no CONTENT_LENGTH for a chunked body; the trailer is not part of the body"
    );
}

#[test]
fn a_chunked_body_split_across_writes_is_decoded() {
    let server = common::start(report_app);
    let mut client = common::connect(server.addr);
    client.set_nodelay(true).unwrap();
    client.write_all(CHUNKED_HEAD.as_bytes()).unwrap();
    for piece in ["4\r", "\nwi", "ki\r\n5;x=y\r\nped", "ia\r\n0\r\n", "\r\n"] {
        client.write_all(piece.as_bytes()).unwrap();
    }
    let response = common::read_response(&mut client);
    assert_eq!(
        response.body_text(),
        "content_length=None\nbody=\"wikipedia\"\nagain=Ok(0)\n"
    );
}

#[test]
fn a_malformed_chunk_size_is_invalid_data() {
    let server = common::start(report_app);
    let response = server.request(&chunked("3\r\nabc\r\nzz\r\nmore\r\n0\r\n\r\n"));
    assert_eq!(response.status, 200, "the app handled the error itself");
    assert_eq!(
        response.body_text(),
        "content_length=None\nbody=\"abc\"\nerror=InvalidData: bad chunk size line \"zz\"\n"
    );
}

#[test]
fn an_app_giving_up_on_a_malformed_chunk_makes_a_400_naming_the_problem() {
    let server = common::start(strict_app);
    let response = server.request(&chunked("3\r\nabc\r\nzz\r\n"));
    assert_eq!(
        response.status_line,
        "HTTP/1.0 400 Bad Request",
        "{}",
        show(&response)
    );
    assert_eq!(
        response.body_text(),
        "400 Bad Request: bad chunk size line \"zz\"\n"
    );
    let log = server.log_text();
    assert!(
        log.contains("call app: application error: bad chunk size line \"zz\""),
        "{log}"
    );
}

#[test]
fn chunk_data_longer_than_its_size_is_invalid_data() {
    let server = common::start(report_app);
    let response = server.request(&chunked("3\r\nabcd\r\n0\r\n\r\n"));
    let report = response.body_text();
    assert!(
        report.contains("error=InvalidData: chunk data is longer than its chunk size"),
        "{report}"
    );
}

#[test]
fn a_chunk_size_line_at_the_limit_passes_and_one_byte_more_fails() {
    let server = common::start_with(strict_app, |config| config.limits.max_chunk_line = 8);
    let at_limit = server.request(&chunked("3;abcdef\r\nabc\r\n0\r\n\r\n"));
    assert_eq!(at_limit.status, 200, "{}", show(&at_limit));
    assert_eq!(at_limit.body_text(), "got \"abc\"");
    let over = server.request(&chunked("3;abcdefg\r\nabc\r\n0\r\n\r\n"));
    assert_eq!(over.status, 400, "{}", show(&over));
    assert_eq!(
        over.body_text(),
        "400 Bad Request: a chunk size line is longer than 8 bytes\n"
    );
}

// ---------------------------------------------------------------------------------------------
// A client that stops early: it closes its side, or it stalls.

/// Sends `raw`, then closes the client's sending side (a half-close: it can still read).
fn send_and_half_close(addr: std::net::SocketAddr, raw: &[u8]) -> Response {
    let mut client = common::connect(addr);
    client.write_all(raw).unwrap();
    client.shutdown(Shutdown::Write).unwrap();
    common::read_response(&mut client)
}

#[test]
fn a_body_shorter_than_its_content_length_is_unexpected_eof() {
    let server = common::start(report_app);
    let raw = b"POST / HTTP/1.0\r\nContent-Length: 10\r\n\r\nabc";
    let response = send_and_half_close(server.addr, raw);
    assert_eq!(
        response.body_text(),
        "content_length=Some(10)\nbody=\"abc\"\nerror=UnexpectedEof: the request body ended \
         after 3 of the 10 bytes its Content-Length promised\n"
    );
}

#[test]
fn an_app_giving_up_on_a_short_body_makes_a_400() {
    let server = common::start(strict_app);
    let raw = b"POST / HTTP/1.0\r\nContent-Length: 10\r\n\r\nabc";
    let response = send_and_half_close(server.addr, raw);
    assert_eq!(
        response.status_line,
        "HTTP/1.0 400 Bad Request",
        "{}",
        show(&response)
    );
    assert_eq!(
        response.body_text(),
        "400 Bad Request: the request body ended after 3 of the 10 bytes its Content-Length \
         promised\n"
    );
}

#[test]
fn a_chunked_body_cut_before_its_last_chunk_is_unexpected_eof() {
    let server = common::start(report_app);
    let response = send_and_half_close(server.addr, &chunked("3\r\nabc\r\n"));
    assert_eq!(
        response.body_text(),
        "content_length=None\nbody=\"abc\"\nerror=UnexpectedEof: the chunked request body \
         ended after 3 bytes, before its last chunk\n"
    );
}

const BODY_READ_TIMEOUT: Duration = Duration::from_millis(300);

/// Sends the head and 3 of the 10 promised bytes, then stalls with the socket open until the
/// server answers.
fn send_part_and_stall(addr: std::net::SocketAddr) -> Response {
    let mut client = common::connect(addr);
    client
        .write_all(b"POST / HTTP/1.0\r\nContent-Length: 10\r\n\r\nabc")
        .unwrap();
    common::read_response(&mut client)
}

#[test]
fn a_stalled_body_times_out_for_the_app() {
    let server = common::start_with(report_app, |config| {
        config.timeouts.body_read = BODY_READ_TIMEOUT
    });
    let response = send_part_and_stall(server.addr);
    let report = response.body_text();
    assert!(
        report.starts_with("content_length=Some(10)\nbody=\"abc\"\nerror=TimedOut: "),
        "{report}"
    );
    // The message names the body and the wait that ran out, not just "timed out".
    assert!(
        report.contains("the request body stopped arriving: nothing for 300ms"),
        "{report}"
    );
}

#[test]
fn an_app_giving_up_on_a_stalled_body_makes_a_408_and_the_server_goes_on() {
    let server = common::start_with(strict_app, |config| {
        config.timeouts.body_read = BODY_READ_TIMEOUT
    });
    let response = send_part_and_stall(server.addr);
    assert_eq!(
        response.status_line,
        "HTTP/1.0 408 Request Timeout",
        "{}",
        show(&response)
    );
    assert_eq!(
        response.body_text(),
        "408 Request Timeout: the request body stopped arriving: nothing for 300ms\n"
    );
    let next = server.request(&post(b"next"));
    assert_eq!(next.status, 200, "{}", show(&next));
    assert_eq!(next.body_text(), "got \"next\"");
}

#[test]
fn a_stalled_body_costs_the_next_client_one_timeout_not_a_drain_too() {
    // After a 408 for a slow head the server does not drain; after a 408 for a body that
    // stopped arriving it must not either: the client has had its Timeouts::body_read, and a
    // drain would keep the client queued behind it waiting Timeouts::drain more.
    let drain = Duration::from_secs(5);
    let server = common::start_with(strict_app, |config| {
        config.timeouts.body_read = BODY_READ_TIMEOUT;
        config.timeouts.drain = drain;
    });
    let mut stalled = common::connect(server.addr);
    stalled
        .write_all(b"POST / HTTP/1.0\r\nContent-Length: 10\r\n\r\nabc")
        .unwrap();
    let mut next = common::connect(server.addr);
    next.write_all(&post(b"next")).unwrap();
    let queued = std::time::Instant::now();
    assert_eq!(common::read_response(&mut stalled).status, 408);
    let response = common::read_response(&mut next);
    let waited = queued.elapsed();
    println!("the client behind a stalled body waited {waited:?} (body_read {BODY_READ_TIMEOUT:?}, drain {drain:?})");
    assert_eq!(response.body_text(), "got \"next\"");
    assert!(waited < drain / 2, "waited {waited:?}"); // loosely: no drain
    let log = server.log_text();
    assert!(
        log.contains("call app: application error: the request body stopped arriving")
            && log.contains("\"POST / HTTP/1.0\" 408 "),
        "{log}"
    );
    assert!(
        !log.contains("finish: "),
        "no drain, so nothing about one:\n{log}"
    );
    drop(stalled);
}

/// `Timeouts::body_read` is documented as the wait for the *body*; the head has its own
/// deadline (`request_head`). A head that pauses longer than `body_read`, but arrives well within
/// `request_head`, must still be served.
#[test]
fn the_body_read_timeout_does_not_apply_to_the_request_head() {
    let server = common::start_with(strict_app, |config| {
        config.timeouts.body_read = BODY_READ_TIMEOUT
    });
    let mut client = common::connect(server.addr);
    client.write_all(b"POST / HTTP/1.0\r\n").unwrap();
    // Longer than body_read (300 ms), far shorter than request_head (2 s).
    thread::sleep(BODY_READ_TIMEOUT + Duration::from_millis(200));
    client.write_all(b"Content-Length: 2\r\n\r\nhi").unwrap();
    let response = common::read_response(&mut client);
    assert_eq!(
        response.status_line,
        "HTTP/1.0 200 OK",
        "{}\n{}",
        show(&response),
        server.log_text()
    );
    assert_eq!(response.body_text(), "got \"hi\"");
}

// ---------------------------------------------------------------------------------------------
// Expect: 100-continue (RFC 9110 §10.1.1).

const EXPECT_HEAD: &[u8] =
    b"POST / HTTP/1.1\r\nHost: test\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n";

#[test]
fn continue_is_sent_when_the_app_first_reads_the_body() {
    let server = common::start(strict_app);
    let mut client = common::connect(server.addr);
    client.write_all(EXPECT_HEAD).unwrap();
    // A real client waits here before sending its body; so do we.
    assert_eq!(read_interim(&mut client), "HTTP/1.1 100 Continue\r\n\r\n");
    client.write_all(b"hello").unwrap();
    let response = common::read_response(&mut client);
    assert_eq!(
        response.status_line,
        "HTTP/1.0 200 OK",
        "{}",
        show(&response)
    );
    assert_eq!(response.body_text(), "got \"hello\"");
}

#[test]
fn no_continue_when_the_app_never_reads_the_body() {
    let server = common::start(ignoring_app);
    let mut client = common::connect(server.addr);
    client.write_all(EXPECT_HEAD).unwrap();
    let response = common::read_response(&mut client);
    drop(client); // without ever sending the body
    assert_eq!(
        response.status_line,
        "HTTP/1.0 200 OK",
        "{}",
        show(&response)
    );
    assert!(
        !show(&response).contains("100 Continue"),
        "{}",
        show(&response)
    );
    assert_eq!(response.body_text(), "did not read the body");
    assert_eq!(server.ping().status, 200);
}

#[test]
fn no_continue_once_the_response_has_begun() {
    let server = common::start(
        |environ: &mut Environ, start_response: &mut StartResponse| {
            let mut write = start_response.start("200 OK", [("Content-Type", "text/plain")])?;
            write.write_all(b"started; ")?;
            let mut body = String::new();
            environ.input.read_to_string(&mut body)?;
            Ok(Body::from(format!("then read {body:?}")))
        },
    );
    let mut raw = EXPECT_HEAD.to_vec();
    raw.extend_from_slice(b"hello");
    let response = server.request(&raw);
    assert!(
        response.raw.starts_with(b"HTTP/1.0 200 OK\r\n"),
        "{}",
        show(&response)
    );
    assert!(
        !show(&response).contains("100 Continue"),
        "{}",
        show(&response)
    );
    assert_eq!(response.body_text(), "started; then read \"hello\"");
}

#[test]
fn empty_list_elements_in_expect_are_ignored() {
    // RFC 9110 §5.6.1.2: a recipient ignores empty list elements. So `100-continue,` is a
    // plain 100-continue (not a 417 for the "" after the comma)...
    for value in ["100-continue,", ", 100-continue", "100-continue, ,"] {
        let server = common::start(strict_app);
        let mut client = common::connect(server.addr);
        let head = format!(
            "POST / HTTP/1.1\r\nHost: test\r\nExpect: {value}\r\nContent-Length: 5\r\n\r\n"
        );
        client.write_all(head.as_bytes()).unwrap();
        assert_eq!(
            read_interim(&mut client),
            "HTTP/1.1 100 Continue\r\n\r\n",
            "Expect: {value}"
        );
        client.write_all(b"hello").unwrap();
        let response = common::read_response(&mut client);
        assert_eq!(response.status, 200, "Expect: {value}: {}", show(&response));
        assert_eq!(response.body_text(), "got \"hello\"");
    }
    // ...and an `Expect` with nothing in it asks for nothing: no interim response, no 417.
    for value in ["", ",", " , "] {
        let server = common::start(strict_app);
        let raw = format!(
            "POST / HTTP/1.1\r\nHost: test\r\nExpect:{value}\r\nContent-Length: 5\r\n\r\nhello"
        );
        let response = server.request(raw.as_bytes());
        assert!(
            response.raw.starts_with(b"HTTP/1.0 200 OK\r\n"),
            "Expect:{value}: {}",
            show(&response)
        );
        assert_eq!(response.body_text(), "got \"hello\"");
    }
}

#[test]
fn empty_list_elements_in_transfer_encoding_are_ignored() {
    // RFC 9110 §5.6.1.2 again: `chunked,` is the one coding chunked, and the body is decoded.
    // Two real codings are still two, and only chunked alone is supported.
    for value in ["chunked,", ", chunked", " ,chunked, ,"] {
        let server = common::start(strict_app);
        let raw = format!(
            "POST / HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: {value}\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
        );
        let response = server.request(raw.as_bytes());
        assert_eq!(response.status, 200, "{value:?}: {}", show(&response));
        assert_eq!(response.body_text(), "got \"hello\"");
    }
    let server = common::start(strict_app);
    let raw =
        b"POST / HTTP/1.1\r\nHost: test\r\nTransfer-Encoding: chunked, , chunked\r\n\r\n0\r\n\r\n";
    assert_eq!(server.request(raw).status, 501);
}

#[test]
fn an_http_1_0_clients_expect_is_ignored() {
    let server = common::start(strict_app);
    let raw = b"POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello";
    let response = server.request(raw);
    assert!(
        response.raw.starts_with(b"HTTP/1.0 200 OK\r\n"),
        "{}",
        show(&response)
    );
    assert!(!show(&response).contains("100 Continue"));
    assert_eq!(response.body_text(), "got \"hello\"");
}

// ---------------------------------------------------------------------------------------------
// Stage "finish": what the application left unread is drained.

#[test]
fn an_unread_body_is_drained_so_the_client_gets_the_response() {
    let server = common::start(ignoring_app);
    let body = vec![b'x'; 200 * 1024];
    let mut client = common::connect(server.addr);
    client.write_all(&post(&body)).unwrap();
    let response = common::read_response(&mut client);
    assert_eq!(
        response.status_line,
        "HTTP/1.0 200 OK",
        "{}",
        show(&response)
    );
    assert_eq!(response.body_text(), "did not read the body");
    server.ping();
    let log = server.log_text();
    assert!(!log.contains("stopped reading"), "{log}");
}

#[test]
fn an_unread_body_is_drained_after_a_500_too() {
    let server = common::start(|_: &mut Environ, _: &mut StartResponse| -> AppResult {
        panic!("failed without reading the upload")
    });
    let mut client = common::connect(server.addr);
    client.write_all(&post(&vec![b'x'; 200 * 1024])).unwrap();
    let response = common::read_response(&mut client);
    assert_eq!(response.status, 500, "{}", show(&response));
    assert!(response
        .body_text()
        .starts_with("500 Internal Server Error: "));
}

#[test]
fn a_partly_read_body_is_drained_quietly() {
    let server = common::start(
        |environ: &mut Environ, start_response: &mut StartResponse| {
            let mut first = [0u8; 3];
            environ.input.read_exact(&mut first)?;
            text(
                start_response,
                format!("{:?}", String::from_utf8_lossy(&first)),
            )
        },
    );
    let response = server.request(&post(b"abcdefghij"));
    assert_eq!(response.body_text(), "\"abc\"");
    server.ping();
    assert!(!server.log_text().contains("stopped reading"));
}

#[test]
fn bytes_pipelined_after_the_request_are_drained_too() {
    // An HTTP/1.1 client may send its next request before this one is answered. We answer one
    // request per connection, so those bytes are never read as a request — but closing with
    // them unread in the kernel would reset the connection, and the client could lose the
    // response it is owed. They are drained like an unread body.
    let server = common::start(ignoring_app);
    let mut client = common::connect(server.addr);
    let mut raw = b"GET /first HTTP/1.1\r\nHost: test\r\n\r\n".to_vec();
    raw.extend_from_slice(&post(&vec![b'x'; 512 * 1024]));
    client.write_all(&raw).unwrap();
    let response = common::read_response(&mut client);
    assert_eq!(
        response.status_line,
        "HTTP/1.0 200 OK",
        "{}",
        show(&response)
    );
    assert_eq!(response.body_text(), "did not read the body");
    server.ping();
    assert!(
        !server.log_text().contains("stopped reading"),
        "{}",
        server.log_text()
    );
}

#[test]
fn a_client_still_sending_when_the_drain_time_runs_out_is_logged() {
    // Unlike a client that has stopped (nothing left unread, nothing to say), one that is still
    // trickling its unread body when Timeouts::drain runs out may be sent a reset: logged.
    let server = common::start_with(ignoring_app, |config| {
        config.timeouts.drain = Duration::from_millis(300);
    });
    let mut client = common::connect(server.addr);
    client
        .write_all(b"POST / HTTP/1.0\r\nContent-Length: 100000\r\n\r\n")
        .unwrap();
    let _ = common::read_response(&mut client); // the app answers without reading
    for _ in 0..20 {
        if client.write_all(&[b'x'; 10]).is_err() {
            break; // the server has given up and closed: that is the point
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(client);
    server.ping();
    let log = server.log_text();
    assert!(
        log.contains("finish: stopped reading the client's unread bytes after "),
        "{log}"
    );
    assert!(log.contains("(still arriving after 300ms)"), "{log}");
}

#[test]
fn draining_stops_at_max_drain_bytes_and_says_so() {
    let server = common::start_with(ignoring_app, |config| config.max_drain_bytes = 1000);
    let mut client = common::connect(server.addr);
    let mut raw = post(&vec![b'x'; 4 * 1024 * 1024]);
    // The server gives up after 1000 bytes and closes, so this write may fail: that is the
    // connection reset the log line warns about.
    let _ = client.write_all(&raw);
    let _ = client.read_to_end(&mut raw);
    drop(client);
    server.ping();
    let log = server.log_text();
    assert!(
        log.contains(
            "finish: stopped reading the client's unread bytes after 1000 (the drain limit of \
             1000 bytes)"
        ),
        "{log}"
    );
}

// ---------------------------------------------------------------------------------------------
// The body reader after the response is over.

#[test]
fn a_body_reader_kept_past_its_response_gives_an_error_not_a_panic() {
    // The app keeps the first request's body reader, and tries to read it during the second.
    // `Input` is not `Send`, so this server runs on the test thread, one `handle_request` at a
    // time, while client threads send the requests.
    let kept: RefCell<Option<Input>> = RefCell::new(None);
    let app = move |environ: &mut Environ, start_response: &mut StartResponse| -> AppResult {
        let stale = kept.borrow_mut().take();
        let report = match stale {
            None => {
                *kept.borrow_mut() = Some(environ.take_input());
                "kept the body reader".to_owned()
            }
            Some(mut stale) => match stale.read(&mut [0; 16]) {
                Ok(n) => format!("read {n} bytes"),
                Err(error) => format!("error={:?}: {error}", error.kind()),
            },
        };
        text(start_response, report)
    };
    let (log, _captured) = Log::capture();
    let config = Config {
        log,
        timeouts: common::quick_timeouts(),
        ..Config::default()
    };
    let server = Server::bind_with("127.0.0.1:0", app, config).unwrap();
    let addr = server.local_addr();

    let first = thread::spawn(move || common::request(addr, &post(b"hello")));
    server.handle_request().unwrap();
    // The app still holds the reader (and so the socket), yet the client saw the end.
    let first = first.join().unwrap();
    assert_eq!(first.body_text(), "kept the body reader");

    let second = thread::spawn(move || common::request(addr, b"GET / HTTP/1.0\r\n\r\n"));
    server.handle_request().unwrap();
    let second = second.join().unwrap();
    assert_eq!(second.status, 200, "{}", show(&second));
    let report = second.body_text();
    assert!(report.starts_with("error=Other: "), "{report}");
    assert!(
        report.contains("the response to this request is over"),
        "{report}"
    );
}
