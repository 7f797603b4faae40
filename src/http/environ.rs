//! From a parsed HTTP request to the CGI variables of an environ.
//!
//! Stage: **build environ**. In: a [`RequestHead`], its body
//! [`Framing`], and the two ends of the connection. Out: the variables of
//! RFC 3875 §4.1, sorted, plus a note for each header we refused to pass on.
//!
//! The rules, each with its reason:
//!
//! * `PATH_INFO` is the target's path, percent-decoded exactly once by
//!   `crate::percent::decode_path` (RFC 3875 §4.1.5: `/100%25` is `/100%`); a path that is not
//!   UTF-8 once decoded, or holds `%00`, is refused with 400, and `REQUEST_URI` keeps the path
//!   exactly as sent. `QUERY_STRING` stays encoded, as CGI requires (RFC 3875 §4.1.7).
//!   `SCRIPT_NAME` is empty: the application is mounted at `/`.
//! * A `PATH_INFO` starting with `//` is reduced to one `/`, as wsgiref does (gh-87389):
//!   `//evil.com` would otherwise reach an application that may echo it into a `Location:`
//!   header, and a browser reads `//evil.com` as another site. We check after decoding (so
//!   `/%2Fevil.com` is caught; wsgiref checks before) and count `\` as a slash, as browsers do.
//! * An absolute-form target (`GET http://host/path`) contributes its path and query, and its
//!   host becomes `HTTP_HOST` whatever the `Host` header said (RFC 9112 §3.2.2). The request
//!   parser has already refused an authority that would be refused as a `Host` header.
//! * Each header `Foo-Bar` becomes `HTTP_FOO_BAR` (RFC 3875 §4.1.18); repeated headers are joined
//!   with `,` as wsgiref does; `Content-Type` and `Content-Length` become `CONTENT_TYPE` and
//!   `CONTENT_LENGTH` instead, and are present only when the request has them.
//!   `Transfer-Encoding` is not passed on: the server has already decoded the body.
//! * A header name containing `_` is **dropped** (and noted for the log): `X_Forwarded_For` and
//!   `X-Forwarded-For` would both become `HTTP_X_FORWARDED_FOR`, so a client could forge a header
//!   that a proxy in front had set. nginx drops them by default for the same reason.
//! * A `Proxy:` header is dropped: as `HTTP_PROXY` it would look like the `HTTP_PROXY`
//!   environment variable that HTTP client libraries obey, letting a client reroute the
//!   application's outgoing requests ("httpoxy", CVE-2016-5385).
//! * `SERVER_NAME` is the address the client connected to, not a name looked up in DNS
//!   (wsgiref calls `getfqdn()`, which can stall for seconds); `HTTP_HOST` carries the name the
//!   client used. IPv6 addresses are bracketed there, as RFC 3875 §4.1.14 requires.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};

use super::request::{Framing, RequestHead};
use super::Refusal;
use crate::gateway::Status;
use crate::percent::decode_path;

/// The facts about a connection that end up in the environ.
#[derive(Debug, Clone)]
pub struct ConnectionInfo {
    /// Our end: becomes `SERVER_NAME` and `SERVER_PORT`.
    pub local: SocketAddr,
    /// The client's end: becomes `REMOTE_ADDR` and `REMOTE_PORT`.
    pub peer: SocketAddr,
    /// Becomes `SERVER_SOFTWARE`.
    pub server_software: String,
}

/// The CGI variables for one request, and what became of each header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CgiVariables {
    /// The variables, sorted by name.
    pub vars: BTreeMap<String, String>,
    /// One message per request header that was not passed on, for the log.
    pub dropped: Vec<String>,
    /// What became of each request header, in the order of `RequestHead::headers`.
    pub headers: Vec<HeaderUse>,
}

/// What became of one request header (RFC 3875 §4.1.18).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderUse {
    /// It became this variable.
    Variable(String),
    /// An earlier header of the same name made this variable; its value was joined on.
    Joined(String),
    /// It was left out, for this reason.
    Dropped(&'static str),
}

/// Builds the CGI variables for a request. Fails only if the path cannot be decoded.
///
/// ```
/// use rgiref::http::{body_framing, read_request_head, Limits};
/// use rgiref::http::{cgi_variables, ConnectionInfo};
///
/// let head = read_request_head(&mut &b"GET /caf%C3%A9?q=%20 HTTP/1.1\r\nHost: localhost\r\n\r\n"[..], &Limits::default()).unwrap();
/// let connection = ConnectionInfo {
///     local: "127.0.0.1:8000".parse().unwrap(),
///     peer: "127.0.0.1:54321".parse().unwrap(),
///     server_software: "rgiref/0.1.0".into(),
/// };
/// let cgi = cgi_variables(&head, body_framing(&head).unwrap(), &connection).unwrap();
/// assert_eq!(cgi.vars["PATH_INFO"], "/café");
/// assert_eq!(cgi.vars["QUERY_STRING"], "q=%20");
/// assert_eq!(cgi.vars["HTTP_HOST"], "localhost");
/// assert_eq!(cgi.vars["SERVER_PORT"], "8000");
/// ```
pub fn cgi_variables(
    head: &RequestHead,
    framing: Framing,
    connection: &ConnectionInfo,
) -> Result<CgiVariables, Refusal> {
    let (path, query) = split_target(&head.target);
    let decoded = decode_path(path).map_err(|error| Refusal {
        status: Status::BAD_REQUEST,
        message: format!(
            "bad path in request target {}: {error}",
            crate::log::quote(head.target.as_bytes())
        ),
    })?;
    let path_info = collapse_leading_slashes(decoded);

    let mut vars = BTreeMap::new();
    let mut set = |name: &str, value: String| {
        vars.insert(name.to_owned(), value);
    };
    // RFC 3875 §4.1, in the order the RFC lists them.
    set("GATEWAY_INTERFACE", "CGI/1.1".to_owned());
    set("PATH_INFO", path_info);
    set("QUERY_STRING", query.to_owned());
    set(
        "REMOTE_ADDR",
        connection.peer.ip().to_canonical().to_string(),
    );
    set("REQUEST_METHOD", head.method.clone());
    set("SCRIPT_NAME", String::new());
    set("SERVER_NAME", server_name(&connection.local));
    set("SERVER_PORT", connection.local.port().to_string());
    set("SERVER_PROTOCOL", head.version.to_string());
    set("SERVER_SOFTWARE", connection.server_software.clone());
    // Not in RFC 3875, but set by Apache, nginx and lighttpd alike, and useful to see.
    set("REMOTE_PORT", connection.peer.port().to_string());
    set("REQUEST_URI", head.target.clone());
    if let (Framing::Length(length), true) = (framing, head.has_header("Content-Length")) {
        set("CONTENT_LENGTH", length.to_string());
    }

    let headers = add_header_variables(&mut vars, head);
    let dropped = dropped_notes(head, &headers);
    if let Some((authority, _)) = split_absolute_form(&head.target) {
        // RFC 9112 §3.2.2: with an absolute-form target, the server MUST ignore Host and use
        // the target's authority, so the two can never disagree about which site was asked for.
        vars.insert("HTTP_HOST".to_owned(), authority.to_owned());
    }
    Ok(CgiVariables {
        vars,
        dropped,
        headers,
    })
}

/// Why a header name with `_` is left out (see the module docs).
const UNDERSCORE: &str = "a name with \"_\" could pass for the header with \"-\" in the environ";
/// Why `Proxy` is left out (see the module docs).
const HTTPOXY: &str =
    "as HTTP_PROXY it would redirect the application's own HTTP requests (httpoxy)";

/// Adds `HTTP_*` (and `CONTENT_TYPE`) for the request headers; returns what became of each.
fn add_header_variables(vars: &mut BTreeMap<String, String>, head: &RequestHead) -> Vec<HeaderUse> {
    let mut uses = Vec::with_capacity(head.headers.len());
    for (name, value) in &head.headers {
        let key = match environ_key(name) {
            Ok(key) => key,
            Err(why) => {
                uses.push(HeaderUse::Dropped(why));
                continue;
            }
        };
        if key == "CONTENT_LENGTH" {
            // Already set from the checked framing (and absent for a chunked body).
            uses.push(HeaderUse::Variable(key));
            continue;
        }
        match vars.get_mut(&key) {
            Some(joined) => {
                joined.push(',');
                joined.push_str(value);
                uses.push(HeaderUse::Joined(key));
            }
            None => {
                vars.insert(key.clone(), value.clone());
                uses.push(HeaderUse::Variable(key));
            }
        }
    }
    uses
}

/// The environ variable for the header `name`, or why it gets none.
fn environ_key(name: &str) -> Result<String, &'static str> {
    if name.contains('_') {
        return Err(UNDERSCORE);
    }
    let key = http_variable_name(name);
    match key.as_str() {
        "HTTP_CONTENT_LENGTH" => Ok("CONTENT_LENGTH".to_owned()),
        "HTTP_CONTENT_TYPE" => Ok("CONTENT_TYPE".to_owned()),
        // The body the application reads is already decoded; passing "chunked" on would
        // invite it to decode a second time. (RFC 3875 §4.1.18 lets a server leave out
        // headers that concern only the connection.)
        "HTTP_TRANSFER_ENCODING" => {
            Err("the server has decoded the body; the application must not decode it again")
        }
        "HTTP_PROXY" => Err(HTTPOXY),
        _ => Ok(key),
    }
}

/// The log's notes about left-out headers: the two a client may be using to trick an
/// application (the `_` twin and httpoxy). Leaving out `Transfer-Encoding` is routine.
fn dropped_notes(head: &RequestHead, uses: &[HeaderUse]) -> Vec<String> {
    head.headers
        .iter()
        .zip(uses)
        .filter_map(|((name, _), used)| match used {
            HeaderUse::Dropped(why) if *why == UNDERSCORE || *why == HTTPOXY => {
                Some(format!("dropped request header {name:?}: {why}"))
            }
            _ => None,
        })
        .collect()
}

/// The CGI name of a request header (RFC 3875 §4.1.18): `User-Agent` → `HTTP_USER_AGENT`.
fn http_variable_name(header: &str) -> String {
    let mut name = String::with_capacity("HTTP_".len() + header.len());
    name.push_str("HTTP_");
    for c in header.chars() {
        name.push(if c == '-' {
            '_'
        } else {
            c.to_ascii_uppercase()
        });
    }
    name
}

/// Splits a request target into its path and query, both still percent-encoded. An
/// absolute-form target (`http://host:8000/a?b`) gives the path and query after the host, and
/// an empty path there means `/` (RFC 9112 §3.2.2).
fn split_target(target: &str) -> (&str, &str) {
    let (after_host, absolute) = match split_absolute_form(target) {
        Some((_authority, rest)) => (rest, true),
        None => (target, false),
    };
    let (path, query) = after_host.split_once('?').unwrap_or((after_host, ""));
    match (path, absolute) {
        ("", true) => ("/", query),
        _ => (path, query),
    }
}

/// For an absolute-form target, its authority and the rest: `http://host:8000/a?b` →
/// (`host:8000`, `/a?b`). `None` for every other form.
fn split_absolute_form(target: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = target.split_once("://")?;
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return None;
    }
    let host_end = rest.find(['/', '?']).unwrap_or(rest.len());
    Some(rest.split_at(host_end))
}

/// gh-87389: a path that starts with `//` looks like another host to a browser (`//evil.com`
/// is "evil.com, same scheme"), and an application that echoes the path into a `Location:`
/// header becomes an open redirect. So the leading run of slashes is reduced to one — *after*
/// decoding, so `/%2Fevil.com` is caught too, and counting `\` as a slash, as browsers do.
fn collapse_leading_slashes(path: String) -> String {
    let looks_like_a_host =
        path.starts_with('/') && matches!(path.as_bytes().get(1), Some(b'/' | b'\\'));
    if !looks_like_a_host {
        return path;
    }
    format!("/{}", path.trim_start_matches(['/', '\\']))
}

/// `SERVER_NAME`: the local address; an IPv6 one in brackets (RFC 3875 §4.1.14). On a
/// dual-stack listener an IPv4 client arrives as `::ffff:127.0.0.1`, which is shown as the
/// plain IPv4 address it is, as `REMOTE_ADDR` is.
fn server_name(local: &SocketAddr) -> String {
    match local.ip().to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets() {
        assert_eq!(split_target("/a?b=1?c"), ("/a", "b=1?c"));
        assert_eq!(split_target("/a//b"), ("/a//b", ""));
        assert_eq!(split_target("http://host:8000/a?b"), ("/a", "b"));
        assert_eq!(split_target("HTTP://host?b"), ("/", "b"));
        assert_eq!(split_target("http://host"), ("/", ""));
        assert_eq!(split_target("*"), ("*", ""));
        assert_eq!(
            http_variable_name("X-Forwarded-For"),
            "HTTP_X_FORWARDED_FOR"
        );
    }

    #[test]
    fn leading_slashes_are_collapsed_after_decoding() {
        let collapse = |p: &str| collapse_leading_slashes(p.to_owned());
        assert_eq!(collapse("//evil.com/x"), "/evil.com/x");
        assert_eq!(collapse("///x"), "/x");
        assert_eq!(collapse("/\\evil.com"), "/evil.com");
        assert_eq!(collapse("/\\/\\x"), "/x");
        assert_eq!(collapse("/a//b"), "/a//b");
        assert_eq!(collapse("/"), "/");
        assert_eq!(collapse(""), "");
        assert_eq!(collapse("*"), "*");
    }
}
