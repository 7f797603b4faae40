//! A reader that keeps a copy of what passes through it: the request head, byte for byte.
//!
//! Stage: **read request**, and only when someone will look: an observer
//! (`Config::observer`), or an application that asked for the head (`Config::raw_head_to_app`).
//!
//! Interface: [`Recorder::new`] wraps any `BufRead`; the head parser reads through it as
//! usual, and [`Recorder::into_recorded`] gives back exactly the bytes it consumed — not the
//! bytes read ahead behind them, which belong to the body. Recording costs a copy of the
//! head, so the server wraps its reader only when someone will look.

use std::io::{self, BufRead, Read};

/// Copies every byte the reader consumes. See the module docs.
pub(crate) struct Recorder<'r, R> {
    inner: &'r mut R,
    recorded: Vec<u8>,
}

impl<'r, R: BufRead> Recorder<'r, R> {
    pub(crate) fn new(inner: &'r mut R) -> Recorder<'r, R> {
        Recorder {
            inner,
            recorded: Vec::new(),
        }
    }

    /// The bytes consumed, once the reading is over.
    pub(crate) fn into_recorded(self) -> Vec<u8> {
        self.recorded
    }
}

impl<R: BufRead> Read for Recorder<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.recorded.extend_from_slice(&buf[..n]);
        Ok(n)
    }
}

impl<R: BufRead> BufRead for Recorder<'_, R> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        self.inner.fill_buf()
    }

    fn consume(&mut self, amount: usize) {
        // The bytes being consumed are the first `amount` of the buffer the caller was just
        // shown; asking for it again reads nothing new, it only lends us the same bytes.
        if let Ok(buffered) = self.inner.fill_buf() {
            let amount = amount.min(buffered.len());
            self.recorded.extend_from_slice(&buffered[..amount]);
        }
        self.inner.consume(amount);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_what_was_consumed_and_nothing_read_ahead() {
        let mut source =
            io::BufReader::with_capacity(64, &b"GET / HTTP/1.0\r\nA: b\r\n\r\nBODY"[..]);
        let mut recorder = Recorder::new(&mut source);
        let mut line = String::new();
        recorder.read_line(&mut line).unwrap();
        recorder.read_line(&mut line).unwrap();
        recorder.read_line(&mut line).unwrap();
        assert_eq!(recorder.into_recorded(), b"GET / HTTP/1.0\r\nA: b\r\n\r\n");
        let mut body = String::new();
        source.read_to_string(&mut body).unwrap();
        assert_eq!(body, "BODY");
    }
}
