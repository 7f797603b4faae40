//! One application behind every gateway: it echoes uploads, sends big bodies and big heads, and
//! answers with the status you ask for — the app the interop test (`tests/interop.rs`) runs
//! behind lighttpd, nginx and Apache, where the demo application (which only shows its environ)
//! cannot show whether 10 MB went through intact.
//!
//! Stage: **call app**. Which gateway brings the request is decided in `main`, the same way the
//! `rgiref` binary decides: a listening socket on standard input means a web server started us
//! as its FastCGI child (lighttpd's `bin-path`); `GATEWAY_INTERFACE` set means a CGI program
//! (`rgiref::cgi::run`); `--fastcgi ADDR` a FastCGI responder on ADDR (`HOST:PORT`, or a Unix
//! socket path: anything with a `/`), `--scgi ADDR` an SCGI server there; otherwise this is a
//! development server on HTTP.
//!
//! The paths, after wherever the web server mounts it (`PATH_INFO`):
//!
//! ```text
//!   /echo          the request body back, byte for byte; X-Echo-Content-Length says what
//!                  CONTENT_LENGTH the app was given ("absent" for a chunked upload streamed on)
//!   /bytes/N       N bytes of a known pattern (byte i is i % 251), streamed with its length
//!   /head/N        a small body under a head with an X-Padding header of N bytes
//!   /status/404    404 Not Found, with a body of the app's own
//!   /sleep/MS      waits MS milliseconds (at most 10 s), then answers like /pid
//!   /pid           the process id that served the request: which of several processes it was
//!   anything else  the demo application: the environ, one KEY = "value" per line
//! ```
//!
//! Run it and try it:
//!
//! ```text
//!   cargo run --example echo_gateway              # port 8003; or: ... -- 8011
//!   curl --data-binary @Cargo.toml http://127.0.0.1:8003/echo
//!   curl -s http://127.0.0.1:8003/bytes/100000 | wc -c
//!   cargo build --example echo_gateway            # then, as a web server runs a CGI program:
//!   env -i GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=GET PATH_INFO=/head/100 \
//!       target/debug/examples/echo_gateway
//!   cargo run --example echo_gateway -- --fastcgi 127.0.0.1:9000   # for nginx's fastcgi_pass
//!   cargo run --example echo_gateway -- --scgi 127.0.0.1:4000      # for nginx's scgi_pass
//! ```
//!
//! Why an example and not a path of the `rgiref` binary: the binary serves the demo application
//! and nothing else, so what `cargo run` shows stays the whole environ; and an `/echo` that
//! anyone could reach would be an odd thing for a command to expose by default.

use std::io::{self, Read};
use std::process::ExitCode;
use std::time::Duration;

use rgiref::demo::demo_app;
use rgiref::gateway::{AppError, Body, Environ, StartResponse};
use rgiref::server::Server;
use rgiref::{fastcgi, scgi};

/// Routes a request by its `PATH_INFO`; see the module docs.
fn echo_gateway(
    environ: &mut Environ,
    start_response: &mut StartResponse,
) -> Result<Body, AppError> {
    let path = environ.path_info().to_owned();
    let (route, argument) = match path.strip_prefix('/').and_then(|p| p.split_once('/')) {
        Some((route, argument)) => (route, argument.parse::<u64>().ok()),
        None => (path.trim_start_matches('/'), None),
    };
    match (route, argument) {
        ("echo", None) => echo(environ, start_response),
        ("bytes", Some(count)) => bytes(count, start_response),
        ("head", Some(size)) => big_head(size, start_response),
        ("status", Some(404)) => not_found(start_response),
        ("sleep", Some(millis)) => {
            std::thread::sleep(Duration::from_millis(millis.min(10_000)));
            pid(start_response)
        }
        ("pid", None) => pid(start_response),
        _ => demo_app(environ, start_response),
    }
}

/// The body back. It is read to its end first and then sent: an app that wrote while it still
/// had body to read would depend on the web server reading our output while it sends the
/// upload, and a web server that does not (most buffer one or the other) would wait for ever.
fn echo(environ: &mut Environ, start_response: &mut StartResponse) -> Result<Body, AppError> {
    let given = match environ.get("CONTENT_LENGTH") {
        Some(length) => length.to_owned(),
        None => "absent".to_owned(),
    };
    let mut body = Vec::new();
    environ.input.read_to_end(&mut body)?;
    start_response.start(
        "200 OK",
        [
            ("Content-Type", "application/octet-stream"),
            ("X-Echo-Content-Length", given.as_str()),
        ],
    )?;
    Ok(Body::from(body))
}

fn bytes(count: u64, start_response: &mut StartResponse) -> Result<Body, AppError> {
    start_response.start("200 OK", [("Content-Type", "application/octet-stream")])?;
    Ok(Body::from_reader(Pattern(0).take(count), Some(count)))
}

/// The bytes `/bytes/N` sends: byte `i` is `i % 251`. 251 is prime, so the pattern does not line
/// up with any power-of-two buffer, and a block lost, doubled or swapped shows.
struct Pattern(u64);

impl Read for Pattern {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        for byte in buf.iter_mut() {
            *byte = (self.0 % 251) as u8;
            self.0 += 1;
        }
        Ok(buf.len())
    }
}

fn big_head(size: u64, start_response: &mut StartResponse) -> Result<Body, AppError> {
    let padding = "x".repeat(size.min(1 << 20) as usize);
    start_response.start(
        "200 OK",
        [
            ("Content-Type", "text/plain"),
            ("X-Padding", padding.as_str()),
        ],
    )?;
    Ok(Body::from("a big head\n"))
}

fn not_found(start_response: &mut StartResponse) -> Result<Body, AppError> {
    start_response.start("404 Not Found", [("Content-Type", "text/plain")])?;
    Ok(Body::from("echo_gateway: no such thing\n"))
}

fn pid(start_response: &mut StartResponse) -> Result<Body, AppError> {
    start_response.start("200 OK", [("Content-Type", "text/plain")])?;
    Ok(Body::from(format!("{}\n", std::process::id())))
}

/// The port used when none is given: not 8000 to 8002, so this runs beside the others.
const DEFAULT_PORT: &str = "8003";

fn main() -> ExitCode {
    // Started by a web server, the way it started us says which gateway, as in src/main.rs: a
    // listening socket on standard input first (a web server may set CGI variables for its
    // FastCGI children too), then GATEWAY_INTERFACE. Under CGI the command line is the web
    // server's (and the client's, through a query without `=`), so it is not read at all.
    if let Ok(server) =
        fastcgi::Server::from_inherited_stdin(echo_gateway, fastcgi::Config::default())
    {
        server.serve_forever();
        return ExitCode::SUCCESS;
    }
    if std::env::var_os("GATEWAY_INTERFACE").is_some() {
        return rgiref::cgi::run(&echo_gateway);
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [flag, address] if flag == "--fastcgi" => return serve_fastcgi(address),
        [flag, address] if flag == "--scgi" => return serve_scgi(address),
        _ => {}
    }
    let port = args
        .first()
        .cloned()
        .unwrap_or_else(|| DEFAULT_PORT.to_owned());
    let address = format!("127.0.0.1:{port}");
    match Server::bind(&address, echo_gateway) {
        Ok(server) => {
            println!(
                "echo_gateway: development server at {} (Ctrl+C to quit)",
                server.url()
            );
            server.serve_forever();
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("echo_gateway: cannot listen on {address}: {error} (give another port: cargo run --example echo_gateway -- 8011)");
            ExitCode::from(2)
        }
    }
}

/// `--fastcgi ADDR`: a FastCGI responder on a TCP address, or on a Unix socket if ADDR holds a
/// `/`, announcing where it listens in a line that ends with the address.
fn serve_fastcgi(address: &str) -> ExitCode {
    let config = fastcgi::Config::default();
    let bound = if address.contains('/') {
        fastcgi::Server::bind_unix_with(address, echo_gateway, config)
    } else {
        fastcgi::Server::bind_with(address, echo_gateway, config)
    };
    match bound {
        Ok(server) => {
            println!(
                "echo_gateway: FastCGI responder (Ctrl+C to quit) on {}",
                server.local_addr()
            );
            server.serve_forever();
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("echo_gateway: cannot listen on {address}: {error}");
            ExitCode::from(2)
        }
    }
}

/// `--scgi ADDR`: an SCGI server, on TCP or (ADDR with a `/`) a Unix socket, announced like
/// [`serve_fastcgi`]'s.
fn serve_scgi(address: &str) -> ExitCode {
    let config = scgi::Config::default();
    let bound = if address.contains('/') {
        scgi::Server::bind_unix(address, echo_gateway, config)
    } else {
        scgi::Server::bind_with(address, echo_gateway, config)
    };
    match bound {
        Ok(server) => {
            println!(
                "echo_gateway: SCGI server (Ctrl+C to quit) on {}",
                server.local_addr()
            );
            server.serve_forever();
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("echo_gateway: cannot listen on {address}: {error}");
            ExitCode::from(2)
        }
    }
}
