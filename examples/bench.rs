//! # The rgiref benchmark: how fast is it, and what does it cost?
//!
//! rgiref serves one connection at a time, on one thread. This program asks whether it does that
//! *well*: how close it comes to the fastest possible server of the same shape, whether big
//! bodies stream through it in constant memory, and whether a crowd of clients arriving at once
//! makes anyone wait for seconds. Everything is measured in one run, on this machine, so the
//! numbers compare with each other — not with numbers taken on another machine.
//!
//! ## What is measured, and why each number matters
//!
//! * **Hello-world throughput and latency** (requests/s; p50, p99 and max latency), over
//!   HTTP/1.0 with a new connection for every request, the way rgiref is used. Measured for
//!   rgiref and for a *bare loop* written below (accept → read the request head → write a fixed
//!   response → close): the least any one-thread server has to do, so its speed is the ceiling.
//!   The ratio rgiref / bare says how much of that ceiling rgiref reaches; the rest is what
//!   parsing, the environ, the engine, the timeouts and the logging cost.
//! * **Server CPU time per request**, read from `/proc/<pid>/stat`. Requests/s can be limited by
//!   the clients or by the machine; CPU per request is the server's own cost whoever the
//!   bottleneck is, and it is the number to watch when making the server faster.
//! * **Access logging off, then on.** One log line per request is part of a development server's
//!   job; the difference between the two rows is its price.
//! * **Streaming 1 GiB up and 1 GiB down** through rgiref: MB/s (10⁶ bytes per second), and the
//!   server's peak memory (`VmHWM` in `/proc/<pid>/status`) before and after. A server that
//!   streams keeps its memory flat however big the body; one that buffers grows by the body.
//!   The download is a `Body::file` of a sparse temporary file, read once beforehand so that it
//!   comes from the page cache: the figure is the server's, not the disk's.
//! * **A burst of 16 clients connecting at once.** One thread means they queue, which costs
//!   milliseconds. But if the kernel's queue of waiting connections overflows, TCP retries a
//!   dropped connection attempt only after a whole second: a *stall*, which this program
//!   defines as any request taking 1 s or more.
//! * **Python's `wsgiref.simple_server`**, if `python3` is installed: the server rgiref is the
//!   counterpart of, under the same load, for scale.
//!
//! ## How it works
//!
//! Each server runs in a child process of its own (this program, started again with
//! `--serve KIND`), so that its CPU time and memory can be read from `/proc` separately from
//! the load generator's. The parent is the load generator: a few client threads, each repeating
//! connect → send `GET / HTTP/1.0` → read to end of file → close, and timing every request.
//! The hello-world servers take turns in short rounds, so that a change in the machine's
//! background load hits all of them alike instead of whichever happened to run at that moment.
//! CPU time is read from `/proc` by `examples/measure/mod.rs`, which
//! `examples/bench_gateways.rs` (rgiref behind nginx and lighttpd) includes too, so that the
//! two report it the same way.
//!
//! ## Running it
//!
//! ```text
//!   cargo run --release --example bench                  # the full run, under a minute
//!   cargo run --release --example bench -- --quick       # a smoke run: 0.5 s each, 64 MiB transfers
//!   cargo run --release --example bench -- --seconds 10 --clients 8
//! ```
//!
//! Always use `--release`: a debug build measures the compiler's debug mode, not the server.
//! Linux only, because it reads `/proc`. The program exits with status 1 if a target fails.
//!
//! ## Reading the results
//!
//! * Each target is printed with PASS or FAIL. The throughput target compares rgiref with
//!   access logging off against the bare loop.
//! * `busy` is the server's CPU time divided by the wall-clock time it was under load. A server
//!   near 100% was the bottleneck. One well under 100% was waiting for the clients, or for a CPU
//!   it shares with them: on a machine with few cores the clients' own work (connecting and
//!   closing cost them more than the bare loop's whole request) sets the pace, and every server
//!   is pulled towards the same requests/s. Then the throughput ratio flatters rgiref, and the
//!   ratio of CPU µs/request is the better guide: the report prints it as "N% of its req/s where
//!   the server is the bottleneck", which is what the throughput ratio tends to on a machine
//!   with cores to spare, and adds a note under the target when the bare loop was under 90% busy.
//! * CPU time is split into user (the server's own code) and sys (the kernel working for it:
//!   system calls, TCP). A high sys share means system calls are the thing to cut.
//! * The numbers move by several percent between runs, and by much more when other programs are
//!   busy. Run it twice before believing a small difference.

use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, ExitCode, Stdio};
use std::sync::Barrier;
use std::thread;
use std::time::{Duration, Instant};

use rgiref::gateway::{AppError, Application, Body, Environ, StartResponse};
use rgiref::server::{Config, Server};

#[path = "measure/mod.rs"]
mod measure;
use measure::{load_average, ticks_to_seconds, CpuTime, TICKS_PER_SECOND};

/// The body every hello-world server answers with.
const HELLO: &[u8] = b"Hello world!\n";
/// The request every hello-world client sends.
const HELLO_REQUEST: &[u8] = b"GET / HTTP/1.0\r\n\r\n";

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const GIB: u64 = 1024 * MIB;

/// A request this slow is a stall. TCP waits 1 s before it resends a connection attempt the
/// server's kernel dropped, so a dropped connect shows up as exactly this; a healthy request on
/// the loopback interface takes well under a millisecond of work.
const STALL: Duration = Duration::from_secs(1);
/// How many clients connect at once in a burst.
const BURST_CLIENTS: usize = 16;
/// The longest a client waits for anything, so that a hung server fails a request instead of
/// hanging the benchmark.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(30);
/// The size of the small transfer that warms up a streaming server before its memory is read.
const WARM_UP_BYTES: u64 = MIB;
/// How much the streaming servers' peak memory may grow (the target).
const MAX_MEMORY_GROWTH_KIB: u64 = 2 * 1024;
/// The share of the bare loop's throughput rgiref must reach (the target).
const MIN_THROUGHPUT_RATIO: f64 = 0.80;

/// Python's development server with the same hello-world application, bound to a free port.
/// Its request handler's `log_message` is overridden to keep it quiet, like rgiref's
/// logging-off run. Like our own servers, it exits when its standard input closes, so it cannot
/// outlive the benchmark.
const PYTHON_SERVER: &str = r#"
import os, sys, threading
from wsgiref.simple_server import WSGIRequestHandler, make_server

class QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):
        pass

def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"Hello world!\n"]

def exit_when_stdin_closes():
    sys.stdin.read()
    os._exit(0)

threading.Thread(target=exit_when_stdin_closes, daemon=True).start()
server = make_server("127.0.0.1", 0, hello, handler_class=QuietHandler)
print(server.server_port, flush=True)
server.serve_forever()
"#;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--serve") {
        return serve(&args[1..]);
    }
    if args.iter().any(|arg| arg == "--help" || arg == "-h") {
        println!("{USAGE}");
        return ExitCode::SUCCESS;
    }
    let settings = match Settings::from_args(&args) {
        Ok(settings) => settings,
        Err(message) => {
            eprintln!("{message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&settings) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(error) => {
            eprintln!("bench: {error}");
            ExitCode::from(2)
        }
    }
}

const USAGE: &str =
    "usage: cargo run --release --example bench -- [--quick] [--seconds S] [--clients N]
  --quick        a short smoke run (0.5 s per server, 64 MiB transfers)
  --seconds S    hello-world load per server, in seconds (default 3)
  --clients N    client threads for the hello-world load (default 4)";

/// What to run, from the command line.
struct Settings {
    /// Hello-world load per server, in total over all rounds.
    seconds: f64,
    /// Client threads for the hello-world load.
    clients: usize,
    /// How many turns each hello-world server gets; the load time is split between them.
    rounds: u32,
    /// How many bursts of simultaneous connects each server gets.
    bursts: u32,
    /// The size of each streaming transfer.
    stream_bytes: u64,
}

impl Settings {
    fn from_args(args: &[String]) -> Result<Settings, String> {
        let mut settings = Settings {
            seconds: 3.0,
            clients: 4,
            rounds: 6,
            bursts: 3,
            stream_bytes: GIB,
        };
        let mut args = args.iter();
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--quick" => {
                    settings.seconds = 0.5;
                    settings.rounds = 1;
                    settings.bursts = 1;
                    settings.stream_bytes = 64 * MIB;
                }
                "--seconds" => settings.seconds = parse_value(arg, args.next())?,
                "--clients" => settings.clients = parse_value(arg, args.next())?,
                _ => return Err(format!("unknown argument {arg:?}")),
            }
        }
        if settings.seconds <= 0.0 || settings.clients == 0 {
            return Err("--seconds and --clients must be more than zero".to_owned());
        }
        Ok(settings)
    }

    /// How long one round of hello-world load lasts.
    fn round_time(&self) -> Duration {
        Duration::from_secs_f64(self.seconds / f64::from(self.rounds))
    }
}

fn parse_value<T: std::str::FromStr>(name: &str, value: Option<&String>) -> Result<T, String> {
    let value = value.ok_or_else(|| format!("{name} needs a value"))?;
    value
        .parse()
        .map_err(|_| format!("{name}: {value:?} is not a valid value"))
}

// ---------------------------------------------------------------------------------------------
// The servers under test. Each runs in a child process: `bench --serve KIND`.
// ---------------------------------------------------------------------------------------------

/// The child's side: start the server named in `args`, print its port, serve until killed.
fn serve(args: &[String]) -> ExitCode {
    exit_when_stdin_closes();
    let kind: Vec<&str> = args.iter().map(String::as_str).collect();
    let served = match kind[..] {
        ["bare"] => serve_bare(),
        ["rgiref"] => serve_rgiref(hello, false),
        ["rgiref-logged"] => serve_rgiref(hello, true),
        ["upload"] => serve_rgiref(count_upload, false),
        ["download", path] => serve_rgiref(SendFile { path: path.into() }, false),
        _ => Err(io::Error::other(format!("unknown server {args:?}"))),
    };
    if let Err(error) = served {
        eprintln!("bench --serve: {error}");
    }
    ExitCode::FAILURE
}

/// The parent holds our standard input open; when it closes (the benchmark ended, or was
/// killed), we exit. That way no server is left running if the benchmark is interrupted.
fn exit_when_stdin_closes() {
    thread::spawn(|| {
        let _ = io::copy(&mut io::stdin(), &mut io::sink());
        std::process::exit(0);
    });
}

/// Tells the parent which port we got: the first line on standard output.
fn announce(address: SocketAddr) -> io::Result<()> {
    let mut stdout = io::stdout();
    writeln!(stdout, "{}", address.port())?;
    stdout.flush()
}

/// rgiref's development server with `app`, on a free port. Error lines always go to standard
/// error (the parent sends that to a file); the access log only if `access_log` is set.
fn serve_rgiref(app: impl Application, access_log: bool) -> io::Result<()> {
    let config = Config {
        access_log,
        ..Config::default()
    };
    let server = Server::bind_with("127.0.0.1:0", app, config)?;
    announce(server.local_addr())?;
    server.serve_forever();
    Ok(())
}

/// The hello-world application.
fn hello(_environ: &mut Environ, start_response: &mut StartResponse) -> Result<Body, AppError> {
    start_response.start("200 OK", [("Content-Type", "text/plain")])?;
    Ok(Body::from(HELLO))
}

/// The upload application: reads the request body in blocks, as an application storing an
/// upload would, keeps only the count, and answers with it.
fn count_upload(
    environ: &mut Environ,
    start_response: &mut StartResponse,
) -> Result<Body, AppError> {
    let mut block = vec![0; 64 * KIB as usize];
    let mut received: u64 = 0;
    loop {
        match environ.input.read(&mut block) {
            Ok(0) => break,
            Ok(n) => received += n as u64,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error.into()),
        }
    }
    start_response.start("200 OK", [("Content-Type", "text/plain")])?;
    Ok(Body::from(format!("{received}\n")))
}

/// The download application: answers with a file, as `Body::file` (WSGI's `file_wrapper`).
struct SendFile {
    path: PathBuf,
}

impl Application for SendFile {
    fn call(
        &self,
        environ: &mut Environ,
        start_response: &mut StartResponse<'_>,
    ) -> Result<Body, AppError> {
        let mut file = File::open(&self.path)?;
        if environ.path_info() == "/warm-up" {
            // The warm-up takes the same path through the server, with only the file's tail.
            file.seek(SeekFrom::End(-(WARM_UP_BYTES as i64)))?;
        }
        start_response.start("200 OK", [("Content-Type", "application/octet-stream")])?;
        Ok(Body::file(file)?)
    }
}

/// The ceiling: the least a one-thread HTTP/1.0 server can do for each connection — accept,
/// read the request head, write a fixed response, close. No parsing, no timeouts, no log.
fn serve_bare() -> io::Result<()> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    announce(listener.local_addr()?)?;
    let mut response = format!(
        "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n",
        HELLO.len()
    )
    .into_bytes();
    response.extend_from_slice(HELLO);
    loop {
        let (mut stream, _) = listener.accept()?;
        if read_head(&mut stream).is_ok() {
            let _ = stream.write_all(&response);
        }
        // Dropping the stream closes the connection: the client's read ends.
    }
}

/// Reads until the blank line that ends a request head (or until the client stops sending).
fn read_head(stream: &mut TcpStream) -> io::Result<()> {
    let mut head = Vec::new();
    let mut buffer = [0; 1024];
    while !head.windows(4).any(|window| window == b"\r\n\r\n") {
        let n = stream.read(&mut buffer)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&buffer[..n]);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// The parent's side: starting servers, and reading their CPU time and memory from /proc.
// ---------------------------------------------------------------------------------------------

/// A server under test, running in a child process. Dropping it stops the child.
struct ServerProcess {
    child: Child,
    /// Held open so the child lives; closing it tells the child to exit (see
    /// `exit_when_stdin_closes`).
    _stdin: ChildStdin,
    address: SocketAddr,
    /// The child's standard error: its error lines, and its access log when that is on.
    log_path: PathBuf,
}

impl ServerProcess {
    /// Starts `command`, which must print its port on the first line of standard output.
    fn start(name: &str, mut command: Command) -> io::Result<ServerProcess> {
        let log_path =
            std::env::temp_dir().join(format!("rgiref-bench-{}-{name}.log", std::process::id()));
        command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(File::create(&log_path)?);
        let mut child = command.spawn()?;
        let stdin = child.stdin.take().expect("stdin is piped");
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut server = ServerProcess {
            child,
            _stdin: stdin,
            address: SocketAddr::from(([127, 0, 0, 1], 0)),
            log_path,
        };
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let port: u16 = line.trim().parse().map_err(|_| {
            let said = server.unexpected_log_lines().join(" / ");
            io::Error::other(format!("{name} did not start: {said}"))
        })?;
        server.address.set_port(port);
        Ok(server)
    }

    /// The `bench --serve KIND` command for one of our own servers.
    fn ours(kind: &[&str]) -> io::Result<ServerProcess> {
        let mut command = Command::new(std::env::current_exe()?);
        command.arg("--serve").args(kind);
        ServerProcess::start(kind[0], command)
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The CPU time the server has used so far.
    fn cpu(&self) -> io::Result<CpuTime> {
        Ok(measure::times(self.pid())?.own)
    }

    /// The server's memory now, from `/proc/<pid>/status`.
    fn memory(&self) -> io::Result<Memory> {
        let status = fs::read_to_string(format!("/proc/{}/status", self.pid()))?;
        // Lines look like "VmHWM:\t    2048 kB".
        let kib = |name: &str| -> io::Result<u64> {
            status
                .lines()
                .find_map(|line| line.strip_prefix(name))
                .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
                .ok_or_else(|| io::Error::other(format!("no {name} in /proc/<pid>/status")))
        };
        Ok(Memory {
            peak_kib: kib("VmHWM:")?,
            resident_kib: kib("VmRSS:")?,
        })
    }

    /// What the server wrote to standard error, except access-log lines for our own hello
    /// requests: anything here is an error the server reported.
    fn unexpected_log_lines(&self) -> Vec<String> {
        let log = fs::read_to_string(&self.log_path).unwrap_or_default();
        log.lines()
            .filter(|line| !line.contains("\"GET / HTTP/1.0\" 200"))
            .map(str::to_owned)
            .collect()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        // By its id: this is the one process we started.
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = fs::remove_file(&self.log_path);
    }
}

/// A process's memory, in KiB (what `/proc` calls kB).
#[derive(Debug, Clone, Copy)]
struct Memory {
    /// `VmHWM`, the "high water mark": the most memory it has ever had resident.
    peak_kib: u64,
    /// `VmRSS`: what it has resident now.
    resident_kib: u64,
}

// ---------------------------------------------------------------------------------------------
// The load generator: hello-world requests, and what came of them.
// ---------------------------------------------------------------------------------------------

/// The results of some requests to one server.
#[derive(Default)]
struct Tally {
    /// How long each successful request took, from connect to the end of the response.
    latencies: Vec<Duration>,
    failures: u64,
    first_failure: Option<String>,
    /// Wall-clock time the server was under load.
    elapsed: Duration,
    /// The server's CPU time meanwhile.
    cpu: CpuTime,
}

impl Tally {
    fn record(&mut self, latency: Duration, result: io::Result<()>) {
        match result {
            Ok(()) => self.latencies.push(latency),
            Err(error) => {
                self.failures += 1;
                self.first_failure.get_or_insert_with(|| error.to_string());
            }
        }
    }

    fn merge(&mut self, other: Tally) {
        self.latencies.extend(other.latencies);
        self.failures += other.failures;
        if self.first_failure.is_none() {
            self.first_failure = other.first_failure;
        }
        self.elapsed += other.elapsed;
        self.cpu.add(other.cpu);
    }

    fn requests(&self) -> u64 {
        self.latencies.len() as u64 + self.failures
    }

    fn per_second(&self) -> f64 {
        self.latencies.len() as f64 / self.elapsed.as_secs_f64()
    }

    /// The server's CPU time as a share of the wall-clock time it was under load: near 1.0, the
    /// server was the bottleneck; well under, it was waiting for the clients.
    fn busy(&self) -> f64 {
        self.cpu.seconds() / self.elapsed.as_secs_f64()
    }

    /// Server CPU time per successful request, user and system together, in microseconds.
    fn cpu_micros(&self) -> f64 {
        self.cpu_micros_per_request(self.cpu.ticks())
    }

    fn stalls(&self) -> usize {
        self.latencies
            .iter()
            .filter(|&&latency| latency >= STALL)
            .count()
    }

    fn max(&self) -> Duration {
        self.latencies.iter().copied().max().unwrap_or_default()
    }

    /// The latency that `percent` % of requests were at or under.
    fn percentile(&self, percent: f64) -> Duration {
        let mut sorted = self.latencies.clone();
        sorted.sort_unstable();
        if sorted.is_empty() {
            return Duration::ZERO;
        }
        let rank = (percent / 100.0 * sorted.len() as f64).ceil() as usize;
        sorted[rank.clamp(1, sorted.len()) - 1]
    }

    /// Server CPU time per successful request, in microseconds.
    fn cpu_micros_per_request(&self, ticks: u64) -> f64 {
        ticks_to_seconds(ticks) * 1e6 / self.latencies.len().max(1) as f64
    }
}

/// One hello-world request: connect, send, read to the end, close. Fails unless the answer is
/// a 200 with the hello-world body.
fn hello_request(address: SocketAddr, response: &mut Vec<u8>) -> io::Result<()> {
    let mut stream = connect(address)?;
    stream.write_all(HELLO_REQUEST)?;
    response.clear();
    stream.read_to_end(response)?;
    let ok = response.starts_with(b"HTTP/1.0 200 ") && response.ends_with(HELLO);
    if !ok {
        let text = String::from_utf8_lossy(response);
        return Err(io::Error::other(format!("unexpected response: {text:?}")));
    }
    Ok(())
}

/// Connects, with a read timeout so that a hung server fails the request instead of hanging the
/// benchmark. A plain blocking `connect`, not `connect_timeout`: the kernel's own connection
/// retries bound it, and it takes two system calls where `connect_timeout` takes six. The
/// clients share the machine with the server, so every call they save leaves the server more CPU.
fn connect(address: SocketAddr) -> io::Result<TcpStream> {
    let stream = TcpStream::connect(address)?;
    stream.set_read_timeout(Some(CLIENT_TIMEOUT))?;
    Ok(stream)
}

/// `clients` threads send hello-world requests for `duration`, one after another each.
fn hello_load(address: SocketAddr, clients: usize, duration: Duration) -> Tally {
    let started = Instant::now();
    let deadline = started + duration;
    let mut total = Tally::default();
    thread::scope(|scope| {
        let threads: Vec<_> = (0..clients)
            .map(|_| scope.spawn(move || client_loop(address, deadline)))
            .collect();
        for thread in threads {
            total.merge(thread.join().expect("a client thread panicked"));
        }
    });
    total.elapsed = started.elapsed();
    total
}

fn client_loop(address: SocketAddr, deadline: Instant) -> Tally {
    let mut tally = Tally::default();
    let mut response = Vec::with_capacity(1024);
    while Instant::now() < deadline {
        let started = Instant::now();
        let result = hello_request(address, &mut response);
        tally.record(started.elapsed(), result);
    }
    tally
}

/// `clients` threads wait at a barrier, then all connect at the same moment, one request each.
fn burst(address: SocketAddr, clients: usize) -> Tally {
    let barrier = Barrier::new(clients);
    let mut total = Tally::default();
    thread::scope(|scope| {
        let threads: Vec<_> = (0..clients)
            .map(|_| {
                scope.spawn(|| {
                    let mut tally = Tally::default();
                    let mut response = Vec::new();
                    barrier.wait();
                    let started = Instant::now();
                    let result = hello_request(address, &mut response);
                    tally.record(started.elapsed(), result);
                    tally
                })
            })
            .collect();
        for thread in threads {
            total.merge(thread.join().expect("a client thread panicked"));
        }
    });
    total
}

// ---------------------------------------------------------------------------------------------
// The streaming clients: 1 GiB up, 1 GiB down, one connection each.
// ---------------------------------------------------------------------------------------------

/// Sends `bytes` bytes as a PUT body, made on the fly from one reused block (the client must not
/// hold the whole body either), and checks that the server counted them all. Returns the time
/// from connecting to the end of the response.
fn upload(address: SocketAddr, bytes: u64) -> io::Result<Duration> {
    let started = Instant::now();
    let mut stream = connect(address)?;
    stream.set_write_timeout(Some(CLIENT_TIMEOUT))?;
    let head = format!("PUT /upload HTTP/1.0\r\nContent-Length: {bytes}\r\n\r\n");
    stream.write_all(head.as_bytes())?;
    let block = vec![b'x'; 256 * KIB as usize];
    let mut left = bytes;
    while left > 0 {
        let n = left.min(block.len() as u64) as usize;
        stream.write_all(&block[..n])?;
        left -= n as u64;
    }
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let elapsed = started.elapsed();
    let counted = response
        .split_once("\r\n\r\n")
        .and_then(|(_, body)| body.trim().parse::<u64>().ok());
    if !response.starts_with("HTTP/1.0 200 ") || counted != Some(bytes) {
        return Err(io::Error::other(format!(
            "the upload was not counted right: {response:?}"
        )));
    }
    Ok(elapsed)
}

/// GETs `path`, reads the body in blocks and counts it; fails unless it is `bytes` long.
fn download(address: SocketAddr, path: &str, bytes: u64) -> io::Result<Duration> {
    let started = Instant::now();
    let mut stream = connect(address)?;
    stream.write_all(format!("GET {path} HTTP/1.0\r\n\r\n").as_bytes())?;
    let mut reader = BufReader::with_capacity(256 * KIB as usize, stream);
    let mut status = String::new();
    reader.read_line(&mut status)?;
    loop {
        let mut header = String::new();
        reader.read_line(&mut header)?;
        if header == "\r\n" || header.is_empty() {
            break;
        }
    }
    let received = io::copy(&mut reader, &mut io::sink())?;
    let elapsed = started.elapsed();
    if !status.starts_with("HTTP/1.0 200 ") || received != bytes {
        return Err(io::Error::other(format!(
            "{status:?} with {received} bytes, not {bytes}"
        )));
    }
    Ok(elapsed)
}

/// A file in the temporary directory, deleted when dropped.
struct TempFile {
    path: PathBuf,
}

impl TempFile {
    /// A sparse file of `bytes` bytes: `set_len` only records the size, no data is written, and
    /// reading it gives zeros without touching the disk — so the download measures the server,
    /// not the disk, and the benchmark needs no free gigabyte.
    fn sparse(bytes: u64) -> io::Result<TempFile> {
        let name = format!("rgiref-bench-{}.bin", std::process::id());
        let file = TempFile {
            path: std::env::temp_dir().join(name),
        };
        File::create(&file.path)?.set_len(bytes)?;
        Ok(file)
    }
}

impl TempFile {
    /// Reads the whole file once. The first read of a file makes the kernel fill its page cache
    /// (here with zeros), which costs more than serving the bytes does; reading it beforehand
    /// keeps that cost out of the timed download, so the download measures the server.
    fn read_through(&self) -> io::Result<()> {
        let mut file = File::open(&self.path)?;
        let mut block = vec![0; MIB as usize];
        while file.read(&mut block)? > 0 {}
        Ok(())
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = fs::remove_file(&self.path);
    }
}

/// How one streaming transfer went.
struct Transfer {
    direction: &'static str,
    bytes: u64,
    /// The time taken, or why it failed.
    result: Result<Duration, String>,
    cpu: CpuTime,
    before: Memory,
    after: Memory,
    /// Error lines the server logged, if any.
    logged: Vec<String>,
}

impl Transfer {
    fn peak_growth_kib(&self) -> u64 {
        self.after.peak_kib.saturating_sub(self.before.peak_kib)
    }
}

/// Runs one transfer of `bytes` against a fresh server, with the server's memory and CPU time
/// read around it. A small warm-up transfer goes first, so that the memory "before" already
/// holds whatever the server sets up once and only growth with the body's size is left.
fn measure_transfer(
    direction: &'static str,
    server: &ServerProcess,
    bytes: u64,
    warm_up: impl Fn() -> io::Result<Duration>,
    transfer: impl Fn() -> io::Result<Duration>,
) -> io::Result<Transfer> {
    warm_up()?;
    let before = server.memory()?;
    let cpu_before = server.cpu()?;
    let result = transfer().map_err(|error| error.to_string());
    let cpu = server.cpu()?.since(cpu_before);
    let after = server.memory()?;
    Ok(Transfer {
        direction,
        bytes,
        result,
        cpu,
        before,
        after,
        logged: server.unexpected_log_lines(),
    })
}

// ---------------------------------------------------------------------------------------------
// The run, and the report.
// ---------------------------------------------------------------------------------------------

/// A hello-world server and what it did.
struct Contender {
    label: &'static str,
    process: ServerProcess,
    load: Tally,
    bursts: Tally,
    peak_kib: u64,
}

fn run(settings: &Settings) -> io::Result<bool> {
    print_machine(settings);
    let mut contenders = start_hello_servers()?;
    eprintln!("warming up …");
    for server in &contenders {
        let mut response = Vec::new();
        for _ in 0..100 {
            hello_request(server.process.address, &mut response)?;
        }
    }
    run_hello_rounds(settings, &mut contenders)?;
    run_bursts(settings, &mut contenders)?;
    let complaints = server_complaints(&contenders);
    let transfers = run_transfers(settings.stream_bytes)?;

    print_hello_table(settings, &contenders);
    print_burst_table(&contenders);
    print_transfer_table(&transfers);
    for complaint in &complaints {
        println!("{complaint}");
    }
    let passed = print_targets(&contenders, &transfers);
    println!("\nload average at the end: {}", load_average());
    Ok(passed)
}

/// The bare loop first: the other rows are compared with it.
fn start_hello_servers() -> io::Result<Vec<Contender>> {
    let mut contenders = vec![
        contender("bare std loop", ServerProcess::ours(&["bare"])?),
        contender("rgiref", ServerProcess::ours(&["rgiref"])?),
        contender(
            "rgiref, access log",
            ServerProcess::ours(&["rgiref-logged"])?,
        ),
    ];
    let mut python = Command::new("python3");
    python.args(["-c", PYTHON_SERVER]);
    match ServerProcess::start("python", python) {
        Ok(process) => contenders.push(contender("python wsgiref", process)),
        Err(error) => println!("note: python3's wsgiref is not measured ({error})\n"),
    }
    Ok(contenders)
}

/// The hello-world load, the servers taking turns round by round. The server's CPU time is read
/// around each turn, so that only the time it spent on our requests is counted.
fn run_hello_rounds(settings: &Settings, contenders: &mut [Contender]) -> io::Result<()> {
    for round in 1..=settings.rounds {
        eprintln!("hello world, round {round} of {} …", settings.rounds);
        for server in contenders.iter_mut() {
            let process = &server.process;
            let before = process.cpu()?;
            let mut tally = hello_load(process.address, settings.clients, settings.round_time());
            tally.cpu = process.cpu()?.since(before);
            server.load.merge(tally);
        }
    }
    Ok(())
}

/// The bursts of simultaneous connects; then each server's peak memory, for the table.
fn run_bursts(settings: &Settings, contenders: &mut [Contender]) -> io::Result<()> {
    eprintln!("bursts of {BURST_CLIENTS} simultaneous connects …");
    for server in contenders.iter_mut() {
        let process = &server.process;
        for _ in 0..settings.bursts {
            server.bursts.merge(burst(process.address, BURST_CLIENTS));
        }
        server.peak_kib = process.memory()?.peak_kib;
    }
    Ok(())
}

fn contender(label: &'static str, process: ServerProcess) -> Contender {
    Contender {
        label,
        process,
        load: Tally::default(),
        bursts: Tally::default(),
        peak_kib: 0,
    }
}

/// Error lines the hello-world servers logged (a few of each), to print with the results.
fn server_complaints(contenders: &[Contender]) -> Vec<String> {
    let mut complaints = Vec::new();
    for server in contenders {
        let lines = server.process.unexpected_log_lines();
        for line in lines.iter().take(3) {
            complaints.push(format!("{} logged: {line}", server.label));
        }
        if lines.len() > 3 {
            complaints.push(format!(
                "{} logged {} more lines",
                server.label,
                lines.len() - 3
            ));
        }
    }
    complaints
}

/// The upload and the download, each against a fresh rgiref server.
fn run_transfers(bytes: u64) -> io::Result<Vec<Transfer>> {
    let size = format_bytes(bytes);
    eprintln!("uploading {size} …");
    let server = ServerProcess::ours(&["upload"])?;
    let up = measure_transfer(
        "upload (PUT body)",
        &server,
        bytes,
        || upload(server.address, WARM_UP_BYTES),
        || upload(server.address, bytes),
    )?;
    drop(server);

    eprintln!("downloading {size} …");
    let file = TempFile::sparse(bytes)?;
    file.read_through()?;
    let path = file.path.to_string_lossy().into_owned();
    let server = ServerProcess::ours(&["download", &path])?;
    let down = measure_transfer(
        "download (Body::file)",
        &server,
        bytes,
        || download(server.address, "/warm-up", WARM_UP_BYTES),
        || download(server.address, "/", bytes),
    )?;
    Ok(vec![up, down])
}

fn print_machine(settings: &Settings) {
    println!("rgiref bench: the development server against the ceiling for its architecture");
    println!("machine: {}", measure::machine());
    println!("load average at the start: {}", load_average());
    if cfg!(debug_assertions) {
        println!("WARNING: this is a debug build; run with --release for real numbers");
    }
    println!(
        "settings: {} client threads, {} s of load per server (in turns of {:.2} s), {} transfers\n",
        settings.clients,
        settings.seconds,
        settings.round_time().as_secs_f64(),
        format_bytes(settings.stream_bytes)
    );
}

fn print_hello_table(settings: &Settings, contenders: &[Contender]) {
    println!(
        "Hello world, a new connection per request ({} clients, {} s per server)",
        settings.clients, settings.seconds
    );
    println!(
        "{:<20} {:>8} {:>8} {:>8} {:>8} {:>8} {:>6} {:>6} {:>20} {:>5} {:>9}",
        "server",
        "requests",
        "req/s",
        "p50 ms",
        "p99 ms",
        "max ms",
        "stalls",
        "failed",
        "CPU µs/req (usr+sys)",
        "busy",
        "peak RSS"
    );
    for server in contenders {
        let load = &server.load;
        let cpu = load.cpu;
        println!(
            "{:<20} {:>8} {:>8.0} {:>8.3} {:>8.3} {:>8.1} {:>6} {:>6} {:>6.1} ({:>5.1}+{:>5.1}) {:>4.0}% {:>9}",
            server.label,
            load.requests(),
            load.per_second(),
            millis(load.percentile(50.0)),
            millis(load.percentile(99.0)),
            millis(load.max()),
            load.stalls(),
            load.failures,
            load.cpu_micros(),
            load.cpu_micros_per_request(cpu.user_ticks),
            load.cpu_micros_per_request(cpu.system_ticks),
            load.busy() * 100.0,
            format_bytes(server.peak_kib * KIB),
        );
    }
    let bare = &contenders[0].load;
    for server in &contenders[1..] {
        let load = &server.load;
        let cpu_ratio = load.cpu_micros() / bare.cpu_micros();
        println!(
            "  {:<18} {:>5.1}% of the bare loop's req/s; {:.2}× its CPU per request, \
             so {:.0}% of its req/s where the server is the bottleneck",
            server.label,
            100.0 * load.per_second() / bare.per_second(),
            cpu_ratio,
            100.0 / cpu_ratio
        );
    }
    for server in contenders {
        if let Some(failure) = &server.load.first_failure {
            println!("  {} first failure: {failure}", server.label);
        }
    }
    println!(
        "  CPU time from /proc/<pid>/stat (utime, stime), counted in clock ticks of 1/{TICKS_PER_SECOND} s"
    );
    println!("  the access log goes to a file (the server's standard error)\n");
}

fn print_burst_table(contenders: &[Contender]) {
    println!("Bursts: {BURST_CLIENTS} clients connect at the same moment");
    println!(
        "{:<20} {:>8} {:>8} {:>8} {:>6} {:>6}",
        "server", "requests", "p50 ms", "max ms", "stalls", "failed"
    );
    for server in contenders {
        let bursts = &server.bursts;
        println!(
            "{:<20} {:>8} {:>8.3} {:>8.1} {:>6} {:>6}",
            server.label,
            bursts.requests(),
            millis(bursts.percentile(50.0)),
            millis(bursts.max()),
            bursts.stalls(),
            bursts.failures
        );
        if let Some(failure) = &bursts.first_failure {
            println!("  first failure: {failure}");
        }
    }
    println!("  a stall is a request that took {STALL:?} or more\n");
}

fn print_transfer_table(transfers: &[Transfer]) {
    let size = transfers.first().map_or(0, |t| t.bytes);
    println!(
        "Streaming {} through rgiref, one connection each way",
        format_bytes(size)
    );
    println!(
        "{:<22} {:>8} {:>8} {:>24} {:>9} {:>24}",
        "transfer", "MB/s", "CPU s", "peak (VmHWM) before→after", "growth", "VmRSS before→after"
    );
    for transfer in transfers {
        let speed = match &transfer.result {
            Ok(elapsed) => format!("{:.0}", transfer.bytes as f64 / elapsed.as_secs_f64() / 1e6),
            Err(_) => "FAILED".to_owned(),
        };
        println!(
            "{:<22} {:>8} {:>8.2} {:>24} {:>9} {:>24}",
            transfer.direction,
            speed,
            transfer.cpu.seconds(),
            format!(
                "{} → {}",
                format_bytes(transfer.before.peak_kib * KIB),
                format_bytes(transfer.after.peak_kib * KIB)
            ),
            format!("+{} KiB", transfer.peak_growth_kib()),
            format!(
                "{} → {}",
                format_bytes(transfer.before.resident_kib * KIB),
                format_bytes(transfer.after.resident_kib * KIB)
            ),
        );
        if let Err(error) = &transfer.result {
            println!("  {} failed: {error}", transfer.direction);
        }
        for line in transfer.logged.iter().take(3) {
            println!("  the {} server logged: {line}", transfer.direction);
        }
    }
    println!("  MB is 10^6 bytes; memory from /proc/<pid>/status\n");
}

/// Prints each target with PASS or FAIL; true if all passed.
fn print_targets(contenders: &[Contender], transfers: &[Transfer]) -> bool {
    println!("Targets");
    let mut all_passed = true;
    let mut target = |passed: bool, what: &str, figure: String| {
        let verdict = if passed { "PASS" } else { "FAIL" };
        println!("  {verdict}  {what:<56} {figure}");
        all_passed &= passed;
    };

    // In the order `start_hello_servers` made them: the bare loop, rgiref, rgiref with the log.
    let bare = &contenders[0];
    let ours: Vec<&Contender> = contenders
        .iter()
        .filter(|c| c.label.starts_with("rgiref"))
        .collect();
    let ratio = ours[0].load.per_second() / bare.load.per_second();
    target(
        ratio >= MIN_THROUGHPUT_RATIO,
        "throughput ≥ 80% of the bare loop (access log off)",
        format!("{:.1}%", ratio * 100.0),
    );
    if bare.load.busy() < 0.9 {
        // Both servers then run at the clients' pace, which makes the ratio look better than it
        // is: see "Reading the results" at the top of this file.
        let by_cpu = bare.load.cpu_micros() / ours[0].load.cpu_micros();
        println!(
            "        note: the bare loop was only {:.0}% busy, so the clients set the pace and this \
             ratio flatters rgiref;\n        by CPU per request rgiref reaches {:.0}% of the bare \
             loop, what the ratio tends to where the server is the bottleneck",
            bare.load.busy() * 100.0,
            by_cpu * 100.0
        );
    }

    for transfer in transfers {
        let growth = transfer.peak_growth_kib();
        target(
            growth < MAX_MEMORY_GROWTH_KIB && transfer.result.is_ok(),
            &format!("{}: peak memory growth < 2 MiB", transfer.direction),
            format!("+{growth} KiB"),
        );
    }

    let requests: u64 = ours
        .iter()
        .map(|c| c.load.requests() + c.bursts.requests())
        .sum::<u64>()
        + transfers.len() as u64;
    let failed: u64 = ours
        .iter()
        .map(|c| c.load.failures + c.bursts.failures)
        .sum::<u64>()
        + transfers.iter().filter(|t| t.result.is_err()).count() as u64;
    target(
        failed == 0,
        "zero failed requests (rgiref, every run above)",
        format!("{failed} of {requests}"),
    );

    let stalls: usize = ours
        .iter()
        .map(|c| c.load.stalls() + c.bursts.stalls())
        .sum();
    let slowest_burst = ours
        .iter()
        .map(|c| c.bursts.max())
        .max()
        .unwrap_or_default();
    target(
        stalls == 0,
        "no multi-second stalls (rgiref, no request took ≥ 1 s)",
        format!(
            "{stalls} stalls; slowest burst request {:.1} ms",
            millis(slowest_burst)
        ),
    );
    all_passed
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

/// `1 GiB`, `64 MiB`, `2.37 MiB`: binary units, as memory and file sizes are counted.
fn format_bytes(bytes: u64) -> String {
    if bytes >= GIB && bytes.is_multiple_of(GIB) {
        format!("{} GiB", bytes / GIB)
    } else if bytes >= MIB && bytes.is_multiple_of(MIB) {
        format!("{} MiB", bytes / MIB)
    } else {
        format!("{:.2} MiB", bytes as f64 / MIB as f64)
    }
}
