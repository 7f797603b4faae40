//! FastCGI records, the application's side of the wire: the 8-byte header, padding, and the
//! name-value pairs that PARAMS and GET_VALUES carry (FastCGI 1.0 §3.3, §3.4, §8).
//!
//! Stage: **read request** (records in) and **send headers**, **send body**, **finish**
//! (records out), for the FastCGI transport. Nothing here knows about requests or sockets;
//! `wire.rs` decides what each record means.
//!
//! Interface:
//! * [`read_record`] reads one whole record from any `BufRead`: header, content, and padding
//!   (read and thrown away). `Ok(None)` is a clean end of the stream *between* records;
//!   everything else that is wrong is a [`RecordError`] whose message says what, quoting the
//!   bytes. One record holds at most 65535 content bytes, so that is the most it allocates.
//! * [`push_record`] appends one record to a buffer, padded to a multiple of 8 bytes as §3.3
//!   recommends; [`push_stream`] splits any number of bytes into as many records as it takes.
//! * [`parse_pairs`] takes a whole name-value stream apart; [`push_pair`] appends one pair.
//!   Names and values are bytes: PARAMS values are often UTF-8, but nothing promises it.
//!
//! The constants keep the specification's names (§8) without their `FCGI_` prefix, which the
//! module path replaces: `FCGI_BEGIN_REQUEST` is [`BEGIN_REQUEST`].

use std::fmt;
use std::io::{self, BufRead, Read};

// FastCGI 1.0 §8: the values of the header's `version` and `type` bytes.

/// The only protocol version there is (`FCGI_VERSION_1`).
pub const VERSION_1: u8 = 1;
/// Bytes in a record header (`FCGI_HEADER_LEN`).
pub const HEADER_LEN: usize = 8;
/// Web server → application: start a request (§5.1).
pub const BEGIN_REQUEST: u8 = 1;
/// Web server → application: abandon a request (§5.4).
pub const ABORT_REQUEST: u8 = 2;
/// Application → web server: this request is over (§5.5).
pub const END_REQUEST: u8 = 3;
/// Web server → application: the request's CGI variables, as name-value pairs (§5.2).
pub const PARAMS: u8 = 4;
/// Web server → application: the request body (§5.3).
pub const STDIN: u8 = 5;
/// Application → web server: the response, a CGI response (§5.3).
pub const STDOUT: u8 = 6;
/// Application → web server: lines for the web server's error log (§5.3).
pub const STDERR: u8 = 7;
/// Web server → application: a Filter's extra data stream (§5.3, §6.4); Responders get none.
pub const DATA: u8 = 8;
/// Web server → application, on request id 0: "what are your limits?" (§4.1).
pub const GET_VALUES: u8 = 9;
/// Application → web server: the answer to GET_VALUES (§4.1).
pub const GET_VALUES_RESULT: u8 = 10;
/// Application → web server: "I do not know that management record type" (§4.2).
pub const UNKNOWN_TYPE: u8 = 11;

/// The request id of management records (`FCGI_NULL_REQUEST_ID`, §3.3).
pub const NULL_REQUEST_ID: u16 = 0;
/// BEGIN_REQUEST's flag: keep the connection open after this request (§5.1).
pub const KEEP_CONN: u8 = 1;
/// BEGIN_REQUEST's role: answer an HTTP request, as a CGI program does (§6.2).
pub const RESPONDER: u16 = 1;
/// BEGIN_REQUEST's role: decide whether a request is allowed (§6.3). Not supported here.
pub const AUTHORIZER: u16 = 2;
/// BEGIN_REQUEST's role: transform a file the web server sends (§6.4). Not supported here.
pub const FILTER: u16 = 3;

// FastCGI 1.0 §5.5: END_REQUEST's `protocolStatus`.

/// The request ended normally.
pub const REQUEST_COMPLETE: u8 = 0;
/// Refused: this application serves one request at a time on a connection.
pub const CANT_MPX_CONN: u8 = 1;
/// Refused: the application is out of some resource.
pub const OVERLOADED: u8 = 2;
/// Refused: the application does not play the role BEGIN_REQUEST asked for.
pub const UNKNOWN_ROLE: u8 = 3;

// FastCGI 1.0 §4.1: the names GET_VALUES may ask about.

/// How many connections the application accepts at once.
pub const MAX_CONNS: &[u8] = b"FCGI_MAX_CONNS";
/// How many requests the application serves at once.
pub const MAX_REQS: &[u8] = b"FCGI_MAX_REQS";
/// `"1"` if the application serves several requests at once on one connection, else `"0"`.
pub const MPXS_CONNS: &[u8] = b"FCGI_MPXS_CONNS";

/// The most content one record can carry: `contentLength` is two bytes (§3.3).
pub const MAX_CONTENT_LENGTH: usize = 65535;

/// The header at the start of every record (FastCGI 1.0 §3.3, `FCGI_Header`):
///
/// ```text
///     byte 0    byte 1    byte 2    byte 3    byte 4    byte 5    byte 6    byte 7
///   +---------+---------+-------------------+-------------------+---------+---------+
///   | version |  type   |     requestId     |   contentLength   | padding | reserved|
///   |   = 1   |  1..11  |  B1 (high)   B0   |  B1 (high)   B0   | Length  |         |
///   +---------+---------+-------------------+-------------------+---------+---------+
///   then contentLength bytes of content (0..65535), then paddingLength bytes (0..255),
///   which the receiver skips. Senders pad records to a multiple of 8 bytes.
/// ```
///
/// ```
/// use rgiref::fastcgi::record::{Header, STDOUT};
/// let header = Header::parse([1, STDOUT, 0, 7, 0x01, 0x02, 6, 0]);
/// assert_eq!((header.kind, header.request_id, header.content_length), (STDOUT, 7, 258));
/// assert_eq!(header.to_bytes(), [1, STDOUT, 0, 7, 0x01, 0x02, 6, 0]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// `version`: 1 for every record of FastCGI 1.0.
    pub version: u8,
    /// `type`: [`BEGIN_REQUEST`], [`STDIN`], …
    pub kind: u8,
    /// `requestId`: which request the record belongs to; 0 for management records.
    pub request_id: u16,
    /// `contentLength`: how many content bytes follow the header.
    pub content_length: u16,
    /// `paddingLength`: how many bytes of padding follow the content.
    pub padding_length: u8,
}

impl Header {
    /// Reads the eight bytes of a header. Any eight bytes are a header; whether its version is
    /// 1 is for the reader to check.
    pub fn parse(bytes: [u8; HEADER_LEN]) -> Header {
        Header {
            version: bytes[0],
            kind: bytes[1],
            request_id: u16::from_be_bytes([bytes[2], bytes[3]]),
            content_length: u16::from_be_bytes([bytes[4], bytes[5]]),
            padding_length: bytes[6],
        }
    }

    /// The eight bytes of this header (the reserved byte is 0).
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let [id_high, id_low] = self.request_id.to_be_bytes();
        let [length_high, length_low] = self.content_length.to_be_bytes();
        [
            self.version,
            self.kind,
            id_high,
            id_low,
            length_high,
            length_low,
            self.padding_length,
            0,
        ]
    }
}

/// One record: its type, its request id and its content (the padding is gone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The record type ([`BEGIN_REQUEST`], [`STDIN`], …).
    pub kind: u8,
    /// The request it belongs to; [`NULL_REQUEST_ID`] for management records.
    pub request_id: u16,
    /// The content, 0 to 65535 bytes.
    pub content: Vec<u8>,
}

/// Reads one record. `Ok(None)` means the stream ended cleanly before a new record began.
///
/// ```
/// use rgiref::fastcgi::record::{read_record, STDIN};
/// //               version type  id      length  padding reserved  content   padding
/// let bytes: &[u8] = &[1, STDIN, 0, 1,   0, 2,   6,      0,        b'h', b'i', 0, 0, 0, 0, 0, 0];
/// let mut reader = bytes;
/// let record = read_record(&mut reader).unwrap().unwrap();
/// assert_eq!((record.kind, record.request_id, &record.content[..]), (STDIN, 1, &b"hi"[..]));
/// assert!(read_record(&mut reader).unwrap().is_none()); // the padding was read too
/// ```
pub fn read_record(reader: &mut impl BufRead) -> Result<Option<Record>, RecordError> {
    if reader.fill_buf().map_err(RecordError::Io)?.is_empty() {
        return Ok(None);
    }
    let mut bytes = [0u8; HEADER_LEN];
    let got = read_full(reader, &mut bytes).map_err(RecordError::Io)?;
    if got < HEADER_LEN {
        return Err(RecordError::Truncated {
            part: "header",
            got,
            wanted: HEADER_LEN,
        });
    }
    let header = Header::parse(bytes);
    if header.version != VERSION_1 {
        return Err(RecordError::Version { bytes });
    }
    let mut content = vec![0; usize::from(header.content_length)];
    let got = read_full(reader, &mut content).map_err(RecordError::Io)?;
    if got < content.len() {
        return Err(RecordError::Truncated {
            part: type_name(header.kind),
            got,
            wanted: content.len(),
        });
    }
    let mut padding = [0u8; 255];
    let padding = &mut padding[..usize::from(header.padding_length)];
    let got = read_full(reader, padding).map_err(RecordError::Io)?;
    if got < padding.len() {
        return Err(RecordError::Truncated {
            part: "padding",
            got,
            wanted: padding.len(),
        });
    }
    Ok(Some(Record {
        kind: header.kind,
        request_id: header.request_id,
        content,
    }))
}

/// Reads until `buf` is full or the stream ends; returns how many bytes it got. (`read_exact`
/// would not say how far it got, and the log line wants to.)
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match reader.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => return Err(error),
        }
    }
    Ok(got)
}

/// Why a record could not be read. Its message is one line for the log, and says what the
/// bytes were when that helps:
///
/// ```
/// use rgiref::fastcgi::record::read_record;
/// let error = read_record(&mut &b"GET / HTTP/1.1\r\n\r\n"[..]).unwrap_err();
/// assert!(error.http_request_start().is_some());
/// assert!(error.to_string().contains("HTTP client or server was pointed at this FastCGI port"));
/// ```
#[derive(Debug)]
pub enum RecordError {
    /// The stream ended in the middle of a record.
    Truncated {
        /// Which part: `"header"`, `"padding"`, or the record type's name for its content.
        part: &'static str,
        /// How many bytes of that part arrived.
        got: usize,
        /// How many it should have had.
        wanted: usize,
    },
    /// The header's version byte is not 1; `bytes` is the whole header, for the log line.
    Version {
        /// The eight bytes read as a header.
        bytes: [u8; HEADER_LEN],
    },
    /// Reading failed (a timeout, a reset).
    Io(io::Error),
}

impl RecordError {
    /// If the "header" was really the start of an HTTP request (`GET /…`, `POST …`), its
    /// first bytes: someone pointed an HTTP client at the FastCGI port.
    pub fn http_request_start(&self) -> Option<&[u8]> {
        match self {
            RecordError::Version { bytes } if looks_like_http_request(bytes) => Some(bytes),
            _ => None,
        }
    }
}

impl fmt::Display for RecordError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordError::Truncated { part, got, wanted } => write!(
                f,
                "the connection ended in the middle of a record ({part}: {got} of {wanted} bytes)"
            ),
            RecordError::Version { bytes } => f.write_str(&describe_bad_version(bytes)),
            RecordError::Io(error) => write!(f, "reading a record failed: {error}"),
        }
    }
}

impl std::error::Error for RecordError {}

/// The log line for a header whose version is not 1, decoding the usual mistake: HTTP bytes.
fn describe_bad_version(bytes: &[u8; HEADER_LEN]) -> String {
    let quoted = crate::log::quote(bytes);
    let version = bytes[0];
    if looks_like_http_request(bytes) {
        return format!(
            "not FastCGI: the first record's version byte is {version} and the bytes are \
             {quoted}, the start of an HTTP request. An HTTP client or server was pointed at \
             this FastCGI port (nginx: use fastcgi_pass, not proxy_pass); the opposite mistake \
             makes nginx log \"upstream sent unsupported FastCGI protocol version: 72\""
        );
    }
    if bytes.starts_with(b"HTTP/") {
        return format!(
            "not FastCGI: the bytes {quoted} are the start of an HTTP response (version byte \
             {version} is 'H'). An HTTP server is connected to this FastCGI port"
        );
    }
    format!(
        "a record with version {version}, not 1 (FastCGI 1.0 §3.3 knows only version 1): the \
         header was {quoted}; the sender does not speak FastCGI 1.0, or lost its place in the \
         stream"
    )
}

/// True if `bytes` start like an HTTP request line: an upper-case method and a space, or the
/// HTTP/2 preface `PRI * HTTP/2.0`.
fn looks_like_http_request(bytes: &[u8]) -> bool {
    let method_len = bytes.iter().take_while(|b| b.is_ascii_uppercase()).count();
    let method_then_space = method_len >= 3 && bytes.get(method_len) == Some(&b' ');
    method_then_space || bytes.starts_with(b"PRI * HT")
}

/// The specification's name of a record type, for log lines (`"STDIN"`, or `"type 42"`).
///
/// ```
/// use rgiref::fastcgi::record::type_name;
/// assert_eq!(type_name(5), "STDIN");
/// assert_eq!(type_name(42), "an unknown type");
/// ```
pub fn type_name(kind: u8) -> &'static str {
    match kind {
        BEGIN_REQUEST => "BEGIN_REQUEST",
        ABORT_REQUEST => "ABORT_REQUEST",
        END_REQUEST => "END_REQUEST",
        PARAMS => "PARAMS",
        STDIN => "STDIN",
        STDOUT => "STDOUT",
        STDERR => "STDERR",
        DATA => "DATA",
        GET_VALUES => "GET_VALUES",
        GET_VALUES_RESULT => "GET_VALUES_RESULT",
        UNKNOWN_TYPE => "UNKNOWN_TYPE",
        _ => "an unknown type",
    }
}

/// Appends one record holding `content` (at most [`MAX_CONTENT_LENGTH`] bytes; any more are
/// left out — use [`push_stream`] for longer data), padded to a multiple of 8 bytes.
///
/// ```
/// use rgiref::fastcgi::record::{push_record, STDOUT};
/// let mut out = Vec::new();
/// push_record(&mut out, STDOUT, 1, b"hello");
/// assert_eq!(out, [1, STDOUT, 0, 1, 0, 5, 3, 0, b'h', b'e', b'l', b'l', b'o', 0, 0, 0]);
/// ```
pub fn push_record(out: &mut Vec<u8>, kind: u8, request_id: u16, content: &[u8]) {
    let content = &content[..content.len().min(MAX_CONTENT_LENGTH)];
    let padding = (8 - content.len() % 8) % 8;
    let header = Header {
        version: VERSION_1,
        kind,
        request_id,
        content_length: content.len() as u16, // at most MAX_CONTENT_LENGTH, just above
        padding_length: padding as u8,        // 0..7
    };
    out.extend_from_slice(&header.to_bytes());
    out.extend_from_slice(content);
    out.extend_from_slice(&[0u8; 7][..padding]);
}

/// Appends `bytes` as records of a stream type (STDOUT, STDERR), each at most
/// [`MAX_CONTENT_LENGTH`] bytes. Appends nothing for no bytes: the empty record that *ends* a
/// stream is sent on purpose, with [`push_record`].
///
/// ```
/// use rgiref::fastcgi::record::{push_stream, STDOUT};
/// let mut out = Vec::new();
/// push_stream(&mut out, STDOUT, 1, &vec![b'x'; 70_000]);
/// assert_eq!(out.len(), (8 + 65535 + 1) + (8 + 4465 + 7)); // two records, each padded
/// ```
pub fn push_stream(out: &mut Vec<u8>, kind: u8, request_id: u16, bytes: &[u8]) {
    for piece in bytes.chunks(MAX_CONTENT_LENGTH) {
        push_record(out, kind, request_id, piece);
    }
}

/// One name-value pair, as bytes: `(name, value)`.
pub type Pair<'a> = (&'a [u8], &'a [u8]);

/// A name-value pair stream that could not be taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairError {
    /// Where in the stream the broken pair starts.
    pub at: usize,
    /// What was wrong.
    pub message: String,
}

impl fmt::Display for PairError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the name-value pair at byte {}: {}",
            self.at, self.message
        )
    }
}

impl std::error::Error for PairError {}

/// Takes a whole name-value stream apart (FastCGI 1.0 §3.4). Each pair is two lengths, then
/// the name's bytes, then the value's; each length is one byte or four:
///
/// ```text
///   0xxxxxxx                              a length of 0 to 127, in one byte
///   1xxxxxxx xxxxxxxx xxxxxxxx xxxxxxxx   a length of 128 to 2^31 - 1: the 31 x bits,
///                                         big-endian, with the first byte's high bit set
///
///   a pair:  nameLength  valueLength  nameData[nameLength]  valueData[valueLength]
/// ```
///
/// ```
/// use rgiref::fastcgi::record::parse_pairs;
/// let stream = b"\x0b\x02SERVER_PORT80\x0e\x00CONTENT_LENGTH";
/// let pairs = parse_pairs(stream).unwrap();
/// assert_eq!(pairs, [(&b"SERVER_PORT"[..], &b"80"[..]), (&b"CONTENT_LENGTH"[..], &b""[..])]);
/// assert!(parse_pairs(b"\x0b\x02SERVER").is_err()); // cut short
/// ```
pub fn parse_pairs(stream: &[u8]) -> Result<Vec<Pair<'_>>, PairError> {
    let mut pairs = Vec::new();
    let mut at = 0;
    while at < stream.len() {
        let start = at;
        let (name_length, next) = read_length(stream, at, start, "name")?;
        let (value_length, next) = read_length(stream, next, start, "value")?;
        let left = stream.len() - next;
        if name_length > left || value_length > left - name_length {
            return Err(PairError {
                at: start,
                message: format!(
                    "its lengths say {name_length} + {value_length} bytes, but only {left} are left"
                ),
            });
        }
        let name = &stream[next..next + name_length];
        let value = &stream[next + name_length..next + name_length + value_length];
        pairs.push((name, value));
        at = next + name_length + value_length;
    }
    Ok(pairs)
}

/// Reads one length at `at`; returns it and where the next field starts.
fn read_length(
    stream: &[u8],
    at: usize,
    pair: usize,
    what: &str,
) -> Result<(usize, usize), PairError> {
    let cut_short = || PairError {
        at: pair,
        message: format!("the stream ends inside its {what} length"),
    };
    let first = *stream.get(at).ok_or_else(cut_short)?;
    if first & 0x80 == 0 {
        return Ok((usize::from(first), at + 1));
    }
    let four = stream.get(at..at + 4).ok_or_else(cut_short)?;
    let length = u32::from_be_bytes([four[0] & 0x7f, four[1], four[2], four[3]]);
    Ok((length as usize, at + 4))
}

/// Appends one name-value pair, each length in one byte if it is below 128 and in four
/// otherwise. Fails only for a name or value of 2 GiB or more, which no length can say.
///
/// ```
/// use rgiref::fastcgi::record::push_pair;
/// let mut out = Vec::new();
/// push_pair(&mut out, b"FCGI_MAX_REQS", b"1").unwrap();
/// assert_eq!(out, b"\x0d\x01FCGI_MAX_REQS1");
/// let mut long = Vec::new();
/// push_pair(&mut long, b"X", &[b'v'; 200]).unwrap();
/// assert_eq!(&long[..6], b"\x01\x80\x00\x00\xc8X"); // 200 needs four bytes
/// ```
pub fn push_pair(out: &mut Vec<u8>, name: &[u8], value: &[u8]) -> Result<(), PairError> {
    for part in [name, value] {
        let Ok(length) = u32::try_from(part.len()) else {
            return Err(too_long(out.len()));
        };
        match length {
            0..=127 => out.push(length as u8),
            128..=0x7fff_ffff => out.extend_from_slice(&(length | 0x8000_0000).to_be_bytes()),
            _ => return Err(too_long(out.len())),
        }
    }
    out.extend_from_slice(name);
    out.extend_from_slice(value);
    Ok(())
}

fn too_long(at: usize) -> PairError {
    PairError {
        at,
        message: "a name or value of 2 GiB or more cannot be encoded".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_switch_to_four_bytes_at_128() {
        for length in [0usize, 1, 127, 128, 129, 300, 65536] {
            let mut out = Vec::new();
            push_pair(&mut out, &vec![b'n'; length], b"v").unwrap();
            let expected_prefix = if length < 128 { 1 } else { 4 };
            assert_eq!(out.len(), expected_prefix + 1 + length + 1, "{length}");
            let pairs = parse_pairs(&out).unwrap();
            assert_eq!((pairs[0].0.len(), pairs[0].1), (length, &b"v"[..]));
        }
    }

    #[test]
    fn a_four_byte_length_may_encode_a_small_number() {
        // §3.4 says lengths from 128 on are "always" four bytes, not that small ones never
        // are; a reader must take either.
        let pairs = parse_pairs(b"\x80\x00\x00\x01\x00A").unwrap();
        assert_eq!(pairs, [(&b"A"[..], &b""[..])]);
    }

    #[test]
    fn broken_pair_streams_are_errors_not_panics() {
        let huge = b"\xff\xff\xff\xff\x00";
        for broken in [&b"\x05"[..], b"\x01", b"\x80\x00", b"\x01\x01A", huge] {
            let error = parse_pairs(broken).unwrap_err();
            assert_eq!(error.at, 0, "{broken:?}: {error}");
        }
        let error = parse_pairs(b"\x01\x01AB\x02\x00X").unwrap_err();
        assert_eq!(error.at, 4);
        assert!(error.to_string().contains("only 1 are left"), "{error}");
    }

    #[test]
    fn records_round_trip_with_padding() {
        let mut out = Vec::new();
        for length in [0usize, 1, 7, 8, 9, MAX_CONTENT_LENGTH] {
            out.clear();
            push_record(&mut out, STDOUT, 0x0102, &vec![b'z'; length]);
            assert_eq!(out.len() % 8, 0, "{length}");
            let record = read_record(&mut &out[..]).unwrap().unwrap();
            assert_eq!(
                (record.kind, record.request_id, record.content.len()),
                (STDOUT, 0x0102, length)
            );
        }
    }

    #[test]
    fn truncated_records_say_where() {
        let mut out = Vec::new();
        push_record(&mut out, STDIN, 1, b"0123456789");
        for cut in 1..out.len() {
            let error = read_record(&mut &out[..cut]).unwrap_err();
            assert!(matches!(error, RecordError::Truncated { .. }), "{cut}");
        }
        let error = read_record(&mut &out[..12]).unwrap_err();
        assert_eq!(
            error.to_string(),
            "the connection ended in the middle of a record (STDIN: 4 of 10 bytes)"
        );
    }

    #[test]
    fn http_bytes_are_recognized() {
        for http in [
            &b"GET / HTTP/1.1\r\n"[..],
            b"POST /x H",
            b"OPTIONS * HTTP/1.1",
        ] {
            let error = read_record(&mut &http[..]).unwrap_err();
            assert!(error.http_request_start().is_some(), "{http:?}");
            assert!(error.to_string().contains("HTTP request"), "{error}");
        }
        let response = read_record(&mut &b"HTTP/1.1 400 Bad"[..]).unwrap_err();
        assert!(response.to_string().contains("HTTP response"), "{response}");
        let other = read_record(&mut &[2u8, 1, 0, 1, 0, 0, 0, 0][..]).unwrap_err();
        assert!(other.to_string().contains("version 2, not 1"), "{other}");
    }
}
