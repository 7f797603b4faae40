//! The FastCGI responder's own part of its sockets: the listener a web server hands it on
//! standard input, and where a listener listens, as a FastCGI address.
//!
//! Stage: **accept**.
//!
//! Interface:
//! * The listener and its connections are `crate::net`'s TCP-or-Unix [`Listener`] and
//!   `Stream`, which all three servers share; [`address`] says where one listens, as a
//!   FastCGI [`Address`].
//! * [`adopt`] turns an inherited file descriptor (FastCGI's `FCGI_LISTENSOCK_FILENO`, which is
//!   0: standard input) into a listener, in safe Rust, and says in words what it is if it is
//!   not a listening socket.
//! * Reads go through `crate::net::TimedReader`, writes through `crate::net::write_all`.

use std::fs::File;
use std::io;
use std::net::{TcpListener, TcpStream};
use std::os::fd::OwnedFd;
use std::os::unix::fs::FileTypeExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;

use super::Address;
use crate::net::Listener;

/// Where `listener` listens, as the banner and [`super::Server::local_addr`] say it.
pub(crate) fn address(listener: &Listener) -> io::Result<Address> {
    match listener {
        Listener::Tcp(listener) => Ok(Address::Tcp(listener.local_addr()?)),
        Listener::Unix(listener) => {
            let local = listener.local_addr()?;
            Ok(Address::Unix(local.as_pathname().map(PathBuf::from)))
        }
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
        let address = address(&listener)?;
        return Ok((listener, address));
    }
    let probe = UnixStream::from(OwnedFd::from(tcp));
    if probe.peer_addr().is_ok() {
        return Err(connected());
    }
    let listener = Listener::Unix(UnixListener::from(OwnedFd::from(probe)));
    let address = address(&listener)
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
