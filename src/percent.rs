//! Percent-decoding (RFC 3986 §2.1), written by hand, and the rule that turns a URL path into
//! `PATH_INFO` without losing a byte.
//!
//! Stage: **build environ**. In: the path part of the request target, still percent-encoded
//! (`/caf%C3%A9/100%25`). Out: the `PATH_INFO` text (`/café/100%25`).
//!
//! Interface:
//! * [`decode_bytes`] is plain percent-decoding: `%41` becomes the byte `A`. It refuses a `%`
//!   that is not followed by two hex digits, because such a URL is malformed (RFC 3986 §2.1) and
//!   guessing what it meant is how two programs end up disagreeing about one URL.
//! * [`decode_path`] makes `PATH_INFO`: decoded text, with one twist, explained below.
//!
//! ## How non-UTF-8 bytes are represented in `PATH_INFO`
//!
//! A URL path is a sequence of *bytes*; a Rust `String` must be UTF-8. Browsers send UTF-8, so
//! nearly always the decoded bytes are text and `PATH_INFO` is simply that text. When they are
//! not (`/%FF`), something must give. WSGI (PEP 3333) decodes every byte as Latin-1, which is
//! lossless but turns every UTF-8 path into mojibake (`/cafÃ©`). We keep Rust's meaning of
//! `String` instead:
//!
//! * every escape is decoded, **except** those whose decoded byte is not part of valid UTF-8 —
//!   they stay as the escape (`%FF`) — and `%25`, the percent sign itself, which stays `%25`.
//!
//! Keeping `%` escaped is what makes this lossless: a bare `%` can then never appear in
//! `PATH_INFO`, so every `%XX` in it is an escape, and [`decode_bytes`] of `PATH_INFO` gives back
//! exactly the bytes the client meant. A reader who needs the bytes runs one function; a reader
//! who needs text (everyone else) gets it without decoding anything.
//!
//! One byte is refused outright: `%00`. A NUL cannot live in a CGI environment variable (they are
//! C strings) and is a classic way to make two layers see different paths.

use std::fmt;

/// Why a path could not be decoded. The HTTP server answers it with `400 Bad Request`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PercentError {
    /// A `%` not followed by two hex digits; holds the text from the `%` on (at most 3 chars).
    BadEscape(String),
    /// `%00`: a NUL byte, which no CGI variable can carry.
    Nul,
}

impl fmt::Display for PercentError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PercentError::BadEscape(s) => {
                write!(
                    f,
                    "{s:?} is not a percent-escape (a % must be followed by two hex digits)"
                )
            }
            PercentError::Nul => write!(f, "%00 (a NUL byte) is not allowed in a path"),
        }
    }
}

impl std::error::Error for PercentError {}

/// Decodes every `%XX` escape in `s` into the byte it stands for.
///
/// ```
/// use rgiref::percent::decode_bytes;
/// assert_eq!(decode_bytes("/a%20b%FF").unwrap(), b"/a b\xFF");
/// assert!(decode_bytes("/100%").is_err());
/// ```
pub fn decode_bytes(s: &str) -> Result<Vec<u8>, PercentError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            out.push(escape_at(bytes, i)?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    Ok(out)
}

/// Decodes a URL path into `PATH_INFO` text, keeping the escapes that would not be text
/// (see the module docs for the rule and why it loses nothing).
///
/// ```
/// use rgiref::percent::{decode_path, decode_bytes};
/// assert_eq!(decode_path("/caf%C3%A9").unwrap(), "/café");
/// assert_eq!(decode_path("/100%25").unwrap(), "/100%25");   // the % stays escaped
/// assert_eq!(decode_path("/%FF%41").unwrap(), "/%FFA");     // 0xFF is not UTF-8 on its own
/// // ...and decoding PATH_INFO once more gives back the exact bytes:
/// assert_eq!(decode_bytes("/%FFA").unwrap(), b"/\xFFA");
/// assert!(decode_path("/a%00b").is_err());
/// ```
pub fn decode_path(path: &str) -> Result<String, PercentError> {
    if !path.contains(['%', '\0']) {
        return Ok(path.to_owned()); // most paths have no escapes: nothing to decode
    }
    let bytes = decode_bytes(path)?;
    if bytes.contains(&0) {
        return Err(PercentError::Nul);
    }
    let mut text = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            if c == '%' {
                text.push_str("%25");
            } else {
                text.push(c);
            }
        }
        for &b in chunk.invalid() {
            text.push_str(&format!("%{b:02X}"));
        }
    }
    Ok(text)
}

/// The byte encoded by the escape starting at `bytes[i]` (which is `%`).
fn escape_at(bytes: &[u8], i: usize) -> Result<u8, PercentError> {
    let hex = |j: usize| bytes.get(j).and_then(|&b| (b as char).to_digit(16));
    match (hex(i + 1), hex(i + 2)) {
        (Some(high), Some(low)) => Ok((high * 16 + low) as u8),
        _ => {
            let end = (i + 3).min(bytes.len());
            Err(PercentError::BadEscape(
                String::from_utf8_lossy(&bytes[i..end]).into_owned(),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_passes_through() {
        assert_eq!(decode_path("/hello/world").unwrap(), "/hello/world");
        assert_eq!(decode_path("").unwrap(), "");
    }

    #[test]
    fn escapes_decode_including_slash_and_lowercase_hex() {
        assert_eq!(decode_path("/a%2Fb%2fc").unwrap(), "/a/b/c");
        assert_eq!(decode_path("/%e2%9c%93").unwrap(), "/✓");
    }

    #[test]
    fn raw_utf8_in_the_target_is_kept() {
        assert_eq!(decode_path("/café").unwrap(), "/café");
    }

    #[test]
    fn bad_escapes_are_refused_with_the_text_quoted() {
        assert_eq!(
            decode_bytes("/%zz"),
            Err(PercentError::BadEscape("%zz".into()))
        );
        assert_eq!(
            decode_bytes("/%4"),
            Err(PercentError::BadEscape("%4".into()))
        );
        assert_eq!(decode_bytes("%"), Err(PercentError::BadEscape("%".into())));
        let message = PercentError::BadEscape("%zz".into()).to_string();
        assert!(message.contains("\"%zz\""), "{message}");
    }

    #[test]
    fn decoding_path_info_again_gives_the_original_bytes() {
        // For every single byte value, the round trip through PATH_INFO is exact.
        for b in 1..=255u8 {
            let target = format!("/x%{b:02X}y");
            let info = decode_path(&target).unwrap();
            assert_eq!(
                decode_bytes(&info).unwrap(),
                vec![b'/', b'x', b, b'y'],
                "byte {b:#04x}"
            );
        }
        // A truncated multi-byte sequence followed by valid text.
        let info = decode_path("/%E2%9C/%E2%9C%93").unwrap();
        assert_eq!(info, "/%E2%9C/✓");
        assert_eq!(decode_bytes(&info).unwrap(), b"/\xE2\x9C/\xE2\x9C\x93");
    }

    #[test]
    fn nul_is_refused() {
        assert_eq!(decode_path("/a%00"), Err(PercentError::Nul));
    }
}
