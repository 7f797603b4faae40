//! The SCGI server (`rgiref::scgi`) over real sockets, driven by a small SCGI client of our own
//! (`tests/common/scgi_client.rs`) that sends what nginx's `scgi_pass` sends.
//!
//! Stage: every one, for the SCGI transport — **accept** (TCP, Unix sockets, stopping),
//! **read request** (the netstring, each way it can be wrong), **build environ** (the same
//! filtering and byte rule as CGI), **call app** to **send body** (big bodies both ways, a
//! panic, a response cut short), **finish** (draining), and the `--scgi` flag of the binary.
//!
//! What a reader learns here:
//! * A well-formed request gets a CGI response (`Status: 200 OK`, headers, body) and the
//!   connection closes: that close is where the response ends.
//! * A malformed header is one log line that says what was wrong, then a close — never a panic,
//!   and the next connection is served as if nothing happened.
//! * Every wait has a timeout, because one thread serves everybody.

mod common;
mod server_process;

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::process::Command;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use common::fuzz::{Campaign, Mutator, Rng};
use common::scgi_client::{
    self as client, exchange, get, get_vars, netstring, pairs, request, CgiResponse, TestScgi,
};
use rgiref::demo::demo_app;
use rgiref::gateway::{AppError, Body, Environ, StartResponse};
use rgiref::log::Log;
use rgiref::scgi::{Address, Config, Limits, Server, Timeouts};
use server_process::{ServerProcess, PATIENCE};

/// A request's variables as `(name, value)` string pairs, for [`request`].
fn borrowed<'a>(vars: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    vars.iter().map(|(n, v)| (*n, v.as_str())).collect()
}

/// The demo page's `KEY = "value"` lines.
fn demo_environ(response: &CgiResponse) -> BTreeMap<String, String> {
    common::demo_environ(&response.body_text())
}

/// Answers `read N bytes` after reading the whole body: busy with the body when it goes wrong.
fn read_whole_body(
    environ: &mut Environ,
    start_response: &mut StartResponse,
) -> Result<Body, AppError> {
    let mut body = Vec::new();
    environ.input.read_to_end(&mut body)?;
    start_response.start("200 OK", [("Content-Type", "text/plain")])?;
    Ok(Body::from(format!("read {} bytes\n", body.len())))
}

/// Sends the body back as it arrives, without holding it.
fn echo(environ: &mut Environ, start_response: &mut StartResponse) -> Result<Body, AppError> {
    let length = environ.content_length();
    start_response.start("200 OK", [("Content-Type", "application/octet-stream")])?;
    Ok(Body::from_reader(environ.take_input(), length))
}

/// `n` bytes that are not all alike, so a lost or swapped block shows.
fn patterned(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i % 251) as u8).collect()
}

/// The server still serves: a normal request after whatever the test did gets its 200.
fn assert_still_serving(server: &TestScgi) {
    let ping = server.ping();
    assert_eq!(ping.status, 200, "{:?}\n{}", ping, server.log_text());
}

/// Runs `work` on a thread and fails the test (instead of hanging the suite) if it has not
/// finished after [`PATIENCE`].
fn finishes(what: &str, work: impl FnOnce() + Send + 'static) {
    let (done, finished) = mpsc::channel();
    let worker = thread::spawn(move || {
        work();
        let _ = done.send(());
    });
    finished
        .recv_timeout(PATIENCE)
        .unwrap_or_else(|_| panic!("{what} did not finish"));
    worker.join().unwrap();
}

// ---------------------------------------------------------------------------------------------
// Requests that work

#[test]
fn a_get_reaches_the_app_with_its_query_and_paths() {
    let server = client::start(demo_app);
    let mut vars = get_vars("/app/hello/w%C3%B6rld?x=1&y=a%20b");
    vars.retain(|(name, _)| *name != "PATH_INFO");
    vars.push(("SCRIPT_NAME", "/app".to_owned()));
    // The web server decodes PATH_INFO once, as for CGI: a UTF-8 path arrives as UTF-8.
    vars.push(("PATH_INFO", "/hello/wörld".to_owned()));
    vars.push(("HTTP_HOST", "example.org".to_owned()));
    let response = server.send(&request(&borrowed(&vars), b""));
    assert_eq!(response.status, 200, "{response:?}");
    assert_eq!(
        response.header("Content-Type"),
        Some("text/plain; charset=utf-8")
    );
    let environ = demo_environ(&response);
    assert_eq!(environ["SCRIPT_NAME"], "\"/app\"");
    assert_eq!(environ["PATH_INFO"], "\"/hello/wörld\"");
    assert_eq!(environ["QUERY_STRING"], "\"x=1&y=a%20b\"", "still encoded");
    assert_eq!(
        environ["REQUEST_URI"],
        "\"/app/hello/w%C3%B6rld?x=1&y=a%20b\""
    );
    assert_eq!(environ["REQUEST_METHOD"], "\"GET\"");
    assert_eq!(environ["HTTP_HOST"], "\"example.org\"");
    assert_eq!(environ["CONTENT_LENGTH"], "\"0\"", "SCGI always sends it");
    assert!(!environ.contains_key("SCGI"), "not a request variable");
    assert_eq!(environ["rgi.multithread"], "false");
    assert_eq!(environ["rgi.multiprocess"], "true");
    assert_eq!(environ["rgi.run_once"], "false");
    assert_eq!(environ["rgi.url_scheme"], "\"http\"");
    // The access line reads like the HTTP server's, with the client the web server names.
    let log = server.log_text();
    let access = log.lines().next().unwrap_or_default();
    assert!(access.starts_with("192.0.2.7 - - ["), "{log}");
    assert!(
        access.contains("] \"GET /app/hello/w%C3%B6rld?x=1&y=a%20b HTTP/1.1\" 200 "),
        "{log}"
    );
}

#[test]
fn https_and_the_byte_rule_as_for_cgi() {
    let server = client::start(demo_app);
    let mut vars = get_vars("/");
    vars.push(("HTTPS", "on".to_owned()));
    let mut raw_vars: Vec<(&[u8], &[u8])> = vec![(b"CONTENT_LENGTH", b"0"), (b"SCGI", b"1")];
    raw_vars.extend(vars.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes())));
    raw_vars.push((b"HTTP_X_NAME", b"caf\xe9")); // not UTF-8: Latin-1
    let response = server.send(&netstring(&pairs(&raw_vars)));
    let environ = demo_environ(&response);
    assert_eq!(environ["rgi.url_scheme"], "\"https\"");
    assert_eq!(environ["HTTP_X_NAME"], "\"café\"");
}

#[test]
fn a_path_that_is_not_utf8_gets_a_400() {
    let server = client::start(demo_app);
    let raw_vars: Vec<(&[u8], &[u8])> = vec![
        (b"CONTENT_LENGTH", b"0"),
        (b"SCGI", b"1"),
        (b"REQUEST_METHOD", b"GET"),
        (b"PATH_INFO", b"/x\xffy"),
    ];
    let response = server.send(&netstring(&pairs(&raw_vars)));
    assert_eq!(response.status, 400, "{response:?}");
    assert!(response.body_text().contains("PATH_INFO is not UTF-8"));
    assert!(server.log_text().contains("build environ: 400 Bad Request"));
    assert_still_serving(&server);
}

#[test]
fn httpoxy_and_the_process_environment_never_reach_the_app() {
    let server = client::start(demo_app);
    let mut vars = get_vars("/");
    vars.push(("HTTP_PROXY", "http://evil.example:8080/".to_owned()));
    vars.push(("PATH", "/usr/bin".to_owned()));
    let response = server.send(&request(&borrowed(&vars), b""));
    assert_eq!(response.status, 200);
    let environ = demo_environ(&response);
    assert!(!environ.contains_key("HTTP_PROXY"), "{environ:?}");
    assert!(!environ.contains_key("PATH"), "{environ:?}");
    let log = server.log_text();
    assert!(log.contains("build environ: left out HTTP_PROXY"), "{log}");
    assert!(log.contains("httpoxy"), "{log}");
}

#[test]
fn a_1_mb_post_is_echoed_byte_for_byte() {
    let server = client::start(echo);
    let body = patterned(1_000_000);
    let mut vars = get_vars("/echo");
    vars[0].1 = "POST".to_owned();
    let raw = request(&borrowed(&vars), &body);
    // The server answers while the body still arrives, so send on another thread: a client
    // that sends everything before reading would deadlock once the socket buffers fill.
    let mut stream = client::connect(server.addr);
    let mut writer = stream.try_clone().unwrap();
    let sender = thread::spawn(move || {
        writer.write_all(&raw).unwrap();
        writer.shutdown(Shutdown::Write).unwrap();
    });
    let response = client::read_to_close(&mut stream);
    sender.join().unwrap();
    assert_eq!(response.status, 200);
    assert_eq!(response.header("Content-Length"), Some("1000000"));
    assert!(response.body == body, "the echo differs from what was sent");
}

#[test]
fn a_1_mb_response_arrives_whole() {
    let server = client::start(|_: &mut Environ, start_response: &mut StartResponse| {
        start_response.start("200 OK", [("Content-Type", "application/octet-stream")])?;
        Ok(Body::from(patterned(1 << 20)))
    });
    let response = server.ping();
    assert_eq!(response.status, 200);
    assert_eq!(response.header("Content-Length"), Some("1048576"));
    assert!(response.body == patterned(1 << 20));
}

#[test]
fn the_body_ends_at_content_length_whatever_follows() {
    let server = client::start(echo);
    let mut raw = request(&[("REQUEST_METHOD", "POST")], b"hello");
    raw.extend_from_slice(b"NOT THE BODY");
    let response = server.send(&raw);
    assert_eq!(response.status, 200);
    assert_eq!(response.body, b"hello");
    assert_still_serving(&server);
}

#[test]
fn an_unread_body_is_drained_so_the_response_arrives() {
    let server = client::start(demo_app); // never reads the body
    let raw = request(&[("REQUEST_METHOD", "POST")], &patterned(500_000));
    let mut stream = client::connect(server.addr);
    let mut writer = stream.try_clone().unwrap();
    let sender = thread::spawn(move || {
        let _ = writer.write_all(&raw);
        let _ = writer.shutdown(Shutdown::Write);
    });
    let response = client::read_to_close(&mut stream);
    sender.join().unwrap();
    assert_eq!(response.status, 200, "no reset ate the response");
    assert!(!server.log_text().contains("stopped reading"));
}

// ---------------------------------------------------------------------------------------------
// Requests that are not SCGI

/// A header of `pairs` (exactly these, nothing added) in a netstring.
fn header_of(vars: &[(&[u8], &[u8])]) -> Vec<u8> {
    netstring(&pairs(vars))
}

#[test]
fn each_malformed_header_is_a_log_line_and_a_close() {
    let good = get("/");
    let cut_at = good.len() / 2;
    let mut no_comma = good.clone();
    let comma = no_comma.iter().position(|&b| b == b',').unwrap();
    no_comma[comma] = b'.';
    let missing_nul = b"24:CONTENT_LENGTH\x000\x00SCGI\x001X,".to_vec();
    let cases: Vec<(&str, Vec<u8>, &str)> = vec![
        (
            "not digits",
            b"abc:x,".to_vec(),
            "must start with the header's length in digits",
        ),
        (
            "over the limit",
            b"70000:".to_vec(),
            "over the limit of 65536",
        ),
        (
            "no colon",
            b"24CONTENT_LENGTH".to_vec(),
            "followed by 'C' instead of ':'",
        ),
        ("missing NUL", missing_nul, "does not end with NUL"),
        (
            "odd number of strings",
            netstring(b"CONTENT_LENGTH\x000\x00SCGI\x001\x00LONELY\x00"),
            "the name \"LONELY\" has no value",
        ),
        (
            "CONTENT_LENGTH not first",
            header_of(&[(b"SCGI", b"1"), (b"CONTENT_LENGTH", b"0")]),
            "the first name must be CONTENT_LENGTH",
        ),
        (
            "CONTENT_LENGTH not digits",
            header_of(&[(b"CONTENT_LENGTH", b"-1"), (b"SCGI", b"1")]),
            "CONTENT_LENGTH is \"-1\", not a whole number",
        ),
        (
            "SCGI missing",
            header_of(&[(b"CONTENT_LENGTH", b"0")]),
            "include scgi_params;",
        ),
        (
            "SCGI not 1",
            header_of(&[(b"CONTENT_LENGTH", b"0"), (b"SCGI", b"2")]),
            "SCGI is \"2\"",
        ),
        (
            "duplicate names",
            header_of(&[
                (b"CONTENT_LENGTH", b"0"),
                (b"SCGI", b"1"),
                (b"REQUEST_METHOD", b"GET"),
                (b"REQUEST_METHOD", b"POST"),
            ]),
            "the name \"REQUEST_METHOD\" appears twice",
        ),
        ("missing comma", no_comma, "instead of ','"),
        (
            "early end of the header",
            good[..cut_at].to_vec(),
            "the connection ended after",
        ),
    ];
    let server = client::start(read_whole_body);
    for (what, raw, expected) in cases {
        server.log.clear();
        let response = server.send(&raw);
        assert!(
            response.raw.is_empty(),
            "{what}: no response, only a close: {response:?}"
        );
        assert_still_serving(&server); // also waits until the case's log line is written
        let log = server.log_text();
        let line = log.lines().next().unwrap_or_default();
        assert!(line.contains("read request: "), "{what}: {log}");
        assert!(
            line.contains(expected),
            "{what}: expected {expected:?} in\n{log}"
        );
        assert_eq!(
            log.lines().count(),
            2,
            "{what}: one line, and the ping's:\n{log}"
        );
    }
}

#[test]
fn a_body_that_ends_before_content_length_is_a_400() {
    let server = client::start(read_whole_body);
    let mut raw = request(&[("REQUEST_METHOD", "POST")], &[b'x'; 100]);
    raw.truncate(raw.len() - 90); // 10 of the 100 body bytes, then the end
    let response = server.send(&raw);
    assert_eq!(response.status, 400, "{response:?}");
    assert!(
        response
            .body_text()
            .contains("the request body ended after 10 of its 100 bytes (CONTENT_LENGTH)"),
        "{response:?}"
    );
    assert_still_serving(&server);
}

#[test]
fn an_http_client_at_the_scgi_port_is_told_so_in_the_log() {
    let server = client::start(demo_app);
    let response = server.send(b"GET / HTTP/1.1\r\nHost: localhost:4000\r\n\r\n");
    assert!(response.raw.is_empty(), "{response:?}");
    assert_still_serving(&server);
    let log = server.log_text();
    assert!(
        log.contains("\"GET / HTTP/1.1\" is HTTP: an HTTP client was pointed at the SCGI port"),
        "{log}"
    );
}

#[test]
fn a_port_check_is_not_an_error() {
    let server = client::start(demo_app);
    drop(TcpStream::connect(server.addr).unwrap());
    assert_still_serving(&server);
    assert_eq!(
        server.log_text().lines().count(),
        1,
        "{}",
        server.log_text()
    );
}

// ---------------------------------------------------------------------------------------------
// Applications that fail

#[test]
fn an_app_panic_is_a_500() {
    let server = client::start(
        |_: &mut Environ, _: &mut StartResponse| -> Result<Body, AppError> {
            panic!("the app exploded");
        },
    );
    let response = server.ping();
    assert_eq!(response.status, 500, "{response:?}");
    assert!(response
        .raw
        .starts_with(b"Status: 500 Internal Server Error\r\n"));
    let log = server.log_text();
    assert!(log.contains("call app: application panicked at "), "{log}");
    assert!(log.contains("the app exploded"), "{log}");
}

#[test]
fn a_response_cut_short_closes_before_its_length() {
    let server = client::start(|_: &mut Environ, start_response: &mut StartResponse| {
        start_response.start("200 OK", [("Content-Length", "100")])?;
        let rows: Vec<Result<String, io::Error>> = vec![
            Ok("id,name\n".to_owned()),
            Err(io::Error::other("the database went away")),
        ];
        Ok(Body::from_fallible_chunks(rows))
    });
    let response = server.ping();
    assert_eq!(response.status, 200);
    assert_eq!(response.header("Content-Length"), Some("100"));
    assert_eq!(response.body, b"id,name\n", "8 of the promised 100 bytes");
    let log = server.log_text();
    assert!(
        log.contains("the body iterator failed: the database went away"),
        "{log}"
    );
    assert!(
        log.contains("response cut short after 8 body bytes"),
        "{log}"
    );
    assert_still_serving(&server);
}

// ---------------------------------------------------------------------------------------------
// Timeouts

#[test]
fn a_header_that_stalls_is_closed_at_the_header_deadline() {
    let server = client::start_with(demo_app, |config| {
        config.timeouts.header = Duration::from_millis(300);
    });
    let mut stalled = client::connect(server.addr);
    stalled.write_all(b"70:CONTENT_LENGTH\x00").unwrap(); // and nothing more
    let response = client::read_to_close(&mut stalled);
    assert!(response.raw.is_empty(), "{response:?}");
    assert_still_serving(&server);
    let log = server.log_text();
    assert!(
        log.contains("read request: the request header did not arrive within 300ms"),
        "{log}"
    );
}

#[test]
fn a_body_that_stalls_gets_408() {
    let server = client::start_with(read_whole_body, |config| {
        config.timeouts.body_read = Duration::from_millis(300);
    });
    let mut raw = request(&[("REQUEST_METHOD", "POST")], &[b'x'; 10]);
    raw.truncate(raw.len() - 7);
    let mut stalled = client::connect(server.addr);
    stalled.write_all(&raw).unwrap(); // 3 of 10 body bytes, and the connection stays open
    let response = client::read_to_close(&mut stalled);
    assert_eq!(response.status, 408, "{response:?}");
    assert!(response
        .body_text()
        .contains("the request body stopped arriving: nothing for 300ms"));
    assert_still_serving(&server);
}

#[test]
fn a_web_server_that_stops_reading_is_abandoned_after_the_write_timeout() {
    const CHUNKS: usize = 800; // 800 × 64 KiB = 50 MiB, far more than the socket buffers hold
    let server = client::start_with(
        |environ: &mut Environ, start_response: &mut StartResponse| {
            start_response.start("200 OK", [])?;
            if environ.path_info() != "/big" {
                return Ok(Body::from("small\n"));
            }
            Ok(Body::from_chunks(
                (0..CHUNKS).map(|_| vec![b'x'; 64 * 1024]),
            ))
        },
        |config| config.timeouts.write = Duration::from_millis(300),
    );
    let mut not_reading = client::connect(server.addr);
    not_reading.write_all(&get("/big")).unwrap();
    // The server fills the buffers, blocks, gives up; then it takes the next connection.
    let ping = client::exchange(server.addr, &get("/"));
    assert_eq!(ping.status, 200);
    let log = server.log_text();
    assert!(log.contains("the web server stopped reading"), "{log}");
    assert!(log.contains("write timeout of 300ms"), "{log}");
    drop(not_reading);
}

#[test]
fn draining_stops_at_its_limit_and_says_so() {
    let server = client::start_with(demo_app, |config| config.max_drain_bytes = 1000);
    let raw = request(&[("REQUEST_METHOD", "POST")], &patterned(200_000));
    let mut stream = client::connect(server.addr);
    let mut writer = stream.try_clone().unwrap();
    let sender = thread::spawn(move || {
        let _ = writer.write_all(&raw); // the server may close before it is all sent
    });
    let _ = client::read_to_close(&mut stream); // the answer may be lost to a reset: said so
    sender.join().unwrap();
    assert_still_serving(&server);
    let log = server.log_text();
    assert!(
        log.contains("finish: stopped reading the web server's unread bytes after 1000 (the drain limit of 1000 bytes); it may see a connection reset"),
        "{log}"
    );
}

#[test]
fn a_zero_timeout_is_refused_when_binding() {
    let config = Config {
        timeouts: Timeouts {
            write: Duration::ZERO,
            ..Timeouts::default()
        },
        log: Log::silent(),
        ..Config::default()
    };
    let error = Server::bind_with("127.0.0.1:0", demo_app, config).err();
    let message = error.map(|e| e.to_string()).unwrap_or_default();
    assert_eq!(
        message,
        "scgi::Config: timeouts.write must be longer than zero"
    );
}

// ---------------------------------------------------------------------------------------------
// Listening and stopping

#[test]
fn stop_is_prompt_and_the_port_is_closed_after() {
    let server = client::start(demo_app);
    assert_still_serving(&server);
    let TestScgi { running, addr, .. } = server;
    finishes("RunningServer::stop", move || running.stop());
    // Refused, or (should the port have been reused meanwhile) not answered by us.
    if let Ok(mut stream) = TcpStream::connect(addr) {
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer);
        assert!(answer.is_empty(), "a stopped server answered: {answer:?}");
    }
}

#[test]
fn handle_connection_serves_exactly_one() {
    let (log, _captured) = Log::capture();
    let config = Config {
        log,
        ..Config::default()
    };
    let server = Server::bind_with("127.0.0.1:0", demo_app, config).unwrap();
    let addr = server.local_addr().tcp().unwrap();
    let mut first = client::connect(addr);
    first.write_all(&get("/first")).unwrap();
    let mut second = client::connect(addr);
    second.write_all(&get("/second")).unwrap();
    server.handle_connection().unwrap();
    let answered = client::read_to_close(&mut first);
    assert_eq!(demo_environ(&answered)["PATH_INFO"], "\"/first\"");
    server.handle_connection().unwrap(); // the second waited in the listen queue
    let answered = client::read_to_close(&mut second);
    assert_eq!(demo_environ(&answered)["PATH_INFO"], "\"/second\"");
}

/// A fresh path for a Unix socket in the temporary directory.
fn socket_path(name: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("rgiref-test-{}-{name}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

/// Sends `raw` over a Unix socket, half-closes, reads to the close.
fn unix_exchange(path: &PathBuf, raw: &[u8]) -> CgiResponse {
    let mut stream = UnixStream::connect(path).unwrap();
    stream
        .set_read_timeout(Some(common::CLIENT_TIMEOUT))
        .unwrap();
    stream.write_all(raw).unwrap();
    stream.shutdown(Shutdown::Write).unwrap();
    client::read_to_close(&mut stream)
}

#[test]
fn a_unix_socket_serves_with_the_mode_it_was_given() {
    let path = socket_path("mode");
    let (log, captured) = Log::capture();
    let config = Config {
        log,
        unix_socket_mode: 0o600,
        ..Config::default()
    };
    let server = Server::bind_unix(&path, demo_app, config).unwrap();
    assert_eq!(server.local_addr(), &Address::Unix(path.clone()));
    assert_eq!(
        server.local_addr().to_string(),
        format!("unix:{}", path.display())
    );
    let mode = std::fs::metadata(&path).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let running = server.spawn().unwrap();
    let mut vars = get_vars("/over/unix");
    vars.retain(|(name, _)| *name != "REMOTE_ADDR");
    let response = unix_exchange(&path, &request(&borrowed(&vars), b""));
    assert_eq!(demo_environ(&response)["PATH_INFO"], "\"/over/unix\"");
    finishes("stopping a Unix-socket server", move || running.stop());
    assert!(!path.exists(), "the socket file is removed with the server");
    assert!(
        captured.text().starts_with("unix - - ["),
        "{}",
        captured.text()
    );
}

#[test]
fn a_stale_socket_file_is_replaced_but_no_other_file() {
    let path = socket_path("stale");
    drop(UnixListener::bind(&path).unwrap()); // a socket file nobody listens on any more
    let config = || Config {
        log: Log::silent(),
        ..Config::default()
    };
    let server = Server::bind_unix(&path, demo_app, config()).unwrap();
    // A live socket is another server's: not stolen.
    let second = Server::bind_unix(&path, demo_app, config())
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        second,
        Some(format!("another server is listening on {}", path.display()))
    );
    drop(server);
    // A regular file is somebody's data.
    std::fs::write(&path, b"precious").unwrap();
    let refused = Server::bind_unix(&path, demo_app, config())
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        refused,
        Some(format!(
            "{} exists and is not a socket; not removing it",
            path.display()
        ))
    );
    assert_eq!(std::fs::read(&path).unwrap(), b"precious");
    std::fs::remove_file(&path).unwrap();
}

// ---------------------------------------------------------------------------------------------
// Randomized: mutated requests never break the server

/// Tokens that mean something to an SCGI parser.
const DICTIONARY: &[&[u8]] = &[
    b"\x00",
    b":",
    b",",
    b"0",
    b"9",
    b"CONTENT_LENGTH\x00",
    b"SCGI\x001\x00",
    b"SCGI\x00",
    b"\x00\x00",
    b"65535:",
    b"GET / HTTP/1.1\r\n",
];

/// Valid requests to start from, and to splice pieces of.
fn corpus() -> Vec<Vec<u8>> {
    vec![
        get("/"),
        get("/a/b?c=d"),
        request(
            &[("REQUEST_METHOD", "POST"), ("CONTENT_TYPE", "text/plain")],
            b"hello world",
        ),
        request(
            &[("REQUEST_METHOD", "PUT"), ("HTTP_X", "caf\u{e9}")],
            &patterned(300),
        ),
    ]
}

/// The in-memory half: `read_head` on mutated input, delivered in small pieces as a socket
/// delivers it, never panics, and a header it accepts obeys every rule.
#[test]
fn the_parser_survives_mutated_headers() {
    let campaign = Campaign::new(
        module_path!(),
        "the_parser_survives_mutated_headers",
        3000,
        1,
    );
    let donors = corpus();
    let mutator = Mutator {
        dictionary: DICTIONARY,
        donors: &donors,
        max_len: 4096,
    };
    let limits = Limits {
        max_header_bytes: 1024,
    };
    for case in 0..campaign.cases {
        let mut rng = campaign.rng(case);
        let (input, trail) = mutated(&mut rng, &donors, &mutator);
        let step = rng.range(1..=64);
        campaign.check(case, &input, &trail, || {
            let mut reader = std::io::BufReader::with_capacity(step, &input[..]);
            let Ok(head) = rgiref::scgi::read_head(&mut reader, &limits) else {
                return Ok(());
            };
            let names: Vec<&[u8]> = head.pairs().map(|(n, _)| n).collect();
            if names.first() != Some(&&b"CONTENT_LENGTH"[..]) || head.get("SCGI") != Some(b"1") {
                return Err(format!("accepted a header that breaks a rule: {names:?}"));
            }
            Ok(())
        });
    }
}

/// The live half: each mutated request gets an answer or a close, and the next normal request
/// is still served.
#[test]
fn the_server_survives_mutated_requests() {
    let campaign = Campaign::new(
        module_path!(),
        "the_server_survives_mutated_requests",
        300,
        10,
    );
    let server = client::start_with(read_whole_body, |config| {
        config.limits = Limits {
            max_header_bytes: 1024,
        };
        // Short, because a broken server costs one of these per case; the client half-closes
        // after sending, so a working server never waits for any of them.
        config.timeouts = Timeouts {
            header: Duration::from_millis(300),
            body_read: Duration::from_millis(300),
            write: Duration::from_secs(1),
            drain: Duration::from_millis(300),
        };
    });
    let donors = corpus();
    let mutator = Mutator {
        dictionary: DICTIONARY,
        donors: &donors,
        max_len: 4096,
    };
    let mut answered = 0;
    for case in 0..campaign.cases {
        let mut rng = campaign.rng(case);
        let (input, trail) = mutated(&mut rng, &donors, &mutator);
        campaign.check(case, &input, &trail, || {
            server.log.clear();
            let answer = exchange(server.addr, &input);
            if !answer.raw.is_empty() && !answer.raw.starts_with(b"Status: ") {
                return Err(format!("not a CGI response: {:?}", answer.raw));
            }
            answered += usize::from(!answer.raw.is_empty());
            let ping = server.ping();
            let log = server.log_text();
            if ping.status != 200 || log.contains("panicked") {
                return Err(format!("the next request got {}; log:\n{log}", ping.status));
            }
            Ok(())
        });
    }
    eprintln!(
        "{} cases, {answered} answered, the rest closed",
        campaign.cases
    );
}

/// A corpus entry, mutated a few times.
fn mutated(rng: &mut Rng, donors: &[Vec<u8>], mutator: &Mutator) -> (Vec<u8>, Vec<String>) {
    let index = rng.below(donors.len());
    let mut input = donors[index].clone();
    let mut trail = vec![format!("corpus[{index}]")];
    let rounds = rng.range(1..=4);
    trail.extend(mutator.havoc(rng, &mut input, rounds));
    (input, trail)
}

// ---------------------------------------------------------------------------------------------
// The binary: `rgiref --scgi ADDR`

/// Starts the binary with `args` and reads the SCGI address from its banner.
fn start_binary(args: &[&str]) -> (ServerProcess, String) {
    let mut command = Command::new(server_process::BINARY);
    command.args(args);
    let process = ServerProcess::spawn(command);
    let banner = process.wait_for_stdout(|text| text.contains("Ctrl+C"), "the SCGI banner");
    assert!(banner.contains("development server"), "{banner}");
    let address = banner
        .split_whitespace()
        .find_map(|word| {
            word.strip_prefix("scgi://")
                .or_else(|| word.strip_prefix("unix:"))
        })
        .unwrap_or_else(|| panic!("no SCGI address in the banner:\n{banner}"))
        .to_owned();
    (process, address)
}

#[test]
fn the_binary_serves_the_demo_over_scgi_on_the_port_it_prints() {
    let (process, address) = start_binary(&["--scgi", "127.0.0.1:0"]);
    let addr: SocketAddr = address.parse().expect("an IP address and port");
    assert_ne!(addr.port(), 0, "the real port");
    let response = exchange(addr, &get("/from/the/binary?x=1"));
    assert_eq!(response.status, 200, "{response:?}");
    let environ = demo_environ(&response);
    assert_eq!(environ["PATH_INFO"], "\"/from/the/binary\"");
    assert_eq!(environ["rgi.multiprocess"], "true");
    let log = process.wait_for_stderr(|t| t.contains("/from/the/binary"), "the access line");
    assert!(
        log.contains("\"GET /from/the/binary?x=1 HTTP/1.1\" 200 "),
        "{log}"
    );
}

#[test]
fn the_binary_serves_scgi_on_a_unix_socket() {
    let path = socket_path("binary");
    let (process, address) = start_binary(&["--scgi", path.to_str().unwrap(), "--quiet"]);
    assert_eq!(address, path.display().to_string());
    let response = unix_exchange(&path, &get("/unix"));
    assert_eq!(demo_environ(&response)["PATH_INFO"], "\"/unix\"");
    drop(process); // killed: the file stays, and the next start replaces it as stale
    let (again, _) = start_binary(&["--scgi", path.to_str().unwrap(), "--quiet"]);
    assert_eq!(unix_exchange(&path, &get("/")).status, 200);
    drop(again);
    let _ = std::fs::remove_file(&path);
}

#[test]
fn a_bad_scgi_address_is_refused() {
    for (args, hint) in [
        (&["--scgi", "nowhere"][..], "--scgi needs HOST:PORT"),
        (&["--scgi"][..], "--scgi needs a value"),
        (
            &["--scgi", "127.0.0.1:0", "--port", "8000"][..],
            "--fastcgi and --scgi take their address themselves",
        ),
    ] {
        let exited = server_process::run_to_exit(args);
        assert_eq!(exited.code, Some(2), "{args:?}: {}", exited.stderr);
        assert!(exited.stderr.starts_with("rgiref: "), "{}", exited.stderr);
        assert!(exited.stderr.contains(hint), "{args:?}: {}", exited.stderr);
        assert!(!exited.stderr.contains("panicked"), "{}", exited.stderr);
    }
}

#[test]
fn an_observer_sees_the_environ_and_the_engines_steps() {
    use rgiref::observe::Event;
    use std::sync::{Arc, Mutex};

    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let record = Arc::clone(&seen);
    let observer = move |event: &Event<'_>| {
        let line = match event {
            Event::Environ { vars } => format!("environ {}", vars["PATH_INFO"]),
            Event::Started { status, .. } => format!("started {status}"),
            Event::BodyWritten { .. } => "body".to_owned(),
            Event::Closed => "closed".to_owned(),
            _ => return,
        };
        record.lock().unwrap().push(line);
    };
    let server = client::start_with(demo_app, |config| {
        config.observer = Some(Arc::new(observer));
    });
    assert_eq!(server.send(&get("/seen")).status, 200);
    server.ping(); // one connection at a time: the first is over
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        &seen[..4],
        ["environ /seen", "started 200 OK", "body", "closed"],
        "{seen:?}"
    );
}

#[test]
fn a_web_server_that_stops_reading_is_dropped_after_about_one_write_timeout() {
    // The HTTP server's stopped-reader case (tests/server_lifecycle.rs), for SCGI: a web
    // server that has been reading a big response stops, but its kernel still takes in a few
    // KiB now and then. Each 64 KiB slice must be taken within Timeouts::write, so that does
    // not count as progress any more.
    let write = Duration::from_secs(1);
    let server = client::start_with(
        |_: &mut Environ, start_response: &mut StartResponse| -> Result<Body, AppError> {
            start_response.start("200 OK", [])?;
            Ok(Body::from_chunks((0..1024).map(|_| vec![b'x'; 64 * 1024]))) // 64 MiB
        },
        |config| config.timeouts.write = write,
    );
    let mut web_server = client::connect(server.addr);
    web_server.write_all(&get("/big")).unwrap();
    let mut buffer = vec![0; 64 * 1024];
    let mut taken = 0;
    while taken < 4 * 1024 * 1024 {
        let n = web_server.read(&mut buffer).unwrap();
        assert!(n > 0, "the response ended early, after {taken} bytes");
        taken += n;
    }
    let stopped = std::time::Instant::now(); // and it reads no more
    let ping = client::exchange(server.addr, &get("/"));
    assert_eq!(ping.status, 200);
    let held = stopped.elapsed();
    println!("a web server that stopped reading held the server {held:?} (write {write:?})");
    // A safety net, not a speed test: the old rule took several timeouts.
    assert!(held < 3 * write, "held {held:?}");
    let log = server.log_text();
    assert!(log.contains("the web server stopped reading"), "{log}");
    drop(web_server);
}
