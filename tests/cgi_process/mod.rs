//! Runs a program the way a web server runs a CGI program, for `cgi_program.rs` and
//! `cgi_child.rs`: an environment holding only the variables given (`env_clear`), a body on
//! standard input, and standard output and error read to their end.
//!
//! Standard input comes three ways ([`Stdin`]), because each proves something:
//! * kept open after the body, as a web server may (RFC 3875 §4.2): the program must finish
//!   without waiting for an end-of-file that never comes, and the pipe stays open until it has
//!   exited;
//! * closed after the body: a body shorter than `CONTENT_LENGTH` ends in an end-of-file;
//! * a file, whose read position — shared with the child, which inherits the same open file —
//!   says afterwards exactly how many bytes the program read.
//!
//! Every wait has [`PATIENCE`] as a safety net, so a program that hangs fails its test instead
//! of the suite; no test asserts how long anything took.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::fmt;
use std::fs::File;
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

/// The longest a test waits for the program to finish.
pub const PATIENCE: Duration = Duration::from_secs(10);

/// What the program's standard input is.
pub enum Stdin<'a> {
    /// A pipe holding these bytes, kept open until the program has exited.
    KeptOpen(&'a [u8]),
    /// A pipe holding these bytes, then closed.
    ClosedAfter(&'a [u8]),
    /// A file holding these bytes; [`Ran::stdin_read`] says how many the program read.
    File(&'a [u8]),
}

/// What a CGI program left behind.
pub struct Ran {
    /// The exit code (`None` if a signal ended it).
    pub code: Option<i32>,
    /// The head: everything before the blank line, lines split on CRLF.
    pub head: Vec<String>,
    /// Everything after the blank line.
    pub body: Vec<u8>,
    /// The whole of standard output.
    pub stdout: Vec<u8>,
    pub stderr: String,
    /// For [`Stdin::File`]: how many bytes of it the program read.
    pub stdin_read: Option<u64>,
}

impl Ran {
    /// The first head line, e.g. `Status: 200 OK`.
    pub fn first_line(&self) -> &str {
        self.head.first().map_or("", String::as_str)
    }

    /// The value of header `name` (case-insensitive), if the head has it.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.iter().find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }

    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

impl fmt::Debug for Ran {
    /// As text, so a failing assertion shows the response as a person reads it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ran")
            .field("code", &self.code)
            .field("head", &self.head)
            .field("body", &self.body_text())
            .field("stderr", &self.stderr)
            .field("stdin_read", &self.stdin_read)
            .finish()
    }
}

/// `program` with an environment of exactly `vars`, as a web server starts a CGI program.
pub fn cgi_command<N: AsRef<OsStr>, V: AsRef<OsStr>>(program: &Path, vars: &[(N, V)]) -> Command {
    let mut command = Command::new(program);
    command.env_clear();
    for (name, value) in vars {
        command.env(name, value);
    }
    command
}

/// Runs `command` with `stdin`, and collects what it leaves.
pub fn run(mut command: Command, stdin: Stdin<'_>) -> Ran {
    command.stdout(Stdio::piped()).stderr(Stdio::piped());
    match stdin {
        Stdin::KeptOpen(bytes) => {
            let (mut child, pipe) = spawn_with_pipe(command, bytes);
            // The pipe is still open while we wait: `pipe` lives until after `finish`.
            let ran = finish(&mut child);
            drop(pipe);
            ran
        }
        Stdin::ClosedAfter(bytes) => {
            let (mut child, pipe) = spawn_with_pipe(command, bytes);
            drop(pipe);
            finish(&mut child)
        }
        Stdin::File(bytes) => {
            let mut file = temp_file(bytes);
            command.stdin(Stdio::from(file.try_clone().expect("share the stdin file")));
            let mut child = command.spawn().expect("start the CGI program");
            let mut ran = finish(&mut child);
            ran.stdin_read = Some(file.stream_position().expect("the stdin file's position"));
            ran
        }
    }
}

fn spawn_with_pipe(mut command: Command, bytes: &[u8]) -> (Child, std::process::ChildStdin) {
    command.stdin(Stdio::piped());
    let mut child = command.spawn().expect("start the CGI program");
    let mut pipe = child.stdin.take().expect("piped stdin");
    // Small bodies: they fit in the pipe's buffer, so this does not wait for the program. A
    // program that does not read its body (the demo app) may already have exited and closed
    // its end: a broken pipe then is the program's right, not a failure.
    match pipe.write_all(bytes) {
        Err(error) if error.kind() != std::io::ErrorKind::BrokenPipe => {
            panic!("write the body to stdin: {error}")
        }
        _ => {}
    }
    (child, pipe)
}

/// Reads standard output and error to their end, then reaps the program.
fn finish(child: &mut Child) -> Ran {
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let (done, finished) = mpsc::channel();
    let out = thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stdout.read_to_end(&mut bytes);
        let _ = done.send(());
        bytes
    });
    let err = thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = stderr.read_to_end(&mut bytes);
        bytes
    });
    if finished.recv_timeout(PATIENCE).is_err() {
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "the CGI program did not finish within {PATIENCE:?}: is it waiting for standard \
             input to end?"
        );
    }
    let status = child.wait().expect("wait for the CGI program");
    let stdout = out.join().expect("the stdout reader");
    let stderr = String::from_utf8_lossy(&err.join().expect("the stderr reader")).into_owned();
    let (head, body) = split_response(&stdout);
    Ran {
        code: status.code(),
        head,
        body,
        stdout,
        stderr,
        stdin_read: None,
    }
}

/// Splits a response at its blank line. Without one, it is all body (an HTTP/0.9 answer).
fn split_response(raw: &[u8]) -> (Vec<String>, Vec<u8>) {
    match raw.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(end) => {
            let head = String::from_utf8_lossy(&raw[..end]);
            let lines = head.split("\r\n").map(str::to_owned).collect();
            (lines, raw[end + 4..].to_vec())
        }
        None => (Vec::new(), raw.to_vec()),
    }
}

/// A new file in Cargo's temporary directory for tests, holding `bytes`, open for reading at
/// its start.
fn temp_file(bytes: &[u8]) -> File {
    let path = temp_path("stdin");
    std::fs::write(&path, bytes).expect("write the stdin file");
    let file = File::open(&path).expect("open the stdin file");
    let _ = std::fs::remove_file(&path); // the open file lives on; nothing is left behind
    file
}

/// A path no other test in this process uses.
pub fn temp_path(what: &str) -> PathBuf {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let name = format!("cgi-{what}-{}-{n}", std::process::id());
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(name)
}
