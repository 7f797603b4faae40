//! `--trace`: a request narrated as it crosses the stack, one line per step, named by stage.
//!
//! Stage: all of them — this is an [`Observer`] that writes each [`Event`] as a line.
//!
//! Interface: [`Trace`] is an observer; put it in `Config::observer` (the binary does this for
//! `cargo run -- --trace`). Each line starts with the stage in brackets, then a marker in
//! `curl -v`'s style — `>` for what came in, `<` for what went out, `*` for what the server
//! did or decided — then the step itself:
//!
//! ```text
//!   [accept]        * connection from 127.0.0.1:51234 to 127.0.0.1:8000
//!   [read request]  > GET /hello?x=1 HTTP/1.1  (request head: 83 bytes)
//!   [build environ] * Host: localhost:8000  →  HTTP_HOST
//!   [build environ] * X_Forwarded_For: 1.2.3.4  dropped: a name with "_" could pass for …
//!   [build environ] * PATH_INFO = "/hello", QUERY_STRING = "x=1"
//!   [call app]      * start_response("200 OK", 1 header)
//!   [send headers]  < Date: Wed, 02 Dec 2026 06:20:00 GMT  (added by the server)
//!   [send headers]  < status line and headers: 140 bytes
//!   [send body]     < 355 body bytes
//!   [finish]        * 200, 355 body bytes, complete
//!   [finish]        * connection closed
//! ```
//!
//! With [`TraceOptions::bytes`] (`--trace=bytes`) the request and response heads are shown
//! byte for byte too, with `\r` and `\n` visible. The values of `Authorization`, `Cookie` and
//! `Proxy-Authorization` are replaced by `<redacted>` unless [`TraceOptions::secrets`] is set
//! (`--trace=secrets`): a trace is made to be pasted into a question, and these are passwords.
//!
//! When no trace is set (the default), the server builds none of these lines: every report is
//! behind an `if let Some(observer)` (see `src/observe.rs`).

use std::io::{self, Write};
use std::sync::{Mutex, MutexGuard};

use crate::engine::{Ending, Outcome};
use crate::observe::{Direction, Event, HeaderFate, Observer};

/// What a [`Trace`] shows beyond the one line per step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TraceOptions {
    /// Also show the request and response heads byte for byte.
    pub bytes: bool,
    /// Show `Authorization`, `Cookie` and `Proxy-Authorization` values instead of redacting.
    pub secrets: bool,
}

impl std::str::FromStr for TraceOptions {
    type Err = String;

    /// The words `--trace=` takes: none, `bytes`, `secrets`, or both, separated by a comma.
    ///
    /// ```
    /// use rgiref::trace::TraceOptions;
    /// let both: TraceOptions = "bytes,secrets".parse().unwrap();
    /// assert!(both.bytes && both.secrets);
    /// assert!("loud".parse::<TraceOptions>().is_err());
    /// ```
    fn from_str(text: &str) -> Result<TraceOptions, String> {
        let mut options = TraceOptions::default();
        for word in text.split(',').filter(|w| !w.is_empty()) {
            match word {
                "bytes" => options.bytes = true,
                "secrets" => options.secrets = true,
                _ => return Err(format!("--trace takes bytes and secrets, not {word:?}")),
            }
        }
        Ok(options)
    }
}

/// The request headers whose values a trace hides unless asked: credentials. Lower case;
/// compare ignoring case. `examples/xray.rs` hides the same ones, so the redaction rule is
/// one list.
///
/// ```
/// use rgiref::trace::SECRET_HEADERS;
/// assert!(SECRET_HEADERS.iter().any(|name| name.eq_ignore_ascii_case("Cookie")));
/// ```
pub const SECRET_HEADERS: [&str; 3] = ["authorization", "cookie", "proxy-authorization"];

/// An observer that narrates each request. See the module docs.
///
/// ```
/// use std::sync::Arc;
/// use rgiref::server::Config;
/// use rgiref::trace::{Trace, TraceOptions};
/// let config = Config {
///     observer: Some(Arc::new(Trace::stderr(TraceOptions::default()))),
///     ..Config::default()
/// };
/// # let _ = config;
/// ```
pub struct Trace {
    out: Mutex<Box<dyn Write + Send>>,
    options: TraceOptions,
}

impl Trace {
    /// A trace written to `out`.
    pub fn new(out: impl Write + Send + 'static, options: TraceOptions) -> Trace {
        Trace {
            out: Mutex::new(Box::new(out)),
            options,
        }
    }

    /// A trace on standard error, beside the server's log.
    pub fn stderr(options: TraceOptions) -> Trace {
        Trace::new(io::stderr(), options)
    }

    /// Writes one line: `[stage] text`, the stage padded so the steps line up.
    fn line(&self, event: &Event<'_>, text: &str) {
        let stage = format!("[{}]", event.stage());
        let mut out = lock(&self.out);
        // A trace that cannot be written must not stop the server; there is nowhere to say so.
        let _ = writeln!(out, "{stage:<15} {text}");
    }

    /// Writes `raw` a line at a time, behind `marker`, control characters visible.
    fn bytes(&self, event: &Event<'_>, marker: &str, raw: &[u8]) {
        for line in raw.split_inclusive(|&b| b == b'\n') {
            let shown = self.redact_line(&visible(line));
            self.line(event, &format!("{marker} {shown}"));
        }
    }

    /// A header value, or `<redacted>` for a credential.
    fn value<'v>(&self, name: &str, value: &'v str) -> &'v str {
        let secret = SECRET_HEADERS.iter().any(|s| s.eq_ignore_ascii_case(name));
        if secret && !self.options.secrets {
            "<redacted>"
        } else {
            value
        }
    }

    /// A raw header line with a credential's value hidden.
    fn redact_line(&self, line: &str) -> String {
        match line.split_once(':') {
            Some((name, _)) if self.value(name, "") == "<redacted>" => {
                format!("{name}: <redacted>\\r\\n")
            }
            _ => line.to_owned(),
        }
    }

    fn on_header(&self, event: &Event<'_>, name: &str, value: &str, fate: &HeaderFate<'_>) {
        let shown = self.value(name, value);
        let what = match fate {
            HeaderFate::Variable(key) => format!("→  {key}"),
            HeaderFate::Joined(key) => format!("→  joined onto {key} with a comma"),
            HeaderFate::Dropped(why) => format!("dropped: {why}"),
        };
        self.line(event, &format!("* {name}: {shown}  {what}"));
    }
}

impl Observer for Trace {
    fn event(&self, event: &Event<'_>) {
        match event {
            Event::Accepted { peer, local } => {
                self.line(event, &format!("* connection from {peer} to {local}"))
            }
            Event::HeadReceived { raw } => {
                if self.options.bytes {
                    self.bytes(event, ">", raw);
                }
                self.line(event, &format!("* request head: {} bytes", raw.len()));
            }
            Event::RequestLine {
                method,
                target,
                version,
            } => self.line(event, &format!("> {method} {target} {version}")),
            Event::Refused {
                status, message, ..
            } => self.line(event, &format!("* refused with {status}: {message}")),
            Event::Header { name, value, fate } => self.on_header(event, name, value, fate),
            Event::Environ { vars } => {
                let get = |key: &str| vars.get(key).map_or("", String::as_str);
                let line = format!(
                    "* PATH_INFO = {:?}, QUERY_STRING = {:?} ({} variables)",
                    get("PATH_INFO"),
                    get("QUERY_STRING"),
                    vars.len()
                );
                self.line(event, &line);
            }
            Event::Started { status, headers } => {
                let count = match headers.len() {
                    1 => "1 header".to_owned(),
                    n => format!("{n} headers"),
                };
                self.line(event, &format!("* start_response({status:?}, {count})"));
            }
            Event::HeaderAdded { name, value } => {
                self.line(event, &format!("< {name}: {value}  (added by the server)"))
            }
            Event::HeadSent { raw } => {
                if self.options.bytes {
                    self.bytes(event, "<", raw);
                }
                let what = format!("< status line and headers: {} bytes", raw.len());
                self.line(event, &what);
            }
            Event::BodyWritten { bytes } => {
                self.line(event, &format!("< {} body bytes", bytes.len()))
            }
            Event::Finished { outcome } => self.line(event, &format!("* {}", summary(outcome))),
            Event::Drained { bytes } => self.line(
                event,
                &format!("* read and threw away {bytes} request bytes the application left"),
            ),
            Event::Closed => self.line(event, "* connection closed"),
            Event::Record {
                direction,
                kind,
                request_id,
                content_length,
            } => {
                let marker = match direction {
                    Direction::In => ">",
                    Direction::Out => "<",
                };
                let line = format!(
                    "{marker} FastCGI {kind} record, request {request_id}, {content_length} bytes"
                );
                self.line(event, &line);
            }
        }
    }
}

/// How a response went, in a few words.
fn summary(outcome: &Outcome) -> String {
    let status = outcome
        .status
        .map_or_else(|| "no status".to_owned(), |s| s.to_string());
    let ending = match outcome.ending {
        Ending::Complete => "complete",
        Ending::ErrorPage => "the application failed; an error page was sent",
        Ending::CutShort => "cut short (see the log)",
        Ending::PeerGone => "the client went away",
        Ending::CleanUpFailed => "sent, but the body's clean-up panicked",
    };
    format!("{status}, {} body bytes, {ending}", outcome.body_bytes)
}

/// `bytes` with control characters and bytes that are not UTF-8 written as escapes.
fn visible(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len() + 8);
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\r' => text.push_str("\\r"),
                '\n' => text.push_str("\\n"),
                '\t' => text.push_str("\\t"),
                c if c.is_control() => text.push_str(&format!("\\x{:02x}", c as u32)),
                c => text.push(c),
            }
        }
        for b in chunk.invalid() {
            text.push_str(&format!("\\x{b:02x}"));
        }
    }
    text
}

/// Locks `mutex` even if a thread panicked holding it: a trace line is still worth writing.
fn lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            lock(&self.0).extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn traced(options: TraceOptions, events: &[Event<'_>]) -> String {
        let out = Shared::default();
        let trace = Trace::new(out.clone(), options);
        for event in events {
            trace.event(event);
        }
        let text = String::from_utf8(lock(&out.0).clone()).unwrap();
        text
    }

    #[test]
    fn credentials_are_redacted_unless_asked_for() {
        let header = Event::Header {
            name: "Cookie",
            value: "session=s3cret",
            fate: HeaderFate::Variable("HTTP_COOKIE"),
        };
        let raw = Event::HeadReceived {
            raw: b"GET / HTTP/1.0\r\nAuthorization: Basic czNjcmV0\r\n\r\n",
        };
        let bytes = TraceOptions {
            bytes: true,
            ..TraceOptions::default()
        };
        let hidden = traced(bytes, &[header, raw]);
        assert!(
            !hidden.contains("s3cret") && !hidden.contains("czNjcmV0"),
            "{hidden}"
        );
        assert!(
            hidden.contains("Cookie: <redacted>  →  HTTP_COOKIE"),
            "{hidden}"
        );
        assert!(
            hidden.contains("> Authorization: <redacted>\\r\\n"),
            "{hidden}"
        );
        let shown = traced(
            TraceOptions {
                bytes: true,
                secrets: true,
            },
            &[header, raw],
        );
        assert!(
            shown.contains("s3cret") && shown.contains("czNjcmV0"),
            "{shown}"
        );
    }

    #[test]
    fn each_line_names_its_stage() {
        let text = traced(TraceOptions::default(), &[Event::Closed]);
        assert_eq!(text, "[finish]        * connection closed\n");
    }
}
