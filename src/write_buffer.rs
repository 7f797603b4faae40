//! The response bytes a transport collects before writing them, so that a small response —
//! head and body — leaves in one `write` system call.
//!
//! Stage: **send headers** and **send body**, for the transports that write a byte stream:
//! the HTTP server's socket, the SCGI connection, a CGI program's standard output.
//!
//! Interface: a [`WriteBuffer`] takes the engine's writes and hands them on to a function
//! that writes for real (`out`): [`WriteBuffer::write`] keeps small pieces and passes on what
//! no longer fits; a block of [`WRITE_BUFFER`] bytes or more goes to `out` straight away,
//! without a copy. [`WriteBuffer::flush`] passes on what it holds — the engine flushes at the
//! end of the response and after each chunk of a streamed body. The buffer starts small and
//! grows only as far as the response needs.

use std::io;

/// How many response bytes collect before they are written.
pub(crate) const WRITE_BUFFER: usize = 16 * 1024;

/// Response bytes waiting to be written. See the module docs.
pub(crate) struct WriteBuffer {
    pending: Vec<u8>,
}

impl WriteBuffer {
    pub(crate) fn new() -> WriteBuffer {
        WriteBuffer {
            pending: Vec::with_capacity(512),
        }
    }

    /// Takes `bytes`; what would overflow the buffer is written with `out` first.
    pub(crate) fn write(
        &mut self,
        bytes: &[u8],
        mut out: impl FnMut(&[u8]) -> io::Result<()>,
    ) -> io::Result<()> {
        if self.pending.len() + bytes.len() > WRITE_BUFFER {
            self.flush(&mut out)?;
        }
        if bytes.len() >= WRITE_BUFFER {
            return out(bytes);
        }
        self.pending.extend_from_slice(bytes);
        Ok(())
    }

    /// Writes what the buffer holds with `out`. If `out` fails, the bytes are dropped: the
    /// peer they were for is gone, or stopped reading.
    pub(crate) fn flush(&mut self, mut out: impl FnMut(&[u8]) -> io::Result<()>) -> io::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let written = out(&self.pending);
        self.pending.clear();
        written
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_pieces_leave_together_and_big_blocks_go_straight_through() {
        let mut buffer = WriteBuffer::new();
        let mut writes: Vec<usize> = Vec::new();
        let mut out = |bytes: &[u8]| {
            writes.push(bytes.len());
            Ok(())
        };
        buffer.write(b"head", &mut out).unwrap();
        buffer.write(b"body", &mut out).unwrap();
        buffer.flush(&mut out).unwrap();
        buffer.write(&[0; 10], &mut out).unwrap();
        buffer.write(&vec![0; WRITE_BUFFER], &mut out).unwrap(); // the 10 first, then the block
        buffer.flush(&mut out).unwrap(); // nothing left
        assert_eq!(writes, [8, 10, WRITE_BUFFER]);
    }
}
