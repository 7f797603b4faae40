//! The response in progress: what the application asked for, and what has been sent.
//!
//! Stage: **send headers** and **send body**, for every transport.
//!
//! Interface (used by the engine, never by applications):
//! * A [`Response`] is the engine's [`Responder`]: the `StartResponse` an application calls
//!   hands it the checked status and headers, and the legacy `write` its bytes.
//! * [`Response::write_body`] sends body bytes, sending the head first if these are the first.
//!   This is the one place the head is made, so "the head waits for the first body byte"
//!   holds however the bytes arrive (a returned body, the legacy `write`, a file).
//! * [`Response::finish`] sends the head if nothing else did (an empty body), pushes everything
//!   out, and checks the body was as long as the `Content-Length` sent — the application's, or
//!   the one the engine computed. A body may never be longer: the extra bytes are not sent.
//!
//! The head, in the three styles a transport can ask for ([`HeadStyle`]):
//!
//! ```text
//!   StatusLine (HTTP server)         StatusHeader (CGI, FastCGI)       None (HTTP/0.9)
//!   HTTP/1.0 200 OK\r\n              Status: 200 OK\r\n                (nothing: the body
//!   Date: Tue, 24 Nov 2026 …\r\n     (the web server in front           alone, RFC 1945
//!   Server: rgiref/0.1.0\r\n          adds Date and Server)             §4.1)
//!   <the application's headers>      <the application's headers>
//!   Content-Length: 13\r\n           Content-Length: 13\r\n      (if known and not given)
//!   \r\n                             \r\n
//! ```

use std::error::Error;
use std::io;

use super::{Failure, HeadStyle, Transport};
use crate::gateway::{Responder, StartResponseError};
use crate::observe::Event;
use crate::Stage;

/// The engine's record of one response. See the module docs.
pub(crate) struct Response<'t> {
    transport: &'t mut dyn Transport,
    /// A HEAD request: status and headers, no body bytes (RFC 9110 §9.3.2).
    head_request: bool,

    // What the application asked for.
    status: Option<(u16, String)>,
    headers: Vec<(String, String)>,
    misuse: Option<String>,

    // The Content-Length on the wire, whoever chose it: the body must match it exactly.
    promised_length: Option<u64>,

    // What has happened on the wire.
    headers_sent: bool,
    body_bytes: u64,
    peer_error: Option<String>,
}

impl<'t> Response<'t> {
    pub(crate) fn new(transport: &'t mut dyn Transport, head_request: bool) -> Response<'t> {
        Response {
            transport,
            head_request,
            status: None,
            headers: Vec::new(),
            misuse: None,
            promised_length: None,
            headers_sent: false,
            body_bytes: 0,
            peer_error: None,
        }
    }

    /// A fresh response over the same transport, for an error page that replaces this one.
    pub(crate) fn restart(&mut self) -> Response<'_> {
        Response::new(&mut *self.transport, self.head_request)
    }

    pub(crate) fn is_started(&self) -> bool {
        self.status.is_some()
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

    /// Why writing to the peer failed, if it did: then every later failure is its doing.
    pub(crate) fn peer_error(&self) -> Option<&str> {
        self.peer_error.as_deref()
    }

    pub(crate) fn abort(&mut self) {
        self.transport.abort();
    }

    /// Tells the transport's observer, if it has one, what just happened.
    pub(crate) fn observe(&self, event: Event<'_>) {
        if let Some(observer) = self.transport.observer() {
            observer.event(&event);
        }
    }

    /// Stores a status and headers, replacing any earlier ones. The engine's own error pages
    /// come this way; an application's come through [`Responder::start_response`], checked.
    pub(crate) fn set(&mut self, status: String, headers: Vec<(String, String)>) {
        // The status has passed `check_status`, so it starts with three digits.
        let code = status.get(..3).and_then(|c| c.parse().ok()).unwrap_or(500);
        // Likewise any Content-Length has passed `check_headers`: one whole number.
        self.promised_length = headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("Content-Length"))
            .and_then(|(_, value)| value.parse().ok());
        self.status = Some((code, status));
        self.headers = headers;
    }

    /// True if body bytes go on the wire for this response: not for HEAD, and never for
    /// 204 No Content or 304 Not Modified, which have no body by definition (RFC 9110 §6.4.1).
    pub(crate) fn sends_body(&self) -> bool {
        !self.head_request && !matches!(self.status_code(), Some(204) | Some(304))
    }

    /// Sends body bytes (the head first if these are the first). `known_length` is the whole
    /// body's length if the caller knows it; it is used only if this call sends the head.
    pub(crate) fn write_body(
        &mut self,
        bytes: &[u8],
        known_length: Option<u64>,
    ) -> Result<(), Failure> {
        if let Some(misuse) = &self.misuse {
            // Once the application has broken a rule, nothing more of its response is sent:
            // the engine will answer 500 instead, or end the response if that is too late.
            return Err(Failure::app(Stage::SendBody, misuse.clone()));
        }
        if bytes.is_empty() {
            return Ok(()); // PEP 3333: an empty chunk does not send the head
        }
        self.ensure_head_sent(known_length)?;
        if !self.sends_body() {
            return Ok(());
        }
        let allowed = self.allowance(bytes.len() as u64) as usize;
        self.send(&bytes[..allowed])?;
        if allowed < bytes.len() {
            return Err(self.too_long());
        }
        Ok(())
    }

    /// Sends the head now if no body byte has, with the body's `known_length`.
    pub(crate) fn ensure_head_sent(&mut self, known_length: Option<u64>) -> Result<(), Failure> {
        if self.headers_sent {
            return Ok(());
        }
        if let Some(misuse) = &self.misuse {
            return Err(Failure::app(Stage::SendHeaders, misuse.clone()));
        }
        let computed = self.computed_length(known_length);
        let head = self.head(computed)?;
        self.headers_sent = true;
        if computed.is_some() {
            // We told the peer how long the body is; hold the body to it (a `size_hint` can
            // be wrong, and a reader can end early).
            self.promised_length = computed;
        }
        if !head.is_empty() {
            self.write_raw(Stage::SendHeaders, head.as_bytes())?;
            self.observe(Event::HeadSent {
                raw: head.as_bytes(),
            });
        }
        Ok(())
    }

    /// Ends the body: sends the head if nothing has (so an empty body gets `Content-Length:
    /// 0`, or the length the body declared), pushes everything out, and checks the body was
    /// as long as its `Content-Length` said.
    pub(crate) fn finish(&mut self, known_length: Option<u64>) -> Result<(), Failure> {
        self.ensure_head_sent(known_length)?;
        self.flush()?;
        match self.promised_length {
            Some(promised) if self.sends_body() && self.body_bytes < promised => {
                let whose = if self.length_from_app() {
                    "the application's"
                } else {
                    "the body's declared"
                };
                Err(Failure::app(
                    Stage::SendBody,
                    format!(
                        "the body ended after {} bytes, short of {whose} Content-Length: {promised}",
                        self.body_bytes
                    ),
                ))
            }
            _ => Ok(()),
        }
    }

    /// Pushes buffered bytes to the peer.
    pub(crate) fn flush(&mut self) -> Result<(), Failure> {
        let flushed = self.transport.flush();
        flushed.map_err(|error| self.peer_failed(Stage::SendBody, error))
    }

    /// The `Content-Length` the engine adds: the body's size if known, unless the application
    /// gave one, the transport sends no head (HTTP/0.9), or the status has no body (204, 304).
    fn computed_length(&self, known_length: Option<u64>) -> Option<u64> {
        let no_head = matches!(self.transport.head_style(), HeadStyle::None);
        let bodiless = matches!(self.status_code(), Some(204) | Some(304));
        if self.promised_length.is_none() && !no_head && !bodiless {
            known_length
        } else {
            None
        }
    }

    /// The head, ready for the wire, in the transport's style; empty for [`HeadStyle::None`].
    /// `computed_length` is a `Content-Length` to add. Fails if the application never called
    /// `start`.
    fn head(&self, computed_length: Option<u64>) -> Result<String, Failure> {
        let Some((code, status)) = &self.status else {
            let message = "the application returned without calling start_response";
            return Err(Failure::app(Stage::CallApp, message.to_owned()));
        };
        let mut head = String::with_capacity(256);
        match self.transport.head_style() {
            HeadStyle::None => return Ok(head),
            HeadStyle::StatusLine { version, server } => {
                push_line(&mut head, &[version, " ", status]);
                // RFC 9110 §6.6.1: an origin server with a clock MUST send Date.
                if !self.has_header("Date") {
                    let mut date = String::with_capacity(29);
                    crate::date::push_http_date_now(&mut date);
                    self.push_added(&mut head, "Date", &date);
                }
                if !self.has_header("Server") && !server.is_empty() {
                    self.push_added(&mut head, "Server", server);
                }
            }
            HeadStyle::StatusHeader => push_line(&mut head, &["Status: ", status]),
        }
        for (name, value) in &self.headers {
            // RFC 9110 §8.6: a 204 response MUST NOT carry Content-Length (it has no body to
            // measure), whatever the application says.
            if *code == 204 && name.eq_ignore_ascii_case("Content-Length") {
                continue;
            }
            push_line(&mut head, &[name, ": ", value]);
        }
        if let Some(length) = computed_length {
            self.push_added(&mut head, "Content-Length", &length.to_string());
        }
        head.push_str("\r\n");
        Ok(head)
    }

    /// Appends a header the engine added (not the application), and tells the observer.
    fn push_added(&self, head: &mut String, name: &str, value: &str) {
        push_line(head, &[name, ": ", value]);
        self.observe(Event::HeaderAdded { name, value });
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

    fn too_long(&mut self) -> Failure {
        let promised = self.promised_length.unwrap_or(0);
        let message = if self.length_from_app() {
            format!("the application sent more than its Content-Length of {promised} bytes; the rest was not sent")
        } else {
            format!(
                "the body was longer than the {promised} bytes it announced (a wrong size_hint or \
                 length) and the Content-Length sent; the rest was not sent"
            )
        };
        self.misuse.get_or_insert(message.clone());
        Failure::app(Stage::SendBody, message)
    }

    /// Sends body bytes and counts them (the count is what the access log reports).
    fn send(&mut self, bytes: &[u8]) -> Result<(), Failure> {
        self.write_raw(Stage::SendBody, bytes)?;
        self.body_bytes += bytes.len() as u64;
        self.observe(Event::BodyWritten { bytes });
        Ok(())
    }

    fn write_raw(&mut self, stage: Stage, bytes: &[u8]) -> Result<(), Failure> {
        let written = self.transport.write(bytes);
        written.map_err(|error| self.peer_failed(stage, error))
    }

    /// Remembers that writing to the peer failed, and why (the transport's error says it in
    /// words: "the client stopped reading", "broken pipe").
    fn peer_failed(&mut self, stage: Stage, error: io::Error) -> Failure {
        let why = error.to_string();
        self.peer_error.get_or_insert_with(|| why.clone());
        Failure::PeerGone { stage, why }
    }
}

impl Responder for Response<'_> {
    fn start_response(
        &mut self,
        status: String,
        headers: Vec<(String, String)>,
        _replacing: Option<&dyn Error>,
    ) -> Result<(), StartResponseError> {
        // `StartResponse` has checked the call (once, or a replacement before the head went
        // out) and the values; all that is left is to remember them.
        self.observe(Event::Started {
            status: &status,
            headers: &headers,
        });
        self.set(status, headers);
        Ok(())
    }

    fn write_now(&mut self, bytes: &[u8]) -> io::Result<()> {
        // PEP 3333: the first write() sends the head, even a write of no bytes.
        let written = match bytes {
            [] => self.ensure_head_sent(None),
            _ => self.write_body(bytes, None),
        };
        // ... and write() must not return until its bytes are on their way: flush each one.
        written
            .and_then(|()| self.flush())
            .map_err(Failure::into_io)
    }

    fn headers_sent(&self) -> bool {
        self.headers_sent
    }

    fn refused(&mut self, error: &StartResponseError) {
        // The first broken rule is the one to report; later ones are usually its consequences.
        self.misuse
            .get_or_insert_with(|| format!("start_response: {error}"));
    }
}

/// Appends `parts` and a CRLF: one line of the head.
fn push_line(head: &mut String, parts: &[&str]) {
    for part in parts {
        head.push_str(part);
    }
    head.push_str("\r\n");
}
