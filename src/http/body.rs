//! Reading a request body: exactly `Content-Length` bytes, or a chunked body decoded.
//!
//! Stage: **read request** (the body half), though it runs later than the head: the
//! application pulls the body through `environ.input` while it runs.
//!
//! Interface: a [`BodyReader`] wraps the connection's reader, positioned just after the head,
//! and is itself a `Read` that returns the body's bytes and then 0 — it **never reads past the
//! body's end**, so it can never block waiting for bytes the client is not going to send (the
//! bug behind wsgiref's gh-66077, where reading `wsgi.input` to its end hangs).
//!
//! Errors are `io::Error`s an application can print and the server can map to a status:
//! `UnexpectedEof` when the client stops before the promised length (→ 400), `InvalidData` for a
//! malformed chunked body (→ 400), and the socket's timeout (→ 408).
//!
//! The chunked coding (RFC 9112 §7.1), drawn:
//!
//! ```text
//!   chunked-body = *chunk last-chunk trailer-section CRLF
//!
//!   "5"  [;ext]  CRLF     chunk-size in hex, optional extensions (ignored)
//!   "hello"      CRLF     exactly chunk-size bytes of data, then CRLF
//!   "0"          CRLF     last-chunk: size zero
//!   "Trailer: x" CRLF     trailer fields (read, checked, dropped: CGI has no place for them)
//!                CRLF     end of body
//! ```

use std::io::{self, BufRead, Read};

use super::request::{read_field_section, read_line, LineError, Problem};
use super::{Framing, Limits};

/// Where the reader is in the body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Content-Length framing: this many bytes still to come.
    Length { remaining: u64 },
    /// Chunked: next comes a chunk-size line.
    ChunkSize,
    /// Chunked: inside a chunk's data.
    ChunkData { remaining: u64 },
    /// Chunked: the CRLF after a chunk's data.
    ChunkEnd,
    /// Chunked: the trailer section after the last chunk.
    Trailers,
    /// The whole body has been read.
    Done,
}

/// A request body, decoded. See the module docs.
///
/// ```
/// use std::io::Read;
/// use rgiref::http::{BodyReader, Framing, Limits};
///
/// let wire = &b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\nNEXT REQUEST"[..];
/// let mut body = BodyReader::new(wire, Framing::Chunked, &Limits::default());
/// let mut text = String::new();
/// body.read_to_string(&mut text).unwrap();
/// assert_eq!(text, "hello world");
/// assert!(body.is_done());
/// // The bytes after the body were not touched:
/// assert_eq!(body.into_inner(), b"NEXT REQUEST");
/// ```
#[derive(Debug)]
pub struct BodyReader<R> {
    source: R,
    state: State,
    limits: Limits,
    received: u64,
    declared: Option<u64>,
    /// The first error, once there has been one. It is final: a failed read may have consumed
    /// half a chunk-size line, so carrying on could decode a different body without noticing.
    failed: Option<(io::ErrorKind, String)>,
}

impl<R: BufRead> BodyReader<R> {
    /// A reader for a body framed as `framing`, read from `source`.
    pub fn new(source: R, framing: Framing, limits: &Limits) -> BodyReader<R> {
        let (state, declared) = match framing {
            Framing::Length(0) => (State::Done, Some(0)),
            Framing::Length(length) => (State::Length { remaining: length }, Some(length)),
            Framing::Chunked => (State::ChunkSize, None),
        };
        BodyReader {
            source,
            state,
            limits: *limits,
            received: 0,
            declared,
            failed: None,
        }
    }

    /// True once the whole body (for chunked, including its trailers) has been read.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Body bytes read so far (decoded, for chunked).
    pub fn received(&self) -> u64 {
        self.received
    }

    /// The underlying reader, for setting its timeouts.
    pub(crate) fn get_mut(&mut self) -> &mut R {
        &mut self.source
    }

    /// Gives back the underlying reader.
    pub fn into_inner(self) -> R {
        self.source
    }

    /// Reads body data: at most `remaining` bytes, straight into `buf`.
    fn read_data(&mut self, buf: &mut [u8], remaining: u64) -> io::Result<usize> {
        let want = buf
            .len()
            .min(usize::try_from(remaining).unwrap_or(usize::MAX));
        // `read`, not `fill_buf`: the connection's read-ahead hands a large read straight to
        // the socket, so a big upload is not copied through its small buffer.
        let n = self.source.read(&mut buf[..want])?;
        if n == 0 {
            return Err(self.ended_early());
        }
        self.received += n as u64;
        Ok(n)
    }

    fn ended_early(&self) -> io::Error {
        let message = match self.declared {
            Some(length) => format!(
                "the request body ended after {} of the {length} bytes its Content-Length promised",
                self.received
            ),
            None => format!(
                "the chunked request body ended after {} bytes, before its last chunk",
                self.received
            ),
        };
        io::Error::new(io::ErrorKind::UnexpectedEof, message)
    }

    /// Reads a chunk-size line: `1*HEXDIG [ BWS ";" chunk-ext ]`.
    fn read_chunk_size(&mut self) -> io::Result<State> {
        let line = self.read_chunk_line()?;
        let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
        let rest = &line[digits..];
        let rest_ok = rest
            .iter()
            .find(|&&b| b != b' ' && b != b'\t')
            .is_none_or(|&b| b == b';');
        if digits == 0 || !rest_ok {
            return Err(invalid(format!(
                "bad chunk size line {}",
                crate::log::quote(&line)
            )));
        }
        let hex = std::str::from_utf8(&line[..digits]).unwrap_or("");
        let size = u64::from_str_radix(hex, 16).map_err(|_| {
            invalid(format!(
                "chunk size {} is too large",
                crate::log::quote(&line[..digits])
            ))
        })?;
        Ok(if size == 0 {
            State::Trailers
        } else {
            State::ChunkData { remaining: size }
        })
    }

    /// The CRLF after a chunk's data must be exactly that: an empty line.
    fn read_chunk_end(&mut self) -> io::Result<State> {
        let line = self.read_chunk_line()?;
        if !line.is_empty() {
            return Err(invalid(format!(
                "chunk data is longer than its chunk size (found {} where the line end should be)",
                crate::log::quote(&line)
            )));
        }
        Ok(State::ChunkSize)
    }

    /// The trailer section: fields like headers, under the same limits, then dropped.
    fn read_trailers(&mut self) -> io::Result<State> {
        match read_field_section(&mut self.source, &self.limits, "trailer") {
            Ok(_dropped) => Ok(State::Done),
            Err(problem) => Err(self.problem_to_io(problem)),
        }
    }

    fn read_chunk_line(&mut self) -> io::Result<Vec<u8>> {
        match read_line(&mut self.source, self.limits.max_chunk_line) {
            Ok(line) => Ok(line.bytes),
            Err(LineError::TooLong) => Err(invalid(format!(
                "a chunk size line is longer than {} bytes",
                self.limits.max_chunk_line
            ))),
            Err(LineError::BareCr(line)) => Err(invalid(format!(
                "a chunk line contains a bare CR: {}",
                crate::log::quote(&line)
            ))),
            Err(LineError::Closed) => Err(self.ended_early()),
            Err(LineError::Io(error)) => Err(error),
            Err(LineError::Refused(refusal)) => Err(invalid(refusal.message)),
        }
    }

    fn problem_to_io(&self, problem: Problem) -> io::Error {
        match problem {
            Problem::Refused(refusal) => invalid(refusal.message),
            Problem::Closed => self.ended_early(),
            Problem::TimedOut => io::Error::new(
                io::ErrorKind::TimedOut,
                "the chunked trailers did not arrive in time",
            ),
            Problem::Io(error) => error,
        }
    }
}

impl<R: BufRead> Read for BodyReader<R> {
    /// Reads body bytes. After an error, every later read returns the same error again.
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some((kind, message)) = &self.failed {
            return Err(io::Error::new(*kind, message.clone()));
        }
        match self.read_body(buf) {
            Err(error) if error.kind() != io::ErrorKind::Interrupted => {
                self.failed = Some((error.kind(), error.to_string()));
                Err(error)
            }
            result => result,
        }
    }
}

impl<R: BufRead> BodyReader<R> {
    /// The state machine: one step per state until some bytes (or the end) come out.
    fn read_body(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            self.state = match self.state {
                State::Done => return Ok(0),
                State::Length { remaining } => {
                    let n = self.read_data(buf, remaining)?;
                    let remaining = remaining - n as u64;
                    self.state = if remaining == 0 {
                        State::Done
                    } else {
                        State::Length { remaining }
                    };
                    return Ok(n);
                }
                State::ChunkData { remaining } => {
                    let n = self.read_data(buf, remaining)?;
                    let remaining = remaining - n as u64;
                    self.state = if remaining == 0 {
                        State::ChunkEnd
                    } else {
                        State::ChunkData { remaining }
                    };
                    return Ok(n);
                }
                State::ChunkSize => self.read_chunk_size()?,
                State::ChunkEnd => self.read_chunk_end()?,
                State::Trailers => self.read_trailers()?,
            };
        }
    }
}

fn invalid(message: String) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(wire: &[u8], framing: Framing) -> io::Result<Vec<u8>> {
        let mut body = BodyReader::new(wire, framing, &Limits::default());
        let mut out = Vec::new();
        body.read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn length_stops_at_the_length() {
        let mut body = BodyReader::new(&b"abcdefgh"[..], Framing::Length(3), &Limits::default());
        let mut out = Vec::new();
        body.read_to_end(&mut out).unwrap();
        assert_eq!(out, b"abc");
        assert_eq!(body.into_inner(), b"defgh");
    }

    #[test]
    fn short_length_is_unexpected_eof_with_counts() {
        let error = read_all(b"ab", Framing::Length(5)).unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::UnexpectedEof);
        assert!(
            error.to_string().contains("after 2 of the 5 bytes"),
            "{error}"
        );
    }

    #[test]
    fn chunked_with_extensions_trailers_and_lf_only() {
        let wire = b"3;name=value\r\nabc\r\n2 ; x\nde\n0\r\nExpires: never\r\n\r\n";
        assert_eq!(read_all(wire, Framing::Chunked).unwrap(), b"abcde");
    }

    #[test]
    fn chunked_errors() {
        let kind = |wire: &[u8]| read_all(wire, Framing::Chunked).unwrap_err().kind();
        assert_eq!(kind(b"zz\r\n"), io::ErrorKind::InvalidData);
        assert_eq!(kind(b"3\r\nabcd\r\n0\r\n\r\n"), io::ErrorKind::InvalidData);
        assert_eq!(kind(b"11111111111111111\r\n"), io::ErrorKind::InvalidData);
        assert_eq!(kind(b"3\r\nab"), io::ErrorKind::UnexpectedEof);
        assert_eq!(kind(b"3\r\nabc\r\n"), io::ErrorKind::UnexpectedEof);
        assert_eq!(kind(b"-1\r\n"), io::ErrorKind::InvalidData);
        assert_eq!(kind(b"3 4\r\n"), io::ErrorKind::InvalidData);
    }

    #[test]
    fn an_error_is_final_so_a_retry_cannot_decode_a_different_body() {
        // The chunk size "1a" arrives in two pieces with a timeout between them. Retrying after
        // the timeout must not parse "a" as a new chunk size.
        struct Stutter(Vec<io::Result<&'static [u8]>>);
        impl Read for Stutter {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                match self.0.pop() {
                    None => Ok(0),
                    Some(Ok(bytes)) => {
                        buf[..bytes.len()].copy_from_slice(bytes);
                        Ok(bytes.len())
                    }
                    Some(Err(error)) => Err(error),
                }
            }
        }
        let pieces = vec![
            Ok(&b"a\r\nABCDEFGHIJ\r\n0\r\n\r\n"[..]),
            Err(io::Error::new(io::ErrorKind::TimedOut, "timed out")),
            Ok(&b"1"[..]),
        ];
        let source = io::BufReader::new(Stutter(pieces));
        let mut body = BodyReader::new(source, Framing::Chunked, &Limits::default());
        let mut out = Vec::new();
        assert_eq!(
            body.read_to_end(&mut out).unwrap_err().kind(),
            io::ErrorKind::TimedOut
        );
        let again = body.read(&mut [0; 64]).unwrap_err();
        assert_eq!(
            again.kind(),
            io::ErrorKind::TimedOut,
            "the first error comes back"
        );
        assert!(!body.is_done());
    }

    #[test]
    fn chunk_line_limit_edge() {
        let limits = Limits {
            max_chunk_line: 8,
            ..Limits::default()
        };
        let ok = b"3;abcdef\r\nabc\r\n0\r\n\r\n"; // 8 bytes: passes
        let mut body = BodyReader::new(&ok[..], Framing::Chunked, &limits);
        assert!(body.read_to_end(&mut Vec::new()).is_ok());
        let long = b"3;abcdefg\r\nabc\r\n0\r\n\r\n"; // 9 bytes: refused
        let mut body = BodyReader::new(&long[..], Framing::Chunked, &limits);
        assert_eq!(
            body.read_to_end(&mut Vec::new()).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
    }
}
