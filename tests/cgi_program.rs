//! The `rgiref` binary started as a CGI program, the way a web server starts one: an
//! environment of CGI meta-variables and nothing else, the body on standard input, the
//! response read from standard output.
//!
//! Stage: all of them under CGI — **build environ** from the process environment, the body from
//! standard input, then the engine's stages over standard output (`src/cgi/program.rs`).
//!
//! What a reader learns here:
//! * `GATEWAY_INTERFACE` in the environment is what makes the binary a CGI program; it then
//!   answers one request and exits, with `Status:` instead of a status line, and without
//!   `Date` or `Server` (the web server adds those).
//! * Nothing of the process environment but the request's variables reaches the application,
//!   and `HTTP_PROXY` never does.
//! * The program finishes with standard input still open: it never waits for an end-of-file.
//! * Under CGI the command line belongs to the web server (and, through the query, to the
//!   client), so flags are ignored.
//!
//! The demo application does not read the body; `cgi_child.rs` runs apps that do.

mod cgi_process;
mod common;

use std::path::{Path, PathBuf};

use cgi_process::{cgi_command, run, temp_path, Ran, Stdin};

/// The binary Cargo built for these tests.
const BINARY: &str = env!("CARGO_BIN_EXE_rgiref");

/// The variables every web server sets, plus `extra`.
fn request_vars<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut vars = vec![
        ("GATEWAY_INTERFACE", "CGI/1.1"),
        ("REQUEST_METHOD", "GET"),
        ("SERVER_PROTOCOL", "HTTP/1.1"),
        ("SERVER_NAME", "localhost"),
        ("SERVER_PORT", "80"),
        ("REMOTE_ADDR", "127.0.0.1"),
    ];
    vars.extend_from_slice(extra);
    vars
}

/// Runs the binary as a CGI program with `extra` variables and an empty standard input that
/// stays open.
fn get(extra: &[(&str, &str)]) -> Ran {
    let command = cgi_command(Path::new(BINARY), &request_vars(extra));
    run(command, Stdin::KeptOpen(b""))
}

/// Asserts a complete, successful demo page, and returns its environ.
fn demo_page(ran: &Ran) -> std::collections::BTreeMap<String, String> {
    assert_eq!(ran.code, Some(0), "exit code; stderr: {}", ran.stderr);
    assert_eq!(ran.first_line(), "Status: 200 OK", "{ran:?}");
    let length = ran.header("Content-Length").map(str::parse::<usize>);
    assert_eq!(length, Some(Ok(ran.body.len())), "{ran:?}");
    let page = ran.body_text();
    assert!(page.starts_with("Hello world!\n"), "{page}");
    common::demo_environ(&page)
}

#[test]
fn a_get_with_a_query_gets_a_cgi_response_without_date_or_server() {
    let ran = get(&[("QUERY_STRING", "x=1&y=%20")]);
    let environ = demo_page(&ran);
    assert_eq!(environ["QUERY_STRING"], "\"x=1&y=%20\"");
    assert_eq!(environ["REQUEST_METHOD"], "\"GET\"");
    assert_eq!(
        ran.header("Content-Type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(ran.header("Date"), None, "the web server adds Date");
    assert_eq!(ran.header("Server"), None, "the web server adds Server");
    assert!(
        ran.stdout.starts_with(b"Status: 200 OK\r\n"),
        "CRLF line ends"
    );
    assert_eq!(ran.stderr, "", "nothing to log");
}

#[test]
fn the_environ_has_pep_3333s_flags_for_cgi() {
    let environ = demo_page(&get(&[]));
    assert_eq!(environ["rgi.run_once"], "true");
    assert_eq!(environ["rgi.multiprocess"], "true");
    assert_eq!(environ["rgi.multithread"], "false");
    assert_eq!(environ["rgi.url_scheme"], "\"http\"");
}

#[test]
fn script_name_and_path_info_arrive_as_the_web_server_set_them() {
    let environ = demo_page(&get(&[("SCRIPT_NAME", "/app"), ("PATH_INFO", "/a/b")]));
    assert_eq!(environ["SCRIPT_NAME"], "\"/app\"");
    assert_eq!(environ["PATH_INFO"], "\"/a/b\"");
}

#[test]
fn a_missing_path_info_is_empty() {
    let environ = demo_page(&get(&[("SCRIPT_NAME", "/app")]));
    assert_eq!(environ["PATH_INFO"], "\"\"", "PEP 3333: empty, not absent");
}

#[test]
fn a_post_is_answered_with_standard_input_still_open() {
    let vars = request_vars(&[("REQUEST_METHOD", "POST"), ("CONTENT_LENGTH", "5")]);
    let command = cgi_command(Path::new(BINARY), &vars);
    // `run` keeps the pipe open until the program has exited: had it waited for end-of-file,
    // it would never have finished.
    let ran = run(
        command,
        Stdin::KeptOpen(b"hello, and bytes that are not the body"),
    );
    let environ = demo_page(&ran);
    assert_eq!(environ["CONTENT_LENGTH"], "\"5\"");
    assert_eq!(environ["REQUEST_METHOD"], "\"POST\"");
}

#[test]
fn nothing_of_the_process_environment_leaks_in() {
    let ran = get(&[
        ("SECRET", "1"),
        ("HOME", "/home/secret-home"),
        ("PATH", "/secret/bin"),
        ("HTTP_PROXY", "http://evil.example/"),
        ("HTTP_USER_AGENT", "curl/8"),
    ]);
    let environ = demo_page(&ran);
    for name in ["SECRET", "HOME", "PATH", "HTTP_PROXY"] {
        assert!(!environ.contains_key(name), "{name} leaked: {environ:?}");
    }
    let page = ran.body_text();
    assert!(
        !page.contains("secret") && !page.contains("evil.example"),
        "{page}"
    );
    assert_eq!(
        environ["HTTP_USER_AGENT"], "\"curl/8\"",
        "request headers get in"
    );
    assert!(
        ran.stderr.contains("left out HTTP_PROXY") && ran.stderr.contains("httpoxy"),
        "{}",
        ran.stderr
    );
}

#[test]
fn https_on_makes_the_url_scheme_https() {
    let environ = demo_page(&get(&[("HTTPS", "on")]));
    assert_eq!(environ["rgi.url_scheme"], "\"https\"");
}

#[cfg(unix)]
#[test]
fn a_path_info_that_is_not_utf8_is_a_400_and_a_line_on_stderr() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;

    let mut vars: Vec<(&OsStr, &OsStr)> = request_vars(&[])
        .into_iter()
        .map(|(n, v)| (OsStr::new(n), OsStr::new(v)))
        .collect();
    vars.push((OsStr::new("PATH_INFO"), OsStr::from_bytes(b"/caf\xe9")));
    let ran = run(cgi_command(Path::new(BINARY), &vars), Stdin::KeptOpen(b""));
    assert_eq!(
        ran.code,
        Some(0),
        "a whole error page; stderr: {}",
        ran.stderr
    );
    assert_eq!(ran.first_line(), "Status: 400 Bad Request", "{ran:?}");
    assert!(
        ran.body_text().contains("PATH_INFO is not UTF-8"),
        "{ran:?}"
    );
    assert!(
        ran.stderr
            .starts_with("build environ: 400 Bad Request: PATH_INFO is not UTF-8"),
        "{}",
        ran.stderr
    );
    assert_eq!(ran.stderr.lines().count(), 1, "{}", ran.stderr);
}

#[test]
fn flags_are_ignored_under_cgi_because_the_client_can_write_them() {
    // For `GET /app?--port+0` Apache runs the program as `rgiref --port 0` (RFC 3875 §4.4).
    // Parsed, that would start a development server that never exits (and `run` would give
    // up waiting); ignored, it is an ordinary request.
    let mut command = cgi_command(
        Path::new(BINARY),
        &request_vars(&[("QUERY_STRING", "--port+0")]),
    );
    command.args(["--port", "0"]);
    let environ = demo_page(&run(command, Stdin::KeptOpen(b"")));
    assert_eq!(environ["QUERY_STRING"], "\"--port+0\"");
}

#[test]
fn a_program_named_nph_writes_the_whole_http_response() {
    let program = nph_copy_of_the_binary();
    let command = cgi_command(&program, &request_vars(&[]));
    let ran = run(command, Stdin::KeptOpen(b""));
    if let Some(dir) = program.parent() {
        let _ = std::fs::remove_dir_all(dir);
    }
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    assert_eq!(ran.first_line(), "HTTP/1.0 200 OK", "{ran:?}");
    assert!(ran.header("Date").is_some(), "{ran:?}");
    assert_eq!(ran.header("Server"), Some(rgiref::SERVER_SOFTWARE));
    assert_eq!(ran.header("Status"), None);
    assert!(ran.body_text().starts_with("Hello world!\n"));
}

/// The binary under a name starting `nph-`, as a web server would find an NPH program: a hard
/// link if the file system allows one, a copy otherwise.
fn nph_copy_of_the_binary() -> PathBuf {
    let dir = temp_path("nph");
    std::fs::create_dir_all(&dir).expect("make a directory for the nph- program");
    let program = dir.join(format!("nph-rgiref{}", std::env::consts::EXE_SUFFIX));
    if std::fs::hard_link(BINARY, &program).is_err() {
        std::fs::copy(BINARY, &program).expect("copy the binary");
    }
    program
}

#[test]
fn rgiref_trace_narrates_the_request_on_standard_error_and_stays_out_of_the_environ() {
    let ran = get(&[("RGIREF_TRACE", ""), ("PATH_INFO", "/traced")]);
    let environ = demo_page(&ran);
    assert!(!environ.contains_key("RGIREF_TRACE"), "{environ:?}");
    for expected in [
        "[build environ] * PATH_INFO = \"/traced\"",
        "[call app]      * start_response(\"200 OK\", 1 header)",
        "[send headers]  < Content-Length: ",
        "[finish]        * 200, ",
    ] {
        assert!(
            ran.stderr.contains(expected),
            "{expected:?} in:\n{}",
            ran.stderr
        );
    }
    let refused = get(&[("RGIREF_TRACE", "loud")]);
    assert!(
        refused
            .stderr
            .contains("RGIREF_TRACE: --trace takes bytes and secrets"),
        "{}",
        refused.stderr
    );
}
