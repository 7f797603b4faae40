//! Status codes the server itself sends, each with the section that defines it.
//!
//! Stage: **read request** and **build environ** (refusing a request) and **call app** (the 500
//! when the application fails). Applications choose their own status as a string (`"200 OK"`); this type is for the
//! responses the *server* makes up, so each one is spelled once, here.

use std::fmt;

/// A status code with its reason phrase, e.g. `400 Bad Request`.
///
/// ```
/// use rgiref::http::Status;
/// assert_eq!(Status::BAD_REQUEST.to_string(), "400 Bad Request");
/// assert_eq!(Status::BAD_REQUEST.code, 400);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    /// The three-digit code.
    pub code: u16,
    /// The reason phrase, for humans; clients act on the code alone.
    pub reason: &'static str,
}

impl Status {
    /// RFC 9110 §15.3.1.
    pub const OK: Status = Status {
        code: 200,
        reason: "OK",
    };
    /// RFC 9110 §15.5.1: the request is malformed.
    pub const BAD_REQUEST: Status = Status {
        code: 400,
        reason: "Bad Request",
    };
    /// RFC 9110 §15.5.9: the client took too long to send its request.
    pub const REQUEST_TIMEOUT: Status = Status {
        code: 408,
        reason: "Request Timeout",
    };
    /// RFC 9110 §15.5.12: a body-carrying request came without a length.
    pub const LENGTH_REQUIRED: Status = Status {
        code: 411,
        reason: "Length Required",
    };
    /// RFC 9110 §15.5.15: the request line is too long.
    pub const URI_TOO_LONG: Status = Status {
        code: 414,
        reason: "URI Too Long",
    };
    /// RFC 9110 §15.5.18: an `Expect` other than `100-continue`.
    pub const EXPECTATION_FAILED: Status = Status {
        code: 417,
        reason: "Expectation Failed",
    };
    /// RFC 6585 §5: too many header fields, or too many header bytes.
    pub const HEADER_FIELDS_TOO_LARGE: Status = Status {
        code: 431,
        reason: "Request Header Fields Too Large",
    };
    /// RFC 9110 §15.6.1: the application failed.
    pub const INTERNAL_SERVER_ERROR: Status = Status {
        code: 500,
        reason: "Internal Server Error",
    };
    /// RFC 9110 §15.6.2: a transfer coding other than chunked.
    pub const NOT_IMPLEMENTED: Status = Status {
        code: 501,
        reason: "Not Implemented",
    };
    /// RFC 9110 §15.6.6: HTTP/2 or later spoken over this HTTP/1 connection.
    pub const HTTP_VERSION_NOT_SUPPORTED: Status = Status {
        code: 505,
        reason: "HTTP Version Not Supported",
    };
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code, self.reason)
    }
}
