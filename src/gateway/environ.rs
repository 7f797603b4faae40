//! The environ: everything the application is told about one request.
//!
//! Stage: made by **build environ** (each transport fills it its own way), read by **call app**.
//!
//! Interface:
//! * [`Environ::vars`] holds the CGI/1.1 meta-variables of RFC 3875 §4.1 (`REQUEST_METHOD`,
//!   `PATH_INFO`, …) plus one `HTTP_*` variable per request header (RFC 3875 §4.1.18).
//! * [`Environ::input`] is the request body, an [`Input`]. It **ends where the body ends**: read
//!   it to the end and you get exactly the body, then end-of-file — never a read that blocks
//!   waiting for bytes the client will not send (wsgiref's gh-66077, where `wsgi.input.read()`
//!   hangs on a keep-alive connection). When reading fails because of the client, the error
//!   carries an [`InputError`] with the status to answer; return the error and the server
//!   sends that status instead of a 500.
//! * [`Environ::errors`] is an [`ErrorStream`](super::ErrorStream): lines for the server's log.
//! * The flags say what kind of server is running the application.
//! * [`Environ::extensions`] holds what a server adds beyond all that, under names that start
//!   with the server's own prefix (PEP 3333's rule for server-specific keys). It is empty
//!   unless the server was asked to fill it; an application must work without it.
//!
//! ## The byte rule: how a transport turns bytes into environ values
//!
//! What arrives is bytes; every value here is a Rust `String`, which must be UTF-8. Every
//! transport (the HTTP server, and CGI and FastCGI behind a web server) follows one rule:
//!
//! 1. **`PATH_INFO` is percent-decoded exactly once** (RFC 3875 §4.1.5), as a CGI program
//!    behind lighttpd, nginx or Apache gets it: `/100%25` arrives as `/100%`. It must then be
//!    UTF-8: a path whose decoded bytes are not (`/x%FFy`) is refused with 400 before the
//!    application runs, because an application compares `PATH_INFO` with routes and file
//!    names, which are text. The raw target stays visible in `REQUEST_URI`.
//! 2. **`QUERY_STRING` and `REQUEST_URI` are passed on as sent**, still percent-encoded
//!    (RFC 3875 §4.1.7): the application decodes the query itself.
//! 3. **Every other value is text if its bytes are UTF-8, and Latin-1 if they are not**: each
//!    byte becomes the character with that number (U+0000–U+00FF), so no byte is lost.
//!    [`value_from_bytes`] is the rule in code. (WSGI decodes every value as Latin-1, which
//!    keeps the bytes but turns every UTF-8 header into mojibake; nearly all real values are
//!    ASCII or UTF-8, and they read right here.)

use std::collections::BTreeMap;
use std::error::Error;
use std::fmt;
use std::io::{self, BufRead, BufReader, Read};

use super::{ErrorStream, Status};

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
    /// Where the application's error lines go (`wsgi.errors`).
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
    /// A server's own extras, by name, as bytes: PEP 3333 lets a server add environ keys of its
    /// own, "named with a prefix unique to the server" (mod_wsgi's `mod_wsgi.*`), and here the
    /// prefix is the server's name and a dot. Bytes, because what a server adds is usually
    /// something it received (the byte rule above turns received bytes into text only for
    /// `vars`). rgiref's servers add `rgiref.raw_head` (the HTTP request head as received) and
    /// `rgiref.fastcgi_params` (the FastCGI PARAMS stream), each only when configured to; each
    /// transport's documentation names its keys. Empty by default, and an application must
    /// work without them: another server will not send them.
    ///
    /// ```
    /// use rgiref::gateway::Environ;
    /// let environ = Environ::default();
    /// match environ.extensions.get("rgiref.raw_head") {
    ///     Some(raw) => println!("the request head was {} bytes", raw.len()),
    ///     None => println!("this server did not keep the request head"),
    /// }
    /// ```
    pub extensions: BTreeMap<String, Vec<u8>>,
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
            extensions: BTreeMap::new(),
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

    /// `SCRIPT_NAME` (RFC 3875 §4.1.13): where the application is mounted, `""` for the root.
    /// A router that passes a request on to a mounted application moves the first segment of
    /// `PATH_INFO` here (wsgiref's `shift_path_info`).
    ///
    /// ```
    /// use rgiref::gateway::Environ;
    /// let mut environ = Environ::default();
    /// assert_eq!(environ.script_name(), "");
    /// environ.vars.insert("SCRIPT_NAME".into(), "/blog".into());
    /// assert_eq!(environ.script_name(), "/blog");
    /// ```
    pub fn script_name(&self) -> &str {
        self.get("SCRIPT_NAME").unwrap_or("")
    }

    /// `REMOTE_ADDR` (RFC 3875 §4.1.8): the client's address as the server saw it — behind a
    /// proxy, the proxy's.
    ///
    /// ```
    /// use rgiref::gateway::Environ;
    /// let mut environ = Environ::default();
    /// assert_eq!(environ.remote_addr(), None);
    /// environ.vars.insert("REMOTE_ADDR".into(), "::1".into());
    /// assert_eq!(environ.remote_addr(), Some("::1"));
    /// ```
    pub fn remote_addr(&self) -> Option<&str> {
        self.get("REMOTE_ADDR")
    }

    /// The request header `name` (any case), as the environ holds it: `User-Agent` is
    /// `HTTP_USER_AGENT` (RFC 3875 §4.1.18), and `Content-Type` and `Content-Length` are
    /// `CONTENT_TYPE` and `CONTENT_LENGTH` (§4.1.3, §4.1.2). A repeated header is one value,
    /// joined with `,`.
    ///
    /// A name with `_` finds nothing: `X_Token` and `X-Token` would both be `HTTP_X_TOKEN`,
    /// so servers drop such headers rather than let one pass for the other (the HTTP server
    /// here does), and asking for one is asking for the other.
    ///
    /// ```
    /// use rgiref::gateway::Environ;
    /// let mut environ = Environ::default();
    /// environ.vars.insert("HTTP_USER_AGENT".into(), "curl/8.5.0".into());
    /// environ.vars.insert("CONTENT_TYPE".into(), "text/plain".into());
    /// assert_eq!(environ.header("user-agent"), Some("curl/8.5.0"));
    /// assert_eq!(environ.header("Content-Type"), Some("text/plain"));
    /// assert_eq!(environ.header("User_Agent"), None);
    /// ```
    pub fn header(&self, name: &str) -> Option<&str> {
        if name.contains('_') {
            return None;
        }
        let key = name.to_ascii_uppercase().replace('-', "_");
        match key.as_str() {
            "CONTENT_TYPE" | "CONTENT_LENGTH" => self.get(&key),
            _ => self.get(&format!("HTTP_{key}")),
        }
    }

    /// The host the client asked for: `HTTP_HOST` if the request named one, otherwise
    /// `SERVER_NAME`, with `:SERVER_PORT` unless it is the scheme's default port (80 for
    /// `http`, 443 for `https`) — the rule of PEP 3333's "URL Reconstruction".
    ///
    /// ```
    /// use rgiref::gateway::Environ;
    /// let mut environ = Environ::default();
    /// environ.vars.insert("SERVER_NAME".into(), "127.0.0.1".into());
    /// environ.vars.insert("SERVER_PORT".into(), "8000".into());
    /// assert_eq!(environ.host(), "127.0.0.1:8000");
    /// environ.vars.insert("HTTP_HOST".into(), "example.org".into());
    /// assert_eq!(environ.host(), "example.org");
    /// ```
    pub fn host(&self) -> String {
        if let Some(host) = self.get("HTTP_HOST").filter(|host| !host.is_empty()) {
            return host.to_owned();
        }
        let name = self.get("SERVER_NAME").unwrap_or("");
        let default_port = if self.url_scheme == "https" {
            "443"
        } else {
            "80"
        };
        match self.get("SERVER_PORT") {
            Some(port) if !port.is_empty() && port != default_port => format!("{name}:{port}"),
            _ => name.to_owned(),
        }
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
        Environ::new(BTreeMap::new(), Input::empty(), ErrorStream::stderr())
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
            // Names and sizes only: a raw request head is long, and may hold a password.
            .field("extensions", &ExtensionSizes(&self.extensions))
            .finish_non_exhaustive()
    }
}

/// Shows [`Environ::extensions`] as `{"name": "N bytes"}`.
struct ExtensionSizes<'e>(&'e BTreeMap<String, Vec<u8>>);

impl fmt::Debug for ExtensionSizes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(
                self.0
                    .iter()
                    .map(|(name, bytes)| (name, format!("{} bytes", bytes.len()))),
            )
            .finish()
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
    reader: InputReader,
}

/// Most requests have no body, and most bodies are read with plain `read` calls, so the
/// read-ahead buffer `BufRead` needs (8 KiB, zeroed) is made only when line reading is used.
enum InputReader {
    Plain(Box<dyn Read>),
    Buffered(BufReader<Box<dyn Read>>),
}

impl Input {
    /// A body read from `reader`, which must end where the body ends.
    pub fn new(reader: impl Read + 'static) -> Input {
        Input {
            reader: InputReader::Plain(Box::new(reader)),
        }
    }

    /// A body with no bytes.
    pub fn empty() -> Input {
        Input::new(io::empty())
    }

    /// The reader with a read-ahead buffer, made on first use.
    fn buffered(&mut self) -> &mut BufReader<Box<dyn Read>> {
        if let InputReader::Plain(_) = self.reader {
            let placeholder = InputReader::Plain(Box::new(io::empty()));
            if let InputReader::Plain(plain) = std::mem::replace(&mut self.reader, placeholder) {
                self.reader = InputReader::Buffered(BufReader::new(plain));
            }
        }
        match &mut self.reader {
            InputReader::Buffered(buffered) => buffered,
            InputReader::Plain(_) => unreachable!("made buffered just above"),
        }
    }
}

impl Read for Input {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match &mut self.reader {
            InputReader::Plain(plain) => plain.read(buf),
            InputReader::Buffered(buffered) => buffered.read(buf),
        }
    }
}

impl BufRead for Input {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.buffered().fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        self.buffered().consume(amount)
    }
}

impl fmt::Debug for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Input { .. }")
    }
}

/// Why reading the request body failed, when it was the client's doing: it sent a malformed
/// body, stopped sending, or took too long. A transport puts one inside the `io::Error` that
/// [`Input`] returns; if the application gives up with that error (`?`), the engine answers
/// with this status and message instead of a 500 — the client broke the request, not the app.
///
/// ```
/// use std::io;
/// use rgiref::gateway::{InputError, Status};
/// let error = InputError::new(Status::REQUEST_TIMEOUT, "the request body stopped arriving")
///     .into_io(io::ErrorKind::TimedOut);
/// let found = InputError::find(&error).unwrap();
/// assert_eq!(found.status, Status::REQUEST_TIMEOUT);
/// assert_eq!(error.to_string(), "the request body stopped arriving");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InputError {
    /// The status the client has earned (400, 408, 413, …).
    pub status: Status,
    /// What happened, in words the client and the log both understand.
    pub message: String,
}

impl InputError {
    /// An input error with this status and message.
    pub fn new(status: Status, message: impl Into<String>) -> InputError {
        InputError {
            status,
            message: message.into(),
        }
    }

    /// The `io::Error` an [`Input`] returns: of `kind`, with this error inside.
    pub fn into_io(self, kind: io::ErrorKind) -> io::Error {
        io::Error::new(kind, self)
    }

    /// The `InputError` in `error` or in its chain of causes, if there is one.
    pub fn find<'e>(error: &'e (dyn Error + 'static)) -> Option<&'e InputError> {
        let mut next = Some(error);
        while let Some(error) = next {
            if let Some(found) = error.downcast_ref::<InputError>() {
                return Some(found);
            }
            // An io::Error shows what it wraps through `get_ref`, not always through `source`.
            let inner = error
                .downcast_ref::<io::Error>()
                .and_then(|io| io.get_ref())
                .and_then(|inner| inner.downcast_ref::<InputError>());
            if inner.is_some() {
                return inner;
            }
            next = error.source();
        }
        None
    }
}

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl Error for InputError {}

/// The byte rule's third part (see the module docs): the text of `bytes` if they are UTF-8,
/// otherwise each byte as the character with that number (Latin-1).
///
/// ```
/// use rgiref::gateway::value_from_bytes;
/// assert_eq!(value_from_bytes("café".as_bytes()), "café");   // UTF-8: as it is
/// assert_eq!(value_from_bytes(b"caf\xe9"), "café");           // not UTF-8: Latin-1
/// ```
pub fn value_from_bytes(bytes: &[u8]) -> String {
    match std::str::from_utf8(bytes) {
        Ok(text) => text.to_owned(),
        Err(_) => bytes.iter().map(|&b| char::from(b)).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_reads_and_plain_reads_mix_without_losing_bytes() {
        let mut input = Input::new(&b"ab\ncd\nrest"[..]);
        let mut first = [0u8; 1];
        input.read_exact(&mut first).unwrap(); // plain: no buffer yet
        let mut line = String::new();
        input.read_line(&mut line).unwrap(); // now buffered
        assert_eq!((first[0], line.as_str()), (b'a', "b\n"));
        let mut rest = String::new();
        input.read_to_string(&mut rest).unwrap();
        assert_eq!(rest, "cd\nrest");
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
