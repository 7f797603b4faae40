//! Middleware composition (`examples/compose.rs`): a router that mounts applications under
//! prefixes with `shift_path_info`, a timing middleware, and the validator — proving that
//! `SCRIPT_NAME` and `PATH_INFO` are split correctly at every level of the chain, in-process
//! through the test client and over a real socket.
//!
//! Stage: **call app** (every layer is an application calling the next).

mod common;

#[allow(dead_code)] // the example's `main` is not called here
#[path = "../examples/compose.rs"]
mod compose;

use compose::{Mount, Timing};
use rgiref::gateway::{AppError, Application, Body, Environ, StartResponse};
use rgiref::testing::Client;
use rgiref::util::request_uri;
use rgiref::validate::validator;

/// Answers with what it was told: `SCRIPT_NAME|PATH_INFO|the URL rebuilt`.
fn where_am_i(environ: &mut Environ, start_response: &mut StartResponse) -> Result<Body, AppError> {
    let page = format!(
        "{}|{}|{}",
        environ.script_name(),
        environ.path_info(),
        request_uri(environ)
    );
    start_response.start("200 OK", [("Content-Type", "text/plain")])?;
    Ok(Body::from(page))
}

/// Two routers deep, with the validator at each level, so each level's environ is checked:
/// `/a/b/…` reaches `where_am_i`, `/a/other/…` a second one.
fn chain() -> impl Application + Send {
    let inner = Mount::new()
        .at("b", validator(where_am_i))
        .at("other", validator(where_am_i));
    validator(Timing(Mount::new().at("a", validator(inner))))
}

/// (target, SCRIPT_NAME, PATH_INFO) as the innermost application must see them: wsgiref's
/// shifting rules, applied twice.
const SPLITS: [(&str, &str, &str); 6] = [
    ("/a/b/c/d", "/a/b", "/c/d"),
    ("/a/b/c/d/", "/a/b", "/c/d/"), // the trailing slash is kept
    ("/a/b", "/a/b", ""),
    ("/a/b/", "/a/b", "/"),
    ("/a/./b//x", "/a/b", "/x"), // `.` and empty segments are skipped while shifting
    ("/a/other/x", "/a/other", "/x"),
];

#[test]
fn script_name_and_path_info_are_split_through_the_chain_in_process() {
    let client = Client::new(chain());
    for (target, script_name, path_info) in SPLITS {
        let response = client.get(&format!("{target}?q=1"));
        assert_eq!(response.status, 200, "{target}: {:?}", response.errors);
        let seen = response.text();
        let parts: Vec<&str> = seen.split('|').collect();
        assert_eq!((parts[0], parts[1]), (script_name, path_info), "{target}");
        // Rebuilt from the split environ, the URL is the one asked for, normalized.
        let expected = format!("http://localhost{script_name}{path_info}?q=1");
        assert_eq!(parts[2], expected, "{target}");
        let validate_lines: Vec<&String> = response
            .errors
            .iter()
            .filter(|line| line.starts_with("validate:"))
            .collect();
        assert!(validate_lines.is_empty(), "{target}: {validate_lines:?}");
    }
}

#[test]
fn script_name_and_path_info_are_split_through_the_chain_over_http() {
    let server = common::start(chain());
    for (target, script_name, path_info) in SPLITS {
        let response = server.request(format!("GET {target} HTTP/1.0\r\n\r\n").as_bytes());
        assert_eq!(response.status, 200, "{target}: {}", server.log_text());
        let seen = response.body_text();
        let parts: Vec<&str> = seen.split('|').collect();
        assert_eq!((parts[0], parts[1]), (script_name, path_info), "{target}");
        // No Host header: the URL is rebuilt from SERVER_NAME and SERVER_PORT.
        let host = server.addr.to_string();
        assert_eq!(parts[2], format!("http://{host}{script_name}{path_info}"));
    }
    server.ping();
    assert!(
        !server.log_text().contains("validate:"),
        "{}",
        server.log_text()
    );
}

#[test]
fn a_path_nothing_is_mounted_at_gets_a_404_naming_what_is() {
    let response = Client::new(chain()).get("/a/nowhere/x");
    assert_eq!(response.status, 404);
    assert_eq!(
        response.text(),
        "nothing is mounted at \"/nowhere/x\"; try /a/b/ or /a/other/\n"
    );
}

#[test]
fn the_example_greets_shows_the_demo_page_and_times_each_request() {
    let client = Client::new(compose::app());
    let hello = client.get("/hello/there?name=Ada");
    assert_eq!(
        hello.text(),
        "Hello, Ada!\n\nSCRIPT_NAME = \"/hello\"\nPATH_INFO = \"/there\"\n\
         request_uri = http://localhost/hello/there?name=Ada\n"
    );
    assert_eq!(hello.errors.len(), 1, "{:?}", hello.errors);
    let timing = &hello.errors[0];
    assert!(
        timing.starts_with(&format!(
            "compose: GET /hello/there -> 200, {} bytes in ",
            hello.body.len()
        )),
        "{timing}"
    );
    assert!(timing.ends_with(" ms"), "{timing}");

    let demo = client.get("/demo/x/y").text();
    assert!(demo.contains("SCRIPT_NAME = \"/demo\"\n"), "{demo}");
    assert!(demo.contains("PATH_INFO = \"/x/y\"\n"), "{demo}");
    assert_eq!(client.get("/nowhere").status, 404);
}

#[test]
fn a_bad_query_is_the_clients_400_through_every_layer() {
    let response = Client::new(compose::app()).get("/hello/?name=%zz");
    assert_eq!(response.status, 400);
    assert_eq!(
        response.text(),
        "400 Bad Request: bad form field \"name=%zz\": \"%zz\" is not a percent-escape \
         (a % must be followed by two hex digits)\n"
    );
    assert!(response.errors[0].starts_with("compose: GET /hello/ -> failed: bad form field"));
}

#[test]
fn the_example_over_http_logs_its_timing_line() {
    let server = common::start(compose::app());
    let response = server.request(b"GET /demo/ HTTP/1.0\r\n\r\n");
    assert!(response.body_text().contains("SCRIPT_NAME = \"/demo\"\n"));
    server.ping();
    assert!(
        server.log_text().contains("] compose: GET /demo/ -> 200, "),
        "{}",
        server.log_text()
    );
}
