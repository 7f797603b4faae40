//! HTTP/1.0, the server side: from the bytes a client sends to an environ, and the rules the
//! response must follow.
//!
//! Stages: **read request** (`request.rs`: the head, [`read_request_head`]; `body.rs`: the
//! body, [`BodyReader`]) and **build environ** (`environ.rs`, [`cgi_variables`]). Each part works on any `BufRead`, not on a socket, so it can be tested — and
//! fuzzed — in memory; the server (`crate::server`) is what connects them to a real connection.
//!
//! We speak HTTP/1.0 (RFC 1945) and answer every request with an HTTP/1.0 response, one request
//! per connection. HTTP/1.1 clients are welcome — RFC 9110 §6.2 says a 1.0 response is how a
//! server tells them "no keep-alive, no chunked responses" — and we still understand the two
//! HTTP/1.1 request features that everyday clients use: chunked request bodies and
//! `Expect: 100-continue`. Where RFC 1945 is vague about malformed input, we follow RFC 9112's
//! stricter rules, because a lenient parser in front of a strict one is how request smuggling
//! happens.

mod body;
mod environ;
mod request;

pub use body::BodyReader;
pub use environ::{cgi_variables, CgiVariables, ConnectionInfo, HeaderUse};
pub(crate) use request::is_timeout;
pub use request::{
    body_framing, expects_continue, read_request_head, Framing, Limits, Problem, Refusal,
    RequestError, RequestHead, Version,
};
