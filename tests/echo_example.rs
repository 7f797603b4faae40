//! `examples/echo.rs`, run as its header says to run it, and tried as it says to try it.
//!
//! Stages: **call app** and **send body** — the example reads the request body while the
//! response streams it back — seen from outside, over a real socket, in the example's own
//! process (built with `cargo build --example echo`, started on port 0 like `cli.rs` starts
//! the `rgiref` binary).
//!
//! What a reader learns here:
//! * The commands in the example's header do what it says: a `Content-Length` upload, a
//!   chunked one and an `Expect: 100-continue` one all come back after a line saying how they
//!   arrived, and `100 Continue` comes before the response.
//! * A `GET` with no body (a browser's) gets a short text page saying how to upload.
//! * The upload is streamed, not held: 64 MiB through it leaves the process's peak memory far
//!   below 64 MiB.

mod common;
mod server_process;

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;
use std::thread;

use server_process::ServerProcess;

/// Builds the example (once per test run) and returns its path. `cargo test` builds examples
/// too, but not `cargo test --test echo_example`, and a binary left from an older build would
/// test old code: asking Cargo is the only way to be sure. It is quick when nothing changed.
fn echo_binary() -> &'static PathBuf {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        // This test runs from target/<profile>/deps/; the example goes to target/<profile>/examples/.
        let exe = std::env::current_exe().expect("the test binary's path");
        let profile_dir = exe
            .parent()
            .and_then(|deps| deps.parent())
            .expect("target/<profile>/deps");
        let mut build = Command::new(env!("CARGO"));
        build.args(["build", "--quiet", "--example", "echo"]);
        match profile_dir.file_name().and_then(|name| name.to_str()) {
            Some("debug") | None => {}
            Some(profile) => {
                build.args(["--profile", profile]);
            }
        }
        let status = build.status().expect("run cargo build --example echo");
        assert!(status.success(), "cargo build --example echo failed");
        let binary = profile_dir.join("examples").join("echo");
        assert!(binary.exists(), "no example binary at {}", binary.display());
        binary
    })
}

/// `cargo run --example echo -- 0`, in effect: the example on a free port, banner read.
fn start_echo() -> ServerProcess {
    let mut command = Command::new(echo_binary());
    command.arg("0");
    let mut server = ServerProcess::spawn(command);
    server.wait_for_banner();
    assert!(
        server
            .banner
            .starts_with("echo: development server at http://127.0.0.1:"),
        "{}",
        server.banner
    );
    server
}

#[test]
fn a_get_without_a_body_gets_a_page_saying_how_to_upload() {
    let echo = start_echo();
    let response = common::request(echo.addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("Content-Type"),
        Some("text/plain; charset=utf-8")
    );
    let page = response.body_text();
    assert!(
        page.contains(&format!("curl --data-binary 'hello' {}", echo.url)),
        "{page}"
    );
}

#[test]
fn a_content_length_upload_comes_back_after_a_line_saying_so() {
    let echo = start_echo();
    let response = common::request(
        echo.addr,
        b"POST /x HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello",
    );
    assert_eq!(response.status, 200);
    let expected = "POST /x with Content-Length: 5:\nhello";
    assert_eq!(response.body_text(), expected);
    assert_eq!(
        response.header("Content-Length"),
        Some(expected.len().to_string().as_str())
    );
}

#[test]
fn a_chunked_upload_comes_back_too() {
    let echo = start_echo();
    let response = common::request(
        echo.addr,
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
    );
    assert_eq!(response.status, 200);
    assert_eq!(
        response.body_text(),
        "POST / with no Content-Length (chunked, or no body):\nhello world"
    );
}

#[test]
fn expect_100_continue_is_answered_before_the_echo() {
    let echo = start_echo();
    let mut client = common::connect(echo.addr);
    client
        .write_all(
            b"PUT /f HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
        )
        .unwrap();
    let interim = b"HTTP/1.1 100 Continue\r\n\r\n";
    let mut received = vec![0; interim.len()];
    client.read_exact(&mut received).unwrap(); // before we send a byte of the body
    assert_eq!(
        String::from_utf8_lossy(&received),
        "HTTP/1.1 100 Continue\r\n\r\n"
    );
    client.write_all(b"hello").unwrap();
    let response = common::read_response(&mut client);
    assert_eq!(response.status_line, "HTTP/1.0 200 OK");
    assert_eq!(
        response.body_text(),
        "PUT /f with Content-Length: 5:\nhello"
    );
}

#[test]
fn a_big_upload_streams_through_in_constant_memory() {
    let echo = start_echo();
    let size: usize = 64 * 1024 * 1024;
    let mut client = common::connect(echo.addr);
    write!(
        client,
        "PUT /big HTTP/1.0\r\nContent-Length: {size}\r\n\r\n"
    )
    .unwrap();
    // Send on one thread and read on this one: the echo writes each block back before it reads
    // the next, so a client must read while it sends (curl does).
    let mut sending = client.try_clone().unwrap();
    let sender = thread::spawn(move || {
        let block = vec![b'x'; 64 * 1024];
        for _ in 0..size / block.len() {
            sending.write_all(&block).unwrap();
        }
    });
    let response = common::read_response(&mut client);
    sender.join().unwrap();
    let first_line = format!("PUT /big with Content-Length: {size}:\n");
    assert_eq!(response.body.len(), first_line.len() + size);
    assert!(response.body.starts_with(first_line.as_bytes()));
    assert!(response.body[first_line.len()..].iter().all(|&b| b == b'x'));
    #[cfg(target_os = "linux")]
    {
        // VmHWM: the process's peak resident memory. Holding the upload would make it more
        // than 64 MiB; streaming keeps it to a few.
        let status = std::fs::read_to_string(format!("/proc/{}/status", echo.id())).unwrap();
        let peak_kib: u64 = status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no VmHWM in:\n{status}"));
        println!("echo's peak memory after 64 MiB through it: {peak_kib} KiB");
        assert!(peak_kib < 16 * 1024, "peak {peak_kib} KiB");
    }
}
