//! A reader with a read-ahead buffer: std's `BufReader`, small enough to read, with one
//! difference that matters to a server — the buffer can be handed in and taken back.
//!
//! Stage: **read request** (the connection's reader) and **call app** (the application's
//! `Input`).
//!
//! Interface:
//! * [`ReadAhead::new`] wraps a reader around a buffer you supply: its length is how far to
//!   read ahead. An empty `Vec` means "allocate one only if `BufRead` is ever used".
//! * It is a `Read` and a `BufRead`. Plain reads into a large buffer skip the read-ahead and go
//!   straight to the inner reader, so big bodies are not copied twice.
//! * [`ReadAhead::into_buffer`] gives the buffer back for the next connection.
//!
//! Why not `BufReader`? Each `BufReader::new` allocates its buffer, and safe Rust must fill a
//! fresh buffer with zeros before lending it to `read`. For a server making a new reader per
//! connection, that is an allocation, an 8 KiB memset and a free per request — a fifth of the
//! server's own instructions, the benchmark showed. Reusing one buffer costs none of them.

use std::io::{self, BufRead, Read};

/// How much to read ahead when no buffer was supplied.
pub(crate) const DEFAULT_READ_AHEAD: usize = 8 * 1024;

/// A reader with a reusable read-ahead buffer. See the module docs.
pub(crate) struct ReadAhead<R> {
    inner: R,
    /// `buffer[start..end]` holds bytes read from `inner` but not yet handed out.
    buffer: Vec<u8>,
    start: usize,
    end: usize,
}

impl<R: Read> ReadAhead<R> {
    /// Reads from `inner`, reading ahead into `buffer` (all of its length).
    pub(crate) fn new(inner: R, buffer: Vec<u8>) -> ReadAhead<R> {
        ReadAhead {
            inner,
            buffer,
            start: 0,
            end: 0,
        }
    }

    /// The inner reader (to change its timeouts, say).
    pub(crate) fn get_mut(&mut self) -> &mut R {
        &mut self.inner
    }

    /// Bytes read ahead and not yet handed out.
    pub(crate) fn buffered(&self) -> &[u8] {
        &self.buffer[self.start..self.end]
    }

    /// The buffer, for reuse. Bytes still in it are dropped.
    pub(crate) fn into_buffer(self) -> Vec<u8> {
        self.buffer
    }
}

impl<R: Read> Read for ReadAhead<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.start == self.end && buf.len() >= self.buffer.len() {
            return self.inner.read(buf); // nothing read ahead, and a big read: no copy
        }
        let available = self.fill_buf()?;
        let n = buf.len().min(available.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

impl<R: Read> BufRead for ReadAhead<R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.start == self.end {
            if self.buffer.is_empty() {
                self.buffer = vec![0; DEFAULT_READ_AHEAD];
            }
            self.end = self.inner.read(&mut self.buffer)?;
            self.start = 0;
        }
        Ok(&self.buffer[self.start..self.end])
    }

    fn consume(&mut self, amount: usize) {
        self.start = (self.start + amount).min(self.end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mixes_line_reads_and_plain_reads_without_losing_bytes() {
        // Several buffers' worth, so plain reads must drain the read-ahead first.
        let mut data = b"first\nsecond\n".to_vec();
        data.extend((0..20_000u32).map(|i| (i % 251) as u8));
        let mut reader = ReadAhead::new(io::Cursor::new(data.clone()), vec![0; 100]);
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        assert_eq!(line, "first\n");
        let mut next = [0u8; 3];
        reader.read_exact(&mut next).unwrap();
        assert_eq!(&next, b"sec");
        assert!(
            reader.buffered().starts_with(b"ond\n"),
            "the rest of the read-ahead is kept"
        );
        let mut rest = Vec::new();
        reader.read_to_end(&mut rest).unwrap();
        assert_eq!(rest, data[9..]);
    }

    #[test]
    fn an_empty_buffer_is_allocated_on_first_buffered_use_and_given_back() {
        let mut reader = ReadAhead::new(&b"abc\ndef\n"[..], Vec::new());
        let mut small = [0u8; 2];
        reader.read_exact(&mut small).unwrap(); // a plain read: straight through, no buffer
        assert_eq!(&small, b"ab");
        let mut line = String::new();
        reader.read_line(&mut line).unwrap(); // a line read needs the read-ahead
        assert_eq!(line, "c\n");
        assert_eq!(reader.into_buffer().len(), DEFAULT_READ_AHEAD);
    }
}
