//! Stage **build environ**, over real sockets: how the request an HTTP client sends becomes the
//! CGI variables an application sees.
//!
//! What a reader learns here:
//! * Where each variable comes from: the method, the target (split into a decoded `PATH_INFO`
//!   and a raw `QUERY_STRING`, and kept whole as `REQUEST_URI`), the two ends of the TCP
//!   connection, the version, and one `HTTP_*` variable per header.
//! * How a URL path becomes text: percent-decoded exactly once, as CGI servers do (`%C3%A9`
//!   becomes `é`, `%25` becomes `%`, `%2541` becomes `%41`), while `REQUEST_URI` keeps the
//!   exact bytes the client sent. (A path that is not UTF-8 once decoded is refused; that is
//!   in `tests/http_requests.rs`, with the other refusals.)
//! * The security rules: `//evil.com` is not passed on as a path that looks like a host,
//!   `X_Forwarded_For` cannot pose as `X-Forwarded-For`, and `Proxy:` never becomes
//!   `HTTP_PROXY` (httpoxy).
//! * What the variables cannot show (header case, order, repeats, line ends) an application
//!   can have anyway, when it asks: `Config::raw_head_to_app` puts the head as received in
//!   the environ extension `rgiref.raw_head`.
//!
//! Most tests run `rgiref::demo::demo_app`, which answers with every variable it was given, one
//! `KEY = "value"` per line — the same page `cargo run` shows in a browser.

mod common;

use std::collections::BTreeMap;
use std::io::Write;

use common::TestServer;
use rgiref::demo::demo_app;
use rgiref::gateway::{AppError, Body, Environ, StartResponse};

/// Sends `raw` to `server` (which runs `demo_app`) and returns the variables the app saw.
fn environ_seen(server: &TestServer, raw: &[u8]) -> BTreeMap<String, String> {
    let response = server.request(raw);
    let page = response.body_text();
    assert!(
        page.starts_with("Hello world!\n"),
        "not the demo page: {:?}",
        String::from_utf8_lossy(&response.raw)
    );
    common::demo_environ(&page)
        .into_iter()
        .map(|(name, value)| (name, unquote(&value)))
        .collect()
}

/// The demo page prints values as Rust string literals (`"/café"`); this takes the quotes off.
/// The values in these tests contain no `"` or `\`, so there are no escapes to undo.
fn unquote(value: &str) -> String {
    match value.strip_prefix('"').and_then(|v| v.strip_suffix('"')) {
        Some(inner) => {
            assert!(!inner.contains('\\'), "an escaped value: {value}");
            inner.to_owned()
        }
        None => value.to_owned(), // the rgi.* flags, printed bare: `false`
    }
}

/// The environ for a plain `GET <target> HTTP/1.0` with the given extra header lines.
fn environ_for_get(target: &str, headers: &str) -> BTreeMap<String, String> {
    let server = common::start(demo_app);
    environ_seen(
        &server,
        format!("GET {target} HTTP/1.0\r\n{headers}\r\n").as_bytes(),
    )
}

// ---------------------------------------------------------------------------------------------
// The request line: method, path, query.

#[test]
fn request_method_is_the_method_as_sent() {
    let server = common::start(demo_app);
    for method in ["GET", "DELETE", "OPTIONS", "BREW"] {
        let raw = format!("{method} /pot HTTP/1.0\r\n\r\n");
        assert_eq!(
            environ_seen(&server, raw.as_bytes())["REQUEST_METHOD"],
            method
        );
    }
}

#[test]
fn script_name_is_empty_because_the_app_is_mounted_at_the_root() {
    let environ = environ_for_get("/a/b", "");
    assert_eq!(environ["SCRIPT_NAME"], "");
    assert_eq!(environ["PATH_INFO"], "/a/b", "the whole path is PATH_INFO");
}

#[test]
fn path_info_is_percent_decoded() {
    let environ = environ_for_get("/caf%C3%A9/a%20b", "");
    assert_eq!(environ["PATH_INFO"], "/café/a b");
}

#[test]
fn utf8_reaches_path_info_only_percent_encoded() {
    // A URI is ASCII (RFC 3986): text travels percent-encoded as UTF-8 and arrives as text. The
    // same é sent raw is refused (tests/http_requests.rs), not encoded for the client.
    let server = common::start(demo_app);
    let environ = environ_seen(&server, b"GET /caf%C3%A9 HTTP/1.0\r\n\r\n");
    assert_eq!(environ["PATH_INFO"], "/café");
    assert_eq!(environ["REQUEST_URI"], "/caf%C3%A9");
    let raw = server.request("GET /café HTTP/1.0\r\n\r\n".as_bytes());
    assert_eq!(raw.status, 400, "{}", raw.body_text());
}

#[test]
fn an_encoded_slash_is_decoded_to_a_slash() {
    // Documented choice: PATH_INFO cannot tell `/a%2Fb` from `/a/b`; REQUEST_URI still can.
    let environ = environ_for_get("/a%2Fb", "");
    assert_eq!(environ["PATH_INFO"], "/a/b");
    assert_eq!(environ["REQUEST_URI"], "/a%2Fb");
}

#[test]
fn an_escaped_percent_sign_is_decoded_like_any_escape() {
    // RFC 3875 §4.1.5: PATH_INFO is not URL-encoded, so `%25` is a plain `%` there.
    let environ = environ_for_get("/100%25", "");
    assert_eq!(environ["PATH_INFO"], "/100%");
    assert_eq!(environ["REQUEST_URI"], "/100%25");
}

#[test]
fn path_info_is_decoded_exactly_once() {
    // `%2541` is `%41` once decoded; a second decoding would make it `A`, which is how a
    // `/%2561dmin` gets past a filter that refuses `/admin`.
    let environ = environ_for_get("/a%2541", "");
    assert_eq!(environ["PATH_INFO"], "/a%41");
    assert_eq!(environ["REQUEST_URI"], "/a%2541");
}

#[test]
fn path_info_is_the_path_of_request_uri_decoded_once() {
    // Whatever mix of text, escapes and `%` the path is, PATH_INFO is one plain decoding of
    // it: the application sees text, and can still find the exact bytes in REQUEST_URI.
    let environ = environ_for_get("/caf%C3%A9/%2541/100%25/a%2Fb?q=%25", "");
    assert_eq!(environ["PATH_INFO"], "/café/%41/100%/a/b");
    let (path, _query) = environ["REQUEST_URI"].split_once('?').unwrap();
    assert_eq!(
        common::percent_decode(path).unwrap(),
        environ["PATH_INFO"].as_bytes()
    );
    assert_eq!(environ["QUERY_STRING"], "q=%25", "the query is not decoded");
}

#[test]
fn query_string_is_passed_on_raw_and_undecoded() {
    // RFC 3875 §4.1.7: decoding the query is the application's job (`+` means space only in
    // HTML forms, for one thing).
    let environ = environ_for_get("/search?q=caf%C3%A9+au+lait&x=%25&y", "");
    assert_eq!(environ["QUERY_STRING"], "q=caf%C3%A9+au+lait&x=%25&y");
    assert_eq!(environ["PATH_INFO"], "/search");
}

#[test]
fn query_string_is_empty_not_missing_without_a_query() {
    let environ = environ_for_get("/plain", "");
    assert_eq!(environ["QUERY_STRING"], "");
}

#[test]
fn only_the_first_question_mark_splits_the_target() {
    let environ = environ_for_get("/a?b=1?c", "");
    assert_eq!(environ["PATH_INFO"], "/a");
    assert_eq!(environ["QUERY_STRING"], "b=1?c");
}

#[test]
fn request_uri_is_the_target_exactly_as_sent() {
    let target = "/caf%C3%A9/100%25?q=%20x+y";
    let environ = environ_for_get(target, "");
    assert_eq!(environ["REQUEST_URI"], target);
}

#[test]
fn a_leading_double_slash_is_collapsed() {
    // gh-87389: an app echoing PATH_INFO into `Location: //evil.com/x` would send the browser
    // to another site. REQUEST_URI keeps what was sent, for the record.
    let environ = environ_for_get("//evil.com/x", "");
    assert_eq!(environ["PATH_INFO"], "/evil.com/x");
    assert_eq!(environ["REQUEST_URI"], "//evil.com/x");
    let environ = environ_for_get("///evil.com/x?y", "");
    assert_eq!(environ["PATH_INFO"], "/evil.com/x");
    assert_eq!(environ["QUERY_STRING"], "y");
}

#[test]
fn an_encoded_slash_or_a_backslash_cannot_make_a_double_slash() {
    // The collapse happens after decoding, so "/%2F" is caught; and browsers read "\\" in a
    // URL as "/", so "/\\evil.com" (sent encoded as %5C) is as dangerous as "//evil.com".
    for target in [
        "/%2Fevil.com/x",
        "/%2f%2Fevil.com/x",
        "/%5Cevil.com/x",
        "/%5C/evil.com/x",
    ] {
        let environ = environ_for_get(target, "");
        assert_eq!(environ["PATH_INFO"], "/evil.com/x", "{target}");
        assert_eq!(environ["REQUEST_URI"], target);
    }
}

#[test]
fn double_slashes_later_in_the_path_are_kept() {
    let environ = environ_for_get("/a//b", "");
    assert_eq!(environ["PATH_INFO"], "/a//b");
}

#[test]
fn an_absolute_form_target_gives_only_its_path_and_query() {
    let server = common::start(demo_app);
    let raw = b"GET http://example.org/a?b HTTP/1.1\r\nHost: example.org\r\n\r\n";
    let environ = environ_seen(&server, raw);
    assert_eq!(environ["PATH_INFO"], "/a");
    assert_eq!(environ["QUERY_STRING"], "b");
    assert_eq!(environ["REQUEST_URI"], "http://example.org/a?b");
    assert_eq!(environ["HTTP_HOST"], "example.org");
}

#[test]
fn an_absolute_form_target_decides_http_host_over_the_host_header() {
    // RFC 9112 §3.2.2: the server MUST ignore Host and use the target's authority, so an app
    // building URLs from HTTP_HOST cannot be given a second, different site.
    let server = common::start(demo_app);
    let raw = b"GET http://good.example:8000/x HTTP/1.1\r\nHost: evil.example\r\n\r\n";
    let environ = environ_seen(&server, raw);
    assert_eq!(environ["HTTP_HOST"], "good.example:8000");
    assert_eq!(environ["PATH_INFO"], "/x");
}

#[test]
fn an_absolute_form_target_without_a_path_means_slash() {
    // RFC 9112 §3.2.2: an empty path is "/".
    let server = common::start(demo_app);
    let environ = environ_seen(
        &server,
        b"GET http://example.org?b HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    assert_eq!(environ["PATH_INFO"], "/");
    assert_eq!(environ["QUERY_STRING"], "b");
}

// ---------------------------------------------------------------------------------------------
// The connection and the server.

#[test]
fn server_name_and_port_are_the_address_the_client_connected_to() {
    let server = common::start(demo_app);
    let environ = environ_seen(&server, b"GET / HTTP/1.0\r\nHost: some.name:1234\r\n\r\n");
    assert_eq!(environ["SERVER_NAME"], "127.0.0.1");
    assert_eq!(environ["SERVER_PORT"], server.addr.port().to_string());
    // The name the client used is in HTTP_HOST, not SERVER_NAME.
    assert_eq!(environ["HTTP_HOST"], "some.name:1234");
}

#[test]
fn remote_addr_and_port_are_the_clients_end_of_the_connection() {
    let server = common::start(demo_app);
    let mut stream = common::connect(server.addr);
    let client = stream.local_addr().unwrap();
    stream.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
    let response = common::read_response(&mut stream);
    let environ = common::demo_environ(&response.body_text());
    assert_eq!(unquote(&environ["REMOTE_ADDR"]), "127.0.0.1");
    assert_eq!(unquote(&environ["REMOTE_PORT"]), client.port().to_string());
}

#[test]
fn server_protocol_echoes_the_request_version() {
    let server = common::start(demo_app);
    for (raw, version) in [
        (&b"GET / HTTP/1.0\r\n\r\n"[..], "HTTP/1.0"),
        (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1"),
        (b"GET /\r\n", "HTTP/0.9"),
    ] {
        assert_eq!(environ_seen(&server, raw)["SERVER_PROTOCOL"], version);
    }
}

#[test]
fn server_software_and_gateway_interface() {
    let environ = environ_for_get("/", "");
    assert_eq!(environ["SERVER_SOFTWARE"], rgiref::SERVER_SOFTWARE);
    assert!(environ["SERVER_SOFTWARE"].starts_with("rgiref/"));
    assert_eq!(environ["GATEWAY_INTERFACE"], "CGI/1.1");
}

#[test]
fn the_environ_flags_describe_a_single_threaded_http_server() {
    // These are fields of Environ, not variables: look at them from inside an application.
    fn flags(environ: &mut Environ, start_response: &mut StartResponse) -> Result<Body, AppError> {
        let text = format!(
            "url_scheme={} multithread={} multiprocess={} run_once={}",
            environ.url_scheme, environ.multithread, environ.multiprocess, environ.run_once
        );
        start_response.start("200 OK", [("Content-Type", "text/plain")])?;
        Ok(Body::from(text))
    }
    let server = common::start(flags);
    let response = server.request(b"GET / HTTP/1.0\r\n\r\n");
    assert_eq!(
        response.body_text(),
        "url_scheme=http multithread=false multiprocess=false run_once=false"
    );
}

// ---------------------------------------------------------------------------------------------
// Headers.

#[test]
fn each_header_becomes_one_http_variable() {
    // `-` becomes `_` and the name is upper-cased, whatever case the client used.
    let environ = environ_for_get(
        "/",
        "X-Custom-Header: one\r\nuser-agent: two\r\nACCEPT: three\r\n",
    );
    assert_eq!(environ["HTTP_X_CUSTOM_HEADER"], "one");
    assert_eq!(environ["HTTP_USER_AGENT"], "two");
    assert_eq!(environ["HTTP_ACCEPT"], "three");
    let http_vars: Vec<&String> = environ.keys().filter(|k| k.starts_with("HTTP_")).collect();
    assert_eq!(http_vars.len(), 3, "{http_vars:?}");
}

#[test]
fn repeated_headers_are_joined_with_a_comma_in_order() {
    // No space after the comma, as wsgiref does; a value's own ", " is kept as it was.
    let environ = environ_for_get(
        "/",
        "Accept: a\r\nX-Other: o\r\naccept: b, c\r\nAccept: d\r\n",
    );
    assert_eq!(environ["HTTP_ACCEPT"], "a,b, c,d");
    assert_eq!(environ["HTTP_X_OTHER"], "o");
}

#[test]
fn content_type_and_length_have_their_own_variables() {
    let server = common::start(demo_app);
    let raw = b"POST /form HTTP/1.0\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello";
    let environ = environ_seen(&server, raw);
    assert_eq!(environ["CONTENT_TYPE"], "text/plain");
    assert_eq!(environ["CONTENT_LENGTH"], "5");
    assert!(!environ.contains_key("HTTP_CONTENT_TYPE"));
    assert!(!environ.contains_key("HTTP_CONTENT_LENGTH"));
}

#[test]
fn content_type_and_length_are_absent_when_the_request_has_none() {
    let environ = environ_for_get("/", "");
    assert!(!environ.contains_key("CONTENT_TYPE"));
    assert!(!environ.contains_key("CONTENT_LENGTH"));
}

#[test]
fn content_type_without_a_body_gives_no_content_length() {
    let environ = environ_for_get("/", "Content-Type: text/plain\r\n");
    assert_eq!(environ["CONTENT_TYPE"], "text/plain");
    assert!(!environ.contains_key("CONTENT_LENGTH"));
}

#[test]
fn an_identical_duplicate_content_length_gives_one_value() {
    // CONTENT_LENGTH comes from the checked framing, not from joining the headers ("3,3").
    let server = common::start(demo_app);
    let raw = b"POST / HTTP/1.0\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc";
    assert_eq!(environ_seen(&server, raw)["CONTENT_LENGTH"], "3");
}

#[test]
fn a_chunked_upload_has_no_content_length() {
    // Nobody knows the length of a chunked body until it ends: read rgi.input to its end.
    let server = common::start(demo_app);
    let raw = b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    let environ = environ_seen(&server, raw);
    assert!(!environ.contains_key("CONTENT_LENGTH"), "{environ:?}");
    assert!(!environ.contains_key("HTTP_CONTENT_LENGTH"));
    assert_eq!(environ["CONTENT_TYPE"], "text/plain");
    // The body the app reads is already decoded, so "chunked" is not passed on.
    assert!(
        !environ.contains_key("HTTP_TRANSFER_ENCODING"),
        "{environ:?}"
    );
}

#[test]
fn a_header_name_with_an_underscore_is_dropped_and_logged() {
    let server = common::start(demo_app);
    let raw = b"GET / HTTP/1.0\r\nX_Forwarded_For: 6.6.6.6\r\n\r\n";
    let environ = environ_seen(&server, raw);
    assert!(!environ.contains_key("HTTP_X_FORWARDED_FOR"), "{environ:?}");
    assert!(
        !environ.values().any(|v| v.contains("6.6.6.6")),
        "the value went nowhere"
    );
    let log = server.log_text();
    assert!(
        log.contains("] build environ: dropped request header \"X_Forwarded_For\""),
        "{log}"
    );
}

#[test]
fn an_underscore_header_cannot_pose_as_the_real_one() {
    // A proxy in front sets X-Forwarded-For; the client adds X_Forwarded_For hoping to be
    // joined into (or to replace) HTTP_X_FORWARDED_FOR. Whichever comes first, only the real
    // one survives.
    let server = common::start(demo_app);
    for headers in [
        "X-Forwarded-For: 10.0.0.1\r\nX_Forwarded_For: 6.6.6.6\r\n",
        "X_Forwarded_For: 6.6.6.6\r\nX-Forwarded-For: 10.0.0.1\r\n",
    ] {
        let raw = format!("GET / HTTP/1.0\r\n{headers}\r\n");
        let environ = environ_seen(&server, raw.as_bytes());
        assert_eq!(environ["HTTP_X_FORWARDED_FOR"], "10.0.0.1", "{headers:?}");
    }
}

#[test]
fn a_proxy_header_never_becomes_http_proxy() {
    // httpoxy (CVE-2016-5385): HTTP client libraries read HTTP_PROXY as "send everything through
    // this proxy", so a client could reroute the application's own outgoing requests.
    let server = common::start(demo_app);
    for name in ["Proxy", "proxy", "PROXY"] {
        let raw = format!("GET / HTTP/1.0\r\n{name}: http://evil.example:8080\r\n\r\n");
        let environ = environ_seen(&server, raw.as_bytes());
        assert!(!environ.contains_key("HTTP_PROXY"), "{name}: {environ:?}");
    }
    let log = server.log_text();
    assert!(
        log.contains("] build environ: dropped request header \"Proxy\""),
        "{log}"
    );
}

#[test]
fn a_header_value_that_is_not_utf8_reads_as_latin1() {
    // RFC 9110 §5.5: bytes 0x80–0xFF in a value are "obs-text"; as ISO-8859-1, 0xE9 is é.
    let server = common::start(demo_app);
    let environ = environ_seen(&server, b"GET / HTTP/1.0\r\nX-Name: caf\xe9\r\n\r\n");
    assert_eq!(environ["HTTP_X_NAME"], "café");
}

#[test]
fn a_header_value_that_is_utf8_reads_as_utf8() {
    let environ = environ_for_get("/", "X-Name: café\r\n");
    assert_eq!(environ["HTTP_X_NAME"], "café");
}

#[test]
fn whitespace_around_a_header_value_is_trimmed() {
    // Only around it: the spaces inside belong to the value.
    let environ = environ_for_get("/", "X-Padded: \t  a  b \t \r\nX-Tight:value\r\n");
    assert_eq!(environ["HTTP_X_PADDED"], "a  b");
    assert_eq!(environ["HTTP_X_TIGHT"], "value");
}

#[test]
fn an_empty_header_value_is_an_empty_variable() {
    let environ = environ_for_get("/", "X-Empty:\r\n");
    assert_eq!(environ["HTTP_X_EMPTY"], "");
}

/// Answers with the `rgiref.raw_head` extension as it found it: the bytes, or `none`.
fn raw_head_app(
    environ: &mut Environ,
    start_response: &mut StartResponse,
) -> Result<Body, AppError> {
    let raw = match environ.extensions.get(rgiref::server::RAW_HEAD) {
        Some(raw) => raw.clone(),
        None => b"none".to_vec(),
    };
    start_response.start("200 OK", [("Content-Type", "application/octet-stream")])?;
    Ok(Body::from(raw))
}

#[test]
fn the_raw_head_reaches_the_app_only_when_asked_for() {
    let request = b"GET / HTTP/1.0\r\nx-lower: a\r\n\r\n";
    let default = common::start(raw_head_app);
    assert_eq!(default.request(request).body, b"none");
    let asked = common::start_with(raw_head_app, |config| config.raw_head_to_app = true);
    assert_eq!(asked.request(request).body, request);
}

#[test]
fn the_raw_head_is_the_head_byte_for_byte_and_not_the_body() {
    // Case, order, repeats, padding and a bare LF: everything the CGI variables lose.
    let head: &[u8] =
        b"POST /x?y HTTP/1.1\r\nHost: h\nx-B:  2 \r\nX-A: 1\r\nx-b: 3\r\nContent-Length: 4\r\n\r\n";
    let server = common::start_with(raw_head_app, |config| config.raw_head_to_app = true);
    let response = server.request(&[head, b"BODY"].concat());
    assert_eq!(response.status, 200);
    assert_eq!(response.body, head);
}
