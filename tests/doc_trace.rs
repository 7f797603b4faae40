//! TUTORIAL §1 shows the `--trace` of one request; this test sends the same bytes to a server
//! with the same trace, and checks the tutorial still shows what the trace says.
//!
//! Stage: all of them, watched through `rgiref::trace::Trace`. Numbers (ports, byte counts, the
//! date) differ from run to run, so every run of digits compares as `#`.

mod common;

use std::io::{self, Write};
use std::sync::{Arc, Mutex};

use rgiref::demo::demo_app;
use rgiref::trace::{Trace, TraceOptions};

/// The request TUTORIAL §1 sends with the raw client, as bytes.
const REQUEST: &[u8] =
    b"GET /hello?x=1 HTTP/1.0\r\nHost: localhost:8000\r\nX-Hello: there\r\nX_Forwarded_For: 1.2.3.4\r\n\r\n";

/// A writer the test can read back.
#[derive(Clone, Default)]
struct Shared(Arc<Mutex<Vec<u8>>>);

impl Write for Shared {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// `line` with every run of digits as `#`.
fn without_numbers(line: &str) -> String {
    let mut out = String::new();
    for c in line.chars() {
        if c.is_ascii_digit() {
            if !out.ends_with('#') {
                out.push('#');
            }
        } else {
            out.push(c);
        }
    }
    out
}

#[test]
fn the_tutorials_trace_is_what_the_trace_says() {
    let tutorial = std::fs::read_to_string("TUTORIAL.md").expect("TUTORIAL.md");
    let start = tutorial
        .find("<!-- trace: begin -->\n```text\n")
        .expect("TUTORIAL §1 marks its trace")
        + "<!-- trace: begin -->\n```text\n".len();
    let end = start + tutorial[start..].find("```").expect("the block ends");
    let shown: Vec<String> = tutorial[start..end].lines().map(without_numbers).collect();

    let out = Shared::default();
    let trace = Trace::new(out.clone(), TraceOptions::default());
    let server = common::start_with(demo_app, |config| {
        config.observer = Some(Arc::new(trace));
    });
    server.request(REQUEST);
    server.ping(); // one request at a time: the first is over, its trace complete
    let traced = String::from_utf8(out.0.lock().unwrap().clone()).expect("UTF-8");
    let first = traced
        .split_inclusive("* connection closed\n")
        .next()
        .expect("a whole request");
    let said: Vec<String> = first.lines().map(without_numbers).collect();
    assert_eq!(
        shown, said,
        "TUTORIAL §1's trace must be what `--trace` prints for its request (digits aside)"
    );
}
