//! The rules a response's status and headers must follow, and the few character classes of
//! HTTP's grammar they are made of.
//!
//! Stage: **call app** — `StartResponse::start` checks what the application asks to send
//! against these rules before anything can reach the wire. The HTTP server's request parser
//! uses the same character classes for what clients send (`src/http/request.rs`), which adds
//! its own rules for request values.
//!
//! Interface: predicates, each citing the rule it implements, and the two checks `start` runs.
//!
//! ```text
//!   status      = 3DIGIT SP reason-phrase      RFC 9112 §4; code 200–599 (1xx are the
//!                                              server's to send, not the application's)
//!   header name = token                        RFC 9110 §5.1 — a space or colon in a name
//!                 token = 1*tchar              makes a different header (§5.6.2)
//!                 tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
//!                         "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
//!   header value: no control characters        RFC 9110 §5.5 — CR/LF would split the response
//!                 except tab
//!   no hop-by-hop headers                      PEP 3333; RFC 2616 §13.5.1 — the connection
//!                                              belongs to the server
//!   no Status header                           RFC 3875 §6.3.3 — behind a web server the
//!                                              engine writes it from the status argument
//!   Content-Length = 1*DIGIT, at most once     RFC 9110 §8.6
//! ```

use super::StartResponseError;

/// True for a `tchar`: the characters a header name or a method may contain.
pub(crate) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// True if `s` is a non-empty `token` (RFC 9110 §5.6.2): a valid header name or method.
///
/// ```
/// use rgiref::gateway::is_token;
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
///
/// ```
/// use rgiref::gateway::is_forbidden_in_value;
/// assert!(is_forbidden_in_value('\n'));
/// assert!(!is_forbidden_in_value('\t'));
/// ```
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
/// use rgiref::gateway::is_hop_by_hop;
/// assert!(is_hop_by_hop("Connection"));
/// assert!(!is_hop_by_hop("Content-Length"));
/// ```
pub fn is_hop_by_hop(name: &str) -> bool {
    HOP_BY_HOP.iter().any(|h| h.eq_ignore_ascii_case(name))
}

/// Checks `status` against `3DIGIT SP reason-phrase` and returns the code.
pub(super) fn check_status(status: &str) -> Result<u16, StartResponseError> {
    let bad = |why| StartResponseError::BadStatus {
        status: status.to_owned(),
        why,
    };
    let bytes = status.as_bytes();
    if bytes.len() < 4 || !bytes[..3].iter().all(u8::is_ascii_digit) {
        return Err(bad("it must start with a three-digit code"));
    }
    if bytes[3] != b' ' {
        return Err(bad(
            "the code must be followed by a space and a reason phrase",
        ));
    }
    if status.chars().any(|c| c.is_control() && c != '\t') {
        return Err(bad("it contains a control character such as CR or LF"));
    }
    let code: u16 = status[..3]
        .parse()
        .map_err(|_| bad("the code is not a number"))?;
    if !(200..=599).contains(&code) {
        return Err(bad("the code must be from 200 to 599"));
    }
    Ok(code)
}

/// Checks every header and returns the application's `Content-Length`, if it gave one.
pub(super) fn check_headers(
    headers: &[(String, String)],
) -> Result<Option<u64>, StartResponseError> {
    let mut length = None;
    for (name, value) in headers {
        check_header(name, value)?;
        if name.eq_ignore_ascii_case("Content-Length") {
            let parsed = parse_content_length(value)?;
            if length.replace(parsed).is_some() {
                return Err(StartResponseError::BadContentLength {
                    value: value.clone(),
                });
            }
        }
    }
    Ok(length)
}

/// One header against the rules in the module docs.
fn check_header(name: &str, value: &str) -> Result<(), StartResponseError> {
    if !is_token(name) {
        return Err(StartResponseError::BadHeaderName {
            name: name.to_owned(),
        });
    }
    if value.chars().any(is_forbidden_in_value) {
        return Err(StartResponseError::BadHeaderValue {
            name: name.to_owned(),
            value: value.to_owned(),
        });
    }
    if is_hop_by_hop(name) {
        return Err(StartResponseError::HopByHop {
            name: name.to_owned(),
        });
    }
    if name.eq_ignore_ascii_case("Status") {
        return Err(StartResponseError::StatusHeader);
    }
    Ok(())
}

/// `Content-Length = 1*DIGIT`: no sign, no spaces, no list.
fn parse_content_length(value: &str) -> Result<u64, StartResponseError> {
    let is_number = !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit());
    value
        .parse::<u64>()
        .ok()
        .filter(|_| is_number)
        .ok_or_else(|| StartResponseError::BadContentLength {
            value: value.to_owned(),
        })
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

    #[test]
    fn statuses() {
        assert_eq!(check_status("200 OK"), Ok(200));
        assert_eq!(check_status("599 "), Ok(599));
        assert!(check_status("200").is_err());
        assert!(check_status("200OK").is_err());
        assert!(check_status("20x OK").is_err());
        assert!(check_status("100 Continue").is_err());
        assert!(check_status("600 Nope").is_err());
        assert!(check_status("200 OK\r\nSet-Cookie: x").is_err());
    }

    #[test]
    fn headers() {
        let h = |n: &str, v: &str| vec![(n.to_owned(), v.to_owned())];
        assert_eq!(check_headers(&h("X-Ok", "tab\tis fine")), Ok(None));
        assert_eq!(check_headers(&h("Content-Length", "12")), Ok(Some(12)));
        assert!(check_headers(&h("Bad Name", "x")).is_err());
        assert!(check_headers(&h("X", "a\r\nInjected: yes")).is_err());
        assert!(check_headers(&h("Connection", "close")).is_err());
        assert_eq!(
            check_headers(&h("status", "404")),
            Err(StartResponseError::StatusHeader)
        );
        assert!(check_headers(&h("Content-Length", "+12")).is_err());
        let two = vec![
            ("Content-Length".to_owned(), "1".to_owned()),
            ("content-length".to_owned(), "1".to_owned()),
        ];
        assert!(check_headers(&two).is_err());
    }
}
