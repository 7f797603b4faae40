//! `cargo run`: the demo application on the development server — the Rust counterpart of
//! `python -m wsgiref.simple_server`.
//!
//! Stage: all of them, for the demo app: this binary parses its flags, binds the server
//! (**accept**), and hands every request to `rgiref::demo::demo_app`.
//!
//! Try it:
//!
//! ```text
//!   cargo run                               # http://127.0.0.1:8000/
//!   cargo run -- --port 0                   # any free port (the banner says which)
//!   cargo run -- --host ::1 --quiet         # IPv6 loopback, no access log
//!   curl -v 'http://127.0.0.1:8000/hello?x=1'
//!   cargo run --example raw -- 'GET /\r\n'  # HTTP/0.9: the body alone
//! ```
//!
//! Every mistake on the command line (a bad flag, a bad address, a port in use) is one line on
//! standard error and exit code 2 — never a panic.
//!
//! Started by a web server as a CGI program (`GATEWAY_INTERFACE` is set), the binary answers
//! that one request with the demo application instead, through `rgiref::cgi::run`:
//!
//! ```text
//!   GATEWAY_INTERFACE=CGI/1.1 REQUEST_METHOD=GET QUERY_STRING=x=1 target/debug/rgiref
//! ```

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use rgiref::demo::demo_app;
use rgiref::log::Log;
use rgiref::server::{Config, Server};

const USAGE: &str = "\
rgiref: the rgiref development server, serving the demo application

usage: rgiref [--host HOST] [--port PORT] [--quiet]

  --host HOST   the IP address to listen on (default 127.0.0.1; 0.0.0.0 or :: for every
                interface, ::1 for IPv6 loopback; localhost means 127.0.0.1)
  --port PORT   the port to listen on (default 8000; 0 lets the system pick a free one)
  -q, --quiet   no access log (errors are still logged on standard error)
  -h, --help    show this text
  -V, --version show the version
";

/// What the command line asked for.
#[derive(Debug, PartialEq)]
enum Command {
    Serve { address: SocketAddr, quiet: bool },
    Help,
    Version,
}

fn main() -> ExitCode {
    if started_as_cgi() {
        return run_as_cgi();
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    match parse_args(&args) {
        Ok(Command::Help) => {
            print!("{USAGE}");
            ExitCode::SUCCESS
        }
        Ok(Command::Version) => {
            println!("{}", rgiref::SERVER_SOFTWARE.replace('/', " "));
            ExitCode::SUCCESS
        }
        Ok(Command::Serve { address, quiet }) => serve(address, quiet),
        Err(message) => fail(&format!("{message} (try --help)")),
    }
}

/// True when a web server started us as a CGI program: it sets `GATEWAY_INTERFACE`
/// (RFC 3875 §4.1.4), and a shell does not. (flup falls back to CGI too, though it decides by
/// finding that standard input is not a FastCGI socket.)
fn started_as_cgi() -> bool {
    std::env::var_os("GATEWAY_INTERFACE").is_some()
}

/// Answers the one request a web server started us for, with the demo application, and exits.
///
/// The command line is not read at all here. For a query without `=`, a web server may pass
/// the query's words as arguments (RFC 3875 §4.4; Apache does), so under CGI the arguments are
/// the client's, not the operator's: parsed as flags, `GET /app?--port+0` would start a
/// development server. PHP's CGI binary made that mistake (CVE-2012-1823: `?-s` printed a
/// script's source).
fn run_as_cgi() -> ExitCode {
    rgiref::cgi::run(&demo_app)
}

fn serve(address: SocketAddr, quiet: bool) -> ExitCode {
    let config = Config {
        access_log: !quiet,
        log: Log::stderr(),
        ..Config::default()
    };
    let server = match Server::bind_with(address, demo_app, config) {
        Ok(server) => server,
        Err(error) => return fail(&bind_error_message(address, &error)),
    };
    println!(
        "rgiref {} development server: for learning and testing, not for production.",
        env!("CARGO_PKG_VERSION")
    );
    println!("Serving the demo application at {}", server.url());
    println!("Press Ctrl+C to quit.");
    let _ = std::io::stdout().flush(); // so a pipe (or a test) sees the address now
    server.serve_forever();
    ExitCode::SUCCESS
}

/// A bind failure, said in a way that suggests the fix.
fn bind_error_message(address: SocketAddr, error: &std::io::Error) -> String {
    use std::io::ErrorKind;
    let why = match error.kind() {
        ErrorKind::AddrInUse => "the port is already in use; is another server running there? \
             Try another --port, or --port 0 for any free port"
            .to_owned(),
        ErrorKind::AddrNotAvailable => "that address does not belong to this machine".to_owned(),
        ErrorKind::PermissionDenied => {
            "ports below 1024 need special privileges; try --port 8000".to_owned()
        }
        _ => error.to_string(),
    };
    format!("cannot listen on {address}: {why}")
}

fn fail(message: &str) -> ExitCode {
    eprintln!("rgiref: {message}");
    ExitCode::from(2)
}

/// Parses the flags. Both `--port 8001` and `--port=8001` work.
fn parse_args(args: &[String]) -> Result<Command, String> {
    let mut host = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let mut port: u16 = 8000;
    let mut quiet = false;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        // `--port=8001` is `--port 8001`.
        let (flag, mut value) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag, Some(value.to_owned())),
            _ => (arg.as_str(), None),
        };
        let takes_value = matches!(flag, "--host" | "--port");
        if takes_value && value.is_none() {
            value = Some(rest.next().ok_or(format!("{flag} needs a value"))?.clone());
        }
        if !takes_value && value.is_some() {
            return Err(format!("{flag} takes no value"));
        }
        let value = value.unwrap_or_default();
        match flag {
            "--host" => host = parse_host(&value)?,
            "--port" => port = parse_port(&value)?,
            "--quiet" | "-q" => quiet = true,
            "--help" | "-h" => return Ok(Command::Help),
            "--version" | "-V" => return Ok(Command::Version),
            _ => return Err(format!("unknown argument {arg:?}")),
        }
    }
    Ok(Command::Serve {
        address: SocketAddr::new(host, port),
        quiet,
    })
}

/// An IP address literal (`[::1]` brackets allowed), or `localhost`. No DNS: a development
/// server should not stall at start-up on a name lookup.
fn parse_host(text: &str) -> Result<IpAddr, String> {
    if text.eq_ignore_ascii_case("localhost") {
        return Ok(IpAddr::V4(Ipv4Addr::LOCALHOST));
    }
    let literal = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    literal.parse().map_err(|_| {
        format!("--host needs an IP address such as 127.0.0.1 or ::1 (or localhost), not {text:?}")
    })
}

fn parse_port(text: &str) -> Result<u16, String> {
    text.parse()
        .map_err(|_| format!("--port needs a number from 0 to 65535, not {text:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Command, String> {
        parse_args(&args.iter().map(|a| a.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn defaults_and_flags() {
        assert_eq!(
            parse(&[]),
            Ok(Command::Serve {
                address: "127.0.0.1:8000".parse().unwrap(),
                quiet: false
            })
        );
        assert_eq!(
            parse(&["--host", "::1", "--port=0", "--quiet"]),
            Ok(Command::Serve {
                address: "[::1]:0".parse().unwrap(),
                quiet: true
            })
        );
        assert_eq!(
            parse(&["--host=[::1]"]).unwrap(),
            Command::Serve {
                address: "[::1]:8000".parse().unwrap(),
                quiet: false
            }
        );
        assert_eq!(parse(&["--help", "--bogus"]), Ok(Command::Help));
    }

    #[test]
    fn mistakes() {
        assert!(parse(&["--port"]).unwrap_err().contains("needs a value"));
        assert!(parse(&["--port", "65536"])
            .unwrap_err()
            .contains("0 to 65535"));
        assert!(parse(&["--host", "example.org"])
            .unwrap_err()
            .contains("IP address"));
        assert!(parse(&["--bogus"])
            .unwrap_err()
            .contains("unknown argument"));
    }
}
