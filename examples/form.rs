//! An HTML form, sent both ways — GET puts its fields in the query string, POST in the body —
//! and read back with the one decoder both use.
//!
//! Stage: **call app**. `QUERY_STRING` arrives still percent-encoded (the byte rule in
//! `src/gateway/environ.rs`), and a POST body arrives as bytes; `rgiref::util::query` and
//! `rgiref::util::read_form` decode them the same way (`application/x-www-form-urlencoded`:
//! `&` between fields, `=` between name and value, `+` a space, `%XX` a byte). What to see:
//!
//! * The fields come back in the order they were sent, a repeated name as often as it was sent:
//!   the three `tag` boxes below all have the name `tag`. (`Form::get` gives the first value,
//!   `Form::get_all` every one.)
//! * `+` and `%20` are both a space; `%2B` is a plus. A browser always encodes correctly; a bad
//!   escape comes from a hand-made request, and is the client's mistake: 400, not 500. So is a
//!   body over the limit (413), and a body that is not a form (415). Each error carries its
//!   status in an `InputError`, so `?` is all the application writes.
//! * Every value is HTML-escaped before it is shown: a field holding `<script>` is text.
//!
//! Run it, and open http://127.0.0.1:8007/ in a browser:
//!
//! ```text
//!   cargo run --example form                  # port 8007; or: cargo run --example form -- 8017
//! ```
//!
//! In a second terminal, try these (the lines after each are what it prints; `-d` is a POST of
//! a form):
//!
//! ```text
//!   curl -s 'http://127.0.0.1:8007/?name=Ada+Lovelace&tag=math&tag=%E2%9C%93' | grep '<tr><td>'
//!       <tr><td>name</td><td>Ada Lovelace</td></tr>
//!       <tr><td>tag</td><td>math</td></tr>
//!       <tr><td>tag</td><td>✓</td></tr>
//!   curl -s http://127.0.0.1:8007/ -d 'name=a+b%20c%2Bd' -d 'note=<script>' | grep '<tr><td>'
//!       <tr><td>name</td><td>a b c+d</td></tr>
//!       <tr><td>note</td><td>&lt;script&gt;</td></tr>
//!   curl -s http://127.0.0.1:8007/ -d 'name=100%'
//!       400 Bad Request: bad form field "name=100%": "%" is not a percent-escape (a % must be followed by two hex digits)
//!   curl -s http://127.0.0.1:8007/ -d "name=$(printf '%05000d' 0)"
//!       413 Content Too Large: the form is larger than the 4096 bytes accepted
//! ```

use rgiref::gateway::{AppError, Body, Environ, InputError, StartResponse, Status};
use rgiref::server::Server;
use rgiref::util::{query, read_form, Form};
use rgiref::validate::validator;

/// The largest form body read. A form with text fields is small; without a limit, one client
/// could make the server hold any amount of memory.
const LIMIT: u64 = 4 * 1024;

/// The page's head and its two forms; the fields that were sent go between them.
const TOP: &str = r#"<!DOCTYPE html>
<html lang="en">
<meta charset="utf-8">
<meta name="viewport" content="width=device-width">
<link rel="icon" href="data:,">
<title>A form, both ways</title>
<style>
body { font: 16px/1.5 system-ui, sans-serif; max-width: 46em; margin: 2em auto; padding: 0 1em; }
table { border-collapse: collapse; }
th, td { text-align: left; padding: .2em .8em; border-bottom: 1px solid #ddd; }
td, code { font-family: ui-monospace, monospace; }
fieldset { margin: 1em 0; }
</style>
<h1>A form, sent both ways</h1>
"#;

const FORMS: &str = r#"<form method="get">
<fieldset><legend>GET: the fields go in the URL's query string</legend>
<p><label>name <input name="name"></label></p>
<p><label><input type="checkbox" name="tag" value="math"> math</label>
<label><input type="checkbox" name="tag" value="poetry"> poetry</label>
<label><input type="checkbox" name="tag" value="engines"> engines</label></p>
<p><label>note <input name="note" value="100% &amp; a+b"></label></p>
<p><button>Send with GET</button></p>
</fieldset>
</form>
<form method="post">
<fieldset><legend>POST: the fields go in the body</legend>
<p><label>name <input name="name"></label></p>
<p><label><input type="checkbox" name="tag" value="math"> math</label>
<label><input type="checkbox" name="tag" value="poetry"> poetry</label>
<label><input type="checkbox" name="tag" value="engines"> engines</label></p>
<p><label>note <textarea name="note">&lt;script&gt; stays text</textarea></label></p>
<p><button>Send with POST</button></p>
</fieldset>
</form>
</html>
"#;

/// GET shows the form and any fields in the query; POST shows the fields in the body.
fn form(environ: &mut Environ, start_response: &mut StartResponse) -> Result<Body, AppError> {
    let (fields, how) = match environ.method() {
        // A malformed query is the client's mistake: `InputError` makes it a 400, not a 500.
        "GET" | "HEAD" => (query(environ).map_err(InputError::from)?, "GET"),
        // Every mistake in a body (400, 413, 415) comes back carrying its status already.
        "POST" => (read_form(environ, LIMIT)?, "POST"),
        _ => {
            let allow = [("Allow", "GET, HEAD, POST"), ("Content-Type", "text/plain")];
            start_response.start(Status::METHOD_NOT_ALLOWED, allow)?;
            return Ok(Body::from("405: this page takes GET and POST\n"));
        }
    };
    let mut page = String::from(TOP);
    if !fields.is_empty() {
        page.push_str(&sent(&fields, how, environ));
    }
    page.push_str(FORMS);
    start_response.start(Status::OK, [("Content-Type", "text/html; charset=utf-8")])?;
    Ok(Body::from(page))
}

/// The fields that were sent, decoded, in order, each name and value HTML-escaped.
fn sent(fields: &Form, how: &str, environ: &Environ) -> String {
    let source = match how {
        "GET" => format!(
            "the query string, as sent: <code>{}</code>",
            escape(environ.query_string())
        ),
        _ => format!(
            "the body, {} bytes of <code>application/x-www-form-urlencoded</code>",
            environ.content_length().unwrap_or(0)
        ),
    };
    let mut html = format!(
        "<h2>Sent with {how}</h2>\n<p>From {source}. Decoded, in the order sent:</p>\n\
         <table>\n<tr><th>name</th><th>value</th></tr>\n"
    );
    for (name, value) in fields.pairs() {
        let (name, value) = (escape(name), escape(value));
        html.push_str(&format!("<tr><td>{name}</td><td>{value}</td></tr>\n"));
    }
    html.push_str("</table>\n");
    html
}

/// `text` safe in HTML text and in a quoted attribute: `<` can no longer open a tag, nor `"`
/// close an attribute.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// The port used when none is given: not 8000, so this runs beside `cargo run`.
const DEFAULT_PORT: &str = "8007";

fn main() {
    let port = std::env::args()
        .nth(1)
        .unwrap_or_else(|| DEFAULT_PORT.to_owned());
    let address = format!("127.0.0.1:{port}");
    // Under the validator, as every example: a broken rule is a log line, not a silent bug.
    match Server::bind(&address, validator(form)) {
        Ok(server) => {
            println!(
                "form: development server at {} (Ctrl+C to quit)",
                server.url()
            );
            server.serve_forever();
        }
        Err(error) => {
            eprintln!(
                "form: cannot listen on {address}: {error} \
                 (give another port: cargo run --example form -- 8017)"
            );
            std::process::exit(2);
        }
    }
}
