//! Status codes by name: `Status::NOT_FOUND` instead of a string typed from memory.
//!
//! Stage: **call app** (an application choosing its status) and every stage that refuses a
//! request (the server choosing one). Both sides spell each code once, here, with the section
//! of RFC 9110 that defines it.
//!
//! Interface: a [`Status`] is a code and its reason phrase; it prints as the status line wants
//! it (`404 Not Found`), so `start_response.start(Status::NOT_FOUND, [])` and
//! `start_response.start("404 Not Found", [])` are the same call. Any other status works as a
//! string, or as `Status::new(418, "I'm a teapot")`.

use std::fmt;

/// A status code with its reason phrase, e.g. `404 Not Found`.
///
/// ```
/// use rgiref::gateway::Status;
/// assert_eq!(Status::NOT_FOUND.to_string(), "404 Not Found");
/// assert_eq!(Status::NOT_FOUND.code, 404);
/// assert_eq!(Status::new(418, "I'm a teapot").to_string(), "418 I'm a teapot");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Status {
    /// The three-digit code; clients act on it alone.
    pub code: u16,
    /// The reason phrase, for humans.
    pub reason: &'static str,
}

impl Status {
    /// RFC 9110 §15.3.1.
    pub const OK: Status = Status::new(200, "OK");
    /// RFC 9110 §15.3.2: a resource was made; `Location` says where.
    pub const CREATED: Status = Status::new(201, "Created");
    /// RFC 9110 §15.3.3: accepted for later processing.
    pub const ACCEPTED: Status = Status::new(202, "Accepted");
    /// RFC 9110 §15.3.5: success, and no body (the server sends none, whatever the body says).
    pub const NO_CONTENT: Status = Status::new(204, "No Content");
    /// RFC 9110 §15.4.2: moved for good; `Location` says where.
    pub const MOVED_PERMANENTLY: Status = Status::new(301, "Moved Permanently");
    /// RFC 9110 §15.4.3: look elsewhere this time; `Location` says where.
    pub const FOUND: Status = Status::new(302, "Found");
    /// RFC 9110 §15.4.4: the answer to a POST is at `Location`; fetch it with GET.
    pub const SEE_OTHER: Status = Status::new(303, "See Other");
    /// RFC 9110 §15.4.5: the client's cached copy is still good (no body, like 204).
    pub const NOT_MODIFIED: Status = Status::new(304, "Not Modified");
    /// RFC 9110 §15.4.8: like 302, but the method must not change.
    pub const TEMPORARY_REDIRECT: Status = Status::new(307, "Temporary Redirect");
    /// RFC 9110 §15.4.9: like 301, but the method must not change.
    pub const PERMANENT_REDIRECT: Status = Status::new(308, "Permanent Redirect");
    /// RFC 9110 §15.5.1: the request is malformed.
    pub const BAD_REQUEST: Status = Status::new(400, "Bad Request");
    /// RFC 9110 §15.5.2: credentials are needed (send `WWW-Authenticate`).
    pub const UNAUTHORIZED: Status = Status::new(401, "Unauthorized");
    /// RFC 9110 §15.5.4: understood, and refused.
    pub const FORBIDDEN: Status = Status::new(403, "Forbidden");
    /// RFC 9110 §15.5.5: nothing here.
    pub const NOT_FOUND: Status = Status::new(404, "Not Found");
    /// RFC 9110 §15.5.6: this resource does not take that method (send `Allow`).
    pub const METHOD_NOT_ALLOWED: Status = Status::new(405, "Method Not Allowed");
    /// RFC 9110 §15.5.9: the client took too long to send its request.
    pub const REQUEST_TIMEOUT: Status = Status::new(408, "Request Timeout");
    /// RFC 9110 §15.5.10: the request conflicts with the resource's current state.
    pub const CONFLICT: Status = Status::new(409, "Conflict");
    /// RFC 9110 §15.5.11: it was here, and is gone for good.
    pub const GONE: Status = Status::new(410, "Gone");
    /// RFC 9110 §15.5.12: a body-carrying request came without a length.
    pub const LENGTH_REQUIRED: Status = Status::new(411, "Length Required");
    /// RFC 9110 §15.5.14: the request body is larger than the server will take.
    pub const CONTENT_TOO_LARGE: Status = Status::new(413, "Content Too Large");
    /// RFC 9110 §15.5.15: the request line is too long.
    pub const URI_TOO_LONG: Status = Status::new(414, "URI Too Long");
    /// RFC 9110 §15.5.16: a request body in a media type this resource does not take.
    pub const UNSUPPORTED_MEDIA_TYPE: Status = Status::new(415, "Unsupported Media Type");
    /// RFC 9110 §15.5.18: an `Expect` other than `100-continue`.
    pub const EXPECTATION_FAILED: Status = Status::new(417, "Expectation Failed");
    /// RFC 9110 §15.5.21: well-formed, but its content does not make sense.
    pub const UNPROCESSABLE_CONTENT: Status = Status::new(422, "Unprocessable Content");
    /// RFC 6585 §4: too many requests from this client; slow down.
    pub const TOO_MANY_REQUESTS: Status = Status::new(429, "Too Many Requests");
    /// RFC 6585 §5: too many header fields, or too many header bytes.
    pub const HEADER_FIELDS_TOO_LARGE: Status = Status::new(431, "Request Header Fields Too Large");
    /// RFC 9110 §15.6.1: the application failed.
    pub const INTERNAL_SERVER_ERROR: Status = Status::new(500, "Internal Server Error");
    /// RFC 9110 §15.6.2: a feature the server does not have (a transfer coding, say).
    pub const NOT_IMPLEMENTED: Status = Status::new(501, "Not Implemented");
    /// RFC 9110 §15.6.3: the server behind this one answered badly.
    pub const BAD_GATEWAY: Status = Status::new(502, "Bad Gateway");
    /// RFC 9110 §15.6.4: not now; try again later (`Retry-After` says when).
    pub const SERVICE_UNAVAILABLE: Status = Status::new(503, "Service Unavailable");
    /// RFC 9110 §15.6.5: the server behind this one did not answer in time.
    pub const GATEWAY_TIMEOUT: Status = Status::new(504, "Gateway Timeout");
    /// RFC 9110 §15.6.6: HTTP/2 or later spoken over this HTTP/1 connection.
    pub const HTTP_VERSION_NOT_SUPPORTED: Status = Status::new(505, "HTTP Version Not Supported");

    /// A status that has no constant here. The code is checked when it is used, by
    /// `StartResponse::start`.
    pub const fn new(code: u16, reason: &'static str) -> Status {
        Status { code, reason }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.code, self.reason)
    }
}
