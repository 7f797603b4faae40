//! `examples/slow.rs`, run as its header says, and its two lessons checked over real sockets.
//!
//! Stage: **accept** — the server's one-at-a-time loop — seen from outside, in the example's own
//! process (`slow 0 SECONDS`: a free port, and `/slow` sleeping that long).
//!
//! What a reader learns here:
//! * A request sent while `/slow` is being served is answered only after `/slow` is done.
//! * A connection that says nothing holds up the next one until the first-byte timeout closes
//!   it, without a response, and the log says so.
//!
//! Neither test measures how long anything took. The order of completion comes from the
//! server's log: it writes each request's access line before that client can see the end of its
//! response, and it writes them one at a time, in the order it finishes the requests.

mod common;
mod server_process;

use std::io::{Read, Write};
use std::process::Command;
use std::thread;

use server_process::{example_binary, ServerProcess};

/// `cargo run --example slow -- 0 SECONDS`, in effect: the example on a free port.
fn start(seconds: &str) -> ServerProcess {
    let mut command = Command::new(example_binary("slow"));
    command.args(["0", seconds]);
    let mut server = ServerProcess::spawn(command);
    server.wait_for_banner();
    assert!(
        server
            .banner
            .starts_with("slow: development server at http://127.0.0.1:"),
        "{}",
        server.banner
    );
    server
}

const FAST_DONE: &str = "\"GET / HTTP/1.0\" 200";

#[test]
fn a_request_sent_while_slow_is_served_is_answered_after_it() {
    // 2 s: time enough for the test to send `/` while `/slow` sleeps, even on a busy machine.
    let server = start("2");
    let mut slow = common::connect(server.addr);
    slow.write_all(b"GET /slow HTTP/1.0\r\n\r\n").unwrap();
    // The application logs when it starts to sleep: from then on, /slow is being served.
    server.wait_for_stderr(|log| log.contains("slow: sleeping 2s"), "/slow to begin");
    let addr = server.addr;
    let fast = thread::spawn(move || common::request(addr, b"GET / HTTP/1.0\r\n\r\n"));

    let slow = common::read_response(&mut slow);
    let fast = fast.join().expect("the client thread for /");
    assert_eq!(
        (slow.status, slow.body_text().as_str()),
        (200, "slow: answered after 2s\n")
    );
    assert_eq!(
        (fast.status, fast.body_text().as_str()),
        (
            200,
            "fast: answered at once (environ.multithread is false)\n"
        )
    );
    let log = server.wait_for_stderr(|log| log.contains(FAST_DONE), "the access line for /");
    let slow_done = log.find("\"GET /slow HTTP/1.0\" 200");
    let fast_done = log.find(FAST_DONE);
    assert!(
        matches!((slow_done, fast_done), (Some(s), Some(f)) if s < f),
        "/slow must finish first:\n{log}"
    );
}

#[test]
fn an_idle_connection_holds_up_the_next_until_the_first_byte_timeout() {
    let server = start("2");
    // Connected first, so accepted first: the listen queue is first come, first served.
    let mut idle = common::connect(server.addr);
    let later = common::request(server.addr, b"GET / HTTP/1.0\r\n\r\n");
    assert_eq!(later.status, 200, "{later:?}");

    // The server closed the idle connection (the client timeout, 10 s, would fail the read),
    // and sent it nothing: there was no request to answer.
    let mut received = Vec::new();
    idle.read_to_end(&mut received)
        .expect("the server closes the idle connection");
    assert!(
        received.is_empty(),
        "{}",
        String::from_utf8_lossy(&received)
    );

    let log = server.wait_for_stderr(|log| log.contains(FAST_DONE), "the access line for /");
    let closed =
        log.find("read request: closed an idle connection: no request within 2s (a browser's spare pre-connect socket, usually)");
    let served = log.find(FAST_DONE);
    assert!(
        matches!((closed, served), (Some(c), Some(s)) if c < s),
        "the idle connection must be closed before / is served:\n{log}"
    );
}
