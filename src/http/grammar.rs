//! The few character classes of HTTP's grammar, shared by both directions.
//!
//! Stage: **read request** (checking what the client sent) and **call app** (checking what the
//! application asks `start_response` to send). One set of rules for both, so the server can never refuse
//! from a client what it would itself write, or write what it would refuse.
//!
//! Interface: small predicates, each citing the rule it implements.
//!
//! ```text
//! RFC 9110 §5.6.2:  token = 1*tchar
//!                   tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
//!                           "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
//! RFC 9110 §5.5:    field-value = *field-content      (no CR, LF or NUL; HTAB allowed)
//! ```

/// True for a `tchar`: the characters a header name or a method may contain.
pub fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// True if `s` is a non-empty `token` (RFC 9110 §5.6.2): a valid header name or method.
///
/// ```
/// use rgiref::http::grammar::is_token;
/// assert!(is_token("Content-Type"));
/// assert!(!is_token("Content Type"));
/// assert!(!is_token(""));
/// ```
pub fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_tchar)
}

/// True for a character a header value may not contain: any control character (C0, DEL, and the
/// C1 range U+0080–U+009F) except horizontal tab.
///
/// CR and LF are the dangerous ones — a value containing `\r\n` would end the header early and
/// let whoever chose the value write headers (or a whole response) of their own: *response
/// splitting*. The others have no business in a header and confuse logs and terminals.
pub fn is_forbidden_in_value(c: char) -> bool {
    c.is_control() && c != '\t'
}

/// The hop-by-hop headers: RFC 2616 §13.5.1's list, which wsgiref uses (`trailers` spelled as
/// there; RFC 9110 §7.6.1 now names them through the `Connection` header instead). They
/// describe one connection, which the server owns, so an application may not set them
/// (PEP 3333, "Other HTTP Features").
pub const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
];

/// True if `name` is a hop-by-hop header (case-insensitive), like `wsgiref.util.is_hop_by_hop`.
///
/// ```
/// use rgiref::http::grammar::is_hop_by_hop;
/// assert!(is_hop_by_hop("Connection"));
/// assert!(!is_hop_by_hop("Content-Length"));
/// ```
pub fn is_hop_by_hop(name: &str) -> bool {
    HOP_BY_HOP.iter().any(|h| h.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tchar_is_exactly_the_rfc_set() {
        let listed: Vec<u8> = (0u8..=255).filter(|&b| is_tchar(b)).collect();
        let expected: Vec<u8> =
            b"!#$%&'*+-.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ^_`abcdefghijklmnopqrstuvwxyz|~"
                .to_vec();
        assert_eq!(listed, expected);
    }

    #[test]
    fn value_rules() {
        assert!(is_forbidden_in_value('\r'));
        assert!(is_forbidden_in_value('\n'));
        assert!(is_forbidden_in_value('\0'));
        assert!(is_forbidden_in_value('\u{7f}'));
        assert!(is_forbidden_in_value('\u{85}'));
        assert!(!is_forbidden_in_value('\t'));
        assert!(!is_forbidden_in_value('é'));
    }
}
