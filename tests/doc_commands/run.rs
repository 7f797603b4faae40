//! Runs what `tests/doc_commands.rs` found, the way its header says: each section of a
//! document in a thread of its own, its commands in order, servers in the background until the
//! section ends, clients to their end and checked.
//!
//! Interface:
//! * [`document`] runs every section of one document and fails, naming each section that
//!   failed, the command, and what it printed.
//!
//! Every process here is a `ServerProcess`, whose `Drop` kills and reaps it: a failing check
//! (an `Err`, or a panic, caught per command) drops the section and everything it started.

use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

use super::server_process::{example_binary, Exited, ServerProcess, BINARY, PATIENCE};
use super::shell::{self, Normalize};
use super::{Exec, Expect, Found, Listen, Plan, Program, SERVERS};

/// How long the second of two commands that run together starts after the first: time for
/// the first to be accepted and served, as when a reader switches terminals.
const MEANWHILE: Duration = Duration::from_millis(300);

/// The example path the documents use for a socket directory, and what replaces it.
const RUN_DIR: &str = "/run/rgiref/";

/// Runs every section of `doc` (its commands, `found`), all at once, and fails if any did.
pub fn document(doc: &str, found: Vec<Found>) {
    let mut sections: Vec<Vec<&Found>> = Vec::new();
    for command in &found {
        match sections.last_mut() {
            Some(section) if section[0].section == command.section => section.push(command),
            _ => sections.push(vec![command]),
        }
    }
    let failures: Vec<String> = thread::scope(|scope| {
        let running: Vec<_> = sections
            .iter()
            .map(|commands| scope.spawn(move || run_section(commands)))
            .collect();
        running
            .into_iter()
            .filter_map(|section| match section.join() {
                Ok(result) => result.err(),
                Err(panic) => Some(panic_message(panic)),
            })
            .collect()
    });
    assert!(
        failures.is_empty(),
        "{doc}: {} command(s) did not do what the document says:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

fn run_section(commands: &[&Found]) -> Result<(), String> {
    let mut section = Section::default();
    let mut i = 0;
    while i < commands.len() {
        let found = commands[i];
        let is_run = matches!(found.plan, Ok(Plan::Run(_)));
        let next = commands.get(i + 1).copied().filter(|n| is_run && waits(n));
        let step = catch_unwind(AssertUnwindSafe(|| section.step(found, next)));
        step.unwrap_or_else(|panic| Err(panic_message(panic)))
            .map_err(|why| format!("{}: `{}`:\n{why}", found.place(), found.text))?;
        i += 1 + usize::from(next.is_some());
    }
    section.still_serving()
}

/// True if `found` is to run while the command before it still runs.
fn waits(found: &Found) -> bool {
    found
        .expected()
        .any(|e| matches!(e, Expect::WaitsForThePrevious(_)))
}

fn panic_message(panic: Box<dyn std::any::Any + Send>) -> String {
    match panic.downcast::<String>() {
        Ok(message) => *message,
        Err(panic) => match panic.downcast::<&str>() {
            Ok(message) => message.to_string(),
            Err(_) => "a panic".to_owned(),
        },
    }
}

/// The servers one section has started, and its temporary directory.
#[derive(Default)]
struct Section {
    servers: Vec<Served>,
    dir: Option<TempDir>,
}

/// A server of the section.
struct Served {
    listens: Listen,
    /// The port it got, standing for the document's port in `listens`.
    port: Option<u16>,
    command: String,
    process: ServerProcess,
}

impl Section {
    fn step(&mut self, found: &Found, next: Option<&Found>) -> Result<(), String> {
        match (&found.plan, next) {
            (Err(why), _) => Err(why.clone()),
            (Ok(Plan::Serve(program)), _) => {
                let banner = self.start(program, &found.text)?;
                check_banner(found, &banner)
            }
            (Ok(Plan::Run(first)), Some(next)) => match &next.plan {
                Ok(Plan::Run(second)) => self.run_together(found, first, next, second),
                _ => Err(format!("`{}` is not a command that runs", next.text)),
            },
            (Ok(Plan::Run(_)), None) if waits(found) => Err(
                "it is to start while the command before it runs, and that one is no client".into(),
            ),
            (Ok(Plan::Run(program)), None) => self.run(found, program),
            (Ok(Plan::Built | Plan::Mention | Plan::FrontEnd(_) | Plan::NotRun(_)), _) => Ok(()),
        }
    }

    /// Starts a server, replacing one on the same port, and returns its banner.
    fn start(&mut self, program: &Program, text: &str) -> Result<String, String> {
        self.servers.retain(|s| s.listens != program.listens);
        let process = ServerProcess::spawn(self.command(program)?);
        let banner = process.wait_for_stdout(|t| t.contains("Ctrl+C"), "the server's banner");
        let port = match program.listens {
            Listen::Port(_) => Some(
                *shell::loopback_ports(&banner)
                    .first()
                    .ok_or_else(|| format!("the banner names no 127.0.0.1:PORT:\n{banner}"))?,
            ),
            Listen::UnixSocket if banner.contains(&self.dir().display().to_string()) => None,
            Listen::UnixSocket => return Err(format!("the banner names no socket:\n{banner}")),
            Listen::Nowhere => return Err("a server that listens nowhere".to_owned()),
        };
        self.servers.push(Served {
            listens: program.listens,
            port,
            command: text.to_owned(),
            process,
        });
        Ok(banner)
    }

    /// Starts the program the documents say listens on each of `ports` by default, for the
    /// ones no command of the section has started.
    fn start_missing_servers(&mut self, ports: &[u16]) -> Result<(), String> {
        for &port in ports {
            if self.ports().contains_key(&port) {
                continue;
            }
            let Some(server) = SERVERS.iter().find(|s| s.default_port == port) else {
                return Err(format!(
                    "nothing listens on 127.0.0.1:{port} in this section, and no example does by \
                     default: start a server with a command before this one"
                ));
            };
            let program = super::serve(server, Vec::new())?;
            let text = format!(
                "{} (port {port}'s server, started for the section)",
                server.name
            );
            self.start(&program, &text)?;
        }
        Ok(())
    }

    /// Runs a client (or a command that needs no server) to its end, and checks it.
    fn run(&mut self, found: &Found, program: &Program) -> Result<(), String> {
        if curl_missing(program) {
            return Ok(());
        }
        self.start_missing_servers(&program.talks_to)?;
        let logs = self.log_lengths(&program.talks_to);
        let exited = ServerProcess::spawn(self.command(program)?).wait_for_exit();
        check_exit(&exited)?;
        self.wait_for_log_lines(&logs, 1);
        self.check_output(found, &exited)
    }

    /// Runs `second` while `first` still runs, and checks that it ends only after `first`.
    fn run_together(
        &mut self,
        first_found: &Found,
        first: &Program,
        second_found: &Found,
        second: &Program,
    ) -> Result<(), String> {
        if curl_missing(first) || curl_missing(second) {
            return Ok(());
        }
        let ports: Vec<u16> = first
            .talks_to
            .iter()
            .chain(&second.talks_to)
            .copied()
            .collect();
        self.start_missing_servers(&ports)?;
        let logs = self.log_lengths(&first.talks_to);
        let mut one = ServerProcess::spawn(self.command(first)?);
        thread::sleep(MEANWHILE);
        let mut two = ServerProcess::spawn(self.command(second)?);
        if !one.is_running() {
            return Err(format!(
                "`{}` ended before `{}` started: nothing showed whether it waits",
                first_found.text, second_found.text
            ));
        }
        let deadline = Instant::now() + PATIENCE;
        // The second is looked at first: if it has ended while the first still runs, it did
        // not wait.
        while one.is_running() {
            if !two.is_running() && one.is_running() {
                let output = two.wait_for_exit();
                return Err(format!(
                    "`{}` ended while `{}` still ran; it printed:\n{}{}",
                    second_found.text, first_found.text, output.stdout, output.stderr
                ));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "`{}` still runs after {PATIENCE:?}",
                    first_found.text
                ));
            }
            thread::sleep(Duration::from_millis(5));
        }
        let (one, two) = (one.wait_for_exit(), two.wait_for_exit());
        check_exit(&one)?;
        check_exit(&two)?;
        self.wait_for_log_lines(&logs, 2);
        self.check_output(first_found, &one)?;
        self.check_output(second_found, &two)
    }

    /// The document's port → the port its server got.
    fn ports(&self) -> BTreeMap<u16, u16> {
        let served = self.servers.iter();
        served
            .filter_map(|s| match (s.listens, s.port) {
                (Listen::Port(doc), Some(port)) => Some((doc, port)),
                _ => None,
            })
            .collect()
    }

    /// `text` with the section's ports and directory in place of the document's.
    fn local(&mut self, text: &str) -> String {
        let text = shell::replace_ports(text, &self.ports());
        match text.contains(RUN_DIR) {
            true => text.replace(RUN_DIR, &format!("{}/", self.dir().display())),
            false => text,
        }
    }

    fn command(&mut self, program: &Program) -> Result<Command, String> {
        let mut command = match &program.exec {
            Exec::Rgiref => Command::new(BINARY),
            Exec::Example(name) => Command::new(example_binary(name)),
            Exec::Curl => Command::new("curl"),
            Exec::Shell(text) => {
                let mut shell = Command::new("sh");
                shell.arg("-c").arg(with_binaries(&self.local(text))?);
                shell
            }
        };
        for arg in &program.args {
            command.arg(self.local(arg));
        }
        command.current_dir(env!("CARGO_MANIFEST_DIR"));
        Ok(command)
    }

    fn dir(&mut self) -> PathBuf {
        self.dir.get_or_insert_with(TempDir::new).0.clone()
    }

    /// How much each server on `ports` has logged so far, by its index.
    fn log_lengths(&self, ports: &[u16]) -> Vec<(usize, usize)> {
        let by_port = self.ports();
        let actual: Vec<u16> = ports
            .iter()
            .filter_map(|p| by_port.get(p))
            .copied()
            .collect();
        let servers = self.servers.iter().enumerate();
        servers
            .filter(|(_, s)| s.port.is_some_and(|p| actual.contains(&p)))
            .map(|(i, s)| (i, s.process.stderr_text().len()))
            .collect()
    }

    /// Waits for `lines` more lines in the log of each server `logs` names (and panics, with
    /// the server's output, if they do not come).
    fn wait_for_log_lines(&self, logs: &[(usize, usize)], lines: usize) {
        for &(i, before) in logs {
            let server = &self.servers[i];
            let what = format!("{lines} more line(s) in the log of `{}`", server.command);
            server.process.wait_for_stderr(
                |log| {
                    log.get(before..)
                        .is_some_and(|new| new.matches('\n').count() >= lines)
                },
                &what,
            );
        }
    }

    /// Compares the output with what the document shows: the ```text block after the
    /// command's block, and the quotes in `EXPECTED`.
    fn check_output(&self, found: &Found, exited: &Exited) -> Result<(), String> {
        let normalize = Normalize {
            ports_back: self.ports().into_iter().map(|(doc, p)| (p, doc)).collect(),
        };
        let output = format!("{}{}", exited.stdout, exited.stderr);
        let lines = normalize.lines(&output);
        let show = || format!("--- it printed (normalized) ---\n{}", lines.join("\n"));
        if let Some(shown) = &found.shown {
            let mut rest = lines.iter();
            for expected in shown.iter().map(|l| normalize.line(l)) {
                if !rest.any(|line| *line == expected) {
                    return Err(format!(
                        "the document shows this output after it, but this line is not in it \
                         (in order, normalized):\n    {expected}\n{}",
                        show()
                    ));
                }
            }
        }
        for expect in found.expected() {
            let ok = match expect {
                Expect::Shows(quote) => {
                    let quote = normalize.line(quote);
                    lines.iter().any(|line| line.contains(&quote))
                }
                Expect::Starts(quote) => exited.stdout.starts_with(quote),
                Expect::WaitsForThePrevious(_) => true, // checked by run_together
            };
            if !ok {
                return Err(format!("the document says {expect:?}\n{}", show()));
            }
        }
        Ok(())
    }

    /// Every server of the section still runs: none crashed under its commands.
    fn still_serving(&mut self) -> Result<(), String> {
        for server in &mut self.servers {
            if !server.process.is_running() {
                return Err(format!(
                    "`{}` stopped before its section ended; its log:\n{}",
                    server.command,
                    server.process.stderr_text()
                ));
            }
        }
        Ok(())
    }
}

fn check_banner(found: &Found, banner: &str) -> Result<(), String> {
    for expect in found.expected() {
        if let Expect::Shows(quote) = expect {
            if !banner.contains(quote) {
                return Err(format!(
                    "the document says {expect:?}; the banner:\n{banner}"
                ));
            }
        }
    }
    Ok(())
}

fn check_exit(exited: &Exited) -> Result<(), String> {
    match exited.code {
        Some(0) => Ok(()),
        code => Err(format!(
            "it exited with {code:?}\n--- stdout ---\n{}--- stderr ---\n{}",
            exited.stdout, exited.stderr
        )),
    }
}

/// `text` with `target/debug/rgiref` and `target/debug/examples/NAME` made the binaries Cargo
/// built for this test (whatever the profile).
fn with_binaries(text: &str) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("target/debug/") {
        out.push_str(&rest[..at]);
        rest = &rest[at + "target/debug/".len()..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || "_-/".contains(c)))
            .unwrap_or(rest.len());
        let binary = match &rest[..end] {
            "rgiref" => PathBuf::from(BINARY),
            path => match path.strip_prefix("examples/") {
                Some(name) => example_binary(name),
                None => return Err(format!("target/debug/{path}: no such binary is built")),
            },
        };
        out.push_str(&format!("'{}'", binary.display()));
        rest = &rest[end..];
    }
    out.push_str(rest);
    Ok(out)
}

/// True (after saying so once) if `program` is curl and curl is not installed. Under
/// `CI=true` a missing curl fails instead: `.ci/run` installs it.
fn curl_missing(program: &Program) -> bool {
    static MISSING: OnceLock<bool> = OnceLock::new();
    if program.exec != Exec::Curl {
        return false;
    }
    *MISSING.get_or_init(|| {
        let missing = Command::new("curl").arg("--version").output().is_err();
        if missing && std::env::var("CI").is_ok_and(|v| v == "true") {
            panic!("curl is not installed: under CI=true that is a failure (.ci/run installs it)");
        }
        if missing {
            use std::io::Write;
            let line = "doc_commands: skipped the documents' curl commands: curl is not installed";
            let _ = writeln!(std::io::stderr(), "{line}");
        }
        missing
    })
}

/// A directory for a section's sockets, removed when the section ends.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let n = COUNT.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let path = std::env::temp_dir().join(format!("rgiref-doc-commands-{pid}-{n}"));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("make a temporary directory");
        TempDir(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
