//! rgiref behind real web servers: lighttpd, nginx and Apache, each started by the test from a
//! generated config, in front of the `rgiref` binary and the echo gateway.
//!
//! Stage: all of them, across two processes — the web server does **accept** and **read
//! request**, our side **build environ** onwards (CGI: `src/cgi/program.rs`).
//!
//! Each test is one web server × one transport. It writes a config in a temporary directory —
//! a wrapper from `tests/interop/` plus the README's snippet for that pairing, as written,
//! pasted twice: for the `rgiref` binary (the demo application) at `/app`, and for the echo
//! gateway (`examples/echo_gateway.rs`) at `/gw` — starts the server in the foreground on
//! free loopback ports, and runs the checks of `interop/checks.rs` against it:
//!
//! * GET with a query; SCRIPT_NAME and PATH_INFO for `/app`, `/app/`, `/app/a/b/c`,
//!   `/app/x%20y`;
//! * the demo's environ next to rgiref's own HTTP server's for the same request, every
//!   difference named in the pairing's [`Expect`] with its reason;
//! * `Proxy:` never reaching the app as `HTTP_PROXY`; a `404` from the app passed on;
//! * 10 MB uploaded with `Content-Length` and chunked, echoed byte for byte; 10 MB
//!   downloaded; a response head over 4 KiB;
//! * a client hanging up mid-response, then a normal request; 200 requests in a row, after
//!   which the web server and everything it started hold the same processes and descriptors
//!   as before.
//!
//! A web server that is not installed is skipped with one line on standard error saying so —
//! unless `CI=true`, where it is a failure (`.ci/run` installs all three). Each server and
//! each process it starts is killed and reaped by a guard, whatever happens (`interop/
//! harness.rs`). When a check fails, the failure prints the server's logs and keeps the
//! temporary directory.

#[path = "interop/checks.rs"]
mod checks;
#[path = "interop/client.rs"]
mod client;
#[path = "interop/frontends.rs"]
mod frontends;
#[path = "interop/harness.rs"]
mod harness;

use std::time::Instant;

use checks::{BigHead, Chunked, Expect, Mount, Site};
use frontends::{Extra, FrontEnd};
use harness::{
    adapt, echo_gateway_binary, rgiref_binary, say, snippet, TempDir, WebServer, EXAMPLE_MOUNT,
    EXAMPLE_PROGRAM, EXAMPLE_PROGRAM_DIR,
};

/// Every README snippet this file runs. A snippet added to the README without a test here
/// fails [`every_readme_snippet_is_run`]: the README promises they all work.
const SNIPPETS_RUN: [&str; 2] = ["apache-cgi", "lighttpd-cgi"];

#[test]
fn every_readme_snippet_is_run() {
    let mut in_readme = harness::snippet_names();
    in_readme.sort();
    let mut run = SNIPPETS_RUN.map(str::to_owned).to_vec();
    run.sort();
    assert_eq!(in_readme, run, "README.md's <!-- interop: NAME --> markers");
}

/// Where the echo gateway is mounted, beside the demo at `/app`.
const GW: &str = "/gw";

/// The README snippet `name` twice: for the `rgiref` binary at `/app`, and for the echo gateway
/// at [`GW`]. `more` replaces further example values (ports, socket paths) in both.
fn both_programs(name: &str, more: &[(&str, &str)], more_gw: &[(&str, &str)]) -> String {
    let text = snippet(name);
    let rgiref = rgiref_binary();
    let echo = echo_gateway_binary();
    let dir_of = |p: &std::path::Path| p.parent().unwrap().display().to_string();
    let (rgiref_path, rgiref_dir) = (rgiref.display().to_string(), dir_of(&rgiref));
    let (echo_path, echo_dir) = (echo.display().to_string(), dir_of(&echo));
    let mut for_app = vec![
        (EXAMPLE_PROGRAM, rgiref_path.as_str()),
        (EXAMPLE_PROGRAM_DIR, rgiref_dir.as_str()),
    ];
    for_app.extend_from_slice(more);
    let mut for_gw = vec![
        (EXAMPLE_PROGRAM, echo_path.as_str()),
        (EXAMPLE_PROGRAM_DIR, echo_dir.as_str()),
        (EXAMPLE_MOUNT, GW),
    ];
    for_gw.extend_from_slice(more_gw);
    format!("{}\n{}", adapt(&text, &for_app), adapt(&text, &for_gw))
}

/// Variables a web server sets that rgiref's own server does not, or sets differently, for
/// every transport: they describe the web server, not the request.
fn web_server_variables() -> Vec<(&'static str, &'static str)> {
    vec![
        ("SERVER_SOFTWARE", "names the web server instead of rgiref"),
        (
            "DOCUMENT_ROOT",
            "the web server's document root; rgiref's server has none",
        ),
        (
            "SCRIPT_FILENAME",
            "the file the web server mapped the request to",
        ),
        (
            "REQUEST_SCHEME",
            "http or https, which rgiref's server leaves to rgi.url_scheme",
        ),
        (
            "SERVER_ADDR",
            "the web server's own address; rgiref's server gives SERVER_NAME only",
        ),
    ]
}

/// What a CGI program's environ says that a long-running server's does not (PEP 3333).
fn cgi_flags() -> Vec<(&'static str, &'static str)> {
    vec![
        ("rgi.run_once", "a CGI process serves one request"),
        (
            "rgi.multiprocess",
            "a web server runs a CGI process per request, several at once",
        ),
    ]
}

/// Runs the checks and says how it went, in one line that shows in a passing run too.
fn check(site: Site, started: Instant) {
    let measured = checks::run_all(&site);
    say(&format!(
        "interop: {}: all checks passed in {} ({})",
        site.name,
        checks::millis(started.elapsed()),
        measured.notes.join("; ")
    ));
}

fn cgi_site<'a>(name: &'a str, front: &'a FrontEnd, expect: Expect) -> Site<'a> {
    Site {
        name,
        front,
        app: Mount::new(front.addr(), "/app"),
        gw: Mount::new(front.addr(), GW),
        backends: Vec::new(),
        backend_logs: Vec::new(),
        expect,
    }
}

#[test]
fn lighttpd_cgi() {
    let started = Instant::now();
    let dir = TempDir::new("lighttpd-cgi");
    let config = |_: &[u16]| both_programs("lighttpd-cgi", &[], &[]);
    let Some(front) = frontends::start(WebServer::Lighttpd, &dir, 1, &Extra::default(), config)
    else {
        return;
    };
    let mut environ_differences = [web_server_variables(), cgi_flags()].concat();
    environ_differences.extend([
        (
            "CONTENT_LENGTH",
            "lighttpd says 0 for a request without a body",
        ),
        (
            "PATH_TRANSLATED",
            "PATH_INFO under the document root (RFC 3875 §4.1.6)",
        ),
    ]);
    let expect = Expect {
        chunked_upload: Chunked::Echoed("10485760"),
        big_head: BigHead::Passed,
        environ_differences,
        kept_connections: 0,
    };
    check(cgi_site("lighttpd cgi", &front, expect), started);
}

#[test]
fn apache_cgi() {
    apache_cgi_with("apache cgi", "prefork", "cgi");
}

/// Debian's default: the event MPM, where CGI programs are started by mod_cgid's own daemon.
#[test]
fn apache_cgid() {
    apache_cgi_with("apache cgid", "event", "cgid");
}

fn apache_cgi_with(name: &str, mpm: &'static str, module: &'static str) {
    let started = Instant::now();
    let dir = TempDir::new(&name.replace(' ', "-"));
    let config = |_: &[u16]| both_programs("apache-cgi", &[], &[]);
    let extra = Extra {
        apache_modules: vec!["alias", module],
        apache_mpm: mpm,
    };
    let Some(front) = frontends::start(WebServer::Apache, &dir, 1, &extra, config) else {
        return;
    };
    let mut environ_differences = [web_server_variables(), cgi_flags()].concat();
    environ_differences.push((
        "PATH_TRANSLATED",
        "PATH_INFO under the document root (RFC 3875 §4.1.6)",
    ));
    let expect = Expect {
        // mod_cgi and mod_cgid stream a chunked body to standard input without CONTENT_LENGTH
        // (RFC 3875 §4.1.2 says they must set one), with HTTP_TRANSFER_ENCODING=chunked, and
        // close it after the body; src/cgi/program.rs reads it to that end.
        chunked_upload: Chunked::Echoed("absent"),
        big_head: BigHead::Passed,
        environ_differences,
        kept_connections: 0,
    };
    check(cgi_site(name, &front, expect), started);
}
