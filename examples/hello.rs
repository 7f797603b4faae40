//! The smallest RGI application, on the development server.
//!
//! Stage: **call app** — everything else is the server's.
//!
//! Run it and try it:
//!
//! ```text
//!   cargo run --example hello
//!   curl -v http://127.0.0.1:8000/
//! ```

use rgiref::gateway::{AppError, Body, Environ, StartResponse};
use rgiref::server::Server;

/// Answers every request with a greeting that names the path it was asked for.
fn hello(environ: &mut Environ, start_response: &mut StartResponse) -> Result<Body, AppError> {
    start_response.start("200 OK", [("Content-Type", "text/plain; charset=utf-8")])?;
    Ok(Body::from(format!(
        "Hello world! You asked for {:?}.\n",
        environ.path_info()
    )))
}

fn main() -> std::io::Result<()> {
    let server = Server::bind("127.0.0.1:8000", hello)?;
    println!(
        "hello: development server at {} (Ctrl+C to quit)",
        server.url()
    );
    server.serve_forever();
    Ok(())
}
