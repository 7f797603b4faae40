//! The validator (`rgiref::validate`): every check it makes, each with the exact line it logs
//! and what becomes of the response — run in-process through `rgiref::testing`.
//!
//! Stage: **call app**, both sides. The server's mistakes are played by a middleware in front
//! of the validator that spoils the environ the real parser built.

mod common;

use std::io::{Read, Write};

use rgiref::engine::Ending;
use rgiref::gateway::{AppError, Application, Body, Environ, StartResponse};
use rgiref::testing::{Client, TestRequest, TestResponse};
use rgiref::validate::validator;

type App = fn(&mut Environ, &mut StartResponse) -> Result<Body, AppError>;

fn hello(_: &mut Environ, start_response: &mut StartResponse) -> Result<Body, AppError> {
    start_response.start("200 OK", [("Content-Type", "text/plain")])?;
    Ok(Body::from("hello"))
}

/// `app` under the validator, asked `request`.
fn validated(app: impl Application, request: TestRequest) -> TestResponse {
    Client::new(validator(app)).request(request)
}

/// The `validate:` lines of a response's log.
fn violations(response: &TestResponse) -> Vec<&str> {
    response
        .errors
        .iter()
        .map(String::as_str)
        .filter(|line| line.starts_with("validate: "))
        .collect()
}

/// The validator's one line for a response it turned into a 500 (after the `validate:` lines).
const REFUSED: &str = "call app: application error: validate: the request or response breaks \
                       the gateway contract (1 violation, each logged)";

/// Asserts `response` is a 500 that the validator caused with exactly `line`.
fn assert_refused_with(response: &TestResponse, line: &str) {
    assert_eq!(response.status, 500, "{:?}", response.errors);
    assert_eq!(violations(response), [line]);
}

// ---- A correct application: nothing changes ------------------------------------------------

#[test]
fn a_correct_response_goes_out_byte_for_byte_as_without_the_validator() {
    let app = |_: &mut Environ, s: &mut StartResponse| -> Result<Body, AppError> {
        let date = ("Date", "Mon, 05 Jun 2006 18:49:54 GMT");
        s.start("200 OK", [("Content-Type", "text/plain"), date])?;
        Ok(Body::from_chunks(["Hello, ", "world!"]))
    };
    let plain = Client::new(app).get("/");
    let checked = validated(app, TestRequest::get("/"));
    assert_eq!(checked.raw, plain.raw);
    assert!(checked.errors.is_empty(), "{:?}", checked.errors);
}

#[test]
fn reading_the_whole_body_replacing_the_status_and_a_head_body_are_all_fine() {
    let app = |environ: &mut Environ, s: &mut StartResponse| -> Result<Body, AppError> {
        let mut body = Vec::new();
        environ.input.read_to_end(&mut body)?;
        s.start("200 OK", [("Content-Type", "text/plain")])?;
        let error = std::io::Error::other("the template is missing");
        s.start_after_error(
            "503 Service Unavailable",
            [("Content-Type", "text/plain")],
            &error,
        )?;
        Ok(Body::from(body))
    };
    let post = validated(app, TestRequest::post("/").body("12345"));
    assert_eq!((post.status, post.text().as_str()), (503, "12345"));
    let head = validated(hello, TestRequest::head("/"));
    assert_eq!(
        (head.status, head.header("Content-Length")),
        (200, Some("5"))
    );
    assert!(post.errors.is_empty() && head.errors.is_empty());
}

#[test]
fn a_head_response_may_declare_a_length_without_a_body() {
    // wsgiref's trivial_app4: answering HEAD with the length alone is correct.
    let app = |_: &mut Environ, s: &mut StartResponse| -> Result<Body, AppError> {
        s.start(
            "200 OK",
            [("Content-Type", "text/plain"), ("Content-Length", "12345")],
        )?;
        Ok(Body::empty())
    };
    let response = validated(app, TestRequest::head("/"));
    assert_eq!(response.status, 200);
    assert!(response.errors.is_empty(), "{:?}", response.errors);
}

// ---- The server's side -----------------------------------------------------------------------

/// A "server" that spoils the environ before the validator sees it.
fn spoiled(spoil: fn(&mut Environ)) -> impl Application {
    let checked = validator(hello as App);
    move |environ: &mut Environ, start_response: &mut StartResponse| {
        spoil(environ);
        checked.call(environ, start_response)
    }
}

fn environ_line(spoil: fn(&mut Environ)) -> Vec<String> {
    let response = Client::new(spoiled(spoil)).get("/");
    assert_eq!(response.status, 500, "{:?}", response.errors);
    violations(&response)
        .iter()
        .map(|line| line.to_string())
        .collect()
}

const ENV: &str = "validate: PEP 3333 §environ-variables: ";

#[test]
fn required_variables_must_be_there_and_not_empty() {
    let lines = environ_line(|e| {
        e.vars.remove("REQUEST_METHOD");
        e.vars.insert("SERVER_NAME".into(), String::new());
    });
    assert_eq!(
        lines,
        [
            format!("{ENV}REQUEST_METHOD is missing: it is always required"),
            format!("{ENV}SERVER_NAME is empty: it never may be"),
        ]
    );
}

#[test]
fn the_forms_of_the_method_the_port_and_the_length_are_checked() {
    let lines = environ_line(|e| {
        e.vars.insert("REQUEST_METHOD".into(), "GE T".into());
        e.vars.insert("SERVER_PORT".into(), "80a".into());
        e.vars.insert("CONTENT_LENGTH".into(), "-1".into());
    });
    assert_eq!(
        lines,
        [
            format!("{ENV}REQUEST_METHOD \"GE T\" is not a method: an HTTP method is a token (RFC 3875 §4.1.12)"),
            format!("{ENV}SERVER_PORT \"80a\" is not a port number"),
            format!("{ENV}CONTENT_LENGTH \"-1\" is not a whole number of bytes"),
        ]
    );
}

#[test]
fn content_headers_must_not_be_http_variables_and_the_scheme_must_be_known() {
    let lines = environ_line(|e| {
        e.vars.insert("HTTP_CONTENT_LENGTH".into(), "0".into());
        e.url_scheme = "ftp".into();
    });
    assert_eq!(
        lines,
        [
            format!("{ENV}HTTP_CONTENT_LENGTH is set: that header belongs in CONTENT_LENGTH"),
            format!("{ENV}url_scheme \"ftp\" is neither \"http\" nor \"https\""),
        ]
    );
}

#[test]
fn script_name_and_path_info_follow_pep_3333() {
    let relative = environ_line(|e| {
        e.vars.insert("SCRIPT_NAME".into(), "app".into());
        e.vars.insert("PATH_INFO".into(), "x".into());
    });
    assert_eq!(
        relative,
        [
            format!("{ENV}SCRIPT_NAME \"app\" must be empty or start with \"/\""),
            format!("{ENV}PATH_INFO \"x\" must be empty or start with \"/\""),
        ]
    );
    let neither = environ_line(|e| {
        e.vars.remove("SCRIPT_NAME");
        e.vars.remove("PATH_INFO");
    });
    assert_eq!(
        neither,
        [format!("{ENV}neither SCRIPT_NAME nor PATH_INFO is set: an application at the root has PATH_INFO \"/\" at least")]
    );
    let slash = environ_line(|e| {
        e.vars.insert("SCRIPT_NAME".into(), "/".into());
    });
    assert_eq!(
        slash,
        [format!("{ENV}SCRIPT_NAME is \"/\": an application at the root has SCRIPT_NAME \"\" and PATH_INFO \"/\"")]
    );
}

#[test]
fn an_environ_violation_stops_the_request_before_the_application_runs() {
    let ran = std::rc::Rc::new(std::cell::Cell::new(false));
    let flag = std::rc::Rc::clone(&ran);
    let app = validator(
        move |_: &mut Environ, s: &mut StartResponse| -> Result<Body, AppError> {
            flag.set(true);
            s.start("200 OK", [("Content-Type", "text/plain")])?;
            Ok(Body::from("hi"))
        },
    );
    let response = Client::new(move |e: &mut Environ, s: &mut StartResponse| {
        e.vars
            .insert("HTTP_CONTENT_TYPE".into(), "text/plain".into());
        app.call(e, s)
    })
    .get("/");
    assert_eq!(response.status, 500);
    assert!(!ran.get());
    assert_eq!(response.errors.last().map(String::as_str), Some(REFUSED));
}

#[test]
fn the_asterisk_of_options_is_no_path_info_violation() {
    // RFC 9112 §3.2.4: `OPTIONS *` asks about the server; PATH_INFO is "*".
    let response = Client::new(validator(hello)).send_raw(b"OPTIONS * HTTP/1.0\r\n\r\n");
    assert_eq!(response.status, 200);
    assert!(response.errors.is_empty(), "{:?}", response.errors);
    let other = Client::new(spoiled(|e| {
        e.vars.insert("PATH_INFO".into(), "*".into());
    }))
    .get("/");
    assert_eq!(
        violations(&other),
        [format!(
            "{ENV}PATH_INFO \"*\" must be empty or start with \"/\""
        )]
    );
}

/// Reads the whole body, then answers with it.
fn echo(environ: &mut Environ, s: &mut StartResponse) -> Result<Body, AppError> {
    let mut body = Vec::new();
    environ.input.read_to_end(&mut body)?;
    s.start("200 OK", [("Content-Type", "text/plain")])?;
    Ok(Body::from(body))
}

/// `echo` under the validator, behind a "server" that says CONTENT_LENGTH is `length`.
fn echo_claiming(length: &'static str, body: &str) -> TestResponse {
    let checked = validator(echo as App);
    let server = move |environ: &mut Environ, start_response: &mut StartResponse| {
        environ.vars.insert("CONTENT_LENGTH".into(), length.into());
        checked.call(environ, start_response)
    };
    Client::new(server).request(TestRequest::post("/").body(body))
}

#[test]
fn an_input_that_gives_more_than_content_length_is_the_servers_violation() {
    let response = echo_claiming("2", "12345");
    assert_refused_with(
        &response,
        "validate: PEP 3333 §input-and-error-streams: the input gave 5 bytes, more than \
         CONTENT_LENGTH (2): it must end where the body ends",
    );
}

#[test]
fn an_input_that_ends_early_without_an_error_is_the_servers_violation() {
    let response = echo_claiming("10", "12345");
    assert_refused_with(
        &response,
        "validate: PEP 3333 §input-and-error-streams: the input ended after 5 of \
         CONTENT_LENGTH's 10 bytes without an error, so the application takes a cut-off body \
         for the whole one",
    );
}

// ---- The application's side: start_response -------------------------------------------------

const START: &str = "validate: PEP 3333 §the-start-response-callable: ";

fn starting(
    status: &'static str,
    headers: &'static [(&'static str, &'static str)],
) -> TestResponse {
    let app = move |_: &mut Environ, s: &mut StartResponse| -> Result<Body, AppError> {
        s.start(status, headers)?;
        Ok(Body::from("hi"))
    };
    validated(app, TestRequest::get("/"))
}

#[test]
fn a_malformed_status_is_reported_as_start_refused_it() {
    let response = starting("200OK", &[("Content-Type", "text/plain")]);
    assert_refused_with(
        &response,
        &format!("{START}status \"200OK\" is not valid: the code must be followed by a space and a reason phrase (example: \"200 OK\")"),
    );
}

#[test]
fn header_names_follow_wsgirefs_stricter_rule() {
    let trailing = starting("200 OK", &[("Content-Type", "text/plain"), ("X-Bad-", "1")]);
    assert_refused_with(
        &trailing,
        &format!("{START}header name \"X-Bad-\" ends in \"-\" or \"_\""),
    );
    let dotted = starting("200 OK", &[("Content-Type", "text/plain"), ("X.Y", "1")]);
    assert_refused_with(
        &dotted,
        &format!("{START}header name \"X.Y\" has punctuation: a name is a letter, then letters, digits, \"-\" and \"_\""),
    );
}

#[test]
fn control_characters_and_hop_by_hop_headers_are_reported() {
    let injected = starting("200 OK", &[("Content-Type", "text/plain\r\nX-Injected: 1")]);
    assert_refused_with(
        &injected,
        &format!("{START}header \"Content-Type\" has a value with a control character (CR, LF, NUL, …), which could end the header early: \"text/plain\\r\\nX-Injected: 1\""),
    );
    assert_eq!(injected.header("X-Injected"), None);
    let hop = starting(
        "200 OK",
        &[("Content-Type", "text/plain"), ("Connection", "close")],
    );
    assert_refused_with(
        &hop,
        "validate: PEP 3333 §other-http-features: header \"Connection\" is hop-by-hop: it \
         describes the connection, which belongs to the server, so an application may not set it",
    );
}

#[test]
fn a_second_start_without_error_information_is_reported() {
    let app = |_: &mut Environ, s: &mut StartResponse| -> Result<Body, AppError> {
        s.start("200 OK", [("Content-Type", "text/plain")])?;
        let _ = s.start("404 Not Found", [("Content-Type", "text/plain")]);
        Ok(Body::from("ignored the error"))
    };
    let response = validated(app, TestRequest::get("/"));
    assert_refused_with(
        &response,
        &format!("{START}start was called twice; to replace the status after an error, call start_after_error"),
    );
    assert_eq!(response.errors.last().map(String::as_str), Some(REFUSED));
}

#[test]
fn a_refused_start_that_the_application_ignores_is_reported_once() {
    // The application did call start; the body it returns is not also "without start".
    let app = |_: &mut Environ, s: &mut StartResponse| -> Result<Body, AppError> {
        let _ = s.start("200 OK", [("Bad Name", "x")]);
        Ok(Body::from("never sent"))
    };
    assert_refused_with(
        &validated(app, TestRequest::get("/")),
        &format!("{START}header name \"Bad Name\" is not an HTTP token (letters, digits and !#$%&'*+-.^_`|~ only)"),
    );
}

#[test]
fn a_body_without_start_is_reported() {
    let app = |_: &mut Environ, _: &mut StartResponse| -> Result<Body, AppError> {
        Ok(Body::from("who am I?"))
    };
    assert_refused_with(
        &validated(app, TestRequest::get("/")),
        "validate: PEP 3333 §specification-details: the application returned a body \
         without calling start_response",
    );
}

#[test]
fn content_needs_a_content_type_and_an_empty_body_does_not() {
    let untyped = starting("200 OK", &[]);
    assert_refused_with(
        &untyped,
        "validate: PEP 3333 §other-http-features: the body has content but the headers have no \
         Content-Type (RFC 9110 §8.3: the client would have to guess)",
    );
    let empty = |_: &mut Environ, s: &mut StartResponse| -> Result<Body, AppError> {
        s.start("200 OK", [])?;
        Ok(Body::empty())
    };
    let response = validated(empty, TestRequest::get("/"));
    assert_eq!(response.status, 200);
    assert!(response.errors.is_empty(), "{:?}", response.errors);
}

#[test]
fn a_204_has_neither_content_nor_a_content_type() {
    let typed = starting("204 No Content", &[("Content-Type", "text/plain")]);
    assert_eq!(typed.status, 500);
    assert_eq!(
        violations(&typed),
        [
            "validate: PEP 3333 §other-http-features: a 204 response has a Content-Type, but no \
             content to describe (RFC 9110 §6.4.1)",
            "validate: PEP 3333 §other-http-features: a 204 response has no content, but the \
             application produced body bytes (RFC 9110 §6.4.1; the server drops them)",
        ]
    );
}

// ---- The application's side: Content-Length ------------------------------------------------

const LENGTH: &str = "validate: PEP 3333 §handling-the-content-length-header: ";

#[test]
fn a_body_in_memory_must_match_its_content_length_before_anything_is_sent() {
    let short = starting(
        "200 OK",
        &[("Content-Type", "text/plain"), ("Content-Length", "10")],
    );
    assert_refused_with(
        &short,
        &format!(
            "{LENGTH}the body ended after 2 bytes, short of the application's Content-Length (10)"
        ),
    );
    let long = starting(
        "200 OK",
        &[("Content-Type", "text/plain"), ("Content-Length", "1")],
    );
    assert_refused_with(
        &long,
        &format!("{LENGTH}the body has more bytes than the application's Content-Length (1)"),
    );
}

#[test]
fn a_streamed_body_found_too_long_after_the_head_is_logged_and_cut_short_by_the_engine() {
    let app = |_: &mut Environ, s: &mut StartResponse| -> Result<Body, AppError> {
        s.start(
            "200 OK",
            [("Content-Type", "text/plain"), ("Content-Length", "3")],
        )?;
        Ok(Body::from_chunks(["ab", "cd"]))
    };
    let response = validated(app, TestRequest::get("/"));
    assert_eq!(response.status, 200);
    assert_eq!(response.ending, Some(Ending::CutShort));
    assert_eq!(response.body, b"abc");
    assert_eq!(
        violations(&response),
        [format!(
            "{LENGTH}the body has more bytes than the application's Content-Length (3)"
        )]
    );
}

#[test]
fn a_streamed_body_that_ends_short_is_logged() {
    let app = |_: &mut Environ, s: &mut StartResponse| -> Result<Body, AppError> {
        s.start(
            "200 OK",
            [("Content-Type", "text/plain"), ("Content-Length", "9")],
        )?;
        Ok(Body::from_chunks(vec!["ab".to_owned(), "cd".to_owned()]))
    };
    let response = validated(app, TestRequest::get("/"));
    assert_eq!(response.ending, Some(Ending::CutShort));
    assert_eq!(
        violations(&response),
        [format!(
            "{LENGTH}the body ended after 4 bytes, short of the application's Content-Length (9)"
        )]
    );
}

#[test]
fn a_reader_shorter_than_the_length_it_declared_is_reported() {
    let app = |_: &mut Environ, s: &mut StartResponse| -> Result<Body, AppError> {
        s.start("200 OK", [("Content-Type", "text/plain")])?;
        Ok(Body::from_reader(&b"abc"[..], Some(5)))
    };
    let response = validated(app, TestRequest::get("/"));
    assert_eq!(response.ending, Some(Ending::CutShort));
    assert_eq!(
        violations(&response),
        [format!(
            "{LENGTH}the body ended after 3 bytes, short of the length the body declared (5)"
        )]
    );
}

#[test]
fn the_legacy_write_is_held_to_the_rules_too() {
    let app = |_: &mut Environ, s: &mut StartResponse| -> Result<Body, AppError> {
        let mut write = s.start("200 OK", [])?;
        write.write_all(b"no type")?; // refused by the validator: the error goes back with `?`
        Ok(Body::empty())
    };
    let response = validated(app, TestRequest::get("/"));
    assert_eq!(response.status, 500);
    assert_eq!(
        violations(&response),
        ["validate: PEP 3333 §other-http-features: the body has content but the headers have no \
          Content-Type (RFC 9110 §8.3: the client would have to guess)"]
    );
}

#[test]
fn several_violations_are_all_reported_and_counted() {
    let response = starting("204 No Content", &[("X_", "1")]);
    assert_eq!(response.status, 500);
    assert_eq!(violations(&response).len(), 2, "{:?}", response.errors);
    assert!(response
        .errors
        .last()
        .is_some_and(|line| line.ends_with("(2 violations, each logged)")));
}

// ---- Over a real socket: `common::start` serves every test app under the validator ---------

#[test]
fn a_broken_app_in_a_server_test_gets_the_validators_exact_line_in_the_log() {
    let server = common::start(|_: &mut Environ, s: &mut StartResponse| {
        s.start(
            "200 OK",
            [("Content-Type", "text/plain"), ("Content-Length", "10")],
        )?;
        Ok(Body::from("short"))
    });
    let response = server.ping();
    assert_eq!(response.status, 500);
    let log = server.log_text();
    let lines: Vec<&str> = log
        .lines()
        .filter_map(|line| line.split_once("] ").map(|(_, message)| message))
        .collect();
    assert_eq!(
        lines[..2],
        [
            format!("{LENGTH}the body ended after 5 bytes, short of the application's Content-Length (10)").as_str(),
            REFUSED,
        ]
    );
}
