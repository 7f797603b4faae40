//! The sockets the servers listen and talk on — TCP or Unix — and the one rule every
//! transport writes by: each slice of the response must be taken within `Timeouts::write`.
//!
//! Stage: **accept**, and the writes of **send headers** and **send body**, for the HTTP
//! server, the FastCGI responder and the SCGI server alike.
//!
//! Interface:
//! * [`Listener`] and [`Stream`] are a TCP or a Unix socket; the rest of a server never asks
//!   which, except to set `TCP_NODELAY` and to name the [`Peer`] for the log. (The HTTP server
//!   speaks TCP only, and uses std's `TcpListener` and `TcpStream` directly.)
//! * Writes go through [`write_all`], in slices of at most [`WRITE_SLICE`] bytes, each of which
//!   the peer must take within the write timeout; [`set_send_wait`] prepares the socket for it
//!   once per connection. Why slices, and why the kernel's own write timeout is not enough, is
//!   told at [`write_all`]. Its error says "the client stopped reading"; a transport whose
//!   client is a web server says so in its own words.
//!
//! As with `std`'s sockets, reading and writing go through `&Stream`, so several owners
//! (`Rc<Stream>`) can share one socket.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::time::{Duration, Instant};

use super::{deadline_after, Socket};

/// A listening socket: TCP or Unix.
pub(crate) enum Listener {
    Tcp(TcpListener),
    Unix(UnixListener),
}

/// One connection from a web server: TCP or Unix.
pub(crate) enum Stream {
    Tcp(TcpStream),
    Unix(UnixStream),
}

/// Who connected: the web server's address over TCP; nothing to say over a Unix socket (the
/// file's permissions decided who may connect).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Peer {
    Tcp(SocketAddr),
    Unix,
}

impl Peer {
    /// The peer as the log's first field: its IP address, or `unix`.
    pub(crate) fn name(self) -> String {
        match self {
            Peer::Tcp(address) => address.ip().to_canonical().to_string(),
            Peer::Unix => "unix".to_owned(),
        }
    }
}

impl Listener {
    /// Waits for the next connection.
    pub(crate) fn accept(&self) -> io::Result<(Stream, Peer)> {
        match self {
            Listener::Tcp(listener) => {
                let (stream, peer) = listener.accept()?;
                Ok((Stream::Tcp(stream), Peer::Tcp(peer)))
            }
            Listener::Unix(listener) => {
                let (stream, _) = listener.accept()?;
                Ok((Stream::Unix(stream), Peer::Unix))
            }
        }
    }

    pub(crate) fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        match self {
            Listener::Tcp(listener) => listener.set_nonblocking(nonblocking),
            Listener::Unix(listener) => listener.set_nonblocking(nonblocking),
        }
    }
}

impl Stream {
    /// Turns Nagle's algorithm off on TCP; a Unix socket has none.
    pub(crate) fn set_nodelay(&self) -> io::Result<()> {
        match self {
            Stream::Tcp(stream) => stream.set_nodelay(true),
            Stream::Unix(_) => Ok(()),
        }
    }

    pub(crate) fn shutdown(&self, how: Shutdown) -> io::Result<()> {
        match self {
            Stream::Tcp(stream) => stream.shutdown(how),
            Stream::Unix(stream) => stream.shutdown(how),
        }
    }
}

impl Socket for Stream {
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Tcp(stream) => stream.set_read_timeout(timeout),
            Stream::Unix(stream) => stream.set_read_timeout(timeout),
        }
    }

    fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Tcp(stream) => stream.set_write_timeout(timeout),
            Stream::Unix(stream) => stream.set_write_timeout(timeout),
        }
    }

    fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        match self {
            Stream::Tcp(stream) => stream.set_nonblocking(nonblocking),
            Stream::Unix(stream) => stream.set_nonblocking(nonblocking),
        }
    }
}

impl Read for &Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(stream) => (&*stream).read(buf),
            Stream::Unix(stream) => (&*stream).read(buf),
        }
    }
}

impl Write for &Stream {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Tcp(stream) => (&*stream).write(bytes),
            Stream::Unix(stream) => (&*stream).write(bytes),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(()) // sockets have no user-space buffer to flush
    }
}

/// The most bytes [`write_all`] hands the kernel at once, and so the unit of progress that
/// `Timeouts::write` asks of a client: one slice per period.
pub(crate) const WRITE_SLICE: usize = 64 * 1024;

/// The longest one `send` call may block before [`write_all`] looks at the clock. Short on
/// purpose; see [`write_all`].
pub(crate) const SEND_WAIT: Duration = Duration::from_millis(100);

/// Sets the kernel's wait for each `send` (`SO_SNDTIMEO`) to [`SEND_WAIT`], or to `write` if
/// that is shorter; [`write_all`] keeps the real time limit itself. Once per connection.
pub(crate) fn set_send_wait(stream: &impl Socket, write: Duration) -> io::Result<()> {
    stream.set_write_timeout(Some(write.min(SEND_WAIT)))
}

/// Writes all of `bytes` to the client, in slices of at most [`WRITE_SLICE`]. The client must
/// take each slice within `timeout` (`Timeouts::write`); if it does not, the write fails with a
/// `TimedOut` error that says so ("the client stopped reading: …"). So a client that takes less
/// than 64 KiB per `timeout` is taken to have stopped, and one that keeps reading faster than
/// that is served however long the response takes.
///
/// Why not simply `SO_SNDTIMEO` = `timeout` and `write_all`, as the HTTP server first did
/// (and the FastCGI and SCGI servers did until they came to share this function)? Because
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
pub(crate) fn write_all<S: Socket>(stream: &S, bytes: &[u8], timeout: Duration) -> io::Result<()>
where
    for<'a> &'a S: Write,
{
    for slice in bytes.chunks(WRITE_SLICE) {
        write_slice(stream, slice, timeout)?;
    }
    Ok(())
}

/// Writes one slice; fails if it is not all sent within `timeout` from now.
fn write_slice<S>(mut stream: &S, slice: &[u8], timeout: Duration) -> io::Result<()>
where
    for<'a> &'a S: Write,
{
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
