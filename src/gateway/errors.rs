//! The error stream (WSGI's `wsgi.errors`): lines an application writes for the server's log.
//!
//! Stage: written during **call app** (and by the engine when the application fails); where
//! the lines end up is the transport's business.
//!
//! Interface:
//! * An application writes to [`ErrorStream`] like any `io::Write`. Each complete line is
//!   handed, as written, to the stream's [`ErrorSink`]; a last line without a newline is handed
//!   over when the stream is dropped.
//! * Each transport supplies the sink, because each has its own idea of a log. The HTTP server
//!   prefixes each line with the client's address and the time, like its access log; a CGI
//!   program writes plain lines to standard error, which the web server copies into its own
//!   error log with a prefix of its own; a FastCGI responder sends them to the web server as
//!   `FCGI_STDERR` records. The application never knows which.

use std::fmt;
use std::io::{self, Write};
use std::rc::Rc;

/// Where an [`ErrorStream`]'s lines go. Any `Fn(&str)` closure is a sink.
///
/// ```
/// use std::{cell::RefCell, io::Write, rc::Rc};
/// use rgiref::gateway::ErrorStream;
/// let lines = Rc::new(RefCell::new(Vec::new()));
/// let collected = Rc::clone(&lines);
/// let mut errors = ErrorStream::new(move |line: &str| collected.borrow_mut().push(line.to_owned()));
/// writeln!(errors, "cache miss for {}", "/index").unwrap();
/// assert_eq!(*lines.borrow(), ["cache miss for /index"]);
/// ```
pub trait ErrorSink {
    /// Takes one line, without its line end. Bytes that were not UTF-8 arrive replaced by
    /// U+FFFD; the sink escapes what its destination cannot show.
    fn line(&self, line: &str);
}

impl<F: Fn(&str)> ErrorSink for F {
    fn line(&self, line: &str) {
        self(line)
    }
}

/// A writer whose lines go to the transport's log (WSGI's `wsgi.errors`). See the module docs.
pub struct ErrorStream {
    sink: Rc<dyn ErrorSink>,
    pending: Vec<u8>,
}

impl ErrorStream {
    /// An error stream whose lines go to `sink`.
    pub fn new(sink: impl ErrorSink + 'static) -> ErrorStream {
        ErrorStream {
            sink: Rc::new(sink),
            pending: Vec::new(),
        }
    }

    /// An error stream that writes plain lines to standard error: a CGI program's, and the
    /// default for an environ made by hand.
    pub fn stderr() -> ErrorStream {
        ErrorStream::new(|line: &str| eprintln!("{line}"))
    }

    /// Logs `message` as one line, at once. The engine reports failures this way.
    pub fn log(&self, message: &str) {
        self.sink.line(message);
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
    /// A clone writes to the same sink, with its own half-written line.
    fn clone(&self) -> ErrorStream {
        ErrorStream {
            sink: Rc::clone(&self.sink),
            pending: Vec::new(),
        }
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
        f.write_str("ErrorStream { .. }")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    #[test]
    fn lines_are_split_and_the_rest_is_flushed_on_drop() {
        let lines = Rc::new(RefCell::new(Vec::<String>::new()));
        let collected = Rc::clone(&lines);
        let mut errors =
            ErrorStream::new(move |line: &str| collected.borrow_mut().push(line.into()));
        errors.write_all(b"one\ntw").unwrap();
        assert_eq!(lines.borrow().len(), 1);
        errors.write_all(b"o\nthree").unwrap();
        drop(errors);
        assert_eq!(*lines.borrow(), ["one", "two", "three"]);
    }
}
