//! The demo application over a real socket: what `cargo run` serves.
//!
//! Stage: all of them, end to end, for the simplest request.

mod common;

use rgiref::demo::demo_app;

#[test]
fn demo_app_lists_the_environ_sorted() {
    let server = common::start(demo_app);
    let response = server.request(b"GET /xyz?abc HTTP/1.0\r\nUser-Agent: test\r\n\r\n");
    assert_eq!(response.status_line, "HTTP/1.0 200 OK");
    assert_eq!(
        response.header("Content-Type"),
        Some("text/plain; charset=utf-8")
    );
    let page = response.body_text();
    assert!(page.starts_with("Hello world!\n\n"), "{page}");
    let keys: Vec<&str> = page
        .lines()
        .skip(2)
        .filter_map(|l| l.split(" = ").next())
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted, "environ entries are sorted");
    let environ = common::demo_environ(&page);
    assert_eq!(environ["PATH_INFO"], "\"/xyz\"");
    assert_eq!(environ["QUERY_STRING"], "\"abc\"");
    assert_eq!(environ["HTTP_USER_AGENT"], "\"test\"");
    assert_eq!(environ["rgi.url_scheme"], "\"http\"");
    assert_eq!(
        response.header("Content-Length"),
        Some(response.body.len().to_string().as_str())
    );
}

#[test]
fn demo_app_answers_every_method_and_path() {
    let server = common::start(demo_app);
    for raw in [
        &b"DELETE /a/b HTTP/1.0\r\n\r\n"[..],
        b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
        b"PUT /upload HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc",
        b"BREW /pot HTTP/1.0\r\n\r\n",
    ] {
        let response = server.request(raw);
        assert_eq!(response.status, 200, "{}", String::from_utf8_lossy(raw));
    }
}
