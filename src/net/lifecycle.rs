//! A server's life around its connections: the accept loop, stopping it from another thread,
//! and running it on a thread of its own — for the HTTP server, the FastCGI responder and the
//! SCGI server alike.
//!
//! Stage: **accept** (the loop around it), in every transport.
//!
//! Interface:
//! * [`serve_forever`] calls a server's "accept one connection and serve it" until the stop
//!   flag is set; a failed `accept` is logged and retried after a pause that doubles while the
//!   failures go on ([`ACCEPT_ERROR_PAUSE`] up to [`ACCEPT_ERROR_PAUSE_MAX`]).
//! * [`StopHandle`] sets that flag and wakes the loop if it waits in `accept` ([`Wake`] says
//!   where to connect). Each server's public `ShutdownHandle` wraps one.
//! * [`ServerThread`] runs a loop on its own thread and, when stopped or dropped, stops it and
//!   waits for the thread. Each server's public `RunningServer` holds one.

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use crate::log::Log;
use crate::Stage;

/// How long the accept loop first waits after `accept()` fails before trying again. Failures
/// such as "too many open files" clear up when a connection closes; retrying at once would spin.
pub(crate) const ACCEPT_ERROR_PAUSE: Duration = Duration::from_millis(100);

/// The longest pause between retries: the pause doubles after each failure in a row, up to
/// this, so a lasting failure writes about one log line a second instead of ten.
pub(crate) const ACCEPT_ERROR_PAUSE_MAX: Duration = Duration::from_secs(1);

/// Calls `serve_one` (accept a connection, serve it) until `stop` is set. Its `Err` is a
/// failed `accept`: logged, and retried after a pause; nothing a peer does ends the loop.
pub(crate) fn serve_forever(
    stop: &AtomicBool,
    log: &Log,
    mut serve_one: impl FnMut() -> io::Result<()>,
) {
    let mut pause = ACCEPT_ERROR_PAUSE;
    while !stop.load(Ordering::SeqCst) {
        match serve_one() {
            Ok(()) => pause = ACCEPT_ERROR_PAUSE,
            Err(error) => {
                let message =
                    format!("accepting a connection failed: {error}; retrying in {pause:?}");
                log.line("-", &format!("{}: {message}", Stage::Accept));
                thread::sleep(pause);
                pause = (pause * 2).min(ACCEPT_ERROR_PAUSE_MAX);
            }
        }
    }
}

/// Where to connect to wake a server blocked in `accept`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Wake {
    Tcp(SocketAddr),
    Unix(PathBuf),
    /// A Unix socket without a path (an inherited abstract one) cannot be connected to: the
    /// server stops at its next connection.
    Nowhere,
}

impl Wake {
    /// A TCP server's own address, except that a wildcard address (`0.0.0.0`, `::`) is not
    /// something you can connect to, so loopback instead.
    pub(crate) fn tcp(local: SocketAddr) -> Wake {
        let mut wake = local;
        if local.ip().is_unspecified() {
            let loopback = match local {
                SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
                SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
            };
            wake.set_ip(loopback);
        }
        Wake::Tcp(wake)
    }
}

/// Stops a [`serve_forever`] loop, from any thread. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct StopHandle {
    stop: Arc<AtomicBool>,
    wake: Wake,
}

impl StopHandle {
    pub(crate) fn new(stop: Arc<AtomicBool>, wake: Wake) -> StopHandle {
        StopHandle { stop, wake }
    }

    /// Sets the stop flag, and wakes the loop if it is waiting for a connection. Returns at
    /// once; the connection in progress, if any, is the server's to finish.
    pub(crate) fn shutdown(&self) {
        if self.stop.swap(true, Ordering::SeqCst) {
            return; // already asked
        }
        // The wake-up trick. A thread blocked in accept() stays blocked until a connection
        // arrives, and std offers no way to interrupt it from outside. So we *become* that
        // connection: connect to the server ourselves. accept() returns, the loop sees the flag,
        // and exits. (Python's socketserver avoids the problem differently: it polls with
        // select() and a 0.5 s timeout, so shutdown can take up to half a second.) The
        // connection sends nothing, which a server takes for a port check and does not log.
        match &self.wake {
            Wake::Tcp(address) => {
                let _ = TcpStream::connect_timeout(address, Duration::from_secs(1));
            }
            Wake::Unix(path) => {
                let _ = UnixStream::connect(path);
            }
            Wake::Nowhere => {}
        }
    }
}

/// A server loop running on its own thread; stopping or dropping it stops the loop and waits
/// for the thread.
#[derive(Debug)]
pub(crate) struct ServerThread {
    handle: StopHandle,
    thread: Option<JoinHandle<()>>,
}

impl ServerThread {
    /// Runs `serve` (a server's `serve_forever`) on a new thread called `name`.
    pub(crate) fn spawn(
        name: String,
        handle: StopHandle,
        serve: impl FnOnce() + Send + 'static,
    ) -> io::Result<ServerThread> {
        let thread = thread::Builder::new().name(name).spawn(serve)?;
        Ok(ServerThread {
            handle,
            thread: Some(thread),
        })
    }
}

impl Drop for ServerThread {
    fn drop(&mut self) {
        self.handle.shutdown();
        if let Some(thread) = self.thread.take() {
            // The loop catches application panics, so the thread only ends by our request.
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcard_addresses_are_woken_on_loopback() {
        let any: SocketAddr = "0.0.0.0:4000".parse().unwrap();
        assert_eq!(Wake::tcp(any), Wake::Tcp("127.0.0.1:4000".parse().unwrap()));
        let any6: SocketAddr = "[::]:4000".parse().unwrap();
        assert_eq!(Wake::tcp(any6), Wake::Tcp("[::1]:4000".parse().unwrap()));
    }
}
