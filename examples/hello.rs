//! The smallest RGI application, on the development server.
//!
//! Stage: **call app** — everything else is the server's.
//!
//! Run it and try it:
//!
//! ```text
//!   cargo run --example hello              # port 8001, beside `cargo run`; or: -- 8011
//!   curl -v http://127.0.0.1:8001/
//! ```

use rgiref::gateway::{AppError, Body, Environ, StartResponse};
use rgiref::server::Server;
use rgiref::validate::validator;

/// Answers every request with a greeting that names the path it was asked for.
fn hello(environ: &mut Environ, start_response: &mut StartResponse) -> Result<Body, AppError> {
    start_response.start("200 OK", [("Content-Type", "text/plain; charset=utf-8")])?;
    let greeting = format!("Hello world! You asked for {:?}.\n", environ.path_info());
    Ok(Body::from(greeting))
}

fn main() {
    // Port 8001, not 8000, so that this runs beside `cargo run`; or the one given (0: any).
    let port = std::env::args().nth(1).unwrap_or("8001".into());
    // Under the validator, any breach of the gateway contract is a `validate:` line in the log.
    let app = validator(hello);
    let server = Server::bind(format!("127.0.0.1:{port}"), app).unwrap_or_else(|error| {
        eprintln!("hello: cannot listen on port {port}: {error}"); // taken? give another
        std::process::exit(2)
    });
    let url = server.url();
    println!("hello: development server at {url} (Ctrl+C to quit)");
    server.serve_forever();
}
