//! `rgiref::cgi::run` in a real CGI process, with applications the demo binary does not have:
//! one that echoes the body, one that panics, one whose body breaks off. This test binary
//! starts *itself* as the CGI program (the "matryoshka" test): with `RGIREF_CGI_CHILD=<app>`
//! in its environment, `main` is a CGI program's `main`, `cgi::run(&app)`.
//!
//! Stage: **read request** (the body from standard input), **call app** and **finish** (the
//! exit status), under CGI.
//!
//! It has its own `main` (`harness = false` in Cargo.toml) because libtest prints to standard
//! output, which in a CGI program is the response. Each case prints `test NAME ... ok`; a
//! failing case panics, and the whole test fails.
//!
//! What a reader learns here:
//! * The body is exactly `CONTENT_LENGTH` bytes: the program returns with standard input still
//!   open, and — standard input being a file — its read position afterwards is exactly the
//!   length. Without `CONTENT_LENGTH` it reads nothing at all.
//! * A body that ends early is a 400, a panic a 500 with the panic's place on standard error,
//!   and both exit 0 (the web server got a whole response); a body cut short exits 1.

mod cgi_process;

use std::io::Read;
use std::process::ExitCode;

use cgi_process::{cgi_command, run, Ran, Stdin};
use rgiref::gateway::{AppError, Body, Environ, StartResponse};

/// The variable that makes this binary a CGI program, and names the application.
const CHILD: &str = "RGIREF_CGI_CHILD";

fn main() -> ExitCode {
    if let Some(app) = std::env::var_os(CHILD) {
        return match app.to_str() {
            Some("echo") => rgiref::cgi::run(&echo),
            Some("panic") => rgiref::cgi::run(&panics),
            Some("cut-short") => rgiref::cgi::run(&cut_short),
            _ => ExitCode::from(3),
        };
    }
    let cases: [(&str, fn()); 6] = [
        (
            "the_body_is_echoed_with_stdin_kept_open",
            body_with_stdin_kept_open,
        ),
        (
            "exactly_content_length_bytes_are_read",
            exactly_content_length_is_read,
        ),
        (
            "without_content_length_nothing_is_read",
            nothing_read_without_length,
        ),
        (
            "a_body_shorter_than_content_length_is_a_400",
            short_body_is_a_400,
        ),
        ("a_panic_is_a_500_and_a_line_on_stderr", panic_is_a_500),
        ("a_body_cut_short_exits_1", cut_short_exits_1),
    ];
    println!(
        "\nrunning {} tests (each starts this binary as a CGI program)",
        cases.len()
    );
    for (name, case) in cases {
        case();
        println!("test {name} ... ok");
    }
    println!("\ntest result: ok. {} passed\n", cases.len());
    ExitCode::SUCCESS
}

// The applications the child runs.

fn echo(environ: &mut Environ, start_response: &mut StartResponse) -> Result<Body, AppError> {
    let mut body = Vec::new();
    environ.input.read_to_end(&mut body)?;
    start_response.start("200 OK", [("Content-Type", "application/octet-stream")])?;
    Ok(Body::from(body))
}

fn panics(_: &mut Environ, _: &mut StartResponse) -> Result<Body, AppError> {
    panic!("the application broke");
}

fn cut_short(_: &mut Environ, start_response: &mut StartResponse) -> Result<Body, AppError> {
    start_response.start("200 OK", [("Content-Type", "text/plain")])?;
    // Declares 8 bytes and delivers 4: the engine cuts the response short.
    Ok(Body::from_reader(&b"half"[..], Some(8)))
}

// The cases, each in the parent.

/// Runs this binary as a CGI program serving `app`, with `vars` and `stdin`.
fn child(app: &str, vars: &[(&str, &str)], stdin: Stdin<'_>) -> Ran {
    let program = std::env::current_exe().expect("this test binary's path");
    let mut all = vec![
        (CHILD, app),
        ("GATEWAY_INTERFACE", "CGI/1.1"),
        ("SERVER_PROTOCOL", "HTTP/1.1"),
    ];
    all.extend_from_slice(vars);
    run(cgi_command(&program, &all), stdin)
}

const POST_11: [(&str, &str); 2] = [("REQUEST_METHOD", "POST"), ("CONTENT_LENGTH", "11")];

fn body_with_stdin_kept_open() {
    let ran = child(
        "echo",
        &POST_11,
        Stdin::KeptOpen(b"hello world, and then bytes past the body"),
    );
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    assert_eq!(ran.first_line(), "Status: 200 OK", "{ran:?}");
    assert_eq!(ran.body, b"hello world", "{ran:?}");
    assert_eq!(ran.header("Content-Length"), Some("11"));
}

fn exactly_content_length_is_read() {
    let ran = child(
        "echo",
        &POST_11,
        Stdin::File(b"hello world, and then bytes past the body"),
    );
    assert_eq!(ran.body, b"hello world", "{ran:?}");
    assert_eq!(ran.stdin_read, Some(11), "not one byte past CONTENT_LENGTH");
}

fn nothing_read_without_length() {
    let ran = child(
        "echo",
        &[("REQUEST_METHOD", "POST")],
        Stdin::File(b"not announced, so not a body"),
    );
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    assert_eq!(ran.body, b"", "{ran:?}");
    assert_eq!(ran.stdin_read, Some(0), "standard input was read");
}

fn short_body_is_a_400() {
    let ran = child(
        "echo",
        &[("REQUEST_METHOD", "POST"), ("CONTENT_LENGTH", "10")],
        Stdin::ClosedAfter(b"abc"),
    );
    assert_eq!(ran.code, Some(0), "a whole error page; {}", ran.stderr);
    assert_eq!(ran.first_line(), "Status: 400 Bad Request", "{ran:?}");
    let why = "the request body ended after 3 of its 10 bytes (CONTENT_LENGTH)";
    assert!(ran.body_text().contains(why), "{ran:?}");
    assert!(ran.stderr.contains(why), "{}", ran.stderr);
}

fn panic_is_a_500() {
    let ran = child("panic", &[("REQUEST_METHOD", "GET")], Stdin::KeptOpen(b""));
    assert_eq!(ran.code, Some(0), "a whole error page; {}", ran.stderr);
    assert_eq!(
        ran.first_line(),
        "Status: 500 Internal Server Error",
        "{ran:?}"
    );
    let line = ran.stderr.lines().next().unwrap_or_default();
    assert!(
        line.starts_with("call app: application panicked at tests/cgi_child.rs:")
            && line.ends_with(": the application broke"),
        "{}",
        ran.stderr
    );
    assert!(
        !ran.stderr.contains("thread 'main' panicked"),
        "one line of ours, not Rust's default panic message: {}",
        ran.stderr
    );
}

fn cut_short_exits_1() {
    let ran = child(
        "cut-short",
        &[("REQUEST_METHOD", "GET")],
        Stdin::KeptOpen(b""),
    );
    assert_eq!(ran.code, Some(1), "{}", ran.stderr);
    assert_eq!(ran.header("Content-Length"), Some("8"), "{ran:?}");
    assert_eq!(ran.body, b"half");
    assert!(ran.stderr.contains("cut short"), "{}", ran.stderr);
}
