//! The CGI meta-variables a web server hands over, made into an environ's variables.
//!
//! Stage: **build environ**, for every gateway behind a web server: a CGI program gets these
//! variables in its process environment, a FastCGI responder in `PARAMS` records, an SCGI
//! server in a netstring. However they travel, they are the same variables (RFC 3875 §4.1),
//! and this file turns them into the environ the same way for all three.
//!
//! Interface: [`environ_variables`] takes the `(name, value)` pairs as bytes, exactly as they
//! arrived, and gives back [`Variables`]: the environ's variables and URL scheme, and a note
//! for each variable left out on purpose. It refuses (with the status to answer) only what
//! would make the request impossible to describe truthfully.
//!
//! The rules, each with its reason:
//!
//! * **Only request variables get in.** The RFC 3875 §4.1 names, every `HTTP_*` request header,
//!   and the few extras every front end sets (`HTTPS`, `REQUEST_URI`, `REMOTE_PORT`, …, listed
//!   in [`EXTRA_NAMES`]). Anything else — above all a CGI program's own process environment
//!   (`PATH`, `HOME`, secrets) — stays out: wsgiref's `CGIHandler` copies all of `os.environ`
//!   into every request, and its demo page shows it (bpo-7250).
//! * **`HTTP_PROXY` never gets in** ("httpoxy", CVE-2016-5385): it comes from a client's
//!   `Proxy:` header, which front ends pass on, and HTTP client libraries in the application
//!   would take it for the `HTTP_PROXY` setting and send their requests through the client's
//!   machine.
//! * **The byte rule** of `src/gateway/environ.rs`: `PATH_INFO` and `SCRIPT_NAME` (decoded once
//!   already, by the web server) must be UTF-8, or the request gets a 400; every other value is
//!   UTF-8 text, or Latin-1 when it is not. A missing `PATH_INFO` or `SCRIPT_NAME` is `""`
//!   (PEP 3333: they may be empty, not absent).
//! * **`CONTENT_LENGTH` is digits or absent.** nginx sends it empty for a chunked upload it
//!   streams through (`fastcgi_request_buffering off`): that means "no length", and the body is
//!   whatever arrives. Anything else that is not a number gets a 400.
//! * **`SERVER_NAME` is never empty** (PEP 3333): nginx sends an empty one from a `server`
//!   block without `server_name`; it is then filled from `HTTP_HOST`, or `SERVER_ADDR`.
//! * **`wsgi.url_scheme`** is `https` when `HTTPS` is `on`, `yes` or `1` (any case), as
//!   `wsgiref.util.guess_scheme` decides, and `http` otherwise.

use std::collections::BTreeMap;
use std::fmt;

use crate::gateway::{value_from_bytes, Status};

/// The meta-variables of RFC 3875 §4.1, §4.1.1 to §4.1.17 in the order the RFC lists them.
pub const RFC_3875_NAMES: [&str; 17] = [
    "AUTH_TYPE",
    "CONTENT_LENGTH",
    "CONTENT_TYPE",
    "GATEWAY_INTERFACE",
    "PATH_INFO",
    "PATH_TRANSLATED",
    "QUERY_STRING",
    "REMOTE_ADDR",
    "REMOTE_HOST",
    "REMOTE_IDENT",
    "REMOTE_USER",
    "REQUEST_METHOD",
    "SCRIPT_NAME",
    "SERVER_NAME",
    "SERVER_PORT",
    "SERVER_PROTOCOL",
    "SERVER_SOFTWARE",
];

/// Variables outside RFC 3875 that Apache, nginx and lighttpd all set, and that describe the
/// request (not the server's own configuration).
pub const EXTRA_NAMES: [&str; 7] = [
    "HTTPS",
    "REQUEST_URI",
    "REQUEST_SCHEME",
    "REMOTE_PORT",
    "SERVER_ADDR",
    "DOCUMENT_ROOT",
    "SCRIPT_FILENAME",
];

/// The environ's variables from a web server's meta-variables, and what was left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variables {
    /// The variables, sorted by name.
    pub vars: BTreeMap<String, String>,
    /// `"https"` or `"http"`, from `HTTPS`.
    pub url_scheme: String,
    /// One note per variable left out for a reason worth logging (`HTTP_PROXY`, a name that is
    /// not UTF-8). Names left out only because they are not request variables are not noted:
    /// under CGI that is the whole process environment.
    pub left_out: Vec<String>,
}

/// A request that cannot be described truthfully: the status to answer, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariableError {
    /// 400, for everything here.
    pub status: Status,
    /// What was wrong, naming the variable.
    pub message: String,
}

impl fmt::Display for VariableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.status, self.message)
    }
}

impl std::error::Error for VariableError {}

/// Builds the environ's variables from the meta-variables a web server sent. See the module docs.
///
/// ```
/// use rgiref::cgi::environ_variables;
/// let sent = [
///     ("REQUEST_METHOD", "GET"), ("SCRIPT_NAME", "/app"), ("PATH_INFO", "/a b"),
///     ("HTTPS", "on"), ("HTTP_PROXY", "http://evil.example/"), ("PATH", "/usr/bin"),
/// ];
/// let got = environ_variables(sent.iter().map(|(n, v)| (n.as_bytes(), v.as_bytes()))).unwrap();
/// assert_eq!(got.vars["PATH_INFO"], "/a b");
/// assert_eq!(got.url_scheme, "https");
/// assert!(!got.vars.contains_key("HTTP_PROXY") && !got.vars.contains_key("PATH"));
/// assert_eq!(got.vars["QUERY_STRING"], ""); // missing ones that PEP 3333 wants are ""
/// ```
pub fn environ_variables<'a>(
    sent: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
) -> Result<Variables, VariableError> {
    let mut vars = BTreeMap::new();
    let mut left_out = Vec::new();
    for (name, value) in sent {
        let Ok(name) = std::str::from_utf8(name) else {
            left_out.push(format!(
                "left out a variable whose name is not UTF-8: {:?}",
                String::from_utf8_lossy(name)
            ));
            continue;
        };
        if name == "HTTP_PROXY" {
            left_out.push(
                "left out HTTP_PROXY: it comes from the client's Proxy header, and would \
                 redirect the application's own HTTP requests (httpoxy)"
                    .to_owned(),
            );
            continue;
        }
        if !is_request_variable(name) {
            continue;
        }
        let value = checked_value(name, value)?;
        add_variable(&mut vars, name, value);
    }
    fill_required(&mut vars);
    fill_server_name(&mut vars);
    check_content_length(&mut vars)?;
    let url_scheme = scheme_of(vars.get("HTTPS").map(String::as_str));
    Ok(Variables {
        vars,
        url_scheme,
        left_out,
    })
}

/// Adds one variable. A header the client sent twice may arrive as two `HTTP_*` variables of
/// one name (nginx before 1.23 passes each copy on, over FastCGI and SCGI alike): the copies
/// are joined as HTTP joins a repeated field, with ", " (RFC 9110 §5.3) — `Cookie` with "; ",
/// its own separator (RFC 6265 §5.4) — which is what lighttpd and newer nginx send. Any other
/// name given twice is the web server's configuration speaking twice; the later one wins.
fn add_variable(vars: &mut BTreeMap<String, String>, name: &str, value: String) {
    match vars.get_mut(name) {
        Some(earlier) if name.starts_with("HTTP_") => {
            earlier.push_str(if name == "HTTP_COOKIE" { "; " } else { ", " });
            earlier.push_str(&value);
        }
        _ => {
            vars.insert(name.to_owned(), value);
        }
    }
}

/// True for the names that describe the request (see the module docs).
fn is_request_variable(name: &str) -> bool {
    let header = name
        .strip_prefix("HTTP_")
        .is_some_and(|rest| !rest.is_empty());
    header || RFC_3875_NAMES.contains(&name) || EXTRA_NAMES.contains(&name)
}

/// The value under the byte rule: the two path variables must be UTF-8; the rest are text or
/// Latin-1.
fn checked_value(name: &str, value: &[u8]) -> Result<String, VariableError> {
    if name != "PATH_INFO" && name != "SCRIPT_NAME" {
        return Ok(value_from_bytes(value));
    }
    match std::str::from_utf8(value) {
        Ok(text) => Ok(text.to_owned()),
        Err(_) => Err(VariableError {
            status: Status::BAD_REQUEST,
            message: format!(
                "{name} is not UTF-8 once decoded ({:?}); paths must be text",
                String::from_utf8_lossy(value)
            ),
        }),
    }
}

/// PEP 3333: `SCRIPT_NAME`, `PATH_INFO` and `QUERY_STRING` may be empty but are always there,
/// so an application never has to ask whether they exist.
fn fill_required(vars: &mut BTreeMap<String, String>) {
    for name in ["SCRIPT_NAME", "PATH_INFO", "QUERY_STRING"] {
        vars.entry(name.to_owned()).or_default();
    }
}

/// PEP 3333: `SERVER_NAME` is never empty — applications rebuild URLs from it. nginx sends its
/// `$server_name`, which is empty in a `server` block without a `server_name`; then the name the
/// client asked for (`HTTP_HOST` without its port) is the truest stand-in, and the address the
/// request arrived at (`SERVER_ADDR`) the next.
fn fill_server_name(vars: &mut BTreeMap<String, String>) {
    if vars.get("SERVER_NAME").is_some_and(|name| !name.is_empty()) {
        return;
    }
    let from_host = vars.get("HTTP_HOST").map(|host| host_without_port(host));
    let name = from_host
        .filter(|host| !host.is_empty())
        .or_else(|| vars.get("SERVER_ADDR").cloned())
        .filter(|name| !name.is_empty());
    if let Some(name) = name {
        vars.insert("SERVER_NAME".to_owned(), name);
    }
}

/// `example.org:8080` → `example.org`; `[::1]:8080` → `[::1]`.
fn host_without_port(host: &str) -> String {
    let end = match host.rfind(':') {
        Some(colon) if !host[colon..].contains(']') => colon,
        _ => host.len(),
    };
    host[..end].to_owned()
}

/// An empty `CONTENT_LENGTH` is no length (nginx's streamed chunked upload); anything else must
/// be a whole number (RFC 3875 §4.1.2).
fn check_content_length(vars: &mut BTreeMap<String, String>) -> Result<(), VariableError> {
    let Some(length) = vars.get("CONTENT_LENGTH") else {
        return Ok(());
    };
    if length.is_empty() {
        vars.remove("CONTENT_LENGTH");
        return Ok(());
    }
    let digits = length.bytes().all(|b| b.is_ascii_digit());
    if digits && length.parse::<u64>().is_ok() {
        return Ok(());
    }
    Err(VariableError {
        status: Status::BAD_REQUEST,
        message: format!("CONTENT_LENGTH {length:?} is not a whole number of bytes"),
    })
}

/// `wsgiref.util.guess_scheme`: `HTTPS` of `on`, `yes` or `1` means https.
fn scheme_of(https: Option<&str>) -> String {
    let on = https.is_some_and(|v| ["on", "yes", "1"].iter().any(|w| v.eq_ignore_ascii_case(w)));
    if on { "https" } else { "http" }.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn build(pairs: &[(&[u8], &[u8])]) -> Result<Variables, VariableError> {
        environ_variables(pairs.iter().copied())
    }

    #[test]
    fn the_process_environment_stays_out_and_headers_come_in() {
        let got = build(&[
            (b"HOME", b"/root"),
            (b"SECRET_KEY", b"x"),
            (b"HTTP_USER_AGENT", b"curl"),
            (b"HTTP_", b"no header name"),
            (b"REQUEST_URI", b"/a?b"),
        ])
        .unwrap();
        let names: Vec<&str> = got.vars.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            [
                "HTTP_USER_AGENT",
                "PATH_INFO",
                "QUERY_STRING",
                "REQUEST_URI",
                "SCRIPT_NAME"
            ]
        );
        assert!(got.left_out.is_empty());
    }

    #[test]
    fn a_header_sent_twice_is_joined_as_http_joins_it() {
        let got = build(&[
            (b"HTTP_ACCEPT", b"text/html"),
            (b"HTTP_ACCEPT", b"*/*"),
            (b"HTTP_COOKIE", b"a=1"),
            (b"HTTP_COOKIE", b"b=2"),
            (b"SCRIPT_NAME", b"/first"),
            (b"SCRIPT_NAME", b"/second"),
        ])
        .unwrap();
        assert_eq!(got.vars["HTTP_ACCEPT"], "text/html, */*");
        assert_eq!(got.vars["HTTP_COOKIE"], "a=1; b=2");
        assert_eq!(got.vars["SCRIPT_NAME"], "/second");
    }

    #[test]
    fn httpoxy_is_left_out_and_noted() {
        let got = build(&[(b"HTTP_PROXY", b"http://evil/")]).unwrap();
        assert!(!got.vars.contains_key("HTTP_PROXY"));
        assert!(got.left_out[0].contains("httpoxy"));
    }

    #[test]
    fn the_byte_rule() {
        let got = build(&[(b"PATH_INFO", "/café".as_bytes()), (b"HTTP_X", b"caf\xe9")]).unwrap();
        assert_eq!(got.vars["PATH_INFO"], "/café");
        assert_eq!(got.vars["HTTP_X"], "café");
        let refused = build(&[(b"PATH_INFO", b"/x\xffy")]).unwrap_err();
        assert_eq!(refused.status, Status::BAD_REQUEST);
        assert!(
            refused.message.contains("PATH_INFO is not UTF-8"),
            "{refused}"
        );
        assert!(build(&[(b"SCRIPT_NAME", b"/\xff")]).is_err());
        let odd_name = build(&[(b"HTTP_\xff", b"x")]).unwrap();
        assert!(odd_name.left_out[0].contains("not UTF-8"));
    }

    #[test]
    fn content_length() {
        let empty = build(&[(b"CONTENT_LENGTH", b"")]).unwrap();
        assert!(!empty.vars.contains_key("CONTENT_LENGTH"));
        let ok = build(&[(b"CONTENT_LENGTH", b"42")]).unwrap();
        assert_eq!(ok.vars["CONTENT_LENGTH"], "42");
        for bad in [&b"-1"[..], b"4 2", b"0x10", b"99999999999999999999"] {
            assert!(build(&[(b"CONTENT_LENGTH", bad)]).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn an_empty_server_name_is_filled_from_the_host_the_client_asked_for() {
        let got = |pairs: &[(&[u8], &[u8])]| build(pairs).unwrap().vars.get("SERVER_NAME").cloned();
        assert_eq!(
            got(&[(b"SERVER_NAME", b""), (b"HTTP_HOST", b"example.org:8080")]),
            Some("example.org".into())
        );
        assert_eq!(got(&[(b"HTTP_HOST", b"[::1]:8080")]), Some("[::1]".into()));
        assert_eq!(got(&[(b"HTTP_HOST", b"[::1]")]), Some("[::1]".into()));
        assert_eq!(
            got(&[(b"SERVER_NAME", b""), (b"SERVER_ADDR", b"127.0.0.1")]),
            Some("127.0.0.1".into())
        );
        assert_eq!(
            got(&[(b"SERVER_NAME", b"real"), (b"HTTP_HOST", b"other")]),
            Some("real".into())
        );
        assert_eq!(got(&[]), None);
    }

    #[test]
    fn url_scheme() {
        for on in ["on", "ON", "yes", "1"] {
            let got = build(&[(b"HTTPS", on.as_bytes())]).unwrap();
            assert_eq!(got.url_scheme, "https", "{on}");
        }
        assert_eq!(build(&[(b"HTTPS", b"off")]).unwrap().url_scheme, "http");
        assert_eq!(build(&[]).unwrap().url_scheme, "http");
    }
}
