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
//!   cargo run -- --fastcgi 127.0.0.1:9000   # a FastCGI responder, for nginx's fastcgi_pass
//!   cargo run -- --scgi 127.0.0.1:4000      # SCGI, behind nginx's scgi_pass (README.md)
//!   cargo run -- --scgi ./rgiref.sock       # SCGI on a Unix socket (a path with a '/')
//!   cargo run -- --trace                    # narrate each request, stage by stage
//! ```
//!
//! Started with no flags by a web server that hands its FastCGI children their listening
//! socket as standard input (lighttpd's `bin-path`, `spawn-fcgi`), it serves FastCGI there.
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
use std::sync::Arc;

use rgiref::demo::demo_app;
use rgiref::fastcgi::{self, Address};
use rgiref::log::Log;
use rgiref::scgi;
use rgiref::server::{Config, Server};
use rgiref::trace::{Trace, TraceOptions};

const USAGE: &str = "\
rgiref: the rgiref development server, serving the demo application

usage: rgiref [--host HOST] [--port PORT] [--quiet] [--trace]
       rgiref --fastcgi ADDR [--quiet] [--trace]
       rgiref --scgi ADDR [--quiet] [--trace]

  --host HOST   the IP address to listen on (default 127.0.0.1; 0.0.0.0 or :: for every
                interface, ::1 for IPv6 loopback; localhost means 127.0.0.1)
  --port PORT   the port to listen on (default 8000; 0 lets the system pick a free one)
  --fastcgi ADDR
                be a FastCGI responder behind a web server instead: ADDR is HOST:PORT
                (127.0.0.1:9000), or a Unix socket path containing a slash (./fcgi.sock).
                Started with no flags and a listening socket as standard input
                (lighttpd's bin-path, spawn-fcgi), rgiref serves FastCGI on that socket.
  --scgi ADDR   serve SCGI instead of HTTP, for a web server in front (nginx scgi_pass,
                lighttpd mod_scgi, Apache mod_proxy_scgi): ADDR is HOST:PORT
                (127.0.0.1:4000; port 0 for any free one) or a Unix socket path
                containing '/' (./rgiref.sock)
  --trace[=bytes][,secrets]
                narrate each request on standard error, one line per step, named by stage
                (for FastCGI, one line per record too); =bytes also shows the HTTP server's
                request and response heads byte for byte; Authorization and
                Cookie values are hidden unless ,secrets (or =secrets) is given
  -q, --quiet   no access log (errors are still logged on standard error)
  -h, --help    show this text
  -V, --version show the version
";

/// What the command line asked for.
#[derive(Debug, PartialEq)]
enum Command {
    Serve {
        address: SocketAddr,
        quiet: bool,
        trace: Option<TraceOptions>,
    },
    FastCgi {
        address: Address,
        quiet: bool,
        trace: Option<TraceOptions>,
    },
    ServeScgi {
        address: scgi::Address,
        quiet: bool,
        trace: Option<TraceOptions>,
    },
    Help,
    Version,
}

fn main() -> ExitCode {
    // Started by a web server, we are told how by what we were given, not by flags: a
    // listening socket on standard input means FastCGI (lighttpd's bin-path, spawn-fcgi), and
    // GATEWAY_INTERFACE in the environment means CGI. The socket check comes first: a CGI
    // program's standard input is a pipe or a file, never a listening socket, while a web
    // server may set CGI variables for a FastCGI child it spawns.
    if let Some(exit) = serve_fastcgi_on_stdin() {
        return exit;
    }
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
        Ok(Command::Serve {
            address,
            quiet,
            trace,
        }) => serve(address, quiet, trace),
        Ok(Command::FastCgi {
            address,
            quiet,
            trace,
        }) => serve_fastcgi(address, quiet, trace),
        Ok(Command::ServeScgi {
            address,
            quiet,
            trace,
        }) => serve_scgi(address, quiet, trace),
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

fn serve(address: SocketAddr, quiet: bool, trace: Option<TraceOptions>) -> ExitCode {
    let config = Config {
        access_log: !quiet,
        log: Log::stderr(),
        // The trace goes to standard error with the log, so the two interleave in order.
        observer: trace.map(|options| Arc::new(Trace::stderr(options)) as _),
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

/// The FastCGI responder's settings: the access log unless `quiet`, and the web servers
/// allowed to connect from `FCGI_WEB_SERVER_ADDRS`.
fn fastcgi_config(quiet: bool, trace: Option<TraceOptions>) -> Result<fastcgi::Config, String> {
    Ok(fastcgi::Config {
        access_log: !quiet,
        observer: trace.map(|options| Arc::new(Trace::stderr(options)) as _),
        web_server_addrs: fastcgi::web_server_addrs_from_env()?,
        ..fastcgi::Config::default()
    })
}

/// `--fastcgi ADDR`: the demo application as a FastCGI responder.
fn serve_fastcgi(address: fastcgi::Address, quiet: bool, trace: Option<TraceOptions>) -> ExitCode {
    let config = match fastcgi_config(quiet, trace) {
        Ok(config) => config,
        Err(message) => return fail(&message),
    };
    let bound = match &address {
        fastcgi::Address::Tcp(tcp) => fastcgi::Server::bind_with(*tcp, demo_app, config)
            .map_err(|error| bind_error_message(*tcp, &error)),
        fastcgi::Address::Unix(path) => {
            let path = path.clone().unwrap_or_default();
            fastcgi::Server::bind_unix_with(&path, demo_app, config)
                .map_err(|error| format!("cannot listen on {address}: {error}"))
        }
    };
    let server = match bound {
        Ok(server) => server,
        Err(message) => return fail(&message),
    };
    let local = server.local_addr();
    let mut out = std::io::stdout();
    // Written, not println!: a web server may start us with standard output closed.
    let _ = write!(
        out,
        "rgiref {} FastCGI responder, a development server: for learning and testing, not for production.\n\
         Serving the demo application over FastCGI on {local}\n\
         Point a web server at it (nginx: fastcgi_pass {local};). Press Ctrl+C to quit.\n",
        env!("CARGO_PKG_VERSION")
    );
    let _ = out.flush();
    server.serve_forever();
    ExitCode::SUCCESS
}

/// FastCGI 1.0 §2.2: a web server that starts its responders itself hands each one the
/// listening socket as standard input (`FCGI_LISTENSOCK_FILENO`). `None` if standard input is
/// not one (a terminal, `/dev/null`): then this is an ordinary `cargo run`.
fn serve_fastcgi_on_stdin() -> Option<ExitCode> {
    let config = match fastcgi_config(false, None) {
        Ok(config) => config,
        Err(message) => return Some(fail(&message)),
    };
    let log = config.log.clone();
    let server = fastcgi::Server::from_inherited_stdin(demo_app, config).ok()?;
    let message = format!(
        "rgiref {} FastCGI responder (a development server) serving the demo application on \
         {}, the socket the web server gave it",
        env!("CARGO_PKG_VERSION"),
        server.local_addr()
    );
    log.line("-", &message);
    server.serve_forever();
    Some(ExitCode::SUCCESS)
}

/// Serves the demo application over SCGI until the process is stopped. The banner mirrors the
/// HTTP one, with the address in the form `scgi_pass` takes it.
fn serve_scgi(address: scgi::Address, quiet: bool, trace: Option<TraceOptions>) -> ExitCode {
    let config = scgi::Config {
        access_log: !quiet,
        observer: trace.map(|options| Arc::new(Trace::stderr(options)) as _),
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
    let mut trace = None;
    let mut fastcgi = None;
    let mut scgi_address = None;
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        // `--port=8001` is `--port 8001`.
        let (flag, mut value) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag, Some(value.to_owned())),
            _ => (arg.as_str(), None),
        };
        let takes_value = matches!(flag, "--host" | "--port" | "--fastcgi" | "--scgi");
        if takes_value && value.is_none() {
            value = Some(rest.next().ok_or(format!("{flag} needs a value"))?.clone());
        }
        // `--trace` takes a value only after `=`: `--trace bytes` would be ambiguous.
        if !takes_value && flag != "--trace" && value.is_some() {
            return Err(format!("{flag} takes no value"));
        }
        let value = value.unwrap_or_default();
        match flag {
            "--host" => host = parse_host(&value)?,
            "--port" => port = parse_port(&value)?,
            "--fastcgi" => fastcgi = Some(parse_fastcgi_address(&value)?),
            "--scgi" => scgi_address = Some(parse_scgi_address(&value)?),
            "--trace" => trace = Some(parse_trace(&value)?),
            "--quiet" | "-q" => quiet = true,
            "--help" | "-h" => return Ok(Command::Help),
            "--version" | "-V" => return Ok(Command::Version),
            _ => return Err(format!("unknown argument {arg:?}")),
        }
    }
    let http_flag = args
        .iter()
        .find(|a| a.starts_with("--host") || a.starts_with("--port"));
    let gateway = match (fastcgi, scgi_address) {
        (Some(_), Some(_)) => return Err("choose one of --fastcgi and --scgi".to_owned()),
        (Some(address), None) => Command::FastCgi {
            address,
            quiet,
            trace,
        },
        (None, Some(address)) => Command::ServeScgi {
            address,
            quiet,
            trace,
        },
        (None, None) => {
            return Ok(Command::Serve {
                address: SocketAddr::new(host, port),
                quiet,
                trace,
            })
        }
    };
    if let Some(flag) = http_flag {
        return Err(format!(
            "{flag:?} is for the HTTP server; --fastcgi and --scgi take their address themselves"
        ));
    }
    Ok(gateway)
}

/// `--trace`'s options: none, `bytes`, `secrets`, or both, separated by a comma.
fn parse_trace(text: &str) -> Result<TraceOptions, String> {
    text.parse()
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

/// `--fastcgi`'s address: a Unix socket path if it contains a slash, else `HOST:PORT` with an
/// IP address (or `localhost`) for the host.
fn parse_fastcgi_address(text: &str) -> Result<fastcgi::Address, String> {
    if text.contains('/') {
        return Ok(fastcgi::Address::Unix(Some(text.into())));
    }
    let (host, port) = text.rsplit_once(':').unwrap_or((text, ""));
    let parsed = match (parse_host(host), port.parse::<u16>()) {
        (Ok(ip), Ok(port)) => Some(SocketAddr::new(ip, port)),
        _ => None,
    };
    parsed.map(fastcgi::Address::Tcp).ok_or_else(|| {
        format!(
            "--fastcgi needs HOST:PORT (such as 127.0.0.1:9000) or a socket path containing a \
             slash (such as ./fcgi.sock), not {text:?}"
        )
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
                quiet: false,
                trace: None
            })
        );
        assert_eq!(
            parse(&["--host", "::1", "--port=0", "--quiet"]),
            Ok(Command::Serve {
                address: "[::1]:0".parse().unwrap(),
                quiet: true,
                trace: None
            })
        );
        assert_eq!(
            parse(&["--host=[::1]"]).unwrap(),
            Command::Serve {
                address: "[::1]:8000".parse().unwrap(),
                quiet: false,
                trace: None
            }
        );
        assert_eq!(parse(&["--help", "--bogus"]), Ok(Command::Help));
    }

    #[test]
    fn fastcgi_addresses() {
        let tcp = |text: &str| fastcgi::Address::Tcp(text.parse().unwrap());
        assert_eq!(
            parse(&["--fastcgi", "127.0.0.1:9000"]),
            Ok(Command::FastCgi {
                address: tcp("127.0.0.1:9000"),
                quiet: false,
                trace: None
            })
        );
        assert_eq!(
            parse(&["--fastcgi=[::1]:0", "-q"]),
            Ok(Command::FastCgi {
                address: tcp("[::1]:0"),
                quiet: true,
                trace: None
            })
        );
        assert_eq!(
            parse(&["--fastcgi", "localhost:9000"]).unwrap(),
            Command::FastCgi {
                address: tcp("127.0.0.1:9000"),
                quiet: false,
                trace: None
            }
        );
        assert_eq!(
            parse(&["--fastcgi", "./fcgi.sock"]).unwrap(),
            Command::FastCgi {
                address: Address::Unix(Some("./fcgi.sock".into())),
                quiet: false,
                trace: None
            }
        );
        for bad in ["9000", "example.org:9000", "127.0.0.1", "127.0.0.1:x"] {
            let error = parse(&["--fastcgi", bad]).unwrap_err();
            assert!(
                error.contains("--fastcgi needs HOST:PORT"),
                "{bad}: {error}"
            );
        }
        let both = parse(&["--port", "1", "--fastcgi", "127.0.0.1:9000"]).unwrap_err();
        assert!(both.contains("is for the HTTP server"), "{both}");
    }

    #[test]
    fn scgi_addresses() {
        let tcp = |text: &str| scgi::Address::Tcp(text.parse().unwrap());
        assert_eq!(
            parse(&["--scgi", "127.0.0.1:4000"]),
            Ok(Command::ServeScgi {
                address: tcp("127.0.0.1:4000"),
                quiet: false,
                trace: None
            })
        );
        assert_eq!(
            parse(&["--scgi=[::1]:0", "-q"]),
            Ok(Command::ServeScgi {
                address: tcp("[::1]:0"),
                quiet: true,
                trace: None
            })
        );
        assert_eq!(
            parse(&["--scgi", "./run/app.sock"]).unwrap(),
            Command::ServeScgi {
                address: scgi::Address::Unix("./run/app.sock".into()),
                quiet: false,
                trace: None
            }
        );
        for bad in ["4000", "example.org:4000", "127.0.0.1:x", "127.0.0.1:70000"] {
            let error = parse(&["--scgi", bad]).unwrap_err();
            assert!(error.contains("--scgi needs HOST:PORT"), "{bad}: {error}");
        }
        let both = parse(&["--port", "8000", "--scgi", "127.0.0.1:4000"]).unwrap_err();
        assert!(both.contains("is for the HTTP server"), "{both}");
        let two = parse(&["--scgi", "127.0.0.1:4000", "--fastcgi", "127.0.0.1:9000"]);
        assert!(two.unwrap_err().contains("choose one"));
    }

    #[test]
    fn trace_options() {
        let traced = |args: &[&str]| match parse(args) {
            Ok(Command::Serve { trace, .. }) => trace,
            other => panic!("{other:?}"),
        };
        assert_eq!(traced(&["--trace"]), Some(TraceOptions::default()));
        let bytes = traced(&["--trace=bytes"]).unwrap();
        assert!(bytes.bytes && !bytes.secrets);
        let both = traced(&["--trace=bytes,secrets"]).unwrap();
        assert!(both.bytes && both.secrets);
        assert!(parse(&["--trace=loud"])
            .unwrap_err()
            .contains("bytes and secrets"));
        let gateway = parse(&["--trace", "--fastcgi", "127.0.0.1:9000"]);
        assert!(
            matches!(gateway, Ok(Command::FastCgi { trace: Some(_), .. })),
            "{gateway:?}"
        );
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
