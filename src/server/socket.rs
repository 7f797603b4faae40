//! The connection's socket, with the server's timeouts built in: reads, and writes.
//!
//! Stage: **read request** (the head, and the body as the application reads it during **call
//! app**), **send headers** and **send body** (the writes), and **finish** (draining).
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
//! The first phase, waiting for a request's first byte, goes through [`wait_for_first_byte`],
//! which also gives up when the server is asked to stop: a connection that has sent nothing is
//! no request in progress.
//!
//! Writes go through [`write_all`], in slices of at most [`WRITE_SLICE`] bytes, each of which
//! the client must take within `Timeouts::write`; [`set_send_wait`] prepares the socket for it
//! once per connection. Why slices, and why the kernel's own write timeout is not enough, is
//! told at [`write_all`].
//!
//! The socket is shared (`Rc<TcpStream>`) between this reader, the response writer and the
//! 100-continue writer. Reading and writing a `&TcpStream` is how std lets several owners use
//! one socket without duplicating the file descriptor.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::read_ahead::ReadAhead;

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

    /// What bounds reads now.
    pub(crate) fn limit(&self) -> Limit {
        self.limit
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

/// How often [`wait_for_first_byte`] looks at the server's stop flag.
pub(crate) const STOP_CHECK: Duration = Duration::from_millis(50);

/// Waits, under the reader's deadline (`Timeouts::first_byte`), until the client sends its first
/// bytes — or until `stop` is set. True once bytes have arrived; false if the client closed
/// without a word or the server is stopping (either way, nothing to serve); a `TimedOut` error
/// once the deadline passes.
///
/// Why: `RunningServer::stop` finishes the request in progress, and an idle connection (a
/// test suite's pooled keep-alive client, a browser's pre-connect socket) used to count as one,
/// so stopping waited out the whole first-byte timeout. The kernel cannot be told about our
/// flag, so the wait is cut into [`STOP_CHECK`] slices with a look at the flag after each one
/// that found nothing. Bytes that have arrived are never dropped for the flag: a request that
/// has started is served. (The slices cost nothing on the fast path: the first read finds the
/// request already there, and its timeout is set once either way.)
pub(crate) fn wait_for_first_byte(
    reader: &mut ReadAhead<TimedReader>,
    stop: &AtomicBool,
) -> io::Result<bool> {
    let whole = reader.get_mut().limit();
    let Limit::Deadline(deadline) = whole else {
        return io::BufRead::fill_buf(reader).map(|bytes| !bytes.is_empty());
    };
    let arrived = loop {
        let slice_end = deadline.min(deadline_after(Instant::now(), STOP_CHECK));
        reader.get_mut().set_limit(Limit::Deadline(slice_end));
        match io::BufRead::fill_buf(reader) {
            Ok(bytes) => break Ok(!bytes.is_empty()),
            Err(error) if error.kind() == io::ErrorKind::TimedOut && Instant::now() < deadline => {
                if stop.load(Ordering::SeqCst) {
                    break Ok(false);
                }
            }
            Err(error) => break Err(error),
        }
    };
    reader.get_mut().set_limit(whole);
    arrived
}

/// The most bytes [`write_all`] hands the kernel at once, and so the unit of progress that
/// `Timeouts::write` asks of a client: one slice per period.
pub(crate) const WRITE_SLICE: usize = 64 * 1024;

/// The longest one `send` call may block before [`write_all`] looks at the clock. Short on
/// purpose; see [`write_all`].
pub(crate) const SEND_WAIT: Duration = Duration::from_millis(100);

/// Sets the kernel's wait for each `send` (`SO_SNDTIMEO`) to [`SEND_WAIT`], or to `write` if
/// that is shorter; [`write_all`] keeps the real time limit itself. Once per connection.
pub(crate) fn set_send_wait(stream: &TcpStream, write: Duration) -> io::Result<()> {
    stream.set_write_timeout(Some(write.min(SEND_WAIT)))
}

/// Writes all of `bytes` to the client, in slices of at most [`WRITE_SLICE`]. The client must
/// take each slice within `timeout` (`Timeouts::write`); if it does not, the write fails with a
/// `TimedOut` error that says so ("the client stopped reading: …"). So a client that takes less
/// than 64 KiB per `timeout` is taken to have stopped, and one that keeps reading faster than
/// that is served however long the response takes.
///
/// Why not simply `SO_SNDTIMEO` = `timeout` and `write_all`, as this server first did? Because
/// the kernel's timeout is per `send` call, and a call that waited the whole timeout but moved a
/// few bytes counts as success. A client that has stopped reading still takes in a few KiB now
/// and then for a while (its kernel does, on its behalf), so `write_all` started another full
/// wait each time: `kill -STOP` on a downloading curl held the server for 30 s, not 10.
///
/// Why slices, and why the short [`SEND_WAIT`]? A deadline needs a unit of work to be over by
/// then; a slice is that unit, small enough for any client that is really reading. And a
/// blocked `send` is woken only once a good part of the send buffer is free again (a third or
/// more on Linux), which for a slow reader can take longer than `timeout` while bytes are in
/// fact moving; a `send` whose short wait runs out takes whatever room there is and returns,
/// so waiting in short steps keeps a slow reader's bytes moving. A slice may overrun its
/// deadline by up to one such step.
pub(crate) fn write_all(stream: &TcpStream, bytes: &[u8], timeout: Duration) -> io::Result<()> {
    for slice in bytes.chunks(WRITE_SLICE) {
        write_slice(stream, slice, timeout)?;
    }
    Ok(())
}

/// Writes one slice; fails if it is not all sent within `timeout` from now.
fn write_slice(mut stream: &TcpStream, slice: &[u8], timeout: Duration) -> io::Result<()> {
    let deadline = deadline_after(Instant::now(), timeout);
    let mut sent = 0;
    while sent < slice.len() {
        match stream.write(&slice[sent..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => sent += n,
            // The short wait ran out with nothing sent (Unix says "would block"); or a signal.
            Err(error) if is_wait_over(&error) => {}
            Err(error) => return Err(error),
        }
        if sent < slice.len() && Instant::now() >= deadline {
            let message = format!(
                "the client stopped reading: {sent} of {} bytes went out within the write timeout ({timeout:?})",
                slice.len()
            );
            return Err(io::Error::new(io::ErrorKind::TimedOut, message));
        }
    }
    Ok(())
}

/// True for the errors a `send` gives when its wait ran out or a signal cut it short.
fn is_wait_over(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted
    )
}
