//! What the server does with whatever an application hands back — a body, a panic, an error, a
//! header it should not have set — seen from a real client on a real socket.
//!
//! Stages: **call app** (panics, errors, misuse of `start_response`), **send headers** (the
//! status line, `Date`, `Server`, `Content-Length`), **send body** (bodies of every shape, and
//! failures half-way through one) and **finish** (the body's clean-up).
//!
//! What a reader learns here:
//! * A failure *before the first body byte* becomes a clean 500, because the headers wait for
//!   that first byte; a failure *after* it can only cut the response short. Either way the log
//!   names the stage and says exactly what went wrong, and the next request is served.
//! * Nothing the application does can put a malformed status or header on the wire: the check
//!   fails, the client gets a 500, and this holds even if the application ignores the error.
//! * When the server adds `Content-Length` itself (when the length is known in advance) and
//!   when the body simply ends with the connection.
//! * The body's clean-up (`Body::on_close`, an iterator's `Drop`) runs however the response
//!   ended: WSGI's `close()`.

mod common;

use std::error::Error;
use std::fmt;
use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use common::Response;
use rgiref::engine::SERVER_ERROR_MESSAGE;
use rgiref::gateway::{AppError, Application, Body, Environ, StartResponse};

type AppResult = Result<Body, AppError>;

fn get(path: &str) -> Vec<u8> {
    format!("GET {path} HTTP/1.0\r\n\r\n").into_bytes()
}

fn head(path: &str) -> Vec<u8> {
    format!("HEAD {path} HTTP/1.0\r\n\r\n").into_bytes()
}

/// What every test app answers on `/`, so `server.ping()` shows the server is still serving.
fn pong(start_response: &mut StartResponse) -> AppResult {
    start_response.start("200 OK", [("Content-Type", "text/plain")])?;
    Ok(Body::from("pong"))
}

fn assert_still_serving(server: &common::TestServer) {
    let response = server.ping();
    assert_eq!(response.status, 200, "{}", show(&response));
    assert_eq!(response.body_text(), "pong");
}

fn show(response: &Response) -> String {
    String::from_utf8_lossy(&response.raw).into_owned()
}

/// The server's own 500 page: plain text, and nothing about the cause (that is in the log).
fn assert_server_error(response: &Response) {
    assert_eq!(
        response.status_line,
        "HTTP/1.0 500 Internal Server Error",
        "{}",
        show(response)
    );
    let content_type = response.header("Content-Type").unwrap_or("");
    assert!(content_type.starts_with("text/plain"), "{}", show(response));
    let page = format!("500 Internal Server Error: {SERVER_ERROR_MESSAGE}\n");
    assert_eq!(response.body_text(), page);
}

/// Runs `app` for one `GET /` and returns the response and all the server logged about it.
/// (The server writes its log lines before it closes the connection.)
fn serve_once<A: Application + Send + 'static>(app: A) -> (Response, String) {
    let server = common::start(app);
    let response = server.ping();
    (response, server.log_text())
}

/// Like [`serve_once`], without the validator: for an `app` broken on purpose.
fn serve_once_unvalidated<A: Application + Send + 'static>(app: A) -> (Response, String) {
    let server = common::start_unvalidated(app);
    let response = server.ping();
    (response, server.log_text())
}

/// `app` must be refused with a 500, and the log must contain `fragment`.
fn assert_refused<A: Application + Send + 'static>(app: A, fragment: &str) -> Response {
    let (response, log) = serve_once_unvalidated(app);
    assert_server_error(&response);
    assert!(log.contains(fragment), "log lacks {fragment:?}:\n{log}");
    response
}

/// The file, line and message of the panic logged right after `prefix`
/// (a log line reads `… call app: application panicked at tests/x.rs:12:9: boom`).
fn logged_panic(log: &str, prefix: &str) -> (String, u32, String) {
    let line = log
        .lines()
        .find(|line| line.contains(prefix))
        .unwrap_or_else(|| panic!("no {prefix:?} in the log:\n{log}"));
    let rest = &line[line.find(prefix).unwrap() + prefix.len()..];
    let (location, message) = rest.split_once(": ").expect("location: message");
    let mut parts = location.rsplitn(3, ':');
    let column = parts.next().unwrap();
    let line_number: u32 = parts.next().unwrap().parse().expect("a line number");
    let file = parts.next().unwrap().to_owned();
    assert!(column.parse::<u32>().is_ok(), "column in {location:?}");
    (file, line_number, message.to_owned())
}

// ---------------------------------------------------------------------------------------------
// Stage "call app": a panic or an error before anything was sent becomes a 500.
// Each panic message carries `line!()`, so the test can check the logged location points at it.

#[test]
fn panic_before_start_response_is_a_500_with_the_location_logged() {
    let server = common::start(
        |environ: &mut Environ, start_response: &mut StartResponse| {
            if environ.path_info() == "/boom" {
                panic!("boom before start (line {})", line!());
            }
            pong(start_response)
        },
    );
    assert_server_error(&server.request(&get("/boom")));
    let (file, line, message) =
        logged_panic(&server.log_text(), "call app: application panicked at ");
    assert_eq!(file, file!());
    assert_eq!(message, format!("boom before start (line {line})"));
    assert_still_serving(&server);
}

#[test]
fn panic_after_start_response_is_still_a_500() {
    let server = common::start(
        |environ: &mut Environ, start_response: &mut StartResponse| {
            if environ.path_info() == "/boom" {
                start_response.start("200 OK", [("X-Half-Done", "yes")])?;
                panic!("boom after start (line {})", line!());
            }
            pong(start_response)
        },
    );
    let response = server.request(&get("/boom"));
    assert_server_error(&response);
    assert_eq!(
        response.header("X-Half-Done"),
        None,
        "the 200's headers were dropped"
    );
    let (file, line, message) =
        logged_panic(&server.log_text(), "call app: application panicked at ");
    assert_eq!(file, file!());
    assert_eq!(message, format!("boom after start (line {line})"));
    assert_still_serving(&server);
}

/// An error with a cause, to show the whole chain reaches the log.
#[derive(Debug)]
struct TemplateError {
    source: io::Error,
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("could not load the page template")
    }
}

impl Error for TemplateError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&self.source)
    }
}

#[test]
fn returned_error_is_a_500_and_the_log_has_its_source_chain() {
    let server = common::start(
        |environ: &mut Environ, start_response: &mut StartResponse| {
            if environ.path_info() == "/fail" {
                start_response.start("200 OK", [("Content-Type", "text/html")])?;
                let source = io::Error::new(io::ErrorKind::NotFound, "index.html is missing");
                return Err(TemplateError { source }.into());
            }
            pong(start_response)
        },
    );
    assert_server_error(&server.request(&get("/fail")));
    let log = server.log_text();
    assert!(
        log.contains(
            "call app: application error: could not load the page template: index.html is missing"
        ),
        "{log}"
    );
    assert_still_serving(&server);
}

// ---------------------------------------------------------------------------------------------
// Stage "send body": a failure after the first chunk went out can only cut the response short.

#[test]
fn body_iterator_panicking_mid_stream_cuts_the_response_short() {
    let server = common::start(
        |environ: &mut Environ, start_response: &mut StartResponse| {
            if environ.path_info() != "/stream" {
                return pong(start_response);
            }
            start_response.start("200 OK", [("Content-Type", "text/plain")])?;
            Ok(Body::from_chunks((1..=3).map(|n| {
                if n == 2 {
                    panic!("chunk 2 exploded (line {})", line!());
                }
                format!("chunk {n};")
            })))
        },
    );
    let response = server.request(&get("/stream"));
    assert_eq!(
        response.status_line,
        "HTTP/1.0 200 OK",
        "{}",
        show(&response)
    );
    assert_eq!(response.header("Content-Type"), Some("text/plain"));
    assert_eq!(response.header("Content-Length"), None);
    assert_eq!(
        response.body_text(),
        "chunk 1;",
        "the first chunk, then the end"
    );
    let log = server.log_text();
    let (file, line, message) = logged_panic(&log, "send body: the body iterator panicked at ");
    assert_eq!(file, file!());
    assert_eq!(message, format!("chunk 2 exploded (line {line})"));
    assert!(
        log.contains("send body: response cut short after 8 body bytes were written"),
        "{log}"
    );
    assert_still_serving(&server);
}

#[test]
fn body_iterator_error_mid_stream_cuts_the_response_short() {
    let server = common::start(
        |environ: &mut Environ, start_response: &mut StartResponse| {
            if environ.path_info() != "/rows" {
                return pong(start_response);
            }
            start_response.start("200 OK", [("Content-Type", "text/csv")])?;
            let rows: Vec<Result<String, io::Error>> = vec![
                Ok("id,name\n".to_owned()),
                Err(io::Error::other("the database went away")),
                Ok("never sent\n".to_owned()),
            ];
            Ok(Body::from_fallible_chunks(rows))
        },
    );
    let response = server.request(&get("/rows"));
    assert_eq!(response.status, 200, "{}", show(&response));
    assert_eq!(response.body_text(), "id,name\n");
    let log = server.log_text();
    assert!(
        log.contains("send body: the body iterator failed: the database went away"),
        "{log}"
    );
    assert!(
        log.contains("send body: response cut short after 8 body bytes"),
        "{log}"
    );
    assert_still_serving(&server);
}

#[test]
fn body_failing_on_its_first_chunk_is_still_a_500() {
    let server = common::start(
        |environ: &mut Environ, start_response: &mut StartResponse| {
            start_response.start("200 OK", [("Content-Type", "text/plain")])?;
            match environ.path_info() {
                "/error-first" => {
                    let rows: Vec<Result<&str, io::Error>> =
                        vec![Err(io::Error::other("no rows today")), Ok("never sent")];
                    Ok(Body::from_fallible_chunks(rows))
                }
                "/panic-first" => Ok(Body::from_chunks((0..2).map(|n| -> String {
                    panic!("no chunk {n} either");
                }))),
                // PEP 3333: an empty chunk does not send the headers, so it is still not too late.
                "/empty-then-error" => {
                    let rows: Vec<Result<&str, io::Error>> =
                        vec![Ok(""), Err(io::Error::other("failed after an empty chunk"))];
                    Ok(Body::from_fallible_chunks(rows))
                }
                _ => Ok(Body::from("pong")),
            }
        },
    );
    assert_server_error(&server.request(&get("/error-first")));
    assert_server_error(&server.request(&get("/panic-first")));
    assert_server_error(&server.request(&get("/empty-then-error")));
    let log = server.log_text();
    assert!(
        log.contains("send body: the body iterator failed: no rows today"),
        "{log}"
    );
    assert!(
        log.contains("send body: the body iterator panicked at "),
        "{log}"
    );
    assert!(log.contains(": no chunk 0 either"), "{log}");
    assert!(
        log.contains("send body: the body iterator failed: failed after an empty chunk"),
        "{log}"
    );
    assert!(!log.contains("cut short"), "nothing had been sent:\n{log}");
    assert_still_serving(&server);
}

/// A reader that gives `first`, then fails.
struct FailingReader {
    first: Option<&'static [u8]>,
}

impl io::Read for FailingReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self.first.take() {
            Some(bytes) => {
                buf[..bytes.len()].copy_from_slice(bytes);
                Ok(bytes.len())
            }
            None => Err(io::Error::other("the disk is unplugged")),
        }
    }
}

#[test]
fn a_file_body_that_cannot_be_read_is_still_a_clean_500() {
    // The first block of a file is read before the headers go out, so a file that fails at once
    // (here a directory, which opens but cannot be read) leaves the response unsent and
    // replaceable by a 500 — not a 200 with a Content-Length and no body.
    let (response, log) = serve_once(|_: &mut Environ, start_response: &mut StartResponse| {
        start_response.start("200 OK", [("Content-Type", "text/plain")])?;
        Ok(Body::file(File::open(std::env::temp_dir())?)?)
    });
    assert_server_error(&response);
    assert!(
        log.contains("send body: reading the body failed: "),
        "{log}"
    );
}

#[test]
fn body_reader_failing_mid_stream_cuts_the_response_short() {
    let (response, log) = serve_once(|_: &mut Environ, start_response: &mut StartResponse| {
        start_response.start("200 OK", [("Content-Type", "text/plain")])?;
        let reader = FailingReader {
            first: Some(b"first block;"),
        };
        Ok(Body::from_reader(reader, Some(100)))
    });
    assert_eq!(response.status, 200, "{}", show(&response));
    assert_eq!(response.header("Content-Length"), Some("100"));
    assert_eq!(response.body_text(), "first block;");
    assert!(
        log.contains("send body: reading the body failed: the disk is unplugged"),
        "{log}"
    );
    assert!(
        log.contains("send body: response cut short after 12 body bytes"),
        "{log}"
    );
}

#[test]
fn a_panic_with_a_non_string_value_is_still_caught() {
    let (response, log) = serve_once(|_: &mut Environ, _: &mut StartResponse| -> AppResult {
        std::panic::panic_any(42_u32)
    });
    assert_server_error(&response);
    assert!(
        log.contains("(a panic value that is not a string)"),
        "{log}"
    );
}

// ---------------------------------------------------------------------------------------------
// Stage "finish": the body's clean-up always runs.

/// Counts what happens to a body: chunks pulled from it, `on_close` hooks run, and drops of
/// the iterator itself. Clones share the counts, so the test keeps one and the app another.
#[derive(Clone, Default)]
struct Probe {
    pulled: Arc<AtomicUsize>,
    closed: Arc<AtomicUsize>,
    dropped: Arc<AtomicUsize>,
}

impl Probe {
    /// `chunks` as a body that reports to this probe.
    fn body(&self, chunks: impl Iterator<Item = String> + 'static) -> Body {
        let closed = Arc::clone(&self.closed);
        let iterator = ProbedChunks {
            inner: chunks,
            probe: self.clone(),
        };
        Body::from_chunks(iterator).on_close(move || {
            closed.fetch_add(1, Ordering::SeqCst);
        })
    }

    /// (chunks pulled, hooks run, iterators dropped)
    fn counts(&self) -> (usize, usize, usize) {
        (
            self.pulled.load(Ordering::SeqCst),
            self.closed.load(Ordering::SeqCst),
            self.dropped.load(Ordering::SeqCst),
        )
    }
}

struct ProbedChunks<I> {
    inner: I,
    probe: Probe,
}

impl<I: Iterator<Item = String>> Iterator for ProbedChunks<I> {
    type Item = String;
    fn next(&mut self) -> Option<String> {
        self.probe.pulled.fetch_add(1, Ordering::SeqCst);
        self.inner.next()
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl<I> Drop for ProbedChunks<I> {
    fn drop(&mut self) {
        self.probe.dropped.fetch_add(1, Ordering::SeqCst);
    }
}

/// An app that answers `/probe` with the chunks `make` produces, reported to `probe`.
fn probed_app<I>(
    probe: &Probe,
    make: impl Fn() -> I + Send + 'static,
) -> impl Fn(&mut Environ, &mut StartResponse<'_>) -> AppResult + Send + 'static
where
    I: Iterator<Item = String> + 'static,
{
    let probe = probe.clone();
    move |environ: &mut Environ, start_response: &mut StartResponse| {
        if environ.path_info() != "/probe" {
            return pong(start_response);
        }
        start_response.start("200 OK", [("Content-Type", "text/plain")])?;
        Ok(probe.body(make()))
    }
}

#[test]
fn clean_up_runs_after_a_complete_response() {
    let probe = Probe::default();
    let server = common::start(probed_app(&probe, || {
        ["one ", "two"].into_iter().map(String::from)
    }));
    assert_eq!(server.request(&get("/probe")).body_text(), "one two");
    assert_still_serving(&server); // barrier: the /probe connection is finished
    let (_, closed, dropped) = probe.counts();
    assert_eq!((closed, dropped), (1, 1));
}

#[test]
fn clean_up_runs_after_a_panic_mid_stream() {
    let probe = Probe::default();
    let server = common::start(probed_app(&probe, || {
        (1..=3).map(|n| {
            if n == 2 {
                panic!("mid-stream");
            }
            format!("chunk {n}")
        })
    }));
    assert_eq!(server.request(&get("/probe")).body_text(), "chunk 1");
    assert_still_serving(&server);
    let (_, closed, dropped) = probe.counts();
    assert_eq!((closed, dropped), (1, 1));
}

#[test]
fn clean_up_runs_for_head_and_the_body_is_never_iterated() {
    let probe = Probe::default();
    let server = common::start(probed_app(&probe, || {
        ["never ", "produced"].into_iter().map(String::from)
    }));
    let response = server.request(&head("/probe"));
    assert_eq!(response.status, 200, "{}", show(&response));
    assert!(response.body.is_empty());
    assert_still_serving(&server);
    assert_eq!(probe.counts(), (0, 1, 1), "(pulled, closed, dropped)");
}

#[test]
fn clean_up_runs_when_the_client_is_gone() {
    let probe = Probe::default();
    // An endless body: sending it stops only because the client is gone.
    let server = common::start(probed_app(&probe, || {
        std::iter::repeat("x".repeat(64 * 1024))
    }));
    let mut client = common::connect(server.addr);
    client.write_all(&get("/probe")).unwrap();
    drop(client); // hang up without reading a byte
    assert_still_serving(&server);
    let (_, closed, dropped) = probe.counts();
    assert_eq!((closed, dropped), (1, 1));
    let log = server.log_text();
    assert!(
        log.contains("send body: the client went away after "),
        "{log}"
    );
}

#[test]
fn clean_up_runs_when_the_app_broke_a_rule() {
    let probe = Probe::default();
    let app_probe = probe.clone();
    let server = common::start_unvalidated(
        move |environ: &mut Environ, start_response: &mut StartResponse| {
            if environ.path_info() != "/probe" {
                return pong(start_response);
            }
            let _ignored = start_response.start("200 OK", [("Bad Name", "x")]);
            Ok(app_probe.body(["refused"].into_iter().map(String::from)))
        },
    );
    assert_server_error(&server.request(&get("/probe")));
    assert_still_serving(&server);
    let (_, closed, dropped) = probe.counts();
    assert_eq!((closed, dropped), (1, 1));
}

#[test]
fn panicking_clean_up_is_logged_and_the_response_is_intact() {
    let server = common::start(
        |environ: &mut Environ, start_response: &mut StartResponse| {
            if environ.path_info() != "/bad-close" {
                return pong(start_response);
            }
            start_response.start("200 OK", [("Content-Type", "text/plain")])?;
            Ok(Body::from("intact").on_close(|| panic!("close failed (line {})", line!())))
        },
    );
    let response = server.request(&get("/bad-close"));
    assert_eq!(response.status, 200, "{}", show(&response));
    assert_eq!(response.header("Content-Length"), Some("6"));
    assert_eq!(response.body_text(), "intact");
    let log = server.log_text();
    let (file, line, message) = logged_panic(&log, "finish: the body's clean-up panicked at ");
    assert_eq!(file, file!());
    assert_eq!(message, format!("close failed (line {line})"));
    assert_still_serving(&server);
}

/// "Several registrations run in order", and the gateway docs say clean-up is "always run": a
/// hook that panics must not stop the hooks registered after it.
#[test]
fn a_panicking_clean_up_hook_does_not_skip_the_later_ones() {
    let ran = Arc::new(AtomicUsize::new(0));
    let app_ran = Arc::clone(&ran);
    let server = common::start(
        move |environ: &mut Environ, start_response: &mut StartResponse| {
            if environ.path_info() != "/hooks" {
                return pong(start_response);
            }
            start_response.start("200 OK", [("Content-Type", "text/plain")])?;
            let second = Arc::clone(&app_ran);
            Ok(Body::from("ok")
                .on_close(|| panic!("the first hook fails"))
                .on_close(move || {
                    second.fetch_add(1, Ordering::SeqCst);
                }))
        },
    );
    assert_eq!(server.request(&get("/hooks")).body_text(), "ok");
    assert_still_serving(&server);
    assert_eq!(ran.load(Ordering::SeqCst), 1, "the second hook ran");
}

// ---------------------------------------------------------------------------------------------
// Stage "call app": misuse of start_response never reaches the wire.

#[test]
fn header_value_with_crlf_is_refused_and_never_sent() {
    let response = assert_refused(
        |_: &mut Environ, start_response: &mut StartResponse| {
            start_response.start("200 OK", [("X-Evil", "a\r\nSet-Cookie: pwned=1")])?;
            Ok(Body::from("hello"))
        },
        r#"header "X-Evil" has a value with a control character"#,
    );
    assert!(!show(&response).contains("pwned"), "{}", show(&response));
}

#[test]
fn header_injection_is_refused_even_when_the_app_ignores_the_error() {
    let response = assert_refused(
        |_: &mut Environ, start_response: &mut StartResponse| {
            let _ignored = start_response.start("200 OK", [("X-Evil", "a\r\nSet-Cookie: pwned=1")]);
            Ok(Body::from("the app carried on"))
        },
        r#"call app: start_response: header "X-Evil" has a value with a control character"#,
    );
    let raw = show(&response);
    assert!(
        !raw.contains("pwned") && !raw.contains("carried on"),
        "{raw}"
    );
}

#[test]
fn a_good_start_after_an_ignored_bad_one_is_still_refused() {
    let response = assert_refused(
        |_: &mut Environ, start_response: &mut StartResponse| {
            let _ignored = start_response.start("200 OK", [("X-Evil", "a\r\nSet-Cookie: pwned=1")]);
            start_response.start("200 OK", [("Content-Type", "text/plain")])?;
            Ok(Body::from("the app carried on"))
        },
        r#"call app: start_response: header "X-Evil" has a value"#,
    );
    assert!(!show(&response).contains("pwned"));
}

#[test]
fn bad_header_names_are_refused() {
    for name in ["Bad Name", "X-A:b", "", "Caf\u{e9}"] {
        let fragment = format!("header name {name:?} is not an HTTP token");
        let response = assert_refused(
            move |_: &mut Environ, start_response: &mut StartResponse| {
                start_response.start("200 OK", [(name, "value")])?;
                Ok(Body::from("hello"))
            },
            &fragment,
        );
        assert!(!show(&response).contains("value"), "{name:?}");
    }
}

#[test]
fn control_characters_in_header_values_are_refused() {
    for value in ["a\0b", "a\u{1}b", "a\u{7f}b", "a\nb", "a\rb", "a\u{85}b"] {
        let response = assert_refused(
            move |_: &mut Environ, start_response: &mut StartResponse| {
                start_response.start("200 OK", [("X-Value", value)])?;
                Ok(Body::from("hello"))
            },
            r#"header "X-Value" has a value with a control character"#,
        );
        assert_eq!(response.header("X-Value"), None, "{value:?}");
    }
}

#[test]
fn a_tab_in_a_header_value_is_allowed() {
    let (response, _) = serve_once(|_: &mut Environ, start_response: &mut StartResponse| {
        start_response.start(
            "200 OK",
            [("X-Tabbed", "left\tright"), ("Content-Type", "text/plain")],
        )?;
        Ok(Body::from("hello"))
    });
    assert_eq!(response.status, 200, "{}", show(&response));
    assert_eq!(response.header("X-Tabbed"), Some("left\tright"));
}

#[test]
fn a_status_header_is_refused() {
    // The status is start's first argument; behind a CGI web server a second "Status:" header
    // would contradict the one the engine writes.
    assert_refused(
        |_: &mut Environ, start_response: &mut StartResponse| {
            start_response.start("200 OK", [("Status", "404 Not Found")])?;
            Ok(Body::from("x"))
        },
        "a header named \"Status\" is not allowed",
    );
}

#[test]
fn hop_by_hop_headers_are_refused() {
    for (name, value) in [
        ("Connection", "close"),
        ("Transfer-Encoding", "chunked"),
        ("Keep-Alive", "timeout=5"),
        ("Upgrade", "websocket"),
        ("connection", "keep-alive"),
    ] {
        let fragment = format!("header {name:?} is hop-by-hop");
        let response = assert_refused(
            move |_: &mut Environ, start_response: &mut StartResponse| {
                start_response.start("200 OK", [(name, value)])?;
                Ok(Body::from("hello"))
            },
            &fragment,
        );
        assert_eq!(response.header(name), None, "{name}");
    }
}

#[test]
fn bad_statuses_are_refused() {
    for (status, why) in [
        ("200", "it must start with a three-digit code"),
        ("", "it must start with a three-digit code"),
        ("20x OK", "it must start with a three-digit code"),
        (
            "200OK",
            "the code must be followed by a space and a reason phrase",
        ),
        (
            "2000 OK",
            "the code must be followed by a space and a reason phrase",
        ),
        ("099 X", "the code must be from 200 to 599"),
        ("100 Continue", "the code must be from 200 to 599"),
        ("600 X", "the code must be from 200 to 599"),
        (
            "200 OK\r\nX: y",
            "it contains a control character such as CR or LF",
        ),
    ] {
        let fragment = format!("status {status:?} is not valid: {why}");
        let response = assert_refused(
            move |_: &mut Environ, start_response: &mut StartResponse| {
                start_response.start(status, [("Content-Type", "text/plain")])?;
                Ok(Body::from("hello"))
            },
            &fragment,
        );
        assert!(!show(&response).contains("X: y"), "{status:?}");
    }
}

#[test]
fn calling_start_twice_is_refused() {
    assert_refused(
        |_: &mut Environ, start_response: &mut StartResponse| {
            start_response.start("200 OK", [("Content-Type", "text/plain")])?;
            start_response.start("404 Not Found", [("Content-Type", "text/plain")])?;
            Ok(Body::from("hello"))
        },
        "start was called twice; to replace the status after an error, call start_after_error",
    );
}

#[test]
fn returning_a_body_without_calling_start_is_refused() {
    for body in [(|| Body::from("hello")) as fn() -> Body, Body::empty] {
        assert_refused(
            move |_: &mut Environ, _: &mut StartResponse| Ok(body()),
            "the application returned without calling start_response",
        );
    }
}

#[test]
fn bad_content_lengths_are_refused() {
    for value in ["abc", "-1", "+5", "", "1 2", "99999999999999999999999"] {
        let fragment = format!("Content-Length {value:?} is not valid");
        assert_refused(
            move |_: &mut Environ, start_response: &mut StartResponse| {
                start_response.start("200 OK", [("Content-Length", value)])?;
                Ok(Body::from("hello"))
            },
            &fragment,
        );
    }
    assert_refused(
        |_: &mut Environ, start_response: &mut StartResponse| {
            start_response.start("200 OK", [("Content-Length", "5"), ("content-length", "5")])?;
            Ok(Body::from("hello"))
        },
        "Content-Length \"5\" is not valid",
    );
}

// ---------------------------------------------------------------------------------------------
// Stage "send headers": Content-Length when the length is known in advance, and only then.

/// Serves `make()` (a body) with a 200 for `GET /body` and `HEAD /body`.
fn body_app(
    make: impl Fn() -> Body + Send + 'static,
) -> impl Fn(&mut Environ, &mut StartResponse<'_>) -> AppResult + Send + 'static {
    move |environ: &mut Environ, start_response: &mut StartResponse| {
        if environ.path_info() != "/body" {
            return pong(start_response);
        }
        start_response.start("200 OK", [("Content-Type", "application/octet-stream")])?;
        Ok(make())
    }
}

/// GET and HEAD of `/body` from `app`.
fn get_and_head(app: impl Application + Send + 'static) -> (Response, Response) {
    let server = common::start(app);
    let got = server.request(&get("/body"));
    let headed = server.request(&head("/body"));
    assert_eq!(got.status, 200, "{}", show(&got));
    assert_eq!(headed.status, 200, "{}", show(&headed));
    assert!(
        headed.body.is_empty(),
        "HEAD has no body: {}",
        show(&headed)
    );
    (got, headed)
}

#[test]
fn a_body_in_memory_gets_its_content_length() {
    let (got, headed) = get_and_head(body_app(|| Body::from("Hello world!\n")));
    assert_eq!(got.header("Content-Length"), Some("13"));
    assert_eq!(got.body_text(), "Hello world!\n");
    assert_eq!(
        headed.header("Content-Length"),
        Some("13"),
        "HEAD: same as GET"
    );
}

#[test]
fn a_single_chunk_gets_a_content_length() {
    let (got, _) = get_and_head(body_app(|| Body::from_chunks(vec!["only one"])));
    assert_eq!(got.header("Content-Length"), Some("8"));
    assert_eq!(got.body_text(), "only one");
}

#[test]
fn several_chunks_have_no_content_length_and_end_with_the_connection() {
    let (got, headed) = get_and_head(body_app(|| {
        Body::from_chunks(vec!["one ", "two ", "three"])
    }));
    assert_eq!(got.header("Content-Length"), None);
    assert_eq!(got.body_text(), "one two three");
    assert_eq!(headed.header("Content-Length"), None);
}

#[test]
fn an_empty_body_has_content_length_zero() {
    // (make the body, is its length known before sending?)
    let empties: [(fn() -> Body, bool); 4] = [
        (Body::empty, true),
        (|| Body::from(""), true),
        (|| Body::from_chunks(Vec::<&str>::new()), false),
        (|| Body::from_chunks(vec!["", ""]), false),
    ];
    for (make, known) in empties {
        let (got, headed) = get_and_head(body_app(make));
        assert_eq!(got.header("Content-Length"), Some("0"), "{}", show(&got));
        assert!(got.body.is_empty());
        assert!(show(&got).ends_with("\r\n\r\n"));
        if known {
            // HEAD does not iterate a body, so only a length known in advance is sent.
            assert_eq!(headed.header("Content-Length"), Some("0"));
        }
    }
}

/// A file under the temp directory, removed when dropped.
struct TempFile(PathBuf);

impl TempFile {
    fn with_bytes(name: &str, bytes: &[u8]) -> TempFile {
        let path = std::env::temp_dir().join(format!(
            "rgiref-app-behaviour-{}-{name}",
            std::process::id()
        ));
        std::fs::write(&path, bytes).expect("write a temp file");
        TempFile(path)
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// 100 000 bytes that are not all the same, so a missing or repeated block would show.
fn file_bytes() -> Vec<u8> {
    (0..100_000u32).map(|i| (i % 251) as u8).collect()
}

#[test]
fn a_file_is_sent_exactly_with_its_size_as_content_length() {
    let bytes = file_bytes();
    let file = TempFile::with_bytes("whole.bin", &bytes);
    let path = file.0.clone();
    let (got, headed) = get_and_head(body_app(move || {
        Body::file(File::open(&path).unwrap()).unwrap()
    }));
    assert_eq!(got.header("Content-Length"), Some("100000"));
    assert!(got.body == bytes, "the file's bytes, exactly");
    assert_eq!(headed.header("Content-Length"), Some("100000"));
}

#[test]
fn a_file_is_sent_from_its_current_position() {
    let bytes = file_bytes();
    let file = TempFile::with_bytes("seeked.bin", &bytes);
    let path = file.0.clone();
    let (got, _) = get_and_head(body_app(move || {
        let mut file = File::open(&path).unwrap();
        file.seek(SeekFrom::Start(99_000)).unwrap();
        Body::file(file).unwrap()
    }));
    assert_eq!(got.header("Content-Length"), Some("1000"));
    assert!(got.body == bytes[99_000..]);
}

#[test]
fn a_reader_with_a_length_gets_a_content_length() {
    let (got, headed) = get_and_head(body_app(|| {
        Body::from_reader(io::Cursor::new(file_bytes()), Some(100_000))
    }));
    assert_eq!(got.header("Content-Length"), Some("100000"));
    assert!(got.body == file_bytes());
    assert_eq!(headed.header("Content-Length"), Some("100000"));
}

#[test]
fn a_reader_without_a_length_ends_with_the_connection() {
    let (got, _) = get_and_head(body_app(|| {
        Body::from_reader(io::Cursor::new(file_bytes()), None)
    }));
    assert_eq!(got.header("Content-Length"), None);
    assert!(got.body == file_bytes());
}

/// An iterator whose `size_hint` wrongly promises that nothing follows each chunk.
struct LyingChunks(Vec<&'static str>);

impl Iterator for LyingChunks {
    type Item = &'static str;
    fn next(&mut self) -> Option<&'static str> {
        (!self.0.is_empty()).then(|| self.0.remove(0))
    }
    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(0))
    }
}

/// The server computes `Content-Length` from the first chunk when `size_hint` says it is the
/// last; a wrong hint must not put bytes past that `Content-Length` on the wire (RFC 9112 §6.3:
/// the length is the message's framing). `std` warns that `size_hint` may be wrong.
#[test]
fn a_wrong_size_hint_never_sends_bytes_past_the_computed_content_length() {
    let (response, log) = serve_once(|_: &mut Environ, start_response: &mut StartResponse| {
        start_response.start("200 OK", [("Content-Type", "text/plain")])?;
        Ok(Body::from_chunks(LyingChunks(vec!["first", " and more"])))
    });
    let length: usize = response
        .header("Content-Length")
        .unwrap_or("0")
        .parse()
        .unwrap();
    assert_eq!(
        response.body.len(),
        length,
        "body bytes vs Content-Length: {}\n{log}",
        show(&response)
    );
}

#[test]
fn the_apps_own_content_length_is_kept_and_not_duplicated() {
    let (response, _) = serve_once(|_: &mut Environ, start_response: &mut StartResponse| {
        start_response.start(
            "200 OK",
            [("content-length", "5"), ("Content-Type", "text/plain")],
        )?;
        Ok(Body::from("hello"))
    });
    assert_eq!(
        response.header_count("Content-Length"),
        1,
        "{}",
        show(&response)
    );
    assert_eq!(response.header("Content-Length"), Some("5"));
    assert_eq!(response.body_text(), "hello");
}

#[test]
fn bytes_beyond_the_apps_content_length_are_not_sent() {
    let file = TempFile::with_bytes("too-long.txt", b"hello, world");
    let path = file.0.clone();
    let bodies: Vec<Box<dyn Fn() -> Body + Send>> = vec![
        Box::new(|| Body::from("hello, world")),
        Box::new(|| Body::from_chunks(vec!["hel", "lo, world"])),
        Box::new(|| Body::from_reader(&b"hello, world"[..], None)),
        Box::new(move || Body::file(File::open(&path).unwrap()).unwrap()),
    ];
    for make in bodies {
        let server = common::start_unvalidated(
            move |environ: &mut Environ, start_response: &mut StartResponse| {
                if environ.path_info() != "/body" {
                    return pong(start_response);
                }
                start_response.start("200 OK", [("Content-Length", "5")])?;
                Ok(make())
            },
        );
        let response = server.request(&get("/body"));
        assert_eq!(response.status, 200, "{}", show(&response));
        assert_eq!(response.header_count("Content-Length"), 1);
        assert_eq!(response.body_text(), "hello", "only the declared bytes");
        let log = server.log_text();
        assert!(
            log.contains("send body: the application sent more than its Content-Length of 5 bytes; the rest was not sent"),
            "{log}"
        );
        assert!(
            log.contains("response cut short after 5 body bytes"),
            "{log}"
        );
        assert_still_serving(&server);
    }
}

#[test]
fn fewer_bytes_than_the_apps_content_length_are_logged_as_cut_short() {
    let (response, log) =
        serve_once_unvalidated(|_: &mut Environ, start_response: &mut StartResponse| {
            start_response.start("200 OK", [("Content-Length", "10")])?;
            Ok(Body::from("short"))
        });
    assert_eq!(response.status, 200, "{}", show(&response));
    assert_eq!(response.header("Content-Length"), Some("10"));
    assert_eq!(response.body_text(), "short");
    assert!(
        log.contains("the body ended after 5 bytes, short of the application's Content-Length: 10"),
        "{log}"
    );
    assert!(
        log.contains("response cut short after 5 body bytes"),
        "{log}"
    );
}

#[test]
fn no_content_and_not_modified_carry_no_body_and_no_computed_length() {
    for status in ["204 No Content", "304 Not Modified"] {
        let (response, log) =
            serve_once_unvalidated(move |_: &mut Environ, start_response: &mut StartResponse| {
                start_response.start(status, [("X-Status", status)])?;
                Ok(Body::from("this must not be sent"))
            });
        assert_eq!(response.status_line, format!("HTTP/1.0 {status}"));
        assert_eq!(response.header("X-Status"), Some(status));
        assert_eq!(response.header("Content-Length"), None, "{status}");
        assert!(show(&response).ends_with("\r\n\r\n"), "{}", show(&response));
        assert!(response.body.is_empty());
        assert!(!log.contains("cut short"), "{log}");
    }
}

#[test]
fn a_204_never_carries_content_length_even_from_the_app() {
    // RFC 9110 §8.6: "A server MUST NOT send a Content-Length header field in any response
    // with a status code of ... 204". There is no body to measure.
    let (response, _) = serve_once(|_: &mut Environ, start_response: &mut StartResponse| {
        start_response.start(
            "204 No Content",
            [("Content-Length", "0"), ("X-Kept", "yes")],
        )?;
        Ok(Body::empty())
    });
    assert_eq!(response.status, 204, "{}", show(&response));
    assert_eq!(
        response.header("Content-Length"),
        None,
        "{}",
        show(&response)
    );
    assert_eq!(response.header("X-Kept"), Some("yes"));
}

// ---------------------------------------------------------------------------------------------
// Stage "send headers": what the server adds itself.

#[test]
fn date_and_server_are_added_once() {
    let (response, _) =
        serve_once(|_: &mut Environ, start_response: &mut StartResponse| pong(start_response));
    assert_eq!(response.header_count("Date"), 1);
    assert!(response.header("Date").unwrap().ends_with(" GMT"));
    assert_eq!(response.header_count("Server"), 1);
    assert_eq!(response.header("Server"), Some(rgiref::SERVER_SOFTWARE));
}

#[test]
fn the_apps_own_server_and_date_are_not_duplicated() {
    let (response, _) = serve_once(|_: &mut Environ, start_response: &mut StartResponse| {
        start_response.start(
            "200 OK",
            [
                ("server", "custom/1.0"),
                ("DATE", "Thu, 01 Jan 1970 00:00:00 GMT"),
                ("Content-Type", "text/plain"),
            ],
        )?;
        Ok(Body::from("hello"))
    });
    assert_eq!(response.header_count("Server"), 1, "{}", show(&response));
    assert_eq!(response.header("Server"), Some("custom/1.0"));
    assert_eq!(response.header_count("Date"), 1);
    assert_eq!(
        response.header("Date"),
        Some("Thu, 01 Jan 1970 00:00:00 GMT")
    );
}

#[test]
fn the_status_line_is_http_1_0_even_for_http_1_1_requests() {
    let server = common::start(|_: &mut Environ, start_response: &mut StartResponse| {
        start_response.start("404 Not Here", [("Content-Type", "text/plain")])?;
        Ok(Body::from("nothing"))
    });
    let response = server.request(b"GET /x HTTP/1.1\r\nHost: example.org\r\n\r\n");
    assert_eq!(response.status_line, "HTTP/1.0 404 Not Here");
}

// ---------------------------------------------------------------------------------------------
// The legacy write() handle, and start_after_error (WSGI's exc_info).

#[test]
fn legacy_writes_arrive_before_the_returned_body_in_order() {
    let (response, _) = serve_once(|_: &mut Environ, start_response: &mut StartResponse| {
        let mut write = start_response.start("200 OK", [("Content-Type", "text/plain")])?;
        write.write_all(b"one ")?;
        write.write_all(b"two ")?;
        Ok(Body::from_chunks(vec!["three ", "four"]))
    });
    assert_eq!(response.status, 200, "{}", show(&response));
    assert_eq!(response.body_text(), "one two three four");
    assert_eq!(
        response.header("Content-Length"),
        None,
        "the headers left with \"one \""
    );
}

#[test]
fn start_after_error_replaces_the_status_while_nothing_was_sent() {
    let (response, _) = serve_once(|_: &mut Environ, start_response: &mut StartResponse| {
        start_response.start("200 OK", [("X-Stale", "yes")])?;
        let error = io::Error::other("the cache is cold");
        start_response.start_after_error(
            "503 Service Unavailable",
            [("Retry-After", "1"), ("Content-Type", "text/plain")],
            &error,
        )?;
        Ok(Body::from("try again later\n"))
    });
    assert_eq!(response.status_line, "HTTP/1.0 503 Service Unavailable");
    assert_eq!(response.header("Retry-After"), Some("1"));
    assert_eq!(
        response.header("X-Stale"),
        None,
        "the first headers are gone"
    );
    assert_eq!(response.body_text(), "try again later\n");
}

#[test]
fn start_after_error_after_bytes_were_sent_cuts_the_response_short() {
    let (response, log) = serve_once(|_: &mut Environ, start_response: &mut StartResponse| {
        let mut write = start_response.start("200 OK", [("Content-Type", "text/plain")])?;
        write.write_all(b"partial ")?;
        let error = io::Error::other("the database went away");
        start_response.start_after_error("500 Internal Server Error", [("X-A", "b")], &error)?;
        Ok(Body::from("never sent"))
    });
    assert_eq!(
        response.status_line, "HTTP/1.0 200 OK",
        "too late to change"
    );
    assert_eq!(response.header("X-A"), None);
    assert_eq!(response.body_text(), "partial ");
    assert!(
        log.contains(
            "call app: application error: start_after_error was called after the headers were sent"
        ),
        "{log}"
    );
    assert!(log.contains("the database went away"), "{log}");
    assert!(
        log.contains("call app: response cut short after 8 body bytes"),
        "{log}"
    );
}

// ---------------------------------------------------------------------------------------------
// HTTP/0.9: a Simple-Response is the body alone.

#[test]
fn an_http_0_9_request_gets_the_body_alone() {
    let server = common::start(|_: &mut Environ, start_response: &mut StartResponse| {
        start_response.start(
            "200 OK",
            [("Content-Type", "text/plain"), ("X-Custom", "yes")],
        )?;
        Ok(Body::from_chunks(vec!["just ", "the body\n"]))
    });
    let response = server.request(b"GET /\r\n");
    assert_eq!(response.status, 0);
    assert_eq!(show(&response), "just the body\n");
}

// ---------------------------------------------------------------------------------------------
// A body shorter than it said, and the legacy write's first call

#[test]
fn a_reader_shorter_than_its_declared_length_is_cut_short_not_complete() {
    let server =
        common::start_unvalidated(|_: &mut Environ, start_response: &mut StartResponse| {
            start_response.start("200 OK", [("Content-Type", "text/plain")])?;
            Ok(Body::from_reader(std::io::empty(), Some(1000)))
        });
    let response = server.ping();
    // The client was promised 1000 bytes and got none: it can tell the body is incomplete.
    assert_eq!(
        response.header("Content-Length"),
        Some("1000"),
        "{}",
        show(&response)
    );
    assert!(response.body.is_empty());
    let log = server.log_text();
    assert!(
        log.contains(
            "the body ended after 0 bytes, short of the body's declared Content-Length: 1000"
        ),
        "{log}"
    );
    assert!(
        log.contains("response cut short after 0 body bytes were written"),
        "{log}"
    );
}

#[test]
fn the_first_legacy_write_sends_the_head_even_when_it_writes_nothing() {
    // PEP 3333: the headers go out "upon the application's first invocation of write()".
    let server = common::start(|_: &mut Environ, start_response: &mut StartResponse| {
        let wrote = start_response
            .start("200 OK", [("Content-Type", "text/plain")])?
            .write(b"")?;
        let sent = start_response.headers_sent();
        Ok(Body::from(format!("wrote {wrote}, head sent: {sent}")))
    });
    let response = server.ping();
    assert_eq!(response.body_text(), "wrote 0, head sent: true");
    // The head went out before the body's length was known, so there is no Content-Length.
    assert_eq!(
        response.header("Content-Length"),
        None,
        "{}",
        show(&response)
    );
}
