//! Reading a socket with the server's timeouts built in — for the HTTP server, the FastCGI
//! responder and the SCGI server alike.
//!
//! Stage: **read request** (the head, and the body as the application reads it during **call
//! app**), and **finish** (draining), in every transport.
//!
//! Interface: a [`TimedReader`] reads from a shared socket under one of the kinds of [`Limit`],
//! set with [`TimedReader::set_limit`] as the connection moves from phase to phase:
//! * a **deadline**, a moment by which this phase must be over (the first byte; the whole
//!   request head; draining) — it defeats a client that trickles one byte at a time;
//! * an **idle** timeout, the longest any single read may wait (the request body, which may be
//!   large and slow but must keep moving);
//! * **no wait** at all: a read finds bytes already there, or times out at once (the FastCGI
//!   responder's look at a kept connection, `src/fastcgi/connection.rs`).
//!
//! The kernel only knows the second kind (`SO_RCVTIMEO`, what `set_read_timeout` sets), so
//! before each read under a deadline we turn it into "the time left". An expired deadline
//! becomes an `io::ErrorKind::TimedOut` error, a [`DeadlinePassed`], without reading.
//!
//! The socket is shared (`Rc<S>`) between this reader and the connection's writers. Reading
//! and writing through `&S` (`&TcpStream`, `&net::Stream`) is how std lets several owners use
//! one socket without duplicating the file descriptor. [`Socket`] is what a reader needs of it.

use std::io::{self, Read};
use std::net::TcpStream;
use std::rc::Rc;
use std::time::{Duration, Instant};

/// What a [`TimedReader`] and `net::write_all` need of a socket: its kernel timeouts, and
/// blocking mode. Reading and writing go through `&S`, as std's sockets do.
pub(crate) trait Socket {
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()>;
    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()>;
    fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()>;
}

impl Socket for TcpStream {
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_read_timeout(self, timeout)
    }

    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        TcpStream::set_write_timeout(self, timeout)
    }

    fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        TcpStream::set_nonblocking(self, nonblocking)
    }
}

/// What bounds the reads of the current phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Limit {
    /// Every read must be over by this moment.
    Deadline(Instant),
    /// Each read may wait this long for bytes.
    Idle(Duration),
    /// No waiting at all: a read finds bytes already there, or times out at once.
    NoWait,
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
pub(crate) struct TimedReader<S> {
    stream: Rc<S>,
    limit: Limit,
    /// The timeout last given to the kernel, to skip a system call when it is unchanged.
    applied: Option<Duration>,
}

impl<S: Socket> TimedReader<S>
where
    for<'a> &'a S: Read,
{
    pub(crate) fn new(stream: Rc<S>, limit: Limit) -> TimedReader<S> {
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

    /// What bounds reads now.
    pub(crate) fn limit(&self) -> Limit {
        self.limit
    }

    /// The time the next read may wait (`None`: not at all), or a [`DeadlinePassed`] error if
    /// there is none left.
    fn timeout_now(&self) -> io::Result<Option<Duration>> {
        match self.limit {
            Limit::Idle(idle) => Ok(Some(idle)),
            Limit::Deadline(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Err(io::Error::new(io::ErrorKind::TimedOut, DeadlinePassed));
                }
                Ok(Some(left))
            }
            Limit::NoWait => Ok(None),
        }
    }

    /// One read in non-blocking mode: `SO_RCVTIMEO` cannot say "zero" (zero means "forever").
    fn read_without_waiting(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.stream.set_nonblocking(true)?;
        let read = (&*self.stream).read(buf);
        self.stream.set_nonblocking(false)?;
        read
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

impl<S: Socket> Read for TimedReader<S>
where
    for<'a> &'a S: Read,
{
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = match self.timeout_now()? {
            None => self.read_without_waiting(buf),
            Some(timeout) => {
                if self.applied != Some(timeout) {
                    self.stream.set_read_timeout(Some(timeout))?;
                    self.applied = Some(timeout);
                }
                (&*self.stream).read(buf)
            }
        };
        read.map_err(|error| match error.kind() {
            // On Unix an expired SO_RCVTIMEO reads as EAGAIN ("would block"), and so does a
            // non-blocking read that finds nothing; call it what it is.
            io::ErrorKind::WouldBlock => io::Error::new(io::ErrorKind::TimedOut, "read timed out"),
            _ => error,
        })
    }
}
