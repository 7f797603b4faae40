//! The `rgiref` binary, run as a user runs it (`cargo run -- --port 0`).
//!
//! Stage: **accept** — the binary parses its flags, binds the listening socket and prints where
//! it listens — then every stage end to end for the demo application.
//!
//! What a reader learns here:
//! * `--help` and `--version` print to standard output and exit 0.
//! * Every mistake on the command line — an unknown flag, a bad port, a host that is not an IP
//!   address, an address that is not this machine's, a port someone else holds — is exactly one
//!   line on standard error starting `rgiref: `, and exit code 2. Never a panic.
//! * `--port 0` asks the system for a free port; the banner says which one, so a script (or
//!   this test) reads it from standard output. The access log goes to standard error, and
//!   `--quiet` turns it off while errors are still logged.

mod common;
mod server_process;

use std::net::TcpListener;

use server_process::{run_to_exit, ServerProcess};

/// Asserts that `args` is refused the way every mistake is: one `rgiref: ` line on standard
/// error that mentions `hint`, nothing on standard output, exit code 2, no panic.
fn assert_refused(args: &[&str], hint: &str) -> String {
    let exited = run_to_exit(args);
    let stderr = &exited.stderr;
    assert_eq!(
        exited.code,
        Some(2),
        "exit code for {args:?}; stderr: {stderr}"
    );
    assert!(
        !stderr.contains("panicked"),
        "a panic for {args:?}: {stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "one line for {args:?}: {stderr}");
    assert!(stderr.ends_with('\n'), "{stderr:?}");
    assert!(stderr.starts_with("rgiref: "), "{stderr}");
    assert!(
        stderr.contains(hint),
        "{args:?} should mention {hint:?}: {stderr}"
    );
    assert_eq!(exited.stdout, "", "nothing on stdout for {args:?}");
    exited.stderr
}

#[test]
fn help_prints_the_usage_and_exits_0() {
    let exited = run_to_exit(&["--help"]);
    assert_eq!(exited.code, Some(0), "{}", exited.stderr);
    assert!(exited.stdout.contains("usage: rgiref"), "{}", exited.stdout);
    for flag in ["--host", "--port", "--quiet", "--help", "--version"] {
        assert!(exited.stdout.contains(flag), "usage mentions {flag}");
    }
    assert_eq!(exited.stderr, "");
}

#[test]
fn version_prints_name_and_version_and_exits_0() {
    let exited = run_to_exit(&["--version"]);
    assert_eq!(exited.code, Some(0), "{}", exited.stderr);
    let expected = format!("rgiref {}\n", env!("CARGO_PKG_VERSION"));
    assert_eq!(exited.stdout, expected);
    assert_eq!(exited.stderr, "");
}

#[test]
fn an_unknown_flag_is_refused() {
    assert_refused(&["--bogus"], "unknown argument \"--bogus\"");
}

#[test]
fn a_port_that_is_not_a_number_is_refused() {
    assert_refused(&["--port", "abc"], "--port needs a number from 0 to 65535");
}

#[test]
fn a_port_above_65535_is_refused() {
    assert_refused(
        &["--port", "70000"],
        "--port needs a number from 0 to 65535",
    );
}

#[test]
fn a_port_flag_without_a_value_is_refused() {
    assert_refused(&["--port"], "--port needs a value");
}

#[test]
fn a_host_name_is_refused_because_there_is_no_dns() {
    assert_refused(&["--host", "example.org"], "--host needs an IP address");
}

#[test]
fn an_address_that_is_not_this_machines_cannot_be_listened_on() {
    // 192.0.2.0/24 is TEST-NET-1 (RFC 5737): reserved for documentation, never assigned, so
    // binding to it fails with "address not available".
    assert_refused(
        &["--host", "192.0.2.1", "--port", "0"],
        "that address does not belong to this machine",
    );
}

#[test]
fn a_port_already_in_use_is_refused_with_a_hint() {
    let holder = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = holder.local_addr().unwrap().port().to_string();
    let stderr = assert_refused(
        &["--port", &port],
        &format!("cannot listen on 127.0.0.1:{port}: "),
    );
    assert!(
        stderr.contains("the port is already in use")
            && stderr.contains("--port 0 for any free port"),
        "{stderr}"
    );
    drop(holder);
}

#[test]
fn port_0_serves_the_demo_page_and_logs_each_request() {
    let server = ServerProcess::start(&["--port", "0"]);
    let banner = &server.banner;
    assert!(banner.contains("development server"), "{banner}");
    assert!(banner.contains("Press Ctrl+C to quit."), "{banner}");
    assert_eq!(server.addr.ip().to_string(), "127.0.0.1");
    assert_ne!(server.addr.port(), 0, "the banner gives the real port");
    assert_eq!(
        server.url,
        format!("http://127.0.0.1:{}/", server.addr.port())
    );
    assert!(banner.contains(&format!("Serving the demo application at {}\n", server.url)));

    let response = common::request(server.addr, b"GET /cli HTTP/1.0\r\n\r\n");
    assert_eq!(response.status, 200);
    assert!(
        response.body_text().starts_with("Hello world!\n"),
        "{}",
        response.body_text()
    );

    let access = format!("\"GET /cli HTTP/1.0\" 200 {}\n", response.body.len());
    let stderr = server.wait_for_stderr(|text| text.contains(&access), "the access line");
    let line = stderr.lines().find(|l| l.contains("GET /cli")).unwrap();
    assert!(line.starts_with("127.0.0.1 - - ["), "{line}");
}

#[test]
fn quiet_turns_off_the_access_log_but_not_the_error_log() {
    let server = ServerProcess::start(&["--port", "0", "--quiet"]);
    let response = common::request(server.addr, b"GET /quiet HTTP/1.0\r\n\r\n");
    assert_eq!(response.status, 200);
    // A request the server refuses is logged even with --quiet. Lines reach stderr in order,
    // so once this error line is there, an access line for /quiet would be there too.
    let refused = common::request(server.addr, b"GET  /refused HTTP/1.0\r\n\r\n");
    assert_eq!(refused.status, 400);
    let stderr = server.wait_for_stderr(|text| text.contains("/refused"), "the error line");
    assert!(stderr.contains("read request: 400 Bad Request"), "{stderr}");
    assert!(
        !stderr.contains("/quiet"),
        "no access line with --quiet:\n{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "only the error line:\n{stderr}");
}

#[test]
fn ipv6_loopback_works_too() {
    let server = ServerProcess::start(&["--host", "::1", "--port", "0"]);
    assert_eq!(server.url, format!("http://[::1]:{}/", server.addr.port()));
    assert_ne!(server.addr.port(), 0);
    let response = common::request(server.addr, b"GET / HTTP/1.0\r\n\r\n");
    assert_eq!(response.status, 200);
    let environ = common::demo_environ(&response.body_text());
    assert_eq!(environ["REMOTE_ADDR"], "\"::1\"");
    let stderr = server.wait_for_stderr(
        |text| text.contains("\"GET / HTTP/1.0\" 200"),
        "the access line",
    );
    assert!(stderr.starts_with("::1 - - ["), "{stderr}");
}
