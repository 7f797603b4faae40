//! The stages of one request, in order: the names the code, the log and the docs all use.
//!
//! Stage: all of them — this is the list. The crate docs draw them as the stack diagram; every
//! file's header says which of them it implements; every error line in the log starts with the
//! stage it happened in (`read request: 400 Bad Request: …`).

use std::fmt;

/// One step of serving a request. [`Stage::ALL`] lists them in order.
///
/// ```
/// use rgiref::Stage;
/// assert_eq!(Stage::ReadRequest.to_string(), "read request");
/// assert_eq!(Stage::ALL.first(), Some(&Stage::Accept));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Stage {
    /// The server takes the next connection off the listening socket: the HTTP server, a
    /// FastCGI responder, an SCGI server. A CGI program has no accept: the web server accepted
    /// the connection and started the program for that one request.
    Accept,
    /// Bytes become a request: an HTTP request head, FastCGI's BEGIN_REQUEST and PARAMS
    /// records, SCGI's netstring, a CGI program's environment. The body becomes a reader.
    ReadRequest,
    /// The request becomes an environ: `http::cgi_variables` for the HTTP server,
    /// `cgi::environ_variables` for every gateway behind a web server.
    BuildEnviron,
    /// The application runs: environ and `start_response` in, body out.
    CallApp,
    /// The status line and headers go out, just before the first body byte.
    SendHeaders,
    /// The body goes out.
    SendBody,
    /// The body is closed (its clean-up runs), the access-log line is written, request bytes
    /// the application did not read are drained, and the connection is closed (FastCGI: the
    /// END_REQUEST record, then the connection is kept or closed).
    Finish,
}

impl Stage {
    /// Every stage, in the order a request passes through them.
    pub const ALL: [Stage; 7] = [
        Stage::Accept,
        Stage::ReadRequest,
        Stage::BuildEnviron,
        Stage::CallApp,
        Stage::SendHeaders,
        Stage::SendBody,
        Stage::Finish,
    ];

    /// The stage's name as written in comments, logs and the tutorial.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Accept => "accept",
            Stage::ReadRequest => "read request",
            Stage::BuildEnviron => "build environ",
            Stage::CallApp => "call app",
            Stage::SendHeaders => "send headers",
            Stage::SendBody => "send body",
            Stage::Finish => "finish",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
