//! Percent-decoding (RFC 3986 §2.1), written by hand, and the rule that turns a URL path into
//! `PATH_INFO`: decoded exactly once, and it must be UTF-8.
//!
//! Stage: **build environ**. In: the path part of the request target, still percent-encoded
//! (`/caf%C3%A9/100%25`). Out: the `PATH_INFO` text (`/café/100%`).
//!
//! Interface:
//! * [`decode_bytes`] is plain percent-decoding: `%41` becomes the byte `A`. It refuses a `%`
//!   that is not followed by two hex digits, because such a URL is malformed (RFC 3986 §2.1) and
//!   guessing what it meant is how two programs end up disagreeing about one URL.
//! * [`decode_path`] makes `PATH_INFO`: the path decoded once, which must be UTF-8 text without
//!   a NUL; anything else is an error, which the HTTP server answers with `400 Bad Request`.
//!
//! ## Decoded exactly once
//!
//! RFC 3875 §4.1.5 says `PATH_INFO` "is not URL-encoded", PEP 3333 rebuilds a URL by quoting it
//! again, and a CGI program under lighttpd, nginx or Apache is handed the path decoded once. So
//! every escape is decoded, `%25` too: `/100%25` gives `/100%`, and `/a%2541` gives `/a%41` —
//! not `/aA`, which a second decoding would make. Decoding twice is a classic way past a filter:
//! a rule that refuses `/admin` lets `/%2561dmin` through to a program that decodes again.
//!
//! The price: `PATH_INFO` can hold a bare `%`, and cannot tell `/a%2Fb` from `/a/b`. An
//! application that needs the path exactly as sent reads `REQUEST_URI`, which is never decoded.
//!
//! ## It must be UTF-8
//!
//! A URL path is a sequence of *bytes*; a Rust `String` must be UTF-8. Browsers encode paths
//! as UTF-8, so nearly always the decoded bytes are text. When they are not (`/x%FFy`), we
//! refuse the request rather than invent a text for it: WSGI (PEP 3333) decodes every byte as
//! Latin-1, which turns every UTF-8 path into mojibake (`/cafÃ©`), and replacing the bad bytes
//! with U+FFFD would give two different paths one `PATH_INFO`. The request parser refuses such
//! bytes sent raw in the target with the same `400`, so no spelling of such a path gets through.
//!
//! One byte is refused even though it is UTF-8: `%00`. A NUL cannot live in a CGI environment
//! variable (they are C strings) and is a classic way to make two layers see different paths.

use std::fmt;

/// Why a path could not be decoded. The HTTP server answers it with `400 Bad Request`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PercentError {
    /// A `%` not followed by two hex digits; holds the text from the `%` on (at most 3 chars).
    BadEscape(String),
    /// `%00`: a NUL byte, which no CGI variable can carry.
    Nul,
    /// The decoded bytes are not UTF-8; holds the first bytes that are not, written as escapes
    /// (`%FF`), so the message can quote them as the client spelled them.
    NotUtf8(String),
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
            PercentError::NotUtf8(s) => write!(
                f,
                "the path is not UTF-8 once decoded: {s:?} is not a UTF-8 character (PATH_INFO must be text)"
            ),
        }
    }
}

impl std::error::Error for PercentError {}

/// Decodes every `%XX` escape in `s` into the byte it stands for.
pub(crate) fn decode_bytes(s: &str) -> Result<Vec<u8>, PercentError> {
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

/// Decodes a URL path into `PATH_INFO` text: every escape decoded once, and the result must
/// be UTF-8 without a NUL (see the module docs for why).
pub(crate) fn decode_path(path: &str) -> Result<String, PercentError> {
    if !path.contains(['%', '\0']) {
        return Ok(path.to_owned()); // most paths have no escapes: nothing to decode
    }
    let bytes = decode_bytes(path)?;
    if bytes.contains(&0) {
        return Err(PercentError::Nul);
    }
    String::from_utf8(bytes).map_err(|error| {
        let bytes = error.as_bytes();
        let start = error.utf8_error().valid_up_to();
        // The bad sequence, or everything left if the path ends in the middle of a character.
        let length = error
            .utf8_error()
            .error_len()
            .unwrap_or(bytes.len() - start);
        let escapes = bytes[start..start + length]
            .iter()
            .map(|b| format!("%{b:02X}"))
            .collect();
        PercentError::NotUtf8(escapes)
    })
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
    fn the_rule_in_five_lines() {
        assert_eq!(decode_bytes("/a%20b%FF").unwrap(), b"/a b\xFF");
        assert!(decode_bytes("/100%").is_err());
        assert_eq!(decode_path("/caf%C3%A9").unwrap(), "/café");
        assert_eq!(decode_path("/100%25").unwrap(), "/100%"); // %25 is a %, like any escape
        assert_eq!(decode_path("/a%2541").unwrap(), "/a%41"); // decoded once, not twice
        assert_eq!(
            decode_path("/x%FFy"),
            Err(PercentError::NotUtf8("%FF".into()))
        );
        assert_eq!(decode_path("/a%00b"), Err(PercentError::Nul));
    }

    #[test]
    fn plain_text_passes_through() {
        assert_eq!(decode_path("/hello/world").unwrap(), "/hello/world");
        assert_eq!(decode_path("/café").unwrap(), "/café");
        assert_eq!(decode_path("").unwrap(), "");
    }

    #[test]
    fn escapes_decode_including_slash_and_lowercase_hex() {
        assert_eq!(decode_path("/a%2Fb%2fc").unwrap(), "/a/b/c");
        assert_eq!(decode_path("/%e2%9c%93").unwrap(), "/✓");
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
    fn every_escape_is_decoded_exactly_once() {
        // Each ASCII byte but NUL decodes to itself — `%` included — and what it decodes to is
        // never decoded again: `%2541` is `%41`, not `A`.
        for b in 1..=0x7Fu8 {
            let info = decode_path(&format!("/x%{b:02X}y")).unwrap();
            assert_eq!(info.as_bytes(), [b'/', b'x', b, b'y'], "byte {b:#04x}");
        }
        assert_eq!(decode_path("/a%2541").unwrap(), "/a%41");
        assert_eq!(decode_path("/100%25").unwrap(), "/100%");
        assert_eq!(decode_path("/%25%32%35").unwrap(), "/%25");
    }

    #[test]
    fn a_path_that_is_not_utf8_once_decoded_is_refused() {
        // No byte 0x80-0xFF is UTF-8 on its own.
        for b in 0x80..=0xFFu8 {
            let escape = format!("%{b:02X}");
            let error = decode_path(&format!("/x{escape}y")).unwrap_err();
            assert_eq!(error, PercentError::NotUtf8(escape), "byte {b:#04x}");
        }
        // A character cut short at the end, and one cut short before more text.
        assert_eq!(
            decode_path("/ok/%E2%9C"),
            Err(PercentError::NotUtf8("%E2%9C".into()))
        );
        assert_eq!(
            decode_path("/%E2%9C/%E2%9C%93"),
            Err(PercentError::NotUtf8("%E2%9C".into()))
        );
        let message = PercentError::NotUtf8("%FF".into()).to_string();
        assert!(
            message.contains("not UTF-8") && message.contains("\"%FF\""),
            "{message}"
        );
    }

    #[test]
    fn nul_is_refused() {
        assert_eq!(decode_path("/a%00"), Err(PercentError::Nul));
    }
}
