//! An application that reads the request body and sends it back: uploads, chunked bodies and
//! `Expect: 100-continue`, seen from the application's side.
//!
//! Stage: **call app**, reading `environ.input` — which ends exactly where the body ends,
//! whether the client sent a `Content-Length` or a chunked body.
//!
//! Run it and try it:
//!
//! ```text
//!   cargo run --example echo              # port 8002; or: cargo run --example echo -- 8011
//!   curl -v --data-binary 'hello' http://127.0.0.1:8002/          # Content-Length
//!   curl -v -T Cargo.toml http://127.0.0.1:8002/                  # PUT, Expect: 100-continue
//!   curl -v -H 'Transfer-Encoding: chunked' --data-binary @Cargo.toml http://127.0.0.1:8002/
//! ```
//!
//! Watch for `HTTP/1.1 100 Continue` in curl's output: the server sends it the moment this
//! application first reads the body, not before — so an application that refuses an upload
//! (say, with 403) never makes the client send it.

use std::io::Read;

use rgiref::gateway::{AppError, Body, Environ, StartResponse};
use rgiref::server::Server;
use rgiref::validate::validator;

/// Sends back the request body, with a first line saying how it arrived.
fn echo(environ: &mut Environ, start_response: &mut StartResponse) -> Result<Body, AppError> {
    let mut body = Vec::new();
    environ.input.read_to_end(&mut body)?;
    let framing = match environ.content_length() {
        Some(length) => format!("Content-Length: {length}"),
        None => "no Content-Length (chunked, or no body)".to_owned(),
    };
    let mut page = format!(
        "{} {} with {framing}; {} bytes:\n",
        environ.method(),
        environ.path_info(),
        body.len()
    )
    .into_bytes();
    page.extend_from_slice(&body);
    start_response.start("200 OK", [("Content-Type", "application/octet-stream")])?;
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
