//! `examples/hello.rs`, the smallest RGI application, run as its header says.
//!
//! Stage: **call app**, seen from outside, over a real socket, in the example's own process
//! (`hello 0`: a free port instead of its 8001, read from its banner).
//!
//! What a reader learns here:
//! * The banner names the development server's URL, and `GET /` there gets the greeting.
//! * A port that is taken gets one plain line on standard error and an exit, not a panic —
//!   what README.md promises.

mod common;
mod server_process;

use std::net::TcpListener;
use std::process::Command;

use server_process::{example_binary, ServerProcess};

fn hello(port: &str) -> Command {
    let mut command = Command::new(example_binary("hello"));
    command.arg(port);
    command
}

#[test]
fn get_slash_returns_the_greeting() {
    let mut server = ServerProcess::spawn(hello("0"));
    server.wait_for_banner();
    assert!(
        server
            .banner
            .starts_with("hello: development server at http://127.0.0.1:"),
        "{}",
        server.banner
    );
    let response = common::get_and_read(server.addr, "/");
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("Content-Type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(response.body_text(), "Hello world! You asked for \"/\".\n");
    let other = common::get_and_read(server.addr, "/some/path");
    assert_eq!(
        other.body_text(),
        "Hello world! You asked for \"/some/path\".\n"
    );
    assert!(
        !server.stderr_text().contains("validate:"),
        "{}",
        server.stderr_text()
    );
}

#[test]
fn a_port_that_is_taken_gets_a_plain_line_and_an_exit() {
    let taken = TcpListener::bind("127.0.0.1:0").expect("a port to take");
    let port = taken.local_addr().expect("its address").port().to_string();
    let exited = ServerProcess::spawn(hello(&port)).wait_for_exit();
    assert_eq!(exited.code, Some(2), "{exited:?}");
    let expected = format!("hello: cannot listen on port {port}: ");
    assert!(exited.stderr.starts_with(&expected), "{exited:?}");
    assert_eq!(exited.stderr.lines().count(), 1, "{exited:?}");
    assert!(!exited.stderr.contains("panicked"), "{exited:?}");
}
