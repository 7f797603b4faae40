//! A raw-bytes client: sends exactly the bytes you give it, and shows exactly what came back,
//! with every `\r` and `\n` visible. Our own `nc`, and a lesson in what a client does.
//!
//! Stage: the **client** at the top of the stack diagram — it opens a TCP connection (the
//! server's **accept**), writes a request byte for byte (the server's **read request**), and
//! reads until the server closes the connection (its **finish**).
//!
//! Run a server (`cargo run`), then try:
//!
//! ```text
//!   cargo run --example raw -- 'GET /hello HTTP/1.0\r\n\r\n'
//!   cargo run --example raw -- 'GET /hello\r\n'                      # HTTP/0.9: the body alone
//!   cargo run --example raw -- 'GET  /hello HTTP/1.0\r\n\r\n'        # two spaces: a 400
//!   cargo run --example raw -- --idle 5                              # connect, say nothing
//!   cargo run --example raw -- --trickle 300 'GET / HTTP/1.0\r\n\r\n' # one byte every 300 ms
//!   cargo run --example raw -- --to 127.0.0.1:8002 'POST / HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello'
//! ```
//!
//! In the bytes you give, `\r`, `\n`, `\t`, `\\`, `\0` and `\xNN` are escapes, so a shell never
//! has to type a carriage return. Lines starting `>` are what was sent, `<` what came back, `*`
//! what happened: the same markers as `curl -v`.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

const USAGE: &str = "\
usage: raw [--to HOST:PORT] [--idle SECONDS] [--trickle MILLISECONDS] [--wait SECONDS] [BYTES]

  BYTES            what to send; \\r \\n \\t \\\\ \\0 and \\xNN are escapes (default: nothing)
  --to HOST:PORT   where to connect (default 127.0.0.1:8000)
  --idle SECONDS   after connecting, wait this long before sending
  --trickle MS     send one byte at a time, MS milliseconds apart
  --wait SECONDS   the longest to wait for the server's answer (default 30)
";

/// What the command line asked for.
#[derive(Debug, PartialEq)]
struct Plan {
    to: SocketAddr,
    bytes: Vec<u8>,
    idle: Duration,
    trickle: Option<Duration>,
    wait: Duration,
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--help" || a == "-h") {
        print!("{USAGE}");
        return;
    }
    let plan = match parse_args(&args) {
        Ok(plan) => plan,
        Err(message) => {
            eprintln!("raw: {message} (try --help)");
            std::process::exit(2);
        }
    };
    let mut out = io::stdout().lock();
    if let Err(error) = run(&plan, &mut out) {
        eprintln!("raw: {error}");
        std::process::exit(1);
    }
}

/// Connects, sends, and reports everything on `out`.
fn run(plan: &Plan, out: &mut impl Write) -> io::Result<()> {
    let started = Instant::now();
    let mut stream = TcpStream::connect(plan.to)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot connect to {}: {e}", plan.to)))?;
    writeln!(out, "* connected to {}", plan.to)?;
    if !plan.idle.is_zero() && !wait_idle(&mut stream, plan.idle, started, out)? {
        return Ok(()); // the server gave up on us first
    }
    send(&mut stream, plan, out)?;
    stream.set_read_timeout(Some(plan.wait))?;
    let received = receive(&mut stream, out)?;
    let elapsed = started.elapsed().as_millis();
    match received {
        Received::Closed(n) => writeln!(
            out,
            "* received {n} bytes; the server closed the connection {elapsed} ms after we connected"
        ),
        Received::Reset(n) => writeln!(
            out,
            "* received {n} bytes; the server reset the connection {elapsed} ms after we connected"
        ),
        Received::StillOpen(n) => writeln!(
            out,
            "* received {n} bytes; the connection was still open after waiting {:?}",
            plan.wait
        ),
    }
}

/// Holds the connection open, saying nothing, for `idle` — but watches it meanwhile, because a
/// server with a first-byte timeout closes it first. False if the server did.
fn wait_idle(
    stream: &mut TcpStream,
    idle: Duration,
    started: Instant,
    out: &mut impl Write,
) -> io::Result<bool> {
    writeln!(out, "* saying nothing for {idle:?}")?;
    stream.set_read_timeout(Some(idle))?;
    let mut early = [0u8; 1024];
    match stream.read(&mut early) {
        Ok(0) => {
            let after = started.elapsed().as_millis();
            writeln!(out, "* the server closed the connection {after} ms after we connected, before we sent anything")?;
            Ok(false)
        }
        Ok(n) => {
            show_lines(out, "<", &early[..n])?;
            Ok(true)
        }
        Err(e)
            if matches!(
                e.kind(),
                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
            ) =>
        {
            Ok(true)
        }
        Err(e) => Err(e),
    }
}

/// Writes the bytes, all at once or one by one, showing each line as it goes.
fn send(stream: &mut TcpStream, plan: &Plan, out: &mut impl Write) -> io::Result<()> {
    if plan.bytes.is_empty() {
        return Ok(());
    }
    match plan.trickle {
        None => stream.write_all(&plan.bytes)?,
        Some(pause) => {
            for (i, byte) in plan.bytes.iter().enumerate() {
                if i > 0 {
                    std::thread::sleep(pause);
                }
                if let Err(error) = stream.write_all(&[*byte]) {
                    writeln!(
                        out,
                        "* the server stopped listening after {i} bytes: {error}"
                    )?;
                    return Ok(());
                }
            }
        }
    }
    show_lines(out, ">", &plan.bytes)?;
    writeln!(out, "* sent {} bytes", plan.bytes.len())
}

/// How reading ended, with the number of bytes received.
enum Received {
    Closed(usize),
    Reset(usize),
    StillOpen(usize),
}

/// Reads until the server closes (or resets, or the wait runs out), then shows what came.
fn receive(stream: &mut TcpStream, out: &mut impl Write) -> io::Result<Received> {
    let mut answer = Vec::new();
    let mut buffer = [0u8; 16 * 1024];
    let ending = loop {
        match stream.read(&mut buffer) {
            Ok(0) => break Received::Closed(answer.len()),
            Ok(n) => answer.extend_from_slice(&buffer[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                break Received::StillOpen(answer.len())
            }
            Err(e) if e.kind() == io::ErrorKind::ConnectionReset => {
                break Received::Reset(answer.len())
            }
            Err(e) => return Err(e),
        }
    };
    show_lines(out, "<", &answer)?;
    Ok(ending)
}

/// Prints `bytes` one line per `\n`, each behind `marker`, with control characters visible.
fn show_lines(out: &mut impl Write, marker: &str, bytes: &[u8]) -> io::Result<()> {
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        writeln!(out, "{marker} {}", visible(line))?;
    }
    Ok(())
}

/// `bytes` with `\r`, `\n`, `\t` and every other control or non-UTF-8 byte written as an
/// escape — the same escapes the command line accepts, so any line can be sent back as it is.
fn visible(bytes: &[u8]) -> String {
    let mut text = String::new();
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\r' => text.push_str("\\r"),
                '\n' => text.push_str("\\n"),
                '\t' => text.push_str("\\t"),
                '\\' => text.push_str("\\\\"),
                c if c.is_control() => text.push_str(&format!("\\x{:02x}", c as u32)),
                c => text.push(c),
            }
        }
        for b in chunk.invalid() {
            text.push_str(&format!("\\x{b:02x}"));
        }
    }
    text
}

/// The bytes of `text` with its escapes turned into the bytes they name.
fn unescape(text: &str) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    let mut rest = text.as_bytes();
    while let Some((&b, tail)) = rest.split_first() {
        rest = tail;
        if b != b'\\' {
            bytes.push(b);
            continue;
        }
        let Some((&kind, tail)) = rest.split_first() else {
            return Err("a \\ at the end has nothing to escape".to_owned());
        };
        rest = tail;
        bytes.push(match kind {
            b'r' => b'\r',
            b'n' => b'\n',
            b't' => b'\t',
            b'0' => 0,
            b'\\' => b'\\',
            b'x' => {
                let hex = rest.get(..2).and_then(|h| std::str::from_utf8(h).ok());
                let value = hex.and_then(|h| u8::from_str_radix(h, 16).ok());
                rest = rest.get(2..).unwrap_or(&[]);
                value.ok_or("\\x needs two hex digits, as in \\x16")?
            }
            other => return Err(format!("unknown escape \\{}", char::from(other))),
        });
    }
    Ok(bytes)
}

/// Parses the flags; both `--to 127.0.0.1:8001` and `--to=127.0.0.1:8001` work.
fn parse_args(args: &[String]) -> Result<Plan, String> {
    let mut plan = Plan {
        to: SocketAddr::from(([127, 0, 0, 1], 8000)),
        bytes: Vec::new(),
        idle: Duration::ZERO,
        trickle: None,
        wait: Duration::from_secs(30),
    };
    let mut rest = args.iter();
    while let Some(arg) = rest.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag, Some(value.to_owned())),
            _ => (arg.as_str(), None),
        };
        if !flag.starts_with("--") {
            plan.bytes.extend(unescape(arg)?);
            continue;
        }
        let value = match inline {
            Some(value) => value,
            None => rest.next().ok_or(format!("{flag} needs a value"))?.clone(),
        };
        match flag {
            "--to" => {
                plan.to = value.parse().map_err(|_| {
                    format!("--to needs HOST:PORT, like 127.0.0.1:8000, not {value:?}")
                })?
            }
            "--idle" => plan.idle = Duration::from_secs_f64(number(flag, &value)?),
            "--trickle" => plan.trickle = Some(Duration::from_millis(number(flag, &value)? as u64)),
            "--wait" => plan.wait = Duration::from_secs_f64(number(flag, &value)?.max(0.001)),
            _ => return Err(format!("unknown flag {flag:?}")),
        }
    }
    Ok(plan)
}

/// A non-negative number of seconds or milliseconds.
fn number(flag: &str, value: &str) -> Result<f64, String> {
    value
        .parse::<f64>()
        .ok()
        .filter(|n| n.is_finite() && *n >= 0.0 && *n < 1e9)
        .ok_or(format!("{flag} needs a number, not {value:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rgiref::demo::demo_app;
    use rgiref::log::Log;
    use rgiref::server::{Config, Server};

    fn plan_for(args: &[&str]) -> Plan {
        parse_args(&args.iter().map(|a| a.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn escapes_round_trip() {
        let bytes = unescape(r"GET / HTTP/1.0\r\n\x16\0\\\t").unwrap();
        assert_eq!(bytes, b"GET / HTTP/1.0\r\n\x16\0\\\t");
        assert_eq!(unescape(&visible(&bytes)).unwrap(), bytes);
        assert!(unescape(r"\x1").is_err());
        assert!(unescape(r"\q").is_err());
        assert!(unescape("\\").is_err());
        assert_eq!(visible(b"caf\xc3\xa9 \xff"), "café \\xff");
    }

    #[test]
    fn flags() {
        let plan = plan_for(&["--to=127.0.0.1:8002", "--trickle", "5", r"GET /\r\n"]);
        assert_eq!(plan.to.port(), 8002);
        assert_eq!(plan.trickle, Some(Duration::from_millis(5)));
        assert_eq!(plan.bytes, b"GET /\r\n");
        let bad = parse_args(&["--idle".to_owned(), "soon".to_owned()]);
        assert!(bad.unwrap_err().contains("needs a number"));
    }

    #[test]
    fn a_request_and_its_answer_shown_line_by_line() {
        let config = Config {
            log: Log::silent(),
            ..Config::default()
        };
        let server = Server::bind_with("127.0.0.1:0", demo_app, config).unwrap();
        let mut plan = plan_for(&[
            r"GET /raw HTTP/1.0\r\nX-Hi: there\r\n\r\n",
            "--trickle",
            "1",
        ]);
        plan.to = server.local_addr();
        let client = std::thread::spawn(move || {
            let mut out = Vec::new();
            run(&plan, &mut out).unwrap();
            String::from_utf8(out).unwrap()
        });
        server.handle_request().unwrap();
        let shown = client.join().unwrap();
        assert!(
            shown.contains("> GET /raw HTTP/1.0\\r\\n\n> X-Hi: there\\r\\n\n> \\r\\n\n"),
            "{shown}"
        );
        assert!(shown.contains("* sent 34 bytes\n"), "{shown}");
        assert!(shown.contains("< HTTP/1.0 200 OK\\r\\n\n"), "{shown}");
        assert!(shown.contains("< HTTP_X_HI = \"there\"\\n\n"), "{shown}");
        assert!(
            shown.contains("the server closed the connection"),
            "{shown}"
        );
    }

    #[test]
    fn an_idle_client_sees_the_server_give_up_first() {
        let config = Config {
            log: Log::silent(),
            timeouts: rgiref::server::Timeouts {
                first_byte: Duration::from_millis(200),
                ..Default::default()
            },
            ..Config::default()
        };
        let server = Server::bind_with("127.0.0.1:0", demo_app, config).unwrap();
        let mut plan = plan_for(&["--idle", "20", r"GET / HTTP/1.0\r\n\r\n"]);
        plan.to = server.local_addr();
        let client = std::thread::spawn(move || {
            let mut out = Vec::new();
            run(&plan, &mut out).unwrap();
            String::from_utf8(out).unwrap()
        });
        server.handle_request().unwrap();
        let shown = client.join().unwrap();
        assert!(shown.contains("before we sent anything"), "{shown}");
        assert!(!shown.contains("> GET"), "nothing was sent: {shown}");
    }
}
