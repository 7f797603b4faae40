//! The demo application: wsgiref's `demo_app`, which shows you everything it was told.
//!
//! Stage: **call app** — this is the "application" box of the stack diagram, and the one
//! `cargo run` serves.
//!
//! Interface: [`demo_app`] answers every method and path with `200 OK` and a plain-text page:
//! `Hello world!`, a blank line, then every entry of the environ, sorted, one `KEY = "value"`
//! per line. The CGI variables come first (upper case), then the `rgi.*` fields, which are the
//! counterparts of WSGI's `wsgi.*` keys. Values are printed as Rust string literals, so a tab or
//! a stray `\r` in a header is visible instead of invisible.
//!
//! Try `curl -v 'http://127.0.0.1:8000/some/path?x=1' -H 'X-Hello: there'` and find each part
//! of your request in the output.

use crate::gateway::{AppError, Body, Environ, StartResponse, VERSION};

/// Answers with "Hello world!" and the sorted environ. See the module docs.
///
/// ```
/// use rgiref::demo::demo_app;
/// use rgiref::testing::{Client, TestRequest};
/// let response = Client::new(demo_app).request(TestRequest::get("/xyz").header("X-Hello", "there"));
/// let page = response.text();
/// assert!(page.starts_with("Hello world!\n\n"));
/// assert!(page.contains("HTTP_X_HELLO = \"there\"\n"));
/// assert!(page.contains("PATH_INFO = \"/xyz\"\n"));
/// assert!(page.contains("rgi.url_scheme = \"http\"\n"));
/// ```
pub fn demo_app(
    environ: &mut Environ,
    start_response: &mut StartResponse,
) -> Result<Body, AppError> {
    let mut page = String::from("Hello world!\n\n");
    for (name, value) in &environ.vars {
        page.push_str(&format!("{name} = {value:?}\n"));
    }
    let flags = [
        ("rgi.errors", "<the server's error log>".to_owned()),
        ("rgi.input", "<the request body>".to_owned()),
        ("rgi.multiprocess", environ.multiprocess.to_string()),
        ("rgi.multithread", environ.multithread.to_string()),
        ("rgi.run_once", environ.run_once.to_string()),
        ("rgi.url_scheme", format!("{:?}", environ.url_scheme)),
        ("rgi.version", format!("{VERSION:?}")),
    ];
    for (name, value) in flags {
        page.push_str(&format!("{name} = {value}\n"));
    }
    start_response.start("200 OK", [("Content-Type", "text/plain; charset=utf-8")])?;
    Ok(Body::from(page))
}
