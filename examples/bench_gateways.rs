//! # Behind a web server: what each way of deploying rgiref costs
//!
//! `examples/bench.rs` measures the development server alone. Deployed, rgiref sits behind a
//! web server, and a request then crosses two programs: the web server parses HTTP and passes
//! the request on over FastCGI, or starts a CGI process for it. This program measures those
//! routes side by side, in one run — one load generator, one page, CPU read the same way:
//!
//! ```text
//!   route                       front end                      responder
//!   nginx return 200 (ceiling)  nginx answers the page itself  —
//!   nginx → FastCGI             nginx, fastcgi_pass            rgiref --fastcgi, new connections
//!   nginx → FastCGI, kept       nginx, keepalive 2 + keep_conn another, connections kept
//!   lighttpd → CGI              lighttpd, mod_cgi              an rgiref process per request
//!   rgiref HTTP (binary)        —                              the release `rgiref` binary
//!   HTTP, observer off          —                              the same server, this program's
//!   HTTP, no-op observer        —                              the same, Config::observer set
//!   HTTP, trace → /dev/null     —                              the same, narrating (--trace)
//! ```
//!
//! ## What is measured, and why
//!
//! * **Requests/s** from ApacheBench (`ab -n N -c C`: HTTP/1.0, a new connection per request)
//!   at concurrency 1 and 16, also as a share of nginx answering the page itself: no route
//!   through nginx can beat nginx alone.
//! * **Latency**: median, 99th percentile, slowest (`ab -e`). With one responder behind kept
//!   connections a request can wait behind another (`src/fastcgi/mod.rs`); the slowest shows it.
//! * **CPU per request, front end and responder apart**, from `/proc/<pid>/stat` before and
//!   after each load (`examples/measure/mod.rs`): the nginx master and worker, or lighttpd;
//!   rgiref's process; for CGI, the processes lighttpd started and reaped, whose time the kernel
//!   adds to lighttpd's `cutime`/`cstime`. ab's own CPU too. The clients share the cores, so
//!   requests/s partly measures them; CPU per request is each program's own cost.
//! * **What the stage-event observer costs.** `Config::observer` (`--trace`) is off by default,
//!   and every report is behind an `if let Some(observer)`. The last three rows are one server
//!   run by this program (`--serve KIND`) without an observer; with one that does nothing
//!   (`Config { observer: Some(Arc::new(|_: &Event<'_>| {})), .. }`), the price of the events
//!   alone; and with `--trace`'s `Trace` writing into `/dev/null`, the price of narrating them.
//!   The binary's row runs the same code as "off": their gap is the run's noise.
//!
//! ## How it works
//!
//! It builds the release binary (`cargo build --release --bin rgiref`) and starts, on loopback
//! ports, nginx and lighttpd from the interop test's wrappers and the README's snippets
//! (`tests/interop/harness.rs` and `frontends.rs`, included with `#[path]`: what is measured is
//! what the README says to write), two FastCGI responders, the binary's HTTP server, and this
//! program three times as an HTTP server. No access logs anywhere (nginx `access_log off`,
//! rgiref `--quiet`, no `mod_accesslog`): the rows compare transports. The page is the demo
//! application's (it lists its environ: 570–760 bytes); nginx's ceiling returns the page the
//! HTTP server gave ab's request. For each concurrency every route is warmed up (which sizes
//! N), then the routes take turns in rounds, so a change in background load hits all alike.
//! Every process started is stopped at the end, on an error too.
//!
//! ## Running it
//!
//! ```text
//!   cargo run --release --example bench_gateways              # about a minute
//!   cargo run --release --example bench_gateways -- --quick   # a smoke run, a few seconds
//!   cargo run --release --example bench_gateways -- --seconds 10 --concurrency 1,4,16
//! ```
//!
//! It needs nginx, lighttpd and ab (`apt-get install nginx lighttpd apache2-utils`), and says
//! so, with exit status 2, if one is missing. Linux only (`/proc`). Exit status 1 if a request
//! failed: that row's figures are not to be trusted.
//!
//! ## Reading the results
//!
//! Compare within one run, not across runs or machines. `/proc` counts in ticks of 10 ms, so
//! one turn's CPU figure is good to a few percent; the observer lines print the turns' spread,
//! which says how far to trust a small difference. At concurrency 1 every request wakes each
//! program from sleep, which costs CPU and varies with where the scheduler puts them: read
//! cost at 16, latency at 1. Run it twice before believing a small difference.

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::sync::Arc;
use std::time::Duration;

use rgiref::demo::demo_app;
use rgiref::observe::{Event, Observer};
use rgiref::server::{Config, Server};
use rgiref::trace::{Trace, TraceOptions};

#[path = "measure/mod.rs"]
mod measure;
use measure::{load_average, CpuTime, TICKS_PER_SECOND};

#[path = "../tests/interop/frontends.rs"]
mod frontends;
#[path = "../tests/interop/harness.rs"]
mod harness;
use frontends::{Extra, FrontEnd, Snippets};
use harness::{Daemon, TempDir, WebServer};

const USAGE: &str = "usage: cargo run --release --example bench_gateways -- [--quick] [--seconds S] [--concurrency C,C]
  --quick            a smoke run: 0.3 s per route and concurrency, one round
  --seconds S        load per route and concurrency, in seconds, over all rounds (default 4)
  --concurrency C,C  ab's concurrency levels (default 1,16)";

/// The README's nginx snippet sends `fastcgi_pass` here; the run puts its responder's address.
const EXAMPLE_FASTCGI: &str = "127.0.0.1:9000";
/// The line of the README's nginx snippet that the kept-connections route changes.
const EXAMPLE_FASTCGI_PASS: &str = "fastcgi_pass 127.0.0.1:9000;";
/// Where each front end serves the application, as in the README's snippets.
const MOUNT: &str = "/app";
/// Where nginx answers the page itself.
const CEILING: &str = "/ceiling";
/// How long a client waits for a response before ab counts it failed.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--serve") {
        return serve(args.get(1).map_or("", String::as_str));
    }
    if args.iter().any(|arg| arg == "--help" || arg == "-h") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let settings = match Settings::from_args(&args) {
        Ok(settings) => settings,
        Err(message) => {
            eprintln!("bench_gateways: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&settings) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(message) => {
            eprintln!("bench_gateways: {message}");
            ExitCode::from(2)
        }
    }
}

/// What to run, from the command line.
struct Settings {
    /// Load per route and concurrency, in total over the rounds.
    seconds: f64,
    /// How many turns each route gets per concurrency.
    rounds: u32,
    /// ab's `-c` values.
    concurrency: Vec<usize>,
    /// Requests in each warm-up.
    warm_up: u64,
}

impl Settings {
    fn from_args(args: &[String]) -> Result<Settings, String> {
        let mut settings = Settings {
            seconds: 4.0,
            rounds: 4,
            concurrency: vec![1, 16],
            warm_up: 300,
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            let mut value = || args.next().ok_or(format!("{arg} needs a value"));
            match arg.as_str() {
                "--quick" => {
                    settings.seconds = 0.3;
                    settings.rounds = 1;
                    settings.warm_up = 50;
                }
                "--seconds" => {
                    let text = value()?;
                    settings.seconds = text
                        .parse()
                        .map_err(|_| format!("--seconds: {text:?} is not a number"))?;
                }
                "--concurrency" => {
                    let text = value()?;
                    settings.concurrency = text
                        .split(',')
                        .map(|c| c.trim().parse().ok().filter(|&c| c > 0))
                        .collect::<Option<_>>()
                        .ok_or(format!("--concurrency: {text:?} is not a list like 1,16"))?;
                }
                _ => return Err(format!("unknown argument {arg:?}")),
            }
        }
        if settings.seconds <= 0.0 {
            return Err("--seconds must be more than zero".to_owned());
        }
        Ok(settings)
    }

    fn round_seconds(&self) -> f64 {
        self.seconds / f64::from(self.rounds)
    }
}

// ---------------------------------------------------------------------------------------------
// This program's own HTTP servers, for the observer rows: `bench_gateways --serve KIND`.
// ---------------------------------------------------------------------------------------------

/// The child's side: the demo application on rgiref's HTTP server, on a free port, with no
/// access log and the observer `kind` names: `off` none (the default), `no-op` one that does
/// nothing, `trace` the `--trace` narration written to `/dev/null` (as `rgiref --trace
/// 2>/dev/null` would: unbuffered, like standard error). Prints its address, then serves
/// until the parent stops it.
fn serve(kind: &str) -> ExitCode {
    let observer: Option<Arc<dyn Observer + Send + Sync>> = match kind {
        "off" => None,
        "no-op" => Some(Arc::new(|_: &Event<'_>| {})),
        "trace" => match File::create("/dev/null") {
            Ok(null) => Some(Arc::new(Trace::new(null, TraceOptions::default()))),
            Err(error) => {
                eprintln!("bench_gateways --serve: /dev/null: {error}");
                return ExitCode::FAILURE;
            }
        },
        _ => {
            eprintln!("bench_gateways --serve: off, no-op or trace, not {kind:?}");
            return ExitCode::from(2);
        }
    };
    let config = Config {
        access_log: false,
        observer,
        ..Config::default()
    };
    let server = match Server::bind_with("127.0.0.1:0", demo_app, config) {
        Ok(server) => server,
        Err(error) => {
            eprintln!("bench_gateways --serve: {error}");
            return ExitCode::FAILURE;
        }
    };
    println!("{}", server.local_addr());
    let _ = io::stdout().flush();
    server.serve_forever();
    ExitCode::SUCCESS
}

// ---------------------------------------------------------------------------------------------
// Setting up: the tools, the release binary, and every server, on loopback.
// ---------------------------------------------------------------------------------------------

/// The programs the run needs and does not build, each with its Debian package. Found before
/// anything starts, so that a missing one is one clear line instead of a half-made run.
const TOOLS: [(&str, &str); 3] = [
    ("nginx", "nginx"),
    ("lighttpd", "lighttpd"),
    ("ab", "apache2-utils"),
];

/// ab's path, if nginx, lighttpd and ab are all there; otherwise which are missing.
fn find_tools() -> Result<PathBuf, String> {
    let missing: Vec<(&str, &str)> = TOOLS
        .into_iter()
        .filter(|(command, _)| harness::find_executable(command).is_none())
        .collect();
    match harness::find_executable("ab") {
        Some(ab) if missing.is_empty() => Ok(ab),
        _ => {
            let names: Vec<&str> = missing.iter().map(|(command, _)| *command).collect();
            let packages: Vec<&str> = missing.iter().map(|(_, package)| *package).collect();
            Err(format!(
                "this benchmark needs nginx, lighttpd and ab; not found (in /usr/sbin, \
                 /usr/local/sbin or on PATH): {}. On Debian or Ubuntu: apt-get install {}",
                names.join(", "),
                packages.join(" ")
            ))
        }
    }
}

/// `nginx version: nginx/1.22.1`: the first line a program prints about its version.
fn version(program: &str, flag: &str) -> String {
    let Some(path) = harness::find_executable(program) else {
        return format!("{program}: not found");
    };
    let output = match Command::new(path).arg(flag).output() {
        Ok(output) => output,
        Err(error) => return format!("{program}: {error}"),
    };
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    let line = text.lines().next().unwrap_or(program).trim();
    // "This is ApacheBench, Version 2.3 <$Revision$>" says less in more words.
    match line.strip_prefix("This is ApacheBench, Version ") {
        Some(rest) => format!("ApacheBench {}", rest.split(' ').next().unwrap_or(rest)),
        None => line.to_owned(),
    }
}

/// Builds the release `rgiref` binary into the target directory this program runs from
/// (`target/<profile>/examples/bench_gateways` → `target/release/rgiref`), and returns its path.
fn release_rgiref() -> Result<PathBuf, String> {
    let exe = std::env::current_exe().map_err(|e| format!("where am I? {e}"))?;
    let target = exe
        .ancestors()
        .nth(3)
        .ok_or_else(|| format!("{} is not under target/<profile>/examples/", exe.display()))?;
    eprintln!("cargo build --release --bin rgiref …");
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.toml");
    let status = Command::new(env!("CARGO"))
        .args(["build", "--release", "--quiet", "--bin", "rgiref"])
        .arg("--manifest-path")
        .arg(&manifest)
        .env("CARGO_TARGET_DIR", target)
        .status()
        .map_err(|e| format!("cannot run cargo: {e}"))?;
    let binary = target.join("release").join("rgiref");
    match (status.success(), binary.is_file()) {
        (true, true) => Ok(binary),
        (true, false) => Err(format!("cargo built no {}", binary.display())),
        (false, _) => Err("cargo build --release --bin rgiref failed".to_owned()),
    }
}

/// Every server of the run. Dropping it stops them all (each `Daemon` and `FrontEnd` stops
/// its process and whatever that started) and then removes the directory they wrote in: the
/// fields drop in this order.
struct Servers {
    nginx: FrontEnd,
    /// The nginx master's children: its worker (the wrapper asks for one).
    nginx_workers: Vec<u32>,
    lighttpd: FrontEnd,
    fastcgi: Daemon,
    fastcgi_kept: Daemon,
    http: Daemon,
    observer_off: Daemon,
    observer_on: Daemon,
    trace: Daemon,
    /// Where the HTTP servers listen, as `127.0.0.1:PORT`.
    http_addr: String,
    observer_off_addr: String,
    observer_on_addr: String,
    trace_addr: String,
    dir: TempDir,
}

fn start_servers(rgiref: &Path) -> Result<Servers, String> {
    let dir = TempDir::new("bench-gateways");

    let mut command = Command::new(rgiref);
    command.args(["--port", "0", "--quiet"]);
    let mut http = Daemon::spawn_quiet("http", command, &dir);
    let http_addr = http.wait_for_stdout("the address it serves", |line| {
        line.split_whitespace().find_map(|word| {
            let address = word.strip_prefix("http://")?.trim_end_matches('/');
            address.parse::<SocketAddr>().ok()
        })
    });
    let page = fetch_page(http_addr, MOUNT)
        .map_err(|e| format!("GET {MOUNT} from the HTTP server: {e}"))?;

    let fastcgi_args = ["--fastcgi", "127.0.0.1:0", "--quiet"];
    let (fastcgi, fastcgi_addr) = harness::responder("fastcgi", rgiref, &fastcgi_args, &dir);
    let (fastcgi_kept, kept_addr) = harness::responder("fastcgi-kept", rgiref, &fastcgi_args, &dir);
    let (nginx, nginx_workers) = start_nginx(&dir, &page, &fastcgi_addr, &kept_addr)?;
    let lighttpd = start_lighttpd(&dir, rgiref)?;

    let me = std::env::current_exe().map_err(|e| e.to_string())?;
    let (observer_off, observer_off_addr) =
        harness::responder("observer-off", &me, &["--serve", "off"], &dir);
    let (observer_on, observer_on_addr) =
        harness::responder("observer-on", &me, &["--serve", "no-op"], &dir);
    let (trace, trace_addr) = harness::responder("trace", &me, &["--serve", "trace"], &dir);

    Ok(Servers {
        nginx,
        nginx_workers,
        lighttpd,
        fastcgi,
        fastcgi_kept,
        http,
        observer_off,
        observer_on,
        trace,
        http_addr: http_addr.to_string(),
        observer_off_addr,
        observer_on_addr,
        trace_addr,
        dir,
    })
}

/// nginx with the README's snippet to the responder at `fastcgi` on its first port, the same
/// with kept connections to `kept` on its second, and `page` answered by nginx itself at
/// [`CEILING`]. Returns it with its worker's process id.
fn start_nginx(
    dir: &TempDir,
    page: &[u8],
    fastcgi: &str,
    kept: &str,
) -> Result<(FrontEnd, Vec<u32>), String> {
    let ceiling = ceiling_location(page)?;
    let readme = harness::snippet("nginx-fastcgi");
    if !readme.contains(EXAMPLE_FASTCGI_PASS) {
        return Err(format!(
            "README.md's nginx-fastcgi snippet has no `{EXAMPLE_FASTCGI_PASS}` to point at the responder"
        ));
    }
    let config = |ports: &[u16]| Snippets {
        main: format!(
            "{}\n{ceiling}",
            harness::adapt(&readme, &[(EXAMPLE_FASTCGI, fastcgi)])
        ),
        http: kept_server(&readme, kept, ports[1]),
    };
    // The wrapper's http block logs every request; its server block (and ours) turn that off.
    let quiet = Extra {
        nginx_server: "        access_log off;",
        ..Extra::default()
    };
    let nginx =
        frontends::start(WebServer::Nginx, dir, 2, &quiet, config).ok_or("nginx not found")?;
    // The master binds the ports before it starts its worker, so wait for the worker too.
    let master = nginx.daemon.pid();
    let workers = harness::wait_for("nginx's worker", || {
        let workers = harness::live_children(master);
        (!workers.is_empty()).then_some(workers)
    })?;
    Ok((nginx, workers.iter().map(|p| p.pid).collect()))
}

/// lighttpd with the README's CGI snippet, running `rgiref` for every request.
fn start_lighttpd(dir: &TempDir, rgiref: &Path) -> Result<FrontEnd, String> {
    let program = rgiref.display().to_string();
    let config = |_: &[u16]| {
        let readme = harness::snippet("lighttpd-cgi");
        Snippets::from(harness::adapt(
            &readme,
            &[(harness::EXAMPLE_PROGRAM, &program)],
        ))
    };
    frontends::start(WebServer::Lighttpd, dir, 1, &Extra::default(), config)
        .ok_or_else(|| "lighttpd not found".to_owned())
}

/// The README's nginx snippet with kept connections, as the README's text describes them:
/// `fastcgi_pass` to an upstream with `keepalive 2`, and `fastcgi_keep_conn on`. One responder,
/// in a `server` block of its own on `port`.
fn kept_server(readme_snippet: &str, responder: &str, port: u16) -> String {
    let location = harness::adapt(
        readme_snippet,
        &[(
            EXAMPLE_FASTCGI_PASS,
            "fastcgi_keep_conn on;\n    fastcgi_pass rgiref_kept;",
        )],
    );
    format!(
        "upstream rgiref_kept {{\n    server {responder};\n    keepalive 2;\n}}\n\
         server {{\n    listen 127.0.0.1:{port};\n    access_log off;\n{location}}}\n"
    )
}

/// nginx answering `page` itself at [`CEILING`], with the demo's content type.
fn ceiling_location(page: &[u8]) -> Result<String, String> {
    let text = std::str::from_utf8(page).map_err(|_| "the page is not UTF-8")?;
    // In nginx's quoted strings `\` and `"` are escaped; `$` starts a variable and cannot be.
    if text.contains('$') {
        return Err(
            "the page holds a `$`, which nginx's return text would read as a variable".to_owned(),
        );
    }
    let quoted = text.replace('\\', "\\\\").replace('"', "\\\"");
    Ok(format!(
        "location = {CEILING} {{\n    default_type \"text/plain; charset=utf-8\";\n    \
         return 200 \"{quoted}\";\n}}\n"
    ))
}

/// The body of `GET path`, sent byte for byte as ab sends it, so the page is the one ab gets.
fn fetch_page(address: SocketAddr, path: &str) -> io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect(address)?;
    stream.set_read_timeout(Some(CLIENT_TIMEOUT))?;
    let request = format!(
        "GET {path} HTTP/1.0\r\nHost: {address}\r\nUser-Agent: ApacheBench/2.3\r\nAccept: */*\r\n\r\n"
    );
    stream.write_all(request.as_bytes())?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    let body_at = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| io::Error::other("no end of the response head"))?;
    if !response.starts_with(b"HTTP/1.0 200 ") {
        let head = String::from_utf8_lossy(&response[..body_at]);
        return Err(io::Error::other(format!("not a 200: {head:?}")));
    }
    Ok(response[body_at + 4..].to_vec())
}

// ---------------------------------------------------------------------------------------------
// The routes measured, and where each one's CPU time shows.
// ---------------------------------------------------------------------------------------------

/// Where some of a route's CPU time can be read.
#[derive(Clone, Copy)]
enum Meter {
    /// A process's own time: a server that stays up.
    Own(u32),
    /// The time of the children a process started and reaped: lighttpd's CGI processes.
    Reaped(u32),
}

impl Meter {
    fn read(self) -> Result<CpuTime, String> {
        let (Meter::Own(pid) | Meter::Reaped(pid)) = self;
        let times = measure::times(pid).map_err(|e| format!("/proc/{pid}/stat: {e}"))?;
        Ok(match self {
            Meter::Own(_) => times.own,
            Meter::Reaped(_) => times.reaped,
        })
    }
}

fn read_all(meters: &[Meter]) -> Result<CpuTime, String> {
    let mut total = CpuTime::default();
    for meter in meters {
        total.add(meter.read()?);
    }
    Ok(total)
}

/// The HTTP routes the observer lines compare.
const BINARY: &str = "rgiref HTTP (binary)";
const OBSERVER_OFF: &str = "HTTP, observer off";
const OBSERVER_ON: &str = "HTTP, no-op observer";
const TRACE: &str = "HTTP, trace → /dev/null";

/// One way of serving the page, and what came of it at each concurrency.
struct Route {
    label: &'static str,
    url: String,
    front_end: Vec<Meter>,
    responder: Vec<Meter>,
    /// A process whose children must all have been reaped before its `cutime` is read.
    reaps: Option<u32>,
    /// One per concurrency level, in the settings' order.
    measured: Vec<Measured>,
}

fn routes(servers: &Servers, concurrency_levels: usize) -> Vec<Route> {
    let nginx: Vec<Meter> = std::iter::once(servers.nginx.daemon.pid())
        .chain(servers.nginx_workers.iter().copied())
        .map(Meter::Own)
        .collect();
    let lighttpd = servers.lighttpd.daemon.pid();
    let url = |port: u16, path: &str| format!("http://127.0.0.1:{port}{path}");
    let http_url = |address: &str| format!("http://{address}{MOUNT}");
    let route = |label, url, front_end: &[Meter], responder: &[Meter], reaps| Route {
        label,
        url,
        front_end: front_end.to_vec(),
        responder: responder.to_vec(),
        reaps,
        measured: (0..concurrency_levels)
            .map(|_| Measured::default())
            .collect(),
    };
    let own = |daemon: &Daemon| [Meter::Own(daemon.pid())];
    vec![
        route(
            "nginx return 200 (ceiling)",
            url(servers.nginx.ports[0], CEILING),
            &nginx,
            &[],
            None,
        ),
        route(
            "nginx → FastCGI",
            url(servers.nginx.ports[0], MOUNT),
            &nginx,
            &own(&servers.fastcgi),
            None,
        ),
        route(
            "nginx → FastCGI, kept",
            url(servers.nginx.ports[1], MOUNT),
            &nginx,
            &own(&servers.fastcgi_kept),
            None,
        ),
        route(
            "lighttpd → CGI",
            url(servers.lighttpd.ports[0], MOUNT),
            &[Meter::Own(lighttpd)],
            &[Meter::Reaped(lighttpd)],
            Some(lighttpd),
        ),
        route(
            BINARY,
            http_url(&servers.http_addr),
            &[],
            &own(&servers.http),
            None,
        ),
        route(
            OBSERVER_OFF,
            http_url(&servers.observer_off_addr),
            &[],
            &own(&servers.observer_off),
            None,
        ),
        route(
            OBSERVER_ON,
            http_url(&servers.observer_on_addr),
            &[],
            &own(&servers.observer_on),
            None,
        ),
        route(
            TRACE,
            http_url(&servers.trace_addr),
            &[],
            &own(&servers.trace),
            None,
        ),
    ]
}

// ---------------------------------------------------------------------------------------------
// The load generator: ab, and what one run of it says.
// ---------------------------------------------------------------------------------------------

/// What one `ab` run reported.
struct AbReport {
    /// Requests answered with a 2xx.
    answered: u64,
    /// Requests that failed (connect, receive or other errors) or got another status.
    failed: u64,
    /// ab's own line about the first kind of failure it saw, if any.
    problem: Option<String>,
    seconds: f64,
    /// Body bytes received, over all requests ("HTML transferred").
    body_bytes: u64,
    /// Latency in milliseconds at each whole percentile, 0 to 100 (`ab -e`).
    percentiles: Vec<f64>,
}

impl AbReport {
    fn per_second(&self) -> f64 {
        self.answered as f64 / self.seconds.max(f64::MIN_POSITIVE)
    }
}

/// `ab -q -l -r -n requests -c concurrency -e csv url`: quiet, pages of varying length
/// accepted (the demo's environ lists the client's port), receive errors counted instead of
/// fatal, and the percentiles written to `csv` in fractions of a millisecond (ab's own table
/// has whole milliseconds only).
fn run_ab(
    ab: &Path,
    url: &str,
    requests: u64,
    concurrency: usize,
    csv: &Path,
) -> Result<AbReport, String> {
    let timeout = CLIENT_TIMEOUT.as_secs().to_string();
    let output = Command::new(ab)
        .args(["-q", "-l", "-r", "-s", &timeout])
        .args(["-n", &requests.to_string(), "-c", &concurrency.to_string()])
        .arg("-e")
        .arg(csv)
        .arg(url)
        .output()
        .map_err(|e| format!("cannot run ab: {e}"))?;
    let text = String::from_utf8_lossy(&output.stdout);
    let command = format!("ab -n {requests} -c {concurrency} {url}");
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(format!("{command}: {}", stderr.trim()));
    }
    let number = |name: &str| -> Result<f64, String> {
        text.lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
            .ok_or_else(|| format!("{command}: no {name:?} in ab's report:\n{text}"))
    };
    let complete = number("Complete requests:")? as u64;
    let broken = number("Failed requests:")? as u64;
    // Printed only when there were some.
    let non_2xx = number("Non-2xx responses:").unwrap_or(0.0) as u64;
    let failed = broken + non_2xx;
    let problem = (failed > 0).then(|| {
        let details = text
            .lines()
            .skip_while(|line| !line.starts_with("Failed requests:"))
            .nth(1)
            .filter(|line| line.trim_start().starts_with('('))
            .map_or("", str::trim);
        format!("{broken} failed {details}, {non_2xx} not 2xx")
    });
    let percentiles: Vec<f64> = std::fs::read_to_string(csv)
        .map_err(|e| format!("{command}: ab wrote no {}: {e}", csv.display()))?
        .lines()
        .skip(1)
        .filter_map(|line| line.split_once(',')?.1.parse().ok())
        .collect();
    if percentiles.len() != 101 {
        return Err(format!(
            "{command}: {} is not 101 percentiles",
            csv.display()
        ));
    }
    Ok(AbReport {
        answered: complete.saturating_sub(failed),
        failed,
        problem,
        seconds: number("Time taken for tests:")?,
        body_bytes: number("HTML transferred:")? as u64,
        percentiles,
    })
}

// ---------------------------------------------------------------------------------------------
// Measuring: one turn of one route, and what the turns add up to.
// ---------------------------------------------------------------------------------------------

/// One turn of load on one route, with the CPU time read around it.
struct Turn {
    report: AbReport,
    front_end: CpuTime,
    responder: CpuTime,
    /// ab's own CPU time.
    client: CpuTime,
}

impl Turn {
    /// CPU microseconds per answered request.
    fn micros(&self, cpu: CpuTime) -> f64 {
        cpu.seconds() * 1e6 / self.report.answered.max(1) as f64
    }
}

/// Runs `requests` requests at `concurrency` on `route`, and reads every meter around it. ab is
/// our child: when it has exited and been reaped, its time is in our own `cutime`.
fn turn(
    route: &Route,
    ab: &Path,
    requests: u64,
    concurrency: usize,
    csv: &Path,
) -> Result<Turn, String> {
    let me = Meter::Reaped(std::process::id());
    let (front_end, responder, client) = (
        read_all(&route.front_end)?,
        read_all(&route.responder)?,
        me.read()?,
    );
    let report = run_ab(
        ab,
        &route.url,
        requests.max(concurrency as u64),
        concurrency,
        csv,
    )?;
    let client = me.read()?.since(client);
    if let Some(parent) = route.reaps {
        harness::wait_for("the CGI processes to be reaped", || {
            harness::descendants(parent).is_empty().then_some(())
        })?;
    }
    Ok(Turn {
        report,
        front_end: read_all(&route.front_end)?.since(front_end),
        responder: read_all(&route.responder)?.since(responder),
        client,
    })
}

/// What one route did at one concurrency, over all its turns.
#[derive(Default)]
struct Measured {
    answered: u64,
    failed: u64,
    problem: Option<String>,
    seconds: f64,
    body_bytes: u64,
    front_end: CpuTime,
    responder: CpuTime,
    client: CpuTime,
    /// Per turn: the median, 99th percentile and slowest latency (ms), and the responder's
    /// CPU µs per request.
    p50s: Vec<f64>,
    p99s: Vec<f64>,
    slowest: f64,
    responder_micros: Vec<f64>,
    /// Requests/s of the last turn or warm-up: sizes the next turn.
    rate: f64,
}

impl Measured {
    fn add(&mut self, turn: Turn) {
        let report = &turn.report;
        self.answered += report.answered;
        self.failed += report.failed;
        if self.problem.is_none() {
            self.problem.clone_from(&report.problem);
        }
        self.seconds += report.seconds;
        self.body_bytes += report.body_bytes;
        self.front_end.add(turn.front_end);
        self.responder.add(turn.responder);
        self.client.add(turn.client);
        self.p50s.push(report.percentiles[50]);
        self.p99s.push(report.percentiles[99]);
        self.slowest = self.slowest.max(report.percentiles[100]);
        self.responder_micros.push(turn.micros(turn.responder));
        self.rate = report.per_second();
    }

    fn per_second(&self) -> f64 {
        self.answered as f64 / self.seconds.max(f64::MIN_POSITIVE)
    }

    /// CPU microseconds per answered request.
    fn micros(&self, cpu: CpuTime) -> f64 {
        cpu.seconds() * 1e6 / self.answered.max(1) as f64
    }

    /// The responder's CPU µs per answered request.
    fn responder_micros(&self) -> f64 {
        self.micros(self.responder)
    }

    /// The smallest and largest of the turns' responder CPU µs per request.
    fn responder_spread(&self) -> (f64, f64) {
        let values = &self.responder_micros;
        let low = values.iter().copied().fold(f64::INFINITY, f64::min);
        let high = values.iter().copied().fold(0.0, f64::max);
        (low, high)
    }
}

/// The middle value (the mean of the two middle ones for an even count).
fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => 0.0,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

// ---------------------------------------------------------------------------------------------
// The run, and the report.
// ---------------------------------------------------------------------------------------------

fn run(settings: &Settings) -> Result<bool, String> {
    let ab = find_tools()?;
    let rgiref = release_rgiref()?;
    let load_at_start = load_average();
    eprintln!("starting nginx, lighttpd and the responders on loopback …");
    let servers = start_servers(&rgiref)?;
    let mut routes = routes(&servers, settings.concurrency.len());
    let csv = servers.dir.join("ab-percentiles.csv");

    for (level, &concurrency) in settings.concurrency.iter().enumerate() {
        eprintln!("concurrency {concurrency}: warming up …");
        for route in routes.iter_mut() {
            let warm_up = turn(route, &ab, settings.warm_up, concurrency, &csv)?;
            route.measured[level].rate = warm_up.report.per_second();
        }
        for round in 1..=settings.rounds {
            eprintln!(
                "concurrency {concurrency}: round {round} of {} …",
                settings.rounds
            );
            for route in routes.iter_mut() {
                let rate = route.measured[level].rate;
                let requests = (rate * settings.round_seconds()).ceil() as u64;
                let done = turn(route, &ab, requests.max(1), concurrency, &csv)?;
                route.measured[level].add(done);
            }
        }
    }

    print_header(settings, &load_at_start);
    for (level, &concurrency) in settings.concurrency.iter().enumerate() {
        print_table(settings, &routes, level, concurrency);
    }
    print_observer(settings, &routes);
    print_kept(&servers);
    let failed: u64 = routes
        .iter()
        .flat_map(|route| &route.measured)
        .map(|m| m.failed)
        .sum();
    print_problems(settings, &routes);
    println!("load average at the end: {}", load_average());
    Ok(failed == 0)
}

fn print_header(settings: &Settings, load_at_start: &str) {
    println!("rgiref bench_gateways: rgiref behind nginx and lighttpd, and on its own");
    println!("machine: {}", measure::machine());
    println!(
        "software: {}; {}; {}",
        version("nginx", "-v"),
        version("lighttpd", "-v"),
        version("ab", "-V")
    );
    println!("load average at the start: {load_at_start}");
    if cfg!(debug_assertions) {
        println!(
            "WARNING: a debug build: this program's own HTTP servers (the observer rows) are \
             slow; use --release"
        );
    }
    println!(
        "settings: ab, a new connection per request, concurrency {}; {} s per route and \
         concurrency in {} turn{}; no access logs",
        settings
            .concurrency
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(" and "),
        settings.seconds,
        settings.rounds,
        if settings.rounds == 1 { "" } else { "s" }
    );
    println!(
        "reproduce: cargo run --release --example bench_gateways{}\n",
        if settings.rounds == 1 && settings.seconds < 1.0 {
            " -- --quick"
        } else {
            ""
        }
    );
}

fn print_table(settings: &Settings, routes: &[Route], level: usize, concurrency: usize) {
    let ceiling = routes[0].measured[level].per_second();
    println!(
        "ab -c {concurrency}, {} s per route{:>56}",
        settings.seconds, "CPU µs per request"
    );
    println!(
        "{:<27} {:>8} {:>7} {:>8} {:>7} {:>7} {:>7} {:>6} {:>9} {:>9} {:>7} {:>6} {:>6}",
        "route",
        "requests",
        "req/s",
        "of nginx",
        "p50 ms",
        "p99 ms",
        "max ms",
        "failed",
        "front end",
        "responder",
        "sum",
        "ab",
        "page"
    );
    for route in routes {
        let m = &route.measured[level];
        let dash_if_none = |meters: &[Meter], cpu: CpuTime| {
            if meters.is_empty() {
                "—".to_owned()
            } else {
                format!("{:.1}", m.micros(cpu))
            }
        };
        let mut sum = m.front_end;
        sum.add(m.responder);
        println!(
            "{:<27} {:>8} {:>7.0} {:>7.0}% {:>7.3} {:>7.3} {:>7.1} {:>6} {:>9} {:>9} {:>7.1} {:>6.1} {:>6}",
            route.label,
            m.answered + m.failed,
            m.per_second(),
            100.0 * m.per_second() / ceiling,
            median(&m.p50s),
            median(&m.p99s),
            m.slowest,
            m.failed,
            dash_if_none(&route.front_end, m.front_end),
            dash_if_none(&route.responder, m.responder),
            m.micros(sum),
            m.micros(m.client),
            m.body_bytes / m.answered.max(1),
        );
    }
    println!();
}

/// The observer rows side by side: each one's CPU per request, its turns' range, and how far
/// it is from "observer off" (the binary's row is the same code, so its gap is the noise).
fn print_observer(settings: &Settings, routes: &[Route]) {
    let find = |label: &str| routes.iter().find(|r| r.label == label);
    let compared: Vec<&Route> = [OBSERVER_OFF, BINARY, OBSERVER_ON, TRACE]
        .iter()
        .filter_map(|label| find(label))
        .collect();
    if compared.len() < 4 {
        return;
    }
    println!(
        "The observer (Config::observer): HTTP server CPU µs per request (turns' range), ± off"
    );
    let mut line = format!("{:<5}", "");
    for route in &compared {
        line += &format!(" {:<28}", route.label.trim_start_matches("HTTP, "));
    }
    println!("{}", line.trim_end());
    for (level, concurrency) in settings.concurrency.iter().enumerate() {
        let off = compared[0].measured[level].responder_micros();
        let mut line = format!("{:<5}", format!("c{concurrency}"));
        for route in &compared {
            let m = &route.measured[level];
            let (low, high) = m.responder_spread();
            let us = m.responder_micros();
            line += &format!(
                " {:<28}",
                format!("{us:.1} ({low:.1}–{high:.1}) {:+.1}", us - off)
            );
        }
        println!("{}", line.trim_end());
    }
    println!();
}

/// What the kept connections did: nginx's retries and rgiref's idle closes, from their logs.
fn print_kept(servers: &Servers) {
    let retried = servers
        .nginx
        .error_log_text()
        .matches("upstream prematurely closed")
        .count();
    let closed_idle = servers
        .fastcgi_kept
        .stderr_text()
        .matches("closed a kept connection after")
        .count();
    println!(
        "Kept connections: {retried} requests met a connection rgiref had just given up and were \
         sent again (nginx's error log: \"upstream prematurely closed\"); rgiref gives one up \
         when another is waiting, and closed {closed_idle} idle at its deadline \
         (fastcgi::Timeouts::keep_conn_idle)"
    );
}

/// Failures, and the notes on how the figures were taken.
fn print_problems(settings: &Settings, routes: &[Route]) {
    for route in routes {
        for (level, m) in route.measured.iter().enumerate() {
            if let Some(problem) = &m.problem {
                println!(
                    "  {} at c{}: {problem}",
                    route.label, settings.concurrency[level]
                );
            }
        }
    }
    println!(
        "  req/s and CPU count answered requests; \"of nginx\": req/s as a share of nginx \
         answering the page itself, the ceiling for a route through nginx (rgiref's HTTP \
         server takes none)\n  \
         p50 and p99 are the median over the turns, max the slowest request of all\n  \
         CPU from /proc/<pid>/stat in ticks of 1/{TICKS_PER_SECOND} s: front end = the nginx \
         master and worker, or lighttpd; responder = the rgiref process, or for CGI the \
         processes lighttpd reaped (cutime+cstime); ab = the load generator, on the same cores\n  \
         page = body bytes per response (the demo lists its environ, which differs per route)"
    );
}
