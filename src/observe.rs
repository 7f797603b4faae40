//! Watching a request cross the stack: one event for each thing that happens at a stage.
//!
//! Stage: all of them — each [`Event`] names the stage it belongs to.
//!
//! Interface:
//! * An [`Observer`] receives every [`Event`] of every request, in order, as it happens. Any
//!   `Fn(&Event)` closure is one.
//! * The HTTP server reports to the observer in its `Config::observer`; the engine reports
//!   through [`Transport::observer`](crate::engine::Transport::observer), so every transport
//!   gets the engine's events (the application's `start`, what the server added, each body
//!   write) for free.
//! * No observer is the default, and then nothing is built or copied for it: each report is
//!   behind an `if let Some(observer)`, so watching costs nothing when nobody watches.
//!
//! Events borrow what they describe (the raw request bytes, the environ), so an observer that
//! wants to keep something copies it.
//!
//! ```
//! use rgiref::observe::{Event, Observer};
//! use rgiref::Stage;
//! let print = |event: &Event<'_>| println!("[{}] {event:?}", event.stage());
//! print.event(&Event::Closed);
//! assert_eq!(Event::Closed.stage(), Stage::Finish);
//! ```

use std::collections::BTreeMap;
use std::net::SocketAddr;

use crate::engine::Outcome;
use crate::gateway::Status;
use crate::Stage;

/// Receives the events of every request. See the module docs.
pub trait Observer {
    /// One thing happened.
    fn event(&self, event: &Event<'_>);
}

impl<F: Fn(&Event<'_>)> Observer for F {
    fn event(&self, event: &Event<'_>) {
        self(event)
    }
}

/// Something that happened while serving a request, in the order it happened.
#[derive(Debug, Clone, Copy)]
pub enum Event<'a> {
    /// accept: a connection was taken off the listening socket.
    Accepted {
        /// The client's end.
        peer: SocketAddr,
        /// Ours.
        local: SocketAddr,
    },
    /// read request: the request head (request line, headers, the empty line), byte for byte
    /// as it arrived — line ends, case and order as the client sent them.
    HeadReceived {
        /// The bytes.
        raw: &'a [u8],
    },
    /// read request: the request line, taken apart.
    RequestLine {
        /// `GET`.
        method: &'a str,
        /// `/hello?x=1`, as sent.
        target: &'a str,
        /// `HTTP/1.1`.
        version: &'a str,
    },
    /// read request or build environ: the server refused the request; the application will
    /// not run.
    Refused {
        /// Where it was refused.
        stage: Stage,
        /// The status it answers with.
        status: Status,
        /// Why.
        message: &'a str,
    },
    /// build environ: one request header, and what became of it.
    Header {
        /// The name as sent.
        name: &'a str,
        /// The value, without surrounding whitespace.
        value: &'a str,
        /// The environ variable it became, or why it did not.
        fate: HeaderFate<'a>,
    },
    /// build environ: the CGI variables, complete.
    Environ {
        /// All of them, sorted.
        vars: &'a BTreeMap<String, String>,
    },
    /// call app: the application called `start` (or `start_after_error`), and the status and
    /// headers passed the rules.
    Started {
        /// The status, e.g. `200 OK`.
        status: &'a str,
        /// The headers, as the application gave them.
        headers: &'a [(String, String)],
    },
    /// send headers: a header the server added, not the application (`Date`, `Server`,
    /// `Content-Length`).
    HeaderAdded {
        /// Its name.
        name: &'a str,
        /// Its value.
        value: &'a str,
    },
    /// send headers: the response head, byte for byte as it went to the transport.
    HeadSent {
        /// The bytes.
        raw: &'a [u8],
    },
    /// send body: body bytes went to the transport.
    BodyWritten {
        /// The bytes.
        bytes: &'a [u8],
    },
    /// finish: the engine is done with the response (the body's clean-up has run).
    Finished {
        /// How it went.
        outcome: &'a Outcome,
    },
    /// finish: request bytes the application did not read were read and thrown away, so the
    /// client sees the response rather than a reset.
    Drained {
        /// How many.
        bytes: u64,
    },
    /// A FastCGI record, in or out (the FastCGI transport's own step: one per record). Its
    /// stage is **read request** for records in, and for records out the stage of what they
    /// carry: STDOUT **send body**, STDERR **call app**, END_REQUEST and the rest **finish**.
    Record {
        /// In from the web server, or out to it.
        direction: Direction,
        /// The record type's name, as the specification spells it (`PARAMS`, `STDOUT`, …).
        kind: &'a str,
        /// The request it belongs to; 0 for management records.
        request_id: u16,
        /// Bytes of content (not counting the 8-byte header and the padding).
        content_length: usize,
    },
    /// finish: the connection is closed.
    Closed,
}

/// Which way a [`Event::Record`] went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// From the web server to us.
    In,
    /// From us to the web server.
    Out,
}

/// What became of one request header in the environ (RFC 3875 §4.1.18).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderFate<'a> {
    /// It became this variable (`User-Agent` → `HTTP_USER_AGENT`, `Content-Type` →
    /// `CONTENT_TYPE`).
    Variable(&'a str),
    /// An earlier header of the same name made this variable; this value was joined to it
    /// with a comma.
    Joined(&'a str),
    /// It was left out, for this reason.
    Dropped(&'a str),
}

impl Event<'_> {
    /// The stage this event belongs to.
    pub fn stage(&self) -> Stage {
        match self {
            Event::Accepted { .. } => Stage::Accept,
            Event::HeadReceived { .. } | Event::RequestLine { .. } => Stage::ReadRequest,
            Event::Refused { stage, .. } => *stage,
            Event::Header { .. } | Event::Environ { .. } => Stage::BuildEnviron,
            Event::Started { .. } => Stage::CallApp,
            Event::HeaderAdded { .. } | Event::HeadSent { .. } => Stage::SendHeaders,
            Event::BodyWritten { .. } => Stage::SendBody,
            Event::Finished { .. } | Event::Drained { .. } | Event::Closed => Stage::Finish,
            Event::Record {
                direction, kind, ..
            } => match (direction, *kind) {
                (Direction::In, _) => Stage::ReadRequest,
                (Direction::Out, "STDOUT") => Stage::SendBody,
                (Direction::Out, "STDERR") => Stage::CallApp,
                (Direction::Out, _) => Stage::Finish,
            },
        }
    }
}
