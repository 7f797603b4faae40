//! The environ: everything the application is told about one request.
//!
//! Stage: made by **build environ** (each transport fills it its own way), read by **call app**.
//!
//! Interface:
//! * [`Environ::vars`] holds the CGI/1.1 meta-variables of RFC 3875 §4.1 (`REQUEST_METHOD`,
//!   `PATH_INFO`, …) plus one `HTTP_*` variable per request header (RFC 3875 §4.1.18). All
//!   values are text; the transport decides how bytes become text and documents it (see
//!   `http::environ` for the HTTP server's rules).
//! * [`Environ::input`] is the request body, an [`Input`]. It **ends where the body ends**: read
//!   it to the end and you get exactly the body, then end-of-file — never a read that blocks
//!   waiting for bytes the client will not send (wsgiref's gh-66077, where `wsgi.input.read()`
//!   hangs on a keep-alive connection).
//! * [`Environ::errors`] is an [`ErrorStream`] into the server's log.
//! * The flags say what kind of server is running the application.

use std::collections::BTreeMap;
use std::fmt;
use std::io::{self, BufRead, Read, Write};

use crate::log::Log;
use crate::read_ahead::ReadAhead;

/// What the application is told about one request (WSGI's `environ`).
///
/// ```
/// use rgiref::gateway::Environ;
/// let mut environ = Environ::default();
/// environ.vars.insert("REQUEST_METHOD".into(), "GET".into());
/// environ.vars.insert("PATH_INFO".into(), "/hello".into());
/// assert_eq!(environ.method(), "GET");
/// assert_eq!(environ.path_info(), "/hello");
/// assert_eq!(environ.get("QUERY_STRING"), None);
/// ```
pub struct Environ {
    /// The CGI meta-variables and `HTTP_*` request headers, sorted by name.
    pub vars: BTreeMap<String, String>,
    /// The request body (`wsgi.input`).
    pub input: Input,
    /// The server's error log (`wsgi.errors`).
    pub errors: ErrorStream,
    /// `"http"` or `"https"` (`wsgi.url_scheme`).
    pub url_scheme: String,
    /// True if another thread may be running this application at the same time. Always false
    /// for the HTTP server in this crate, which serves one request at a time.
    pub multithread: bool,
    /// True if another process may be running this application at the same time.
    pub multiprocess: bool,
    /// True if the application will be called only once in this process (CGI).
    pub run_once: bool,
}

impl Environ {
    /// An environ with the given variables, body and error stream; scheme `http`, flags false.
    pub fn new(vars: BTreeMap<String, String>, input: Input, errors: ErrorStream) -> Environ {
        Environ {
            vars,
            input,
            errors,
            url_scheme: "http".to_owned(),
            multithread: false,
            multiprocess: false,
            run_once: false,
        }
    }

    /// The value of the variable `name`, if set.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str)
    }

    /// `REQUEST_METHOD` (RFC 3875 §4.1.12), or `""` if unset.
    pub fn method(&self) -> &str {
        self.get("REQUEST_METHOD").unwrap_or("")
    }

    /// `PATH_INFO` (RFC 3875 §4.1.5), or `""` if unset.
    pub fn path_info(&self) -> &str {
        self.get("PATH_INFO").unwrap_or("")
    }

    /// `QUERY_STRING` (RFC 3875 §4.1.7), still percent-encoded, or `""` if unset.
    pub fn query_string(&self) -> &str {
        self.get("QUERY_STRING").unwrap_or("")
    }

    /// `CONTENT_LENGTH` as a number, if the request declared one (RFC 3875 §4.1.2). A chunked
    /// upload has none: read [`Environ::input`] to its end instead.
    pub fn content_length(&self) -> Option<u64> {
        self.get("CONTENT_LENGTH").and_then(|v| v.parse().ok())
    }

    /// Moves the request body out of the environ (leaving an empty one), so a streaming
    /// response can read it while it is being sent.
    ///
    /// ```
    /// use rgiref::gateway::{AppError, Body, Environ, StartResponse};
    ///
    /// // Echoes the upload back as it arrives, without holding all of it in memory.
    /// fn echo(environ: &mut Environ, start_response: &mut StartResponse) -> Result<Body, AppError> {
    ///     let length = environ.content_length();
    ///     start_response.start("200 OK", [("Content-Type", "application/octet-stream")])?;
    ///     Ok(Body::from_reader(environ.take_input(), length))
    /// }
    /// # let _ = echo;
    /// ```
    pub fn take_input(&mut self) -> Input {
        std::mem::replace(&mut self.input, Input::empty())
    }
}

impl Default for Environ {
    /// No variables, an empty body, errors to standard error.
    fn default() -> Environ {
        Environ::new(
            BTreeMap::new(),
            Input::empty(),
            ErrorStream::new(Log::stderr(), "-"),
        )
    }
}

impl fmt::Debug for Environ {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Environ")
            .field("vars", &self.vars)
            .field("url_scheme", &self.url_scheme)
            .field("multithread", &self.multithread)
            .field("multiprocess", &self.multiprocess)
            .field("run_once", &self.run_once)
            .finish_non_exhaustive()
    }
}

/// The request body, as the application reads it (WSGI's `wsgi.input`).
///
/// It is a plain reader: `read`, `read_to_end`, `read_line`, `lines` all work, and `read`
/// returns 0 at the end of the body. Each transport supplies the reader underneath; the
/// contract is that it ends exactly where the body ends.
///
/// ```
/// use std::io::{BufRead, Read};
/// use rgiref::gateway::Input;
/// let mut input = Input::new(&b"first line\nsecond"[..]);
/// let mut line = String::new();
/// input.read_line(&mut line).unwrap();
/// assert_eq!(line, "first line\n");
/// let mut rest = String::new();
/// input.read_to_string(&mut rest).unwrap();
/// assert_eq!(rest, "second");
/// ```
pub struct Input {
    // The read-ahead buffer is only allocated if `BufRead` (line reading) is used: most
    // requests have no body, and plain `read` calls go straight to the transport's reader.
    reader: ReadAhead<Box<dyn Read>>,
}

impl Input {
    /// A body read from `reader`, which must end where the body ends.
    pub fn new(reader: impl Read + 'static) -> Input {
        Input {
            reader: ReadAhead::new(Box::new(reader), Vec::new()),
        }
    }

    /// A body with no bytes.
    pub fn empty() -> Input {
        Input::new(io::empty())
    }
}

impl Read for Input {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reader.read(buf)
    }
}

impl BufRead for Input {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.reader.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        self.reader.consume(amount)
    }
}

impl fmt::Debug for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Input { .. }")
    }
}

/// A writer into the server's log (WSGI's `wsgi.errors`).
///
/// Each complete line written becomes one log line, prefixed like every other line of the
/// server's log with the client's address and the time. A last line without a newline is
/// logged when the stream is dropped.
///
/// ```
/// use std::io::Write;
/// use rgiref::gateway::ErrorStream;
/// use rgiref::log::Log;
/// let (log, captured) = Log::capture();
/// let mut errors = ErrorStream::new(log, "127.0.0.1");
/// writeln!(errors, "cache miss for {}", "/index").unwrap();
/// assert!(captured.text().contains("] cache miss for /index"));
/// ```
pub struct ErrorStream {
    log: Log,
    client: String,
    pending: Vec<u8>,
}

impl ErrorStream {
    /// An error stream whose lines go to `log`, tagged with `client` (an address, or `-`).
    pub fn new(log: Log, client: impl Into<String>) -> ErrorStream {
        ErrorStream {
            log,
            client: client.into(),
            pending: Vec::new(),
        }
    }

    /// Logs `message` as one line, at once.
    pub fn log(&self, message: &str) {
        self.log.line(&self.client, message);
    }

    fn emit_complete_lines(&mut self) {
        while let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            self.log(&String::from_utf8_lossy(&line[..end]));
        }
    }
}

impl Write for ErrorStream {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.pending.extend_from_slice(bytes);
        self.emit_complete_lines();
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Clone for ErrorStream {
    /// A clone writes to the same log, with its own half-written line.
    fn clone(&self) -> ErrorStream {
        ErrorStream::new(self.log.clone(), self.client.clone())
    }
}

impl Drop for ErrorStream {
    fn drop(&mut self) {
        if !self.pending.is_empty() {
            let rest = std::mem::take(&mut self.pending);
            self.log(&String::from_utf8_lossy(&rest));
        }
    }
}

impl fmt::Debug for ErrorStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ErrorStream {{ client: {:?} }}", self.client)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_stream_splits_lines_and_flushes_the_rest_on_drop() {
        let (log, captured) = Log::capture();
        let mut errors = ErrorStream::new(log, "-");
        errors.write_all(b"one\ntw").unwrap();
        assert_eq!(captured.lines().len(), 1);
        errors.write_all(b"o\nthree").unwrap();
        drop(errors);
        let lines = captured.lines();
        assert_eq!(lines.len(), 3);
        assert!(
            lines[1].ends_with("] two") && lines[2].ends_with("] three"),
            "{lines:?}"
        );
    }

    #[test]
    fn take_input_leaves_an_empty_body() {
        let mut environ = Environ {
            input: Input::new(&b"body"[..]),
            ..Environ::default()
        };
        let mut taken = environ.take_input();
        let mut text = String::new();
        taken.read_to_string(&mut text).unwrap();
        assert_eq!(text, "body");
        assert_eq!(environ.input.read(&mut [0; 4]).unwrap(), 0);
    }
}
