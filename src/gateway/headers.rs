//! Response headers as a value you can build up and query: wsgiref's `headers.Headers`.
//!
//! Stage: **call app** — an application (or a middleware) builds its headers here, then hands
//! them to `start`, which takes a [`Headers`] like any other header list.
//!
//! Interface:
//! * A [`Headers`] is an ordered list of `(name, value)` pairs. Lookups ignore the case of the
//!   name; order and repeats are kept (`Set-Cookie` is sent once per cookie).
//! * [`Headers::set`] replaces every header of that name, [`Headers::append`] adds one more,
//!   [`Headers::setdefault`] adds one only if the name is absent, [`Headers::remove`] removes
//!   them all; [`Headers::add_header`] adds one with parameters (`attachment;
//!   filename="x.txt"`).
//! * Everything that adds checks as it adds, with the rules `start` applies: the name must be
//!   a token and the value must not hold a control character (tab is allowed). So a header
//!   with `\r\n` in it is refused here, with a [`HeaderError`] that says which — CPython's
//!   wsgiref refuses control characters too, since its header-injection fixes.
//! * `headers.to_string()` is the wire form, each header on its line and an empty line after
//!   (wsgiref's `str(headers)`). The server writes the real head; this is for looking at.
//!
//! What `Headers` does not check is what depends on the response as a whole (a hop-by-hop
//! header, a `Status` header, two `Content-Length`s): `start` refuses those.

use std::error::Error;
use std::fmt;

use super::rules::{is_forbidden_in_value, is_token};
use super::IntoHeaders;

/// An ordered, case-insensitive list of response headers. See the module docs.
///
/// ```
/// use rgiref::gateway::Headers;
/// let mut headers = Headers::new();
/// headers.set("Content-Type", "text/plain")?;
/// headers.append("Set-Cookie", "a=1")?;
/// headers.append("set-cookie", "b=2")?;
/// assert_eq!(headers.get("content-type"), Some("text/plain"));
/// assert_eq!(headers.get_all("Set-Cookie"), ["a=1", "b=2"]);
/// assert_eq!(headers.to_string(), "Content-Type: text/plain\r\nSet-Cookie: a=1\r\nset-cookie: b=2\r\n\r\n");
/// assert!(headers.set("X-Evil", "a\r\nInjected: yes").is_err());
/// # Ok::<(), rgiref::gateway::HeaderError>(())
/// ```
///
/// `start` takes it as it is:
///
/// ```
/// use rgiref::gateway::{AppError, Body, Environ, Headers, StartResponse};
/// fn download(_: &mut Environ, start_response: &mut StartResponse) -> Result<Body, AppError> {
///     let mut headers = Headers::new();
///     headers.set("Content-Type", "text/csv")?;
///     headers.add_header("Content-Disposition", "attachment", &[("filename", Some("report.csv"))])?;
///     start_response.start("200 OK", headers)?;
///     Ok(Body::from("a,b\n1,2\n"))
/// }
/// # let _ = download;
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers {
    list: Vec<(String, String)>,
}

impl Headers {
    /// No headers.
    pub fn new() -> Headers {
        Headers::default()
    }

    /// Headers from a list of pairs, each checked (wsgiref's `Headers(list)`).
    ///
    /// ```
    /// use rgiref::gateway::Headers;
    /// let headers = Headers::from_pairs([("X", "y")]).unwrap();
    /// assert_eq!(headers.len(), 1);
    /// assert!(Headers::from_pairs([("Bad Name", "y")]).is_err());
    /// ```
    pub fn from_pairs(pairs: impl IntoHeaders) -> Result<Headers, HeaderError> {
        let list = pairs.into_headers();
        for (name, value) in &list {
            check(name, value)?;
        }
        Ok(Headers { list })
    }

    /// How many headers there are, repeats included.
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// True if there are none.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// The value of the first header called `name` (any case). wsgiref's `headers[name]`,
    /// which also gives `None` for a missing header.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.list
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// Every value of the headers called `name`, in order; empty if there are none.
    pub fn get_all(&self, name: &str) -> Vec<&str> {
        self.list
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// True if there is a header called `name` (wsgiref's `name in headers`).
    pub fn contains(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// Replaces every header called `name` with this one, added at the end (wsgiref's
    /// `headers[name] = value`).
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), HeaderError> {
        check(name, value)?;
        self.remove(name);
        self.list.push((name.to_owned(), value.to_owned()));
        Ok(())
    }

    /// Adds a header, keeping any others of the same name.
    pub fn append(&mut self, name: &str, value: &str) -> Result<(), HeaderError> {
        check(name, value)?;
        self.list.push((name.to_owned(), value.to_owned()));
        Ok(())
    }

    /// Removes every header called `name`; nothing happens if there is none (wsgiref's
    /// `del headers[name]`).
    pub fn remove(&mut self, name: &str) {
        self.list.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    /// The first value of `name`; if there is none, adds the header with `value` and returns
    /// that.
    ///
    /// ```
    /// use rgiref::gateway::Headers;
    /// let mut headers = Headers::from_pairs([("Content-Type", "text/html")]).unwrap();
    /// assert_eq!(headers.setdefault("content-type", "text/plain").unwrap(), "text/html");
    /// assert_eq!(headers.setdefault("Cache-Control", "no-store").unwrap(), "no-store");
    /// assert_eq!(headers.len(), 2);
    /// ```
    pub fn setdefault(&mut self, name: &str, value: &str) -> Result<&str, HeaderError> {
        let found = self
            .list
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case(name));
        let index = match found {
            Some(index) => index,
            None => {
                self.append(name, value)?;
                self.list.len() - 1
            }
        };
        Ok(&self.list[index].1)
    }

    /// Adds a header with parameters: `value`, then `; name="value"` for each parameter, or
    /// `; name` for one without a value (wsgiref's `add_header(name, value, **params)`). As in
    /// wsgiref:
    /// * a `_` in a parameter name becomes `-`, so names read like Python keywords
    ///   (`creation_date` becomes `creation-date`);
    /// * parameter values are always quoted, with `\` and `"` inside escaped by a `\`
    ///   (RFC 9110 §5.6.4's quoted-string); an empty value is left out like a missing one;
    /// * an empty `value` gives the parameters alone.
    ///
    /// ```
    /// use rgiref::gateway::Headers;
    /// let mut headers = Headers::new();
    /// headers.add_header("Content-Disposition", "attachment", &[("filename", Some("x.txt"))]).unwrap();
    /// headers.add_header("X-Params", "v", &[("max_age", Some("say \"hi\"")), ("secure", None)]).unwrap();
    /// assert_eq!(headers.get("content-disposition"), Some("attachment; filename=\"x.txt\""));
    /// assert_eq!(headers.get("X-Params"), Some("v; max-age=\"say \\\"hi\\\"\"; secure"));
    /// ```
    pub fn add_header(
        &mut self,
        name: &str,
        value: &str,
        parameters: &[(&str, Option<&str>)],
    ) -> Result<(), HeaderError> {
        let mut parts = Vec::with_capacity(parameters.len() + 1);
        if !value.is_empty() {
            parts.push(value.to_owned());
        }
        for (parameter, parameter_value) in parameters {
            parts.push(format_parameter(name, parameter, *parameter_value)?);
        }
        self.append(name, &parts.join("; "))
    }

    /// The header names, in order, repeats included (wsgiref's `keys()`).
    pub fn names(&self) -> Vec<&str> {
        self.list.iter().map(|(n, _)| n.as_str()).collect()
    }

    /// The values, in order (wsgiref's `values()`).
    pub fn values(&self) -> Vec<&str> {
        self.list.iter().map(|(_, v)| v.as_str()).collect()
    }

    /// Every `(name, value)`, in order (wsgiref's `items()`).
    pub fn pairs(&self) -> &[(String, String)] {
        &self.list
    }
}

/// One parameter of [`Headers::add_header`], checked: `name="value"`, or `name`.
fn format_parameter(header: &str, name: &str, value: Option<&str>) -> Result<String, HeaderError> {
    let name = name.replace('_', "-");
    if !is_token(&name) {
        let header = header.to_owned();
        return Err(HeaderError::BadParameterName { header, name });
    }
    let Some(value) = value.filter(|value| !value.is_empty()) else {
        return Ok(name);
    };
    if value.chars().any(is_forbidden_in_value) {
        return Err(HeaderError::BadValue {
            name: header.to_owned(),
            value: value.to_owned(),
        });
    }
    let escaped = value.replace('\\', "\\\\").replace('"', "\\\"");
    Ok(format!("{name}=\"{escaped}\""))
}

/// The rules `start` applies to one header (see `rules.rs`): a token for a name, no control
/// character but tab in a value.
fn check(name: &str, value: &str) -> Result<(), HeaderError> {
    if !is_token(name) {
        return Err(HeaderError::BadName {
            name: name.to_owned(),
        });
    }
    if value.chars().any(is_forbidden_in_value) {
        return Err(HeaderError::BadValue {
            name: name.to_owned(),
            value: value.to_owned(),
        });
    }
    Ok(())
}

impl fmt::Display for Headers {
    /// The wire form: `Name: value` and CRLF for each header, then an empty line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (name, value) in &self.list {
            write!(f, "{name}: {value}\r\n")?;
        }
        f.write_str("\r\n")
    }
}

impl IntoHeaders for Headers {
    fn into_headers(self) -> Vec<(String, String)> {
        self.list
    }
}

impl IntoHeaders for &Headers {
    fn into_headers(self) -> Vec<(String, String)> {
        self.list.clone()
    }
}

impl IntoIterator for Headers {
    type Item = (String, String);
    type IntoIter = std::vec::IntoIter<(String, String)>;

    fn into_iter(self) -> Self::IntoIter {
        self.list.into_iter()
    }
}

/// A header [`Headers`] refused to hold.
///
/// ```
/// use rgiref::gateway::{HeaderError, Headers};
/// let error = Headers::new().set("Set-Cookie", "a=1\r\nX-Evil: 1").unwrap_err();
/// assert!(matches!(error, HeaderError::BadValue { .. }));
/// assert!(error.to_string().starts_with("header \"Set-Cookie\" has a value with a control character"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderError {
    /// A header name that is not an HTTP token.
    BadName {
        /// The name as given.
        name: String,
    },
    /// A parameter name (of [`Headers::add_header`]) that is not an HTTP token.
    BadParameterName {
        /// The header's name.
        header: String,
        /// The parameter's name, with `_` already made `-`.
        name: String,
    },
    /// A value with a control character other than tab.
    BadValue {
        /// The header's name.
        name: String,
        /// The value as given.
        value: String,
    },
}

impl fmt::Display for HeaderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeaderError::BadName { name } => write!(
                f,
                "header name {name:?} is not an HTTP token (letters, digits and !#$%&'*+-.^_`|~ only)"
            ),
            HeaderError::BadParameterName { header, name } => write!(
                f,
                "parameter name {name:?} of header {header:?} is not an HTTP token"
            ),
            HeaderError::BadValue { name, value } => write!(
                f,
                "header {name:?} has a value with a control character (CR, LF, NUL, …), \
                 which could end the header early: {value:?}"
            ),
        }
    }
}

impl Error for HeaderError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tab_is_allowed_in_values_and_nothing_else_of_the_controls() {
        let mut headers = Headers::new();
        assert_eq!(headers.set("X", "a\tb"), Ok(()));
        for bad in ['\0', '\r', '\n', '\u{7f}', '\u{85}'] {
            assert!(headers.set("X", &format!("a{bad}b")).is_err(), "{bad:?}");
            assert!(headers.set(&format!("X{bad}"), "v").is_err(), "{bad:?}");
            let parameter = format!("p{bad}");
            let value = format!("v{bad}");
            assert!(headers.add_header("X", "v", &[(&parameter, None)]).is_err());
            assert!(headers
                .add_header("X", "v", &[("p", Some(&value))])
                .is_err());
        }
        assert_eq!(headers.get_all("x"), ["a\tb"]);
    }

    #[test]
    fn a_refused_header_leaves_the_list_as_it_was() {
        let mut headers = Headers::from_pairs([("A", "1"), ("B", "2")]).unwrap();
        assert!(headers.set("A", "bad\n").is_err());
        assert_eq!(headers.names(), ["A", "B"]);
        let error = headers
            .add_header("X", "v", &[("bad name", Some("1"))])
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "parameter name \"bad name\" of header \"X\" is not an HTTP token"
        );
        assert_eq!(headers.len(), 2);
    }
}
