//! X-ray: an HTML page that dissects the very request that fetched it.
//!
//! Stage: **call app**, looking back at **read request** and **build environ** (what the server
//! received, and what it made of it) and ahead at **send headers**. The page shows, in order:
//! the request head exactly as it arrived (byte count, order, case, every `\r` and `\n`); the
//! request line taken apart; each header and the environ key it became, or why it was dropped
//! or joined; the whole environ; and the response head, as far as an application can know it.
//!
//! Where the pieces come from, so that nothing here is a second, disagreeing copy of the server:
//! * The raw head is the server's: `Config::raw_head_to_app` (off by default) hands it over as
//!   the environ extension `rgiref.raw_head` (`rgiref::server::RAW_HEAD`).
//! * What became of each header is the server's own answer: the page reads the raw head again
//!   with `rgiref::http::read_request_head` and asks `rgiref::http::cgi_variables`, the two
//!   functions the server ran, for each header's `HeaderUse`.
//! * Behind nginx or lighttpd there is no raw head to show: the web server read the request and
//!   passed on only the CGI variables it made of it. So the page shows those variables exactly
//!   as the web server sent them — the FastCGI PARAMS (`rgiref.fastcgi_params`), or under CGI the
//!   process environment — and what `rgiref::cgi::environ_variables` kept of each.
//!
//! Safe to point at anything: every byte a client sent is HTML-escaped (`escape`, tested below
//! with `<script>` in a header) or shown as a marked escape (`visible`), and the
//! `Content-Security-Policy` header forbids scripts besides. `Cookie` and `Authorization` values
//! are hidden unless the URL asks with `?secrets=show`: the rule `--trace` follows
//! (`rgiref::trace::SECRET_HEADERS`), since pages like this get pasted into questions.
//!
//! Run it, and open http://127.0.0.1:8006/ in a browser:
//!
//! ```text
//!   cargo run --example xray                  # port 8006; or: cargo run --example xray -- 8016
//! ```
//!
//! In a second terminal, try these (the lines after each are what it prints; values are
//! HTML-escaped, so the `'` in "application's" arrives as `&#39;`):
//!
//! ```text
//!   curl -s http://127.0.0.1:8006/ -H 'X-Twice: 1' -H 'x-twice: 2' | grep HTTP_X_TWICE
//!       <tr><td>X-Twice</td><td>1</td><td>HTTP_X_TWICE</td></tr>
//!       <tr><td>x-twice</td><td>2</td><td>joined onto HTTP_X_TWICE, with a comma</td></tr>
//!       <tr><td>HTTP_X_TWICE</td><td>1,2</td></tr>
//!   curl -s http://127.0.0.1:8006/ -H 'Proxy: http://evil.example/' | grep httpoxy
//!       <tr><td>Proxy</td><td>http://evil.example/</td><td>dropped: as HTTP_PROXY it would redirect the application&#39;s own HTTP requests (httpoxy)</td></tr>
//!   curl -s http://127.0.0.1:8006/ -H 'Cookie: id=s3cret' | grep -c s3cret
//!       0
//!   curl -s 'http://127.0.0.1:8006/?secrets=show' -H 'Cookie: id=s3cret' | grep -c s3cret
//!       3
//! ```
//!
//! Behind a web server: `cargo run --example xray -- --fastcgi 127.0.0.1:9006` is a FastCGI
//! responder (nginx: `fastcgi_pass 127.0.0.1:9006;` with `include fastcgi_params;`), and the
//! built binary is a CGI program too. Without a web server, play one:
//!
//! ```text
//!   cargo build --example xray
//!   GATEWAY_INTERFACE=CGI/1.1 SERVER_NAME=localhost SERVER_PORT=80 REQUEST_METHOD=GET \
//!     target/debug/examples/xray | head -3
//!       Status: 200 OK
//!       Content-Type: text/html; charset=utf-8
//!       Cache-Control: no-store
//! ```

use std::fmt::Write as _;
use std::net::SocketAddr;
use std::process::ExitCode;

use rgiref::cgi::{environ_variables, EXTRA_NAMES, RFC_3875_NAMES};
use rgiref::fastcgi::{self, record::parse_pairs, RAW_PARAMS};
use rgiref::gateway::{value_from_bytes, AppError, Body, Environ, StartResponse};
use rgiref::http::{body_framing, cgi_variables, read_request_head, ConnectionInfo};
use rgiref::http::{HeaderUse, Limits, RequestHead, Version};
use rgiref::server::{Config, Server, RAW_HEAD};
use rgiref::trace::SECRET_HEADERS;
use rgiref::util::query;
use rgiref::validate::validator;

/// The response headers, shown on the page and then passed to `start`, so the page shows
/// exactly what the application sends. The last three are for a page full of client bytes:
/// never cached (it may show a cookie), never sniffed as another type, and no script runs on
/// it even if an escape were missed.
const HEADERS: [(&str, &str); 4] = [
    ("Content-Type", "text/html; charset=utf-8"),
    ("Cache-Control", "no-store"),
    ("X-Content-Type-Options", "nosniff"),
    (
        "Content-Security-Policy",
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
    ),
];

/// Small, inline (the policy above allows no other), and monospace wherever bytes are shown.
const STYLE: &str = "
body { font: 15px/1.5 system-ui, sans-serif; color: #222; background: #fcfcfa;
       max-width: 72em; margin: 2em auto; padding: 0 1.5em; }
h1 { font-size: 1.5em; margin-bottom: .2em; }
h2 { font-size: 1.15em; margin-top: 2.2em; border-bottom: 2px solid #d8d8d0; }
code, td { font-family: ui-monospace, 'DejaVu Sans Mono', Menlo, Consolas, monospace; }
table { border-collapse: collapse; width: 100%; margin: .6em 0; }
th { text-align: left; background: #eeeee6; font-weight: 600; }
th, td { padding: .3em .7em; vertical-align: top; border-bottom: 1px solid #e4e4dc; }
td { font-size: 13px; white-space: pre-wrap; overflow-wrap: break-word; }
table.bytes td:first-child { white-space: nowrap; }
table.bytes td:nth-child(2) { word-break: break-all; }
table.lines td:nth-child(2) { font-family: system-ui, sans-serif; font-size: 14px; }
h1 code { overflow-wrap: anywhere; }
b { font-weight: normal; color: #a04000; background: #fff0e0; border-radius: 3px; padding: 0 1px; }
b.bare { color: #fff; background: #c03030; }
i { color: #777; }
p.note { color: #555; }
";

/// What the server handed over about the request as it arrived, besides the environ.
enum Arrived<'e> {
    /// rgiref's HTTP server: the request head, byte for byte.
    Head(&'e [u8]),
    /// rgiref's FastCGI responder: the PARAMS stream as the web server sent it.
    Params(&'e [u8]),
    /// A CGI program: the process environment holds the request.
    CgiEnvironment,
    /// Nothing: another server, or rgiref's without the option.
    Nothing,
}

/// Answers every request with the x-ray page of that request.
fn xray(environ: &mut Environ, start_response: &mut StartResponse) -> Result<Body, AppError> {
    // A malformed query is something to x-ray too, so it only means "no secrets shown".
    let secrets = query(environ).is_ok_and(|query| query.get("secrets") == Some("show"));
    let page = render(environ, secrets);
    start_response.start("200 OK", HEADERS)?;
    Ok(Body::from(page))
}

/// The whole page for `environ`; `secrets` shows the values of [`SECRET_HEADERS`].
fn render(environ: &Environ, secrets: bool) -> String {
    let arrived = if let Some(head) = environ.extensions.get(RAW_HEAD) {
        Arrived::Head(head)
    } else if let Some(params) = environ.extensions.get(RAW_PARAMS) {
        Arrived::Params(params)
    } else if environ.run_once {
        Arrived::CgiEnvironment // PEP 3333: run_once is CGI's flag, one process per request
    } else {
        Arrived::Nothing
    };
    let mut page = Page {
        html: String::new(),
        secrets,
    };
    page.top(environ);
    match arrived {
        Arrived::Head(head) => page.head_sections(head, environ),
        Arrived::Params(params) => page.params_section(params, environ),
        Arrived::CgiEnvironment => page.cgi_section(environ),
        Arrived::Nothing => page.nothing_section(),
    }
    page.environ_section(environ);
    page.response_section(environ, &arrived);
    page.html.push_str("</body>\n</html>\n");
    page.html
}

/// The page being written. Every method escapes what it adds; nothing else writes to `html`.
/// (Writing to a `String` cannot fail, hence the `let _ = write!(…)`.)
struct Page {
    html: String,
    secrets: bool,
}

impl Page {
    /// The title, what the page is, and the switch for secrets.
    fn top(&mut self, environ: &Environ) {
        let asked = escape(&format!(
            "{} {}",
            environ.method(),
            environ.get("REQUEST_URI").unwrap_or(environ.path_info())
        ));
        let _ = write!(
            self.html,
            "<!DOCTYPE html>\n<html lang=\"en\">\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width\">\n\
             <link rel=\"icon\" href=\"data:,\">\n<title>x-ray: {asked}</title>\n\
             <style>{STYLE}</style>\n<body>\n<h1>X-ray of <code>{asked}</code></h1>\n\
             <p>The request that fetched this page, as the server received it and as the \
             application sees it. Every byte the client sent is HTML-escaped; <b>\\r</b>, \
             <b>\\n</b> and other control bytes are marked.</p>\n"
        );
        // A relative link keeps the path (and any mount point) and changes only the query.
        let kept: Vec<&str> = environ
            .query_string()
            .split('&')
            .filter(|field| !field.is_empty() && *field != "secrets=show")
            .collect();
        let (state, action, fields) = match self.secrets {
            true => ("shown", "hide them", kept),
            false => ("hidden", "show them", [kept, vec!["secrets=show"]].concat()),
        };
        let href = escape(&format!("?{}", fields.join("&")));
        let _ = writeln!(
            self.html,
            "<p class=\"note\">The values of Cookie and Authorization headers are {state} \
             (<a href=\"{href}\">{action}</a>).</p>"
        );
    }

    /// Sections 1 to 3, from the raw head.
    fn head_sections(&mut self, raw: &[u8], environ: &Environ) {
        self.raw_head(raw);
        // The server's parser and environ builder, run again on the same bytes: the same
        // answers, not a second opinion. The limits are the server's defaults, as in `main`.
        let head = match read_request_head(&mut &raw[..], &Limits::default()) {
            Ok(head) => head,
            Err(error) => return self.paragraph(&format!("The head does not parse: {error}")),
        };
        self.request_line(&head, environ);
        let uses = body_framing(&head).map_err(|refusal| refusal.to_string());
        let uses = uses.and_then(|framing| {
            // Only what became of each header is used here, and the connection's addresses do
            // not change that, so any addresses will do.
            let nowhere = SocketAddr::from(([0, 0, 0, 0], 0));
            let connection = ConnectionInfo {
                local: nowhere,
                peer: nowhere,
                server_software: String::new(),
            };
            cgi_variables(&head, framing, &connection).map_err(|refusal| refusal.to_string())
        });
        match uses {
            Ok(cgi) => self.header_table(&head, &cgi.headers),
            Err(error) => self.paragraph(&format!("The head was refused: {error}")),
        }
    }

    /// Section 1: the head line by line, each with its offset, nothing left out.
    fn raw_head(&mut self, raw: &[u8]) {
        let lines: Vec<&[u8]> = raw.split_inclusive(|&b| b == b'\n').collect();
        let bare = lines.iter().filter(|line| !line.ends_with(b"\r\n")).count();
        let _ = writeln!(
            self.html,
            "<h2>1. The request head, as received</h2>\n<p>{} bytes in {} lines, exactly as \
             they arrived: order, case, spacing and line ends untouched. Line ends: {} CRLF, \
             {bare} bare LF (RFC 9112 §2.2 lets a server accept a bare LF; rgiref does).</p>\n\
             <table class=\"bytes\">\n<tr><th>offset</th><th>bytes</th></tr>",
            raw.len(),
            lines.len(),
            lines.len() - bare,
        );
        let mut offset = 0;
        for line in lines {
            let _ = writeln!(
                self.html,
                "<tr><td>{offset}</td><td>{}</td></tr>",
                self.raw_line(line)
            );
            offset += line.len();
        }
        self.html.push_str("</table>\n");
    }

    /// One line of the head as HTML: its bytes made visible, a secret's value hidden, and its
    /// line end marked (a bare LF in red).
    fn raw_line(&self, line: &[u8]) -> String {
        let (content, end) = match line.strip_suffix(b"\r\n") {
            Some(content) => (content, "<b>\\r</b><b>\\n</b>"),
            None => match line.strip_suffix(b"\n") {
                Some(content) => (content, "<b class=\"bare\" title=\"a bare LF\">\\n</b>"),
                None => (line, ""),
            },
        };
        let colon = content.iter().position(|&b| b == b':');
        let shown = match colon {
            Some(at) if self.hides(&value_from_bytes(&content[..at])) => {
                let hidden = content.len() - at - 1;
                format!("{}:<i> hidden, {hidden} bytes</i>", visible(&content[..at]))
            }
            _ => visible(content),
        };
        format!("{shown}{end}")
    }

    /// Section 2: the request line's three parts, and the variables each became.
    fn request_line(&mut self, head: &RequestHead, environ: &Environ) {
        let var = |name: &str| escape(environ.get(name).unwrap_or(""));
        let version_note = match head.version {
            Version::HTTP_10 => "",
            Version::HTTP_09 => " — a Simple-Request (RFC 1945 §4.1): the body alone answers it",
            _ => " — rgiref answers in HTTP/1.0, which every 1.x client understands",
        };
        let _ = writeln!(
            self.html,
            "<h2>2. The request line</h2>\n<p>Method, target and version, separated by \
             exactly one space each (RFC 9112 §3).</p>\n<table class=\"bytes\">\n\
             <tr><th>part</th><th>as sent</th><th>became</th></tr>\n\
             <tr><td>method</td><td>{}</td><td>REQUEST_METHOD = {}</td></tr>\n\
             <tr><td>target</td><td>{}</td><td>REQUEST_URI = {} (as sent)\n\
             PATH_INFO = {} (percent-decoded once)\nQUERY_STRING = {} (still encoded)</td></tr>\n\
             <tr><td>version</td><td>{}</td><td>SERVER_PROTOCOL = {}{}</td></tr>\n</table>",
            escape(&head.method),
            var("REQUEST_METHOD"),
            escape(&head.target),
            var("REQUEST_URI"),
            var("PATH_INFO"),
            var("QUERY_STRING"),
            head.version,
            var("SERVER_PROTOCOL"),
            version_note,
        );
    }

    /// Section 3: each header in the order sent, and what `cgi_variables` did with it.
    fn header_table(&mut self, head: &RequestHead, uses: &[HeaderUse]) {
        self.html.push_str(
            "<h2>3. Each header, and what became of it</h2>\n<p>Names as sent, values without \
             the spaces around them. The environ key comes from the server's own \
             <code>rgiref::http::cgi_variables</code> (RFC 3875 §4.1.18: upper case, \
             <code>-</code> made <code>_</code>, <code>HTTP_</code> in front).</p>\n\
             <table class=\"bytes\">\n\
             <tr><th>name</th><th>value</th><th>environ key</th></tr>\n",
        );
        for ((name, value), used) in head.headers.iter().zip(uses) {
            let fate = match used {
                HeaderUse::Variable(key) => escape(key),
                HeaderUse::Joined(key) => format!("joined onto {}, with a comma", escape(key)),
                HeaderUse::Dropped(why) => format!("dropped: {}", escape(why)),
            };
            let _ = writeln!(
                self.html,
                "<tr><td>{}</td><td>{}</td><td>{fate}</td></tr>",
                visible(name.as_bytes()),
                self.value(name, value),
            );
        }
        self.html.push_str("</table>\n");
    }

    /// Section 1 behind a FastCGI web server: PARAMS, pair by pair, as sent.
    fn params_section(&mut self, params: &[u8], environ: &Environ) {
        let front = front_end(environ);
        let pairs = match parse_pairs(params) {
            Ok(pairs) => pairs,
            Err(error) => return self.paragraph(&format!("The PARAMS do not parse: {error}")),
        };
        let _ = writeln!(
            self.html,
            "<h2>1. The FastCGI PARAMS, as {} sent them</h2>\n<p>{} name-value pairs in {} \
             bytes, in the order they came (FastCGI 1.0 §3.4). {}</p>",
            escape(&front),
            pairs.len(),
            params.len(),
            no_head(&escape(&front)),
        );
        self.variables_table(&pairs, environ);
    }

    /// Section 1 under CGI: the request's variables, read from the process environment.
    fn cgi_section(&mut self, environ: &Environ) {
        let front = front_end(environ);
        let mut sent = Vec::new();
        let mut others = 0;
        for (name, value) in std::env::vars_os() {
            let (name, value) = (name.into_encoded_bytes(), value.into_encoded_bytes());
            if is_request_name(&name) {
                sent.push((name, value));
            } else {
                others += 1;
            }
        }
        let _ = writeln!(
            self.html,
            "<h2>1. The CGI variables, as {} set them</h2>\n<p>Under CGI the process \
             environment is the request (RFC 3875 §4.1): these {} variables, in the order the \
             environment holds them. Not shown: {others} more of its variables, which describe \
             the web server and the system (<code>PATH</code>, …) rather than the request, \
             may hold secrets, and never reach the environ. {}</p>",
            escape(&front),
            sent.len(),
            no_head(&escape(&front)),
        );
        let pairs: Vec<(&[u8], &[u8])> = sent.iter().map(|(n, v)| (&n[..], &v[..])).collect();
        self.variables_table(&pairs, environ);
    }

    /// Section 1 when the server handed over nothing.
    fn nothing_section(&mut self) {
        self.html.push_str(
            "<h2>1. No raw request</h2>\n<p>This server handed the application nothing of the \
             request as it arrived, only the environ below. rgiref's HTTP server does with \
             <code>Config::raw_head_to_app</code>, its FastCGI responder with \
             <code>fastcgi::Config::raw_params_to_app</code>; other servers do not.</p>\n",
        );
    }

    /// The variables a web server sent, and what `environ_variables` kept of each.
    fn variables_table(&mut self, pairs: &[(&[u8], &[u8])], environ: &Environ) {
        self.html.push_str(
            "<table class=\"bytes\">\n\
             <tr><th>name</th><th>value</th><th>in the environ</th></tr>\n",
        );
        for (name, value) in pairs {
            let text_name = value_from_bytes(name);
            let _ = writeln!(
                self.html,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                visible(name),
                self.variable(&text_name, value),
                escape(&kept(name, value, environ)),
            );
        }
        self.html.push_str("</table>\n");
    }

    /// Section 4: the environ, as the application sees it.
    fn environ_section(&mut self, environ: &Environ) {
        self.html.push_str(
            "<h2>4. The environ</h2>\n<p>What the application is given: the CGI variables, \
             sorted, then the <code>rgi.*</code> fields (WSGI's <code>wsgi.*</code>) and the \
             server's own extensions.</p>\n<table class=\"bytes\">\n\
             <tr><th>name</th><th>value</th></tr>\n",
        );
        for (name, value) in &environ.vars {
            let _ = writeln!(
                self.html,
                "<tr><td>{}</td><td>{}</td></tr>",
                escape(name),
                self.variable(name, value.as_bytes()),
            );
        }
        let mut fields = vec![
            ("rgi.url_scheme", environ.url_scheme.clone()),
            ("rgi.multithread", environ.multithread.to_string()),
            ("rgi.multiprocess", environ.multiprocess.to_string()),
            ("rgi.run_once", environ.run_once.to_string()),
            (
                "rgi.input",
                "the request body (this page does not read it)".into(),
            ),
            ("rgi.errors", "the server's error log".into()),
        ];
        for (name, bytes) in &environ.extensions {
            fields.push((name, format!("{} bytes, shown in section 1", bytes.len())));
        }
        for (name, value) in fields {
            let _ = writeln!(
                self.html,
                "<tr><td>{}</td><td>{}</td></tr>",
                escape(name),
                escape(&value)
            );
        }
        self.html.push_str("</table>\n");
    }

    /// Section 5: the response head, marking which lines the application chose and which the
    /// server adds — as far as an application can know them.
    fn response_section(&mut self, environ: &Environ, arrived: &Arrived<'_>) {
        let front = front_end(environ);
        let server = format!("Server: {}", environ.get("SERVER_SOFTWARE").unwrap_or(""));
        let for_front = format!("rgiref, for {front} to make a status line of (RFC 3875 §6.3.3)");
        // The lines before the page's own headers, who writes Content-Length after them, and
        // a last word.
        let (before, length, note) = match arrived {
            Arrived::Head(_) if environ.get("SERVER_PROTOCOL") == Some("HTTP/0.9") => (
                Vec::new(),
                None,
                "An HTTP/0.9 request gets the body alone: the server sends none of these lines."
                    .to_owned(),
            ),
            Arrived::Head(_) => (
                vec![
                    (
                        "HTTP/1.0 200 OK",
                        "the server: its version, and the status this page gave start_response",
                    ),
                    (
                        "Date: (the moment the head is sent)",
                        "the server (RFC 9110 §6.6.1: an origin server with a clock sends one)",
                    ),
                    (server.as_str(), "the server: its SERVER_SOFTWARE"),
                ],
                Some(
                    "the server, once the page is built: a page cannot hold its own length \
                     without changing it",
                ),
                "Your browser's developer tools (the Network tab) show the head as it arrived: \
                 this, with the real date and length."
                    .to_owned(),
            ),
            Arrived::Params(_) | Arrived::CgiEnvironment => (
                vec![("Status: 200 OK", for_front.as_str())],
                Some("rgiref, once the page is built"),
                format!(
                    "{front} then writes the status line itself and adds headers of its own \
                     (Date, Server, and whatever its configuration says): a browser gets the \
                     web server's response, made from this one."
                ),
            ),
            Arrived::Nothing => (
                Vec::new(),
                None,
                "This page cannot tell which server runs it, so it cannot say what that server \
                 will add."
                    .to_owned(),
            ),
        };
        let ours = HEADERS.map(|(name, value)| format!("{name}: {value}"));
        let mut rows: Vec<(&str, &str)> = before;
        rows.extend(
            ours.iter()
                .map(|line| (line.as_str(), "this page, through start_response")),
        );
        rows.extend(length.map(|who| ("Content-Length: (this page's length in bytes)", who)));
        self.html.push_str(
            "<h2>5. The response head, as far as this page can know it</h2>\n\
             <table class=\"lines\">\n<tr><th>line</th><th>written by</th></tr>\n",
        );
        for (line, who) in rows {
            let (line, who) = (escape(line), escape(who));
            let _ = writeln!(self.html, "<tr><td>{line}</td><td>{who}</td></tr>");
        }
        let _ = writeln!(
            self.html,
            "</table>\n<p class=\"note\">{}</p>",
            escape(&note)
        );
    }

    /// A paragraph of plain text.
    fn paragraph(&mut self, text: &str) {
        let _ = writeln!(self.html, "<p>{}</p>", escape(text));
    }

    /// True if the header `name`'s value is hidden.
    fn hides(&self, name: &str) -> bool {
        !self.secrets
            && SECRET_HEADERS
                .iter()
                .any(|s| s.eq_ignore_ascii_case(name.trim()))
    }

    /// A header's value as HTML, or a note that it is hidden.
    fn value(&self, name: &str, value: &str) -> String {
        match self.hides(name) {
            true => format!("<i>hidden, {} bytes</i>", value.len()),
            false => visible(value.as_bytes()),
        }
    }

    /// A variable's value as HTML: hidden if it carries a secret header (`HTTP_COOKIE`).
    fn variable(&self, name: &str, value: &[u8]) -> String {
        let header = name.strip_prefix("HTTP_").unwrap_or("").replace('_', "-");
        match self.hides(&header) {
            true => format!("<i>hidden, {} bytes</i>", value.len()),
            false => visible(value),
        }
    }
}

/// Why there is no raw head behind a web server, as HTML; `front` names it, escaped.
fn no_head(front: &str) -> String {
    format!(
        "There is no raw request head here: {front} received the HTTP request, parsed it, and \
         passed on only the CGI variables it made of it (RFC 3875 §4.1.18: one \
         <code>HTTP_*</code> variable per header). The header case, order, repeats and line \
         ends stayed with {front}. To see them, run this page on rgiref's own server: \
         <code>cargo run --example xray</code>."
    )
}

/// The web server in front, by its `SERVER_SOFTWARE`.
fn front_end(environ: &Environ) -> String {
    match environ.get("SERVER_SOFTWARE") {
        Some(software) if !software.is_empty() => software.to_owned(),
        _ => "the web server".to_owned(),
    }
}

/// A name `rgiref::cgi::environ_variables` takes as describing the request: RFC 3875's, the
/// usual extras, and `HTTP_*` — its own lists.
fn is_request_name(name: &[u8]) -> bool {
    let name = value_from_bytes(name);
    name.starts_with("HTTP_")
        || RFC_3875_NAMES.contains(&name.as_str())
        || EXTRA_NAMES.contains(&name.as_str())
}

/// What the environ holds of one variable the web server sent: the environ itself answers
/// whether it is there, and `environ_variables` run on this one pair says why not.
fn kept(name: &[u8], value: &[u8], environ: &Environ) -> String {
    let text = value_from_bytes(name);
    match environ.get(&text) {
        Some(held) if *held == value_from_bytes(value) => "kept".to_owned(),
        Some(_) => format!("merged with another {text}: see the environ"),
        None => match environ_variables([(name, value)]) {
            // Its own note says "left out …" and why: httpoxy, or a name that is not UTF-8.
            Ok(alone) if !alone.left_out.is_empty() => alone.left_out[0].clone(),
            Err(error) => format!("refused: {error}"),
            Ok(_) if is_request_name(name) => "left out: an empty value here means none".into(),
            Ok(_) => "left out: not a request variable (the web server's own)".to_owned(),
        },
    }
}

/// `text` made safe in HTML text and in a quoted attribute: the five characters HTML gives a
/// meaning become character references (`<` is `&lt;`), so no client byte can open a tag.
fn escape(text: &str) -> String {
    let mut safe = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => safe.push_str("&amp;"),
            '<' => safe.push_str("&lt;"),
            '>' => safe.push_str("&gt;"),
            '"' => safe.push_str("&quot;"),
            '\'' => safe.push_str("&#39;"),
            c => safe.push(c),
        }
    }
    safe
}

/// `bytes` as HTML, every byte accounted for: text escaped, each control character shown as a
/// marked escape (`\r`, `\t`, `\u{0}`), and so is each byte that is not UTF-8 (`\xff`), so
/// nothing is invisible and nothing is taken for markup.
fn visible(bytes: &[u8]) -> String {
    let mut html = String::with_capacity(bytes.len());
    for chunk in bytes.utf8_chunks() {
        for c in chunk.valid().chars() {
            match c {
                '\r' => html.push_str("<b>\\r</b>"),
                '\n' => html.push_str("<b>\\n</b>"),
                '\t' => html.push_str("<b>\\t</b>"),
                c if c.is_control() => {
                    let _ = write!(html, "<b>\\u{{{:x}}}</b>", u32::from(c));
                }
                c => html.push_str(&escape(c.encode_utf8(&mut [0; 4]))),
            }
        }
        for byte in chunk.invalid() {
            let _ = write!(html, "<b>\\x{byte:02x}</b>");
        }
    }
    html
}

/// The port used when none is given: not 8000, so this runs beside `cargo run`.
const DEFAULT_PORT: &str = "8006";

fn main() -> ExitCode {
    // A web server that runs us as a CGI program sets GATEWAY_INTERFACE. The command line is
    // then not ours to read: RFC 3875 §4.4 lets the client's query become the arguments.
    if std::env::var_os("GATEWAY_INTERFACE").is_some() {
        return rgiref::cgi::run(&validator(xray));
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => serve_http(DEFAULT_PORT),
        [port] if !port.starts_with('-') => serve_http(port),
        [flag, address] if flag == "--fastcgi" => serve_fastcgi(address),
        _ => {
            eprintln!("xray: usage: cargo run --example xray -- [PORT | --fastcgi HOST:PORT]");
            ExitCode::from(2)
        }
    }
}

/// The development server, handing the application each raw head (off by default).
fn serve_http(port: &str) -> ExitCode {
    let address = format!("127.0.0.1:{port}");
    let config = Config {
        raw_head_to_app: true,
        ..Config::default()
    };
    // Under the validator, as every example: a broken rule is a log line, not a silent bug.
    match Server::bind_with(&address, validator(xray), config) {
        Ok(server) => {
            println!(
                "xray: development server at {} (Ctrl+C to quit)",
                server.url()
            );
            server.serve_forever();
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!(
                "xray: cannot listen on {address}: {error} \
                 (give another port: cargo run --example xray -- 8016)"
            );
            ExitCode::from(2)
        }
    }
}

/// A FastCGI responder, handing the application each request's PARAMS as sent.
fn serve_fastcgi(address: &str) -> ExitCode {
    let config = fastcgi::Config {
        raw_params_to_app: true,
        ..fastcgi::Config::default()
    };
    match fastcgi::Server::bind_with(address, validator(xray), config) {
        Ok(server) => {
            println!(
                "xray: FastCGI responder at {} (Ctrl+C to quit)",
                server.local_addr()
            );
            server.serve_forever();
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("xray: cannot listen on {address}: {error}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What a browser's devtools would call a hostile header: markup, quotes, an ampersand.
    const HOSTILE: &str = "<script>alert('x')</script>\"&";

    #[test]
    fn escape_leaves_no_markup() {
        assert_eq!(
            escape(HOSTILE),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&quot;&amp;"
        );
        assert_eq!(escape("plain text, é"), "plain text, é");
    }

    #[test]
    fn visible_marks_every_control_byte_and_every_byte_that_is_not_utf8() {
        assert_eq!(
            visible(b"a\tb\r\n\x00\xff<"),
            "a<b>\\t</b>b<b>\\r</b><b>\\n</b><b>\\u{0}</b><b>\\xff</b>&lt;"
        );
    }

    /// An environ as the HTTP server builds it for `raw`, with the raw head attached.
    fn environ_for(raw: &[u8]) -> Environ {
        let head = read_request_head(&mut &raw[..], &Limits::default()).unwrap();
        let connection = ConnectionInfo {
            local: SocketAddr::from(([127, 0, 0, 1], 8006)),
            peer: SocketAddr::from(([127, 0, 0, 1], 50000)),
            server_software: rgiref::SERVER_SOFTWARE.to_owned(),
        };
        let framing = body_framing(&head).unwrap();
        let mut environ = Environ {
            vars: cgi_variables(&head, framing, &connection).unwrap().vars,
            ..Environ::default()
        };
        environ.extensions.insert(RAW_HEAD.to_owned(), raw.to_vec());
        environ
    }

    #[test]
    fn a_hostile_header_is_shown_escaped_in_every_section() {
        let raw = format!("GET /?q=%3Cscript%3E HTTP/1.1\r\nHost: x\r\nX-Evil: {HOSTILE}\r\n\r\n");
        let page = render(&environ_for(raw.as_bytes()), false);
        assert!(!page.contains("<script"), "{page}");
        let escaped = escape(HOSTILE);
        // The raw head, the header table and the environ.
        assert!(page.contains(&format!("<td>X-Evil: {escaped}<b>\\r</b><b>\\n</b></td>")));
        assert!(page.contains(&format!(
            "<tr><td>X-Evil</td><td>{escaped}</td><td>HTTP_X_EVIL</td></tr>"
        )));
        assert!(page.contains(&format!("<tr><td>HTTP_X_EVIL</td><td>{escaped}</td></tr>")));
    }

    #[test]
    fn secrets_are_hidden_unless_asked_for() {
        let raw = b"GET / HTTP/1.0\r\nCookie: id=s3cret\r\nauthorization: Basic czNjcmV0\r\n\r\n";
        let environ = environ_for(raw);
        let hidden = render(&environ, false);
        assert!(
            !hidden.contains("s3cret") && !hidden.contains("czNjcmV0"),
            "{hidden}"
        );
        assert!(hidden.contains("<td>Cookie:<i> hidden, 10 bytes</i><b>\\r</b><b>\\n</b></td>"));
        assert!(hidden.contains("<tr><td>HTTP_COOKIE</td><td><i>hidden, 9 bytes</i></td></tr>"));
        let shown = render(&environ, true);
        assert_eq!(shown.matches("s3cret").count(), 3, "{shown}");
    }

    #[test]
    fn a_bare_lf_is_marked() {
        let page = render(&environ_for(b"GET / HTTP/1.0\nHost: x\r\n\n"), false);
        assert!(page.contains("1 CRLF, 2 bare LF"), "{page}");
        assert!(
            page.contains("<td>GET / HTTP/1.0<b class=\"bare\" title=\"a bare LF\">\\n</b></td>")
        );
    }

    #[test]
    fn fastcgi_params_are_shown_as_sent_with_what_the_environ_kept() {
        let mut params = Vec::new();
        for (name, value) in [
            ("REQUEST_METHOD", "GET"),
            ("DOCUMENT_URI", "/x"),
            ("HTTP_PROXY", "http://evil.example/"),
            ("HTTP_X_EVIL", HOSTILE),
            ("SERVER_SOFTWARE", "nginx/1.22.1"),
        ] {
            params.extend([name.len() as u8, value.len() as u8]);
            params.extend_from_slice(name.as_bytes());
            params.extend_from_slice(value.as_bytes());
        }
        let pairs = parse_pairs(&params).unwrap();
        let mut environ = Environ {
            vars: environ_variables(pairs.iter().copied()).unwrap().vars,
            ..Environ::default()
        };
        environ
            .extensions
            .insert(RAW_PARAMS.to_owned(), params.clone());
        let page = render(&environ, false);
        assert!(!page.contains("<script"), "{page}");
        assert!(page.contains("<h2>1. The FastCGI PARAMS, as nginx/1.22.1 sent them</h2>"));
        assert!(page.contains("<tr><td>REQUEST_METHOD</td><td>GET</td><td>kept</td></tr>"));
        let left_out = "<td>left out: not a request variable (the web server&#39;s own)</td>";
        assert!(page.contains(&format!(
            "<tr><td>DOCUMENT_URI</td><td>/x</td>{left_out}</tr>"
        )));
        let httpoxy = "<td>left out HTTP_PROXY: it comes from the client&#39;s Proxy header";
        assert!(page.contains(&format!("<td>http://evil.example/</td>{httpoxy}")));
        assert!(page.contains("<tr><td>Status: 200 OK</td>"));
    }
}
