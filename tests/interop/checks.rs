//! The checks every front end × transport goes through, in one list ([`run_all`]), so each
//! pairing is held to the same standard and only what the front end does differently (and why)
//! is written down per pairing, in an [`Expect`].
//!
//! A [`Site`] is one running pairing: a web server with the `rgiref` binary (the demo
//! application) mounted at `/app`, and the echo gateway (`examples/echo_gateway.rs`) mounted
//! with the same snippet at `/gw`, for what the demo application cannot show (uploads
//! echoed back, big bodies and heads, a 404).
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rgiref::demo::demo_app;
use rgiref::log::Log;
use rgiref::server::{Config, Server};

use super::client::{self, get, hang_up_after, pattern, send, upload, Upload};
use super::frontends::FrontEnd;
use super::harness::{wait_for_census, Census};

/// Ten mebibytes: the size of the big upload and the big download.
pub const BIG: usize = 10 * 1024 * 1024;

/// The size of the header that makes a response head bigger than 4 KiB.
pub const BIG_HEADER: usize = 5000;

/// How many requests the sequential check sends.
pub const SEQUENTIAL: usize = 200;

/// Where a program is mounted: the address to ask, and the path prefix.
#[derive(Debug, Clone)]
pub struct Mount {
    pub addr: SocketAddr,
    pub prefix: String,
}

impl Mount {
    pub fn new(addr: SocketAddr, prefix: &str) -> Mount {
        Mount {
            addr,
            prefix: prefix.to_owned(),
        }
    }

    fn target(&self, rest: &str) -> String {
        format!("{}{rest}", self.prefix)
    }

    fn get(&self, rest: &str) -> client::Reply {
        get(self.addr, &self.target(rest))
    }
}

/// One running pairing of a web server and a transport.
pub struct Site<'a> {
    /// Names the pairing in messages and the summary line: `lighttpd cgi`.
    pub name: &'a str,
    pub front: &'a FrontEnd,
    /// The `rgiref` binary (the demo application).
    pub app: Mount,
    /// The echo gateway.
    pub gw: Mount,
    /// The processes behind the web server that stay up between requests (FastCGI and SCGI
    /// responders), whose children and descriptors are counted with the web server's.
    pub backends: Vec<u32>,
    /// Logs of those processes, searched for their trace lines.
    pub backend_logs: Vec<std::path::PathBuf>,
    pub expect: Expect,
}

/// What this pairing does where pairings differ.
pub struct Expect {
    pub chunked_upload: Chunked,
    pub big_head: BigHead,
    /// The variables whose value differs from what rgiref's own HTTP server gives for the same
    /// request, or that only one of them sets: each with the reason. The check fails if the
    /// set differs, so this list stays the truth.
    pub environ_differences: Vec<(&'static str, &'static str)>,
    /// Descriptors a process may hold after the sequential requests beyond what it held
    /// before: upstream connections a web server keeps open on purpose.
    pub kept_connections: usize,
    /// Where this web server splits a path otherwise than RFC 3875 says: (the path after the
    /// mount, SCRIPT_NAME after the mount, PATH_INFO). Empty for nearly all.
    pub path_split_exceptions: Vec<(&'static str, &'static str, &'static str)>,
}

/// What happens to a chunked upload (no `Content-Length`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Chunked {
    /// The app got the whole body, with this `CONTENT_LENGTH` (`"absent"` for none: streamed).
    Echoed(&'static str),
    /// The web server answered with this status itself.
    Refused(u16),
    /// The app answered, but got no body: the web server sent it without `CONTENT_LENGTH`,
    /// which rgiref's CGI side takes to mean "no body" (RFC 3875 §4.1.2).
    Dropped,
}

/// What happens to a response head bigger than 4 KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BigHead {
    Passed,
    /// The web server answers with this status and logs this text.
    Refused(u16, &'static str),
}

/// What the checks measured, for the summary line.
#[derive(Default)]
pub struct Measured {
    pub notes: Vec<String>,
}

/// Runs every check against `site`, in order, and returns what they measured. Panics at the
/// first check that fails, naming the pairing and the check.
pub fn run_all(site: &Site) -> Measured {
    let mut measured = Measured::default();
    // Every process warmed up (a CGI program run once, a responder connected once) before the
    // first count, so the count after the checks compares like with like.
    assert_eq!(site.app.get("").status, 200, "{}: GET /app", site.name);
    assert_eq!(
        site.gw.get("/pid").status,
        200,
        "{}: GET /gw/pid",
        site.name
    );
    let mut roots = vec![site.front.daemon.pid()];
    roots.extend(&site.backends);
    let baseline = Census::settled(&roots).unwrap_or_else(|why| panic!("{}: {why}", site.name));

    get_with_query(site);
    path_split(site);
    environ_compared(site, &mut measured);
    httpoxy(site, &mut measured);
    status_404(site);
    upload_with_length(site, &mut measured);
    upload_chunked(site, &mut measured);
    download(site, &mut measured);
    big_head(site, &mut measured);
    hang_up(site);
    sequential(site, &mut measured);

    wait_for_census(&roots, &baseline, site.expect.kept_connections)
        .unwrap_or_else(|why| panic!("{}: processes or descriptors leaked: {why}", site.name));
    measured
}

/// The demo page's `KEY = value` lines (values still quoted as the page prints them).
fn environ_of(reply: &client::Reply) -> BTreeMap<String, String> {
    let text = reply.text();
    assert!(
        text.starts_with("Hello world!\n"),
        "not the demo page: {text}"
    );
    text.lines()
        .filter_map(|line| line.split_once(" = "))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn quoted(text: &str) -> String {
    format!("{text:?}")
}

fn get_with_query(site: &Site) {
    let reply = site.app.get("?x=1&y=%20z");
    assert_eq!(reply.status, 200, "{}: {reply:?}", site.name);
    let environ = environ_of(&reply);
    assert_eq!(
        environ["QUERY_STRING"],
        quoted("x=1&y=%20z"),
        "{}",
        site.name
    );
    assert_eq!(environ["REQUEST_METHOD"], quoted("GET"), "{}", site.name);
}

/// RFC 3875 §4.1.5, §4.1.13: the mount is SCRIPT_NAME, the rest (decoded) is PATH_INFO.
fn path_split(site: &Site) {
    for (rest, path_info) in [
        ("", ""),
        ("/", "/"),
        ("/a/b/c", "/a/b/c"),
        ("/x%20y", "/x y"),
    ] {
        let environ = environ_of(&site.app.get(rest));
        let got = (&environ["SCRIPT_NAME"], &environ["PATH_INFO"]);
        let mut want = (quoted(&site.app.prefix), quoted(path_info));
        if let Some((_, script_name, path_info)) = site
            .expect
            .path_split_exceptions
            .iter()
            .find(|(r, _, _)| *r == rest)
        {
            want = (
                quoted(&format!("{}{script_name}", site.app.prefix)),
                quoted(path_info),
            );
        }
        let want = (&want.0, &want.1);
        assert_eq!(
            got, want,
            "{}: SCRIPT_NAME, PATH_INFO for {}{rest}",
            site.name, site.app.prefix
        );
    }
}

/// The demo page for one request through the web server, next to rgiref's own HTTP server's
/// for the same request: every variable that differs must be one the pairing's [`Expect`]
/// names.
fn environ_compared(site: &Site, measured: &mut Measured) {
    let rest = "/x%20y?x=1";
    let headers = [("Accept", "*/*"), ("X-Probe", "interop")];
    let reply = send(
        site.app.addr,
        "GET",
        &site.app.target(rest),
        &headers,
        Upload::None,
    );
    let front = normalized(environ_of(&reply), site.app.addr.port());

    let (reference, port) = reference_environ(&format!("/app{rest}"), &headers);
    let mut reference = normalized(reference, port);
    // Mounted at /app, as the web server mounts the program (SCRIPT_NAME and PATH_INFO are
    // checked in `path_split`, exceptions and all).
    reference.insert("SCRIPT_NAME".into(), front["SCRIPT_NAME"].clone());
    reference.insert("PATH_INFO".into(), front["PATH_INFO"].clone());

    let mut differences = BTreeMap::new();
    for key in front.keys().chain(reference.keys()) {
        let (ours, theirs) = (reference.get(key), front.get(key));
        if ours != theirs {
            let show = |v: Option<&String>| v.map_or("(absent)".to_owned(), Clone::clone);
            differences.insert(key.clone(), format!("{} -> {}", show(ours), show(theirs)));
        }
    }
    let expected: std::collections::BTreeSet<&str> = site
        .expect
        .environ_differences
        .iter()
        .map(|(k, _)| *k)
        .collect();
    let expected: Vec<&str> = expected.into_iter().collect();
    let got: Vec<&str> = differences.keys().map(String::as_str).collect();
    assert_eq!(
        got, expected,
        "{}: the environ differs from rgiref's own server's in other variables than the \
         expected ones (rgiref's value -> the web server's):\n{differences:#?}",
        site.name
    );
    measured
        .notes
        .push(format!("environ differences: {}", got.join(" ")));
}

/// Values that differ only because each server listens on its own port, made equal.
fn normalized(environ: BTreeMap<String, String>, port: u16) -> BTreeMap<String, String> {
    let port = port.to_string();
    environ
        .into_iter()
        .map(|(key, value)| {
            let value = match key.as_str() {
                "REMOTE_PORT" => "(a port)".to_owned(),
                _ => value.replace(&port, "(port)"),
            };
            (key, value)
        })
        .collect()
}

/// The demo page's environ from rgiref's own development server (in this process) for
/// `target`, and the port it listened on.
fn reference_environ(target: &str, headers: &[(&str, &str)]) -> (BTreeMap<String, String>, u16) {
    let config = Config {
        log: Log::silent(),
        ..Config::default()
    };
    let server = Server::bind_with("127.0.0.1:0", demo_app, config).expect("bind");
    let addr = server.local_addr();
    let running = server.spawn().expect("spawn");
    let reply = send(addr, "GET", target, headers, Upload::None);
    running.stop();
    (environ_of(&reply), addr.port())
}

/// httpoxy: a `Proxy:` header must never become `HTTP_PROXY`, whoever removes it.
fn httpoxy(site: &Site, measured: &mut Measured) {
    let headers = [("Proxy", "http://evil.example/")];
    let reply = send(
        site.app.addr,
        "GET",
        &site.app.target(""),
        &headers,
        Upload::None,
    );
    let environ = environ_of(&reply);
    assert!(
        !environ.contains_key("HTTP_PROXY") && !reply.text().contains("evil.example"),
        "{}: HTTP_PROXY reached the app:\n{}",
        site.name,
        reply.text()
    );
    let logs = site
        .backend_logs
        .iter()
        .map(|p| std::fs::read_to_string(p).unwrap_or_default());
    let traced = logs
        .chain([site.front.error_log_text()])
        .any(|log| log.contains("left out HTTP_PROXY"));
    measured.notes.push(
        if traced {
            "Proxy: passed on as HTTP_PROXY, left out by rgiref"
        } else {
            "Proxy: dropped by the web server"
        }
        .to_owned(),
    );
}

fn status_404(site: &Site) {
    let reply = site.gw.get("/status/404");
    assert_eq!(reply.status, 404, "{}: {reply:?}", site.name);
    assert_eq!(
        reply.text(),
        "echo_gateway: no such thing\n",
        "{}: the app's own body",
        site.name
    );
}

fn upload_with_length(site: &Site, measured: &mut Measured) {
    let body = upload(BIG);
    let started = Instant::now();
    let reply = send(
        site.gw.addr,
        "POST",
        &site.gw.target("/echo"),
        &[],
        Upload::Sized(&body),
    );
    let took = started.elapsed();
    assert_eq!(
        reply.status, 200,
        "{}: 10 MB POST: {}",
        site.name, reply.status_line
    );
    assert_eq!(
        reply.header("X-Echo-Content-Length"),
        Some("10485760"),
        "{}",
        site.name
    );
    assert!(
        reply.body == body,
        "{}: the 10 MB upload came back changed ({} bytes)",
        site.name,
        reply.body.len()
    );
    measured
        .notes
        .push(format!("10 MB echoed in {}", millis(took)));
}

fn upload_chunked(site: &Site, measured: &mut Measured) {
    let body = upload(BIG);
    let reply = send(
        site.gw.addr,
        "POST",
        &site.gw.target("/echo"),
        &[],
        Upload::Chunked(&body),
    );
    match site.expect.chunked_upload {
        Chunked::Echoed(length) => {
            assert_eq!(
                reply.status, 200,
                "{}: chunked POST: {}",
                site.name, reply.status_line
            );
            assert_eq!(
                reply.header("X-Echo-Content-Length"),
                Some(length),
                "{}",
                site.name
            );
            assert!(
                reply.body == body,
                "{}: the chunked upload came back changed ({} bytes)",
                site.name,
                reply.body.len()
            );
            measured
                .notes
                .push(format!("chunked upload echoed (CONTENT_LENGTH {length})"));
        }
        Chunked::Dropped => {
            assert_eq!(
                reply.status, 200,
                "{}: chunked POST: {}",
                site.name, reply.status_line
            );
            assert_eq!(
                reply.header("X-Echo-Content-Length"),
                Some("absent"),
                "{}",
                site.name
            );
            assert_eq!(reply.body.len(), 0, "{}: the app read a body", site.name);
            measured
                .notes
                .push("chunked upload: the app got no body".to_owned());
        }
        Chunked::Refused(status) => {
            assert_eq!(
                reply.status, status,
                "{}: chunked POST: {reply:?}",
                site.name
            );
            measured
                .notes
                .push(format!("chunked upload refused with {status}"));
        }
    }
}

fn download(site: &Site, measured: &mut Measured) {
    let started = Instant::now();
    let reply = site.gw.get(&format!("/bytes/{BIG}"));
    let took = started.elapsed();
    assert_eq!(reply.status, 200, "{}: {}", site.name, reply.status_line);
    assert!(
        reply.body == pattern(BIG),
        "{}: the 10 MB response came changed ({} bytes)",
        site.name,
        reply.body.len()
    );
    measured
        .notes
        .push(format!("10 MB sent in {}", millis(took)));
}

fn big_head(site: &Site, measured: &mut Measured) {
    let reply = site.gw.get(&format!("/head/{BIG_HEADER}"));
    match site.expect.big_head {
        BigHead::Passed => {
            assert_eq!(
                reply.status, 200,
                "{}: a big head: {}",
                site.name, reply.status_line
            );
            assert_eq!(
                reply.header("X-Padding").map(str::len),
                Some(BIG_HEADER),
                "{}",
                site.name
            );
            assert!(reply.head_bytes > 4096);
            measured
                .notes
                .push(format!("{} byte head passed", reply.head_bytes));
        }
        BigHead::Refused(status, log) => {
            assert_eq!(reply.status, status, "{}: a big head: {reply:?}", site.name);
            let error_log = site.front.error_log_text();
            assert!(
                error_log.contains(log),
                "{}: no {log:?} in the error log:\n{error_log}",
                site.name
            );
            measured
                .notes
                .push(format!("big head refused with {status} ({log})"));
        }
    }
}

/// A client that goes away mid-response must cost nothing but that response.
fn hang_up(site: &Site) {
    let read = hang_up_after(
        site.gw.addr,
        &site.gw.target(&format!("/bytes/{BIG}")),
        64 * 1024,
    );
    assert!(read > 0, "{}: nothing came before the hang-up", site.name);
    let reply = site.app.get("/after-hang-up");
    assert_eq!(
        reply.status, 200,
        "{}: the request after a hang-up: {reply:?}",
        site.name
    );
}

fn sequential(site: &Site, measured: &mut Measured) {
    let started = Instant::now();
    for n in 0..SEQUENTIAL {
        let reply = site.gw.get("/pid");
        assert_eq!(
            reply.status, 200,
            "{}: request {n} of {SEQUENTIAL}: {reply:?}",
            site.name
        );
    }
    let took = started.elapsed();
    measured.notes.push(format!(
        "{SEQUENTIAL} requests in {} ({:.2} ms each)",
        millis(took),
        took.as_secs_f64() * 1000.0 / SEQUENTIAL as f64
    ));
}

pub fn millis(duration: Duration) -> String {
    format!("{} ms", duration.as_millis())
}

/// How many processes answered `requests` sequential `/pid` requests: how far a web server
/// spreads requests over a pool.
pub fn processes_serving(mount: &Mount, requests: usize) -> usize {
    let pids: std::collections::BTreeSet<String> =
        (0..requests).map(|_| mount.get("/pid").text()).collect();
    pids.len()
}

/// What [`clients_at_once`] saw: each request's status and how long it took.
pub struct Turns {
    pub statuses: Vec<u16>,
    pub latencies: Vec<Duration>,
}

impl Turns {
    pub fn slowest(&self) -> Duration {
        self.latencies.iter().copied().max().unwrap_or_default()
    }

    pub fn median(&self) -> Duration {
        let mut sorted = self.latencies.clone();
        sorted.sort();
        sorted.get(sorted.len() / 2).copied().unwrap_or_default()
    }

    /// How many requests were not answered with a 200.
    pub fn failed(&self) -> usize {
        self.statuses.iter().filter(|&&s| s != 200).count()
    }
}

/// `clients` clients at the same time, each sending `each` requests one after another: GET
/// `/pid`, or POST a small body to `/echo`. A web server then needs as many upstream
/// connections at once.
pub fn clients_at_once(mount: &Mount, clients: usize, each: usize, post: bool) -> Turns {
    let seen = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..clients {
            let seen = &seen;
            scope.spawn(move || {
                for _ in 0..each {
                    let started = Instant::now();
                    let reply = if post {
                        let body = Upload::Sized(b"hello");
                        send(mount.addr, "POST", &mount.target("/echo"), &[], body)
                    } else {
                        mount.get("/pid")
                    };
                    let took = started.elapsed();
                    seen.lock().unwrap().push((reply.status, took));
                }
            });
        }
    });
    let seen = seen.into_inner().unwrap();
    Turns {
        statuses: seen.iter().map(|(status, _)| *status).collect(),
        latencies: seen.iter().map(|(_, took)| *took).collect(),
    }
}

/// `count` requests for `/sleep/MILLIS` sent at once: how many processes served them (each
/// answers with its process id), and how long all of them took.
pub fn slow_requests_at_once(mount: &Mount, count: usize, millis: u64) -> (usize, Duration) {
    let started = Instant::now();
    let pids: std::collections::BTreeSet<String> = std::thread::scope(|scope| {
        let requests: Vec<_> = (0..count)
            .map(|_| scope.spawn(|| mount.get(&format!("/sleep/{millis}"))))
            .collect();
        requests
            .into_iter()
            .map(|request| {
                let reply = request.join().expect("a request thread");
                assert_eq!(reply.status, 200, "{reply:?}");
                reply.text()
            })
            .collect()
    });
    (pids.len(), started.elapsed())
}
