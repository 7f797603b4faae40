//! The socket machinery the three servers share: the HTTP/1.0 server (`crate::server`), the
//! FastCGI responder (`crate::fastcgi`) and the SCGI server (`crate::scgi`).
//!
//! Stage: **accept**, and the reads and writes of every stage after it, for all three
//! transports. Each transport keeps what is its own (a request's grammar, records, a netstring);
//! what a socket must do under a single thread is written here, once.
//!
//! Interface:
//! * [`TimedReader`] (`reader.rs`) reads a socket under a [`Limit`]: a deadline for a whole
//!   phase, or an idle timeout for each read. An expired deadline is a [`DeadlinePassed`] error.
//! * [`Listener`] and [`Stream`] (`stream.rs`) are a TCP or a Unix socket, and [`write_all`]
//!   writes to either under the write-timeout rule: each 64 KiB slice within the timeout.
//! * [`serve_forever`], [`StopHandle`] and [`ServerThread`] (`lifecycle.rs`) are the accept
//!   loop with its error backoff, the wake-up-connection stop, and the spawned server that
//!   stops when dropped; each server's public `ShutdownHandle` and `RunningServer` wrap them.
//!
//! A production server would do none of this by hand: with many clients served at once, a
//! slow one costs a buffer, not the only thread.

mod lifecycle;
mod reader;
mod stream;

pub(crate) use lifecycle::{serve_forever, ServerThread, StopHandle, Wake};

pub(crate) use reader::{deadline_after, DeadlinePassed, Limit, Socket, TimedReader};
pub(crate) use stream::{set_send_wait, write_all, Listener, Peer, Stream};
