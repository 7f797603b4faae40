//! The read side of a connection, with the server's timeouts built in.
//!
//! Stage: **read request** (the head, and the body as the application reads it during **call
//! app**) and **finish** (draining).
//!
//! Interface: a [`TimedReader`] reads from the connection's socket under one of two kinds of
//! limit, set with [`TimedReader::set_limit`] as the connection moves from phase to phase:
//! * a **deadline**, a moment by which this phase must be over (the first byte; the whole
//!   request head; draining) — it defeats a client that trickles one byte at a time;
//! * an **idle** timeout, the longest any single read may wait (the request body, which may be
//!   large and slow but must keep moving).
//!
//! The kernel only knows the second kind (`SO_RCVTIMEO`, what `set_read_timeout` sets), so
//! before each read under a deadline we turn it into "the time left". An expired deadline
//! becomes an `io::ErrorKind::TimedOut` error without reading.
//!
//! The socket is shared (`Rc<TcpStream>`) between this reader, the response writer and the
//! 100-continue writer. Reading and writing a `&TcpStream` is how std lets several owners use
//! one socket without duplicating the file descriptor.

use std::io::{self, Read};
use std::net::TcpStream;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// What bounds the reads of the current phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Limit {
    /// Every read must be over by this moment.
    Deadline(Instant),
    /// Each read may wait this long for bytes.
    Idle(Duration),
}

impl Limit {
    /// A deadline `wait` after `start` (see [`deadline_after`]: it never panics).
    pub(crate) fn deadline_after(start: Instant, wait: Duration) -> Limit {
        Limit::Deadline(deadline_after(start, wait))
    }
}

/// How far ahead a deadline too far to represent is put instead: no deadline in practice.
const CENTURY: Duration = Duration::from_secs(100 * 365 * 24 * 60 * 60);

/// The moment `wait` after `start`. `start + wait` would panic ("overflow when adding duration
/// to instant") for a `wait` an `Instant` cannot reach, such as `Duration::MAX` — a natural way
/// to ask for "no timeout", so we saturate rather than refuse it: a deadline too far away to
/// represent means no deadline in practice, and becomes one a century away. (No real clock is
/// within a century of its end; if one were, the step would time out at once, not panic.)
pub(crate) fn deadline_after(start: Instant, wait: Duration) -> Instant {
    start
        .checked_add(wait)
        .or_else(|| start.checked_add(CENTURY))
        .unwrap_or(start)
}

/// Reads from a shared socket under a [`Limit`]. See the module docs.
pub(crate) struct TimedReader {
    stream: Rc<TcpStream>,
    limit: Limit,
    /// The timeout last given to the kernel, to skip a system call when it is unchanged.
    applied: Option<Duration>,
}

impl TimedReader {
    pub(crate) fn new(stream: Rc<TcpStream>, limit: Limit) -> TimedReader {
        TimedReader {
            stream,
            limit,
            applied: None,
        }
    }

    /// From now on, reads are bounded by `limit`.
    pub(crate) fn set_limit(&mut self, limit: Limit) {
        self.limit = limit;
    }

    /// The time the next read may wait, or a [`DeadlinePassed`] error if there is none left.
    fn timeout_now(&self) -> io::Result<Duration> {
        match self.limit {
            Limit::Idle(idle) => Ok(idle),
            Limit::Deadline(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(io::Error::new(io::ErrorKind::TimedOut, DeadlinePassed));
                }
                Ok(left)
            }
        }
    }
}

/// The error for "this step's time ran out while the client was still sending". It differs
/// from a read that waited out the time and found nothing (a plain `TimedOut`): after that one,
/// nothing is left unread; after this one, more may be on its way.
#[derive(Debug)]
pub(crate) struct DeadlinePassed;

impl std::fmt::Display for DeadlinePassed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the time allowed for this step ran out")
    }
}

impl std::error::Error for DeadlinePassed {}

impl DeadlinePassed {
    /// True if `error` is a [`DeadlinePassed`].
    pub(crate) fn is(error: &io::Error) -> bool {
        error
            .get_ref()
            .is_some_and(|inner| inner.is::<DeadlinePassed>())
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
