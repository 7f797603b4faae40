//! The server's log: one line per request (the access log) plus a line for everything that went
//! wrong, all in the format of Python's `http.server`, which wsgiref uses:
//!
//! ```text
//! 127.0.0.1 - - [24/Nov/2026 20:01:39] "GET / HTTP/1.0" 200 4
//! 127.0.0.1 - - [24/Nov/2026 20:01:40] read request: 400 Bad Request: bad request line: "GET  / HTTP/1.0"
//! ```
//!
//! Stage: **finish** (the access line) and any stage that fails (the error lines).
//!
//! Interface:
//! * A [`Log`] is where lines go: standard error (the default), nowhere, any writer, or memory
//!   ([`Log::capture`], for tests). Clones share one destination, so lines never interleave.
//! * [`Log::line`] writes one line, prefixed with the client's address and the time (UTC).
//! * `escape` and `quote` (crate-private) make bytes a client sent safe to print: a request line containing
//!   `\r` or an ANSI escape must not be able to forge log lines or repaint your terminal.
//!
//! The access line is the Common Log Format as `http.server` writes it: the client's address;
//! two dashes, which *are* CLF's `ident` and `authuser` fields (never known here, so "-"); the
//! time; the request line; the status; the body bytes written. What differs from CLF is the
//! time: `http.server`'s `24/Nov/2026 20:01:39`, not CLF's `[24/Nov/2026:20:01:39 +0000]`.

use std::io::{self, Write};
use std::sync::{Arc, Mutex, MutexGuard};

/// Where the server's log lines go. Cheap to clone; clones write to the same place.
///
/// ```
/// use rgiref::log::Log;
/// let (log, captured) = Log::capture();
/// log.line("127.0.0.1", "hello");
/// assert!(captured.text().ends_with("] hello\n"));
/// ```
#[derive(Clone)]
pub struct Log {
    // `None` is the silent log. The mutex makes each line one write even when a test thread and
    // the server thread share a log.
    sink: Option<Arc<Mutex<Box<dyn Write + Send>>>>,
}

impl Log {
    /// Lines go to standard error, as in wsgiref.
    pub fn stderr() -> Log {
        Log::to_writer(io::stderr())
    }

    /// Lines go nowhere.
    pub fn silent() -> Log {
        Log { sink: None }
    }

    /// Lines go to `writer` (a file, a pipe, a `Vec<u8>` …).
    pub fn to_writer(writer: impl Write + Send + 'static) -> Log {
        Log {
            sink: Some(Arc::new(Mutex::new(Box::new(writer)))),
        }
    }

    /// Lines go to memory; the [`CapturedLog`] reads them back. Made for tests.
    pub fn capture() -> (Log, CapturedLog) {
        let captured = CapturedLog {
            buffer: Arc::new(Mutex::new(Vec::new())),
        };
        let log = Log::to_writer(SharedBuffer(Arc::clone(&captured.buffer)));
        (log, captured)
    }

    /// True for [`Log::silent`]: lets callers skip building a line nobody will read.
    pub fn is_silent(&self) -> bool {
        self.sink.is_none()
    }

    /// Writes `message` as one line: `CLIENT - - [DATE] MESSAGE`. Control characters in
    /// `message` are escaped, so one call is always exactly one line.
    pub fn line(&self, client: &str, message: &str) {
        let Some(sink) = &self.sink else { return };
        let mut text = String::with_capacity(40 + client.len() + message.len());
        push_escaped(&mut text, client.as_bytes());
        text.push_str(" - - [");
        crate::date::push_log_date_now(&mut text);
        text.push_str("] ");
        push_escaped(&mut text, message.as_bytes());
        text.push('\n');
        // A log that cannot be written (a closed pipe, a full disk) must not take the server
        // down with it; there is nowhere left to report the failure, so it is dropped.
        let mut sink = lock(sink);
        let _ = sink.write_all(text.as_bytes());
        let _ = sink.flush();
    }
}

impl Default for Log {
    /// The default log is [`Log::stderr`].
    fn default() -> Log {
        Log::stderr()
    }
}

/// An application's error lines (its `ErrorStream`), in the server's log: each one a line
/// `127.0.0.1 - - [date] the line`, like every other line of the log. The HTTP and SCGI servers
/// give one to each request's environ.
pub(crate) struct ClientLog {
    pub(crate) log: Log,
    /// The client's address, or `-`.
    pub(crate) client: String,
}

impl crate::gateway::ErrorSink for ClientLog {
    fn line(&self, line: &str) {
        self.log.line(&self.client, line);
    }
}

/// Lines a [`Log::capture`] log has received.
#[derive(Clone)]
pub struct CapturedLog {
    buffer: Arc<Mutex<Vec<u8>>>,
}

impl CapturedLog {
    /// Everything logged so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&lock(&self.buffer)).into_owned()
    }

    /// Everything logged so far, one string per line.
    pub fn lines(&self) -> Vec<String> {
        self.text().lines().map(str::to_owned).collect()
    }

    /// Forgets what was logged so far.
    pub fn clear(&self) {
        lock(&self.buffer).clear();
    }
}

struct SharedBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuffer {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        lock(&self.0).extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Locks `mutex` even if a thread panicked while holding it: a log line is still worth writing.
fn lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Makes `bytes` printable on one line: control characters (and bytes that are not UTF-8)
/// become `\xNN`, as `http.server` does for its log.
pub(crate) fn escape(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    push_escaped(&mut out, bytes);
    out
}

/// Appends `bytes` to `out`, escaped as [`escape`] does.
fn push_escaped(out: &mut String, bytes: &[u8]) {
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c.is_control() {
                // C0, DEL and C1 controls are all below U+00A0: two hex digits are enough.
                push_hex_escape(out, c as u32 as u8);
            } else {
                out.push(c);
            }
        }
        for &b in chunk.invalid() {
            push_hex_escape(out, b);
        }
    }
}

/// Appends `\xNN` for the byte `b`.
fn push_hex_escape(out: &mut String, b: u8) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    out.push_str("\\x");
    out.push(char::from(HEX[usize::from(b >> 4)]));
    out.push(char::from(HEX[usize::from(b & 0xf)]));
}

/// The longest piece of client input [`quote`] reproduces; the rest is cut and marked `…`.
pub(crate) const QUOTE_LIMIT: usize = 100;

/// Quotes client input for an error message: escaped, in double quotes, at most
/// [`QUOTE_LIMIT`] bytes of it. Errors name the part and quote the input, but a 64 KiB request
/// line should not become a 64 KiB log line.
pub(crate) fn quote(bytes: &[u8]) -> String {
    if bytes.len() <= QUOTE_LIMIT {
        return format!("\"{}\"", escape(bytes).replace('"', "\\\""));
    }
    // Cut on a char boundary if we can, so the quote does not end in a broken character.
    let mut cut = QUOTE_LIMIT;
    while cut > 0 && (bytes[cut] & 0xC0) == 0x80 {
        cut -= 1;
    }
    format!("\"{}…\"", escape(&bytes[..cut]).replace('"', "\\\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_has_the_http_server_shape() {
        let (log, captured) = Log::capture();
        log.line("127.0.0.1", "\"GET / HTTP/1.0\" 200 4");
        let text = captured.text();
        let (prefix, rest) = text.split_once(" - - [").unwrap();
        assert_eq!(prefix, "127.0.0.1");
        let (date, message) = rest.split_once("] ").unwrap();
        assert_eq!(date.len(), "24/Nov/2026 20:01:39".len(), "{date}");
        assert_eq!(message, "\"GET / HTTP/1.0\" 200 4\n");
    }

    #[test]
    fn one_call_is_one_line_whatever_the_message_holds() {
        let (log, captured) = Log::capture();
        log.line("::1", "evil\n127.0.0.1 - - [forged] \"GET /admin\" 200 1");
        assert_eq!(captured.lines().len(), 1);
    }

    #[test]
    fn escape_and_quote() {
        assert_eq!(escape(b"GET /\r\n\x1b[31m"), "GET /\\x0d\\x0a\\x1b[31m");
        assert_eq!(escape("café".as_bytes()), "café");
        assert_eq!(escape(b"\xff"), "\\xff");
        assert_eq!(quote(b"GET  / HTTP/1.0"), "\"GET  / HTTP/1.0\"");
        assert!(quote(&[b'a'; 500]).ends_with("a…\""));
    }

    #[test]
    fn c1_controls_are_escaped() {
        assert_eq!(escape("a\u{85}b".as_bytes()), "a\\x85b");
    }

    #[test]
    fn silent_writes_nothing() {
        assert!(Log::silent().is_silent());
        Log::silent().line("x", "y");
    }
}
