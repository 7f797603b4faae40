//! rgiref behind real web servers: lighttpd, nginx and Apache, each started by the test from a
//! generated config, in front of the `rgiref` binary and the echo gateway.
//!
//! Stage: all of them, across two processes — the web server does **accept** and **read
//! request**, our side **build environ** onwards (`src/cgi/program.rs`, `src/fastcgi/`,
//! `src/scgi/`).
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
//! The pairings, and what each adds to the list:
//!
//! ```text
//!   lighttpd   mod_cgi                     lighttpd_cgi
//!              mod_fastcgi, host/port      lighttpd_fastcgi            (responders the test starts)
//!              mod_fastcgi, bin-path       lighttpd_fastcgi_bin_path   (4 processes it starts: 8
//!                                                                       slow requests, 4 served at once)
//!              mounted at /                lighttpd_root_mount         (FastCGI and SCGI: the split only)
//!   nginx      fastcgi_pass                nginx_fastcgi
//!              ... request buffering off   nginx_fastcgi_unbuffered    (Unix sockets)
//!              upstream of 3               nginx_fastcgi_pool          (spread; 8 clients at once)
//!              ... keepalive 2, keep_conn  nginx_fastcgi_kept          (8 clients: measured)
//!              one responder, keepalive 2  nginx_fastcgi_kept_connections_one_responder
//!   Apache     mod_cgi (prefork)           apache_cgi
//!              mod_cgid (event)            apache_cgid
//!              mod_proxy_fcgi              apache_fastcgi
//!   SCGI       nginx scgi_pass             nginx_scgi
//!              lighttpd mod_scgi           lighttpd_scgi
//!              Apache mod_proxy_scgi       apache_scgi                 (its path split: see there)
//! ```
//!
//! What every web server adds to the environ, or sets differently, is listed with its reason
//! in [`web_server_variables`], [`cgi_flags`], [`fastcgi_flags`], [`scgi_flags`],
//! [`nginx_variables`], [`nginx_scgi_variables`] and [`lighttpd_fastcgi_variables`]; where the
//! web servers differ from each other:
//! * lighttpd sends `CONTENT_LENGTH=0` for a request without a body;
//! * nginx's stock `fastcgi_params` send an empty `CONTENT_TYPE` and `REMOTE_USER`, `HTTP_HOST`
//!   without its port (Debian's, against a Host-header trick), an empty `SERVER_NAME` unless
//!   the `server` block names one (which `cgi::environ_variables` fills from `HTTP_HOST`, as
//!   PEP 3333 wants it never empty), no `SCRIPT_FILENAME` and no `PATH_TRANSLATED`; and nginx
//!   alone passes `Proxy:` on, as `HTTP_PROXY`, which rgiref leaves out;
//! * Apache and lighttpd send `PATH_TRANSLATED`;
//! * Apache's CGI and proxy_fcgi stream a chunked upload without `CONTENT_LENGTH`, as does
//!   nginx with request buffering off; lighttpd and buffering nginx send a length; Apache's
//!   proxy_scgi refuses it (411);
//! * over SCGI, `CONTENT_LENGTH` is always there (`0` without a body: SCGI requires it);
//!   nginx's `scgi_params` and Apache's mod_proxy_scgi send no `GATEWAY_INTERFACE`, and
//!   `scgi_params` no `SERVER_SOFTWARE`, `SERVER_ADDR` or `REMOTE_USER` either.
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
mod server_process;

use std::path::PathBuf;
use std::time::Instant;

use checks::{BigHead, Chunked, Expect, Mount, Site};
use frontends::{Extra, FrontEnd, Snippets};
use harness::{
    adapt, loopback, responder, say, snippet, Daemon, TempDir, WebServer, EXAMPLE_MOUNT,
    EXAMPLE_PROGRAM, EXAMPLE_PROGRAM_DIR, EXAMPLE_RUN_DIR,
};

/// The `rgiref` binary: the demo application, as CGI, FastCGI and SCGI. (Here, not in
/// `interop/harness.rs`: Cargo names it only to tests, and `examples/bench_gateways.rs`
/// includes the harness too.)
fn rgiref_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_rgiref"))
}

/// `examples/echo_gateway.rs`, built beside the test binary (`target/<profile>/examples/`).
/// `cargo test --test interop` builds no examples, so this asks Cargo to, once per run
/// (`server_process::example_binary`).
fn echo_gateway_binary() -> PathBuf {
    server_process::example_binary("echo_gateway")
}

/// Every README snippet this file runs. A snippet added to the README without a test here
/// fails [`every_readme_snippet_is_run`]: the README promises they all work.
const SNIPPETS_RUN: [&str; 10] = [
    "apache-cgi",
    "lighttpd-cgi",
    "nginx-fastcgi",
    "nginx-fastcgi-pool",
    "lighttpd-fastcgi",
    "lighttpd-fastcgi-bin-path",
    "apache-fastcgi",
    "nginx-scgi",
    "lighttpd-scgi",
    "apache-scgi",
];

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
    let programs = (rgiref_binary(), echo_gateway_binary());
    both_programs_at(name, &programs, more, more_gw)
}

/// [`both_programs`] with the two programs somewhere else (see [`programs_for_www_data`]).
fn both_programs_at(
    name: &str,
    (rgiref, echo): &(PathBuf, PathBuf),
    more: &[(&str, &str)],
    more_gw: &[(&str, &str)],
) -> String {
    let text = snippet(name);
    let dir_of = |p: &std::path::Path| p.parent().unwrap().display().to_string();
    let (rgiref_path, rgiref_dir) = (rgiref.display().to_string(), dir_of(rgiref));
    let (echo_path, echo_dir) = (echo.display().to_string(), dir_of(echo));
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
    let config = |_: &[u16]| both_programs("lighttpd-cgi", &[], &[]).into();
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
        path_split_exceptions: Vec::new(),
    };
    check(cgi_site("lighttpd cgi", &front, expect), started);
}

/// The two programs copied to `cgi-bin/` in the run's directory, for Apache's CGI: Apache runs
/// them as `www-data`, who may not be able to reach `target/` (a checkout under `/root` is
/// mode 0700), while the temporary directory is open to all. The snippet's
/// `/srv/rgiref/rgiref` becomes `…/cgi-bin/rgiref`, the same layout.
fn programs_for_www_data(dir: &TempDir) -> (PathBuf, PathBuf) {
    let bin = dir.join("cgi-bin");
    std::fs::create_dir_all(&bin).expect("make cgi-bin");
    let copy = |from: PathBuf, name: &str| {
        let to = bin.join(name);
        std::fs::copy(&from, &to).unwrap_or_else(|e| panic!("copy {}: {e}", from.display()));
        to
    };
    (
        copy(rgiref_binary(), "rgiref"),
        copy(echo_gateway_binary(), "echo_gateway"),
    )
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
    let programs = programs_for_www_data(&dir);
    let config = |_: &[u16]| both_programs_at("apache-cgi", &programs, &[], &[]).into();
    let extra = Extra {
        apache_modules: vec!["alias", module],
        apache_mpm: mpm,
        ..Extra::default()
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
        path_split_exceptions: Vec::new(),
    };
    check(cgi_site(name, &front, expect), started);
}

// ---------------------------------------------------------------------------------------------
// FastCGI: `rgiref --fastcgi ADDR` (and the echo gateway's) started by the test, or the
// processes lighttpd starts itself with `bin-path`.

/// The example values of the FastCGI snippets.
const EXAMPLE_FASTCGI: &str = "127.0.0.1:9000";
const EXAMPLE_FASTCGI_PORT: &str = "9000";
const EXAMPLE_POOL: [&str; 3] = ["127.0.0.1:9001", "127.0.0.1:9002", "127.0.0.1:9003"];
const EXAMPLE_POOL_NAME: &str = "rgiref_pool";
const EXAMPLE_LISTEN: &str = "8080";

/// FastCGI responders the test started: for the demo (`app`) and the echo gateway (`gw`), as
/// the addresses they announced.
struct Responders {
    daemons: Vec<Daemon>,
    app: Vec<String>,
    gw: Vec<String>,
}

/// How the test's responders listen.
#[derive(Clone, Copy, PartialEq)]
enum Listen {
    Tcp,
    Unix,
}

/// Starts `count` FastCGI responders of each program, each on its own TCP port or Unix socket.
fn fastcgi_responders(dir: &TempDir, count: usize, listen: Listen) -> Responders {
    responders(dir, count, listen, "--fastcgi")
}

/// Starts `count` processes of each program with `flag ADDRESS` (`--fastcgi`, `--scgi`).
fn responders(dir: &TempDir, count: usize, listen: Listen, flag: &str) -> Responders {
    let mut responders = Responders {
        daemons: Vec::new(),
        app: Vec::new(),
        gw: Vec::new(),
    };
    for n in 0..count {
        for (name, program) in [("app", rgiref_binary()), ("gw", echo_gateway_binary())] {
            let label = format!("{name}{flag}-{n}");
            let address = match listen {
                Listen::Tcp => "127.0.0.1:0".to_owned(),
                Listen::Unix => dir.file(&format!("{label}.sock")),
            };
            let (daemon, announced) = responder(&label, &program, &[flag, &address], dir);
            responders.daemons.push(daemon);
            match name {
                "app" => responders.app.push(announced),
                _ => responders.gw.push(announced),
            }
        }
    }
    responders
}

impl Responders {
    fn pids(&self) -> Vec<u32> {
        self.daemons.iter().map(Daemon::pid).collect()
    }

    fn logs(&self) -> Vec<std::path::PathBuf> {
        self.daemons.iter().map(|d| d.stderr.clone()).collect()
    }
}

/// The port of an announced `127.0.0.1:PORT`.
fn port_of(address: &str) -> &str {
    address.rsplit(':').next().unwrap_or(address)
}

/// What the FastCGI responder's environ says that rgiref's own server's does not.
fn fastcgi_flags() -> Vec<(&'static str, &'static str)> {
    vec![(
        "rgi.multiprocess",
        "a web server may run several responders at once",
    )]
}

fn fastcgi_site<'a>(
    name: &'a str,
    front: &'a FrontEnd,
    app: SocketAddrOf,
    gw: SocketAddrOf,
    responders: Option<&Responders>,
    expect: Expect,
) -> Site<'a> {
    Site {
        name,
        front,
        app: Mount::new(app.0, "/app"),
        gw: Mount::new(gw.0, GW),
        backends: responders.map(Responders::pids).unwrap_or_default(),
        backend_logs: responders.map(Responders::logs).unwrap_or_default(),
        expect,
    }
}

/// Where a mount is served (a newtype, so the two mounts cannot be swapped unseen).
struct SocketAddrOf(std::net::SocketAddr);

#[test]
fn nginx_fastcgi() {
    nginx_fastcgi_with(
        "nginx fastcgi",
        Listen::Tcp,
        "",
        Chunked::Echoed("10485760"),
    );
}

/// `fastcgi_request_buffering off`: nginx passes the body on as it arrives, so a chunked one
/// comes without CONTENT_LENGTH. The responders listen on Unix sockets here.
#[test]
fn nginx_fastcgi_unbuffered() {
    nginx_fastcgi_with(
        "nginx fastcgi unbuffered unix",
        Listen::Unix,
        "        fastcgi_request_buffering off;",
        Chunked::Echoed("absent"),
    );
}

fn nginx_fastcgi_with(name: &str, listen: Listen, server_extra: &'static str, chunked: Chunked) {
    let started = Instant::now();
    let dir = TempDir::new(&name.replace(' ', "-"));
    if harness::require(WebServer::Nginx).is_none() {
        return;
    }
    let responders = fastcgi_responders(&dir, 1, listen);
    let upstream = |address: &str| match listen {
        Listen::Tcp => address.to_owned(),
        Listen::Unix => address.to_owned(), // "unix:/path", as fastcgi_pass takes it
    };
    let (app, gw) = (upstream(&responders.app[0]), upstream(&responders.gw[0]));
    let config = |_: &[u16]| {
        both_programs(
            "nginx-fastcgi",
            &[(EXAMPLE_FASTCGI, &app)],
            &[(EXAMPLE_FASTCGI, &gw)],
        )
        .into()
    };
    let extra = Extra {
        nginx_server: server_extra,
        ..Extra::default()
    };
    let Some(front) = frontends::start(WebServer::Nginx, &dir, 1, &extra, config) else {
        return;
    };
    let expect = Expect {
        chunked_upload: chunked,
        big_head: BigHead::Refused(502, "upstream sent too big header"),
        environ_differences: [nginx_variables(None), fastcgi_flags()].concat(),
        kept_connections: 0,
        path_split_exceptions: Vec::new(),
    };
    let (app, gw) = (SocketAddrOf(front.addr()), SocketAddrOf(front.addr()));
    check(
        fastcgi_site(name, &front, app, gw, Some(&responders), expect),
        started,
    );
}

/// What nginx's stock fastcgi_params (Debian's) send differently from rgiref's own server.
/// (They also send DOCUMENT_URI and REDIRECT_STATUS, which are not request variables and stay
/// out of the environ, and no SCRIPT_FILENAME: fastcgi.conf has that, fastcgi_params not.)
fn nginx_variables(server_name: Option<&'static str>) -> Vec<(&'static str, &'static str)> {
    let mut differences: Vec<_> = web_server_variables()
        .into_iter()
        .filter(|(name, _)| *name != "SCRIPT_FILENAME")
        .collect();
    differences.extend([
        (
            "CONTENT_TYPE",
            "fastcgi_params sends it empty when the request has none",
        ),
        (
            "REMOTE_USER",
            "fastcgi_params sends it empty without authentication",
        ),
        (
            "HTTP_HOST",
            "Debian's fastcgi_params send $host: the Host header without its port",
        ),
    ]);
    differences.extend(server_name.map(|why| ("SERVER_NAME", why)));
    differences
}

/// The README's pool: an upstream of three responders per program, in a `server` block of its
/// own per program. Beside the checks: nginx spreads requests over all three, and eight
/// clients at once (more than the processes) are all answered, GETs and POSTs.
#[test]
fn nginx_fastcgi_pool() {
    let started = Instant::now();
    let name = "nginx fastcgi pool";
    let dir = TempDir::new("nginx-fastcgi-pool");
    if harness::require(WebServer::Nginx).is_none() {
        return;
    }
    let responders = fastcgi_responders(&dir, 3, Listen::Tcp);
    let template = snippet("nginx-fastcgi-pool");
    let config = |ports: &[u16]| pool_config(&template, &responders, ports);
    let Some(front) = frontends::start(WebServer::Nginx, &dir, 3, &Extra::default(), config) else {
        return;
    };
    let expect = Expect {
        chunked_upload: Chunked::Echoed("10485760"),
        big_head: BigHead::Refused(502, "upstream sent too big header"),
        environ_differences: [nginx_variables(Some(POOL_SERVER_NAME)), fastcgi_flags()].concat(),
        kept_connections: 0,
        path_split_exceptions: Vec::new(),
    };
    let site = pool_site(name, &front, &responders, expect);
    let spread = checks::processes_serving(&site.gw, 30);
    assert_eq!(
        spread, 3,
        "{name}: nginx spread 30 requests over {spread} of 3 processes"
    );
    for post in [false, true] {
        let turns = checks::clients_at_once(&site.gw, 8, 50, post);
        assert_eq!(
            turns.failed(),
            0,
            "{name}: 8 clients at once: {:?}",
            turns.statuses
        );
    }
    check(site, started);
}

/// Why SERVER_NAME differs behind the pool snippet, which names its server.
const POOL_SERVER_NAME: &str = "the pool snippet's server_name, localhost";

/// The demo's pool on the front end's second port, the echo gateway's on its third.
fn pool_site<'a>(
    name: &'a str,
    front: &'a FrontEnd,
    responders: &Responders,
    expect: Expect,
) -> Site<'a> {
    let app = SocketAddrOf(loopback(front.ports[1]));
    let gw = SocketAddrOf(loopback(front.ports[2]));
    fastcgi_site(name, front, app, gw, Some(responders), expect)
}

/// A pool template (the README's, or [`KEPT_POOL`]) twice, for each program's responders, on
/// the front end's second and third ports. Fewer responders than the template's three
/// `server` lines are repeated.
fn pool_config(template: &str, responders: &Responders, ports: &[u16]) -> Snippets {
    let listen = |n: usize| format!("127.0.0.1:{}", ports[n]);
    let (listen_app, listen_gw) = (listen(1), listen(2));
    let mut for_app = vec![(EXAMPLE_LISTEN, listen_app.as_str())];
    let mut for_gw = vec![
        (EXAMPLE_LISTEN, listen_gw.as_str()),
        (EXAMPLE_POOL_NAME, "gw_pool"),
        (EXAMPLE_MOUNT, GW),
    ];
    let (app, gw) = (&responders.app, &responders.gw);
    for (n, example) in EXAMPLE_POOL.iter().enumerate() {
        for_app.push((example, &app[n % app.len()]));
        for_gw.push((example, &gw[n % gw.len()]));
    }
    Snippets {
        main: String::new(),
        http: format!(
            "{}\n{}",
            adapt(template, &for_app),
            adapt(template, &for_gw)
        ),
    }
}

/// The README's pool with kept connections, as its text describes them: `keepalive 2` and
/// `fastcgi_keep_conn on`, and `max_fails=0` so that a process is not taken out of the pool
/// when it closes a kept connection that nginx had just picked.
const KEPT_POOL: &str = "
upstream rgiref_pool {
    server 127.0.0.1:9001 max_fails=0;
    server 127.0.0.1:9002 max_fails=0;
    server 127.0.0.1:9003 max_fails=0;
    keepalive 2;
}
server {
    listen 8080;
    server_name localhost;
    location ~ ^/app(/|$) {
        fastcgi_split_path_info ^(/app)(/.*)$;
        include fastcgi_params;
        fastcgi_param PATH_INFO $fastcgi_path_info;
        fastcgi_pass rgiref_pool;
        fastcgi_keep_conn on;
        client_max_body_size 20m;
    }
}
";

/// Kept connections (`keepalive 2`, `fastcgi_keep_conn on`) to a pool of three: the checks,
/// which send one request at a time, and then what eight clients at once meet — measured and
/// reported, not asserted, beyond every GET being answered: rgiref gives up a kept connection
/// when another is waiting, nginx sometimes sends a request on it just then, and retries a GET
/// but not a POST.
#[test]
fn nginx_fastcgi_kept() {
    let started = Instant::now();
    let name = "nginx fastcgi kept connections, pool of 3";
    let dir = TempDir::new("nginx-fastcgi-kept");
    if harness::require(WebServer::Nginx).is_none() {
        return;
    }
    let responders = fastcgi_responders(&dir, 3, Listen::Tcp);
    let config = |ports: &[u16]| pool_config(KEPT_POOL, &responders, ports);
    let Some(front) = frontends::start(WebServer::Nginx, &dir, 3, &Extra::default(), config) else {
        return;
    };
    let expect = Expect {
        chunked_upload: Chunked::Echoed("10485760"),
        big_head: BigHead::Refused(502, "upstream sent too big header"),
        environ_differences: [nginx_variables(Some(POOL_SERVER_NAME)), fastcgi_flags()].concat(),
        // keepalive 2 for each of the two upstreams; each responder may hold one of them.
        kept_connections: 4,
        path_split_exceptions: Vec::new(),
    };
    let site = pool_site(name, &front, &responders, expect);
    let gets = checks::clients_at_once(&site.gw, 8, 50, false);
    assert_eq!(
        gets.failed(),
        0,
        "{name}: 8 clients' GETs: {:?}",
        gets.statuses
    );
    let retried = front
        .error_log_text()
        .matches("upstream prematurely closed")
        .count();
    let posts = checks::clients_at_once(&site.gw, 8, 50, true);
    say(&format!(
        "interop: {name}: 8 clients at once: {} GETs all answered ({retried} retried after \
         meeting a connection rgiref had given up); {} of {} POSTs answered 502 (not retried)",
        gets.statuses.len(),
        posts.failed(),
        posts.statuses.len(),
    ));
    check(site, started);
}

/// DEPLOY-NOTES' hazard, item 5 of issue 8: nginx keeping connections (`keepalive 2`,
/// `fastcgi_keep_conn on`) to ONE single-threaded responder — more kept connections than
/// processes, which the README advises against — with two clients at once. nginx opens a
/// second upstream connection while the first is kept; a responder reading the first would
/// leave the second unserved until nginx gave up (504 after 60 s), but rgiref gives a kept
/// connection up as soon as another is waiting, and after `Timeouts::keep_conn_idle`. Every
/// request must be answered; how long the slowest took is reported, with a generous net. (With
/// a single `server`, nginx never takes it out of the pool, so no `max_fails=0` is needed.)
#[test]
fn nginx_fastcgi_kept_connections_one_responder() {
    let started = Instant::now();
    let name = "nginx fastcgi keepalive 2, one responder, two clients";
    let dir = TempDir::new("nginx-kept-one");
    if harness::require(WebServer::Nginx).is_none() {
        return;
    }
    let responders = fastcgi_responders(&dir, 1, Listen::Tcp);
    let one = KEPT_POOL.replace(" max_fails=0", "").replace(
        "    server 127.0.0.1:9002;\n    server 127.0.0.1:9003;\n",
        "",
    );
    let config = |ports: &[u16]| pool_config(&one, &responders, ports);
    let Some(front) = frontends::start(WebServer::Nginx, &dir, 3, &Extra::default(), config) else {
        return;
    };
    let gw = Mount::new(loopback(front.ports[2]), GW);
    let turns = checks::clients_at_once(&gw, 2, 100, false);
    assert_eq!(turns.failed(), 0, "{name}: {:?}", turns.statuses);
    // A safety net, not a speed test: five times the responder's idle deadline (1 s). The
    // hazard it guards against is a request stuck until nginx's own 60 s timeout.
    assert!(
        turns.slowest() < std::time::Duration::from_secs(5),
        "{name}: a request waited {:?}",
        turns.slowest()
    );
    let error_log = front.error_log_text();
    let responder_log = responders.daemons[1].stderr_text();
    say(&format!(
        "interop: {name}: all {} answered in {} (slowest {}, median {}); {} were retried \
         after meeting a connection rgiref had given up; rgiref closed {} idle at its deadline",
        turns.statuses.len(),
        checks::millis(started.elapsed()),
        checks::millis(turns.slowest()),
        checks::millis(turns.median()),
        error_log.matches("upstream prematurely closed").count(),
        responder_log
            .matches("closed a kept connection after")
            .count(),
    ));
}

#[test]
fn lighttpd_fastcgi() {
    let started = Instant::now();
    let name = "lighttpd fastcgi";
    let dir = TempDir::new("lighttpd-fastcgi");
    if harness::require(WebServer::Lighttpd).is_none() {
        return;
    }
    let responders = fastcgi_responders(&dir, 1, Listen::Tcp);
    let (app, gw) = (port_of(&responders.app[0]), port_of(&responders.gw[0]));
    let config = |_: &[u16]| {
        let app = [(EXAMPLE_FASTCGI_PORT, app)];
        let gw = [(EXAMPLE_FASTCGI_PORT, gw)];
        both_programs("lighttpd-fastcgi", &app, &gw).into()
    };
    let Some(front) = frontends::start(WebServer::Lighttpd, &dir, 1, &Extra::default(), config)
    else {
        return;
    };
    let expect = Expect {
        chunked_upload: Chunked::Echoed("10485760"),
        big_head: BigHead::Passed,
        environ_differences: lighttpd_fastcgi_variables(),
        kept_connections: 0,
        path_split_exceptions: Vec::new(),
    };
    let (app, gw) = (SocketAddrOf(front.addr()), SocketAddrOf(front.addr()));
    check(
        fastcgi_site(name, &front, app, gw, Some(&responders), expect),
        started,
    );
}

/// What lighttpd's mod_fastcgi sends differently from rgiref's own server.
fn lighttpd_fastcgi_variables() -> Vec<(&'static str, &'static str)> {
    let mut differences = [web_server_variables(), fastcgi_flags()].concat();
    differences.extend([
        (
            "CONTENT_LENGTH",
            "lighttpd says 0 for a request without a body",
        ),
        (
            "PATH_TRANSLATED",
            "PATH_INFO under the document root (RFC 3875 §4.1.6)",
        ),
    ]);
    differences
}

/// `bin-path` with `max-procs 4`: lighttpd starts four rgiref processes itself, each with its
/// listening socket as standard input (FastCGI's FCGI_LISTENSOCK_FILENO), and shares the
/// requests out. Beside the checks: eight slow requests at once are served by four different
/// processes — one thread each, scaled by processes.
#[test]
fn lighttpd_fastcgi_bin_path() {
    let started = Instant::now();
    let name = "lighttpd fastcgi bin-path, max-procs 4";
    let dir = TempDir::new("lighttpd-fastcgi-bin-path");
    let (app_run, gw_run) = (dir.file("app-run"), dir.file("gw-run"));
    for run in [&app_run, &gw_run] {
        std::fs::create_dir_all(run).expect("make the socket directory");
    }
    let config = |_: &[u16]| {
        let app = [(EXAMPLE_RUN_DIR, app_run.as_str())];
        let gw = [(EXAMPLE_RUN_DIR, gw_run.as_str())];
        both_programs("lighttpd-fastcgi-bin-path", &app, &gw).into()
    };
    let Some(front) = frontends::start(WebServer::Lighttpd, &dir, 1, &Extra::default(), config)
    else {
        return;
    };
    let lighttpd = front.daemon.pid();
    let eight = harness::wait_for("lighttpd to start 4 + 4 processes", || {
        (harness::live_children(lighttpd).len() == 8).then_some(())
    });
    let children = harness::live_children(lighttpd);
    eight.unwrap_or_else(|why| panic!("{name}: {why}: {children:?}"));
    let expect = Expect {
        chunked_upload: Chunked::Echoed("10485760"),
        big_head: BigHead::Passed,
        environ_differences: lighttpd_fastcgi_variables(),
        kept_connections: 0,
        path_split_exceptions: Vec::new(),
    };
    let (app, gw) = (SocketAddrOf(front.addr()), SocketAddrOf(front.addr()));
    let mut site = fastcgi_site(name, &front, app, gw, None, expect);
    // The processes lighttpd started write their log to lighttpd's standard error.
    site.backend_logs.push(front.daemon.stderr.clone());
    let (served_by, took) = checks::slow_requests_at_once(&site.gw, 8, 300);
    assert_eq!(
        served_by, 4,
        "{name}: 8 slow requests at once were served by {served_by} processes"
    );
    say(&format!(
        "interop: {name}: 8 requests taking 300 ms each, sent at once, were served by 4 \
         processes in {}",
        checks::millis(took)
    ));
    check(site, started);
}

#[test]
fn apache_fastcgi() {
    let started = Instant::now();
    let name = "apache proxy_fcgi";
    let dir = TempDir::new("apache-fastcgi");
    if harness::require(WebServer::Apache).is_none() {
        return;
    }
    let responders = fastcgi_responders(&dir, 1, Listen::Tcp);
    let (app, gw) = (&responders.app[0], &responders.gw[0]);
    let config = |_: &[u16]| {
        let app = [(EXAMPLE_FASTCGI, app.as_str())];
        let gw = [(EXAMPLE_FASTCGI, gw.as_str())];
        both_programs("apache-fastcgi", &app, &gw).into()
    };
    let extra = Extra {
        apache_modules: vec!["proxy", "proxy_fcgi", "setenvif"],
        apache_mpm: "event",
        ..Extra::default()
    };
    let Some(front) = frontends::start(WebServer::Apache, &dir, 1, &extra, config) else {
        return;
    };
    let mut environ_differences = [web_server_variables(), fastcgi_flags()].concat();
    environ_differences.push((
        "PATH_TRANSLATED",
        "PATH_INFO under the document root (RFC 3875 §4.1.6)",
    ));
    let expect = Expect {
        chunked_upload: Chunked::Echoed("absent"),
        big_head: BigHead::Passed,
        environ_differences,
        kept_connections: 0,
        path_split_exceptions: Vec::new(),
    };
    let (app, gw) = (SocketAddrOf(front.addr()), SocketAddrOf(front.addr()));
    check(
        fastcgi_site(name, &front, app, gw, Some(&responders), expect),
        started,
    );
}

// ---------------------------------------------------------------------------------------------
// SCGI: `rgiref --scgi ADDR` (and the echo gateway's), started by the test.

/// The example values of the SCGI snippets.
const EXAMPLE_SCGI: &str = "127.0.0.1:4000";
const EXAMPLE_SCGI_PORT: &str = "4000";

/// What an SCGI server's environ says that rgiref's own server's does not. (The `SCGI`
/// variable itself, which SCGI requires, is not a request variable and stays out.)
fn scgi_flags() -> Vec<(&'static str, &'static str)> {
    vec![(
        "rgi.multiprocess",
        "a web server may run several SCGI servers at once",
    )]
}

fn scgi_responders(dir: &TempDir, listen: Listen) -> Responders {
    responders(dir, 1, listen, "--scgi")
}

#[test]
fn nginx_scgi() {
    let started = Instant::now();
    let name = "nginx scgi";
    let dir = TempDir::new("nginx-scgi");
    if harness::require(WebServer::Nginx).is_none() {
        return;
    }
    let responders = scgi_responders(&dir, Listen::Tcp);
    let (app, gw) = (&responders.app[0], &responders.gw[0]);
    let config = |_: &[u16]| {
        let app = [(EXAMPLE_SCGI, app.as_str())];
        let gw = [(EXAMPLE_SCGI, gw.as_str())];
        both_programs("nginx-scgi", &app, &gw).into()
    };
    let Some(front) = frontends::start(WebServer::Nginx, &dir, 1, &Extra::default(), config) else {
        return;
    };
    let expect = Expect {
        chunked_upload: Chunked::Echoed("10485760"),
        big_head: BigHead::Refused(502, "upstream sent too big header"),
        environ_differences: [nginx_scgi_variables(), scgi_flags()].concat(),
        kept_connections: 0,
        path_split_exceptions: Vec::new(),
    };
    let (app, gw) = (SocketAddrOf(front.addr()), SocketAddrOf(front.addr()));
    check(
        fastcgi_site(name, &front, app, gw, Some(&responders), expect),
        started,
    );
}

#[test]
fn lighttpd_scgi() {
    let started = Instant::now();
    let name = "lighttpd scgi";
    let dir = TempDir::new("lighttpd-scgi");
    if harness::require(WebServer::Lighttpd).is_none() {
        return;
    }
    let responders = scgi_responders(&dir, Listen::Tcp);
    let (app, gw) = (port_of(&responders.app[0]), port_of(&responders.gw[0]));
    let config = |_: &[u16]| {
        let app = [(EXAMPLE_SCGI_PORT, app)];
        let gw = [(EXAMPLE_SCGI_PORT, gw)];
        both_programs("lighttpd-scgi", &app, &gw).into()
    };
    let Some(front) = frontends::start(WebServer::Lighttpd, &dir, 1, &Extra::default(), config)
    else {
        return;
    };
    let mut environ_differences = [web_server_variables(), scgi_flags()].concat();
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
        path_split_exceptions: Vec::new(),
    };
    let (app, gw) = (SocketAddrOf(front.addr()), SocketAddrOf(front.addr()));
    check(
        fastcgi_site(name, &front, app, gw, Some(&responders), expect),
        started,
    );
}

#[test]
fn apache_scgi() {
    let started = Instant::now();
    let name = "apache proxy_scgi";
    let dir = TempDir::new("apache-scgi");
    if harness::require(WebServer::Apache).is_none() {
        return;
    }
    let responders = scgi_responders(&dir, Listen::Tcp);
    let (app, gw) = (&responders.app[0], &responders.gw[0]);
    let config = |_: &[u16]| {
        let app = [(EXAMPLE_SCGI, app.as_str())];
        let gw = [(EXAMPLE_SCGI, gw.as_str())];
        both_programs("apache-scgi", &app, &gw).into()
    };
    let extra = Extra {
        apache_modules: vec!["proxy", "proxy_scgi", "setenvif"],
        apache_mpm: "event",
        ..Extra::default()
    };
    let Some(front) = frontends::start(WebServer::Apache, &dir, 1, &extra, config) else {
        return;
    };
    let mut environ_differences = [web_server_variables(), scgi_flags()].concat();
    environ_differences.extend([
        (
            "CONTENT_LENGTH",
            "SCGI requires it first in every request: 0 without a body",
        ),
        (
            "GATEWAY_INTERFACE",
            "absent: mod_proxy_scgi does not send it",
        ),
    ]);
    environ_differences.push((
        "PATH_TRANSLATED",
        "PATH_INFO under the document root (RFC 3875 §4.1.6)",
    ));
    let expect = Expect {
        // SCGI needs CONTENT_LENGTH, and mod_proxy_scgi does not buffer a chunked body to
        // count it: it answers 411 itself.
        chunked_upload: Chunked::Refused(411),
        big_head: BigHead::Passed,
        environ_differences,
        kept_connections: 0,
        // mod_proxy_scgi's "best guess" (proxy-scgi-pathinfo) is "/" plus the rest of the
        // proxied URL, still percent-encoded; and SCRIPT_NAME is what of the decoded path does
        // not end in that, so the whole of it when the rest holds a %.
        path_split_exceptions: vec![("", "", "/"), ("/x%20y", "/x y", "/x%20y")],
    };
    let (app, gw) = (SocketAddrOf(front.addr()), SocketAddrOf(front.addr()));
    check(
        fastcgi_site(name, &front, app, gw, Some(&responders), expect),
        started,
    );
}

/// What nginx's stock scgi_params (Debian's) send differently from rgiref's own server: less
/// than fastcgi_params.
fn nginx_scgi_variables() -> Vec<(&'static str, &'static str)> {
    vec![
        (
            "CONTENT_LENGTH",
            "SCGI requires it first in every request: 0 without a body",
        ),
        (
            "CONTENT_TYPE",
            "scgi_params sends it empty when the request has none",
        ),
        (
            "DOCUMENT_ROOT",
            "the web server's document root; rgiref's server has none",
        ),
        (
            "GATEWAY_INTERFACE",
            "absent: scgi_params does not send it (RFC 3875 says it must)",
        ),
        (
            "HTTP_HOST",
            "Debian's scgi_params send $host: the Host header without its port",
        ),
        (
            "REQUEST_SCHEME",
            "http or https, which rgiref's server leaves to rgi.url_scheme",
        ),
        ("SERVER_SOFTWARE", "absent: scgi_params does not send it"),
    ]
}

/// lighttpd with the application at `/`, over FastCGI and SCGI: as the README says, without
/// `fix-root-scriptname` lighttpd makes the first segment of the path the SCRIPT_NAME; with
/// it, SCRIPT_NAME is empty and PATH_INFO the whole path, as PEP 3333 wants for a root mount.
#[test]
fn lighttpd_root_mount() {
    let dir = TempDir::new("lighttpd-root");
    if harness::require(WebServer::Lighttpd).is_none() {
        return;
    }
    let fastcgi = fastcgi_responders(&dir, 1, Listen::Tcp);
    let scgi = scgi_responders(&dir, Listen::Tcp);
    for (module, responder) in [("fastcgi", &fastcgi.app[0]), ("scgi", &scgi.app[0])] {
        for fix in [true, false] {
            let option = if fix {
                ", \"fix-root-scriptname\" => \"enable\""
            } else {
                ""
            };
            let config = |_: &[u16]| {
                format!(
                    "server.modules += ( \"mod_{module}\" )\n\
                     {module}.server += ( \"/\" => (( \"host\" => \"127.0.0.1\", \"port\" => {}, \
                     \"check-local\" => \"disable\"{option} )))\n",
                    port_of(responder)
                )
                .into()
            };
            let run = TempDir::new(&format!("lighttpd-root-{module}-{fix}"));
            let front = frontends::start(WebServer::Lighttpd, &run, 1, &Extra::default(), config)
                .expect("lighttpd was found a moment ago");
            let split = |target: &str| {
                let page = client::get(front.addr(), target).text();
                let value = |name: &str| {
                    let prefix = format!("{name} = ");
                    page.lines()
                        .find_map(|l| l.strip_prefix(prefix.as_str()))
                        .unwrap_or("(absent)")
                        .to_owned()
                };
                (value("SCRIPT_NAME"), value("PATH_INFO"))
            };
            let q = |text: &str| format!("{text:?}");
            if fix {
                for (target, path_info) in [("/", "/"), ("/a/b", "/a/b"), ("/x%20y", "/x y")] {
                    assert_eq!(split(target), (q(""), q(path_info)), "{module}, {target}");
                }
            } else {
                assert_eq!(
                    split("/a/b"),
                    (q("/a"), q("/b")),
                    "{module} without the option"
                );
            }
        }
    }
    say("interop: lighttpd root mount: fastcgi and scgi split / as the README says, with and without fix-root-scriptname");
}
