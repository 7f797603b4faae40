//! `examples/fastcgi_raw.rs`, the FastCGI responder with no gateway interface, run as its header
//! says and spoken to by our FastCGI test client (`common/fcgi_client.rs`), which builds its
//! records from the specification without the crate's encoder — or the example's.
//!
//! Stages: all of a FastCGI responder's, seen from the web server's side of the socket, in the
//! example's own process (`fastcgi_raw 127.0.0.1:0`: a free port, read from its banner).
//!
//! What a reader learns here:
//! * A request as nginx sends it (BEGIN_REQUEST, PARAMS, STDIN) gets STDOUT records holding a
//!   CGI response — `Status: 200 OK`, headers, the page — then the empty STDOUT record and
//!   END_REQUEST, and the connection closes.
//! * Records cut anywhere, and lengths of four bytes, are read the same.
//! * Bytes that are not a request it can serve get the connection closed without a reply and
//!   a line on standard error that says what was wrong — and the next connection is served.
//! * The example's "Side by side" map of itself onto `src/` names only files and items that
//!   exist, so it stays true as `src/` changes.
//!
//! `cargo test --test fastcgi_raw_example -- --nocapture` prints the records of one reply.

mod common;
mod server_process;

use std::net::SocketAddr;
use std::process::Command;

use common::fcgi_client::{
    begin, record, Client, FcgiRequest, AUTHORIZER, END_REQUEST, PARAMS, RESPONDER, STDIN, STDOUT,
};
use rgiref::fastcgi::Address;
use server_process::{example_binary, ServerProcess};

/// `cargo run --example fastcgi_raw -- 127.0.0.1:0`, in effect, and the address it bound.
fn start() -> (ServerProcess, Address) {
    let mut command = Command::new(example_binary("fastcgi_raw"));
    command.arg("127.0.0.1:0");
    let process = ServerProcess::spawn(command);
    let banner = process.wait_for_stdout(|text| text.contains('\n'), "the banner");
    let rest = banner
        .strip_prefix("fastcgi_raw: listening on ")
        .unwrap_or_else(|| panic!("not the banner: {banner:?}"));
    let address: SocketAddr = rest
        .split_whitespace()
        .next()
        .and_then(|word| word.parse().ok())
        .unwrap_or_else(|| panic!("no address in the banner: {banner:?}"));
    (process, Address::Tcp(address))
}

#[test]
fn a_request_gets_a_cgi_response_then_end_request_then_the_close() {
    let (_process, address) = start();
    let mut client = Client::connect(&address);
    client.send(&FcgiRequest::post("/hello?x=1", b"greeting=hi").bytes());
    let reply = client.read_reply(1);
    for rec in &reply.records {
        let name = rgiref::fastcgi::record::type_name(rec.kind); // names only; our client reads
        let (length, id) = (rec.content.len(), rec.id);
        println!("{name} for request {id}: {length} content bytes");
    }
    println!("STDOUT:\n{}", String::from_utf8_lossy(&reply.stdout));

    reply.assert_complete();
    let kinds: Vec<u8> = reply.records.iter().map(|r| r.kind).collect();
    assert_eq!(kinds, [STDOUT, STDOUT, END_REQUEST], "{:?}", reply.records);
    assert!(
        reply.records[1].content.is_empty(),
        "the STDOUT stream ends"
    );
    assert!(reply.stdout.starts_with(b"Status: 200 OK\r\n"));
    let response = reply.response();
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("Content-Type"),
        Some("text/plain; charset=utf-8")
    );
    let length = response.body.len().to_string();
    assert_eq!(response.header("Content-Length"), Some(length.as_str()));
    let page = response.body_text();
    for line in [
        "REQUEST_METHOD = \"POST\"",
        "REQUEST_URI = \"/hello?x=1\"",
        "SERVER_SOFTWARE = \"nginx/1.26.0\"",
        "16 params in all; a body of 11 bytes",
    ] {
        assert!(page.contains(line), "{line:?} not in:\n{page}");
    }
    assert!(client.is_closed_by_server(), "one request per connection");
}

#[test]
fn records_cut_anywhere_and_four_byte_lengths_read_the_same() {
    let (_process, address) = start();
    let long = "v".repeat(300); // a value of 300 bytes: its length takes four bytes
    let request = FcgiRequest::post("/long", &[b'b'; 1000])
        .param("HTTP_X_LONG", &long)
        .id(513) // two bytes of request id, both used
        .piece(5); // PARAMS and STDIN in 5-byte records, pairs split across them
    let mut client = Client::connect(&address);
    client.send(&request.bytes());
    let reply = client.read_reply(513);
    reply.assert_complete();
    let page = reply.response().body_text();
    assert!(page.contains("REQUEST_URI = \"/long\""), "{page}");
    assert!(
        page.contains("17 params in all; a body of 1000 bytes"),
        "{page}"
    );
}

/// What a malformed connection sends, how it ends, and the stderr line it must cause.
struct Malformed {
    what: &'static str,
    bytes: Vec<u8>,
    then_half_close: bool,
    logged: &'static str,
}

fn malformed_cases() -> Vec<Malformed> {
    let mut broken_pairs = begin(1, RESPONDER, false);
    broken_pairs.extend(record(PARAMS, 1, b"\x0b\x02SERVER")); // 13 bytes promised, 6 sent
    broken_pairs.extend(record(PARAMS, 1, b""));
    broken_pairs.extend(record(STDIN, 1, b""));
    vec![
        Malformed {
            what: "an HTTP request",
            bytes: b"GET / HTTP/1.0\r\n\r\n".to_vec(),
            then_half_close: false,
            logged: "not FastCGI: a header of \"GET / HT\"",
        },
        Malformed {
            what: "half a header, then the end",
            bytes: vec![1, 1, 0],
            then_half_close: true,
            logged: "the connection ended before the request",
        },
        Malformed {
            what: "a pair longer than its PARAMS",
            bytes: broken_pairs,
            then_half_close: false,
            logged: "a pair longer than the PARAMS left",
        },
        Malformed {
            what: "the Authorizer role",
            bytes: begin(1, AUTHORIZER, false),
            then_half_close: false,
            logged: "role 2: not a Responder (1)",
        },
    ]
}

#[test]
fn malformed_bytes_close_the_connection_with_a_stderr_line_and_the_next_is_served() {
    let (process, address) = start();
    for case in malformed_cases() {
        let mut client = Client::connect(&address);
        client.send(&case.bytes);
        if case.then_half_close {
            client.shutdown_write();
        }
        assert!(
            client.is_closed_by_server(),
            "{}: closed without a reply",
            case.what
        );
        let line = format!("fastcgi_raw: gave up on a connection: {}", case.logged);
        process.wait_for_stderr(|text| text.contains(&line), case.what);

        let mut next = Client::connect(&address);
        next.send(&FcgiRequest::get("/next").bytes());
        let reply = next.read_reply(1);
        reply.assert_complete();
        assert_eq!(reply.response().status, 200, "after {}", case.what);
    }
}

/// The right-hand column of the example's "Side by side" block, as one text: everything from
/// the column where its heading says `rgiref`, down to the block's end.
fn side_by_side_column(example: &str) -> String {
    let mut lines = example.lines().skip_while(|l| !l.contains("  here  "));
    let heading = lines.next().expect("the example has a Side by side block");
    let column = heading
        .find("rgiref")
        .expect("its heading names the rgiref column");
    let right = lines.take_while(|l| l.starts_with("//   "));
    right
        .map(|l| l.get(column..).unwrap_or(""))
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn the_side_by_side_map_names_files_and_items_that_exist() {
    let example = std::fs::read_to_string("examples/fastcgi_raw.rs").expect("the example");
    let column = side_by_side_column(&example);
    let all_src: String = ["src/fastcgi", "src/engine", "src/gateway", "src/cgi", "src"]
        .iter()
        .flat_map(|dir| std::fs::read_dir(dir).expect("a src directory"))
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "rs"))
        .map(|path| std::fs::read_to_string(path).expect("a source file"))
        .collect();
    let defines_type = |text: &str, name: &str| {
        ["struct", "enum", "trait"]
            .iter()
            .any(|kind| text.contains(&format!("{kind} {name}")))
    };
    let defines_fn = |text: &str, name: &str| {
        text.contains(&format!("fn {name}(")) || text.contains(&format!("fn {name}<"))
    };
    let mut checked = 0;
    for segment in column.split("src/").skip(1) {
        let (path, items) = segment.split_once(':').expect("src/PATH: names");
        let path = format!("src/{path}");
        let text = std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("no {path}"));
        let cleaned: String = items
            .chars()
            .map(|c| {
                if c.is_alphanumeric() || c == '_' || c == ':' {
                    c
                } else {
                    ' '
                }
            })
            .collect();
        for token in cleaned.split_whitespace().map(|t| t.trim_matches(':')) {
            let found = if let Some((owner, item)) = token.split_once("::") {
                defines_type(&all_src, owner) && defines_fn(&text, item)
            } else if token.contains('_') && token.chars().all(|c| c.is_lowercase() || c == '_') {
                defines_fn(&text, token)
            } else if token.starts_with(char::is_uppercase) && token.contains(char::is_lowercase) {
                defines_type(&text, token)
            } else {
                continue; // a word of prose
            };
            assert!(
                found,
                "the example's Side by side block cites {token} in {path}: not there"
            );
            checked += 1;
        }
    }
    assert!(checked > 30, "only {checked} names found in:\n{column}");
}
