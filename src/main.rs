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
//!   cargo run -- --scgi 127.0.0.1:4000      # SCGI, behind nginx's scgi_pass (README.md)
//!   cargo run -- --scgi ./rgiref.sock       # SCGI on a Unix socket (a path with a '/')
//! ```
//!
//! Every mistake on the command line (a bad flag, a bad address, a port in use) is one line on
//! standard error and exit code 2 — never a panic.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::ExitCode;

use rgiref::demo::demo_app;
use rgiref::log::Log;
use rgiref::scgi;
use rgiref::server::{Config, Server};

const USAGE: &str = "\
rgiref: the rgiref development server, serving the demo application

usage: rgiref [--host HOST] [--port PORT] [--quiet]
       rgiref --scgi ADDR [--quiet]

  --host HOST   the IP address to listen on (default 127.0.0.1; 0.0.0.0 or :: for every
                interface, ::1 for IPv6 loopback; localhost means 127.0.0.1)
  --port PORT   the port to listen on (default 8000; 0 lets the system pick a free one)
  --scgi ADDR   serve SCGI instead of HTTP, for a web server in front (nginx scgi_pass,
                lighttpd mod_scgi, Apache mod_proxy_scgi): ADDR is HOST:PORT
                (127.0.0.1:4000; port 0 for any free one) or a Unix socket path
                containing '/' (./rgiref.sock)
  -q, --quiet   no access log (errors are still logged on standard error)
  -h, --help    show this text
  -V, --version show the version
";

/// What the command line asked for.
#[derive(Debug, PartialEq)]
enum Command {
    Serve { address: SocketAddr, quiet: bool },
    ServeScgi { address: scgi::Address, quiet: bool },
    Help,
    Version,
}

fn main() -> ExitCode {
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
        Ok(Command::ServeScgi { address, quiet }) => serve_scgi(address, quiet),
        Err(message) => fail(&format!("{message} (try --help)")),
    }
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

/// Serves the demo application over SCGI until the process is stopped. The banner mirrors the
/// HTTP one, with the address in the form `scgi_pass` takes it.
fn serve_scgi(address: scgi::Address, quiet: bool) -> ExitCode {
    let config = scgi::Config {
        access_log: !quiet,
        log: Log::stderr(),
        ..scgi::Config::default()
    };
    let bound = match &address {
        scgi::Address::Tcp(tcp) => scgi::Server::bind_with(tcp, demo_app, config),
        scgi::Address::Unix(path) => scgi::Server::bind_unix(path, demo_app, config),
    };
    let server = match bound {
        Ok(server) => server,
        Err(error) => return fail(&scgi_bind_error_message(&address, &error)),
    };
    let local = server.local_addr();
    let shown = match local {
        scgi::Address::Tcp(tcp) => format!("scgi://{tcp}"),
        scgi::Address::Unix(_) => local.to_string(),
    };
    println!(
        "rgiref {} development server: for learning and testing, not for production.",
        env!("CARGO_PKG_VERSION")
    );
    println!("Serving the demo application over SCGI at {shown} (nginx: scgi_pass {local};)");
    println!("Press Ctrl+C to quit.");
    let _ = std::io::stdout().flush(); // so a pipe (or a test) sees the address now
    server.serve_forever();
    ExitCode::SUCCESS
}

/// An SCGI bind failure, said in a way that suggests the fix. The Unix socket's own errors
/// ("another server is listening on …") already say what is wrong.
fn scgi_bind_error_message(address: &scgi::Address, error: &std::io::Error) -> String {
    use std::io::ErrorKind;
    let why = match (address, error.kind()) {
        (scgi::Address::Tcp(_), ErrorKind::AddrInUse) => {
            "the port is already in use; is another server running there? Try another port, \
             or port 0 for any free one"
                .to_owned()
        }
        (scgi::Address::Tcp(_), ErrorKind::AddrNotAvailable) => {
            "that address does not belong to this machine".to_owned()
        }
        (_, ErrorKind::PermissionDenied) => "permission denied".to_owned(),
        _ => error.to_string(),
    };
    format!("cannot listen on {address}: {why}")
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
    let mut scgi_address = None;
    let mut http_address_given = false;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        // `--port=8001` is `--port 8001`.
        let (flag, mut value) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag, Some(value.to_owned())),
            _ => (arg.as_str(), None),
        };
        let takes_value = matches!(flag, "--host" | "--port" | "--scgi");
        if takes_value && value.is_none() {
            value = Some(rest.next().ok_or(format!("{flag} needs a value"))?.clone());
        }
        if !takes_value && value.is_some() {
            return Err(format!("{flag} takes no value"));
        }
        let value = value.unwrap_or_default();
        http_address_given |= matches!(flag, "--host" | "--port");
        match flag {
            "--host" => host = parse_host(&value)?,
            "--port" => port = parse_port(&value)?,
            "--scgi" => scgi_address = Some(parse_scgi_address(&value)?),
            "--quiet" | "-q" => quiet = true,
            "--help" | "-h" => return Ok(Command::Help),
            "--version" | "-V" => return Ok(Command::Version),
            _ => return Err(format!("unknown argument {arg:?}")),
        }
    }
    if let Some(address) = scgi_address {
        if http_address_given {
            return Err("--host and --port are for HTTP; --scgi takes its own address".to_owned());
        }
        return Ok(Command::ServeScgi { address, quiet });
    }
    Ok(Command::Serve {
        address: SocketAddr::new(host, port),
        quiet,
    })
}

/// `--scgi`'s address: a Unix socket path if it contains `/`, otherwise `HOST:PORT` with the
/// host as `--host` takes it (an IP address, `[::1]`, or `localhost`).
fn parse_scgi_address(text: &str) -> Result<scgi::Address, String> {
    if text.contains('/') {
        return Ok(scgi::Address::Unix(text.into()));
    }
    let wrong = || {
        format!(
            "--scgi needs HOST:PORT (such as 127.0.0.1:4000) or a Unix socket path containing \
             '/' (such as ./rgiref.sock), not {text:?}"
        )
    };
    let (host, port) = text.rsplit_once(':').ok_or_else(wrong)?;
    let host = parse_host(host).map_err(|_| wrong())?;
    let port = port.parse().map_err(|_| wrong())?;
    Ok(scgi::Address::Tcp(SocketAddr::new(host, port)))
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

    #[test]
    fn scgi_addresses() {
        let tcp = |text: &str| scgi::Address::Tcp(text.parse().unwrap());
        assert_eq!(
            parse(&["--scgi", "127.0.0.1:4000"]),
            Ok(Command::ServeScgi {
                address: tcp("127.0.0.1:4000"),
                quiet: false
            })
        );
        assert_eq!(
            parse(&["--scgi=[::1]:0", "-q"]),
            Ok(Command::ServeScgi {
                address: tcp("[::1]:0"),
                quiet: true
            })
        );
        assert_eq!(
            parse(&["--scgi", "localhost:4000"]).unwrap(),
            Command::ServeScgi {
                address: tcp("127.0.0.1:4000"),
                quiet: false
            }
        );
        assert_eq!(
            parse(&["--scgi", "./run/app.sock"]).unwrap(),
            Command::ServeScgi {
                address: scgi::Address::Unix("./run/app.sock".into()),
                quiet: false
            }
        );
        for bad in ["4000", "example.org:4000", "127.0.0.1:x", "127.0.0.1:70000"] {
            let error = parse(&["--scgi", bad]).unwrap_err();
            assert!(error.contains("--scgi needs HOST:PORT"), "{bad}: {error}");
        }
        let both = parse(&["--port", "8000", "--scgi", "127.0.0.1:4000"]).unwrap_err();
        assert!(both.contains("--scgi takes its own address"), "{both}");
    }
}
