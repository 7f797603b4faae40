//! The SCGI request header, the server's side of the wire: one netstring of NUL-terminated
//! names and values, checked against the SCGI specification (Neil Schemenauer, "SCGI: A Simple
//! Common Gateway Interface alternative", 2008-06-23).
//!
//! Stage: **read request**, for the SCGI transport. Nothing here knows about sockets or
//! applications: `connection.rs` reads through it, and turns the pairs into an environ.
//!
//! Interface:
//! * [`read_head`] reads one request header from any `BufRead` and stops right after its `,`:
//!   the next byte is the first byte of the body. It holds at most
//!   [`Limits::max_header_bytes`] of the header, however long a length the peer announces.
//! * It gives back a [`RequestHead`] — the `(name, value)` pairs as bytes, in the order they
//!   came, and `CONTENT_LENGTH` as a number — or a [`HeadError`] whose message says what was
//!   wrong and quotes it. Nothing a peer sends makes it panic.
//! * Every rule of the specification is checked: the length is digits, the strings end in NUL
//!   and come in pairs, `CONTENT_LENGTH` comes first and is digits, no name appears twice, and
//!   `SCGI` is `1`. The values are not interpreted here; the byte rule (`src/gateway/environ.rs`)
//!   is applied later, by `cgi::environ_variables`, as for CGI and FastCGI.

use std::collections::BTreeSet;
use std::fmt;
use std::io::{self, BufRead, Read};
use std::ops::Range;

use crate::log::quote;

/// Limits on what one SCGI request header may make the server hold in memory.
///
/// ```
/// use rgiref::scgi::Limits;
/// assert_eq!(Limits::default().max_header_bytes, 65_536);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes between the netstring's `:` and its `,`: all names and values with their NULs.
    /// A longer announced length is refused before any of it is read.
    ///
    /// The default, 64 KiB, is generous for what front ends send. The header is the request's
    /// HTTP headers plus a dozen CGI variables; lighttpd caps a whole request head at 64 KiB,
    /// nginx's default `large_client_header_buffers` (4 × 8 KiB) keeps its headers under half
    /// of that, and the HTTP server in this crate allows the same 64 KiB
    /// (`http::Limits::max_header_section`).
    pub max_header_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_header_bytes: 64 * 1024,
        }
    }
}

/// An SCGI request header, taken apart. Names and values are bytes, as they arrived.
///
/// ```
/// use rgiref::scgi::{read_head, Limits};
/// let sent = b"24:CONTENT_LENGTH\x002\x00SCGI\x001\x00,hi";
/// let mut reader = &sent[..];
/// let head = read_head(&mut reader, &Limits::default()).unwrap();
/// assert_eq!(head.content_length, 2);
/// assert_eq!(head.get("SCGI"), Some(&b"1"[..]));
/// assert_eq!(head.pairs().count(), 2);
/// assert_eq!(reader, b"hi"); // the body is left unread
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// The netstring's content: every name and value, each followed by its NUL.
    bytes: Vec<u8>,
    /// Where each name and value lies in `bytes` (NULs not included).
    pairs: Vec<PairAt>,
    /// `CONTENT_LENGTH`: how many body bytes follow the header.
    pub content_length: u64,
}

impl RequestHead {
    /// The `(name, value)` pairs, in the order the peer sent them.
    pub fn pairs(&self) -> impl Iterator<Item = (&[u8], &[u8])> + '_ {
        self.pairs
            .iter()
            .map(|(name, value)| (&self.bytes[name.clone()], &self.bytes[value.clone()]))
    }

    /// The value of the variable `name`, if the peer sent one.
    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.pairs()
            .find(|(n, _)| *n == name.as_bytes())
            .map(|(_, value)| value)
    }
}

/// Where one name and its value lie in a [`RequestHead`]'s bytes.
type PairAt = (Range<usize>, Range<usize>);

/// Why a request header could not be read.
///
/// ```
/// use rgiref::scgi::{read_head, HeadError, Limits};
/// let limits = Limits::default();
/// assert!(matches!(read_head(&mut &b""[..], &limits), Err(HeadError::Empty)));
/// let cut = read_head(&mut &b"24:CONTENT_LENGTH"[..], &limits).unwrap_err();
/// assert_eq!(cut.to_string(), "the connection ended after 14 of the header's 24 bytes");
/// let unframed = read_head(&mut &b"7:SCGI\x001\x00,"[..], &limits).unwrap_err();
/// assert!(matches!(unframed, HeadError::Malformed(_)));
/// assert!(unframed.to_string().contains("the first name must be CONTENT_LENGTH"));
/// ```
#[derive(Debug)]
pub enum HeadError {
    /// The connection ended before its first byte: a port check, or a server's own shutdown
    /// wake-up call. Nothing was asked, so there is nothing to report.
    Empty,
    /// The connection ended in the middle of the header; the message says where.
    EndedEarly(String),
    /// What arrived is not an SCGI request header; the message says what is wrong, quoting it.
    Malformed(String),
    /// Reading failed: a timeout (`io::ErrorKind::TimedOut`), a reset, …
    Io(io::Error),
}

impl fmt::Display for HeadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeadError::Empty => f.write_str("the connection closed before sending anything"),
            HeadError::EndedEarly(message) | HeadError::Malformed(message) => f.write_str(message),
            HeadError::Io(error) => write!(f, "reading the request header failed: {error}"),
        }
    }
}

impl std::error::Error for HeadError {}

/// Reads one SCGI request header, and not a byte more. See the module docs.
///
/// The wire format (SCGI §3; the netstring is D. J. Bernstein's), for the specification's
/// example request:
///
/// ```text
///   "70" ":"  "CONTENT_LENGTH" NUL "27" NUL      ← CONTENT_LENGTH first, always, as digits
///             "SCGI" NUL "1" NUL                 ← SCGI = 1, always
///             "REQUEST_METHOD" NUL "POST" NUL
///             "REQUEST_URI" NUL "/deepthought" NUL
///   ","  "What is the answer to life?"          ← exactly CONTENT_LENGTH body bytes
///
///   ├len┤   ├──────────── 70 bytes: name NUL value NUL, repeated ────────────┤
///
///   headers ::= header*            header ::= name NUL value NUL
///   name    ::= notnull+           value  ::= notnull*        (no name twice)
/// ```
///
/// The length has no leading zeros (netstrings forbid them) and counts the bytes between `:`
/// and `,`. The response has no framing at all: the server writes it and closes the connection.
///
/// ```
/// use rgiref::scgi::{read_head, HeadError, Limits};
/// let refused = read_head(&mut &b"GET / HTTP/1.1\r\n\r\n"[..], &Limits::default()).unwrap_err();
/// assert!(refused.to_string().contains("an HTTP client was pointed at the SCGI port"));
/// assert!(matches!(refused, HeadError::Malformed(_)));
/// ```
pub fn read_head(reader: &mut impl BufRead, limits: &Limits) -> Result<RequestHead, HeadError> {
    let length = read_length(reader, limits)?;
    let bytes = read_content(reader, length)?;
    expect_comma(reader, length)?;
    let pairs = split_pairs(&bytes)?;
    let mut head = RequestHead {
        bytes,
        pairs,
        content_length: 0,
    };
    head.content_length = first_content_length(&head)?;
    check_unique(&head)?;
    check_version(&head)?;
    Ok(head)
}

/// Reads the netstring's length and the `:` after it. It stops at the first digit that takes
/// the length past the limit, so a peer cannot make it read (or hold) an endless number.
fn read_length(reader: &mut impl BufRead, limits: &Limits) -> Result<usize, HeadError> {
    let mut length: usize = 0;
    let mut digits = 0;
    loop {
        if digits == 0 {
            check_first_byte(reader)?;
        }
        let Some(byte) = next_byte(reader)? else {
            let message = format!(
                "the connection ended after {digits} digits of the header's length, before its ':'"
            );
            return Err(HeadError::EndedEarly(message));
        };
        match byte {
            b'0'..=b'9' if digits == 1 && length == 0 => {
                let message = "the header's length starts with 0, which netstrings forbid";
                return Err(HeadError::Malformed(message.to_owned()));
            }
            b'0'..=b'9' => {
                length = length
                    .saturating_mul(10)
                    .saturating_add(usize::from(byte - b'0'));
                digits += 1;
                if length > limits.max_header_bytes {
                    return Err(HeadError::Malformed(format!(
                        "the header's length reached {length} bytes, over the limit of {} \
                         (Limits::max_header_bytes)",
                        limits.max_header_bytes
                    )));
                }
            }
            b':' => return Ok(length),
            other => {
                return Err(HeadError::Malformed(format!(
                    "the header's length {length} is followed by {} instead of ':'",
                    describe_byte(other)
                )))
            }
        }
    }
}

/// Before the first byte is taken: a connection that ends at once is [`HeadError::Empty`], and
/// one that starts with anything but a digit is refused with a guess at what it is.
fn check_first_byte(reader: &mut impl BufRead) -> Result<(), HeadError> {
    let start = fill(reader)?;
    match start.first() {
        None => Err(HeadError::Empty),
        Some(b'0'..=b'9') => Ok(()),
        Some(_) => Err(HeadError::Malformed(not_scgi(start))),
    }
}

/// What a peer that did not send a length probably sent instead — said so that the person
/// reading the log knows which setting to fix. It goes by the first bytes that have arrived,
/// so it is a guess, and says so only when the bytes leave little doubt.
fn not_scgi(start: &[u8]) -> String {
    if looks_like_http(start) {
        let line = start.split(|&b| b == b'\r' || b == b'\n').next();
        format!(
            "{} is HTTP: an HTTP client was pointed at the SCGI port (send browsers and curl to \
             the web server, and point the web server's scgi_pass here)",
            quote(line.unwrap_or_default())
        )
    } else if start.starts_with(&[0x16, 0x03]) {
        "it starts with a TLS handshake: an HTTPS client was pointed at the SCGI port".to_owned()
    } else if start.starts_with(&[1, 1]) {
        "it starts like a FastCGI BEGIN_REQUEST record (version 1, type 1): the web server \
         speaks FastCGI to this port; use scgi_pass instead of fastcgi_pass"
            .to_owned()
    } else {
        format!(
            "it must start with the header's length in digits, but starts with {}",
            quote(start)
        )
    }
}

/// `GET `, `POST `, `PRI `: an upper-case word and a space, the start of an HTTP request line.
fn looks_like_http(start: &[u8]) -> bool {
    let word = start.iter().take_while(|b| b.is_ascii_uppercase()).count();
    (1..=20).contains(&word) && start.get(word) == Some(&b' ')
}

/// Reads the `length` bytes of the netstring's content. They are read as they arrive, so a
/// peer that announces 64 KiB and sends 10 bytes costs 10 bytes, not 64 KiB.
fn read_content(reader: &mut impl BufRead, length: usize) -> Result<Vec<u8>, HeadError> {
    let mut bytes = Vec::new();
    reader
        .take(length as u64)
        .read_to_end(&mut bytes)
        .map_err(HeadError::Io)?;
    if bytes.len() < length {
        return Err(HeadError::EndedEarly(format!(
            "the connection ended after {} of the header's {length} bytes",
            bytes.len()
        )));
    }
    Ok(bytes)
}

/// The `,` that ends the netstring. Anything else usually means the length was wrong.
fn expect_comma(reader: &mut impl BufRead, length: usize) -> Result<(), HeadError> {
    match next_byte(reader)? {
        Some(b',') => Ok(()),
        Some(other) => Err(HeadError::Malformed(format!(
            "the header's {length} bytes are followed by {} instead of ',' (is the length right?)",
            describe_byte(other)
        ))),
        None => Err(HeadError::EndedEarly(format!(
            "the connection ended after the header's {length} bytes, before its ','"
        ))),
    }
}

/// Splits `name NUL value NUL …` into pairs of ranges. Every string ends with its own NUL, so
/// the content must end with one; an odd number of strings is a name without a value.
fn split_pairs(bytes: &[u8]) -> Result<Vec<PairAt>, HeadError> {
    if bytes.is_empty() {
        return Ok(Vec::new()); // no pairs; `first_content_length` says what is missing
    }
    if bytes.last() != Some(&0) {
        let last = bytes.rsplit(|&b| b == 0).next().unwrap_or_default();
        return Err(HeadError::Malformed(format!(
            "the header's last string {} does not end with NUL",
            quote(last)
        )));
    }
    let strings = string_ranges(bytes);
    if !strings.len().is_multiple_of(2) {
        let name = strings.last().map_or(&[][..], |r| &bytes[r.clone()]);
        return Err(HeadError::Malformed(format!(
            "the header holds {} strings, not name-value pairs: the name {} has no value",
            strings.len(),
            quote(name)
        )));
    }
    let pairs: Vec<_> = strings
        .chunks_exact(2)
        .map(|pair| (pair[0].clone(), pair[1].clone()))
        .collect();
    if let Some(index) = pairs.iter().position(|(name, _)| name.is_empty()) {
        return Err(HeadError::Malformed(format!(
            "name {} of the header is empty (SCGI §3: name ::= notnull+)",
            index + 1
        )));
    }
    Ok(pairs)
}

/// Where each NUL-terminated string of `bytes` lies, without its NUL. `bytes` ends with NUL.
fn string_ranges(bytes: &[u8]) -> Vec<Range<usize>> {
    let mut ranges = Vec::new();
    let mut start = 0;
    for (at, _) in bytes.iter().enumerate().filter(|(_, &b)| b == 0) {
        ranges.push(start..at);
        start = at + 1;
    }
    ranges
}

/// SCGI §3: "The first header must have the name CONTENT_LENGTH and a value that is a nonempty
/// sequence of ASCII digits giving the length of the body in decimal."
fn first_content_length(head: &RequestHead) -> Result<u64, HeadError> {
    let Some((name, value)) = head.pairs().next() else {
        let message = "the header is empty: CONTENT_LENGTH must come first";
        return Err(HeadError::Malformed(message.to_owned()));
    };
    if name != b"CONTENT_LENGTH" {
        return Err(HeadError::Malformed(format!(
            "the first name must be CONTENT_LENGTH, but it is {}",
            quote(name)
        )));
    }
    let digits = !value.is_empty() && value.iter().all(u8::is_ascii_digit);
    let number = std::str::from_utf8(value).ok().and_then(|v| v.parse().ok());
    match number {
        Some(length) if digits => Ok(length),
        _ => Err(HeadError::Malformed(format!(
            "CONTENT_LENGTH is {}, not a whole number of bytes in digits (\"0\" for no body)",
            quote(value)
        ))),
    }
}

/// SCGI §3: "Duplicate names are not allowed in the headers." With one exception we make on
/// purpose: a request header the client sent twice. nginx 1.23 and later join the copies into
/// one `HTTP_*` variable, as lighttpd does, but older nginx (1.22 is Debian 12's) passes each
/// copy on, and refusing those requests would answer an ordinary browser request with nginx's
/// 502. So `HTTP_*` names may repeat, and `cgi::environ_variables` joins the copies as newer
/// nginx does. Any other name given twice — two `scgi_param` lines of one name in the web
/// server's configuration, most likely — is refused, as the specification says.
fn check_unique(head: &RequestHead) -> Result<(), HeadError> {
    let mut seen = BTreeSet::new();
    let repeated = head
        .pairs()
        .filter(|(name, _)| !name.starts_with(b"HTTP_"))
        .find(|(name, _)| !seen.insert(*name));
    let Some((name, _)) = repeated else {
        return Ok(());
    };
    Err(HeadError::Malformed(format!(
        "the name {} appears twice, which SCGI forbids (two scgi_param lines of that name in \
         the web server's configuration?)",
        quote(name)
    )))
}

/// SCGI §3: "There must also always be a header with the name SCGI and a value of 1."
fn check_version(head: &RequestHead) -> Result<(), HeadError> {
    match head.get("SCGI") {
        Some(b"1") => Ok(()),
        Some(other) => Err(HeadError::Malformed(format!(
            "SCGI is {}, but the only version is \"1\"",
            quote(other)
        ))),
        None => Err(HeadError::Malformed(
            "there is no SCGI variable, which must be \"1\" (nginx sends it from its scgi_params \
             file: add `include scgi_params;` next to scgi_pass)"
                .to_owned(),
        )),
    }
}

/// The bytes `reader` has ready (reading more if it has none): empty at the end.
fn fill(reader: &mut impl BufRead) -> Result<&[u8], HeadError> {
    loop {
        match reader.fill_buf() {
            Ok(_) => break,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(HeadError::Io(error)),
        }
    }
    // Asked again to lend the bytes (today's borrow checker cannot return them from inside the
    // loop); with bytes already buffered, this reads nothing.
    reader.fill_buf().map_err(HeadError::Io)
}

/// The next byte, or `None` at the end.
fn next_byte(reader: &mut impl BufRead) -> Result<Option<u8>, HeadError> {
    let byte = fill(reader)?.first().copied();
    if byte.is_some() {
        reader.consume(1);
    }
    Ok(byte)
}

/// A byte as a log line shows it: `'x'` if it is printable ASCII, `0x00` otherwise.
fn describe_byte(byte: u8) -> String {
    if byte.is_ascii_graphic() {
        format!("'{}'", char::from(byte))
    } else {
        format!("byte 0x{byte:02x}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A netstring around `content`, its length counted for us.
    fn netstring(content: &[u8]) -> Vec<u8> {
        let mut out = format!("{}:", content.len()).into_bytes();
        out.extend_from_slice(content);
        out.push(b',');
        out
    }

    fn read(bytes: &[u8]) -> Result<RequestHead, HeadError> {
        read_head(&mut &bytes[..], &Limits::default())
    }

    /// The message of a refusal, which must be `Malformed`.
    fn malformed(bytes: &[u8]) -> String {
        match read(bytes) {
            Err(HeadError::Malformed(message)) => message,
            other => panic!("expected Malformed for {bytes:?}, got {other:?}"),
        }
    }

    fn ended_early(bytes: &[u8]) -> String {
        match read(bytes) {
            Err(HeadError::EndedEarly(message)) => message,
            other => panic!("expected EndedEarly for {bytes:?}, got {other:?}"),
        }
    }

    const MINIMAL: &[u8] = b"CONTENT_LENGTH\x000\x00SCGI\x001\x00";

    #[test]
    fn the_specifications_example() {
        let content = b"CONTENT_LENGTH\x0027\x00SCGI\x001\x00REQUEST_METHOD\x00POST\x00\
                        REQUEST_URI\x00/deepthought\x00";
        let mut sent = netstring(content);
        assert!(sent.starts_with(b"70:"), "the spec's length");
        sent.extend_from_slice(b"What is the answer to life?");
        let mut reader = &sent[..];
        let head = read_head(&mut reader, &Limits::default()).unwrap();
        assert_eq!(head.content_length, 27);
        assert_eq!(head.get("REQUEST_URI"), Some(&b"/deepthought"[..]));
        let names: Vec<&[u8]> = head.pairs().map(|(n, _)| n).collect();
        assert_eq!(
            names,
            [
                &b"CONTENT_LENGTH"[..],
                b"SCGI",
                b"REQUEST_METHOD",
                b"REQUEST_URI"
            ]
        );
        assert_eq!(reader, b"What is the answer to life?");
    }

    #[test]
    fn values_may_be_empty_and_hold_any_byte_but_nul() {
        let head = read(&netstring(
            b"CONTENT_LENGTH\x000\x00SCGI\x001\x00X\x00\x00Y\x00\xff\r\n\x00",
        ))
        .unwrap();
        assert_eq!(head.get("X"), Some(&b""[..]));
        assert_eq!(head.get("Y"), Some(&b"\xff\r\n"[..]));
    }

    #[test]
    fn a_connection_that_ends_at_once_is_empty_not_an_error() {
        assert!(matches!(read(b""), Err(HeadError::Empty)));
    }

    #[test]
    fn the_length_must_be_digits_then_a_colon() {
        assert!(malformed(b"x70:").contains("must start with the header's length in digits"));
        assert!(malformed(b"-1:").contains("starts with \"-1:\""));
        assert!(malformed(b" 70:").contains("in digits"));
        let no_colon = malformed(b"70CONTENT_LENGTH");
        assert!(
            no_colon.contains("length 70 is followed by 'C' instead of ':'"),
            "{no_colon}"
        );
        assert!(malformed(b"7,").contains("instead of ':'"));
        assert!(malformed(b"07:").contains("starts with 0"));
        assert!(ended_early(b"70").contains("after 2 digits"));
    }

    #[test]
    fn the_length_limit_is_checked_before_reading_the_header() {
        let limits = Limits {
            max_header_bytes: MINIMAL.len(),
        };
        assert!(read_head(&mut &netstring(MINIMAL)[..], &limits).is_ok());
        let mut longer = MINIMAL.to_vec();
        longer.extend_from_slice(b"A\x00b\x00");
        let over = match read_head(&mut &netstring(&longer)[..], &limits) {
            Err(HeadError::Malformed(message)) => message,
            other => panic!("{other:?}"),
        };
        assert!(over.contains("over the limit of 24"), "{over}");
        // An endless run of digits stops at the first one past the limit.
        let endless = [b'9'; 100_000];
        let mut reader = &endless[..];
        assert!(read_head(&mut reader, &Limits::default()).is_err());
        assert!(reader.len() > 99_990, "read only a few digits");
    }

    #[test]
    fn the_netstring_must_end_with_a_comma() {
        let mut no_comma = netstring(MINIMAL);
        *no_comma.last_mut().unwrap() = b';';
        let message = malformed(&no_comma);
        assert!(
            message.contains("followed by ';' instead of ','"),
            "{message}"
        );
        let mut cut = netstring(MINIMAL);
        cut.pop();
        assert!(ended_early(&cut).contains("before its ','"));
    }

    #[test]
    fn the_header_must_arrive_whole() {
        let sent = netstring(MINIMAL);
        let message = ended_early(&sent[..10]);
        assert!(
            message.contains("after 7 of the header's 24 bytes"),
            "{message}"
        );
    }

    #[test]
    fn every_string_ends_with_nul_and_they_come_in_pairs() {
        let no_nul = malformed(&netstring(b"CONTENT_LENGTH\x000\x00SCGI\x001"));
        assert!(
            no_nul.contains("last string \"1\" does not end with NUL"),
            "{no_nul}"
        );
        let odd = malformed(&netstring(
            b"CONTENT_LENGTH\x000\x00SCGI\x001\x00LONELY\x00",
        ));
        assert!(odd.contains("5 strings"), "{odd}");
        assert!(odd.contains("the name \"LONELY\" has no value"), "{odd}");
        let empty_name = malformed(&netstring(b"CONTENT_LENGTH\x000\x00SCGI\x001\x00\x00x\x00"));
        assert!(
            empty_name.contains("name 3 of the header is empty"),
            "{empty_name}"
        );
    }

    #[test]
    fn content_length_comes_first_and_is_digits() {
        let later = malformed(&netstring(b"SCGI\x001\x00CONTENT_LENGTH\x000\x00"));
        assert!(
            later.contains("first name must be CONTENT_LENGTH, but it is \"SCGI\""),
            "{later}"
        );
        assert!(malformed(&netstring(b"")).contains("the header is empty"));
        for bad in [
            &b""[..],
            b"-1",
            b"+1",
            b" 1",
            b"1e3",
            b"99999999999999999999999",
        ] {
            let mut content = b"CONTENT_LENGTH\x00".to_vec();
            content.extend_from_slice(bad);
            content.extend_from_slice(b"\x00SCGI\x001\x00");
            let message = malformed(&netstring(&content));
            assert!(message.contains("not a whole number"), "{bad:?}: {message}");
        }
        let zeros = read(&netstring(b"CONTENT_LENGTH\x00007\x00SCGI\x001\x00")).unwrap();
        assert_eq!(
            zeros.content_length, 7,
            "the value is digits; leading zeros are digits"
        );
    }

    #[test]
    fn scgi_must_be_1() {
        let missing = malformed(&netstring(b"CONTENT_LENGTH\x000\x00"));
        assert!(missing.contains("include scgi_params;"), "{missing}");
        let two = malformed(&netstring(b"CONTENT_LENGTH\x000\x00SCGI\x002\x00"));
        assert!(two.contains("SCGI is \"2\""), "{two}");
    }

    #[test]
    fn no_name_twice_except_a_repeated_request_header() {
        // nginx before 1.23 sends a header the client repeated as two HTTP_* variables.
        let repeated = b"CONTENT_LENGTH\x000\x00SCGI\x001\x00HTTP_X\x00a\x00HTTP_X\x00b\x00";
        let mut wire = &netstring(repeated)[..];
        let head = read_head(&mut wire, &Limits::default()).unwrap();
        let copies: Vec<&[u8]> = head
            .pairs()
            .filter(|(n, _)| *n == b"HTTP_X")
            .map(|(_, v)| v)
            .collect();
        assert_eq!(copies, [&b"a"[..], &b"b"[..]]);
        let scgi_twice = malformed(&netstring(
            b"CONTENT_LENGTH\x000\x00SCGI\x001\x00SCGI\x001\x00",
        ));
        assert!(
            scgi_twice.contains("\"SCGI\" appears twice"),
            "{scgi_twice}"
        );
        assert!(scgi_twice.contains("two scgi_param lines"), "{scgi_twice}");
    }

    #[test]
    fn other_protocols_are_named() {
        let http = malformed(b"GET /x HTTP/1.1\r\nHost: a\r\n\r\n");
        assert!(http.contains("\"GET /x HTTP/1.1\" is HTTP"), "{http}");
        assert!(
            http.contains("an HTTP client was pointed at the SCGI port"),
            "{http}"
        );
        let tls = malformed(b"\x16\x03\x01\x02\x00\x01");
        assert!(tls.contains("TLS handshake"), "{tls}");
        let fastcgi = malformed(b"\x01\x01\x00\x01\x00\x08\x00\x00");
        assert!(fastcgi.contains("FastCGI"), "{fastcgi}");
    }

    #[test]
    fn read_errors_are_passed_on() {
        struct Failing;
        impl Read for Failing {
            fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
                Err(io::Error::new(io::ErrorKind::TimedOut, "read timed out"))
            }
        }
        let mut reader = io::BufReader::new(Failing);
        match read_head(&mut reader, &Limits::default()) {
            Err(HeadError::Io(error)) => assert_eq!(error.kind(), io::ErrorKind::TimedOut),
            other => panic!("{other:?}"),
        }
    }
}
