//! The machinery of the interop test: find a web server or skip it, give each run a temporary
//! directory and free loopback ports, start processes whose guards always kill and reap them,
//! count processes and file descriptors through `/proc`, and fill in config templates and the
//! README's snippets. `examples/bench_gateways.rs` includes it (and `frontends.rs`) too, to
//! measure the configs the test runs; so nothing here may need what Cargo gives tests alone.
//!
//! Rules every helper keeps, so the suite can neither hang nor leave anything behind:
//! * every wait polls against [`PATIENCE`], a safety net no healthy run comes near;
//! * every process started here lives in a [`Daemon`], whose `Drop` asks it to stop (SIGTERM,
//!   so lighttpd stops the FastCGI processes it started), kills it if it does not, and then
//!   kills any process it started that outlived it — by process id, checked against the start
//!   time `/proc` gave when it was counted, never by name;
//! * only 127.0.0.1 is ever listened on or connected to.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::Write;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

/// The longest any single wait lasts. A safety net, like `common::CLIENT_TIMEOUT`.
pub const PATIENCE: Duration = Duration::from_secs(20);

/// How often a wait looks again.
const POLL: Duration = Duration::from_millis(10);

/// Polls `ready` until it gives a value or [`PATIENCE`] runs out.
pub fn wait_for<T>(what: &str, mut ready: impl FnMut() -> Option<T>) -> Result<T, String> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        if let Some(value) = ready() {
            return Ok(value);
        }
        if Instant::now() >= deadline {
            return Err(format!("gave up after {PATIENCE:?} waiting for {what}"));
        }
        thread::sleep(POLL);
    }
}

// ---------------------------------------------------------------------------------------------
// Web servers: found, or skipped with one line that says why.

/// A web server the test puts in front of rgiref.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum WebServer {
    Lighttpd,
    Nginx,
    Apache,
}

impl WebServer {
    pub fn name(self) -> &'static str {
        match self {
            WebServer::Lighttpd => "lighttpd",
            WebServer::Nginx => "nginx",
            WebServer::Apache => "apache",
        }
    }

    /// The command, and the Debian package that holds it.
    fn command_and_package(self) -> (&'static str, &'static str) {
        match self {
            WebServer::Lighttpd => ("lighttpd", "lighttpd"),
            WebServer::Nginx => ("nginx", "nginx"),
            WebServer::Apache => ("apache2", "apache2"),
        }
    }
}

/// Where Debian's apache2 package keeps its modules; the generated config loads from here.
pub const APACHE_MODULES: &str = "/usr/lib/apache2/modules";

/// The web server's executable, or `None` after saying (once per server and test process) why
/// it is skipped. Under `CI=true` a missing web server fails the test instead: `.ci/run`
/// installs all three, so there a skip would hide a broken install.
pub fn require(server: WebServer) -> Option<PathBuf> {
    let (command, package) = server.command_and_package();
    let found = find_executable(command);
    let problem = match &found {
        None => format!("{command} not found in /usr/sbin or on PATH"),
        Some(_) if server == WebServer::Apache && !Path::new(APACHE_MODULES).is_dir() => {
            format!("{APACHE_MODULES} not found")
        }
        Some(_) => return found,
    };
    let name = server.name();
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("interop: {name} is missing: {problem}; under CI=true that is a failure, not a skip (.ci/run installs {package})");
    }
    say_once(
        server,
        &format!("interop: skipped {name}: {problem} (install {package}; .ci/run does)"),
    );
    None
}

/// Prints `line` on standard error once per web server. Written to the stream itself, not with
/// `eprintln!`, which the test harness captures and shows only for failing tests: a skip must
/// show in a passing run's output.
fn say_once(server: WebServer, line: &str) {
    static SAID: Mutex<BTreeSet<WebServer>> = Mutex::new(BTreeSet::new());
    let mut said = SAID.lock().unwrap_or_else(|p| p.into_inner());
    if said.insert(server) {
        let _ = writeln!(std::io::stderr(), "{line}");
    }
}

/// Prints a line that shows in a passing run too (see [`say_once`]).
pub fn say(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Where `command` is: in `/usr/sbin`, `/usr/local/sbin` (where web servers live, and which a
/// non-root `PATH` may lack), or on `PATH`.
pub fn find_executable(command: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = [PathBuf::from("/usr/sbin"), PathBuf::from("/usr/local/sbin")];
    dirs.into_iter()
        .chain(std::env::split_paths(&path))
        .map(|dir| dir.join(command))
        .find(|candidate| candidate.is_file())
}

// ---------------------------------------------------------------------------------------------
// A temporary directory per run.

/// A directory for one run's configs, logs, pid files and sockets. Removed when dropped —
/// unless the test is failing, so that its logs can be read (the failure message names it).
pub struct TempDir {
    pub path: PathBuf,
}

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let path =
            std::env::temp_dir().join(format!("rgiref-interop-{}-{name}", std::process::id()));
        let _ = fs::remove_dir_all(&path);
        fs::create_dir_all(&path).expect("make the temporary directory");
        TempDir { path }
    }

    /// `name` inside the directory.
    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// `name` inside the directory, as a string for a config file.
    pub fn file(&self, name: &str) -> String {
        self.join(name).display().to_string()
    }

    /// Writes `text` to `name` inside the directory.
    pub fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.join(name);
        fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if thread::panicking() {
            eprintln!("interop: kept {} for its logs", self.path.display());
        } else {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

/// A port that was free on 127.0.0.1 a moment ago. Another process may take it before the web
/// server binds it, so starting a web server is retried with new ports (see `frontends.rs`).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("its address").port()
}

pub fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

// ---------------------------------------------------------------------------------------------
// Processes.

/// A process this test started, with its standard output and error in files of the run's
/// directory. Dropping it stops it and everything it started (see the module docs).
pub struct Daemon {
    pub name: String,
    child: Child,
    pub stdout: PathBuf,
    pub stderr: PathBuf,
    /// Extra log files worth showing when a test fails (a web server's error log).
    pub logs: Vec<PathBuf>,
    stopped: bool,
}

impl Daemon {
    /// Starts `command` with standard input from `/dev/null` unless the command set it.
    pub fn spawn(name: &str, mut command: Command, dir: &TempDir) -> Daemon {
        let stdout = dir.join(&format!("{name}.stdout"));
        let stderr = dir.join(&format!("{name}.stderr"));
        command
            .stdout(File::create(&stdout).expect("create the stdout file"))
            .stderr(File::create(&stderr).expect("create the stderr file"));
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("start {name} ({command:?}): {e}"));
        Daemon {
            name: name.to_owned(),
            child,
            stdout,
            stderr,
            logs: Vec::new(),
            stopped: false,
        }
    }

    /// Like [`Daemon::spawn`], with standard input null.
    pub fn spawn_quiet(name: &str, mut command: Command, dir: &TempDir) -> Daemon {
        command.stdin(Stdio::null());
        Daemon::spawn(name, command, dir)
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `Some(description)` once the process has exited.
    pub fn exited(&mut self) -> Option<String> {
        match self.child.try_wait() {
            Ok(Some(status)) => Some(status.to_string()),
            Ok(None) => None,
            Err(error) => Some(error.to_string()),
        }
    }

    /// Waits until something accepts connections on `addr`; `Err` (with the process's output)
    /// if the process exits first or [`PATIENCE`] runs out.
    pub fn wait_for_port(&mut self, addr: SocketAddr) -> Result<(), String> {
        let ready = wait_for(&format!("{} to listen on {addr}", self.name), || {
            if let Some(status) = self.exited() {
                return Some(Err(format!("exited ({status}) before listening on {addr}")));
            }
            TcpStream::connect_timeout(&addr, Duration::from_millis(200))
                .ok()
                .map(|_| Ok(()))
        });
        ready
            .and_then(|outcome| outcome)
            .map_err(|why| format!("{}: {why}\n{}", self.name, self.output()))
    }

    /// Waits until standard output holds a line `parse` accepts, and returns what it made of it.
    pub fn wait_for_stdout<T>(
        &mut self,
        what: &str,
        mut parse: impl FnMut(&str) -> Option<T>,
    ) -> T {
        let path = self.stdout.clone();
        let mut exited = None;
        let found = wait_for(what, || {
            let text = fs::read_to_string(&path).unwrap_or_default();
            if let Some(value) = text.lines().find_map(&mut parse) {
                return Some(Some(value));
            }
            exited = self.exited();
            exited.as_ref().map(|_| None)
        });
        match found {
            Ok(Some(value)) => value,
            _ => panic!(
                "{} never printed {what} (exited: {exited:?})\n{}",
                self.name,
                self.output()
            ),
        }
    }

    /// Standard output, standard error and the extra logs, for a failure message.
    pub fn output(&self) -> String {
        let mut text = String::new();
        for path in [&self.stdout, &self.stderr].into_iter().chain(&self.logs) {
            let content = fs::read_to_string(path).unwrap_or_default();
            text.push_str(&format!(
                "--- {} ({}) ---\n{}",
                self.name,
                path.display(),
                tail(&content, 6000)
            ));
        }
        text
    }

    /// Everything in one of the extra logs so far.
    pub fn log_text(&self, index: usize) -> String {
        fs::read_to_string(&self.logs[index]).unwrap_or_default()
    }

    /// Everything on standard error so far.
    pub fn stderr_text(&self) -> String {
        fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// Stops the process and whatever it started, and returns the processes that outlived it
    /// (none, unless something leaked). Called by `Drop`; call it yourself to check the answer.
    pub fn stop(&mut self) -> Vec<String> {
        if self.stopped {
            return Vec::new();
        }
        self.stopped = true;
        let descendants = descendants(self.pid());
        if self.exited().is_none() {
            signal(self.pid(), "TERM");
            let gone = wait_for(&format!("{} to stop", self.name), || {
                self.exited().map(|_| ())
            });
            if gone.is_err() {
                let _ = self.child.kill();
            }
        }
        let _ = self.child.wait();
        // Anything it started gets a moment to follow it out, then is killed: by id, and only
        // if that id still names the same process (the same start time).
        let _ = wait_for("the processes it started to exit", || {
            descendants.iter().all(|p| !p.still_running()).then_some(())
        });
        let mut survivors = Vec::new();
        for process in descendants.iter().filter(|p| p.still_running()) {
            survivors.push(format!("{} ({})", process.pid, process.command));
            signal(process.pid, "KILL");
        }
        survivors
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if thread::panicking() {
            eprintln!("{}", self.output());
        }
        self.stop();
    }
}

/// Starts `program` with `args` as a responder the web server will connect to (`--fastcgi
/// 127.0.0.1:0`, say), and returns it with the address it announced: the first word of its
/// standard output that is one, as `127.0.0.1:40123` or `unix:/path` (the banners write
/// `scgi://127.0.0.1:40123` and `(nginx: scgi_pass 127.0.0.1:40123;)` too).
pub fn responder(name: &str, program: &Path, args: &[&str], dir: &TempDir) -> (Daemon, String) {
    let mut command = Command::new(program);
    command.args(args);
    let mut daemon = Daemon::spawn_quiet(name, command, dir);
    let address = daemon.wait_for_stdout("the address it listens on", |line| {
        line.split_whitespace().find_map(|word| {
            let word = word.trim_matches(|c| matches!(c, '(' | ')' | ';' | ','));
            let word = word.strip_prefix("scgi://").unwrap_or(word);
            let is_address = word.parse::<SocketAddr>().is_ok() || word.starts_with("unix:/");
            is_address.then(|| word.to_owned())
        })
    });
    (daemon, address)
}

/// The end of `text`, at most `limit` bytes of it.
fn tail(text: &str, limit: usize) -> &str {
    let mut start = text.len().saturating_sub(limit);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

/// Sends `SIGname` to one process by id. std can only send SIGKILL (`Child::kill`), and only
/// to its own children, so this asks the shell's `kill` builtin.
pub fn signal(pid: u32, name: &str) {
    let _ = Command::new("sh")
        .args(["-c", &format!("kill -{name} {pid} 2>/dev/null")])
        .status();
}

// ---------------------------------------------------------------------------------------------
// /proc: who started whom, and how many files each holds open.

/// One process, as `/proc/PID/stat` describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Process {
    pub pid: u32,
    pub parent: u32,
    /// `R`, `S`, `Z` (a zombie: exited, not yet reaped), …
    pub state: char,
    /// When it started, in clock ticks since boot: with the pid, what names one process.
    pub started: u64,
    pub command: String,
}

impl Process {
    fn read(pid: u32) -> Option<Process> {
        let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // "PID (COMMAND) STATE PPID …": the command may hold spaces and parentheses, so the
        // fields are counted from the last ')'.
        let open = stat.find('(')?;
        let close = stat.rfind(')')?;
        let command = stat[open + 1..close].to_owned();
        let fields: Vec<&str> = stat[close + 1..].split_whitespace().collect();
        Some(Process {
            pid,
            state: fields.first()?.chars().next()?,
            parent: fields.get(1)?.parse().ok()?,
            started: fields.get(19)?.parse().ok()?,
            command,
        })
    }

    /// True if this same process (not a later one given the same id) has not yet exited.
    pub fn still_running(&self) -> bool {
        Process::read(self.pid).is_some_and(|now| now.started == self.started && now.state != 'Z')
    }
}

/// Every process on the machine.
pub fn processes() -> Vec<Process> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(Process::read)
        .collect()
}

/// The processes `pid` started, and theirs, and so on (zombies included: not yet reaped).
pub fn descendants(pid: u32) -> Vec<Process> {
    let all = processes();
    let mut found: Vec<Process> = Vec::new();
    let mut parents = vec![pid];
    while let Some(parent) = parents.pop() {
        for process in all.iter().filter(|p| p.parent == parent) {
            parents.push(process.pid);
            found.push(process.clone());
        }
    }
    found
}

/// The processes `pid` started directly, not counting zombies.
pub fn live_children(pid: u32) -> Vec<Process> {
    processes()
        .into_iter()
        .filter(|p| p.parent == pid && p.state != 'Z')
        .collect()
}

/// How many file descriptors `pid` has open (sockets, pipes, files).
pub fn open_fds(pid: u32) -> usize {
    fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |entries| entries.count())
}

/// A tree of processes at one moment: each process (the roots, and everything they started,
/// zombies included) with its command and how many descriptors it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Census(pub BTreeMap<u32, (String, usize)>);

impl Census {
    pub fn take(roots: &[u32]) -> Census {
        let mut tree = BTreeMap::new();
        for &root in roots {
            let command = Process::read(root).map(|p| p.command).unwrap_or_default();
            tree.insert(root, (command, open_fds(root)));
            for process in descendants(root) {
                tree.insert(process.pid, (process.command, open_fds(process.pid)));
            }
        }
        Census(tree)
    }

    /// A census that holds still: taken until two in a row, a moment apart, agree. A CGI
    /// program that just answered may not have exited yet; it must not count as resident.
    pub fn settled(roots: &[u32]) -> Result<Census, String> {
        let mut last = Census::take(roots);
        wait_for("the processes to settle", || {
            thread::sleep(Duration::from_millis(50));
            let now = Census::take(roots);
            let same = now == last;
            last = now;
            same.then(|| last.clone())
        })
    }

    /// `Ok` if the same processes are there as at `baseline` and none holds more than `slack`
    /// descriptors beyond what it held then; otherwise what differs.
    pub fn compare(&self, baseline: &Census, slack: usize) -> Result<(), String> {
        let pids = |c: &Census| c.0.keys().copied().collect::<Vec<u32>>();
        if pids(self) != pids(baseline) {
            return Err(format!(
                "other processes than before: {:?}, then {:?}",
                baseline.0, self.0
            ));
        }
        for (pid, (command, fds)) in &self.0 {
            let then = baseline.0[pid].1;
            if *fds > then + slack {
                return Err(format!(
                    "{command} ({pid}) holds {fds} descriptors, {then} before (allowed: {slack} more)"
                ));
            }
        }
        Ok(())
    }
}

/// Waits until the processes under `roots` are the ones at `baseline`, holding no more than
/// `slack` descriptors each beyond what they held (connections a web server keeps open on
/// purpose), and says what differs if they never get there.
pub fn wait_for_census(roots: &[u32], baseline: &Census, slack: usize) -> Result<(), String> {
    let mut why = String::new();
    wait_for("processes and descriptors to return to their count", || {
        let outcome = Census::take(roots).compare(baseline, slack);
        why = outcome.clone().err().unwrap_or_default();
        outcome.ok()
    })
    .map_err(|timeout| format!("{timeout}: {why}"))
}

// ---------------------------------------------------------------------------------------------
// Templates and README snippets.

/// `template` with each `{{NAME}}` replaced by its value. Panics if a `{{` is left over, so a
/// misspelt placeholder cannot reach a web server.
pub fn fill(template: &str, values: &[(&str, &str)]) -> String {
    let mut text = template.to_owned();
    for (name, value) in values {
        text = text.replace(&format!("{{{{{name}}}}}"), value);
    }
    if let Some(at) = text.find("{{") {
        panic!(
            "unfilled placeholder in a template: {}",
            tail(&text[..at + 20], 60)
        );
    }
    text
}

/// The README, read at run time: the snippets a reader copies are the ones tested.
pub fn readme() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md");
    fs::read_to_string(&path).expect("read README.md")
}

/// The names of every `<!-- interop: NAME -->` marker in the README, in order.
pub fn snippet_names() -> Vec<String> {
    readme()
        .lines()
        .filter_map(|line| line.trim().strip_prefix("<!-- interop: "))
        .filter_map(|rest| rest.strip_suffix(" -->"))
        .map(str::to_owned)
        .collect()
}

/// The fenced block that follows `<!-- interop: NAME -->` in the README, without its fences.
pub fn snippet(name: &str) -> String {
    let text = readme();
    let marker = format!("<!-- interop: {name} -->");
    let mut lines = text.lines().skip_while(|line| line.trim() != marker);
    assert!(
        lines.next().is_some(),
        "README.md has no {marker}: the interop test runs that snippet"
    );
    let fence = lines.next().unwrap_or_default();
    assert!(
        fence.starts_with("```"),
        "README.md: {marker} must be followed by a fenced block, not {fence:?}"
    );
    let mut block = String::new();
    for line in lines.take_while(|line| !line.starts_with("```")) {
        block.push_str(line);
        block.push('\n');
    }
    block
}

/// The example values the README's snippets use, which the test replaces with its own. Nothing
/// else in a snippet is changed: if a snippet does not work as written, the test fails.
pub const EXAMPLE_PROGRAM: &str = "/srv/rgiref/rgiref";
pub const EXAMPLE_PROGRAM_DIR: &str = "/srv/rgiref";
pub const EXAMPLE_MOUNT: &str = "/app";
pub const EXAMPLE_RUN_DIR: &str = "/run/rgiref";
pub const EXAMPLE_LISTEN_PORT: &str = "8080";

/// `snippet` with example values replaced, in one pass (so a replacement is never replaced
/// again), longest first where one example starts another.
pub fn adapt(snippet: &str, replacements: &[(&str, &str)]) -> String {
    let mut ordered: Vec<&(&str, &str)> = replacements.iter().collect();
    ordered.sort_by_key(|(from, _)| std::cmp::Reverse(from.len()));
    let mut out = String::new();
    let mut rest = snippet;
    'scan: while !rest.is_empty() {
        for (from, to) in &ordered {
            if let Some(after) = rest.strip_prefix(from) {
                out.push_str(to);
                rest = after;
                continue 'scan;
            }
        }
        let next = rest.chars().next().expect("not empty");
        out.push(next);
        rest = &rest[next.len_utf8()..];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adapt_replaces_once_and_longest_first() {
        let text = "ScriptAlias /app /srv/rgiref/rgiref\n<Directory /srv/rgiref>";
        let got = adapt(
            text,
            &[
                (EXAMPLE_PROGRAM_DIR, "/t/examples"),
                (EXAMPLE_PROGRAM, "/t/examples/echo_gateway"),
                (EXAMPLE_MOUNT, "/gw/app"),
            ],
        );
        assert_eq!(
            got,
            "ScriptAlias /gw/app /t/examples/echo_gateway\n<Directory /t/examples>"
        );
    }
}
