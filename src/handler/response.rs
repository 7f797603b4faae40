//! The response in progress: what the application asked for, and what has been sent.
//!
//! Stage: **send headers** and **send body**, for every transport.
//!
//! Interface (used by the engine and by `StartResponse`, never by applications):
//! * [`ResponseState::set`] stores a status and headers that `StartResponse` has checked.
//! * [`ResponseState::write_body`] sends body bytes, sending the header block first if this is
//!   the first byte. This is the one place the header block is made, so "headers wait for the
//!   first body byte" holds however the bytes arrive (returned body, legacy `write`, file).
//! * [`ResponseState::finish`] sends the header block if nothing else did (an empty body), and
//!   checks the body was as long as the `Content-Length` sent — the application's, or the one
//!   the engine computed. A body may never be longer: the extra bytes are not sent.
//!
//! The header block, for an origin server (HTTP) and for a gateway (CGI, FastCGI) — wsgiref's
//! `origin_server` switch:
//!
//! ```text
//!   HTTP/1.0 200 OK\r\n              Status: 200 OK\r\n
//!   Date: Tue, 24 Nov 2026 …\r\n     (the web server in front adds Date and Server)
//!   Server: rgiref/0.1.0\r\n
//!   <the application's headers>      <the application's headers>
//!   Content-Length: 13\r\n           Content-Length: 13\r\n      (if known and not given)
//!   \r\n                             \r\n
//! ```
//!
//! An HTTP/0.9 client gets neither: only the body (RFC 1945 §4.1 "Simple-Response").

use std::io;

use super::Transport;

/// What kind of response the request allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestKind {
    /// An HTTP/0.9 request: the response is the body alone, no status line or headers.
    pub http09: bool,
    /// A HEAD request: status and headers, no body bytes (RFC 9110 §9.3.2).
    pub head: bool,
}

impl RequestKind {
    /// Reads the kind from `SERVER_PROTOCOL` and `REQUEST_METHOD`, as wsgiref's
    /// `client_is_modern` does.
    pub fn from_environ(environ: &crate::gateway::Environ) -> RequestKind {
        RequestKind {
            http09: environ.get("SERVER_PROTOCOL") == Some("HTTP/0.9"),
            head: environ.method() == "HEAD",
        }
    }
}

/// How sending failed: the application's fault, or the client's.
#[derive(Debug)]
pub(crate) enum SendError {
    /// The application broke a rule (no `start`, more bytes than its `Content-Length`, …).
    App(String),
    /// Writing to the client failed: it went away, or stopped reading.
    Client(io::Error),
}

impl SendError {
    /// For the legacy `write` handle, which speaks `io::Error`.
    pub(crate) fn into_io(self) -> io::Error {
        match self {
            SendError::App(message) => io::Error::new(io::ErrorKind::InvalidInput, message),
            SendError::Client(error) => error,
        }
    }
}

/// The engine's record of one response. See the module docs.
pub struct ResponseState {
    // How to frame the response (from the Handler and the request).
    origin_server: bool,
    http_version: &'static str,
    server_software: String,
    kind: RequestKind,

    // What the application asked for.
    status: Option<(u16, String)>,
    headers: Vec<(String, String)>,
    misuse: Option<String>,

    // The Content-Length on the wire, whoever chose it: the body must match it exactly.
    promised_length: Option<u64>,

    // What has happened on the wire.
    headers_sent: bool,
    body_bytes: u64,
    client_error: Option<String>,
}

impl ResponseState {
    pub(crate) fn new(handler: &super::Handler, kind: RequestKind) -> ResponseState {
        ResponseState {
            origin_server: handler.origin_server,
            http_version: handler.http_version,
            server_software: handler.server_software.clone(),
            kind,
            status: None,
            headers: Vec::new(),
            misuse: None,
            promised_length: None,
            headers_sent: false,
            body_bytes: 0,
            client_error: None,
        }
    }

    pub(crate) fn kind(&self) -> RequestKind {
        self.kind
    }

    pub(crate) fn is_started(&self) -> bool {
        self.status.is_some()
    }

    pub(crate) fn headers_sent(&self) -> bool {
        self.headers_sent
    }

    pub(crate) fn status_code(&self) -> Option<u16> {
        self.status.as_ref().map(|(code, _)| *code)
    }

    pub(crate) fn body_bytes(&self) -> u64 {
        self.body_bytes
    }

    pub(crate) fn misuse(&self) -> Option<&str> {
        self.misuse.as_deref()
    }

    pub(crate) fn client_error(&self) -> Option<&str> {
        self.client_error.as_deref()
    }

    /// Stores a checked status and headers, replacing any earlier ones.
    pub(crate) fn set(
        &mut self,
        code: u16,
        status: String,
        headers: Vec<(String, String)>,
        declared: Option<u64>,
    ) {
        self.status = Some((code, status));
        self.headers = headers;
        self.promised_length = declared;
    }

    /// Remembers the first rule the application broke; later ones are usually consequences.
    pub(crate) fn record_misuse(&mut self, message: String) {
        self.misuse.get_or_insert(message);
    }

    /// True if body bytes go on the wire for this response: not for HEAD, and never for
    /// 204 No Content or 304 Not Modified, which have no body by definition (RFC 9110 §6.4.1).
    pub(crate) fn sends_body(&self) -> bool {
        !self.kind.head && !matches!(self.status_code(), Some(204) | Some(304))
    }

    /// Sends body bytes (headers first if these are the first). `known_length` is the whole
    /// body's length if the caller knows it; it is used only if this call sends the headers.
    pub(crate) fn write_body(
        &mut self,
        transport: &mut dyn Transport,
        bytes: &[u8],
        known_length: Option<u64>,
    ) -> Result<(), SendError> {
        if let Some(misuse) = &self.misuse {
            // Once the application has broken a rule, nothing more of its response is sent:
            // the engine will answer 500 instead, or end the response if that is too late.
            return Err(SendError::App(misuse.clone()));
        }
        if bytes.is_empty() {
            return Ok(()); // PEP 3333: empty chunks do not trigger the headers
        }
        self.ensure_headers_sent(transport, known_length)?;
        if !self.sends_body() {
            return Ok(());
        }
        let allowed = self.allowance(bytes.len() as u64) as usize;
        self.send(transport, &bytes[..allowed])?;
        if allowed < bytes.len() {
            return Err(self.too_long());
        }
        Ok(())
    }

    /// Sends the header block now if no body byte has, with the body's `known_length`.
    pub(crate) fn ensure_headers_sent(
        &mut self,
        transport: &mut dyn Transport,
        known_length: Option<u64>,
    ) -> Result<(), SendError> {
        if self.headers_sent {
            return Ok(());
        }
        if let Some(misuse) = &self.misuse {
            return Err(SendError::App(misuse.clone()));
        }
        let computed = self.computed_length(known_length);
        let block = self.header_block(computed)?;
        self.headers_sent = true;
        if computed.is_some() {
            // We told the client how long the body is; hold the body to it (a `size_hint` can
            // be wrong, and a reader can end early).
            self.promised_length = computed;
        }
        if !block.is_empty() {
            self.write_raw(transport, block.as_bytes())?;
        }
        Ok(())
    }

    /// Ends the body: sends the headers if nothing has (an empty body: `Content-Length: 0`),
    /// pushes everything out, and checks the body was as long as its `Content-Length` said.
    pub(crate) fn finish(&mut self, transport: &mut dyn Transport) -> Result<(), SendError> {
        self.ensure_headers_sent(transport, Some(0))?;
        self.flush(transport)?;
        match self.promised_length {
            Some(promised) if self.sends_body() && self.body_bytes < promised => {
                let whose = if self.length_from_app() {
                    "the application's"
                } else {
                    "the computed"
                };
                Err(SendError::App(format!(
                    "the body ended after {} bytes, short of {whose} Content-Length: {promised}",
                    self.body_bytes
                )))
            }
            _ => Ok(()),
        }
    }

    /// Pushes buffered bytes to the client.
    pub(crate) fn flush(&mut self, transport: &mut dyn Transport) -> Result<(), SendError> {
        transport.flush().map_err(|error| self.client_failed(error))
    }

    /// The `Content-Length` the engine adds: the body's size if known, unless the application
    /// gave one, or the response is HTTP/0.9 (no headers at all), 204 or 304 (no body).
    fn computed_length(&self, known_length: Option<u64>) -> Option<u64> {
        let no_headers = self.kind.http09 && self.origin_server;
        let bodiless = matches!(self.status_code(), Some(204) | Some(304));
        if self.promised_length.is_none() && !no_headers && !bodiless {
            known_length
        } else {
            None
        }
    }

    /// The status line (or `Status:` header) and headers, ready for the wire; empty for
    /// HTTP/0.9. `computed_length` is a `Content-Length` to add. Fails if the application
    /// never called `start`.
    fn header_block(&self, computed_length: Option<u64>) -> Result<String, SendError> {
        let Some((code, status)) = &self.status else {
            return Err(SendError::App(
                "the application returned without calling start_response".to_owned(),
            ));
        };
        if self.kind.http09 && self.origin_server {
            return Ok(String::new());
        }
        let mut block = String::with_capacity(256);
        if self.origin_server {
            push_line(&mut block, &["HTTP/", self.http_version, " ", status]);
            if !self.has_header("Date") {
                block.push_str("Date: ");
                crate::date::push_http_date_now(&mut block);
                block.push_str("\r\n");
            }
            if !self.has_header("Server") && !self.server_software.is_empty() {
                push_line(&mut block, &["Server: ", &self.server_software]);
            }
        } else {
            push_line(&mut block, &["Status: ", status]);
        }
        for (name, value) in &self.headers {
            // RFC 9110 §8.6: a 204 response MUST NOT carry Content-Length (it has no body to
            // measure), whatever the application says.
            if *code == 204 && name.eq_ignore_ascii_case("Content-Length") {
                continue;
            }
            push_line(&mut block, &[name, ": ", value]);
        }
        if let Some(length) = computed_length {
            push_line(&mut block, &["Content-Length: ", &length.to_string()]);
        }
        block.push_str("\r\n");
        Ok(block)
    }

    /// True if the Content-Length on the wire is the application's, not one we computed.
    fn length_from_app(&self) -> bool {
        self.has_header("Content-Length")
    }

    fn has_header(&self, name: &str) -> bool {
        self.headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name))
    }

    /// How many of `wanted` more body bytes fit in the promised `Content-Length`.
    fn allowance(&self, wanted: u64) -> u64 {
        match self.promised_length {
            Some(promised) => wanted.min(promised.saturating_sub(self.body_bytes)),
            None => wanted,
        }
    }

    fn too_long(&mut self) -> SendError {
        let promised = self.promised_length.unwrap_or(0);
        let message = if self.length_from_app() {
            format!("the application sent more than its Content-Length of {promised} bytes; the rest was not sent")
        } else {
            format!(
                "the body was longer than the {promised} bytes it announced (a wrong size_hint or \
                 length) and the Content-Length sent; the rest was not sent"
            )
        };
        self.record_misuse(message.clone());
        SendError::App(message)
    }

    /// Sends body bytes and counts them (the count is what the access log reports).
    fn send(&mut self, transport: &mut dyn Transport, bytes: &[u8]) -> Result<(), SendError> {
        self.write_raw(transport, bytes)?;
        self.body_bytes += bytes.len() as u64;
        Ok(())
    }

    fn write_raw(&mut self, transport: &mut dyn Transport, bytes: &[u8]) -> Result<(), SendError> {
        transport
            .write(bytes)
            .map_err(|error| self.client_failed(error))
    }

    /// Remembers why writing to the client failed, in words: a timed-out write means the client
    /// stopped reading, which the OS reports as "resource temporarily unavailable".
    fn client_failed(&mut self, error: io::Error) -> SendError {
        self.client_error.get_or_insert_with(|| match error.kind() {
            // A bare OS timeout says only "resource temporarily unavailable"; a transport that
            // explains its timeout (the HTTP server's does) is quoted instead.
            io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut if error.get_ref().is_none() => {
                "it stopped reading: a write waited longer than the write timeout".to_owned()
            }
            _ => error.to_string(),
        });
        SendError::Client(error)
    }
}

/// Appends `parts` and a CRLF: one line of the header block.
fn push_line(block: &mut String, parts: &[&str]) {
    for part in parts {
        block.push_str(part);
    }
    block.push_str("\r\n");
}
