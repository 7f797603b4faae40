//! The `rgiref` binary as a FastCGI responder: `rgiref --fastcgi ADDR`, and started by a web
//! server with its listening socket as standard input.
//!
//! Stage: **accept** — the binary binds (or adopts) the listening socket and says where — then
//! every stage, for the demo application over FastCGI.
//!
//! What a reader learns here:
//! * `--fastcgi 127.0.0.1:0` asks for any free port, and the banner says which, as
//!   `--port 0` does for the HTTP server (`tests/cli.rs`); a path with a slash is a Unix socket.
//! * Started with no flags and a listening socket on standard input (lighttpd's `bin-path`,
//!   `spawn-fcgi`), it serves FastCGI on that socket, TCP or Unix.
//! * A bad address, or a bad `FCGI_WEB_SERVER_ADDRS`, is one line on standard error, exit 2.

mod common;
mod server_process;

use std::io::Read;
use std::net::TcpListener;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixListener;
use std::process::{Child, Command, Stdio};

use common::fcgi_client::{Client, FcgiRequest};
use rgiref::fastcgi::Address;
use server_process::{run_to_exit, ServerProcess, BINARY};

/// The address in the banner's "FastCGI on ADDR" line.
fn banner_address(server: &ServerProcess) -> Address {
    let banner = server.wait_for_stdout(|text| text.contains("Ctrl+C"), "the banner");
    let after = banner
        .split("over FastCGI on ")
        .nth(1)
        .unwrap_or_else(|| panic!("no address in the banner:\n{banner}"));
    let address = after.split_whitespace().next().unwrap();
    match address.strip_prefix("unix:") {
        Some(path) => Address::Unix(Some(path.into())),
        None => Address::Tcp(address.parse().expect("HOST:PORT in the banner")),
    }
}

fn start(args: &[&str]) -> ServerProcess {
    let mut command = Command::new(BINARY);
    command.args(args);
    ServerProcess::spawn(command)
}

#[test]
fn fastcgi_port_0_prints_its_address_and_serves_the_demo_app() {
    let server = start(&["--fastcgi", "127.0.0.1:0"]);
    let address = banner_address(&server);
    let Address::Tcp(tcp) = address else {
        panic!("a TCP address: {address:?}")
    };
    assert_ne!(tcp.port(), 0, "the banner gives the real port");
    let banner = server.wait_for_stdout(|t| t.contains("Ctrl+C"), "the banner");
    assert!(banner.contains("development server"), "{banner}");
    assert!(banner.contains(&format!("fastcgi_pass {tcp};")), "{banner}");

    let mut client = Client::connect(&address);
    client.send(&FcgiRequest::get("/cli").bytes());
    let reply = client.read_reply(1);
    reply.assert_complete();
    assert!(reply.response().body_text().starts_with("Hello world!\n"));
    let stderr = server.wait_for_stderr(
        |text| text.contains("\"GET /cli HTTP/1.1\" 200"),
        "the access line",
    );
    assert!(stderr.starts_with("192.0.2.7 - - ["), "{stderr}");
}

#[test]
fn fastcgi_on_a_unix_socket_path() {
    let path = common::fcgi_client::socket_path("cli");
    let _ = std::fs::remove_file(&path);
    let server = start(&["--fastcgi", path.to_str().unwrap(), "--quiet"]);
    let address = banner_address(&server);
    assert_eq!(address, Address::Unix(Some(path.clone())));
    let mut client = Client::connect(&address);
    client.send(&FcgiRequest::get("/unix").bytes());
    client.read_reply(1).assert_complete();
    drop(server); // killed: std cannot catch the signal, so the file stays behind...
    let again = start(&["--fastcgi", path.to_str().unwrap()]);
    // ...and the next start replaces the stale socket.
    assert_eq!(banner_address(&again), Address::Unix(Some(path.clone())));
    drop(again);
    let _ = std::fs::remove_file(&path);
}

/// A child started the way lighttpd's `bin-path` starts one: no arguments, the listening
/// socket as standard input. Killed when dropped.
struct Adopted(Child);

impl Adopted {
    fn start(listener: OwnedFd) -> Adopted {
        let child = Command::new(BINARY)
            .stdin(Stdio::from(listener))
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the rgiref binary");
        Adopted(child)
    }

    /// Kills the child and returns what it wrote on standard error.
    fn stop(mut self) -> String {
        let _ = self.0.kill();
        let _ = self.0.wait();
        let mut stderr = String::new();
        if let Some(mut pipe) = self.0.stderr.take() {
            let _ = pipe.read_to_string(&mut stderr);
        }
        stderr
    }
}

impl Drop for Adopted {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_listening_tcp_socket_on_stdin_is_adopted() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = Address::Tcp(listener.local_addr().unwrap());
    let child = Adopted::start(OwnedFd::from(listener));
    // The socket listens already, so this connection waits in its queue until the child
    // accepts it: no need to wait for the child to start.
    let mut client = Client::connect(&address);
    client.send(&FcgiRequest::get("/adopted").bytes());
    let reply = client.read_reply(1);
    reply.assert_complete();
    assert!(reply
        .response()
        .body_text()
        .contains("PATH_INFO = \"/adopted\""));
    let stderr = child.stop();
    assert!(
        stderr.contains("FastCGI responder (a development server) serving the demo application"),
        "{stderr}"
    );
}

#[test]
fn a_listening_unix_socket_on_stdin_is_adopted() {
    let path = common::fcgi_client::socket_path("adopted");
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).unwrap();
    let child = Adopted::start(OwnedFd::from(listener));
    let mut client = Client::connect(&Address::Unix(Some(path.clone())));
    client.send(&FcgiRequest::get("/").bytes());
    client.read_reply(1).assert_complete();
    drop(child);
    let _ = std::fs::remove_file(&path);
}

/// Asserts `args` are refused as every mistake is: one `rgiref: ` line mentioning `hint`, exit 2.
fn assert_refused(command: Command, hint: &str) {
    let exited = ServerProcess::spawn(command).wait_for_exit();
    assert_eq!(exited.code, Some(2), "{}", exited.stderr);
    assert_eq!(exited.stderr.lines().count(), 1, "{}", exited.stderr);
    assert!(exited.stderr.starts_with("rgiref: "), "{}", exited.stderr);
    assert!(exited.stderr.contains(hint), "{hint:?}: {}", exited.stderr);
}

#[test]
fn bad_fastcgi_addresses_are_refused() {
    for bad in ["9000", "example.org:9000"] {
        let mut command = Command::new(BINARY);
        command.args(["--fastcgi", bad]);
        assert_refused(command, "--fastcgi needs HOST:PORT");
    }
    let mut command = Command::new(BINARY);
    command.args(["--fastcgi", "/nonexistent-directory/fcgi.sock"]);
    assert_refused(
        command,
        "cannot listen on unix:/nonexistent-directory/fcgi.sock",
    );
    let exited = run_to_exit(&["--fastcgi", "127.0.0.1:0", "--port", "1"]);
    assert!(
        exited.stderr.contains("is for the HTTP server"),
        "{}",
        exited.stderr
    );
}

#[test]
fn a_bad_fcgi_web_server_addrs_is_refused() {
    let mut command = Command::new(BINARY);
    command
        .args(["--fastcgi", "127.0.0.1:0"])
        .env("FCGI_WEB_SERVER_ADDRS", "127.0.0.1,localhost");
    assert_refused(
        command,
        "FCGI_WEB_SERVER_ADDRS: \"localhost\" is not an IP address",
    );
}
