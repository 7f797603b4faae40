//! Runs the `rgiref` binary as a child process, for `cli.rs` and `server_lifecycle.rs`: start
//! it, learn its port from the banner, watch its standard output and standard error, and always
//! kill it at the end — [`ServerProcess`] is a guard whose `Drop` kills and reaps the child, so
//! a failing test never leaves a server running.
//!
//! Waiting is done on a condition variable the reader threads signal, with [`PATIENCE`] as a
//! safety net: a broken binary fails a test instead of hanging the suite. No test asserts how
//! long anything took.
#![allow(dead_code)]

use std::io::Read;
use std::net::SocketAddr;
use std::process::{Child, ChildStderr, ChildStdout, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// The binary Cargo built for these tests.
pub const BINARY: &str = env!("CARGO_BIN_EXE_rgiref");

/// The longest a test waits for the child to say something. A safety net, like
/// `common::CLIENT_TIMEOUT`; no test should come near it.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// A running `rgiref` process. Dropping it kills the process.
pub struct ServerProcess {
    child: Child,
    stdout: Arc<Stream>,
    stderr: Arc<Stream>,
    readers: Vec<JoinHandle<()>>,
    /// The banner the server printed (empty until [`Self::wait_for_banner`]).
    pub banner: String,
    /// The banner's URL, e.g. `http://127.0.0.1:40123/` (empty until [`Self::wait_for_banner`]).
    pub url: String,
    /// The address in that URL.
    pub addr: SocketAddr,
}

/// What a process that ended left behind.
#[derive(Debug)]
pub struct Exited {
    /// The exit code (`None` if a signal ended it).
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl ServerProcess {
    /// Starts the binary with `args` and waits for its banner.
    pub fn start(args: &[&str]) -> ServerProcess {
        let mut command = Command::new(BINARY);
        command.args(args);
        let mut process = ServerProcess::spawn(command);
        process.wait_for_banner();
        process
    }

    /// Starts `command` (the binary, or a shell that execs it) with its output piped to us.
    pub fn spawn(mut command: Command) -> ServerProcess {
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command.spawn().expect("start the rgiref binary");
        let stdout: ChildStdout = child.stdout.take().expect("piped stdout");
        let stderr: ChildStderr = child.stderr.take().expect("piped stderr");
        let (out, err) = (Arc::new(Stream::default()), Arc::new(Stream::default()));
        let readers = vec![
            collect(stdout, Arc::clone(&out)),
            collect(stderr, Arc::clone(&err)),
        ];
        ServerProcess {
            child,
            stdout: out,
            stderr: err,
            readers,
            banner: String::new(),
            url: String::new(),
            addr: SocketAddr::from(([0, 0, 0, 0], 0)),
        }
    }

    /// Waits for the three-line banner and learns the URL from it.
    pub fn wait_for_banner(&mut self) {
        let banner = self.wait_for_stdout(|text| text.contains("Ctrl+C"), "the banner");
        let url = banner
            .split_whitespace()
            .find(|word| word.starts_with("http://"))
            .unwrap_or_else(|| panic!("no URL in the banner:\n{banner}"))
            .to_owned();
        let host_port = url
            .strip_prefix("http://")
            .and_then(|rest| rest.strip_suffix('/'))
            .unwrap_or_else(|| panic!("the URL {url:?} is not http://HOST:PORT/"));
        self.addr = host_port
            .parse()
            .unwrap_or_else(|_| panic!("the URL {url:?} does not hold an IP address and port"));
        self.url = url;
        self.banner = banner;
    }

    /// The process id (for tools such as `prlimit`).
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// True while the process has not exited.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Everything written to standard error so far.
    pub fn stderr_text(&self) -> String {
        self.stderr.text()
    }

    /// Waits until standard error satisfies `done`, and returns it. Panics (showing both
    /// streams) if the process ends first or [`PATIENCE`] runs out; `what` names the wait.
    pub fn wait_for_stderr(&self, done: impl Fn(&str) -> bool, what: &str) -> String {
        self.stderr
            .wait_until(done)
            .unwrap_or_else(|why| self.give_up(what, why))
    }

    /// Like [`Self::wait_for_stderr`], for standard output.
    pub fn wait_for_stdout(&self, done: impl Fn(&str) -> bool, what: &str) -> String {
        self.stdout
            .wait_until(done)
            .unwrap_or_else(|why| self.give_up(what, why))
    }

    /// Waits for the process to close its output and exit, and returns what it left.
    pub fn wait_for_exit(mut self) -> Exited {
        for stream in [&self.stdout, &self.stderr] {
            if let Err(why) = stream.wait_until_closed() {
                self.give_up("the process to exit", why);
            }
        }
        let status = self.child.wait().expect("wait for the rgiref binary");
        Exited {
            code: status.code(),
            stdout: self.stdout.text(),
            stderr: self.stderr.text(),
        }
    }

    fn give_up(&self, what: &str, why: &str) -> ! {
        panic!(
            "gave up waiting for {what}: {why}\n--- stdout ---\n{}--- stderr ---\n{}",
            self.stdout.text(),
            self.stderr.text()
        )
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill(); // fails only if it already exited, which is fine
        let _ = self.child.wait();
        // The pipes close with the process, so the reader threads end now.
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
    }
}

/// Runs the binary with `args` until it exits (it is expected to, at once) and returns what it
/// left. If it starts serving instead, the guard kills it and the wait panics.
pub fn run_to_exit(args: &[&str]) -> Exited {
    let mut command = Command::new(BINARY);
    command.args(args);
    ServerProcess::spawn(command).wait_for_exit()
}

/// One output stream of the child, filled by a reader thread.
#[derive(Default)]
struct Stream {
    state: Mutex<StreamState>,
    changed: Condvar,
}

#[derive(Default)]
struct StreamState {
    bytes: Vec<u8>,
    closed: bool,
}

impl Stream {
    fn lock(&self) -> MutexGuard<'_, StreamState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.lock().bytes).into_owned()
    }

    /// Waits until `done(text)`; `Err` if the stream closes first or [`PATIENCE`] runs out.
    fn wait_until(&self, done: impl Fn(&str) -> bool) -> Result<String, &'static str> {
        self.wait_for(|state| {
            let text = String::from_utf8_lossy(&state.bytes);
            if done(&text) {
                Some(Ok(text.into_owned()))
            } else if state.closed {
                Some(Err("the process closed the stream (did it exit?)"))
            } else {
                None
            }
        })
    }

    fn wait_until_closed(&self) -> Result<(), &'static str> {
        self.wait_for(|state| state.closed.then_some(Ok(())))
    }

    fn wait_for<T>(
        &self,
        mut check: impl FnMut(&StreamState) -> Option<Result<T, &'static str>>,
    ) -> Result<T, &'static str> {
        let deadline = Instant::now() + PATIENCE;
        let mut state = self.lock();
        loop {
            if let Some(result) = check(&state) {
                return result;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err("out of patience");
            }
            state = self
                .changed
                .wait_timeout(state, left)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        }
    }
}

/// Copies `source` into `stream` on a thread until the pipe closes.
fn collect(mut source: impl Read + Send + 'static, stream: Arc<Stream>) -> JoinHandle<()> {
    thread::spawn(move || {
        let mut buffer = [0u8; 4096];
        loop {
            let n = match source.read(&mut buffer) {
                Ok(n) => n,
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(_) => 0,
            };
            let mut state = stream.lock();
            if n == 0 {
                state.closed = true;
            } else {
                state.bytes.extend_from_slice(&buffer[..n]);
            }
            drop(state);
            stream.changed.notify_all();
            if n == 0 {
                return;
            }
        }
    })
}

/// Builds `examples/NAME.rs` (once per test run, per name) and returns the binary's path.
/// `cargo test` builds examples too, but not `cargo test --test NAME_example`, and a binary left
/// from an older build would test old code: asking Cargo is the only way to be sure. It is
/// quick when nothing changed.
pub fn example_binary(name: &str) -> std::path::PathBuf {
    static BUILT: Mutex<Vec<String>> = Mutex::new(Vec::new());
    // This test runs from target/<profile>/deps/; examples go to target/<profile>/examples/.
    let exe = std::env::current_exe().expect("the test binary's path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/<profile>/deps");
    let binary = profile_dir
        .join("examples")
        .join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    // Held while building, so tests running in parallel build each example once.
    let mut built = BUILT
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if !built.iter().any(|done| done == name) {
        let mut build = Command::new(env!("CARGO"));
        build.args(["build", "--quiet", "--example", name]);
        match profile_dir.file_name().and_then(|dir| dir.to_str()) {
            Some("debug") | None => {}
            Some(profile) => {
                build.args(["--profile", profile]);
            }
        }
        let status = build.status().expect("run cargo build --example");
        assert!(status.success(), "cargo build --example {name} failed");
        assert!(binary.exists(), "no example binary at {}", binary.display());
        built.push(name.to_owned());
    }
    binary
}
