//! The FastCGI responder over real sockets, driven by our own client (`common/fcgi_client.rs`).
//!
//! Stages: all of them, through the FastCGI transport: **accept** (TCP, Unix, who may connect),
//! **read request** (records, PARAMS, STDIN), **build environ**, the engine's stages, and
//! **finish** (END_REQUEST, draining, keeping or closing the connection).
//!
//! Every record type of FastCGI 1.0 a Responder meets has a test here, and so does each way a
//! web server goes wrong: it closes mid-request, stalls mid-record, sends what is not FastCGI,
//! or sends more than the limits allow. The promise is the HTTP server's: a clear log line, a
//! response where one can still be sent, and the next connection served.

mod common;

use std::io::Write;
use std::time::Duration;

use common::fcgi_client::{
    self as fcgi, begin, pair, record, record_with_padding, stream, FcgiRequest, ABORT_REQUEST,
    AUTHORIZER, CANT_MPX_CONN, DATA, END_REQUEST, FILTER, GET_VALUES, GET_VALUES_RESULT, PARAMS,
    REQUEST_COMPLETE, RESPONDER, STDERR, STDIN, STDOUT, UNKNOWN_ROLE, UNKNOWN_TYPE,
};
use rgiref::demo::demo_app;
use rgiref::gateway::{AppError, Body, Environ, StartResponse};

/// Echoes the request body back as it reads it, without holding it all.
fn echo(environ: &mut Environ, start_response: &mut StartResponse) -> Result<Body, AppError> {
    let length = environ.content_length();
    start_response.start("200 OK", [("Content-Type", "application/octet-stream")])?;
    Ok(Body::from_reader(environ.take_input(), length))
}

/// `n` bytes that are not all alike, so a misplaced byte shows.
fn pattern(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 7 % 251) as u8).collect()
}

/// The demo page's `KEY = "value"` lines.
fn demo_environ(reply: &fcgi::Reply) -> std::collections::BTreeMap<String, String> {
    common::demo_environ(&reply.response().body_text())
}

#[test]
fn a_get_is_answered_with_stdout_then_end_request_and_the_connection_closes() {
    let server = fcgi::start(demo_app);
    let mut client = server.connect();
    client.send(&FcgiRequest::get("/hello?x=1").bytes());
    let reply = client.read_reply(1);
    reply.assert_complete();
    let response = reply.response();
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("Content-Type"),
        Some("text/plain; charset=utf-8")
    );
    // A CGI response: Status instead of a status line, no Date or Server (the web server adds them).
    assert!(reply.stdout.starts_with(b"Status: 200 OK\r\n"), "{reply:?}");
    assert_eq!(response.header("Date"), None);
    let environ = demo_environ(&reply);
    assert_eq!(environ["PATH_INFO"], "\"/hello\"");
    assert_eq!(environ["QUERY_STRING"], "\"x=1\"");
    // The last three records: the empty STDOUT, then END_REQUEST; no STDERR was used.
    let kinds: Vec<u8> = reply.records.iter().map(|r| r.kind).collect();
    assert_eq!(&kinds[kinds.len() - 2..], [STDOUT, END_REQUEST]);
    assert_eq!(reply.count(STDERR), 0);
    // No KEEP_CONN: the responder closes after END_REQUEST.
    assert!(client.is_closed_by_server());
    let log = server.log_text();
    assert!(
        log.contains("192.0.2.7 - - ["),
        "the browser's address: {log}"
    );
    assert!(log.contains("\"GET /hello?x=1 HTTP/1.1\" 200 "), "{log}");
}

#[test]
fn replies_carry_the_request_id_received() {
    let server = fcgi::start(demo_app);
    let mut client = server.connect();
    client.send(&FcgiRequest::get("/").id(0x1234).bytes());
    let reply = client.read_reply(0x1234);
    reply.assert_complete();
    assert!(reply.records.iter().all(|r| r.id == 0x1234), "{reply:?}");
}

#[test]
fn keep_conn_serves_several_requests_on_one_connection() {
    let server = fcgi::start(echo);
    let mut client = server.connect();
    for id in 1..=5u16 {
        let body = format!("request {id}");
        client.send(
            &FcgiRequest::post("/", body.as_bytes())
                .id(id)
                .keep()
                .bytes(),
        );
        let reply = client.read_reply(id);
        reply.assert_complete();
        assert_eq!(reply.response().body_text(), body);
    }
    // Still open: a sixth, then we close it ourselves.
    client.send(&FcgiRequest::get("/").id(6).keep().bytes());
    client.read_reply(6).assert_complete();
    drop(client);
    server.ping().assert_complete();
    assert_eq!(
        server.log_text().matches("\"POST / HTTP/1.1\" 200").count(),
        5
    );
}

#[test]
fn params_may_straddle_records_even_inside_a_length() {
    let server = fcgi::start(demo_app);
    for piece in [1, 3, 7, 100] {
        let request = FcgiRequest::get("/split").param("HTTP_X_LONG", &"v".repeat(300));
        let reply = server.request(&request.piece(piece));
        reply.assert_complete();
        let environ = demo_environ(&reply);
        assert_eq!(environ["PATH_INFO"], "\"/split\"", "piece {piece}");
        assert_eq!(environ["HTTP_X_LONG"].len(), 302, "piece {piece}");
    }
}

#[test]
fn names_and_values_of_128_bytes_or_more_use_four_byte_lengths() {
    let server = fcgi::start(demo_app);
    for length in [127usize, 128, 129, 1000, 20_000] {
        let name = format!("HTTP_{}", "N".repeat(length.min(200)));
        let request = FcgiRequest::get("/").param(&name, &"v".repeat(length));
        let sent = pair(name.as_bytes(), "v".repeat(length).as_bytes());
        assert_eq!(sent[0] & 0x80 != 0, name.len() >= 128);
        assert_eq!(
            sent[if name.len() >= 128 { 4 } else { 1 }] & 0x80 != 0,
            length >= 128
        );
        let reply = server.request(&request);
        reply.assert_complete();
        assert_eq!(demo_environ(&reply)[&name].len(), length + 2, "{length}");
    }
}

#[test]
fn params_are_bytes_and_follow_the_byte_rule() {
    let server = fcgi::start(demo_app);
    let mut request = FcgiRequest::get("/");
    request
        .params
        .push((b"HTTP_X_LATIN1".to_vec(), b"caf\xe9".to_vec()));
    let reply = server.request(&request);
    assert_eq!(demo_environ(&reply)["HTTP_X_LATIN1"], "\"café\"");
    // A PATH_INFO that is not UTF-8 cannot be described: 400, and the request still ends.
    let mut request = FcgiRequest::get("/");
    request
        .params
        .push((b"PATH_INFO".to_vec(), b"/x\xffy".to_vec()));
    let reply = server.request(&request);
    reply.assert_complete();
    assert_eq!(reply.response().status, 400);
    assert!(server.log_text().contains("PATH_INFO is not UTF-8"));
}

#[test]
fn params_larger_than_the_limit_get_431_and_the_connection_goes_on() {
    let server = fcgi::start_with(demo_app, |config| config.limits.max_params_bytes = 2000);
    let mut client = server.connect();
    let big = FcgiRequest::get("/big")
        .param("HTTP_COOKIE", &"c".repeat(3000))
        .piece(1000)
        .keep();
    client.send(&big.bytes());
    let reply = client.read_reply(1);
    reply.assert_complete();
    assert_eq!(reply.response().status, 431);
    assert!(reply
        .response()
        .body_text()
        .contains("Limits::max_params_bytes"));
    // Exactly at the limit is fine, on the same connection.
    let mut at_limit = FcgiRequest::get("/").id(2).keep();
    let used = at_limit.params_bytes().len();
    let name = "HTTP_PAD";
    let value_len = 2000 - used - 1 - 4 - name.len(); // 1-byte name length, 4-byte value length
    at_limit = at_limit.param(name, &"p".repeat(value_len));
    assert_eq!(at_limit.params_bytes().len(), 2000);
    client.send(&at_limit.bytes());
    let reply = client.read_reply(2);
    assert_eq!(reply.response().status, 200);
}

#[test]
fn get_values_is_answered_with_only_the_names_asked() {
    let server = fcgi::start(read_body); // waits for STDIN, so a GET_VALUES can come first
    let mut client = server.connect();
    let mut asked = pair(b"FCGI_MAX_CONNS", b"");
    asked.extend(pair(b"FCGI_MPXS_CONNS", b""));
    asked.extend(pair(b"FCGI_SOMETHING_NEW", b""));
    client.send(&record(GET_VALUES, 0, &asked));
    let answer = client.read_record().unwrap();
    assert_eq!((answer.kind, answer.id), (GET_VALUES_RESULT, 0));
    let pairs = answer.pairs();
    assert_eq!(
        pairs,
        [
            ("FCGI_MAX_CONNS".to_owned(), "1".to_owned()),
            ("FCGI_MPXS_CONNS".to_owned(), "0".to_owned())
        ]
    );
    // Any time: also in the middle of a request, between its PARAMS and its STDIN.
    let request = FcgiRequest::get("/").keep();
    client.send(&request.head_bytes());
    client.send(&record(GET_VALUES, 0, &pair(b"FCGI_MAX_REQS", b"")));
    let answer = client.read_record().unwrap();
    assert_eq!(
        answer.pairs(),
        [("FCGI_MAX_REQS".to_owned(), "1".to_owned())]
    );
    client.send(&stream(STDIN, 1, b"", 10));
    client.read_reply(1).assert_complete();
}

#[test]
fn an_unknown_management_record_type_gets_unknown_type() {
    let server = fcgi::start(demo_app);
    let mut client = server.connect();
    for kind in [42u8, 0, STDOUT] {
        client.send(&record(kind, 0, b"whatever"));
        let answer = client.read_record().unwrap();
        assert_eq!((answer.kind, answer.id), (UNKNOWN_TYPE, 0));
        assert_eq!(answer.content, [kind, 0, 0, 0, 0, 0, 0, 0]);
    }
    // And the connection still serves a request.
    client.send(&FcgiRequest::get("/").bytes());
    client.read_reply(1).assert_complete();
}

#[test]
fn a_second_begin_request_gets_cant_mpx_conn_and_the_first_is_served() {
    // The application waits for its body, so the second BEGIN_REQUEST arrives while the first
    // request is being served.
    let server = fcgi::start(read_body);
    let mut client = server.connect();
    let first = FcgiRequest::get("/first").keep();
    client.send(&first.head_bytes());
    let mut second = begin(2, RESPONDER, true);
    second.extend(stream(
        PARAMS,
        2,
        &FcgiRequest::get("/second").params_bytes(),
        500,
    ));
    client.send(&second);
    let refused = client.read_record().unwrap();
    assert_eq!((refused.kind, refused.id), (END_REQUEST, 2));
    assert_eq!(
        refused.end_request().unwrap().protocol_status,
        CANT_MPX_CONN
    );
    // The second request's records are ignored; the first goes on undisturbed.
    client.send(&stream(STDIN, 2, b"ignored", 10));
    client.send(&stream(STDIN, 1, b"", 10));
    let reply = client.read_reply(1);
    reply.assert_complete();
    assert_eq!(reply.response().body_text(), "read 0 bytes\n");
    assert!(server
        .log_text()
        .contains("refused request 2 with CANT_MPX_CONN"));
}

#[test]
fn other_roles_get_unknown_role() {
    let server = fcgi::start(demo_app);
    // An Authorizer request without KEEP_CONN: refused, then the connection closes.
    let mut client = server.connect();
    client.send(&begin(1, AUTHORIZER, false));
    let refused = client.read_reply(1);
    assert_eq!(refused.end.unwrap().protocol_status, UNKNOWN_ROLE);
    assert!(client.is_closed_by_server());
    // A Filter with KEEP_CONN: refused, and the connection serves the next request.
    let mut client = server.connect();
    client.send(&begin(1, FILTER, true));
    client.send(&stream(PARAMS, 1, b"", 1)); // records of a refused request are ignored
    assert_eq!(
        client.read_reply(1).end.unwrap().protocol_status,
        UNKNOWN_ROLE
    );
    client.send(&FcgiRequest::get("/").id(2).bytes());
    client.read_reply(2).assert_complete();
    assert!(server
        .log_text()
        .contains("role 2 (AUTHORIZER); rgiref is a Responder only"));
}

/// An app that reads the whole body (and so is waiting for STDIN when things happen).
fn read_body(environ: &mut Environ, start_response: &mut StartResponse) -> Result<Body, AppError> {
    common::read_whole_body(environ, start_response)
}

#[test]
fn abort_request_ends_the_request_with_exactly_one_end_request() {
    let server = fcgi::start(read_body);
    // While the application reads the body.
    let mut client = server.connect();
    let request = FcgiRequest::post("/", &[b'x'; 1000]).keep();
    client.send(&request.head_bytes());
    client.send(&record(STDIN, 1, &[b'x'; 100]));
    client.send(&record(ABORT_REQUEST, 1, b""));
    let reply = client.read_reply(1);
    assert_eq!(reply.end.unwrap().protocol_status, REQUEST_COMPLETE);
    assert_eq!(reply.count(END_REQUEST), 1);
    assert!(
        reply.stdout.is_empty(),
        "nothing for an aborted request: {reply:?}"
    );
    // Before the application started: during the PARAMS.
    client.send(&begin(2, RESPONDER, true));
    client.send(&record(PARAMS, 2, &pair(b"REQUEST_METHOD", b"GET")));
    client.send(&record(ABORT_REQUEST, 2, b""));
    let reply = client.read_reply(2);
    assert_eq!(reply.records.len(), 1, "only END_REQUEST: {reply:?}");
    // A late record of an aborted request is ignored, and the connection serves the next one.
    client.send(&record(STDIN, 2, b"late"));
    client.send(&FcgiRequest::get("/").id(3).bytes());
    let reply = client.read_reply(3);
    reply.assert_complete();
    assert_eq!(reply.records.iter().filter(|r| r.id != 3).count(), 0);
    let log = server.log_text();
    assert!(
        log.contains("the web server aborted request 1 (ABORT_REQUEST)"),
        "{log}"
    );
}

#[test]
fn eof_mid_body_is_one_log_line_and_the_next_connection_is_served() {
    let server = fcgi::start(read_body);
    let mut client = server.connect();
    client.send(&FcgiRequest::post("/upload", &[b'x'; 1000]).head_bytes());
    client.send(&record(STDIN, 1, &[b'x'; 100]));
    drop(client);
    server.ping().assert_complete();
    let log = server.log_text();
    let errors: Vec<&str> = log.lines().filter(|l| !l.contains("\" ")).collect();
    assert_eq!(errors.len(), 1, "one line for the abort: {log}");
    assert!(
        errors[0].contains("the web server closed the connection after sending 100 bytes"),
        "{log}"
    );
    assert!(log.contains("\"POST /upload HTTP/1.1\" - 0"), "{log}");
}

#[test]
fn eof_mid_params_is_one_log_line() {
    let server = fcgi::start(demo_app);
    let mut client = server.connect();
    client.send(&begin(7, RESPONDER, false));
    client.send(&record(PARAMS, 7, &pair(b"REQUEST_METHOD", b"GET")));
    drop(client);
    server.ping().assert_complete();
    let log = server.log_text();
    assert_eq!(log.lines().count(), 2, "{log}"); // that line, and the ping's access line
    assert!(
        log.contains("read request: the web server closed the connection in the middle of request 7's PARAMS"),
        "{log}"
    );
}

#[test]
fn a_web_server_that_leaves_mid_response_is_one_log_line() {
    let big = |_: &mut Environ, start_response: &mut StartResponse| -> Result<Body, AppError> {
        start_response.start("200 OK", [("Content-Type", "text/plain")])?;
        Ok(Body::from_chunks((0..2000).map(|_| vec![b'z'; 10_000])))
    };
    let server = fcgi::start(big);
    let mut client = server.connect();
    client.send(&FcgiRequest::get("/big").bytes());
    client.read_record().unwrap(); // the response has begun
    drop(client); // with unread bytes: a reset
    server.ping().assert_complete();
    let log = server.log_text();
    let errors: Vec<&str> = log.lines().filter(|l| !l.contains("\" ")).collect();
    assert_eq!(errors.len(), 1, "{log}");
    assert!(errors[0].contains("the client went away after"), "{log}");
    assert!(
        errors[0].contains("the web server closed the connection"),
        "{log}"
    );
}

/// Sends `bytes` on a new connection and expects the responder to close it without a reply,
/// with a log line containing `hint`; then checks the next connection is served.
fn assert_refused(server: &fcgi::FcgiServer, bytes: &[u8], hint: &str) {
    server.log.clear();
    let mut client = server.connect();
    client.send(bytes);
    while let Some(rec) = client.read_record() {
        assert!(
            rec.kind != STDOUT || rec.content.is_empty(),
            "a response: {rec:?}"
        );
    }
    server.ping().assert_complete();
    let log = server.log_text();
    assert!(log.contains(hint), "expected {hint:?} in the log:\n{log}");
}

#[test]
fn malformed_records_are_logged_and_the_connection_closed() {
    let server = fcgi::start(read_body);
    let mut version_2 = record(fcgi::BEGIN_REQUEST, 1, &[0, 1, 0, 0, 0, 0, 0, 0]);
    version_2[0] = 2;
    assert_refused(&server, &version_2, "a record with version 2, not 1");
    assert_refused(
        &server,
        &record(fcgi::BEGIN_REQUEST, 1, &[0, 1, 0]),
        "a BEGIN_REQUEST for request 1 with 3 content bytes; it must have 8",
    );
    let mut early_stdin = begin(1, RESPONDER, false);
    early_stdin.extend(record(STDIN, 1, b"body before the params end"));
    assert_refused(
        &server,
        &early_stdin,
        "a STDIN record for request 1 before its PARAMS had ended",
    );
    let mut stdout_from_web_server = FcgiRequest::get("/").head_bytes();
    stdout_from_web_server.extend(record(STDOUT, 1, b"?"));
    assert_refused(
        &server,
        &stdout_from_web_server,
        "a record of type 6 (STDOUT) for request 1; a web server never sends one",
    );
    let mut twice = FcgiRequest::get("/").head_bytes();
    twice.extend(begin(1, RESPONDER, false));
    assert_refused(&server, &twice, "a second BEGIN_REQUEST for request 1");
    let mut bad_pairs = begin(1, RESPONDER, false);
    bad_pairs.extend(stream(PARAMS, 1, b"\x05\x01ab", 100));
    bad_pairs.extend(stream(STDIN, 1, b"", 1));
    // Malformed pairs inside well-formed records: the request gets a 400.
    let mut client = server.connect();
    client.send(&bad_pairs);
    let reply = client.read_reply(1);
    assert_eq!(reply.response().status, 400);
    assert!(reply.response().body_text().contains("malformed PARAMS"));
}

#[test]
fn a_record_cut_short_by_the_connection_is_logged() {
    let server = fcgi::start(demo_app);
    let half_header = &begin(1, RESPONDER, false)[..5];
    let mut client = server.connect();
    client.send(half_header);
    drop(client);
    server.ping().assert_complete();
    let log = server.log_text();
    assert!(
        log.contains("the connection ended in the middle of a record (header: 5 of 8 bytes)"),
        "{log}"
    );
}

#[test]
fn http_sent_to_the_fastcgi_port_gets_an_http_answer_and_a_helpful_log_line() {
    let server = fcgi::start(demo_app);
    let fcgi::FcgiServer { address, .. } = &server;
    let rgiref::fastcgi::Address::Tcp(address) = address else {
        unreachable!()
    };
    let response = common::request(*address, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(response.status, 400);
    assert!(
        response
            .body_text()
            .contains("This port speaks FastCGI, not HTTP"),
        "{response:?}"
    );
    assert_eq!(
        response.header("Content-Length"),
        Some(response.body.len().to_string().as_str())
    );
    server.ping().assert_complete();
    let log = server.log_text();
    assert!(log.contains("the start of an HTTP request"), "{log}");
    assert!(log.contains("\"GET / HT\""), "the bytes are quoted: {log}");
    assert!(
        log.contains("unsupported FastCGI protocol version: 72"),
        "{log}"
    );
}

#[test]
fn a_megabyte_of_stdin_is_echoed_back() {
    let server = fcgi::start(echo);
    let body = pattern(1024 * 1024);
    for piece in [65535, 8000] {
        let mut client = server.connect();
        let request = FcgiRequest::post("/echo", &body).piece(piece);
        // Send from another thread: the echo answers while it reads, and a client that only
        // wrote would fill both sockets' buffers and wait forever.
        let mut sender = client.try_clone();
        let bytes = request.bytes();
        let sending = std::thread::spawn(move || sender.send(&bytes));
        let reply = client.read_reply(1);
        sending.join().unwrap();
        reply.assert_complete();
        let response = reply.response();
        assert_eq!(response.body.len(), body.len(), "piece {piece}");
        assert!(
            response.body == body,
            "the bytes came back changed (piece {piece})"
        );
    }
}

#[test]
fn a_megabyte_response_is_split_into_records_of_at_most_65535_bytes() {
    let big = |_: &mut Environ, start_response: &mut StartResponse| -> Result<Body, AppError> {
        start_response.start("200 OK", [("Content-Type", "application/octet-stream")])?;
        Ok(Body::from(pattern(1024 * 1024)))
    };
    let server = fcgi::start(big);
    let reply = server.ping();
    reply.assert_complete();
    let stdout: Vec<&fcgi::Rec> = reply.records.iter().filter(|r| r.kind == STDOUT).collect();
    assert!(stdout.iter().all(|r| r.content.len() <= 65535));
    assert!(stdout.len() >= 17, "{} STDOUT records", stdout.len());
    assert!(stdout.iter().any(|r| r.content.len() == 65535));
    assert!(reply.response().body == pattern(1024 * 1024));
}

#[test]
fn a_streamed_upload_without_content_length_is_read_to_the_empty_stdin_record() {
    let server = fcgi::start(read_body);
    // nginx with fastcgi_request_buffering off and a chunked request: CONTENT_LENGTH is empty.
    let request = FcgiRequest::get("/")
        .param("REQUEST_METHOD", "POST")
        .param("CONTENT_LENGTH", "")
        .body(&pattern(100_000))
        .piece(4096);
    let reply = server.request(&request);
    assert_eq!(reply.response().body_text(), "read 100000 bytes\n");
}

#[test]
fn a_body_shorter_than_its_content_length_is_a_400() {
    let server = fcgi::start(read_body);
    let request = FcgiRequest::post("/", &[b'x'; 100]).body(&[b'x'; 10]);
    let reply = server.request(&request);
    reply.assert_complete();
    assert_eq!(reply.response().status, 400);
    assert!(reply
        .response()
        .body_text()
        .contains("the request body ended after 10 of its 100 bytes (CONTENT_LENGTH)"));
}

#[test]
fn stdin_past_content_length_is_not_given_to_the_application() {
    let server = fcgi::start(read_body);
    let mut client = server.connect();
    let request = FcgiRequest::post("/", b"12345").body(b"1234567890").keep();
    client.send(&request.bytes());
    assert_eq!(
        client.read_reply(1).response().body_text(),
        "read 5 bytes\n"
    );
    // The rest was drained up to the empty STDIN record: the connection is in step.
    client.send(&FcgiRequest::get("/").id(2).bytes());
    client.read_reply(2).assert_complete();
}

#[test]
fn unread_stdin_is_drained_before_the_next_request_on_a_kept_connection() {
    let server = fcgi::start(demo_app); // never reads the body
    let mut client = server.connect();
    let request = FcgiRequest::post("/", &pattern(200_000)).keep();
    let mut sender = client.try_clone();
    let bytes = request.bytes();
    let sending = std::thread::spawn(move || sender.send(&bytes));
    client.read_reply(1).assert_complete();
    sending.join().unwrap();
    client.send(&FcgiRequest::get("/next").id(2).keep().bytes());
    let reply = client.read_reply(2);
    assert_eq!(demo_environ(&reply)["PATH_INFO"], "\"/next\"");
}

#[test]
fn unread_stdin_past_the_drain_limit_closes_the_connection_after_end_request() {
    let server = fcgi::start_with(demo_app, |config| config.limits.max_drain_bytes = 10_000);
    let mut client = server.connect();
    let request = FcgiRequest::post("/", &pattern(200_000)).keep();
    let mut sender = client.try_clone();
    let bytes = request.bytes();
    let sending = std::thread::spawn(move || {
        let _ = sender.try_send(&bytes); // the responder may close before it has all
    });
    let reply = client.read_reply(1);
    reply.assert_complete();
    assert!(client.is_closed_by_server());
    sending.join().unwrap();
    let log = server.log_text();
    assert!(
        log.contains("more than the drain limit of 10000 bytes"),
        "{log}"
    );
}

#[test]
fn a_kept_connection_is_closed_after_its_idle_timeout() {
    let server = fcgi::start_with(demo_app, |config| {
        config.timeouts.keep_conn_idle = Duration::from_millis(200)
    });
    let mut client = server.connect();
    client.send(&FcgiRequest::get("/").keep().bytes());
    client.read_reply(1).assert_complete();
    // We send nothing more; the responder gives the connection up.
    assert!(client.is_closed_by_server());
    let log = server.log_text();
    assert!(
        log.contains("closed a kept connection after 200ms without a new request"),
        "{log}"
    );
}

#[test]
fn a_waiting_connection_ends_an_idle_kept_one() {
    // An idle timeout far beyond the client's patience: only the "someone is waiting" rule
    // can get the second connection served in time.
    let server = fcgi::start_with(demo_app, |config| {
        config.timeouts.keep_conn_idle = Duration::from_secs(60)
    });
    let mut kept = server.connect();
    kept.send(&FcgiRequest::get("/kept").keep().bytes());
    kept.read_reply(1).assert_complete();
    let reply = server.request(&FcgiRequest::get("/other"));
    reply.assert_complete();
    assert!(kept.is_closed_by_server());
}

#[test]
fn a_connection_that_sends_nothing_is_closed_after_first_record() {
    let server = fcgi::start(demo_app);
    let mut client = server.connect();
    assert!(client.is_closed_by_server());
    let log = server.log_text();
    assert!(
        log.contains("closed a connection that sent no BEGIN_REQUEST within 500ms"),
        "{log}"
    );
}

#[test]
fn a_web_server_that_stalls_mid_record_times_out() {
    let server = fcgi::start_with(demo_app, |config| {
        config.timeouts.params = Duration::from_millis(200)
    });
    let mut client = server.connect();
    client.send(&begin(1, RESPONDER, false));
    client.send(&record(PARAMS, 1, &pair(b"REQUEST_METHOD", b"GET"))[..10]);
    assert!(client.is_closed_by_server());
    let log = server.log_text();
    assert!(
        log.contains("request 1's PARAMS did not end within 200ms (Timeouts::params)"),
        "{log}"
    );
}

#[test]
fn environ_errors_become_stderr_records_before_end_request() {
    let chatty =
        |environ: &mut Environ, start_response: &mut StartResponse| -> Result<Body, AppError> {
            writeln!(environ.errors, "line one")?;
            write!(environ.errors, "line two")?;
            start_response.start("200 OK", [])?;
            Ok(Body::from("ok"))
        };
    let server = fcgi::start(chatty);
    let reply = server.ping();
    reply.assert_complete();
    assert_eq!(reply.stderr_text(), "line one\nline two\n");
    let kinds: Vec<u8> = reply.records.iter().map(|r| r.kind).collect();
    // The empty STDOUT and the empty STDERR end both streams, then END_REQUEST.
    assert_eq!(&kinds[kinds.len() - 3..], [STDOUT, STDERR, END_REQUEST]);
    assert!(reply
        .records
        .iter()
        .any(|r| r.kind == STDERR && r.content.is_empty()));
    // Config::stderr_to_log (the default): our own log has them too.
    assert!(server.log_text().contains("] line one\n"));
}

#[test]
fn an_app_panic_is_a_500_in_stdout_then_end_request() {
    let panics = |_: &mut Environ, _: &mut StartResponse| -> Result<Body, AppError> {
        panic!("boom in the app")
    };
    let server = fcgi::start_with(panics, |config| config.stderr_to_log = false);
    let mut client = server.connect();
    client.send(&FcgiRequest::get("/").keep().bytes());
    let reply = client.read_reply(1);
    reply.assert_complete();
    assert_eq!(reply.response().status, 500);
    assert!(reply.stderr_text().contains("panicked at"), "{reply:?}");
    assert!(reply.stderr_text().contains("boom in the app"));
    // The connection is kept: the next request is served.
    client.send(&FcgiRequest::get("/").id(2).bytes());
    assert_eq!(client.read_reply(2).response().status, 500);
}

#[test]
fn a_response_cut_short_closes_the_connection_without_end_request() {
    let fails =
        |environ: &mut Environ, start_response: &mut StartResponse| -> Result<Body, AppError> {
            start_response.start("200 OK", [("Content-Type", "text/plain")])?;
            if environ.path_info() == "/ping" {
                return Ok(Body::from("pong"));
            }
            let chunks: Vec<Result<&str, std::io::Error>> = vec![
                Ok("first part\n"),
                Err(std::io::Error::other("the database went away")),
            ];
            Ok(Body::from_fallible_chunks(chunks))
        };
    let server = fcgi::start(fails);
    let mut client = server.connect();
    client.send(&FcgiRequest::get("/").keep().bytes());
    let reply = client.read_reply(1);
    assert!(reply.closed, "closed, even with KEEP_CONN: {reply:?}");
    assert_eq!(reply.end, None, "no END_REQUEST for a broken response");
    assert!(reply.stdout.ends_with(b"first part\n"));
    assert!(reply.stderr_text().contains("the database went away"));
    server.ping().assert_complete();
}

#[test]
fn records_for_other_ids_data_and_odd_padding_are_taken_in_stride() {
    let server = fcgi::start(echo);
    let mut client = server.connect();
    let request = FcgiRequest::post("/", b"hello").keep();
    let mut bytes = begin(1, RESPONDER, true);
    bytes.extend(record(STDIN, 9, b"for nobody")); // §3.3: an inactive id is ignored
    for (name, value) in &request.params {
        let pair = pair(name, value);
        bytes.extend(record_with_padding(PARAMS, 1, &pair, 255)); // any padding is skipped
    }
    bytes.extend(record_with_padding(PARAMS, 1, b"", 3));
    bytes.extend(record(DATA, 1, b"a Filter's data; a Responder has none"));
    bytes.extend(record_with_padding(STDIN, 1, b"hello", 0));
    bytes.extend(record(STDIN, 1, b""));
    client.send(&bytes);
    let reply = client.read_reply(1);
    reply.assert_complete();
    assert_eq!(reply.response().body_text(), "hello");
}

#[test]
fn the_environ_says_one_thread_several_processes() {
    let server = fcgi::start(demo_app);
    let environ = demo_environ(&server.ping());
    assert_eq!(environ["rgi.multithread"], "false");
    assert_eq!(environ["rgi.multiprocess"], "true");
    assert_eq!(environ["rgi.run_once"], "false");
    assert_eq!(environ["rgi.url_scheme"], "\"http\"");
    let https = server.request(&FcgiRequest::get("/").param("HTTPS", "on"));
    assert_eq!(demo_environ(&https)["rgi.url_scheme"], "\"https\"");
}

#[test]
fn only_this_requests_params_reach_the_environ() {
    let server = fcgi::start(demo_app);
    let mut client = server.connect();
    let first = FcgiRequest::get("/")
        .param("HTTP_COOKIE", "secret=1")
        .param("HTTP_PROXY", "http://evil.example/")
        .keep();
    client.send(&first.bytes());
    let environ = demo_environ(&client.read_reply(1));
    assert!(environ.contains_key("HTTP_COOKIE"));
    assert!(!environ.contains_key("HTTP_PROXY"), "httpoxy");
    client.send(&FcgiRequest::get("/").id(2).bytes());
    let environ = demo_environ(&client.read_reply(2));
    assert!(
        !environ.contains_key("HTTP_COOKIE"),
        "nothing from the request before"
    );
    assert!(server.log_text().contains("left out HTTP_PROXY"));
}

#[test]
fn a_unix_socket_serves_and_its_file_goes_with_the_server() {
    let path = fcgi::socket_path("serve");
    let _ = std::fs::remove_file(&path);
    let server = fcgi::start_unix(demo_app, &path);
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o660);
    let reply = server.ping();
    reply.assert_complete();
    assert!(server.log_text().starts_with("192.0.2.7 - - ["));
    drop(server);
    assert!(!path.exists(), "the socket file is removed");
}

#[test]
fn a_stale_socket_file_is_replaced_and_anything_else_is_refused() {
    let path = fcgi::socket_path("stale");
    let _ = std::fs::remove_file(&path);
    drop(std::os::unix::net::UnixListener::bind(&path).unwrap()); // leaves the file behind
    assert!(path.exists());
    let server = fcgi::start_unix(demo_app, &path);
    server.ping().assert_complete();
    // While it listens, a second server cannot take the path.
    let taken = rgiref::fastcgi::Server::bind_unix(&path, demo_app)
        .err()
        .unwrap();
    assert!(
        taken.to_string().contains("another server is listening"),
        "{taken}"
    );
    drop(server);
    std::fs::write(&path, b"not a socket").unwrap();
    let refused = rgiref::fastcgi::Server::bind_unix(&path, demo_app)
        .err()
        .unwrap();
    assert!(
        refused.to_string().contains("exists and is not a socket"),
        "{refused}"
    );
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn fcgi_web_server_addrs_closes_connections_from_anyone_else() {
    let server = fcgi::start_with(demo_app, |config| {
        config.web_server_addrs = Some(vec!["192.0.2.1".parse().unwrap()]);
    });
    let mut client = server.connect();
    client.send(&FcgiRequest::get("/").bytes());
    assert!(client.is_closed_by_server());
    let log = server.log_text();
    assert!(
        log.contains("accept: closed a connection from 127.0.0.1: it is not in FCGI_WEB_SERVER_ADDRS (192.0.2.1)"),
        "{log}"
    );
    let allowed = fcgi::start_with(demo_app, |config| {
        config.web_server_addrs = Some(vec!["::ffff:127.0.0.1".parse().unwrap()]);
    });
    allowed.ping().assert_complete();
}

#[test]
fn a_stopped_server_closes_its_idle_kept_connection_promptly() {
    let server = fcgi::start_with(demo_app, |config| {
        config.timeouts.keep_conn_idle = Duration::from_secs(60)
    });
    let mut kept = server.connect();
    kept.send(&FcgiRequest::get("/").keep().bytes());
    kept.read_reply(1).assert_complete();
    server.running.stop(); // joins the thread: it must not wait the 60 s out
    assert!(kept.is_closed_by_server());
}

#[test]
fn an_input_kept_past_its_request_cannot_read_the_next_requests_body() {
    use std::cell::RefCell;
    use std::io::Read;
    thread_local! {
        static KEPT: RefCell<Option<rgiref::gateway::Input>> = const { RefCell::new(None) };
    }
    let keeper =
        |environ: &mut Environ, start_response: &mut StartResponse| -> Result<Body, AppError> {
            start_response.start("200 OK", [])?;
            let Some(mut old) = KEPT.with(|kept| kept.borrow_mut().take()) else {
                KEPT.with(|kept| *kept.borrow_mut() = Some(environ.take_input()));
                return Ok(Body::from("kept it"));
            };
            let answer = match old.read(&mut [0u8; 100]) {
                Ok(n) => format!("read {n} bytes of someone else's body"),
                Err(error) => error.to_string(),
            };
            Ok(Body::from(answer))
        };
    let server = fcgi::start(keeper);
    let mut client = server.connect();
    client.send(&FcgiRequest::post("/", b"first").keep().bytes());
    assert_eq!(client.read_reply(1).response().body_text(), "kept it");
    client.send(&FcgiRequest::post("/", b"second, private").id(2).bytes());
    let reply = client.read_reply(2);
    assert!(
        reply
            .response()
            .body_text()
            .starts_with("the request body can no longer be read"),
        "{reply:?}"
    );
}

#[test]
fn an_observer_sees_each_record_in_and_out_and_the_engines_steps() {
    use rgiref::observe::Event;
    use std::sync::{Arc, Mutex};

    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let record = Arc::clone(&seen);
    let observer = move |event: &Event<'_>| {
        let line = match event {
            Event::Record {
                direction, kind, ..
            } => format!("{direction:?} {kind}"),
            Event::Environ { vars } => format!("environ {}", vars["PATH_INFO"]),
            Event::Started { status, .. } => format!("started {status}"),
            Event::Closed => "closed".to_owned(),
            _ => return,
        };
        record.lock().unwrap().push(line);
    };
    let server = fcgi::start_with(demo_app, |config| {
        config.observer = Some(Arc::new(observer));
    });
    let mut client = server.connect();
    client.send(&FcgiRequest::get("/watched").bytes());
    client.read_reply(1).assert_complete();
    assert!(client.is_closed_by_server());
    let seen = seen.lock().unwrap().clone();
    let position = |line: &str| seen.iter().position(|l| l == line);
    let begin = position("In BEGIN_REQUEST").expect("BEGIN_REQUEST in");
    let environ = position("environ /watched").expect("the environ");
    let started = position("started 200 OK").expect("the app's start");
    let stdout = position("Out STDOUT").expect("STDOUT out");
    let end = position("Out END_REQUEST").expect("END_REQUEST out");
    assert!(
        begin < environ && environ < started && started < stdout && stdout < end,
        "{seen:?}"
    );
    assert!(seen.iter().any(|l| l == "In PARAMS") && seen.iter().any(|l| l == "In STDIN"));
    assert_eq!(seen.last().map(String::as_str), Some("closed"), "{seen:?}");
}

/// Answers with the `rgiref.fastcgi_params` extension as it found it: the bytes, or `none`.
fn raw_params_app(
    environ: &mut Environ,
    start_response: &mut StartResponse,
) -> Result<Body, AppError> {
    let raw = match environ.extensions.get(rgiref::fastcgi::RAW_PARAMS) {
        Some(raw) => raw.clone(),
        None => b"none".to_vec(),
    };
    start_response.start("200 OK", [("Content-Type", "application/octet-stream")])?;
    Ok(Body::from(raw))
}

#[test]
fn the_params_as_sent_reach_the_app_only_when_asked_for() {
    // DOCUMENT_URI is nginx's own, and HTTP_PROXY the httpoxy header: the environ leaves both
    // out, but the raw stream keeps them, in the order they came, across PARAMS records.
    let request = FcgiRequest::get("/x?y=1")
        .param("DOCUMENT_URI", "/x")
        .param("HTTP_PROXY", "http://evil.example/")
        .piece(40);
    let default = fcgi::start(raw_params_app);
    assert_eq!(default.request(&request).response().body, b"none");
    let asked = fcgi::start_with(raw_params_app, |config| config.raw_params_to_app = true);
    let body = asked.request(&request).response().body;
    assert_eq!(body, request.params_bytes());
    let pairs = rgiref::fastcgi::record::parse_pairs(&body).unwrap();
    assert_eq!(pairs.len(), request.params.len());
}

#[test]
fn a_web_server_that_stops_reading_is_dropped_after_about_one_write_timeout() {
    // The HTTP server's stopped-reader case (tests/server_lifecycle.rs), for FastCGI: a web
    // server that has been reading a big response stops. Its kernel still takes in a few KiB
    // now and then, which under a plain SO_SNDTIMEO counted as progress and started another
    // full timeout each time. Now each 64 KiB slice must be taken within Timeouts::write.
    let write = Duration::from_secs(1);
    let server = fcgi::start_with(
        |_: &mut Environ, start_response: &mut StartResponse| -> Result<Body, AppError> {
            start_response.start("200 OK", [])?;
            Ok(Body::from_chunks((0..1024).map(|_| vec![b'x'; 64 * 1024]))) // 64 MiB
        },
        |config| config.timeouts.write = write,
    );
    let mut web_server = server.connect();
    web_server.send(&FcgiRequest::get("/big").bytes());
    let mut taken = 0;
    while taken < 4 * 1024 * 1024 {
        let record = web_server
            .read_record()
            .expect("the response is still coming");
        taken += record.content.len();
    }
    let stopped = std::time::Instant::now(); // and it reads no more
    server.ping().assert_complete();
    let held = stopped.elapsed();
    println!("a web server that stopped reading held the responder {held:?} (write {write:?})");
    // A safety net, not a speed test: the old rule took several timeouts.
    assert!(held < 3 * write, "held {held:?}");
    let log = server.log_text();
    assert!(log.contains("the web server stopped reading"), "{log}");
    drop(web_server);
}
