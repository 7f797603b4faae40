//! An application that streams the request body back: uploads, chunked bodies and
//! `Expect: 100-continue`, seen from the application's side.
//!
//! Stages: **call app**, reading `environ.input` — which ends exactly where the body ends,
//! whether the client sent a `Content-Length` or a chunked body — and **send body**, which here
//! *is* the upload: the response is a reader over the request body, passed on block by block as
//! it arrives, so a 1 GiB upload costs the server a 64 KiB buffer, not 1 GiB of memory.
//!
//! Run it and try it:
//!
//! ```text
//!   cargo run --example echo              # port 8002; or: cargo run --example echo -- 8011
//!   curl -v --data-binary 'hello' http://127.0.0.1:8002/          # Content-Length
//!   curl -v -T Cargo.toml http://127.0.0.1:8002/                  # PUT, Expect: 100-continue
//!   curl -v -H 'Transfer-Encoding: chunked' --data-binary @Cargo.toml http://127.0.0.1:8002/
//!   head -c 1G /dev/zero | curl -sT - http://127.0.0.1:8002/ | wc -c   # 1 GiB through and back
//! ```
//!
//! Open <http://127.0.0.1:8002/> in a browser, too: a `GET` has no body to echo, so it gets a
//! short page saying how to send one.
//!
//! Watch for `HTTP/1.1 100 Continue` in curl's output: the server sends it the moment this
//! application first reads the body, not before — so an application that refuses an upload
//! (say, with 403) never makes the client send it.
//!
//! Streaming back has one condition: the client must read the response while it is still
//! sending (curl does). The server writes each block back before it reads the next, so a client
//! that sends everything before reading anything fills the buffers both ways and stalls, until
//! the server's write timeout gives up on it.

use std::io::{self, Read};

use rgiref::gateway::{AppError, Body, Environ, StartResponse};
use rgiref::server::Server;
use rgiref::validate::validator;

/// Sends back the request body as it arrives, after a first line saying how it arrived.
fn echo(environ: &mut Environ, start_response: &mut StartResponse) -> Result<Body, AppError> {
    let length = environ.content_length();
    if length.is_none() && matches!(environ.method(), "GET" | "HEAD") {
        return how_to_upload(environ, start_response);
    }
    let framing = match length {
        Some(length) => format!("Content-Length: {length}"),
        None => "no Content-Length (chunked, or no body)".to_owned(),
    };
    let first_line = format!(
        "{} {} with {framing}:\n",
        environ.method(),
        environ.path_info()
    );
    let mut input = environ.take_input();
    // Read the first block here, before the response starts. The first read is what sends
    // `100 Continue` to a client waiting for it, and that must go out before our response
    // does: a reader handed back unread would be read only after the first line was sent.
    let mut start = first_line.into_bytes();
    let first_line_length = start.len() as u64;
    let mut block = vec![0; 64 * 1024];
    let got = input.read(&mut block)?;
    start.extend_from_slice(&block[..got]);
    // The first line and that block, then the rest of the body as the server reads it.
    let body = io::Cursor::new(start).chain(input);
    let length = length.and_then(|length| length.checked_add(first_line_length));
    start_response.start("200 OK", [("Content-Type", "application/octet-stream")])?;
    Ok(Body::from_reader(body, length))
}

/// The page for a request with no body to echo: a browser's `GET`.
fn how_to_upload(environ: &Environ, start_response: &mut StartResponse) -> Result<Body, AppError> {
    // The server's own address, not the client's `Host` header: nothing the client sent is
    // echoed into a page a browser shows.
    let url = format!(
        "http://{}:{}/",
        environ.get("SERVER_NAME").unwrap_or("127.0.0.1"),
        environ.get("SERVER_PORT").unwrap_or("8002")
    );
    let page = format!(
        "This is rgiref's echo example: it sends back the body of your request.\n\
         A browser's GET has no body, so send one with curl:\n\n  \
         curl --data-binary 'hello' {url}\n  \
         curl -T Cargo.toml {url}\n"
    );
    start_response.start("200 OK", [("Content-Type", "text/plain; charset=utf-8")])?;
    Ok(Body::from(page))
}

/// The port used when none is given: not 8000, so this runs beside `cargo run`.
const DEFAULT_PORT: &str = "8002";

fn main() {
    let port = std::env::args()
        .nth(1)
        .unwrap_or_else(|| DEFAULT_PORT.to_owned());
    let address = format!("127.0.0.1:{port}");
    // Under the validator, any breach of the gateway contract is a `validate:` line in the log.
    match Server::bind(&address, validator(echo)) {
        Ok(server) => {
            println!(
                "echo: development server at {} (Ctrl+C to quit)",
                server.url()
            );
            server.serve_forever();
        }
        Err(error) => {
            eprintln!("echo: cannot listen on {address}: {error} (give another port: cargo run --example echo -- 8011)");
            std::process::exit(2);
        }
    }
}
