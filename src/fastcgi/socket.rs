//! The sockets a FastCGI responder listens and talks on: TCP or Unix, bound by us or inherited
//! on standard input, with the kernel timeouts the shared reader needs.
//!
//! Stage: **accept**, and the reads and writes of every stage after it.
//!
//! Interface:
//! * [`Listener`] and [`Stream`] are a TCP or a Unix socket; the rest of the module never asks
//!   which, except to set `TCP_NODELAY` and to name the peer.
//! * [`adopt`] turns an inherited file descriptor (FastCGI's `FCGI_LISTENSOCK_FILENO`, which is
//!   0: standard input) into a listener, in safe Rust, and says in words what it is if it is
//!   not a listening socket.
//! * Reads go through `crate::net::TimedReader`, the reader all three transports share
//!   (`src/net/reader.rs`).

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::time::Duration;

use super::Address;

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

    /// Where it listens, as the banner and [`super::Server::local_addr`] say it.
    pub(crate) fn address(&self) -> io::Result<Address> {
        match self {
            Listener::Tcp(listener) => Ok(Address::Tcp(listener.local_addr()?)),
            Listener::Unix(listener) => {
                let local = listener.local_addr()?;
                Ok(Address::Unix(local.as_pathname().map(PathBuf::from)))
            }
        }
    }
}

impl Stream {
    pub(crate) fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Tcp(stream) => stream.set_read_timeout(timeout),
            Stream::Unix(stream) => stream.set_read_timeout(timeout),
        }
    }

    pub(crate) fn set_write_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        match self {
            Stream::Tcp(stream) => stream.set_write_timeout(timeout),
            Stream::Unix(stream) => stream.set_write_timeout(timeout),
        }
    }

    pub(crate) fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        match self {
            Stream::Tcp(stream) => stream.set_nonblocking(nonblocking),
            Stream::Unix(stream) => stream.set_nonblocking(nonblocking),
        }
    }

    /// Turns Nagle's algorithm off on TCP (see `Config::nodelay`); Unix sockets have none.
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

/// Makes a listener of an inherited file descriptor — FastCGI 1.0 §2.2: a web server that
/// starts its responders (lighttpd's `bin-path`, `spawn-fcgi`) hands each one the listening
/// socket as file descriptor 0, `FCGI_LISTENSOCK_FILENO`, in place of standard input.
///
/// std can wrap any owned descriptor as a `TcpListener` or a `UnixListener` without checking,
/// so we check first, in safe Rust: `fstat` says whether it is a socket at all, a listener's
/// `local_addr` says which family it is (a TCP listener's fails on a Unix socket), and a
/// *connected* socket has a peer where a listening one has none.
pub(crate) fn adopt(fd: OwnedFd) -> io::Result<(Listener, Address)> {
    let file = File::from(fd);
    let kind = file.metadata()?.file_type();
    if !kind.is_socket() {
        let what = if kind.is_char_device() {
            "a terminal or a device"
        } else if kind.is_fifo() {
            "a pipe"
        } else if kind.is_file() {
            "a file"
        } else {
            "not a socket"
        };
        return Err(not_a_listener(&format!(
            "standard input is {what}, not a socket"
        )));
    }
    let tcp = TcpListener::from(OwnedFd::from(file));
    if tcp.local_addr().is_ok() {
        let fd = OwnedFd::from(tcp);
        let probe = TcpStream::from(fd);
        if probe.peer_addr().is_ok() {
            return Err(connected());
        }
        let listener = Listener::Tcp(TcpListener::from(OwnedFd::from(probe)));
        let address = listener.address()?;
        return Ok((listener, address));
    }
    let probe = UnixStream::from(OwnedFd::from(tcp));
    if probe.peer_addr().is_ok() {
        return Err(connected());
    }
    let listener = Listener::Unix(UnixListener::from(OwnedFd::from(probe)));
    let address = listener
        .address()
        .map_err(|_| not_a_listener("standard input is a socket, but neither TCP nor Unix"))?;
    Ok((listener, address))
}

fn connected() -> io::Error {
    not_a_listener("standard input is a connected socket, not a listening one")
}

fn not_a_listener(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        format!(
            "{what}: a FastCGI responder started by a web server finds its listening socket \
             there (lighttpd's bin-path and spawn-fcgi do this). Started by hand, give it an \
             address to listen on instead (rgiref --fastcgi 127.0.0.1:9000)"
        ),
    )
}

impl crate::net::Socket for Stream {
    fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        Stream::set_read_timeout(self, timeout)
    }

    fn set_nonblocking(&self, nonblocking: bool) -> io::Result<()> {
        Stream::set_nonblocking(self, nonblocking)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn adopt_error(fd: OwnedFd) -> String {
        match adopt(fd) {
            Ok(_) => panic!("adopted something that is not a listening socket"),
            Err(error) => error.to_string(),
        }
    }

    #[test]
    fn a_file_or_a_device_is_refused_in_words() {
        let file = File::open("Cargo.toml").unwrap();
        let message = adopt_error(OwnedFd::from(file));
        assert!(
            message.starts_with("standard input is a file, not a socket: "),
            "{message}"
        );
        assert!(message.contains("--fastcgi 127.0.0.1:9000"), "{message}");
        let null = File::open("/dev/null").unwrap();
        assert!(adopt_error(OwnedFd::from(null)).contains("a terminal or a device"));
    }

    #[test]
    fn a_connected_socket_is_refused_and_listeners_are_adopted() {
        let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
        let bound = tcp.local_addr().unwrap();
        let client = TcpStream::connect(bound).unwrap();
        let message = adopt_error(OwnedFd::from(client));
        assert!(message.contains("a connected socket"), "{message}");

        let (_, address) = adopt(OwnedFd::from(tcp)).unwrap();
        assert_eq!(address, Address::Tcp(bound));

        let (one, _two) = UnixStream::pair().unwrap();
        assert!(adopt_error(OwnedFd::from(one)).contains("a connected socket"));
    }
}
