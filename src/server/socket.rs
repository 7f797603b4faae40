//! The HTTP server's own use of its socket: waiting for the first byte, and writing.
//!
//! Stage: **read request** (its first byte), **send headers** and **send body** (the writes).
//!
//! Interface: the reads go through `crate::net::TimedReader`, the reader all three transports
//! share (`src/net/reader.rs` says why there are two kinds of limit). The first phase, waiting
//! for a request's first byte, goes through [`wait_for_first_byte`], which also gives up when
//! the server is asked to stop: a connection that has sent nothing is no request in progress.
//!
//! Writes go through [`write_all`], in slices of at most [`WRITE_SLICE`] bytes, each of which
//! the client must take within `Timeouts::write`; [`set_send_wait`] prepares the socket for it
//! once per connection. Why slices, and why the kernel's own write timeout is not enough, is
//! told at [`write_all`].

use std::io::{self, Write};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::net::{deadline_after, Limit, TimedReader};
use crate::read_ahead::ReadAhead;

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
    reader: &mut ReadAhead<TimedReader<TcpStream>>,
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
