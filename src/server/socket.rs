//! The read side of a connection, with the server's timeouts built in.
//!
//! Stage: **read request** and **finish** (draining).
//!
//! Interface: a [`TimedReader`] reads from the connection's socket and enforces two kinds of
//! limit at once:
//! * a **deadline**, a moment by which this phase must be over (the first byte; the whole
//!   request head; draining) — it defeats a client that trickles one byte at a time;
//! * an **idle** timeout, the longest any single read may wait (the request body).
//!
//! The kernel only knows the second kind (`SO_RCVTIMEO`, what `set_read_timeout` sets), so
//! before each read we turn the deadline into "the time left", and give the kernel the smaller
//! of the two. An expired deadline becomes an `io::ErrorKind::TimedOut` error without reading.
//!
//! The socket is shared (`Rc<TcpStream>`) between this reader, the response writer and the
//! 100-continue writer. Reading and writing a `&TcpStream` is how std lets several owners use
//! one socket without duplicating the file descriptor.

use std::io::{self, Read};
use std::net::TcpStream;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// Reads from a shared socket under a deadline and/or idle timeout. See the module docs.
pub(crate) struct TimedReader {
    stream: Rc<TcpStream>,
    deadline: Option<Instant>,
    idle: Duration,
    /// The timeout last given to the kernel, to skip a system call when it is unchanged.
    applied: Option<Duration>,
}

impl TimedReader {
    pub(crate) fn new(stream: Rc<TcpStream>, idle: Duration) -> TimedReader {
        TimedReader {
            stream,
            deadline: None,
            idle,
            applied: None,
        }
    }

    /// From now on, reads must finish by `deadline`.
    pub(crate) fn set_deadline(&mut self, deadline: Option<Instant>) {
        self.deadline = deadline;
    }

    /// The time the next read may wait, or a `TimedOut` error if the deadline has passed.
    fn timeout_now(&self) -> io::Result<Duration> {
        let Some(deadline) = self.deadline else {
            return Ok(self.idle);
        };
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "deadline passed"));
        }
        Ok(left.min(self.idle))
    }
}

impl Read for TimedReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let timeout = self.timeout_now()?;
        if self.applied != Some(timeout) {
            self.stream.set_read_timeout(Some(timeout))?;
            self.applied = Some(timeout);
        }
        (&*self.stream)
            .read(buf)
            .map_err(|error| match error.kind() {
                // On Unix an expired SO_RCVTIMEO reads as EAGAIN ("would block"); call it what it is.
                io::ErrorKind::WouldBlock => {
                    io::Error::new(io::ErrorKind::TimedOut, "read timed out")
                }
                _ => error,
            })
    }
}
