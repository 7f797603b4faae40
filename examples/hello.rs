//! The smallest RGI application, on the development server.
//!
//! Stage: **call app** — everything else is the server's.
//!
//! Run it and try it:
//!
//! ```text
//!   cargo run --example hello              # port 8001; or: cargo run --example hello -- 8011
//!   curl -v http://127.0.0.1:8001/
//! ```

use rgiref::gateway::{AppError, Body, Environ, StartResponse};
use rgiref::server::Server;
use rgiref::validate::validator;

/// Answers every request with a greeting that names the path it was asked for.
fn hello(environ: &mut Environ, start_response: &mut StartResponse) -> Result<Body, AppError> {
    start_response.start("200 OK", [("Content-Type", "text/plain; charset=utf-8")])?;
    Ok(Body::from(format!(
        "Hello world! You asked for {:?}.\n",
        environ.path_info()
    )))
}

/// The port used when none is given: not 8000, so this runs beside `cargo run`.
const DEFAULT_PORT: &str = "8001";

fn main() {
    let port = std::env::args()
        .nth(1)
        .unwrap_or_else(|| DEFAULT_PORT.to_owned());
    let address = format!("127.0.0.1:{port}");
    // Under the validator, any breach of the gateway contract is a `validate:` line in the log.
    match Server::bind(&address, validator(hello)) {
        Ok(server) => {
            println!(
                "hello: development server at {} (Ctrl+C to quit)",
                server.url()
            );
            server.serve_forever();
        }
        Err(error) => {
            eprintln!("hello: cannot listen on {address}: {error} (give another port: cargo run --example hello -- 8011)");
            std::process::exit(2);
        }
    }
}
