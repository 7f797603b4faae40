//! The HTTP server's wait for a request's first byte — the one read rule of its own.
//!
//! Stage: **read request** (its first byte).
//!
//! Interface: the reads go through `crate::net::TimedReader`, the reader all three transports
//! share (`src/net/reader.rs` says why there are two kinds of limit), and the writes through
//! `crate::net::write_all` (`src/net/stream.rs` tells the write-timeout rule). The first phase,
//! waiting for a request's first byte, goes through [`wait_for_first_byte`], which also gives
//! up when the server is asked to stop: a connection that has sent nothing is no request in
//! progress.

use std::io;
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
