//! Stage **read request** (and, for bad paths, **build environ**), over real sockets: what the
//! server accepts, what it refuses, and how a refusal looks on the wire and in the log.
//!
//! What a reader learns here:
//! * Every refusal has the same shape: a real status line, a plain-text body that names the
//!   problem and quotes the offending input, a `Content-Length` that matches it, one error line
//!   in the log naming the stage (`read request: 400 Bad Request: …`), and the access-log line.
//!   After it, the server serves the next request as if nothing happened.
//! * Every limit is checked at its edge: a request exactly at the limit passes, one byte (or one
//!   field) more is refused — with the real defaults, and with a small configured `Limits`.
//! * Bytes that can never become a request (a TLS handshake, a method with a `@` in it) are
//!   refused as they arrive, not after waiting for a line end — shown in memory, with a reader
//!   that fails if asked for more, and over a socket.
//! * The old and odd corners: HTTP/0.9 (the body alone, no status line), `HEAD` (headers only),
//!   bare-LF line ends, an empty line before the request line.
//! * Client bytes never reach the log raw: an escape character is logged as `\x1b`, and one
//!   log call is always one line.
//!
//! The application behind these tests never varies its answer, so anything that differs in a
//! response was decided by the server before the application ran.

mod common;

use std::io::Write;

use common::{Response, TestServer};
use rgiref::gateway::{AppError, Body, Environ, StartResponse};
use rgiref::http::Limits;

const BAD_REQUEST: &str = "400 Bad Request";
const READ_REQUEST: &str = "read request";
const BUILD_ENVIRON: &str = "build environ";

/// The application: the same small page for every request.
fn hello(_environ: &mut Environ, start_response: &mut StartResponse) -> Result<Body, AppError> {
    start_response.start("200 OK", [("Content-Type", "text/plain")])?;
    Ok(Body::from("hello\n"))
}

/// Sends `raw` and checks it was refused with `status` ("400 Bad Request") the way every
/// refusal is refused:
///
/// * status line `HTTP/1.0 <status>`, `Content-Type: text/plain; charset=utf-8`, and a
///   `Content-Length` equal to the body's length;
/// * body `<status>: <message>\n`;
/// * log line `<stage>: <status>: <message>`, then the access-log line
///   `"<request line>" <code> <body bytes>` (`"-"` when the request line itself was unreadable);
/// * and the server still answers the next request.
///
/// Returns the message, for the caller to check that it names the problem and quotes the input.
fn assert_refused(
    server: &TestServer,
    raw: &[u8],
    status: &str,
    stage: &str,
    logged_request_line: &str,
) -> String {
    let response = server.request(raw);
    let shown = String::from_utf8_lossy(&response.raw);
    assert_eq!(
        response.status_line,
        format!("HTTP/1.0 {status}"),
        "{shown}"
    );
    assert_eq!(
        response.header("Content-Type"),
        Some("text/plain; charset=utf-8"),
        "{shown}"
    );
    let length = response.body.len().to_string();
    assert_eq!(
        response.header("Content-Length"),
        Some(length.as_str()),
        "{shown}"
    );
    let body = response.body_text();
    let message = body
        .strip_prefix(&format!("{status}: "))
        .and_then(|rest| rest.strip_suffix('\n'))
        .unwrap_or_else(|| panic!("the body is not \"{status}: <message>\\n\": {body:?}"))
        .to_owned();

    // The error line is written before the response is sent.
    let log = server.log_text();
    let error_line = format!("] {stage}: {status}: {message}\n");
    assert!(
        log.contains(&error_line),
        "no {error_line:?} in the log:\n{log}"
    );

    assert_eq!(
        server.ping().status,
        200,
        "the server must serve the next request after a refusal"
    );

    // The access line is checked after the ping: the server is single-threaded, so once the
    // ping is answered the refused connection is finished, drain included. (Whether it is
    // already there when the refused client sees EOF is its own test, below.)
    let log = server.log_text();
    let code = &status[..3];
    let access_line = format!(
        "] \"{logged_request_line}\" {code} {}\n",
        response.body.len()
    );
    assert!(
        log.contains(&access_line),
        "no access line {access_line:?} in the log:\n{log}"
    );
    message
}

/// Asserts `message` contains each of `parts` (the problem's name, the quoted input).
fn assert_names(message: &str, parts: &[&str]) {
    for part in parts {
        assert!(message.contains(part), "{part:?} is not in {message:?}");
    }
}

/// A request line `GET /aaa… HTTP/1.0` exactly `length` bytes long, line end not counted.
fn request_line_of(length: usize) -> String {
    let fixed = "GET / HTTP/1.0".len();
    format!("GET /{} HTTP/1.0", "a".repeat(length - fixed))
}

/// Header lines adding up to exactly `size` bytes when each is counted with its CRLF — the way
/// `Limits::max_header_section` counts them. Two lines, so the sum really is a sum.
fn header_section_of(size: usize) -> String {
    let host = "Host: localhost\r\n";
    let filler = size - host.len() - "X-Filler: \r\n".len();
    format!("{host}X-Filler: {}\r\n", "f".repeat(filler))
}

/// `count` header fields, `X-Field-1: 1` and so on.
fn header_fields(count: usize) -> String {
    (1..=count)
        .map(|n| format!("X-Field-{n}: {n}\r\n"))
        .collect()
}

fn assert_ok(response: &Response) {
    assert_eq!(
        response.status_line,
        "HTTP/1.0 200 OK",
        "{}",
        String::from_utf8_lossy(&response.raw)
    );
    assert_eq!(response.body, b"hello\n");
}

// ---------------------------------------------------------------------------------------------
// The request line.

#[test]
fn a_plain_request_is_answered() {
    let server = common::start(hello);
    assert_ok(&server.request(b"GET / HTTP/1.0\r\n\r\n"));
    assert!(server.log_text().contains("] \"GET / HTTP/1.0\" 200 6\n"));
}

#[test]
fn the_log_is_complete_when_a_refused_client_sees_the_connection_end() {
    // src/server/connection.rs promises that "by the time a client sees the connection end,
    // everything about its request is in the log". A plain request keeps that promise (the
    // test above); a refused one must keep it too. The client reads to EOF and looks at the
    // log while it still holds its socket, as any client may.
    let server = common::start(hello);
    let mut stream = common::connect(server.addr);
    stream.write_all(b"GET  / HTTP/1.0\r\n\r\n").unwrap();
    let response = common::read_response(&mut stream);
    assert_eq!(response.status, 400);
    let log = server.log_text();
    drop(stream);
    let access_line = format!("] \"GET  / HTTP/1.0\" 400 {}\n", response.body.len());
    assert!(
        log.contains(&access_line),
        "no access line {access_line:?} yet, though the client has seen EOF:\n{log}"
    );
}

#[test]
fn double_space_in_the_request_line_is_400() {
    let server = common::start(hello);
    let raw = b"GET  / HTTP/1.0\r\n\r\n";
    let message = assert_refused(&server, raw, BAD_REQUEST, READ_REQUEST, "GET  / HTTP/1.0");
    assert_names(
        &message,
        &[
            "bad request line",
            "\"GET  / HTTP/1.0\"",
            "METHOD SP TARGET SP HTTP/x.y",
        ],
    );
}

#[test]
fn a_method_that_is_not_a_token_is_400() {
    // Refused at the "@", before the rest of the line is read: the message quotes what had
    // arrived, and the access log has "-" for a request line it never saw whole.
    let server = common::start(hello);
    let raw = b"G@T / HTTP/1.0\r\n\r\n";
    let message = assert_refused(&server, raw, BAD_REQUEST, READ_REQUEST, "-");
    assert_names(
        &message,
        &[
            "\"G@\"",
            "method must be a token",
            "'@' cannot be part of one",
        ],
    );
}

#[test]
fn a_malformed_version_is_400() {
    // The version is "HTTP/" DIGIT "." DIGIT, case-sensitive (RFC 9112 §2.3).
    for version in ["HTTP/1", "http/1.0", "HTTP/1.10", "HTTP/1.0 "] {
        let server = common::start(hello);
        let line = format!("GET / {version}");
        let raw = format!("{line}\r\n\r\n");
        let message = assert_refused(&server, raw.as_bytes(), BAD_REQUEST, READ_REQUEST, &line);
        assert_names(&message, &[&format!("\"{line}\"")]);
    }
}

#[test]
fn an_explicit_http_0_9_version_is_400() {
    // HTTP/0.9 is a request line *without* a version; "HTTP/0.9" written out is nonsense.
    let server = common::start(hello);
    let raw = b"GET / HTTP/0.9\r\n\r\n";
    let message = assert_refused(&server, raw, BAD_REQUEST, READ_REQUEST, "GET / HTTP/0.9");
    assert_names(&message, &["\"HTTP/0.9\"", "no version"]);
}

#[test]
fn http_2_and_3_are_505() {
    for version in ["HTTP/2.0", "HTTP/3.0"] {
        let server = common::start(hello);
        let line = format!("GET / {version}");
        let raw = format!("{line}\r\n\r\n");
        let status = "505 HTTP Version Not Supported";
        let message = assert_refused(&server, raw.as_bytes(), status, READ_REQUEST, &line);
        assert_names(&message, &[version, "not supported"]);
    }
}

#[test]
fn a_target_not_starting_with_a_slash_is_400() {
    let server = common::start(hello);
    let raw = b"GET index.html HTTP/1.0\r\n\r\n";
    let line = "GET index.html HTTP/1.0";
    let message = assert_refused(&server, raw, BAD_REQUEST, READ_REQUEST, line);
    assert_names(
        &message,
        &["\"GET index.html HTTP/1.0\"", "must start with /"],
    );
}

#[test]
fn star_target_with_get_is_400() {
    let server = common::start(hello);
    let raw = b"GET * HTTP/1.0\r\n\r\n";
    let message = assert_refused(&server, raw, BAD_REQUEST, READ_REQUEST, "GET * HTTP/1.0");
    assert_names(&message, &["\"GET * HTTP/1.0\"", "only for OPTIONS"]);
}

#[test]
fn star_target_with_options_is_fine() {
    let server = common::start(hello);
    assert_ok(&server.request(b"OPTIONS * HTTP/1.0\r\n\r\n"));
}

#[test]
fn absolute_form_target_is_fine() {
    // RFC 9112 §3.2.2: a server must accept absolute-form, even though only proxies get it.
    let server = common::start(hello);
    assert_ok(&server.request(b"GET http://example.org/a?b HTTP/1.1\r\nHost: example.org\r\n\r\n"));
}

#[test]
fn a_bare_cr_in_the_request_line_is_400() {
    // Some servers end a line at a bare CR and some don't; refusing it leaves no room for two
    // programs to disagree about where the request line ends. The line was never read whole,
    // so the access log has "-" for it.
    let server = common::start(hello);
    let raw = b"GET /a\rb HTTP/1.0\r\n\r\n";
    let message = assert_refused(&server, raw, BAD_REQUEST, READ_REQUEST, "-");
    assert_names(
        &message,
        &["CR that is not followed by LF", "\"GET /a\\x0db HTTP/1.0\""],
    );
}

#[test]
fn a_bare_cr_in_a_header_line_is_400() {
    let server = common::start(hello);
    let raw = b"GET / HTTP/1.0\r\nX-A: 1\r2\r\n\r\n";
    let message = assert_refused(&server, raw, BAD_REQUEST, READ_REQUEST, "GET / HTTP/1.0");
    assert_names(
        &message,
        &["CR that is not followed by LF", "\"X-A: 1\\x0d2\""],
    );
}

#[test]
fn an_http11_request_without_host_is_400() {
    // RFC 9112 §3.2: "A server MUST respond with a 400 (Bad Request) status code to any
    // HTTP/1.1 request message that lacks a Host header field". HTTP/1.0 needs none.
    let server = common::start(hello);
    let raw = b"GET / HTTP/1.1\r\nAccept: */*\r\n\r\n";
    let message = assert_refused(&server, raw, BAD_REQUEST, READ_REQUEST, "GET / HTTP/1.1");
    assert_names(&message, &["must have a Host header"]);
    assert_eq!(server.request(b"GET / HTTP/1.0\r\n\r\n").status, 200);
}

#[test]
fn two_host_headers_are_400() {
    // Joined as "a.example,b.example" they would give the application a host that is neither.
    let server = common::start(hello);
    let raw = b"GET / HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n";
    let message = assert_refused(&server, raw, BAD_REQUEST, READ_REQUEST, "GET / HTTP/1.1");
    assert_names(&message, &["2 Host headers"]);
}

#[test]
fn a_host_that_is_not_a_host_is_400() {
    let server = common::start(hello);
    for host in [
        "evil.example/path",
        "user@evil.example",
        "a.example:80x",
        "[::1",
    ] {
        let raw = format!("GET / HTTP/1.1\r\nHost: {host}\r\n\r\n");
        let message = assert_refused(
            &server,
            raw.as_bytes(),
            BAD_REQUEST,
            READ_REQUEST,
            "GET / HTTP/1.1",
        );
        assert_names(&message, &["bad Host header", &format!("\"{host}\"")]);
    }
}

#[test]
fn an_absolute_form_authority_that_would_be_a_bad_host_header_is_400() {
    // The authority takes the place of Host and becomes HTTP_HOST (RFC 9112 §3.2.2), so a
    // value refused in a Host header is refused here too — and userinfo and an empty host,
    // which RFC 9110 §4.2.4 and §4.2.1 rule out for http URIs, are named in the message.
    let server = common::start(hello);
    for (authority, why) in [
        ("evil.example@good.example", "has userinfo"),
        ("user:secret@example.org", "has userinfo"),
        ("", "has no host"),
        (":8000", "has no host"),
        ("[]:80", "has no host"),
        ("a.example:80x", "is not a host with an optional port"),
        ("[::1", "is not a host with an optional port"),
        ("a.example:80:80", "is not a host with an optional port"),
    ] {
        let line = format!("GET http://{authority}/x HTTP/1.1");
        let raw = format!("{line}\r\nHost: good.example\r\n\r\n");
        let message = assert_refused(&server, raw.as_bytes(), BAD_REQUEST, READ_REQUEST, &line);
        assert_names(
            &message,
            &[&format!("the target's authority \"{authority}\" {why}")],
        );
    }
    // The same values in a Host header: refused as well (an empty Host is allowed by RFC 9112
    // §3.2, but not an http URI with an empty host).
    for authority in ["evil.example@good.example", "a.example:80x", "[::1"] {
        let raw = format!("GET / HTTP/1.1\r\nHost: {authority}\r\n\r\n");
        assert_eq!(
            server.request(raw.as_bytes()).status,
            400,
            "Host: {authority}"
        );
    }
    // An empty path is fine ("/"); so is a host in brackets and a port.
    for target in [
        "http://example.org",
        "http://[::1]:8000?q",
        "https://a.example:443/",
    ] {
        let raw = format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_ok(&server.request(raw.as_bytes()));
    }
}

#[test]
fn a_byte_that_is_not_ascii_in_the_target_is_400() {
    // A URI is ASCII (RFC 3986 §2): a byte above 0x7F must come percent-encoded, even when it
    // is part of valid UTF-8, and the server does not encode it for the client ("SHOULD NOT
    // attempt to autocorrect", RFC 9112 §3). A byte that is not UTF-8 is shown escaped as \xff,
    // in the message and in the access line alike: nothing about the request is lost from the
    // log.
    for (raw, logged, byte) in [
        (
            &b"GET /\xff HTTP/1.0\r\n\r\n"[..],
            "GET /\\xff HTTP/1.0",
            "0xff",
        ),
        (
            "GET /café HTTP/1.0\r\n\r\n".as_bytes(),
            "GET /café HTTP/1.0",
            "0xc3",
        ),
        (
            "GET /?q=é HTTP/1.0\r\n\r\n".as_bytes(),
            "GET /?q=é HTTP/1.0",
            "0xc3",
        ),
    ] {
        let server = common::start(hello);
        let message = assert_refused(&server, raw, BAD_REQUEST, READ_REQUEST, logged);
        assert_names(
            &message,
            &[
                &format!("\"{logged}\""),
                &format!("the byte {byte}, which is not ASCII"),
                "percent-encode it",
            ],
        );
    }
}

#[test]
fn a_fragment_in_the_target_is_400() {
    // RFC 9112 §3.2 has no fragment in a request target: a client keeps `#...` to itself.
    let server = common::start(hello);
    for target in ["/page#top", "/#", "/a?b#c", "http://example.org/x#y"] {
        let line = format!("GET {target} HTTP/1.0");
        let raw = format!("{line}\r\n\r\n");
        let message = assert_refused(&server, raw.as_bytes(), BAD_REQUEST, READ_REQUEST, &line);
        assert_names(&message, &[&format!("\"{line}\""), "fragment", "%23"]);
    }
}

#[test]
fn a_character_a_uri_cannot_hold_is_400_with_its_escape() {
    // RFC 3986 allows only its own characters in a path and query; browsers send a few more
    // as they are (the next test), and percent-encode the rest, which must come encoded.
    let server = common::start(hello);
    for (target, shown, escape) in [
        ("/a\"b", "'\"'", "%22"),
        ("/a<b>", "'<'", "%3C"),
        ("/?q=>", "'>'", "%3E"),
    ] {
        let line = format!("GET {target} HTTP/1.0");
        let raw = format!("{line}\r\n\r\n");
        let message = assert_refused(&server, raw.as_bytes(), BAD_REQUEST, READ_REQUEST, &line);
        assert_names(
            &message,
            &[
                &format!("the target contains {shown}"),
                &format!("percent-encode it, as {escape}"),
            ],
        );
    }
}

#[test]
fn the_characters_browsers_send_unencoded_are_accepted() {
    // RFC 3986 leaves out [ ] ^ | { } \ and `, but a browser following the WHATWG URL Standard
    // sends them as they are (a link to /a|b, a query ?q={x}); refusing them would turn a
    // plain link into a 400. They reach the application unchanged.
    let server = common::start(rgiref::demo::demo_app);
    for target in ["/a|b^c", "/x?q={x}&a[]=1&b=`c`", "/?a\\b"] {
        let response = server.request(format!("GET {target} HTTP/1.0\r\n\r\n").as_bytes());
        assert_eq!(response.status, 200, "{target}: {}", response.body_text());
        let environ = common::demo_environ(&response.body_text());
        assert_eq!(environ["REQUEST_URI"], format!("{target:?}"), "{target}");
    }
}

#[test]
fn every_character_rfc_3986_allows_in_a_target_is_accepted() {
    // unreserved, sub-delims, ":", "@", "/", "?" and "%" in the path and query; "[" "]" in an
    // absolute-form authority, around an IPv6 address.
    let server = common::start(hello);
    for target in [
        "/AZaz09-._~!$&'()*+,;=:@/x?AZaz09-._~!$&'()*+,;=:@/?%zz",
        "http://[::1]:8000/a?b",
        "HTTP://Example.ORG:80/",
    ] {
        let response = server.request(format!("GET {target} HTTP/1.0\r\n\r\n").as_bytes());
        assert_ok(&response);
    }
}

// ---------------------------------------------------------------------------------------------
// Bytes that cannot become a request are refused as they arrive, without waiting for a line end.

/// The TLS record a browser or `curl https://…` sends first: a handshake (0x16), TLS 1.0
/// record version, a length, and the start of a ClientHello. It holds no line feed.
const CLIENT_HELLO: &[u8] = b"\x16\x03\x01\x00\xa5\x01\x00";

/// In memory: a `BufRead` that hands out `bytes`, then fails the next time more are asked
/// for — the way to prove the parser decided from those bytes alone, without waiting.
struct ThenFails {
    bytes: &'static [u8],
    consumed: usize,
}

impl std::io::Read for ThenFails {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = std::io::BufRead::fill_buf(self)?.len().min(buf.len());
        buf[..n].copy_from_slice(&self.bytes[self.consumed..self.consumed + n]);
        self.consumed += n;
        Ok(n)
    }
}

impl std::io::BufRead for ThenFails {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        match &self.bytes[self.consumed..] {
            [] => Err(std::io::Error::other(
                "asked for more bytes than the client sent",
            )),
            rest => Ok(rest),
        }
    }

    fn consume(&mut self, amount: usize) {
        self.consumed += amount;
    }
}

/// What `read_request_head` makes of `bytes` when no more ever arrive.
fn head_from(
    bytes: &'static [u8],
) -> Result<rgiref::http::RequestHead, rgiref::http::RequestError> {
    let mut reader = ThenFails { bytes, consumed: 0 };
    rgiref::http::read_request_head(&mut reader, &Limits::default())
}

fn refusal_of(bytes: &'static [u8]) -> rgiref::http::Refusal {
    match head_from(bytes) {
        Err(rgiref::http::RequestError {
            problem: rgiref::http::Problem::Refused(refusal),
            ..
        }) => refusal,
        other => panic!("{bytes:?}: expected a refusal without more bytes, got {other:?}"),
    }
}

#[test]
fn a_tls_client_hello_is_refused_without_waiting_for_more_bytes() {
    let refusal = refusal_of(CLIENT_HELLO);
    assert_eq!(refusal.status.code, 400);
    assert_names(
        &refusal.message,
        &["\"\\x16\"", "TLS handshake", "use http:// not https://"],
    );
    // The same after the empty lines RFC 9112 §2.2 lets a client send first.
    let refusal = refusal_of(b"\r\n\n\x16\x03\x01");
    assert_names(&refusal.message, &["use http:// not https://"]);
}

#[test]
fn a_byte_no_method_can_hold_is_refused_without_waiting_for_more_bytes() {
    // RFC 9110 §5.6.2: a method is a token. Each of these ends the request at its bad byte.
    for (bytes, quoted, why) in [
        (&b"G@"[..], "\"G@\"", "'@' cannot be part of one"),
        (
            b"GET\t/",
            "\"GET\\x09\"",
            "the byte 0x09 cannot be part of one",
        ),
        (
            b"\xc3\xa9",
            "\"\\xc3\"",
            "the byte 0xc3 cannot be part of one",
        ),
        (b" GET", "\" \"", "starts with a space"),
        (b"GE\rT", "\"GE\\x0dT\"", "CR that is not followed by LF"),
        (b"\r\r", "\"\\x0d\\x0d\"", "CR that is not followed by LF"),
    ] {
        let refusal = refusal_of(bytes);
        assert_eq!(refusal.status.code, 400, "{bytes:?}");
        assert_names(&refusal.message, &[quoted, why]);
    }
}

#[test]
fn bytes_that_can_still_become_a_request_are_waited_for() {
    // The other side of the edge: a method so far, empty lines, or a request line cut short
    // after its method — the parser must ask for more (and here it gets an error instead).
    for bytes in [&b"GE"[..], b"\r\n\r\nGET", b"\n", b"\r", b"GET /x HTTP/1."] {
        match head_from(bytes) {
            Err(error) if matches!(error.problem, rgiref::http::Problem::Io(_)) => {}
            other => panic!("{bytes:?}: expected the parser to wait, got {other:?}"),
        }
    }
}

#[test]
fn a_tls_client_hello_gets_its_400_at_once_over_a_socket() {
    // The client sends the ClientHello and then waits, as a TLS client does, with no line feed
    // sent. The head deadline is 30 s and our read timeout 5 s: a server that waited for a line
    // end would make this read time out.
    let server = common::start_with(hello, |config| {
        config.timeouts.request_head = std::time::Duration::from_secs(30);
    });
    let mut client = common::connect(server.addr);
    client
        .set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    client.write_all(CLIENT_HELLO).unwrap();
    let response = common::read_response(&mut client);
    assert_eq!(response.status_line, "HTTP/1.0 400 Bad Request");
    assert_names(
        &response.body_text(),
        &["TLS handshake", "use http:// not https://"],
    );
    drop(client);
    assert_eq!(server.ping().status, 200);
    let log = server.log_text();
    assert!(log.contains("] \"-\" 400 "), "{log}");
}

// ---------------------------------------------------------------------------------------------
// Header lines.

#[test]
fn whitespace_between_header_name_and_colon_is_400() {
    // RFC 9112 §5.1: a proxy that strips the space and a server that keeps it would disagree
    // about which header this is.
    let server = common::start(hello);
    let raw = b"GET / HTTP/1.0\r\nHost : example.org\r\n\r\n";
    let message = assert_refused(&server, raw, BAD_REQUEST, READ_REQUEST, "GET / HTTP/1.0");
    assert_names(
        &message,
        &[
            "\"Host : example.org\"",
            "whitespace between the name and the colon",
        ],
    );
}

#[test]
fn an_obs_fold_continuation_line_is_400() {
    let server = common::start(hello);
    let raw = b"GET / HTTP/1.0\r\nX-Long: first\r\n  second\r\n\r\n";
    let message = assert_refused(&server, raw, BAD_REQUEST, READ_REQUEST, "GET / HTTP/1.0");
    assert_names(&message, &["\"  second\"", "obsolete line folding"]);
}

#[test]
fn a_header_line_without_a_colon_is_400() {
    let server = common::start(hello);
    let raw = b"GET / HTTP/1.0\r\nNoColonHere\r\n\r\n";
    let message = assert_refused(&server, raw, BAD_REQUEST, READ_REQUEST, "GET / HTTP/1.0");
    assert_names(&message, &["\"NoColonHere\"", "no colon"]);
}

#[test]
fn a_header_name_that_is_not_a_token_is_400() {
    let server = common::start(hello);
    let raw = b"GET / HTTP/1.0\r\nX@Name: 1\r\n\r\n";
    let message = assert_refused(&server, raw, BAD_REQUEST, READ_REQUEST, "GET / HTTP/1.0");
    assert_names(&message, &["\"X@Name: 1\"", "not a token"]);
}

#[test]
fn a_control_character_in_a_header_value_is_400() {
    // \x01, NUL and DEL; a tab is the one control character a value may hold.
    for (raw_value, quoted) in [
        (&b"a\x01b"[..], "\"X-A: a\\x01b\""),
        (b"a\x00b", "\"X-A: a\\x00b\""),
        (b"a\x7fb", "\"X-A: a\\x7fb\""),
    ] {
        let server = common::start(hello);
        let mut raw = b"GET / HTTP/1.0\r\nX-A: ".to_vec();
        raw.extend_from_slice(raw_value);
        raw.extend_from_slice(b"\r\n\r\n");
        let message = assert_refused(&server, &raw, BAD_REQUEST, READ_REQUEST, "GET / HTTP/1.0");
        assert_names(&message, &[quoted, "control character"]);
    }
}

#[test]
fn a_tab_inside_a_header_value_is_fine() {
    let server = common::start(hello);
    assert_ok(&server.request(b"GET / HTTP/1.0\r\nX-A: a\tb\r\n\r\n"));
}

// ---------------------------------------------------------------------------------------------
// Body framing: Content-Length, Transfer-Encoding, Expect.

#[test]
fn conflicting_content_lengths_are_400() {
    // Two lengths for one body is a classic request-smuggling setup (RFC 9112 §6.3).
    let server = common::start(hello);
    let raw = b"POST / HTTP/1.0\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd";
    let message = assert_refused(&server, raw, BAD_REQUEST, READ_REQUEST, "POST / HTTP/1.0");
    assert_names(&message, &["conflicting Content-Length", "\"3, 4\""]);
}

#[test]
fn an_identical_duplicate_content_length_is_accepted() {
    let server = common::start(hello);
    let raw = b"POST / HTTP/1.0\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc";
    assert_ok(&server.request(raw));
}

#[test]
fn a_content_length_that_is_not_a_whole_number_is_400() {
    // `3,` is not a list with an empty element to ignore: Content-Length is a number, not a
    // list (RFC 9110 §8.6), so RFC 9112 §6.3 item 5's 400 applies (see `content_length`).
    for value in [
        "abc",
        "-3",
        "+3",
        "3.0",
        "99999999999999999999",
        "3,",
        ", 3",
        "3,,3",
    ] {
        let server = common::start(hello);
        let raw = format!("POST / HTTP/1.0\r\nContent-Length: {value}\r\n\r\n");
        let line = "POST / HTTP/1.0";
        let message = assert_refused(&server, raw.as_bytes(), BAD_REQUEST, READ_REQUEST, line);
        assert_names(
            &message,
            &[&format!("Content-Length \"{value}\""), "not a whole number"],
        );
    }
}

#[test]
fn content_length_with_transfer_encoding_is_400() {
    let server = common::start(hello);
    let raw = b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
    let message = assert_refused(&server, raw, BAD_REQUEST, READ_REQUEST, "POST / HTTP/1.1");
    assert_names(
        &message,
        &["both Content-Length \"3\" and Transfer-Encoding \"chunked\""],
    );
}

#[test]
fn a_transfer_coding_other_than_chunked_is_501() {
    let server = common::start(hello);
    let raw = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n";
    let status = "501 Not Implemented";
    let message = assert_refused(&server, raw, status, READ_REQUEST, "POST / HTTP/1.1");
    assert_names(&message, &["Transfer-Encoding \"gzip\"", "not supported"]);
}

#[test]
fn transfer_encoding_in_an_http_1_0_request_is_400() {
    // HTTP/1.0 has no Transfer-Encoding; RFC 9112 §6.1 says to treat it as faulty framing.
    let server = common::start(hello);
    let raw = b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
    let message = assert_refused(&server, raw, BAD_REQUEST, READ_REQUEST, "POST / HTTP/1.0");
    assert_names(
        &message,
        &["Transfer-Encoding \"chunked\"", "HTTP/1.0 request"],
    );
}

#[test]
fn a_chunked_upload_from_http_1_1_is_fine() {
    let server = common::start(hello);
    let raw =
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
    assert_ok(&server.request(raw));
}

#[test]
fn post_put_and_patch_without_a_length_are_411() {
    for method in ["POST", "PUT", "PATCH"] {
        let server = common::start(hello);
        let line = format!("{method} /upload HTTP/1.0");
        let raw = format!("{line}\r\n\r\n");
        let status = "411 Length Required";
        let message = assert_refused(&server, raw.as_bytes(), status, READ_REQUEST, &line);
        assert_names(
            &message,
            &[&format!("a {method} request"), "Content-Length"],
        );
    }
}

#[test]
fn get_and_delete_without_a_length_are_fine() {
    let server = common::start(hello);
    assert_ok(&server.request(b"GET /thing HTTP/1.0\r\n\r\n"));
    assert_ok(&server.request(b"DELETE /thing HTTP/1.0\r\n\r\n"));
}

#[test]
fn an_unknown_expectation_from_http_1_1_is_417() {
    let server = common::start(hello);
    let raw =
        b"PUT / HTTP/1.1\r\nHost: x\r\nExpect: something-else\r\nContent-Length: 3\r\n\r\nabc";
    let status = "417 Expectation Failed";
    let message = assert_refused(&server, raw, status, READ_REQUEST, "PUT / HTTP/1.1");
    assert_names(&message, &["\"something-else\"", "unsupported expectation"]);
}

#[test]
fn an_expectation_from_http_1_0_is_ignored() {
    // RFC 9110 §10.1.1: a server must ignore Expect in an HTTP/1.0 request.
    let server = common::start(hello);
    let raw = b"PUT / HTTP/1.0\r\nExpect: something-else\r\nContent-Length: 3\r\n\r\nabc";
    assert_ok(&server.request(raw));
}

// ---------------------------------------------------------------------------------------------
// The path: refused while building the environ, so the log line names that stage.

#[test]
fn a_bad_percent_escape_in_the_path_is_400() {
    let server = common::start(hello);
    let raw = b"GET /a%zz HTTP/1.0\r\n\r\n";
    let message = assert_refused(
        &server,
        raw,
        BAD_REQUEST,
        BUILD_ENVIRON,
        "GET /a%zz HTTP/1.0",
    );
    assert_names(
        &message,
        &["bad path", "\"/a%zz\"", "\"%zz\" is not a percent-escape"],
    );
}

#[test]
fn a_truncated_percent_escape_at_the_end_of_the_path_is_400() {
    let server = common::start(hello);
    let raw = b"GET /100% HTTP/1.0\r\n\r\n";
    let message = assert_refused(
        &server,
        raw,
        BAD_REQUEST,
        BUILD_ENVIRON,
        "GET /100% HTTP/1.0",
    );
    assert_names(&message, &["\"/100%\"", "not a percent-escape"]);
}

#[test]
fn a_nul_escape_in_the_path_is_400() {
    let server = common::start(hello);
    let raw = b"GET /a%00b HTTP/1.0\r\n\r\n";
    let message = assert_refused(
        &server,
        raw,
        BAD_REQUEST,
        BUILD_ENVIRON,
        "GET /a%00b HTTP/1.0",
    );
    assert_names(&message, &["\"/a%00b\"", "%00 (a NUL byte)"]);
}

#[test]
fn a_path_that_is_not_utf8_once_decoded_is_400() {
    // PATH_INFO is decoded once and must be text (src/percent.rs): a byte that is not UTF-8,
    // or a character cut short, cannot become one. The same 400 as the raw bytes would get.
    for (target, escapes) in [
        ("/x%FFy", "\"%FF\""),
        ("/caf%C3", "\"%C3\""),
        ("/%E2%9C/ok", "\"%E2%9C\""),
    ] {
        let server = common::start(hello);
        let line = format!("GET {target} HTTP/1.0");
        let raw = format!("{line}\r\n\r\n");
        let message = assert_refused(&server, raw.as_bytes(), BAD_REQUEST, BUILD_ENVIRON, &line);
        assert_names(
            &message,
            &[
                "bad path",
                &format!("\"{target}\""),
                "not UTF-8 once decoded",
                escapes,
            ],
        );
    }
}

#[test]
fn a_bad_escape_in_the_query_string_is_not_the_servers_business() {
    // QUERY_STRING is passed on undecoded, so the server has nothing to refuse in it.
    let server = common::start(hello);
    assert_ok(&server.request(b"GET /a?x=%zz&y=%00 HTTP/1.0\r\n\r\n"));
}

// ---------------------------------------------------------------------------------------------
// Limits, at their edges. The defaults first, then the same edges with a small `Limits`.
//
// A refused request is written whole before the response is read: the server answers, shuts
// its write side and drains what is left (within bounds), so reading to EOF works.

#[test]
fn the_default_limits_are_the_documented_ones() {
    let limits = Limits::default();
    assert_eq!(limits.max_request_line, 65_536);
    assert_eq!(limits.max_header_fields, 100);
    assert_eq!(limits.max_header_section, 65_536);
}

#[test]
fn request_line_at_the_limit_is_accepted() {
    let server = common::start(hello);
    let line = request_line_of(65_536);
    assert_ok(&server.request(format!("{line}\r\n\r\n").as_bytes()));
}

#[test]
fn request_line_one_byte_over_is_414() {
    // The line was never read whole, so the access log shows "-" for it.
    let server = common::start(hello);
    let line = request_line_of(65_537);
    let raw = format!("{line}\r\n\r\n");
    let message = assert_refused(
        &server,
        raw.as_bytes(),
        "414 URI Too Long",
        READ_REQUEST,
        "-",
    );
    assert_names(&message, &["longer than 65536 bytes"]);
}

#[test]
fn request_line_one_byte_over_with_a_bare_lf_is_still_414() {
    // The reader lets one byte past the limit through for a CR before the LF; without a CR,
    // that byte is part of the line and must still be refused.
    let server = common::start(hello);
    let line = request_line_of(65_537);
    let raw = format!("{line}\n\n");
    assert_refused(
        &server,
        raw.as_bytes(),
        "414 URI Too Long",
        READ_REQUEST,
        "-",
    );
}

#[test]
fn a_hundred_header_fields_are_accepted() {
    let server = common::start(hello);
    let raw = format!("GET / HTTP/1.0\r\n{}\r\n", header_fields(100));
    assert_ok(&server.request(raw.as_bytes()));
}

#[test]
fn a_hundred_and_first_header_field_is_431() {
    let server = common::start(hello);
    let raw = format!("GET / HTTP/1.0\r\n{}\r\n", header_fields(101));
    let status = "431 Request Header Fields Too Large";
    let message = assert_refused(
        &server,
        raw.as_bytes(),
        status,
        READ_REQUEST,
        "GET / HTTP/1.0",
    );
    assert_names(&message, &["more than 100 header fields"]);
}

#[test]
fn header_section_at_the_limit_is_accepted() {
    let server = common::start(hello);
    let section = header_section_of(65_536);
    assert_eq!(section.len(), 65_536);
    assert_ok(&server.request(format!("GET / HTTP/1.0\r\n{section}\r\n").as_bytes()));
}

#[test]
fn header_section_one_byte_over_is_431() {
    let server = common::start(hello);
    let raw = format!("GET / HTTP/1.0\r\n{}\r\n", header_section_of(65_537));
    let status = "431 Request Header Fields Too Large";
    let message = assert_refused(
        &server,
        raw.as_bytes(),
        status,
        READ_REQUEST,
        "GET / HTTP/1.0",
    );
    assert_names(&message, &["header section is larger than 65536 bytes"]);
}

fn start_with_limits(limits: Limits) -> TestServer {
    common::start_with(hello, |config| config.limits = limits)
}

#[test]
fn a_configured_request_line_limit_is_checked_at_its_edge() {
    let server = start_with_limits(Limits {
        max_request_line: 20,
        ..Limits::default()
    });
    assert_ok(&server.request(format!("{}\r\n\r\n", request_line_of(20)).as_bytes()));
    let raw = format!("{}\r\n\r\n", request_line_of(21));
    let message = assert_refused(
        &server,
        raw.as_bytes(),
        "414 URI Too Long",
        READ_REQUEST,
        "-",
    );
    assert_names(&message, &["longer than 20 bytes"]);
}

#[test]
fn empty_lines_before_the_request_line_spend_its_budget() {
    // Otherwise an endless stream of CRLFs would never be cut off. Each empty line counts with
    // its line end: 3 × "\r\n" + 14 bytes = 20 fits; 3 × "\r\n" + 15 bytes does not.
    let server = start_with_limits(Limits {
        max_request_line: 20,
        ..Limits::default()
    });
    assert_ok(&server.request(b"\r\n\r\n\r\nGET / HTTP/1.0\r\n\r\n"));
    let raw = b"\r\n\r\n\r\nGET /a HTTP/1.0\r\n\r\n";
    assert_refused(&server, raw, "414 URI Too Long", READ_REQUEST, "-");
}

#[test]
fn a_configured_header_field_limit_is_checked_at_its_edge() {
    let server = start_with_limits(Limits {
        max_header_fields: 3,
        ..Limits::default()
    });
    assert_ok(&server.request(format!("GET / HTTP/1.0\r\n{}\r\n", header_fields(3)).as_bytes()));
    let raw = format!("GET / HTTP/1.0\r\n{}\r\n", header_fields(4));
    let status = "431 Request Header Fields Too Large";
    let message = assert_refused(
        &server,
        raw.as_bytes(),
        status,
        READ_REQUEST,
        "GET / HTTP/1.0",
    );
    assert_names(&message, &["more than 3 header fields"]);
}

#[test]
fn a_configured_header_section_limit_is_checked_at_its_edge() {
    let server = start_with_limits(Limits {
        max_header_section: 40,
        ..Limits::default()
    });
    let at_limit = header_section_of(40);
    assert_eq!(at_limit.len(), 40);
    assert_ok(&server.request(format!("GET / HTTP/1.0\r\n{at_limit}\r\n").as_bytes()));
    let raw = format!("GET / HTTP/1.0\r\n{}\r\n", header_section_of(41));
    let status = "431 Request Header Fields Too Large";
    let message = assert_refused(
        &server,
        raw.as_bytes(),
        status,
        READ_REQUEST,
        "GET / HTTP/1.0",
    );
    assert_names(&message, &["header section is larger than 40 bytes"]);
}

// ---------------------------------------------------------------------------------------------
// HTTP/0.9: a request line without a version, answered with the body alone.

#[test]
fn http09_get_is_answered_with_the_body_alone() {
    // The client sends one line and then waits: it does not close its write side, and there
    // are no headers to wait for, so the server must answer at once.
    let server = common::start(hello);
    let response = server.request(b"GET /path\r\n");
    assert_eq!(response.raw, b"hello\n", "no status line, no headers");
    assert!(server.log_text().contains("] \"GET /path\" 200 6\n"));
}

#[test]
fn http09_post_is_refused() {
    // HTTP/0.9 had only GET. A client sending "POST /" is not an HTTP/0.9 client, so the
    // refusal is a normal HTTP/1.0 response.
    let server = common::start(hello);
    let message = assert_refused(&server, b"POST /\r\n", BAD_REQUEST, READ_REQUEST, "POST /");
    assert_names(
        &message,
        &["\"POST /\"", "HTTP/0.9 request can only be GET"],
    );
}

#[test]
fn an_http09_refusal_is_the_body_alone_too() {
    let server = common::start(hello);
    let response = server.request(b"GET /a%zz\r\n");
    let text = String::from_utf8_lossy(&response.raw);
    assert!(text.starts_with("400 Bad Request: bad path"), "{text:?}");
    assert!(server
        .log_text()
        .contains("] build environ: 400 Bad Request: bad path"));
    assert_eq!(server.ping().status, 200);
}

// ---------------------------------------------------------------------------------------------
// HEAD: the headers GET would get, and not one body byte.

#[test]
fn head_sends_no_body_and_the_content_length_of_get() {
    let server = common::start(hello);
    let get = server.request(b"GET /page HTTP/1.0\r\n\r\n");
    let head = server.request(b"HEAD /page HTTP/1.0\r\n\r\n");
    assert_eq!(head.status_line, "HTTP/1.0 200 OK");
    assert_eq!(head.body, b"", "no body bytes at all after the empty line");
    assert_eq!(head.header("Content-Length"), Some("6"));
    assert_eq!(head.header("Content-Length"), get.header("Content-Length"));
    assert!(server
        .log_text()
        .contains("] \"HEAD /page HTTP/1.0\" 200 0\n"));
}

#[test]
fn a_refused_head_request_gets_headers_only() {
    let server = common::start(hello);
    let get = server.request(b"GET /a%zz HTTP/1.0\r\n\r\n");
    let head = server.request(b"HEAD /a%zz HTTP/1.0\r\n\r\n");
    assert_eq!(head.status_line, "HTTP/1.0 400 Bad Request");
    assert_eq!(head.body, b"");
    assert_eq!(head.header("Content-Length"), get.header("Content-Length"));
}

#[test]
fn a_head_request_refused_for_a_bad_header_gets_no_body() {
    // The request line was read, so the server knows this is HEAD (RFC 9110 §9.3.2: no content
    // in a response to HEAD), even though a header line after it was bad.
    let server = common::start(hello);
    let head = server.request(b"HEAD / HTTP/1.0\r\nNoColonHere\r\n\r\n");
    assert_eq!(head.status_line, "HTTP/1.0 400 Bad Request");
    assert_eq!(head.body_text(), "", "a response to HEAD carries no body");
}

#[test]
fn a_head_request_gets_no_body_whatever_it_is_refused_for() {
    // RFC 9110 §9.3.2: no content in a response to HEAD — also when the request line was too
    // long to read whole (the reader knows the method from the space after it), when the
    // header section broke a limit, and when the rest of the request line was bad. Each
    // response has the headers the same refusal of a GET has, and the Content-Length of the
    // page it would have had.
    let long_target = format!("/{}", "a".repeat(70_000));
    let cases = [
        ("414", format!(" {long_target} HTTP/1.0\r\n\r\n")),
        ("431", format!(" / HTTP/1.0\r\n{}\r\n", header_fields(101))),
        (
            "431",
            format!(" / HTTP/1.0\r\n{}\r\n", header_section_of(65_537)),
        ),
        ("400", " /a\"b HTTP/1.0\r\n\r\n".to_owned()),
        ("400", "  / HTTP/1.0\r\n\r\n".to_owned()),
        ("400", " / HTTP/1.0\r\nNoColonHere\r\n\r\n".to_owned()),
    ];
    for (status, rest) in cases {
        let server = common::start(hello);
        let get = server.request(format!("GET{rest}").as_bytes());
        let head = server.request(format!("HEAD{rest}").as_bytes());
        let shown = String::from_utf8_lossy(&head.raw);
        assert_eq!(
            get.status.to_string(),
            status,
            "GET{}",
            &rest[..rest.len().min(40)]
        );
        assert_eq!(head.status_line, get.status_line, "{shown}");
        assert!(head.raw.ends_with(b"\r\n\r\n"), "{shown}");
        assert_eq!(
            head.body, b"",
            "a response to HEAD carries no body: {shown}"
        );
        assert!(!get.body.is_empty());
        assert_eq!(head.header("Content-Type"), get.header("Content-Type"));
        // The length of the page a GET would get, where a quoted request line says HEAD.
        let page = get.body_text().replace("\"GET ", "\"HEAD ");
        let length = page.len().to_string();
        assert_eq!(
            head.header("Content-Length"),
            Some(length.as_str()),
            "{shown}"
        );
        // The access line counts the body bytes sent: none.
        assert_eq!(server.ping().status, 200);
        let access_line = format!("\" {status} 0");
        assert!(
            server.log.lines().iter().any(|l| l.ends_with(&access_line)),
            "{}",
            server.log_text()
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Line ends.

#[test]
fn bare_lf_line_endings_are_accepted() {
    // RFC 9112 §2.2 lets a server accept a bare LF as a line end; printf-style clients send it.
    let server = common::start(rgiref::demo::demo_app);
    let response = server.request(b"GET /lf HTTP/1.0\nX-Seen: yes\n\n");
    assert_eq!(response.status, 200);
    let environ = common::demo_environ(&response.body_text());
    assert_eq!(environ["PATH_INFO"], "\"/lf\"");
    assert_eq!(
        environ["HTTP_X_SEEN"], "\"yes\"",
        "the header after a bare LF was read"
    );
}

#[test]
fn an_empty_line_before_the_request_line_is_tolerated() {
    // RFC 9112 §2.2: some old clients send a CRLF after a POST body, before the next request.
    let server = common::start(hello);
    assert_ok(&server.request(b"\r\nGET / HTTP/1.0\r\n\r\n"));
    assert!(server.log_text().contains("] \"GET / HTTP/1.0\" 200 6\n"));
}

// ---------------------------------------------------------------------------------------------
// Log safety: what the client sends cannot paint the terminal or forge log lines.

/// Every log line has the `CLIENT - - [DATE] ` prefix: nothing the client sent split a line.
fn assert_every_log_line_is_one_entry(server: &TestServer) {
    for line in server.log.lines() {
        assert!(
            line.starts_with("127.0.0.1 - - ["),
            "a stray log line: {line:?}"
        );
    }
}

#[test]
fn an_escape_character_in_the_request_line_is_400_and_logged_escaped() {
    let server = common::start(hello);
    let raw = b"GET /\x1b[31mred HTTP/1.0\r\n\r\n";
    let message = assert_refused(
        &server,
        raw,
        BAD_REQUEST,
        READ_REQUEST,
        "GET /\\x1b[31mred HTTP/1.0",
    );
    assert_names(
        &message,
        &["control character", "\"GET /\\x1b[31mred HTTP/1.0\""],
    );
    let log = server.log_text();
    assert!(!log.contains('\x1b'), "a raw ESC reached the log: {log:?}");
    assert!(log.contains("\\x1b[31mred"));
    assert_every_log_line_is_one_entry(&server);
}

#[test]
fn a_bare_cr_cannot_forge_a_log_line() {
    // A terminal shows "\r" as "go back to the start of the line": unescaped, it would let the
    // client overwrite the start of its own log line with a made-up one.
    let server = common::start(hello);
    let raw = b"GET /x\r127.0.0.1 - - [forged] \"GET /admin\" 200 1 HTTP/1.0\r\n\r\n";
    let response = server.request(raw);
    assert_eq!(response.status, 400);
    assert!(!response.body.contains(&b'\r'), "no raw CR in the body");
    let log = server.log_text();
    assert!(!log.contains('\r'), "a raw CR reached the log: {log:?}");
    assert!(log.contains("/x\\x0d127.0.0.1 - - [forged]"));
    assert_every_log_line_is_one_entry(&server);
}
