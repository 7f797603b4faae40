//! A static file server: an application that turns a URL path into a file — and never into a
//! file outside the directory it serves.
//!
//! Stage: **call app**. `PATH_INFO` arrives percent-decoded exactly once (the byte rule in
//! `src/gateway/environ.rs`), so this application decodes nothing itself. What is left is the
//! part every static file server has got wrong at some time: deciding which file a path names.
//!
//! Run it from the crate's root (it serves the current directory unless told otherwise):
//!
//! ```text
//!   cargo run --example static_files                # serves . on port 8004
//!   cargo run --example static_files -- src 8014    # or: serves src/ on port 8014
//! ```
//!
//! and, in a second terminal, try (the line after each says what comes back):
//!
//! ```text
//!   curl -i http://127.0.0.1:8004/
//!       200, Content-Type: text/html; charset=utf-8 — a listing, as . has no index.html
//!   curl -I http://127.0.0.1:8004/README.md
//!       200, Content-Type: text/markdown; charset=utf-8, and the file's Content-Length
//!   curl -I http://127.0.0.1:8004/Cargo.toml
//!       200, Content-Type: application/octet-stream (toml is not in the table)
//!   curl -i http://127.0.0.1:8004/src
//!       301, Location: /src/ (so that links relative to the directory work)
//!   curl -i --path-as-is http://127.0.0.1:8004/../Cargo.toml
//!       400, "a path segment is ..": curl removes ../ itself unless told not to
//!   curl -i http://127.0.0.1:8004/%2e%2e/Cargo.toml
//!       400 too: the server decoded %2e%2e to .. before this application saw it
//!   curl -i http://127.0.0.1:8004/%252e%252e/Cargo.toml
//!       404: %25 is decoded to %, once, so this asks for a directory named %2e%2e
//!   curl -i -X DELETE http://127.0.0.1:8004/README.md
//!       405, Allow: GET, HEAD
//! ```
//!
//! How a path becomes a file, and what each way out of the directory gets:
//!
//! 1. `PATH_INFO` is split at `/`; empty and `.` segments are skipped. A segment that is `..`,
//!    holds a `\` or a NUL, or is not a single plain name on this OS (`C:` on Windows) gets
//!    **400 Bad Request**: no file anywhere has such a name, so the request is malformed for a
//!    file server whatever the directory holds (Go's `http.ServeFile` answers `..` the same
//!    way, counting `\` as a slash; its `FileServer` tidies `..` away instead). Browsers never
//!    send these; they resolve `..` themselves. A `\` is a separator on Windows and a letter on
//!    Unix: refusing it everywhere makes both behave alike. A NUL should never get here (the
//!    server answers `%00` with 400 before any application runs), but an application cannot
//!    know which transport it runs behind, so it checks anyway.
//! 2. The segments are pushed onto the root one at a time — never `root.join(PATH_INFO)`,
//!    because joining an absolute path *replaces* the base: `Path::new("/srv").join("/etc")` is
//!    `/etc`. So an absolute path (`//etc/passwd`, which the server reduces to `/etc/passwd`, or
//!    `/a//etc/passwd`) is looked for inside the root, and gets 404.
//! 3. The result is canonicalized (`fs::canonicalize` resolves every symlink) and must lie under
//!    the canonical root, compared component by component (`Path::starts_with`: `/srv/www-old`
//!    is not under `/srv/www`, though a string comparison says it is). A symlink leading out
//!    gets **404 Not Found** and a line in the log: within the served directory that name has
//!    no content, and a 403 would tell the client that something is there. A symlink that stays
//!    inside is followed, as nginx and Apache do by default: it is how a site gives one of its
//!    files a second name. The Content-Type comes from the name asked for, as in nginx.
//! 4. Only regular files are sent: opening a FIFO would block our only thread.
//!
//! Left out, on purpose: `If-Modified-Since` and `ETag` (every GET sends the whole file),
//! `Range`, compression, and hiding dot-files (`.git` is served like the rest: point this at a
//! directory you mean to publish). And one race: between the check and the open, someone who can
//! write inside the root could swap a directory for a symlink. Closing it takes `openat2` with
//! `RESOLVE_BENEATH` (Linux) or an `O_NOFOLLOW` walk, and std offers neither.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Component, Path, PathBuf};

use rgiref::gateway::{AppError, Body, Environ, StartResponse, Status};
use rgiref::server::Server;
use rgiref::validate::validator;

/// Content-Type by file extension (lower-cased); anything else is `application/octet-stream`,
/// which a browser saves instead of showing. Text types say their charset (RFC 9110 §8.3.2),
/// or browsers guess it; JSON has none to say (RFC 8259 §11: it is always UTF-8).
const TYPES: &[(&str, &str)] = &[
    ("html", "text/html; charset=utf-8"),
    ("css", "text/css; charset=utf-8"),
    ("js", "text/javascript; charset=utf-8"), // RFC 9239
    ("json", "application/json"),
    ("txt", "text/plain; charset=utf-8"),
    ("md", "text/markdown; charset=utf-8"), // RFC 7763
    ("png", "image/png"),
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("gif", "image/gif"),
    ("svg", "image/svg+xml"),
    ("ico", "image/vnd.microsoft.icon"),
    ("wasm", "application/wasm"), // WebAssembly.instantiateStreaming insists on it
    ("pdf", "application/pdf"),
];

const TEXT: (&str, &str) = ("Content-Type", "text/plain; charset=utf-8");

/// Answers GET and HEAD with the files under `root`, which is canonical (see `main`).
fn serve(
    root: &Path,
    environ: &mut Environ,
    start_response: &mut StartResponse,
) -> Result<Body, AppError> {
    if !matches!(environ.method(), "GET" | "HEAD") {
        // RFC 9110 §15.5.6: a 405 says which methods would work. HEAD needs nothing of its own:
        // the server sends the same headers as for GET, and no body.
        start_response.start(Status::METHOD_NOT_ALLOWED, [("Allow", "GET, HEAD"), TEXT])?;
        return Ok(Body::from(
            "405: this server only sends files (GET, HEAD)\n",
        ));
    }
    let mut segments = match segments(environ.path_info()) {
        Ok(segments) => segments,
        Err(why) => return answer(start_response, Status::BAD_REQUEST, why),
    };
    let Some(mut real) = inside_root(root, &segments, environ)? else {
        return answer(start_response, Status::NOT_FOUND, "404: no such file\n");
    };
    if real.is_dir() {
        if !environ.path_info().ends_with('/') {
            let location = format!("{}/", url_path(&segments));
            start_response.start(Status::MOVED_PERMANENTLY, [("Location", &*location), TEXT])?;
            return Ok(Body::from(format!("301: see {location}\n")));
        }
        if !real.join("index.html").exists() {
            return listing(start_response, &real, &segments);
        }
        // The index goes through the same checks as any file: it may be a symlink too.
        segments.push("index.html".to_owned());
        match inside_root(root, &segments, environ)? {
            Some(index) => real = index,
            None => return answer(start_response, Status::NOT_FOUND, "404: no such file\n"),
        }
    }
    if !real.is_file() {
        return answer(
            start_response,
            Status::NOT_FOUND,
            "404: not a regular file\n",
        );
    }
    let file = match File::open(&real) {
        Ok(file) => file,
        Err(error) if error.kind() == io::ErrorKind::PermissionDenied => {
            return answer(start_response, Status::FORBIDDEN, "403: not readable\n");
        }
        Err(error) => return Err(error.into()), // the server logs it and answers 500
    };
    let name = segments.last().map_or("", String::as_str);
    start_response.start(Status::OK, [("Content-Type", content_type(name))])?;
    Ok(Body::file(file)?) // Content-Length from the file's size; sent in blocks
}

/// The segments of `path_info` (rule 1 in the header), or why it names no file (a 400).
fn segments(path_info: &str) -> Result<Vec<String>, &'static str> {
    let mut segments = Vec::new();
    for segment in path_info.split('/') {
        if segment.is_empty() || segment == "." {
            continue;
        }
        if segment == ".." {
            return Err("400: a path segment is \"..\", which would climb out of the directory\n");
        }
        if segment.contains(['\\', '\0']) {
            return Err("400: a path segment holds a backslash or a NUL\n");
        }
        // One plain name on this OS: on Windows, `C:` would be a drive, not a name.
        let mut parts = Path::new(segment).components();
        if !matches!(
            (parts.next(), parts.next()),
            (Some(Component::Normal(_)), None)
        ) {
            return Err("400: a path segment is not a plain file name\n");
        }
        segments.push(segment.to_owned());
    }
    Ok(segments)
}

/// The real path of `segments` under `root` (rules 2 and 3), or `None` for "no such file": it
/// does not exist, or it resolves to somewhere outside `root` (which is logged).
fn inside_root(
    root: &Path,
    segments: &[String],
    environ: &mut Environ,
) -> Result<Option<PathBuf>, AppError> {
    let mut wanted = root.to_path_buf();
    wanted.extend(segments);
    let real = match fs::canonicalize(&wanted) {
        Ok(real) => real,
        // Missing, a file used as a directory (`/README.md/x`), a name too long, a symlink
        // loop: whatever the reason, there is nothing here to send. Only the odd ones are logged.
        Err(error) => {
            if error.kind() != io::ErrorKind::NotFound {
                writeln!(
                    environ.errors,
                    "static_files: {}: {error}",
                    url_path(segments)
                )?;
            }
            return Ok(None);
        }
    };
    if !real.starts_with(root) {
        let asked = url_path(segments);
        writeln!(
            environ.errors,
            "static_files: refused {asked}: it leads outside the served directory"
        )?;
        return Ok(None);
    }
    Ok(Some(real))
}

/// An HTML list of the directory's entries, sorted. Each name is escaped for HTML and each
/// link percent-encoded, because a file may well be called `<script>` or `a&b`. Names that are
/// not UTF-8 are left out: no `PATH_INFO` could name them (the server refuses such paths).
fn listing(
    start_response: &mut StartResponse,
    directory: &Path,
    segments: &[String],
) -> Result<Body, AppError> {
    let mut entries = Vec::new();
    for entry in fs::read_dir(directory)? {
        let entry = entry?;
        if let Some(name) = entry.file_name().to_str() {
            entries.push((name.to_owned(), entry.path().is_dir()));
        }
    }
    entries.sort();
    let title = html_escape(&format!(
        "{}/",
        segments.iter().map(|s| format!("/{s}")).collect::<String>()
    ));
    let mut page = format!(
        "<!DOCTYPE html>\n<meta charset=\"utf-8\">\n<title>Index of {title}</title>\n\
         <h1>Index of {title}</h1>\n<ul>\n"
    );
    for (name, is_dir) in entries {
        let slash = if is_dir { "/" } else { "" };
        let mut path = segments.to_vec();
        path.push(name.clone());
        // `url_path` leaves nothing HTML treats specially, so the link needs no escaping.
        let href = url_path(&path);
        page.push_str(&format!(
            "<li><a href=\"{href}{slash}\">{}{slash}</a>\n",
            html_escape(&name)
        ));
    }
    page.push_str("</ul>\n");
    start_response.start(Status::OK, [("Content-Type", "text/html; charset=utf-8")])?;
    Ok(Body::from(page))
}

/// `/` and the segments, each percent-encoded (RFC 3986 §2.1) but for the unreserved
/// characters, so the result is a URL path whatever the names hold.
fn url_path(segments: &[String]) -> String {
    let mut url = String::new();
    for segment in segments {
        url.push('/');
        for b in segment.bytes() {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                url.push(char::from(b));
            } else {
                url.push_str(&format!("%{b:02X}"));
            }
        }
    }
    url
}

/// `text` safe inside HTML text and inside a quoted attribute.
fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// The Content-Type for a file called `name`, from [`TYPES`].
fn content_type(name: &str) -> &'static str {
    let extension = Path::new(name)
        .extension()
        .and_then(|e| e.to_str())
        .unwrap_or("");
    TYPES
        .iter()
        .find(|(known, _)| known.eq_ignore_ascii_case(extension))
        .map_or("application/octet-stream", |(_, content_type)| content_type)
}

/// A short plain-text answer.
fn answer(
    start_response: &mut StartResponse,
    status: Status,
    text: &str,
) -> Result<Body, AppError> {
    start_response.start(status, [TEXT])?;
    Ok(Body::from(text))
}

/// The port used when none is given: not 8000, so this runs beside `cargo run`.
const DEFAULT_PORT: &str = "8004";

fn main() {
    let mut args = std::env::args().skip(1);
    let directory = args.next().unwrap_or_else(|| ".".to_owned());
    let port = args.next().unwrap_or_else(|| DEFAULT_PORT.to_owned());
    // Canonical once, here: every resolved path is compared with this one (rule 3).
    let root = match fs::canonicalize(&directory) {
        Ok(root) if root.is_dir() => root,
        _ => {
            eprintln!("static_files: {directory:?} is not a directory (usage: cargo run --example static_files -- DIR [PORT])");
            std::process::exit(2);
        }
    };
    let address = format!("127.0.0.1:{port}");
    let app = move |environ: &mut Environ, start_response: &mut StartResponse| {
        serve(&root, environ, start_response)
    };
    // Under the validator, as every example: a broken rule is a log line, not a silent bug.
    match Server::bind(&address, validator(app)) {
        Ok(server) => {
            println!(
                "static_files: development server at {} (Ctrl+C to quit)",
                server.url()
            );
            server.serve_forever();
        }
        Err(error) => {
            eprintln!("static_files: cannot listen on {address}: {error} (give another port: cargo run --example static_files -- . 8014)");
            std::process::exit(2);
        }
    }
}
