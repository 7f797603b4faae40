//! CGI from the program's side (RFC 3875): a web server starts this process for one request,
//! and the process answers it and exits. (Go's `net/http/cgi/child.go` is the same side; its
//! `host.go`, the web server's side, has no counterpart here.)
//!
//! Stages: the body half of **read request** (standard input, bounded by `CONTENT_LENGTH`),
//! **build environ** (the process environment, through [`environ_variables`]), then the
//! engine's **call app**, **send headers**, **send body** and **finish**, over standard output.
//! The web server in front did the rest: it accepted the connection, parsed the request, and
//! will make our `Status:` header into a status line. wsgiref's `CGIHandler` plays this part.
//!
//! Interface:
//! * [`run`] is a CGI program's whole `main`: `fn main() -> ExitCode { cgi::run(&app) }`. It
//!   reads the request from the process, runs the application once, writes the response to
//!   standard output, and returns the exit status.
//! * [`run_with`] is the same with the variables and the three streams passed in: for tests,
//!   which drive it in memory, and for programs that get their request some other way.
//! * The application reads the body from [`Environ::input`], never from standard input itself,
//!   and never prints to standard output: under CGI, standard output *is* the response.
//!
//! What goes where:
//!
//! ```text
//!   environment ──▶ the meta-variables (RFC 3875 §4.1), filtered: nothing else gets in
//!   stdin       ──▶ the body: exactly CONTENT_LENGTH bytes (§4.2), no read at all without it
//!                   (except a chunked upload streamed without a length: then, to its end)
//!   stdout      ◀── Status: 200 OK\r\n                 (§6.3.3: the web server makes the
//!                   Content-Type: text/plain\r\n         status line, and adds Date and Server)
//!                   Content-Length: 13\r\n
//!                   \r\n
//!                   Hello world!\n
//!   stderr      ◀── plain lines: the web server copies them into its error log
//!   exit status ◀── 0 if the whole response went out (an error page counts), 1 if not
//! ```
//!
//! Left out, on purpose: a local redirect (§6.2.2, a bare `Location:` with no status) cannot be
//! sent, because the engine always sends `Status:`; and there is no timeout on reading the body,
//! as in Go's `child.go`: the web server that started us knows how long it will wait, and can end
//! the process.

use std::cell::RefCell;
use std::ffi::OsString;
use std::io::{self, Read, Write};
use std::path::Path;
use std::process::ExitCode;

use super::{environ_variables, VariableError, Variables};
use crate::engine::{self, Ending, HeadStyle, Outcome, Transport};
use crate::gateway::{
    value_from_bytes, Application, Environ, ErrorSink, ErrorStream, Input, InputError, Status,
};
use crate::observe::{Event, Observer};
use crate::trace::{Trace, TraceOptions};
use crate::write_buffer::WriteBuffer;
use crate::Stage;

/// How the response head looks: a `Status:` header for the web server to read, or — for a
/// program named `nph-*` — a whole HTTP response that the web server passes on untouched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A CGI response (RFC 3875 §6): `Status: 200 OK`, the headers, a blank line, the body. The
    /// web server parses the head and makes the HTTP response from it. Nearly every program.
    Parsed,
    /// "Non-parsed header" output (RFC 3875 §5): the program is the origin server, and writes
    /// the status line, `Date` and `Server` itself. The engine already writes that head for the
    /// HTTP server, so it costs nothing here. Web servers that support it (Apache) recognise an
    /// NPH program by its file name starting with `nph-`; see [`Mode::for_program`].
    Nph,
}

impl Mode {
    /// The mode for the program at `path` (its `argv[0]`): [`Mode::Nph`] if the file name starts
    /// with `nph-`, the convention the web server went by when it chose to pass our output on
    /// unparsed (RFC 3875 §5.1 leaves the choice to the server).
    ///
    /// ```
    /// use rgiref::cgi::Mode;
    /// assert_eq!(Mode::for_program("/srv/cgi-bin/nph-app"), Mode::Nph);
    /// assert_eq!(Mode::for_program("/srv/cgi-bin/app"), Mode::Parsed);
    /// ```
    pub fn for_program(path: impl AsRef<Path>) -> Mode {
        let name = path.as_ref().file_name();
        if name.is_some_and(|n| n.as_encoded_bytes().starts_with(b"nph-")) {
            Mode::Nph
        } else {
            Mode::Parsed
        }
    }

    /// The head the engine writes in this mode. NPH output must suit `SERVER_PROTOCOL`
    /// (RFC 3875 §5.2): an HTTP/1.0 status line answers any HTTP/1.x request, and an HTTP/0.9
    /// request gets the body alone.
    fn head_style(self, protocol: Option<&[u8]>) -> HeadStyle<'static> {
        match self {
            Mode::Parsed => HeadStyle::StatusHeader,
            Mode::Nph if protocol == Some(b"HTTP/0.9") => HeadStyle::None,
            Mode::Nph => HeadStyle::StatusLine {
                version: "HTTP/1.0",
                server: crate::SERVER_SOFTWARE,
            },
        }
    }
}

/// Runs `app` for the one request this process was started for, and returns the exit status
/// for `main` (see [`exit_code`]): [`run_with`] over the process environment (as bytes),
/// standard input, output and error, in the [`Mode`] the program's name (`argv[0]`) says.
///
/// ```no_run
/// use std::process::ExitCode;
/// use rgiref::demo::demo_app;
///
/// fn main() -> ExitCode {
///     rgiref::cgi::run(&demo_app)
/// }
/// ```
///
/// To watch the request cross the stages, set `RGIREF_TRACE` in the program's environment (as
/// `--trace` takes it: empty, `bytes`, `secrets`): the trace goes to standard error, which the
/// web server copies into its error log. (It is read from our own environment, for us; like
/// every variable that is not a request variable, it never reaches the application.)
pub fn run<A: Application + ?Sized>(app: &A) -> ExitCode {
    let mode = std::env::args_os()
        .next()
        .map_or(Mode::Parsed, Mode::for_program);
    let vars = std::env::vars_os().map(|(name, value)| (os_bytes(name), os_bytes(value)));
    let (stdin, stdout) = unbuffered_stdio();
    let trace = match std::env::var("RGIREF_TRACE").map(|words| words.parse::<TraceOptions>()) {
        Ok(Ok(options)) => Some(Trace::stderr(options)),
        Ok(Err(message)) => {
            eprintln!("rgiref: RGIREF_TRACE: {message}; serving without a trace");
            None
        }
        Err(_) => None, // not set (or not Unicode): no trace
    };
    let observer = trace.as_ref().map(|trace| trace as &dyn Observer);
    let outcome = serve(app, mode, vars, stdin, stdout, io::stderr(), observer);
    exit_code(&outcome)
}

/// [`run`] with everything passed in: the meta-variables as `(name, value)` bytes, and the
/// three streams. Returns how the response went.
///
/// ```
/// use rgiref::cgi::{self, Mode};
/// use rgiref::demo::demo_app;
///
/// let vars = [
///     ("GATEWAY_INTERFACE", "CGI/1.1"), ("REQUEST_METHOD", "GET"), ("QUERY_STRING", "x=1"),
///     ("SECRET_KEY", "hunter2"), // the process's own environment: it stays out
/// ];
/// let mut stdout = Vec::new();
/// let outcome =
///     cgi::run_with(&demo_app, Mode::Parsed, vars, std::io::empty(), &mut stdout, std::io::sink());
/// let response = String::from_utf8(stdout).unwrap();
/// assert!(response.starts_with("Status: 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\n"));
/// assert!(response.contains("QUERY_STRING = \"x=1\"\n"));
/// assert!(!response.contains("hunter2") && !response.contains("Date:"));
/// assert_eq!(outcome.status, Some(200));
/// ```
pub fn run_with<A, N, V>(
    app: &A,
    mode: Mode,
    vars: impl IntoIterator<Item = (N, V)>,
    stdin: impl Read + 'static,
    stdout: impl Write,
    stderr: impl Write + 'static,
) -> Outcome
where
    A: Application + ?Sized,
    N: AsRef<[u8]>,
    V: AsRef<[u8]>,
{
    serve(app, mode, vars, stdin, stdout, stderr, None)
}

/// [`run_with`], with an observer told about each step (see `crate::observe`).
fn serve<A, N, V>(
    app: &A,
    mode: Mode,
    vars: impl IntoIterator<Item = (N, V)>,
    stdin: impl Read + 'static,
    stdout: impl Write,
    stderr: impl Write + 'static,
    observer: Option<&dyn Observer>,
) -> Outcome
where
    A: Application + ?Sized,
    N: AsRef<[u8]>,
    V: AsRef<[u8]>,
{
    let sent: Vec<(N, V)> = vars.into_iter().collect();
    let errors = ErrorStream::new(PlainLines(RefCell::new(stderr)));
    let protocol = find(&sent, "SERVER_PROTOCOL");
    let mut transport = StdoutTransport::new(stdout, mode.head_style(protocol), observer);

    // Stage "build environ": the request's variables, and nothing else of our environment.
    let pairs = sent
        .iter()
        .map(|(name, value)| (name.as_ref(), value.as_ref()));
    let variables = match environ_variables(pairs) {
        Ok(variables) => variables,
        Err(refused) => return refuse(&mut transport, &errors, &sent, &refused),
    };
    for note in &variables.left_out {
        errors.log(&format!("{}: {note}", Stage::BuildEnviron));
    }
    if let Some(observer) = observer {
        observer.event(&Event::Environ {
            vars: &variables.vars,
        });
    }
    let environ = cgi_environ(variables, stdin, errors);

    // Stages "call app" to "finish": the engine's, as for every transport.
    engine::run(app, environ, &mut transport)
}

/// The exit status for a response that went as `outcome` says: success if the web server got
/// a whole response — the application's, or an error page in its place — and failure if the
/// response broke off after its head went out, or the web server stopped reading. A failure
/// status is the one way a CGI program can say "that response was incomplete".
///
/// ```
/// use std::process::ExitCode;
/// use rgiref::cgi::exit_code;
/// use rgiref::engine::{Ending, Outcome};
/// let cut = Outcome { status: Some(200), body_bytes: 10, ending: Ending::CutShort };
/// assert_eq!(exit_code(&cut), ExitCode::FAILURE);
/// ```
pub fn exit_code(outcome: &Outcome) -> ExitCode {
    match outcome.ending {
        Ending::Complete | Ending::ErrorPage | Ending::CleanUpFailed => ExitCode::SUCCESS,
        Ending::CutShort | Ending::PeerGone => ExitCode::FAILURE,
    }
}

/// The environ for this request. PEP 3333's flags for CGI:
/// * `run_once`: this process serves one request and exits, so an application gains nothing by
///   warming a cache or holding a connection pool for "next time";
/// * `multiprocess`: the web server starts a process per request and may run several at once,
///   so state shared between requests must live outside the process (a file, a database);
/// * `multithread`: false, nothing here starts a thread.
fn cgi_environ(variables: Variables, stdin: impl Read + 'static, errors: ErrorStream) -> Environ {
    let mut environ = Environ {
        url_scheme: variables.url_scheme,
        run_once: true,
        multiprocess: true,
        multithread: false,
        ..Environ::new(variables.vars, Input::empty(), errors)
    };
    // RFC 3875 §4.1.2: no CONTENT_LENGTH (or 0), no body, and standard input is not even
    // looked at: a web server need not close it, so a read would wait for ever. (Go's
    // child.go decides the same way.) The one exception is a body the web server streams.
    match environ.content_length() {
        Some(length) if length > 0 => environ.input = Input::new(StdinBody::new(stdin, length)),
        None if streams_a_chunked_body(&environ) => environ.input = Input::new(StdinToEnd(stdin)),
        _ => {}
    }
    environ
}

/// True when the web server passes on a chunked upload as it arrives: Apache's mod_cgi and
/// mod_cgid do, with `HTTP_TRANSFER_ENCODING: chunked` and no `CONTENT_LENGTH` (which
/// §4.1.2 says they must set), and close standard input after the body. Its end is then the
/// only end the body has. Reading nothing instead would lose the upload, and Apache, finding
/// the pipe closed while it still writes, cuts off the response too (the interop test,
/// `tests/interop.rs`, saw both).
fn streams_a_chunked_body(environ: &Environ) -> bool {
    environ
        .get("HTTP_TRANSFER_ENCODING")
        .is_some_and(|codings| codings.to_ascii_lowercase().contains("chunked"))
}

/// The request body when the web server streams it: standard input, to its end.
struct StdinToEnd<R>(R);

impl<R: Read> Read for StdinToEnd<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf).map_err(|error| match error.kind() {
            io::ErrorKind::Interrupted => error,
            kind => io::Error::new(
                kind,
                format!("reading the request body from standard input failed: {error}"),
            ),
        })
    }
}

/// Answers a request whose variables cannot describe it truthfully: a line for the error log,
/// and the error page.
fn refuse<N: AsRef<[u8]>, V: AsRef<[u8]>>(
    transport: &mut dyn Transport,
    errors: &ErrorStream,
    sent: &[(N, V)],
    refused: &VariableError,
) -> Outcome {
    errors.log(&format!("{}: {refused}", Stage::BuildEnviron));
    // A HEAD request's error page has no body either.
    let method = find(sent, "REQUEST_METHOD").map(value_from_bytes);
    let method = method.as_deref().unwrap_or("");
    engine::send_error(transport, method, refused.status, &refused.message)
}

/// The value of the variable `name`, as it was sent.
fn find<'a, N: AsRef<[u8]>, V: AsRef<[u8]>>(sent: &'a [(N, V)], name: &str) -> Option<&'a [u8]> {
    sent.iter()
        .rfind(|(n, _)| n.as_ref() == name.as_bytes())
        .map(|(_, value)| value.as_ref())
}

/// The request body: the first `CONTENT_LENGTH` bytes of standard input, and not one more.
///
/// RFC 3875 §4.2: the web server sends at least that many bytes, but need not close standard
/// input after them, and "MAY supply extension data" — so a program that reads to end-of-file
/// waits for ever, and one that reads past the length reads something that is not the body.
/// wsgiref's `CGIHandler` hands the application `sys.stdin` itself, and `wsgi.input.read()`
/// then hangs under such a server. Here the body ends where `CONTENT_LENGTH` says.
struct StdinBody<R> {
    stdin: R,
    length: u64,
    received: u64,
}

impl<R: Read> StdinBody<R> {
    fn new(stdin: R, length: u64) -> StdinBody<R> {
        StdinBody {
            stdin,
            length,
            received: 0,
        }
    }

    /// Standard input ended before the body did. The client (through the web server) broke the
    /// request, so the error carries a 400: an application that gives up with it (`?`) gets a
    /// 400 page, not a 500. (Go's `LimitReader` would just end the body early, silently.)
    fn ended_early(&self) -> io::Error {
        let message = format!(
            "the request body ended after {} of its {} bytes (CONTENT_LENGTH): standard input \
             closed early",
            self.received, self.length
        );
        InputError::new(Status::BAD_REQUEST, message).into_io(io::ErrorKind::UnexpectedEof)
    }
}

impl<R: Read> Read for StdinBody<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = self.length - self.received;
        if left == 0 || buf.is_empty() {
            return Ok(0);
        }
        // Never ask for more than the body has left: the bytes after it are not ours to read.
        let wanted = (buf.len() as u64).min(left) as usize;
        match self.stdin.read(&mut buf[..wanted]) {
            Ok(0) => Err(self.ended_early()),
            Ok(n) => {
                self.received += n as u64;
                Ok(n)
            }
            // Interrupted: the caller retries (read_to_end and friends do).
            Err(error) if error.kind() == io::ErrorKind::Interrupted => Err(error),
            Err(error) => Err(io::Error::new(
                error.kind(),
                format!("reading the request body from standard input failed: {error}"),
            )),
        }
    }
}

/// Where the engine's response bytes go: standard output, through a [`WriteBuffer`], so a
/// small response — head and body — is one `write` on the pipe. A web server copes with any
/// number of writes; one is the least work for both processes, and gives the web server the
/// head and the body in one read.
struct StdoutTransport<'o, W> {
    stdout: W,
    head_style: HeadStyle<'static>,
    buffer: WriteBuffer,
    observer: Option<&'o dyn Observer>,
}

impl<'o, W: Write> StdoutTransport<'o, W> {
    fn new(
        stdout: W,
        head_style: HeadStyle<'static>,
        observer: Option<&'o dyn Observer>,
    ) -> StdoutTransport<'o, W> {
        StdoutTransport {
            stdout,
            head_style,
            buffer: WriteBuffer::new(),
            observer,
        }
    }
}

impl<W: Write> Transport for StdoutTransport<'_, W> {
    fn head_style(&self) -> HeadStyle<'_> {
        self.head_style
    }

    fn observer(&self) -> Option<&dyn Observer> {
        self.observer
    }

    fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        let stdout = &mut self.stdout;
        self.buffer.write(bytes, |bytes| {
            stdout.write_all(bytes).map_err(explain_stdout_error)
        })
    }

    fn flush(&mut self) -> io::Result<()> {
        let stdout = &mut self.stdout;
        self.buffer
            .flush(|bytes| stdout.write_all(bytes).map_err(explain_stdout_error))?;
        self.stdout.flush().map_err(explain_stdout_error)
    }

    /// A CGI program has no way to mark a response as broken on the pipe itself: it can only
    /// stop writing, and exit with a failure status ([`exit_code`] sees `Ending::CutShort`).
    /// What the web server can tell from that depends on the head: with a `Content-Length`, it
    /// sees standard output close before the promised length arrived, and knows the response is
    /// incomplete. Without one, the body ends at the close, as every complete body without a
    /// length does; only the exit status says otherwise, and by then the web server has passed
    /// the bytes on and can at most log it. That is why the engine sends `Content-Length`
    /// whenever it knows the length.
    fn abort(&mut self) {}
}

/// Says in words what a failed write to standard output means.
fn explain_stdout_error(error: io::Error) -> io::Error {
    let message = match error.kind() {
        // Rust ignores SIGPIPE, so a closed pipe is an error here rather than death by signal.
        io::ErrorKind::BrokenPipe => {
            "the web server stopped reading standard output (broken pipe)".to_owned()
        }
        _ => format!("writing to standard output failed: {error}"),
    };
    io::Error::new(error.kind(), message)
}

/// The application's error lines (and the engine's), as plain lines on standard error. The
/// web server copies them into its error log with a prefix of its own (Apache's names the
/// module and the client), so we add none. Control characters are escaped, so each line stays
/// one line of that log.
struct PlainLines<E>(RefCell<E>);

impl<E: Write> ErrorSink for PlainLines<E> {
    fn line(&self, line: &str) {
        let mut text = crate::log::escape(line.as_bytes());
        text.push('\n');
        if let Ok(mut stderr) = self.0.try_borrow_mut() {
            // One write per line. If standard error is gone there is nowhere left to say so.
            let _ = stderr.write_all(text.as_bytes());
        }
    }
}

/// A variable's name or value as the bytes the web server set. On Unix those are exactly the
/// bytes; elsewhere (Windows keeps the environment as UTF-16) what is not Unicode is replaced.
#[cfg(unix)]
fn os_bytes(text: OsString) -> Vec<u8> {
    std::os::unix::ffi::OsStringExt::into_vec(text)
}

#[cfg(not(unix))]
fn os_bytes(text: OsString) -> Vec<u8> {
    text.to_string_lossy().into_owned().into_bytes()
}

/// Standard input and output without std's buffers, which would each break a promise above:
/// `Stdin` reads ahead in 8 KiB blocks, past the body (RFC 3875 §4.2: the program "MUST NOT
/// attempt to read more than CONTENT_LENGTH bytes"), and `Stdout` is line-buffered, holding
/// back whatever follows the last newline until a flush, so one response could leave in two
/// writes. On Unix we read and write a duplicate of each file descriptor instead, a plain
/// `File`; if that fails, and on other systems, std's own handles are used.
#[cfg(unix)]
fn unbuffered_stdio() -> (Box<dyn Read>, Box<dyn Write>) {
    use std::fs::File;
    use std::os::fd::AsFd;
    let stdin: Box<dyn Read> = match io::stdin().as_fd().try_clone_to_owned() {
        Ok(fd) => Box::new(File::from(fd)),
        Err(_) => Box::new(io::stdin()),
    };
    let stdout: Box<dyn Write> = match io::stdout().as_fd().try_clone_to_owned() {
        Ok(fd) => Box::new(File::from(fd)),
        Err(_) => Box::new(io::stdout()),
    };
    (stdin, stdout)
}

#[cfg(not(unix))]
fn unbuffered_stdio() -> (Box<dyn Read>, Box<dyn Write>) {
    (Box::new(io::stdin()), Box::new(io::stdout()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::{AppError, Body, StartResponse};
    use std::rc::Rc;

    /// A writer tests can read back after `run_with` has taken it ('static, like stderr).
    #[derive(Clone, Default)]
    struct Shared(Rc<RefCell<Vec<u8>>>);

    impl Shared {
        fn text(&self) -> String {
            String::from_utf8_lossy(&self.0.borrow()).into_owned()
        }
    }

    impl Write for Shared {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.borrow_mut().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// Standard output that counts its writes.
    #[derive(Default)]
    struct CountingStdout {
        bytes: Vec<u8>,
        writes: usize,
    }

    impl Write for CountingStdout {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.writes += 1;
            self.bytes.extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    /// Standard input that must not be read: a test fails if it is.
    struct Untouchable;

    impl Read for Untouchable {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            panic!("standard input was read");
        }
    }

    /// Standard input holding `bytes`, then failing the test if asked for more — as a web
    /// server that keeps standard input open would make us wait.
    struct OpenStdin(io::Cursor<Vec<u8>>);

    impl Read for OpenStdin {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.0.read(buf)?;
            assert!(n > 0, "read past the body: this would wait for ever");
            Ok(n)
        }
    }

    struct Ran {
        stdout: String,
        stderr: String,
        outcome: Outcome,
    }

    fn run_app<A: Application>(app: &A, vars: &[(&str, &[u8])], stdin: impl Read + 'static) -> Ran {
        let stderr = Shared::default();
        let mut stdout = Vec::new();
        let pairs = vars.iter().map(|(n, v)| (n.as_bytes(), *v));
        let outcome = run_with(app, Mode::Parsed, pairs, stdin, &mut stdout, stderr.clone());
        Ran {
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: stderr.text(),
            outcome,
        }
    }

    fn echo(environ: &mut Environ, start_response: &mut StartResponse) -> Result<Body, AppError> {
        let mut body = Vec::new();
        environ.input.read_to_end(&mut body)?;
        start_response.start("200 OK", [("Content-Type", "application/octet-stream")])?;
        Ok(Body::from(body))
    }

    #[test]
    fn a_get_becomes_a_cgi_response_with_the_cgi_flags() {
        let ran = run_app(
            &crate::demo::demo_app,
            &[("REQUEST_METHOD", b"GET"), ("QUERY_STRING", b"a=1")],
            Untouchable,
        );
        assert_eq!(ran.outcome.ending, Ending::Complete);
        assert!(
            ran.stdout.starts_with("Status: 200 OK\r\n"),
            "{}",
            ran.stdout
        );
        for expected in [
            "QUERY_STRING = \"a=1\"\n",
            "PATH_INFO = \"\"\n",
            "rgi.run_once = true\n",
            "rgi.multiprocess = true\n",
            "rgi.multithread = false\n",
            "rgi.url_scheme = \"http\"\n",
        ] {
            assert!(ran.stdout.contains(expected), "{expected}: {}", ran.stdout);
        }
        assert!(!ran.stdout.contains("Date:") && !ran.stdout.contains("Server:"));
        assert_eq!(ran.stderr, "");
    }

    #[test]
    fn the_body_is_exactly_content_length_bytes_and_stdin_stays_unread_after_it() {
        let stdin = OpenStdin(io::Cursor::new(b"hello, and more".to_vec()));
        let ran = run_app(
            &echo,
            &[("REQUEST_METHOD", b"POST"), ("CONTENT_LENGTH", b"5")],
            stdin,
        );
        assert!(ran.stdout.ends_with("\r\n\r\nhello"), "{}", ran.stdout);
        assert!(ran.stdout.contains("Content-Length: 5\r\n"));
    }

    #[test]
    fn without_content_length_stdin_is_not_read() {
        let ran = run_app(&echo, &[("REQUEST_METHOD", b"POST")], Untouchable);
        assert!(
            ran.stdout.ends_with("Content-Length: 0\r\n\r\n"),
            "{}",
            ran.stdout
        );
        let zero = run_app(&echo, &[("CONTENT_LENGTH", b"0")], Untouchable);
        assert_eq!(zero.outcome.status, Some(200));
    }

    #[test]
    fn a_streamed_chunked_body_is_standard_input_to_its_end() {
        let stdin = io::Cursor::new(b"streamed by Apache".to_vec());
        let vars: &[(&str, &[u8])] = &[
            ("REQUEST_METHOD", b"POST"),
            ("HTTP_TRANSFER_ENCODING", b"chunked"),
        ];
        let ran = run_app(&echo, vars, stdin);
        assert!(
            ran.stdout.ends_with("\r\n\r\nstreamed by Apache"),
            "{}",
            ran.stdout
        );
        // Any other coding without a length is still no body.
        let vars: &[(&str, &[u8])] = &[("HTTP_TRANSFER_ENCODING", b"gzip")];
        let ran = run_app(&echo, vars, Untouchable);
        assert!(
            ran.stdout.ends_with("Content-Length: 0\r\n\r\n"),
            "{}",
            ran.stdout
        );
    }

    #[test]
    fn a_body_shorter_than_content_length_is_a_400() {
        let stdin = io::Cursor::new(b"abc".to_vec());
        let ran = run_app(&echo, &[("CONTENT_LENGTH", b"10")], stdin);
        assert_eq!(ran.outcome.status, Some(400));
        assert_eq!(ran.outcome.ending, Ending::ErrorPage);
        assert!(ran.stdout.starts_with("Status: 400 Bad Request\r\n"));
        let why = "the request body ended after 3 of its 10 bytes (CONTENT_LENGTH)";
        assert!(ran.stdout.contains(why), "{}", ran.stdout);
        assert!(ran.stderr.contains(why), "{}", ran.stderr);
    }

    #[test]
    fn a_path_that_is_not_utf8_is_a_400_with_a_line_on_stderr() {
        let ran = run_app(
            &echo,
            &[("REQUEST_METHOD", b"GET"), ("PATH_INFO", b"/x\xffy")],
            Untouchable,
        );
        assert_eq!(ran.outcome.status, Some(400));
        assert!(ran.stdout.starts_with("Status: 400 Bad Request\r\n"));
        assert!(
            ran.stdout.contains("PATH_INFO is not UTF-8"),
            "{}",
            ran.stdout
        );
        let line = "build environ: 400 Bad Request: PATH_INFO is not UTF-8";
        assert!(ran.stderr.starts_with(line), "{}", ran.stderr);
        assert_eq!(ran.stderr.lines().count(), 1, "{}", ran.stderr);
        let head = run_app(
            &echo,
            &[("REQUEST_METHOD", b"HEAD"), ("PATH_INFO", b"/\xff")],
            Untouchable,
        );
        assert!(head.stdout.ends_with("\r\n\r\n"), "HEAD: no body");
    }

    #[test]
    fn nothing_but_request_variables_gets_in_and_httpoxy_is_logged() {
        let ran = run_app(
            &crate::demo::demo_app,
            &[
                ("SECRET", b"1"),
                ("PATH", b"/usr/bin"),
                ("HTTP_PROXY", b"http://evil.example/"),
                ("HTTPS", b"on"),
                ("HTTP_HOST", b"example.org"),
            ],
            Untouchable,
        );
        assert!(!ran.stdout.contains("SECRET") && !ran.stdout.contains("/usr/bin"));
        assert!(!ran.stdout.contains("evil.example"), "{}", ran.stdout);
        assert!(ran.stdout.contains("HTTP_HOST = \"example.org\"\n"));
        assert!(ran.stdout.contains("rgi.url_scheme = \"https\"\n"));
        assert!(
            ran.stderr.starts_with("build environ: left out HTTP_PROXY"),
            "{}",
            ran.stderr
        );
    }

    #[test]
    fn a_panic_is_a_500_and_a_line_on_stderr() {
        let app = |_: &mut Environ, _: &mut StartResponse| -> Result<Body, AppError> {
            panic!("boom");
        };
        let ran = run_app(&app, &[("REQUEST_METHOD", b"GET")], Untouchable);
        assert!(ran
            .stdout
            .starts_with("Status: 500 Internal Server Error\r\n"));
        assert!(
            ran.stderr.contains("application panicked at "),
            "{}",
            ran.stderr
        );
        assert!(ran.stderr.contains(": boom\n"), "{}", ran.stderr);
        assert_eq!(exit_code(&ran.outcome), ExitCode::SUCCESS, "a whole 500");
    }

    #[test]
    fn a_response_cut_short_exits_with_failure() {
        let app = |_: &mut Environ, start_response: &mut StartResponse| -> Result<Body, AppError> {
            start_response.start("200 OK", [])?;
            Ok(Body::from_reader(&b"half"[..], Some(8)))
        };
        let ran = run_app(&app, &[], Untouchable);
        assert_eq!(ran.outcome.ending, Ending::CutShort);
        assert!(
            ran.stdout.ends_with("Content-Length: 8\r\n\r\nhalf"),
            "{}",
            ran.stdout
        );
        assert!(ran.stderr.contains("cut short"), "{}", ran.stderr);
        assert_eq!(exit_code(&ran.outcome), ExitCode::FAILURE);
    }

    #[test]
    fn a_small_response_is_one_write() {
        let mut stdout = CountingStdout::default();
        let vars = [("REQUEST_METHOD", "GET")];
        run_with(
            &crate::demo::demo_app,
            Mode::Parsed,
            vars,
            Untouchable,
            &mut stdout,
            io::sink(),
        );
        assert_eq!(stdout.writes, 1);
        assert!(stdout.bytes.starts_with(b"Status: 200 OK\r\n"));
    }

    #[test]
    fn a_web_server_that_stops_reading_is_a_failure() {
        struct Closed;
        impl Write for Closed {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let stderr = Shared::default();
        let vars: [(&str, &str); 0] = [];
        let outcome = run_with(
            &crate::demo::demo_app,
            Mode::Parsed,
            vars,
            Untouchable,
            Closed,
            stderr.clone(),
        );
        assert_eq!(outcome.ending, Ending::PeerGone);
        assert_eq!(exit_code(&outcome), ExitCode::FAILURE);
        let text = stderr.text();
        assert!(text.contains("the web server stopped reading"), "{text}");
    }

    #[test]
    fn nph_mode_writes_a_whole_http_response() {
        let mut stdout = Vec::new();
        let vars = [("SERVER_PROTOCOL", "HTTP/1.1")];
        run_with(
            &crate::demo::demo_app,
            Mode::Nph,
            vars,
            Untouchable,
            &mut stdout,
            io::sink(),
        );
        let text = String::from_utf8_lossy(&stdout);
        assert!(text.starts_with("HTTP/1.0 200 OK\r\nDate: "), "{text}");
        assert!(text.contains(&format!("\r\nServer: {}\r\n", crate::SERVER_SOFTWARE)));
        assert!(!text.contains("Status:"));
        let mut simple = Vec::new();
        let vars = [("SERVER_PROTOCOL", "HTTP/0.9")];
        let app = crate::demo::demo_app;
        run_with(&app, Mode::Nph, vars, Untouchable, &mut simple, io::sink());
        assert!(
            simple.starts_with(b"Hello world!\n"),
            "HTTP/0.9: the body alone"
        );
    }

    #[test]
    fn error_lines_are_plain_and_one_line_each() {
        let stderr = Shared::default();
        let sink = PlainLines(RefCell::new(stderr.clone()));
        sink.line("a\rforged\x1b[2J line");
        assert_eq!(stderr.text(), "a\\x0dforged\\x1b[2J line\n");
    }
}
