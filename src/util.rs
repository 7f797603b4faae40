//! Small tools an application uses on its environ: wsgiref's `util` module, plus the form
//! decoding that wsgiref leaves to `urllib.parse`.
//!
//! Stage: **call app**. Everything here is a plain function of an [`Environ`]; none of it is
//! part of the gateway contract, and an application that never calls it loses nothing.
//!
//! Interface:
//! * URLs: [`application_uri`] is where the application is mounted, [`request_uri`] (and
//!   [`request_uri_without_query`]) the URL the client asked for, both rebuilt as PEP 3333's
//!   "URL Reconstruction" says; [`guess_scheme`] reads the `HTTPS` variable.
//! * Routing: [`shift_path_info`] moves one segment of `PATH_INFO` to `SCRIPT_NAME`, which is
//!   how a router hands the rest of the path to an application mounted under a prefix
//!   (`examples/compose.rs` does it).
//! * Tests: [`setup_testing_defaults`] fills in a minimal valid environ without overwriting
//!   anything already set.
//! * Forms: [`query`] decodes `QUERY_STRING`, [`read_form`] a request body sent as
//!   `application/x-www-form-urlencoded`; both give a [`Form`], which keeps repeated names in
//!   order. A malformed form is a [`FormError`] that names the field and quotes it.
//!
//! | wsgiref                                   | here                                              |
//! |-------------------------------------------|---------------------------------------------------|
//! | `util.guess_scheme(environ)`              | [`guess_scheme`]                                  |
//! | `util.application_uri(environ)`           | [`application_uri`]                               |
//! | `util.request_uri(environ, include_query)`| [`request_uri`], [`request_uri_without_query`]    |
//! | `util.shift_path_info(environ)`           | [`shift_path_info`]                               |
//! | `util.setup_testing_defaults(environ)`    | [`setup_testing_defaults`]                        |
//! | `util.FileWrapper(file, size)`            | `Body::file`, `Body::from_reader` (in `gateway`)  |
//! | `util.is_hop_by_hop(name)`                | `gateway::is_hop_by_hop`: it lives in the interface, because `start` uses it to refuse those headers |
//! | `urllib.parse.parse_qsl(query)`           | [`query`], [`read_form`], [`Form::parse`]         |
//!
//! Where this differs from wsgiref: URLs are rebuilt from UTF-8 text (an environ value here
//! is text, not Latin-1 bytes in disguise, so `é` becomes `%C3%A9`, not `%E9`); a leading `//`
//! in `SCRIPT_NAME` is not kept as POSIX paths keep it; and a bad percent-escape in a form is
//! an error, where `urllib.parse` passes it through as text.
//! Left out, candidly: `multipart/form-data` (file uploads), which needs a MIME parser.

use std::collections::BTreeMap;
use std::error::Error;
use std::fmt;
use std::io::{self, Read};

use crate::gateway::{Environ, InputError, Status};
use crate::percent::{decode_bytes, PercentError};

/// `"https"` if the `HTTPS` variable is `on`, `yes` or `1` (how Apache and the CGI servers that
/// copy it say the request came over TLS), `"http"` otherwise. This is wsgiref's guess, except
/// that any case counts (`ON`), as it does for the CGI gateway's `url_scheme`; the server's own
/// answer is [`Environ::url_scheme`].
///
/// ```
/// use rgiref::gateway::Environ;
/// use rgiref::util::guess_scheme;
/// let mut environ = Environ::default();
/// assert_eq!(guess_scheme(&environ), "http");
/// environ.vars.insert("HTTPS".into(), "on".into());
/// assert_eq!(guess_scheme(&environ), "https");
/// ```
pub fn guess_scheme(environ: &Environ) -> &'static str {
    let on = |value: &str| {
        ["on", "yes", "1"]
            .iter()
            .any(|w| value.eq_ignore_ascii_case(w))
    };
    match environ.get("HTTPS") {
        Some(value) if on(value) => "https",
        _ => "http",
    }
}

/// The URL the application is mounted at: scheme, host ([`Environ::host`]) and `SCRIPT_NAME`
/// (or `/`), percent-encoded; no `PATH_INFO`, no query.
///
/// ```
/// use rgiref::gateway::Environ;
/// use rgiref::util::{application_uri, setup_testing_defaults};
/// let mut environ = Environ::default();
/// setup_testing_defaults(&mut environ);
/// assert_eq!(application_uri(&environ), "http://127.0.0.1/");
/// environ.vars.insert("SCRIPT_NAME".into(), "/my app".into());
/// assert_eq!(application_uri(&environ), "http://127.0.0.1/my%20app");
/// ```
pub fn application_uri(environ: &Environ) -> String {
    let script_name = match environ.script_name() {
        "" => "/",
        name => name,
    };
    format!(
        "{}://{}{}",
        environ.url_scheme,
        environ.host(),
        quote(script_name, b"/")
    )
}

/// The URL the client asked for: [`application_uri`], then `PATH_INFO` percent-encoded again
/// (it arrives decoded), then `?` and `QUERY_STRING` (which arrives encoded) if there is one.
///
/// ```
/// use rgiref::gateway::Environ;
/// use rgiref::util::{request_uri, request_uri_without_query, setup_testing_defaults};
/// let mut environ = Environ::default();
/// environ.vars.insert("SCRIPT_NAME".into(), "/shop".into());
/// environ.vars.insert("PATH_INFO".into(), "/café/100%".into());
/// environ.vars.insert("QUERY_STRING".into(), "q=a+b".into());
/// setup_testing_defaults(&mut environ);
/// assert_eq!(request_uri(&environ), "http://127.0.0.1/shop/caf%C3%A9/100%25?q=a+b");
/// assert_eq!(request_uri_without_query(&environ), "http://127.0.0.1/shop/caf%C3%A9/100%25");
/// ```
pub fn request_uri(environ: &Environ) -> String {
    let mut url = request_uri_without_query(environ);
    let query = environ.query_string();
    if !query.is_empty() {
        url.push('?');
        url.push_str(query);
    }
    url
}

/// [`request_uri`] without the query (wsgiref's `request_uri(environ, include_query=False)`).
///
/// ```
/// use rgiref::gateway::Environ;
/// use rgiref::util::{request_uri_without_query, setup_testing_defaults};
/// let mut environ = Environ::default();
/// environ.vars.insert("PATH_INFO".into(), "/spam;ham".into());
/// environ.vars.insert("QUERY_STRING".into(), "say=ni".into());
/// setup_testing_defaults(&mut environ);
/// assert_eq!(request_uri_without_query(&environ), "http://127.0.0.1/spam;ham");
/// ```
pub fn request_uri_without_query(environ: &Environ) -> String {
    let mut url = application_uri(environ);
    // `;`, `=` and `,` are left as they are, as wsgiref leaves them: they are legal in a path
    // segment (RFC 3986 §3.3), and some applications give them meaning (`/spam;ham`).
    let path = quote(environ.path_info(), b"/;=,");
    if environ.script_name().is_empty() {
        // `application_uri` ended with the `/` that stands for an empty SCRIPT_NAME.
        url.push_str(path.strip_prefix('/').unwrap_or(&path));
    } else {
        url.push_str(&path);
    }
    url
}

/// Percent-encodes `text` as Python's `urllib.parse.quote(text, safe)` does: letters, digits,
/// `_.-~` and the bytes in `safe` stay, every other byte of its UTF-8 becomes `%XX`.
fn quote(text: &str, safe: &[u8]) -> String {
    let mut quoted = String::with_capacity(text.len());
    for &byte in text.as_bytes() {
        if byte.is_ascii_alphanumeric() || b"_.-~".contains(&byte) || safe.contains(&byte) {
            quoted.push(char::from(byte));
        } else {
            quoted.push_str(&format!("%{byte:02X}"));
        }
    }
    quoted
}

/// Moves the first segment of `PATH_INFO` to the end of `SCRIPT_NAME` and returns it: how a
/// router mounts an application under a prefix. `None` if `PATH_INFO` is empty (nothing to
/// shift) — or does not start with `/`, which no valid environ has.
///
/// This is wsgiref's `shift_path_info`, edge cases and all:
/// * empty segments and `.` are skipped (`//x` and `/./x` shift `x`), and `..` removes the
///   last segment of `SCRIPT_NAME`;
/// * the last segment is never skipped, so a trailing slash stays visible: `/x` leaves
///   `PATH_INFO` empty, `/x/` leaves `/`;
/// * `PATH_INFO` of just `/` shifts the empty name, and `SCRIPT_NAME` gets the trailing `/`,
///   so an application can tell `/app` from `/app/`.
///
/// ```
/// use rgiref::gateway::Environ;
/// use rgiref::util::shift_path_info;
/// let mut environ = Environ::default();
/// environ.vars.insert("SCRIPT_NAME".into(), "/a".into());
/// environ.vars.insert("PATH_INFO".into(), "/x/y".into());
/// assert_eq!(shift_path_info(&mut environ).as_deref(), Some("x"));
/// assert_eq!((environ.script_name(), environ.path_info()), ("/a/x", "/y"));
/// assert_eq!(shift_path_info(&mut environ).as_deref(), Some("y"));
/// assert_eq!((environ.script_name(), environ.path_info()), ("/a/x/y", ""));
/// assert_eq!(shift_path_info(&mut environ), None);
/// ```
pub fn shift_path_info(environ: &mut Environ) -> Option<String> {
    let path_info = environ.path_info();
    if !path_info.starts_with('/') {
        return None;
    }
    let mut segments: Vec<&str> = path_info.split('/').collect();
    // Keep the first (empty, before the leading `/`) and the last segment as they are; drop
    // the empty and `.` ones between them.
    let last = segments.pop().unwrap_or("");
    let mut kept: Vec<&str> = vec![segments[0]];
    kept.extend(segments[1..].iter().filter(|s| !s.is_empty() && **s != "."));
    kept.push(last);
    let name = kept.remove(1).to_owned();
    let new_path_info = kept.join("/");

    let mut script_name = normalize(&format!("{}/{name}", environ.script_name()));
    if script_name.ends_with('/') {
        script_name.pop();
    }
    if name.is_empty() && !script_name.ends_with('/') {
        script_name.push('/');
    }
    environ.vars.insert("SCRIPT_NAME".to_owned(), script_name);
    environ.vars.insert("PATH_INFO".to_owned(), new_path_info);
    // `/.` leaves `.` as the last segment, which is never skipped above; it names nothing.
    (name != ".").then_some(name)
}

/// Python's `posixpath.normpath`: drops empty and `.` segments, lets `..` remove the segment
/// before it. Unlike POSIX, a leading `//` becomes `/`: POSIX keeps it for file systems that
/// give it a meaning, and a URL path has no such thing.
fn normalize(path: &str) -> String {
    let absolute = path.starts_with('/');
    let mut kept: Vec<&str> = Vec::new();
    for segment in path.split('/') {
        match segment {
            "" | "." => {}
            ".." if kept.last().is_some_and(|last| *last != "..") => {
                kept.pop();
            }
            ".." if absolute => {} // nothing is above the root
            other => kept.push(other),
        }
    }
    let joined = kept.join("/");
    match (absolute, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_owned(),
        (false, false) => joined,
    }
}

/// Fills in what a minimal valid environ needs, for tests of applications and middleware —
/// never replacing a variable that is already set. Do not use it in a server: the values
/// are made up.
///
/// It sets `SERVER_NAME` (`127.0.0.1`), `SERVER_PROTOCOL` (`HTTP/1.0`), `HTTP_HOST` (the
/// server name), `REQUEST_METHOD` (`GET`), `SCRIPT_NAME` and `PATH_INFO` (`""` and `/`, only
/// if neither is set) and `SERVER_PORT` (`80`, or `443` for `https`). The `wsgi.*` entries of
/// wsgiref are typed fields of [`Environ`] here, always present; the one it may change is
/// [`Environ::url_scheme`], from the default `http` to what [`guess_scheme`] says.
///
/// ```
/// use rgiref::gateway::Environ;
/// use rgiref::util::setup_testing_defaults;
/// let mut environ = Environ::default();
/// environ.vars.insert("PATH_INFO".into(), "/kept".into());
/// setup_testing_defaults(&mut environ);
/// assert_eq!(environ.path_info(), "/kept");
/// assert_eq!(environ.method(), "GET");
/// assert_eq!(environ.get("SERVER_PORT"), Some("80"));
/// ```
pub fn setup_testing_defaults(environ: &mut Environ) {
    let vars = &mut environ.vars;
    set_default(vars, "SERVER_NAME", "127.0.0.1");
    set_default(vars, "SERVER_PROTOCOL", "HTTP/1.0");
    let server_name = vars.get("SERVER_NAME").cloned().unwrap_or_default();
    set_default(vars, "HTTP_HOST", &server_name);
    set_default(vars, "REQUEST_METHOD", "GET");
    if !vars.contains_key("SCRIPT_NAME") && !vars.contains_key("PATH_INFO") {
        set_default(vars, "SCRIPT_NAME", "");
        set_default(vars, "PATH_INFO", "/");
    }
    if environ.url_scheme == "http" {
        environ.url_scheme = guess_scheme(environ).to_owned();
    }
    let port = if environ.url_scheme == "https" {
        "443"
    } else {
        "80"
    };
    set_default(&mut environ.vars, "SERVER_PORT", port);
}

fn set_default(vars: &mut BTreeMap<String, String>, name: &str, value: &str) {
    vars.entry(name.to_owned())
        .or_insert_with(|| value.to_owned());
}

/// Decoded form fields, in the order they were sent; a name may repeat (`?tag=a&tag=b`).
///
/// ```
/// use rgiref::util::Form;
/// let form = Form::parse("name=Ada+Lovelace&tag=math&tag=%E2%9C%93&empty=&flag").unwrap();
/// assert_eq!(form.get("name"), Some("Ada Lovelace"));
/// assert_eq!(form.get_all("tag"), ["math", "✓"]);
/// assert_eq!((form.get("empty"), form.get("flag")), (Some(""), Some("")));
/// assert_eq!(form.get("missing"), None);
/// assert_eq!(form.len(), 5);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Form {
    pairs: Vec<(String, String)>,
}

impl Form {
    /// Decodes `application/x-www-form-urlencoded` text (the WHATWG URL standard's
    /// "urlencoded parser"): fields are separated by `&` (empty ones skipped), a name from
    /// its value by the first `=` (a field without one has the value `""`), `+` is a space,
    /// and `%XX` is the byte `XX`. The decoded bytes must be UTF-8.
    ///
    /// ```
    /// use rgiref::util::{Form, FormError};
    /// assert_eq!(Form::parse("a=1%2B1").unwrap().get("a"), Some("1+1"));
    /// let error = Form::parse("a=100%").unwrap_err();
    /// assert!(matches!(error, FormError::BadEscape { .. }));
    /// assert_eq!(error.to_string(), "bad form field \"a=100%\": \"%\" is not a percent-escape (a % must be followed by two hex digits)");
    /// ```
    pub fn parse(encoded: &str) -> Result<Form, FormError> {
        let mut pairs = Vec::new();
        for field in encoded.split('&').filter(|field| !field.is_empty()) {
            let (name, value) = field.split_once('=').unwrap_or((field, ""));
            pairs.push((decode_part(name, field)?, decode_part(value, field)?));
        }
        Ok(Form { pairs })
    }

    /// The first value of `name`, if the form has it.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, in order; empty if there is none.
    pub fn get_all(&self, name: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Every `(name, value)`, in the order they were sent.
    pub fn pairs(&self) -> &[(String, String)] {
        &self.pairs
    }

    /// How many fields there are, repeats included.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// True if there are no fields.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }
}

impl IntoIterator for Form {
    type Item = (String, String);
    type IntoIter = std::vec::IntoIter<(String, String)>;

    fn into_iter(self) -> Self::IntoIter {
        self.pairs.into_iter()
    }
}

/// One name or value of `field`: `+` is a space, then every `%XX` is decoded. Splitting on
/// `+` first keeps `%2B` a plus sign, and lets an error quote exactly what was sent.
fn decode_part(encoded: &str, field: &str) -> Result<String, FormError> {
    let mut bytes = Vec::with_capacity(encoded.len());
    for (i, piece) in encoded.split('+').enumerate() {
        if i > 0 {
            bytes.push(b' ');
        }
        let decoded = decode_bytes(piece).map_err(|error| match error {
            PercentError::BadEscape(escape) => FormError::BadEscape {
                field: field.to_owned(),
                escape,
            },
            // `decode_bytes` refuses only bad escapes (a NUL is data in a form, and whether
            // the bytes are UTF-8 is checked below, for the whole value).
            PercentError::Nul | PercentError::NotUtf8(_) => FormError::NotUtf8 {
                field: field.to_owned(),
            },
        })?;
        bytes.extend_from_slice(&decoded);
    }
    String::from_utf8(bytes).map_err(|_| FormError::NotUtf8 {
        field: field.to_owned(),
    })
}

/// The query string as a [`Form`]: `?q=rust+web&page=2`.
///
/// A malformed query is the client's mistake; to answer it with 400 rather than 500, convert
/// the error into an [`InputError`] before returning it:
///
/// ```
/// use rgiref::gateway::{AppError, Body, Environ, InputError, StartResponse};
/// use rgiref::util::query;
///
/// fn search(environ: &mut Environ, start_response: &mut StartResponse) -> Result<Body, AppError> {
///     let query = query(environ).map_err(InputError::from)?;
///     let words = query.get("q").unwrap_or("");
///     start_response.start("200 OK", [("Content-Type", "text/plain; charset=utf-8")])?;
///     Ok(Body::from(format!("you searched for {words:?}\n")))
/// }
/// # let _ = search;
/// ```
pub fn query(environ: &Environ) -> Result<Form, FormError> {
    Form::parse(environ.query_string())
}

/// Reads the request body as an `application/x-www-form-urlencoded` form (what an HTML
/// `<form method="post">` sends), at most `limit` bytes of it.
///
/// Every way the client can get this wrong — another `Content-Type` (415), a body over the
/// limit (413), a malformed field (400) — comes back as an `io::Error` carrying an
/// [`InputError`] with that status, like any other failed read of the body: return it with
/// `?` and the client gets that status, not a 500.
///
/// ```
/// use rgiref::gateway::{AppError, Body, Environ, StartResponse};
/// use rgiref::util::read_form;
///
/// fn sign_up(environ: &mut Environ, start_response: &mut StartResponse) -> Result<Body, AppError> {
///     let form = read_form(environ, 64 * 1024)?;
///     let name = form.get("name").unwrap_or("stranger");
///     start_response.start("200 OK", [("Content-Type", "text/plain; charset=utf-8")])?;
///     Ok(Body::from(format!("welcome, {name}\n")))
/// }
/// # let _ = sign_up;
/// ```
pub fn read_form(environ: &mut Environ, limit: u64) -> io::Result<Form> {
    let content_type = environ.header("Content-Type").unwrap_or("");
    if !is_urlencoded(content_type) {
        let content_type = content_type.to_owned();
        return Err(client_error(FormError::NotUrlEncoded { content_type }));
    }
    if environ
        .content_length()
        .is_some_and(|length| length > limit)
    {
        return Err(client_error(FormError::TooLarge { limit }));
    }
    let mut body = Vec::new();
    // One byte more than the limit tells "exactly at the limit" from "over it".
    Read::take(&mut environ.input, limit.saturating_add(1)).read_to_end(&mut body)?;
    if body.len() as u64 > limit {
        return Err(client_error(FormError::TooLarge { limit }));
    }
    let text = String::from_utf8(body).map_err(|error| {
        let field = String::from_utf8_lossy(error.as_bytes()).into_owned();
        client_error(FormError::NotUtf8 { field })
    })?;
    Form::parse(&text).map_err(client_error)
}

/// True for `application/x-www-form-urlencoded`, with or without parameters (`; charset=…`,
/// which cannot change anything: the format is ASCII, and decodes to UTF-8).
fn is_urlencoded(content_type: &str) -> bool {
    let media_type = content_type.split(';').next().unwrap_or("").trim();
    media_type.eq_ignore_ascii_case("application/x-www-form-urlencoded")
}

fn client_error(error: FormError) -> io::Error {
    InputError::from(error).into_io(io::ErrorKind::InvalidData)
}

/// What was wrong with a form. Each is the client's doing, and [`FormError::status`] says
/// how to answer it; `InputError::from` makes it an error the server answers that way.
///
/// ```
/// use rgiref::util::{Form, FormError};
/// assert_eq!(
///     Form::parse("name=%C3").unwrap_err(),
///     FormError::NotUtf8 { field: "name=%C3".into() }
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FormError {
    /// A `%` not followed by two hex digits.
    BadEscape {
        /// The whole field, as sent.
        field: String,
        /// The text from the `%` on (at most three characters).
        escape: String,
    },
    /// A field whose decoded bytes are not UTF-8 (or a body that is not).
    NotUtf8 {
        /// The field, as sent.
        field: String,
    },
    /// A body longer than the limit given to [`read_form`].
    TooLarge {
        /// The limit, in bytes.
        limit: u64,
    },
    /// A body that is not `application/x-www-form-urlencoded`.
    NotUrlEncoded {
        /// The request's `Content-Type`, `""` if it had none.
        content_type: String,
    },
}

impl FormError {
    /// The status that answers this error: 400, or 413 for a form over the limit, or 415
    /// for a body that is not a form.
    ///
    /// ```
    /// use rgiref::gateway::{InputError, Status};
    /// use rgiref::util::Form;
    /// let error = Form::parse("q=%zz").unwrap_err();
    /// assert_eq!(error.status(), Status::BAD_REQUEST);
    /// assert_eq!(InputError::from(error).status, Status::BAD_REQUEST);
    /// ```
    pub fn status(&self) -> Status {
        match self {
            FormError::BadEscape { .. } | FormError::NotUtf8 { .. } => Status::BAD_REQUEST,
            FormError::TooLarge { .. } => Status::CONTENT_TOO_LARGE,
            FormError::NotUrlEncoded { .. } => Status::UNSUPPORTED_MEDIA_TYPE,
        }
    }
}

impl fmt::Display for FormError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FormError::BadEscape { field, escape } => write!(
                f,
                "bad form field {field:?}: {escape:?} is not a percent-escape \
                 (a % must be followed by two hex digits)"
            ),
            FormError::NotUtf8 { field } => write!(
                f,
                "bad form field {field:?}: it decodes to bytes that are not UTF-8"
            ),
            FormError::TooLarge { limit } => {
                write!(f, "the form is larger than the {limit} bytes accepted")
            }
            FormError::NotUrlEncoded { content_type } if content_type.is_empty() => write!(
                f,
                "the request body has no Content-Type; a form is application/x-www-form-urlencoded"
            ),
            FormError::NotUrlEncoded { content_type } => write!(
                f,
                "the request body is {content_type:?}, not application/x-www-form-urlencoded"
            ),
        }
    }
}

impl Error for FormError {}

impl From<FormError> for InputError {
    /// The client's mistake, with the status that answers it.
    fn from(error: FormError) -> InputError {
        InputError::new(error.status(), error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::Input;

    #[test]
    fn normalize_is_posix_normpath_without_the_double_slash() {
        assert_eq!(normalize("/a/b/.."), "/a");
        assert_eq!(normalize("/.."), "/");
        assert_eq!(normalize("//x"), "/x");
        assert_eq!(normalize("a/../.."), "..");
        assert_eq!(normalize("a/."), "a");
        assert_eq!(normalize(""), ".");
    }

    #[test]
    fn a_path_info_without_a_leading_slash_shifts_nothing() {
        let mut environ = Environ::default();
        environ.vars.insert("PATH_INFO".into(), "x/y".into());
        assert_eq!(shift_path_info(&mut environ), None);
        assert_eq!(environ.path_info(), "x/y");
    }

    #[test]
    fn form_decoding_edges() {
        let form = Form::parse("&&a=b=c&%3D=%26&+=+").unwrap();
        assert_eq!(
            form.pairs(),
            [
                ("a".to_owned(), "b=c".to_owned()),
                ("=".to_owned(), "&".to_owned()),
                (" ".to_owned(), " ".to_owned()),
            ]
        );
        assert!(matches!(
            Form::parse("x=%FF"),
            Err(FormError::NotUtf8 { .. })
        ));
        assert!(matches!(
            Form::parse("x=%+1"),
            Err(FormError::BadEscape { escape, .. }) if escape == "%"
        ));
    }

    fn form_environ(content_type: &str, body: &'static [u8]) -> Environ {
        let mut environ = Environ {
            input: Input::new(body),
            ..Environ::default()
        };
        environ
            .vars
            .insert("CONTENT_TYPE".into(), content_type.into());
        environ
    }

    fn status_of(error: &io::Error) -> Option<u16> {
        InputError::find(error).map(|input| input.status.code)
    }

    #[test]
    fn read_form_answers_each_client_mistake_with_its_status() {
        let form_type = "application/x-www-form-urlencoded; charset=UTF-8";
        let mut ok = form_environ(form_type, b"a=1&a=2");
        assert_eq!(read_form(&mut ok, 7).unwrap().get_all("a"), ["1", "2"]);
        let mut big = form_environ(form_type, b"a=12345");
        assert_eq!(status_of(&read_form(&mut big, 6).unwrap_err()), Some(413));
        let mut json = form_environ("application/json", b"{}");
        assert_eq!(status_of(&read_form(&mut json, 99).unwrap_err()), Some(415));
        let mut bad = form_environ(form_type, b"a=%zz");
        let error = read_form(&mut bad, 99).unwrap_err();
        assert_eq!(status_of(&error), Some(400));
        assert!(error.to_string().contains("\"%zz\""), "{error}");
    }
}
