//! Reading a request head: the request line and the header fields.
//!
//! Stage: **read request**. In: a `BufRead` positioned at the start of a request. Out: a
//! [`RequestHead`], or a [`RequestError`] naming the status to answer and what was wrong. The
//! reader is left at the first byte of the body.
//!
//! The grammar (RFC 1945 §5, with RFC 9112's strictness where 1.0 is silent):
//!
//! ```text
//!   Full-Request   = Request-Line              "POST /upload?x=1 HTTP/1.0" CRLF
//!                    *( header-field CRLF )     "Content-Length: 5" CRLF
//!                    CRLF                       CRLF
//!                    [ Entity-Body ]            "hello"
//!
//!   Simple-Request = "GET" SP Request-URI CRLF  "GET /" CRLF          (HTTP/0.9, §4.1)
//!
//!   Request-Line   = Method SP Request-URI SP HTTP-Version CRLF        (§5.1; exactly one SP)
//!   Method         = token                                             (§5.1.1; case-sensitive)
//!   Request-URI    = origin-form / absolute-form / "*"      (RFC 9112 §3.2; RFC 3986's characters)
//!   HTTP-Version   = "HTTP" "/" DIGIT "." DIGIT                        (RFC 9112 §2.3)
//!   header-field   = field-name ":" OWS field-value OWS                (RFC 9112 §5)
//!   field-name     = token           (no space before the colon: RFC 9112 §5.1)
//! ```
//!
//! Line ends may be CRLF or a bare LF (RFC 9112 §2.2 allows accepting LF); a bare CR anywhere
//! is refused, because some servers treat it as a line end and others do not.
//!
//! The start of the request line is checked as its bytes arrive, not once the line is whole: a
//! byte that no method can hold ends the request at once with a 400 (a TLS handshake sent to
//! this port gets "use http:// not https://" rather than a wait for a line end that never
//! comes).
//!
//! Every limit is in [`Limits`], named, with its status code:
//!
//! | limit                        | default | status when exceeded |
//! |------------------------------|---------|----------------------|
//! | [`Limits::max_request_line`] | 65536 B | 414 URI Too Long     |
//! | [`Limits::max_header_fields`]| 100     | 431                  |
//! | [`Limits::max_header_section`]| 65536 B| 431                  |
//! | [`Limits::max_chunk_line`]   | 4096 B  | 400 (in the body)    |

use std::fmt;
use std::io::{self, BufRead};

use crate::gateway::{is_tchar, is_token, value_from_bytes, Status};
use crate::log::quote;

/// The limits on what a client may send, each checked at its edge: a request exactly at the
/// limit is accepted, one byte (or field) more is refused.
///
/// ```
/// use rgiref::http::Limits;
/// let small = Limits { max_header_fields: 10, ..Limits::default() };
/// assert_eq!(small.max_request_line, 65_536);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes in the request line, not counting its line end (wsgiref's and http.server's
    /// limit). Empty lines before the request line count towards it too.
    pub max_request_line: usize,
    /// Header fields in one request: `http.client`'s `_MAXHEADERS`, which `http.server` uses
    /// when it reads headers. Also applies to the
    /// trailer fields of a chunked body.
    pub max_header_fields: usize,
    /// Bytes of all header lines together, line ends included, not counting the empty line
    /// that ends them. Also applies to a chunked body's trailer section.
    pub max_header_section: usize,
    /// Bytes in one chunk-size line of a chunked body, not counting its line end.
    pub max_chunk_line: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_request_line: 65_536,
            max_header_fields: 100,
            max_header_section: 65_536,
            max_chunk_line: 4_096,
        }
    }
}

/// An HTTP version, e.g. `HTTP/1.1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version {
    /// The digit before the dot.
    pub major: u8,
    /// The digit after the dot.
    pub minor: u8,
}

impl Version {
    /// HTTP/0.9: a request line without a version, answered with the body alone.
    pub const HTTP_09: Version = Version { major: 0, minor: 9 };
    /// HTTP/1.0.
    pub const HTTP_10: Version = Version { major: 1, minor: 0 };
    /// HTTP/1.1.
    pub const HTTP_11: Version = Version { major: 1, minor: 1 };
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HTTP/{}.{}", self.major, self.minor)
    }
}

/// A parsed request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// The method, case as sent (`GET`).
    pub method: String,
    /// The request target exactly as sent (`/a%20b?x=1`); becomes `REQUEST_URI`.
    pub target: String,
    /// The version; [`Version::HTTP_09`] for a Simple-Request.
    pub version: Version,
    /// The header fields in order: names as sent, values with surrounding whitespace removed.
    pub headers: Vec<(String, String)>,
    /// The request line as sent, for the access log.
    pub request_line: String,
}

impl RequestHead {
    /// Every value of header `name` (case-insensitive), in order.
    pub fn header_values<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.headers
            .iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// True if the request has a header `name`.
    pub fn has_header(&self, name: &str) -> bool {
        self.header_values(name).next().is_some()
    }
}

/// A request the server refuses: the status to answer with, and a message naming the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    /// The status to answer with.
    pub status: Status,
    /// What was wrong, quoting the offending input.
    pub message: String,
}

impl Refusal {
    fn new(status: Status, message: impl Into<String>) -> Refusal {
        Refusal {
            status,
            message: message.into(),
        }
    }

    fn bad_request(message: impl Into<String>) -> Refusal {
        Refusal::new(Status::BAD_REQUEST, message)
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.status, self.message)
    }
}

/// Why no request head came out.
#[derive(Debug)]
pub enum Problem {
    /// The client sent something we refuse.
    Refused(Refusal),
    /// The socket's read timeout ran out before the head was complete.
    TimedOut,
    /// The client closed the connection before the head was complete.
    Closed,
    /// Reading failed for another reason.
    Io(io::Error),
}

/// A failed read of a request head, with what was learnt of the request before it failed.
#[derive(Debug)]
pub struct RequestError {
    /// What went wrong.
    pub problem: Problem,
    /// The request line, if it was read (for the log).
    pub request_line: Option<String>,
    /// The method, if the reader got as far as the space after it — even when the rest of the
    /// line was too long (414) or bad. The server needs it to answer a refused `HEAD` request
    /// without a body (RFC 9110 §9.3.2).
    pub method: Option<String>,
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.problem {
            Problem::Refused(refusal) => refusal.fmt(f),
            Problem::TimedOut => f.write_str("the request head did not arrive in time"),
            Problem::Closed => {
                f.write_str("the client closed the connection in the middle of its request")
            }
            Problem::Io(error) => write!(f, "reading the request failed: {error}"),
        }
    }
}

impl std::error::Error for RequestError {}

/// Reads one request head from `reader`.
///
/// ```
/// use rgiref::http::{read_request_head, Limits, Version};
/// let mut input = &b"GET /hello?x=1 HTTP/1.1\r\nHost: example.org\r\n\r\n"[..];
/// let head = read_request_head(&mut input, &Limits::default()).unwrap();
/// assert_eq!((head.method.as_str(), head.target.as_str()), ("GET", "/hello?x=1"));
/// assert_eq!(head.version, Version::HTTP_11);
/// assert_eq!(head.headers, vec![("Host".to_string(), "example.org".to_string())]);
///
/// let mut bad = &b"GET  / HTTP/1.0\r\n\r\n"[..];
/// let error = read_request_head(&mut bad, &Limits::default()).unwrap_err();
/// assert_eq!(error.to_string(), "400 Bad Request: bad request line: \"GET  / HTTP/1.0\" (it must be METHOD SP TARGET SP HTTP/x.y)");
/// ```
pub fn read_request_head(
    reader: &mut impl BufRead,
    limits: &Limits,
) -> Result<RequestHead, RequestError> {
    // The method as soon as its SP has arrived: known to every error from then on.
    let mut method_seen = None;
    let line = read_request_line(reader, limits, &mut method_seen);
    let fail = |problem, line: Option<&str>| RequestError {
        problem,
        request_line: line.map(str::to_owned),
        method: method_seen.clone(),
    };

    let line = line.map_err(|p| fail(p, None))?;
    let (method, target, version) = match parse_request_line(&line) {
        Ok(parts) => parts,
        Err(refusal) => {
            // Escaped, not lossily converted: a byte that is not UTF-8 shows up as \xff.
            let printable = crate::log::escape(&line);
            return Err(fail(Problem::Refused(refusal), Some(&printable)));
        }
    };
    // The checks above leave only ASCII in the line, so nothing is lost here.
    let request_line = String::from_utf8_lossy(&line).into_owned();
    let headers = if version == Version::HTTP_09 {
        Vec::new() // a Simple-Request has no headers: answer at once, don't wait for any
    } else {
        read_headers(reader, limits).map_err(|p| fail(p, Some(&request_line)))?
    };
    if let Err(refusal) = check_host(version, &headers) {
        return Err(fail(Problem::Refused(refusal), Some(&request_line)));
    }
    Ok(RequestHead {
        method,
        target,
        version,
        headers,
        request_line,
    })
}

/// Reads the request line, skipping empty lines before it (RFC 9112 §2.2). Each line's start
/// is checked as it arrives (see [`LineStart`]), and `method` is set as soon as it is known,
/// whether or not the rest of the line turns out well.
fn read_request_line(
    reader: &mut impl BufRead,
    limits: &Limits,
    method: &mut Option<String>,
) -> Result<Vec<u8>, Problem> {
    let mut budget = limits.max_request_line;
    loop {
        let mut start = LineStart::default();
        let line = read_line_checked(reader, budget, |bytes| start.check(bytes));
        *method = start.method;
        let line = line.map_err(|e| e.into_problem(|| request_line_too_long(limits)))?;
        if !line.bytes.is_empty() {
            return Ok(line.bytes);
        }
        // An empty line: tolerated, but it spends the same budget, so an endless stream of
        // CRLFs is cut off like an endless request line.
        budget = budget
            .checked_sub(line.consumed)
            .ok_or_else(|| Problem::Refused(request_line_too_long(limits)))?;
    }
}

/// The start of a request line, checked byte by byte as the bytes arrive, before the line is
/// complete. Until the first SP every byte must be one a method can hold (a `tchar`, RFC 9110
/// §5.6.2) — or the CR of an empty line (RFC 9112 §2.2) — so bytes that can never become a
/// request are refused at once. Without this, a TLS handshake sent to the HTTP port (it has no
/// line feed) would wait for a line end until the head deadline, and then get a 408 that says
/// nothing about what went wrong.
#[derive(Default)]
struct LineStart {
    /// The line's bytes so far, up to and including the first SP.
    seen: Vec<u8>,
    /// The method, once the SP after it has arrived. From then on nothing is checked here: the
    /// target and version are checked when the line is complete.
    method: Option<String>,
}

impl LineStart {
    /// Checks the next `bytes` of the line (never its line end).
    fn check(&mut self, bytes: &[u8]) -> Result<(), Refusal> {
        for &b in bytes {
            if self.method.is_some() {
                break;
            }
            self.check_byte(b)?;
        }
        Ok(())
    }

    fn check_byte(&mut self, b: u8) -> Result<(), Refusal> {
        let after_cr = self.seen.last() == Some(&b'\r');
        self.seen.push(b);
        let first = self.seen.len() == 1;
        match b {
            // The LF that would make it a line end never gets here: this CR is a bare one.
            _ if after_cr => Err(Refusal::bad_request(format!(
                "a line contains a CR that is not followed by LF: {}",
                quote(&self.seen)
            ))),
            b' ' if first => Err(self.refuse("it starts with a space, where the method must be")),
            b' ' => {
                let method = &self.seen[..self.seen.len() - 1];
                self.method = Some(String::from_utf8_lossy(method).into_owned());
                Ok(())
            }
            // The end of an empty line, or of a line that is only a method: both are decided
            // once the LF has come.
            b'\r' => Ok(()),
            _ if is_tchar(b) => Ok(()),
            // A TLS record starts with its type, and a handshake is type 22 (RFC 8446 §5.1).
            0x16 if first => Err(self.refuse(
                "0x16 is how a TLS handshake starts: this is an HTTP server; use http:// not https://",
            )),
            _ if b.is_ascii_graphic() => Err(self.refuse(&format!(
                "the method must be a token, like GET, and {:?} cannot be part of one",
                char::from(b)
            ))),
            _ => Err(self.refuse(&format!(
                "the method must be a token, like GET, and the byte 0x{b:02x} cannot be part of one"
            ))),
        }
    }

    /// A 400 that quotes what has arrived of the line.
    fn refuse(&self, why: &str) -> Refusal {
        Refusal::bad_request(format!("bad request line: {} ({why})", quote(&self.seen)))
    }
}

fn request_line_too_long(limits: &Limits) -> Refusal {
    Refusal::new(
        Status::URI_TOO_LONG,
        format!(
            "the request line is longer than {} bytes",
            limits.max_request_line
        ),
    )
}

/// Splits and checks a request line: `METHOD SP TARGET SP HTTP/x.y`, or `GET SP TARGET`. Every
/// part is ASCII once checked (a token, RFC 3986's characters, `HTTP/x.y`), so the parts come
/// back as text.
fn parse_request_line(line: &[u8]) -> Result<(String, String, Version), Refusal> {
    let bad_line =
        |why: &str| Refusal::bad_request(format!("bad request line: {} ({why})", quote(line)));
    let parts: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
    let (method, target, version) = match parts.as_slice() {
        [method, target, version] => (*method, *target, parse_version(version, line)?),
        [method, target] => (*method, *target, Version::HTTP_09),
        _ => return Err(bad_line("it must be METHOD SP TARGET SP HTTP/x.y")),
    };
    let method = std::str::from_utf8(method)
        .ok()
        .filter(|m| is_token(m))
        .ok_or_else(|| bad_line("the method must be a token, like GET"))?;
    if version == Version::HTTP_09 && method != "GET" {
        return Err(bad_line("an HTTP/0.9 request can only be GET"));
    }
    let target = check_target(target, method).map_err(|why| bad_line(&why))?;
    Ok((method.to_owned(), target.to_owned(), version))
}

/// `HTTP/DIGIT.DIGIT`. Major version 1 is what we speak; 2 and up is a different protocol.
fn parse_version(version: &[u8], line: &[u8]) -> Result<Version, Refusal> {
    let parsed = match version {
        [b'H', b'T', b'T', b'P', b'/', major @ b'0'..=b'9', b'.', minor @ b'0'..=b'9'] => Version {
            major: major - b'0',
            minor: minor - b'0',
        },
        _ => {
            return Err(Refusal::bad_request(format!(
                "bad request line: {} (the version must look like HTTP/1.0)",
                quote(line)
            )))
        }
    };
    match parsed.major {
        1 => Ok(parsed),
        0 => Err(Refusal::bad_request(format!(
            "bad HTTP version \"{parsed}\": an HTTP/0.9 request has no version on its request line"
        ))),
        _ => Err(Refusal::new(
            Status::HTTP_VERSION_NOT_SUPPORTED,
            format!("{parsed} is not supported; this server speaks HTTP/1.0 (and understands 1.1 requests)"),
        )),
    }
}

/// The request target (RFC 9112 §3.2), in a form a server must accept, made of the characters
/// of RFC 3986 — and the few more that browsers send as they are:
///
/// ```text
///   origin-form   = absolute-path [ "?" query ]     /where?q=now
///   absolute-form = absolute-URI                    http://www.example.org/pub?q=1   (§3.2.2)
///   asterisk-form = "*"                             OPTIONS only                     (§3.2.4)
///
///   characters    = unreserved / sub-delims / ":" / "@" / "/" / "?" / "%"   (RFC 3986 §2, §3.3)
///   unreserved    = ALPHA / DIGIT / "-" / "." / "_" / "~"
///   sub-delims    = "!" / "$" / "&" / "'" / "(" / ")" / "*" / "+" / "," / ";" / "="
///   and, as browsers send them: "[" "]" "^" "|" "{" "}" "\" "`"
/// ```
///
/// No `#`: a fragment is the client's own and is never sent. Every other byte — a control
/// character, `"`, `<`, `>`, any byte that is not ASCII (even valid UTF-8) — must come
/// percent-encoded. We refuse rather than encode it ourselves: "A recipient SHOULD NOT attempt
/// to autocorrect" an invalid request line (RFC 9112 §3), because a target that two programs
/// repair differently is how a request gets past a filter. Browsers and client libraries
/// encode all of these.
///
/// The eight extras are the exception we chose on purpose. RFC 3986 leaves them out, but a
/// browser following the WHATWG URL Standard sends them unencoded (`/a|b`, `?q={x}`), and
/// nginx and Apache accept them; refusing them would answer a plain link in a page with 400.
/// They reach the application unchanged, in `REQUEST_URI` and `QUERY_STRING`, and in
/// `PATH_INFO` as they are.
///
/// Returns the target as text: every byte left is ASCII.
fn check_target<'t>(target: &'t [u8], method: &str) -> Result<&'t str, String> {
    if target.iter().any(|b| b.is_ascii_control()) {
        return Err("the target contains a control character".into());
    }
    if let Some(&b) = target.iter().find(|b| !b.is_ascii()) {
        return Err(format!(
            "the target contains the byte 0x{b:02x}, which is not ASCII: percent-encode it, as %{b:02X}"
        ));
    }
    if target.contains(&b'#') {
        return Err("the target contains \"#\": a fragment stays in the client and is never sent (a # that is part of the path is sent as %23)".into());
    }
    // All ASCII, checked just above.
    let text = std::str::from_utf8(target).map_err(|_| "the target is not ASCII".to_owned())?;
    let path_and_query = match target_form(text) {
        TargetForm::Asterisk if method == "OPTIONS" => return Ok(text),
        TargetForm::Asterisk => return Err("the target * is only for OPTIONS".into()),
        TargetForm::Origin => text,
        TargetForm::Absolute { authority, rest } => {
            check_authority(authority)?;
            rest
        }
        TargetForm::Other => {
            return Err("the target must start with / (or be an absolute http:// URL)".into())
        }
    };
    match path_and_query.bytes().find(|&b| !is_uri_char(b)) {
        Some(b) => Err(not_a_uri_char(b)),
        None => Ok(text),
    }
}

/// An absolute-form target's authority takes the place of `Host` (RFC 9112 §3.2.2) and
/// becomes `HTTP_HOST`, so it passes the same check, [`is_valid_host`]: `uri-host [ ":" port ]`.
/// Two things a `Host` header cannot hold are refused by name: userinfo (`user@`), which a
/// sender "MUST NOT generate" in an http URI and a recipient should treat as an error (RFC 9110
/// §4.2.4) — `http://good.example@evil.example/` reads as a visit to the first and goes to the
/// second — and an empty host, which a recipient "MUST reject" (RFC 9110 §4.2.1).
fn check_authority(authority: &str) -> Result<(), String> {
    let quoted = quote(authority.as_bytes());
    if authority.contains('@') {
        return Err(format!(
            "the target's authority {quoted} has userinfo (a part before @), which an http URI must not have"
        ));
    }
    let host = match authority.strip_prefix('[') {
        Some(literal) => literal.split(']').next(),
        None => authority.split(':').next(),
    };
    if host.unwrap_or("").is_empty() {
        return Err(format!("the target's authority {quoted} has no host"));
    }
    if !is_valid_host(authority) {
        return Err(format!(
            "the target's authority {quoted} is not a host with an optional port"
        ));
    }
    Ok(())
}

fn not_a_uri_char(b: u8) -> String {
    format!(
        "the target contains {:?}, which a URI cannot hold as it is: percent-encode it, as %{b:02X}",
        char::from(b)
    )
}

/// The forms of a request target this server accepts (RFC 9112 §3.2), and `Other`.
enum TargetForm<'t> {
    Origin,
    Absolute { authority: &'t str, rest: &'t str },
    Asterisk,
    Other,
}

/// Which form `target` has. An absolute-form target is split into its authority (after
/// `http://` or `https://`, in any case, up to the first `/` or `?`) and the rest.
fn target_form(target: &str) -> TargetForm<'_> {
    if target == "*" {
        return TargetForm::Asterisk;
    }
    if target.starts_with('/') {
        return TargetForm::Origin;
    }
    let after_scheme = ["http://", "https://"].iter().find_map(|scheme| {
        let prefix = target.get(..scheme.len())?;
        prefix
            .eq_ignore_ascii_case(scheme)
            .then(|| &target[scheme.len()..])
    });
    match after_scheme {
        Some(rest) => {
            let (authority, rest) = rest.split_at(rest.find(['/', '?']).unwrap_or(rest.len()));
            TargetForm::Absolute { authority, rest }
        }
        None => TargetForm::Other,
    }
}

/// A character RFC 3986 allows as it is in a path or query: see [`check_target`].
fn is_uri_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?%".contains(&b) || is_browser_extra(b)
}

/// The characters RFC 3986 leaves out that browsers send unencoded (see `check_target`).
fn is_browser_extra(b: u8) -> bool {
    b"[]^|{}\\`".contains(&b)
}

/// Reads header lines until the empty line that ends them.
fn read_headers(
    reader: &mut impl BufRead,
    limits: &Limits,
) -> Result<Vec<(String, String)>, Problem> {
    read_field_section(reader, limits, "header")
}

/// The `Host` rules of RFC 9112 §3.2, which a server MUST enforce with 400: an HTTP/1.1
/// request has exactly one `Host`, and any request has at most one, with a valid value
/// (`uri-host [ ":" port ]`, RFC 9110 §7.2). Applications build URLs from `HTTP_HOST`; two hosts,
/// or one containing a `/` or `@`, is how a client makes them build the wrong URL.
fn check_host(version: Version, headers: &[(String, String)]) -> Result<(), Refusal> {
    let hosts: Vec<&str> = headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("Host"))
        .map(|(_, v)| v.as_str())
        .collect();
    match hosts.as_slice() {
        [] if version >= Version::HTTP_11 => Err(Refusal::bad_request(
            "an HTTP/1.1 request must have a Host header",
        )),
        [] => Ok(()),
        [host] if is_valid_host(host) => Ok(()),
        [host] => Err(Refusal::bad_request(format!(
            "bad Host header {}",
            quote(host.as_bytes())
        ))),
        _ => Err(Refusal::bad_request(format!(
            "{} Host headers; a request may have only one",
            hosts.len()
        ))),
    }
}

/// `uri-host [ ":" port ]`: a bracketed IPv6 literal, or a name or IPv4 address made of the
/// characters RFC 3986 §3.2.2 allows in a `reg-name`; then an optional port of digits.
fn is_valid_host(value: &str) -> bool {
    let (host, port) = match value.strip_prefix('[') {
        Some(rest) => match rest.split_once(']') {
            Some((literal, after)) => (literal, after.strip_prefix(':').unwrap_or(after)),
            None => return false,
        },
        None => value.rsplit_once(':').unwrap_or((value, "")),
    };
    let in_brackets = value.starts_with('[');
    let host_ok = host.bytes().all(|b| {
        b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=%".contains(&b) || (in_brackets && b == b':')
    });
    let port_ok = port.bytes().all(|b| b.is_ascii_digit())
        && !(in_brackets && value.ends_with(']') && !port.is_empty());
    host_ok && port_ok
}

/// Reads a field section — the request headers, or a chunked body's trailers — enforcing the
/// field-count and byte limits. `what` ("header", "trailer") names it in messages.
pub(crate) fn read_field_section(
    reader: &mut impl BufRead,
    limits: &Limits,
    what: &str,
) -> Result<Vec<(String, String)>, Problem> {
    let too_large =
        |message: String| Problem::Refused(Refusal::new(Status::HEADER_FIELDS_TOO_LARGE, message));
    let section_too_large = || {
        format!(
            "the {what} section is larger than {} bytes",
            limits.max_header_section
        )
    };
    let mut fields = Vec::new();
    let mut used = 0usize;
    loop {
        let budget = limits.max_header_section - used;
        let line = read_line(reader, budget).map_err(|e| {
            e.into_problem(|| Refusal::new(Status::HEADER_FIELDS_TOO_LARGE, section_too_large()))
        })?;
        if line.bytes.is_empty() {
            return Ok(fields);
        }
        used += line.consumed;
        if used > limits.max_header_section {
            return Err(too_large(section_too_large()));
        }
        if fields.len() == limits.max_header_fields {
            return Err(too_large(format!(
                "more than {} {what} fields",
                limits.max_header_fields
            )));
        }
        fields.push(parse_field_line(&line.bytes, what).map_err(Problem::Refused)?);
    }
}

/// Parses `name: value` (RFC 9112 §5), refusing the forms that servers disagree about.
pub(crate) fn parse_field_line(line: &[u8], what: &str) -> Result<(String, String), Refusal> {
    let bad = |why: &str| Refusal::bad_request(format!("bad {what} line {}: {why}", quote(line)));
    if line[0] == b' ' || line[0] == b'\t' {
        // RFC 9112 §5.2: obs-fold. Some servers join it to the previous line, some don't.
        return Err(bad("a line starting with whitespace continues the previous one (obsolete line folding), which is not allowed"));
    }
    let colon = line
        .iter()
        .position(|&b| b == b':')
        .ok_or_else(|| bad("there is no colon"))?;
    let (name, value) = (&line[..colon], &line[colon + 1..]);
    if name.last().is_some_and(|&b| b == b' ' || b == b'\t') {
        // RFC 9112 §5.1: "No whitespace is allowed between the field name and colon" — a
        // proxy that strips it and a server that does not would see different headers.
        return Err(bad("there is whitespace between the name and the colon"));
    }
    let name = std::str::from_utf8(name)
        .ok()
        .filter(|n| is_token(n))
        .ok_or_else(|| bad("the name is not a token"))?;
    let value = trim_ows(value);
    if value.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f) {
        return Err(bad("the value contains a control character"));
    }
    // The environ's byte rule (`src/gateway/environ.rs`): UTF-8 if it is, Latin-1 if not. Bytes
    // 0x80–0xFF ("obs-text", RFC 9110 §5.5) are allowed in values but carry no agreed meaning.
    Ok((name.to_owned(), value_from_bytes(value)))
}

/// Removes optional whitespace (SP, HTAB) around a field value.
fn trim_ows(mut value: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = value {
        value = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = value {
        value = rest;
    }
    value
}

/// How the request body is delimited (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// Exactly this many bytes (0 when the request has no body).
    Length(u64),
    /// `Transfer-Encoding: chunked`.
    Chunked,
}

/// Decides how the body is delimited, refusing the combinations that make it ambiguous.
///
/// ```
/// use rgiref::http::{body_framing, read_request_head, Framing, Limits};
/// let head = |text: &str| read_request_head(&mut text.as_bytes(), &Limits::default()).unwrap();
/// assert_eq!(body_framing(&head("POST / HTTP/1.0\r\nContent-Length: 5\r\n\r\n")), Ok(Framing::Length(5)));
/// assert_eq!(body_framing(&head("GET / HTTP/1.0\r\n\r\n")), Ok(Framing::Length(0)));
/// assert_eq!(body_framing(&head("POST / HTTP/1.0\r\n\r\n")).unwrap_err().status.code, 411);
/// ```
pub fn body_framing(head: &RequestHead) -> Result<Framing, Refusal> {
    let has_length = head.has_header("Content-Length");
    if head.has_header("Transfer-Encoding") {
        return transfer_coding(head, has_length);
    }
    if has_length {
        return content_length(head).map(Framing::Length);
    }
    if matches!(head.method.as_str(), "POST" | "PUT" | "PATCH") {
        // RFC 1945 §7.2.2: an HTTP/1.0 request with a body must say how long it is.
        return Err(Refusal::new(
            Status::LENGTH_REQUIRED,
            format!("a {} request needs a Content-Length (or, from HTTP/1.1 clients, Transfer-Encoding: chunked)", head.method),
        ));
    }
    Ok(Framing::Length(0))
}

fn transfer_coding(head: &RequestHead, has_length: bool) -> Result<Framing, Refusal> {
    let codings: Vec<&str> = head.header_values("Transfer-Encoding").collect();
    let codings = codings.join(", ");
    if has_length {
        // RFC 9112 §6.1: both at once is how request smuggling works; refuse it.
        let lengths: Vec<&str> = head.header_values("Content-Length").collect();
        return Err(Refusal::bad_request(format!(
            "the request has both Content-Length {:?} and Transfer-Encoding {codings:?}",
            lengths.join(", ")
        )));
    }
    if head.version < Version::HTTP_11 {
        // RFC 9112 §6.1: Transfer-Encoding in an HTTP/1.0 message means the framing is faulty.
        return Err(Refusal::bad_request(format!(
            "Transfer-Encoding {codings:?} in an HTTP/1.0 request"
        )));
    }
    // Chunked and nothing else, empty list elements ignored (RFC 9110 §5.6.1.2).
    let elements: Vec<&str> = list_elements(head, "Transfer-Encoding").collect();
    if matches!(elements[..], [only] if only.eq_ignore_ascii_case("chunked")) {
        return Ok(Framing::Chunked);
    }
    Err(Refusal::new(
        Status::NOT_IMPLEMENTED,
        format!("Transfer-Encoding {codings:?} is not supported (only chunked is)"),
    ))
}

/// All `Content-Length` values must be the same whole number (RFC 9112 §6.3 item 5).
///
/// `Content-Length` is not a list field — its grammar is `1*DIGIT` (RFC 9110 §8.6) — so the
/// rule that empty list elements are ignored (§5.6.1.2) does not apply to it. §8.6 lets a
/// recipient accept the same number repeated as a list (`3, 3`, what a proxy joining two lines
/// makes), and we do; but `3,` or `, 3` is neither a number nor such a list. It is an invalid
/// `Content-Length`, which RFC 9112 §6.3 item 5 says a server MUST answer with 400. Strict on
/// purpose: the body's length is where a lenient server behind a strict proxy (or the reverse)
/// disagrees about where one request ends and the next begins.
fn content_length(head: &RequestHead) -> Result<u64, Refusal> {
    let mut length = None;
    for value in head.header_values("Content-Length") {
        for item in value.split(',').map(|v| v.trim_matches([' ', '\t'])) {
            let valid = !item.is_empty() && item.bytes().all(|b| b.is_ascii_digit());
            let parsed: u64 = item.parse().ok().filter(|_| valid).ok_or_else(|| {
                Refusal::bad_request(format!(
                    "Content-Length {value:?} is not a whole number of bytes"
                ))
            })?;
            if length.is_some_and(|l| l != parsed) {
                let all: Vec<&str> = head.header_values("Content-Length").collect();
                return Err(Refusal::bad_request(format!(
                    "conflicting Content-Length values: {:?}",
                    all.join(", ")
                )));
            }
            length = Some(parsed);
        }
    }
    length.ok_or_else(|| Refusal::bad_request("Content-Length is empty"))
}

/// True if the client asked for `100 Continue` before sending its body (RFC 9110 §10.1.1).
/// An HTTP/1.0 client's `Expect` is ignored, as that section requires; any expectation other
/// than `100-continue` (in any of the `Expect` fields) gets 417. Empty list elements are no
/// expectation: `Expect:` asks for nothing, and `Expect: 100-continue,` for `100-continue`.
pub fn expects_continue(head: &RequestHead) -> Result<bool, Refusal> {
    if head.version < Version::HTTP_11 {
        return Ok(false);
    }
    let mut wants_continue = false;
    for expectation in list_elements(head, "Expect") {
        if !expectation.eq_ignore_ascii_case("100-continue") {
            let message = format!("unsupported expectation {expectation:?} (only 100-continue is)");
            return Err(Refusal::new(Status::EXPECTATION_FAILED, message));
        }
        wants_continue = true;
    }
    Ok(wants_continue)
}

/// The elements of the list field `name` (RFC 9110 §5.6.1): the values of all its lines, split
/// at commas, whitespace trimmed. Empty elements are skipped: a recipient "MUST parse and
/// ignore a reasonable number of empty list elements" (§5.6.1.2), so `chunked,` and `, chunked`
/// are each the one element `chunked`. (No quoted strings with commas in them: neither field
/// read this way has one that we accept.)
fn list_elements<'h>(head: &'h RequestHead, name: &'h str) -> impl Iterator<Item = &'h str> + 'h {
    head.header_values(name)
        .flat_map(|value| value.split(','))
        .map(|element| element.trim_matches([' ', '\t']))
        .filter(|element| !element.is_empty())
}

/// One line read by [`read_line`]: its bytes without the line end, and how many bytes it used.
pub(crate) struct Line {
    pub(crate) bytes: Vec<u8>,
    pub(crate) consumed: usize,
}

/// Why [`read_line`] returned no line.
pub(crate) enum LineError {
    /// Longer than allowed.
    TooLong,
    /// A CR not followed by LF.
    BareCr(Vec<u8>),
    /// The input ended before a line end.
    Closed,
    /// Reading failed.
    Io(io::Error),
    /// The check given to [`read_line_checked`] refused a byte. ([`read_line`] checks
    /// nothing, so it never returns this.)
    Refused(Refusal),
}

impl LineError {
    /// The request-level problem; `too_long` says which limit a long line broke.
    pub(crate) fn into_problem(self, too_long: impl FnOnce() -> Refusal) -> Problem {
        match self {
            LineError::TooLong => Problem::Refused(too_long()),
            LineError::BareCr(line) => Problem::Refused(Refusal::bad_request(format!(
                "a line contains a CR that is not followed by LF: {}",
                quote(&line)
            ))),
            LineError::Closed => Problem::Closed,
            LineError::Io(error) if is_timeout(&error) => Problem::TimedOut,
            LineError::Io(error) => Problem::Io(error),
            LineError::Refused(refusal) => Problem::Refused(refusal),
        }
    }
}

/// True for the errors a socket read timeout produces (`WouldBlock` on Unix, `TimedOut` on
/// Windows and from our own deadline checks).
pub(crate) fn is_timeout(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
    )
}

/// Reads one line ending in LF (with or without CR before it) of at most `max` bytes, never
/// holding more than `max + 2` bytes of it: a client cannot make us buffer an endless line.
pub(crate) fn read_line(reader: &mut impl BufRead, max: usize) -> Result<Line, LineError> {
    read_line_checked(reader, max, |_| Ok(()))
}

/// [`read_line`], showing each byte of the line to `check` as soon as `fill_buf` returns it —
/// before the line end has come — and stopping at once if `check` refuses. Only the bytes the
/// line may hold (`max`, and one more for a CR) are shown, so whether a line is refused for a
/// byte or for its length never depends on how its bytes were split into reads.
fn read_line_checked(
    reader: &mut impl BufRead,
    max: usize,
    mut check: impl FnMut(&[u8]) -> Result<(), Refusal>,
) -> Result<Line, LineError> {
    let mut bytes = Vec::new();
    let mut consumed = 0;
    loop {
        let available = match reader.fill_buf() {
            Ok(available) => available,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(LineError::Io(error)),
        };
        if available.is_empty() {
            return Err(LineError::Closed);
        }
        let newline = available.iter().position(|&b| b == b'\n');
        let take = newline.unwrap_or(available.len());
        // +1: a CR before the LF is part of the line end, not of the line.
        let room = max.saturating_add(1).saturating_sub(bytes.len());
        check(&available[..take.min(room)]).map_err(LineError::Refused)?;
        if take > room {
            return Err(LineError::TooLong);
        }
        bytes.extend_from_slice(&available[..take]);
        let used = take + usize::from(newline.is_some());
        reader.consume(used);
        consumed += used;
        if newline.is_some() {
            break;
        }
    }
    if bytes.last() == Some(&b'\r') {
        bytes.pop();
    }
    if bytes.contains(&b'\r') {
        return Err(LineError::BareCr(bytes));
    }
    if bytes.len() > max {
        return Err(LineError::TooLong);
    }
    Ok(Line { bytes, consumed })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<RequestHead, RequestError> {
        read_request_head(&mut text.as_bytes(), &Limits::default())
    }

    fn refused(text: &str) -> Refusal {
        match parse(text).unwrap_err().problem {
            Problem::Refused(refusal) => refusal,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn http09_needs_no_headers() {
        let head = parse("GET /\r\n").unwrap();
        assert_eq!(head.version, Version::HTTP_09);
        assert!(head.headers.is_empty());
        assert!(refused("POST /\r\n").message.contains("HTTP/0.9"));
    }

    #[test]
    fn bare_lf_line_ends_and_leading_empty_lines() {
        let head = parse("\r\n\nGET / HTTP/1.0\nA: 1\n\n").unwrap();
        assert_eq!(head.headers, vec![("A".into(), "1".into())]);
    }

    #[test]
    fn request_line_errors() {
        assert_eq!(refused("GET / HTTP/2.0\r\n\r\n").status.code, 505);
        assert_eq!(refused("GET / HTTP/1\r\n\r\n").status.code, 400);
        assert_eq!(refused("GET / http/1.0\r\n\r\n").status.code, 400);
        assert_eq!(refused("G@T / HTTP/1.0\r\n\r\n").status.code, 400);
        assert_eq!(refused("GET x HTTP/1.0\r\n\r\n").status.code, 400);
        assert_eq!(refused("GET * HTTP/1.0\r\n\r\n").status.code, 400);
        assert!(parse("OPTIONS * HTTP/1.0\r\n\r\n").is_ok());
        assert!(parse("GET http://example.org/x HTTP/1.0\r\n\r\n").is_ok());
        assert!(refused("GET /\rx HTTP/1.0\r\n\r\n").message.contains("CR"));
    }

    #[test]
    fn the_method_is_known_from_the_space_after_it() {
        let limits = Limits {
            max_request_line: 10,
            ..Limits::default()
        };
        let method = |text: &str| {
            let error = read_request_head(&mut text.as_bytes(), &limits).unwrap_err();
            error.method
        };
        assert_eq!(
            method("HEAD /too/long HTTP/1.0\r\n\r\n"),
            Some("HEAD".into())
        );
        assert_eq!(method("\r\nHEAD  / HTTP/1.0\r\n\r\n"), Some("HEAD".into()));
        assert_eq!(method("GET / HTTP/1.0\r\nA\r\n\r\n"), Some("GET".into()));
        assert_eq!(method("HEADHEADHEADHEAD / HTTP/1.0\r\n\r\n"), None); // too long first
        assert_eq!(method("HEAD"), None); // no space yet
        assert_eq!(method("HE@D / HTTP/1.0\r\n\r\n"), None);
    }

    #[test]
    fn header_errors() {
        assert!(refused("GET / HTTP/1.0\r\nA : 1\r\n\r\n")
            .message
            .contains("whitespace between"));
        assert!(refused("GET / HTTP/1.0\r\nA: 1\r\n continued\r\n\r\n")
            .message
            .contains("folding"));
        assert!(refused("GET / HTTP/1.0\r\nNoColon\r\n\r\n")
            .message
            .contains("no colon"));
        assert!(refused("GET / HTTP/1.0\r\nA\x01: 1\r\n\r\n")
            .message
            .contains("not a token"));
        assert!(refused("GET / HTTP/1.0\r\nA: 1\x00\r\n\r\n")
            .message
            .contains("control"));
    }

    #[test]
    fn obs_text_values_are_latin1() {
        let mut bytes: &[u8] = b"GET / HTTP/1.0\r\nX: caf\xe9\r\n\r\n";
        let head = read_request_head(&mut bytes, &Limits::default()).unwrap();
        assert_eq!(head.headers[0].1, "caf\u{e9}");
    }

    #[test]
    fn host_rules() {
        assert!(parse("GET / HTTP/1.1\r\nHost: example.org:8080\r\n\r\n").is_ok());
        assert!(parse("GET / HTTP/1.1\r\nHost: [::1]:8000\r\n\r\n").is_ok());
        assert!(parse("GET / HTTP/1.1\r\nHost: \r\n\r\n").is_ok()); // empty is allowed
        assert!(parse("GET / HTTP/1.0\r\n\r\n").is_ok()); // 1.0 needs none
        assert!(refused("GET / HTTP/1.1\r\n\r\n")
            .message
            .contains("must have a Host"));
        assert!(refused("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n")
            .message
            .contains("2 Host headers"));
        assert!(refused("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n")
            .message
            .contains("bad Host"));
        assert!(refused("GET / HTTP/1.1\r\nHost: user@evil\r\n\r\n")
            .message
            .contains("bad Host"));
        assert!(refused("GET / HTTP/1.1\r\nHost: a:80x\r\n\r\n")
            .message
            .contains("bad Host"));
        assert!(refused("GET / HTTP/1.1\r\nHost: [::1\r\n\r\n")
            .message
            .contains("bad Host"));
    }

    #[test]
    fn framing() {
        let framing = |text: &str| body_framing(&parse(text).unwrap());
        assert_eq!(
            framing("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 3\r\n\r\n"),
            Ok(Framing::Length(3))
        );
        assert_eq!(
            framing("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n")
                .unwrap_err()
                .status
                .code,
            400
        );
        assert_eq!(
            framing("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -3\r\n\r\n")
                .unwrap_err()
                .status
                .code,
            400
        );
        assert_eq!(
            framing("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n")
                .unwrap_err()
                .status
                .code,
            400
        );
        assert_eq!(
            framing("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"),
            Ok(Framing::Chunked)
        );
        assert_eq!(
            framing("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: ,\r\nTransfer-Encoding: chunked,\r\n\r\n"),
            Ok(Framing::Chunked)
        );
        assert_eq!(
            framing("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3,\r\n\r\n")
                .unwrap_err()
                .status
                .code,
            400
        );
        assert_eq!(
            framing("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n")
                .unwrap_err()
                .status
                .code,
            501
        );
        assert_eq!(
            framing("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n")
                .unwrap_err()
                .status
                .code,
            400
        );
        assert_eq!(
            framing("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n")
                .unwrap_err()
                .status
                .code,
            400
        );
    }

    #[test]
    fn expectations() {
        let expect = |text: &str| expects_continue(&parse(text).unwrap());
        assert_eq!(
            expect("PUT / HTTP/1.1\r\nHost: x\r\nExpect: 100-Continue\r\n\r\n"),
            Ok(true)
        );
        assert_eq!(
            expect("PUT / HTTP/1.0\r\nExpect: 100-continue\r\n\r\n"),
            Ok(false)
        );
        assert_eq!(
            expect("PUT / HTTP/1.1\r\nHost: x\r\nExpect: ,100-continue,\r\n\r\n"),
            Ok(true)
        );
        assert_eq!(
            expect("PUT / HTTP/1.1\r\nHost: x\r\nExpect:\r\nExpect: , \r\n\r\n"),
            Ok(false)
        );
        assert_eq!(
            expect("PUT / HTTP/1.1\r\nHost: x\r\nExpect: coffee\r\n\r\n")
                .unwrap_err()
                .status
                .code,
            417
        );
    }
}
