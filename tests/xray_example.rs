//! `examples/xray.rs`, run in its own process as its header says, and tried as it says.
//!
//! Stage: **call app** — the example's — seen from outside: over HTTP on a free port, as a
//! FastCGI responder spoken to by our own client (`common/fcgi_client.rs`), and as a CGI
//! program started with the variables a web server would set.
//!
//! What a reader learns here:
//! * The `curl … | grep …` commands in the example's header print exactly the lines it shows:
//!   the test reads them from the header, sends the same request curl sends, and greps.
//! * Behind FastCGI the page shows the PARAMS as sent, including the web server's own
//!   variables and the httpoxy header that the environ leaves out; under CGI, the request's
//!   variables from the process environment, and none of the rest of it.
//! * Nothing a client sends reaches the page unescaped, whichever way it came.

mod common;
mod server_process;

use std::process::{Command, Stdio};

use common::fcgi_client::{Client, FcgiRequest};
use rgiref::fastcgi::Address;
use server_process::{example_binary, ServerProcess};

const HOSTILE: &str = "<script>alert('x')</script>";

/// The example's source, whose header documents the commands.
fn source() -> String {
    std::fs::read_to_string("examples/xray.rs").expect("read examples/xray.rs")
}

/// `cargo run --example xray -- 0`, in effect: the page on a free port, banner read.
fn start_http() -> ServerProcess {
    let mut command = Command::new(example_binary("xray"));
    command.arg("0");
    let mut server = ServerProcess::spawn(command);
    server.wait_for_banner();
    assert!(
        server
            .banner
            .starts_with("xray: development server at http://127.0.0.1:"),
        "{}",
        server.banner
    );
    server
}

/// A documented `curl -s URL [-H 'header']… | grep [-c] PATTERN`, and what it prints.
#[derive(Debug)]
struct Documented {
    target: String,
    headers: Vec<String>,
    count: bool,
    pattern: String,
    prints: Vec<String>,
}

/// The words of a shell command line, with '…' quoting (all the header uses).
fn words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '\'' => quoted = !quoted,
            ' ' if !quoted => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    words.push(word);
    words
}

/// Every `curl` command in the example's header, with the lines after it.
fn documented() -> Vec<Documented> {
    let source = source();
    let header: Vec<&str> = source
        .lines()
        .take_while(|line| line.starts_with("//!"))
        .collect();
    let mut found = Vec::new();
    for (i, line) in header.iter().enumerate() {
        let Some(command) = line.strip_prefix("//!   curl -s ") else {
            continue;
        };
        let words = words(command);
        let pipe = words.iter().position(|w| w == "|").expect("a | grep");
        let (curl, grep) = (&words[..pipe], &words[pipe + 1..]);
        let url = &curl[0];
        let target = url
            .strip_prefix("http://127.0.0.1:8006")
            .expect("the documented port");
        let headers = curl[1..]
            .chunks(2)
            .map(|pair| {
                assert_eq!(pair[0], "-H", "{line}");
                pair[1].clone()
            })
            .collect();
        assert_eq!(grep[0], "grep", "{line}");
        let count = grep[1] == "-c";
        let pattern = grep.last().expect("a pattern").clone();
        let prints = header[i + 1..]
            .iter()
            .map_while(|next| next.strip_prefix("//!       "))
            .map(str::to_owned)
            .collect();
        found.push(Documented {
            target: target.to_owned(),
            headers,
            count,
            pattern,
            prints,
        });
    }
    found
}

#[test]
fn the_documented_curl_commands_print_what_the_header_says() {
    let server = start_http();
    let commands = documented();
    assert_eq!(commands.len(), 4, "{commands:?}");
    for command in commands {
        // What curl 7 and 8 send for `curl -s URL -H …`: these three, then the -H headers.
        let mut request = format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n",
            command.target, server.addr
        );
        for header in &command.headers {
            request.push_str(&format!("{header}\r\n"));
        }
        request.push_str("\r\n");
        let response = common::request(server.addr, request.as_bytes());
        assert_eq!(response.status, 200);
        let page = response.body_text();
        let matching: Vec<String> = page
            .lines()
            .filter(|line| line.contains(&command.pattern))
            .map(str::to_owned)
            .collect();
        let printed = match command.count {
            true => vec![matching.len().to_string()],
            false => matching,
        };
        assert_eq!(printed, command.prints, "{command:?}");
    }
}

#[test]
fn the_page_is_safe_html_whatever_the_client_sends() {
    let server = start_http();
    // In the path (decoded to `/<script>`), the query, a header, and a header that is dropped.
    let request = format!(
        "GET /%3Cscript%3E?q=%3Cscript%3E HTTP/1.0\r\nX-Evil: {HOSTILE}\r\n\
         X_Evil: {HOSTILE}\r\n\r\n"
    );
    let response = common::request(server.addr, request.as_bytes());
    assert_eq!(response.status, 200, "{}", response.body_text());
    assert_eq!(
        response.header("Content-Security-Policy"),
        Some("default-src 'none'; style-src 'unsafe-inline'; img-src data:")
    );
    let page = response.body_text();
    assert!(!page.contains("<script"), "{page}");
    assert!(page.contains("<tr><td>PATH_INFO</td><td>/&lt;script&gt;</td></tr>"));
    assert!(page.contains("<td>X_Evil: &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;<b>"));
}

/// Reads the FastCGI banner, `xray: FastCGI responder at 127.0.0.1:PORT (Ctrl+C to quit)`.
fn fastcgi_address(server: &ServerProcess) -> Address {
    let banner = server.wait_for_stdout(|text| text.contains("Ctrl+C"), "the banner");
    let address = banner
        .strip_prefix("xray: FastCGI responder at ")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("not the FastCGI banner: {banner}"));
    Address::Tcp(address.parse().expect("an address in the banner"))
}

#[test]
fn behind_fastcgi_the_page_shows_the_params_as_the_web_server_sent_them() {
    let mut command = Command::new(example_binary("xray"));
    command.args(["--fastcgi", "127.0.0.1:0"]);
    let server = ServerProcess::spawn(command);
    let mut client = Client::connect(&fastcgi_address(&server));
    let request = FcgiRequest::get("/x?y=1")
        .param("DOCUMENT_URI", "/x")
        .param("HTTP_PROXY", "http://evil.example/")
        .param("HTTP_X_EVIL", HOSTILE)
        .param("HTTP_COOKIE", "id=s3cret");
    client.send(&request.bytes());
    let response = client.read_reply(request.id).response();
    assert_eq!(response.status, 200);
    let page = response.body_text();
    assert!(page.contains("<h2>1. The FastCGI PARAMS, as nginx/1.26.0 sent them</h2>"));
    assert!(page.contains("There is no raw request head here: nginx/1.26.0 received"));
    assert!(page.contains("<tr><td>REQUEST_URI</td><td>/x?y=1</td><td>kept</td></tr>"));
    assert!(page.contains(
        "<tr><td>DOCUMENT_URI</td><td>/x</td>\
         <td>left out: not a request variable (the web server&#39;s own)</td></tr>"
    ));
    assert!(page.contains("<td>left out HTTP_PROXY: it comes from the client&#39;s Proxy"));
    assert!(page.contains("<tr><td>Status: 200 OK</td>"));
    assert!(
        !page.contains("<script") && !page.contains("s3cret"),
        "{page}"
    );
}

/// The example as a CGI program: `vars` on top of an empty environment, stdout as text.
fn run_as_cgi(vars: &[(&str, &str)], inherit: bool) -> String {
    let mut command = Command::new(example_binary("xray"));
    if !inherit {
        command.env_clear();
    }
    command.envs(vars.iter().copied());
    let output = command
        .stdin(Stdio::null())
        .output()
        .expect("run the example as a CGI program");
    assert!(output.status.success(), "{output:?}");
    String::from_utf8(output.stdout).expect("a UTF-8 page")
}

#[test]
fn the_documented_cgi_command_prints_what_the_header_says() {
    let source = source();
    let command = "//!   GATEWAY_INTERFACE=CGI/1.1 SERVER_NAME=localhost SERVER_PORT=80 \
                   REQUEST_METHOD=GET \\\n//!     target/debug/examples/xray | head -3\n";
    let at = source.find(command).expect("the command in the header");
    let prints: Vec<&str> = source[at + command.len()..]
        .lines()
        .map_while(|line| line.strip_prefix("//!       "))
        .collect();
    let vars = [
        ("GATEWAY_INTERFACE", "CGI/1.1"),
        ("SERVER_NAME", "localhost"),
        ("SERVER_PORT", "80"),
        ("REQUEST_METHOD", "GET"),
    ];
    let stdout = run_as_cgi(&vars, true);
    let head: Vec<&str> = stdout.lines().take(3).collect();
    assert_eq!(head, prints);
}

#[test]
fn under_cgi_the_page_shows_the_request_variables_and_none_of_the_rest() {
    let stdout = run_as_cgi(
        &[
            ("GATEWAY_INTERFACE", "CGI/1.1"),
            ("SERVER_NAME", "localhost"),
            ("SERVER_PORT", "80"),
            ("REQUEST_METHOD", "GET"),
            ("SERVER_SOFTWARE", "lighttpd/1.4.69"),
            ("HTTP_X_EVIL", HOSTILE),
            ("SECRET_TOKEN", "do-not-show"),
            ("PATH", "/usr/bin"),
        ],
        false,
    );
    assert!(stdout.starts_with("Status: 200 OK\r\n"), "{stdout}");
    assert!(stdout.contains("<h2>1. The CGI variables, as lighttpd/1.4.69 set them</h2>"));
    assert!(stdout.contains("these 6 variables"), "{stdout}");
    assert!(stdout.contains("Not shown: 2 more of its variables"));
    assert!(!stdout.contains("do-not-show") && !stdout.contains("/usr/bin"));
    assert!(!stdout.contains("<script"), "{stdout}");
}
