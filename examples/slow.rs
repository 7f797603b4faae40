//! One thread, one request at a time: what that means for everyone else who is waiting.
//!
//! Stage: **accept**. The application is trivial — `/slow` sleeps before it answers (think of a
//! slow database query), every other path answers at once — so that what you watch is the
//! server's loop, `Server::serve_forever` in `src/server/mod.rs`: accept one connection, serve
//! it to the end, and only then accept the next. It is the question of the mailing-list thread
//! this crate grew from: "Does it just spawn a new thread for each request?" — "No, it is
//! single-threaded." Here is what that looks like.
//!
//! **1. A slow request holds up everyone.** Start the server, then use two more terminals:
//!
//! ```text
//!   cargo run --example slow            # port 8005; /slow takes 3 s
//!   cargo run --example slow -- 8015 10 # or: port 8015, and /slow takes 10 s
//!
//!   curl http://127.0.0.1:8005/slow     # second terminal; 3 s later it prints
//!     slow: answered after 3s
//!   time curl http://127.0.0.1:8005/    # third terminal, while the second still waits
//!     fast: answered at once (environ.multithread is false)
//!     real 0m1.9s                       # whatever was left of /slow's 3 s
//! ```
//!
//! `/` takes no time, yet it waited: its connection sat in the kernel's listen queue until the
//! loop was done with `/slow`. The server's log says so in its order: `/slow`'s line, then `/`'s.
//!
//! **2. So does a client that says nothing.** Hold a connection open with our raw client:
//!
//! ```text
//!   cargo run --example raw -- --to 127.0.0.1:8005 --idle 30   # second terminal
//!   time curl http://127.0.0.1:8005/                           # third terminal, at once
//! ```
//!
//! curl waits about 2 s, until `Timeouts::first_byte` runs out for the idle connection. Then
//! raw reports `* the server closed the connection 2007 ms after we connected, before we sent
//! anything` (give or take a few ms), the server logs `read request: closed an idle
//! connection: no request within 2s (a browser's spare pre-connect socket, usually)`, and curl
//! gets its answer. Browsers open such spare sockets all the time, and that timeout is
//! rgiref's defence. wsgiref has none: `socketserver.StreamRequestHandler.timeout` is `None`,
//! so the server waits for the idle client's request line as long as the client likes, and
//! everyone else waits with it. That is bpo-31639, where Chrome hung `python -m http.server`;
//! Python's answer was a thread per request (`ThreadingHTTPServer`, Python 3.7).
//!
//! **What production servers do instead** is serve many connections at once, in one of three
//! ways, and keep timeouts all the same (nginx's `client_header_timeout` is 60 s by default):
//! * threads, each blocking on one client as this loop does: one per connection
//!   (`ThreadingHTTPServer`) or a pool of them (Apache's worker MPM, waitress);
//! * prefork: a pool of processes, each one like this loop (Apache's prefork MPM, gunicorn's
//!   default sync workers — which is why gunicorn's docs insist on a proxy that buffers slow
//!   clients in front of it);
//! * an event loop: one thread per core watching thousands of non-blocking sockets with epoll
//!   or kqueue (nginx, servers built on tokio), where an idle socket costs memory, not a thread.
//!
//! An application learns which from `environ.multithread` and `environ.multiprocess` (WSGI's
//! `wsgi.multithread` and `wsgi.multiprocess`), and may skip its locks when both are false.
//! Here both are false, truthfully. wsgiref's `simple_server` said `wsgi.multithread = True`
//! up to Python 3.7 — its `ServerHandler` kept `SimpleHandler`'s default, `multithread=True` —
//! though it serves one request at a time; since Python 3.8 it passes `multithread=False`.

use std::io::Write;
use std::thread;
use std::time::Duration;

use rgiref::gateway::{AppError, Body, Environ, StartResponse, Status};
use rgiref::server::Server;
use rgiref::validate::validator;

/// `/slow` answers after `delay`; every other path at once.
fn slow_or_fast(
    delay: Duration,
    environ: &mut Environ,
    start_response: &mut StartResponse,
) -> Result<Body, AppError> {
    let text = if environ.path_info() == "/slow" {
        // To the server's log, so you can see when the wait begins.
        writeln!(
            environ.errors,
            "slow: sleeping {delay:?}; other clients wait"
        )?;
        thread::sleep(delay); // our only thread: nothing else is served meanwhile
        format!("slow: answered after {delay:?}\n")
    } else {
        let multithread = environ.multithread;
        format!("fast: answered at once (environ.multithread is {multithread})\n")
    };
    start_response.start(Status::OK, [("Content-Type", "text/plain; charset=utf-8")])?;
    Ok(Body::from(text))
}

/// The port used when none is given: not 8000, so this runs beside `cargo run`.
const DEFAULT_PORT: &str = "8005";
/// How long `/slow` sleeps when not told.
const DEFAULT_SECONDS: &str = "3";

fn main() {
    let mut args = std::env::args().skip(1);
    let port = args.next().unwrap_or_else(|| DEFAULT_PORT.to_owned());
    let seconds = args.next().unwrap_or_else(|| DEFAULT_SECONDS.to_owned());
    let Some(delay) = seconds
        .parse()
        .ok()
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
    else {
        eprintln!("slow: {seconds:?} is not a number of seconds (usage: cargo run --example slow -- [PORT] [SECONDS])");
        std::process::exit(2);
    };
    let address = format!("127.0.0.1:{port}");
    let app = move |environ: &mut Environ, start_response: &mut StartResponse| {
        slow_or_fast(delay, environ, start_response)
    };
    // Under the validator, as every example: a broken rule is a log line, not a silent bug.
    match Server::bind(&address, validator(app)) {
        Ok(server) => {
            println!(
                "slow: development server at {} (Ctrl+C to quit); /slow takes {delay:?}",
                server.url()
            );
            server.serve_forever();
        }
        Err(error) => {
            eprintln!("slow: cannot listen on {address}: {error} (give another port: cargo run --example slow -- 8015)");
            std::process::exit(2);
        }
    }
}
