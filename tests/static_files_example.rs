//! `examples/static_files.rs`, run against a directory made for the test, and attacked.
//!
//! Stage: **call app** — the example's — seen from outside, over a real socket, in the
//! example's own process (`static_files DIR 0`: the directory below, on a free port).
//!
//! The directory, in a fresh temporary folder:
//!
//! ```text
//!   top/secret.txt              "TOP-SECRET …"  outside the root: must never be sent
//!   top/root-evil/secret.txt    "TOP-SECRET …"  a sibling whose name starts with the root's
//!   top/root/                   the root the example serves
//!       index.html  hello.txt  style.css  data.json  PAGE.HTML  no-extension
//!       docs/                   no index.html: a listing; holds <b>&"x".txt
//!       %2e%2e/literal.txt      a directory really called %2e%2e
//!       inside-link  -> hello.txt               (Unix only, like all the symlinks)
//!       outside-link -> ../secret.txt
//!       absolute-link -> /…/top/secret.txt
//!       up  -> ..                                a directory symlink out of the root
//!       sibling -> ../root-evil
//! ```
//!
//! What a reader learns here: which request gets which answer, and that no spelling of a way
//! out — `..` raw, percent-encoded, behind a backslash, an absolute path, a NUL, a symlink —
//! brings back a byte of the secret. A segment that cannot be a file name is a 400; a name
//! that leads nowhere inside the root, symlinks out included, is a 404.

mod common;
mod server_process;

use std::fs;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::Response;
use server_process::{example_binary, ServerProcess};

const SECRET: &str = "TOP-SECRET 7f3a: this must never leave the server";

/// The directory tree in the module docs, removed again when dropped.
struct Site {
    top: PathBuf,
    root: PathBuf,
}

impl Site {
    fn new() -> Site {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let n = COUNT.fetch_add(1, Ordering::SeqCst);
        let top = std::env::temp_dir().join(format!("rgiref-static-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&top); // a leftover from a killed run
        let root = top.join("root");
        let write = |path: &str, text: &str| {
            let path = top.join(path);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, text).unwrap();
        };
        write("secret.txt", SECRET);
        write("root-evil/secret.txt", SECRET);
        write("root/index.html", "<h1>home</h1>\n");
        write("root/hello.txt", "hello, file\n");
        write("root/style.css", "h1 { color: teal }\n");
        write("root/data.json", "{\"ok\": true}\n");
        write("root/PAGE.HTML", "<p>shouting</p>\n");
        write("root/no-extension", "\x00\x01 bytes");
        write("root/docs/<b>&\"x\".txt", "an awkward name\n");
        write("root/docs/plain.txt", "plain\n");
        write("root/%2e%2e/literal.txt", "a directory named %2e%2e\n");
        #[cfg(unix)]
        {
            use std::os::unix::fs::symlink;
            symlink("hello.txt", root.join("inside-link")).unwrap();
            symlink("../secret.txt", root.join("outside-link")).unwrap();
            symlink(top.join("secret.txt"), root.join("absolute-link")).unwrap();
            symlink("..", root.join("up")).unwrap();
            symlink("../root-evil", root.join("sibling")).unwrap();
        }
        Site { top, root }
    }
}

impl Drop for Site {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.top);
    }
}

/// `cargo run --example static_files -- DIR 0`, in effect: the example serving `site`.
fn start(site: &Site) -> ServerProcess {
    let mut command = Command::new(example_binary("static_files"));
    command.arg(&site.root).arg("0");
    let mut server = ServerProcess::spawn(command);
    server.wait_for_banner();
    assert!(
        server
            .banner
            .starts_with("static_files: development server at http://127.0.0.1:"),
        "{}",
        server.banner
    );
    server
}

fn get(server: &ServerProcess, target: &str) -> Response {
    common::request(
        server.addr,
        format!("GET {target} HTTP/1.0\r\n\r\n").as_bytes(),
    )
}

#[test]
fn files_are_sent_with_their_type_and_length() {
    let site = Site::new();
    let server = start(&site);
    for (path, content_type) in [
        ("/hello.txt", "text/plain; charset=utf-8"),
        ("/style.css", "text/css; charset=utf-8"),
        ("/data.json", "application/json"),
        ("/PAGE.HTML", "text/html; charset=utf-8"),
        ("/no-extension", "application/octet-stream"),
        ("/index.html", "text/html; charset=utf-8"),
    ] {
        let response = get(&server, path);
        let expected = fs::read(site.root.join(&path[1..])).unwrap();
        assert_eq!(response.status, 200, "{path}: {response:?}");
        assert_eq!(
            response.header("Content-Type"),
            Some(content_type),
            "{path}"
        );
        let length = expected.len().to_string();
        assert_eq!(response.header("Content-Length"), Some(&*length), "{path}");
        assert_eq!(response.body, expected, "{path}");
    }
}

#[test]
fn head_gets_the_same_headers_and_no_body() {
    let site = Site::new();
    let server = start(&site);
    let get = get(&server, "/hello.txt");
    let head = common::request(server.addr, b"HEAD /hello.txt HTTP/1.0\r\n\r\n");
    assert_eq!(head.status, 200);
    assert_eq!(head.header("Content-Length"), get.header("Content-Length"));
    assert_eq!(head.header("Content-Type"), get.header("Content-Type"));
    assert!(head.body.is_empty(), "{head:?}");
}

#[test]
fn a_missing_file_is_a_404() {
    let site = Site::new();
    let server = start(&site);
    for path in ["/nothing.txt", "/docs/nothing/", "/hello.txt/x"] {
        assert_eq!(get(&server, path).status, 404, "{path}");
    }
}

#[test]
fn other_methods_get_405_and_the_methods_that_work() {
    let site = Site::new();
    let server = start(&site);
    for request in [
        &b"DELETE /hello.txt HTTP/1.0\r\n\r\n"[..],
        b"POST /hello.txt HTTP/1.0\r\nContent-Length: 5\r\n\r\nhello",
    ] {
        let response = common::request(server.addr, request);
        assert_eq!(response.status, 405, "{response:?}");
        assert_eq!(response.header("Allow"), Some("GET, HEAD"));
    }
}

#[test]
fn a_directory_gets_its_index_html_or_a_listing() {
    let site = Site::new();
    let server = start(&site);
    assert_eq!(get(&server, "/").body_text(), "<h1>home</h1>\n");
    // Without its slash, a directory is redirected: links relative to it would break.
    let redirect = get(&server, "/docs");
    assert_eq!(redirect.status, 301);
    assert_eq!(redirect.header("Location"), Some("/docs/"));
    let listing = get(&server, "/docs/");
    assert_eq!(listing.status, 200);
    assert_eq!(
        listing.header("Content-Type"),
        Some("text/html; charset=utf-8")
    );
    let page = listing.body_text();
    assert!(page.contains("<title>Index of /docs/</title>"), "{page}");
    assert!(
        page.contains("<li><a href=\"/docs/plain.txt\">plain.txt</a>"),
        "{page}"
    );
}

#[test]
fn a_listing_escapes_names_and_its_links_lead_to_the_files() {
    let site = Site::new();
    let server = start(&site);
    let page = get(&server, "/docs/").body_text();
    let link = "<li><a href=\"/docs/%3Cb%3E%26%22x%22.txt\">&lt;b&gt;&amp;&quot;x&quot;.txt</a>";
    assert!(page.contains(link), "{page}");
    assert!(
        !page.contains("<b>"),
        "a name must not become markup: {page}"
    );
    let file = get(&server, "/docs/%3Cb%3E%26%22x%22.txt");
    assert_eq!(
        (file.status, file.body_text().as_str()),
        (200, "an awkward name\n")
    );
}

/// Every way out that needs no symlink, with the status it gets and why.
#[test]
fn no_spelling_of_a_way_out_gets_out() {
    let site = Site::new();
    let server = start(&site);
    // The secret's absolute path, as a URL path (a temporary directory's path is plain ASCII).
    let outside = site.top.join("secret.txt").display().to_string();
    let attempts: Vec<(String, u16, &str)> = vec![
        ("/../secret.txt".into(), 400, "a .. segment"),
        (
            "/docs/../../secret.txt".into(),
            400,
            "a .. segment, further in",
        ),
        (
            "/%2e%2e/secret.txt".into(),
            400,
            "decoded once by the server: a .. segment",
        ),
        ("/%2E%2E/secret.txt".into(), 400, "the same, upper case"),
        ("/.%2e/secret.txt".into(), 400, "the same, half encoded"),
        (
            "/..%2Fsecret.txt".into(),
            400,
            "%2F decodes to /, so .. is a segment",
        ),
        (
            "/..\\secret.txt".into(),
            400,
            "a raw backslash, which the server lets through",
        ),
        ("/..%5Csecret.txt".into(), 400, "an encoded backslash"),
        (
            "http://localhost/../secret.txt".into(),
            400,
            "absolute-form, a .. segment",
        ),
        (
            "/secret.txt%00".into(),
            400,
            "%00: the server refuses it before the app runs",
        ),
        ("/%00/../secret.txt".into(), 400, "the same"),
        (
            "/\0/../secret.txt".into(),
            400,
            "a raw NUL: the request parser refuses it",
        ),
        (
            "/%252e%252e/secret.txt".into(),
            404,
            "decoded once to %2e%2e, a plain name",
        ),
        (
            format!("/{outside}"),
            404,
            "//abs is reduced to /abs, looked for inside the root",
        ),
        (
            format!("/%2F{outside}"),
            404,
            "the same, the second slash encoded",
        ),
        (
            format!("/docs/{outside}"),
            404,
            "an absolute path further in",
        ),
        ("/secret.txt".into(), 404, "the secret is not in the root"),
    ];
    for (target, status, why) in &attempts {
        let response = get(&server, target);
        assert_eq!(response.status, *status, "{target:?} ({why}): {response:?}");
        let raw = String::from_utf8_lossy(&response.raw);
        assert!(
            !raw.contains("TOP-SECRET"),
            "{target:?} ({why}) leaked: {raw}"
        );
    }
    // And a name that only looks like a way out is an ordinary directory.
    let literal = get(&server, "/%252e%252e/literal.txt");
    assert_eq!(literal.body_text(), "a directory named %2e%2e\n");
}

#[cfg(unix)]
#[test]
fn a_symlink_out_is_a_404_and_a_log_line_and_one_inside_is_followed() {
    let site = Site::new();
    // The links do lead to the secret: read through them here, the secret is there.
    assert_eq!(
        fs::read_to_string(site.root.join("outside-link")).unwrap(),
        SECRET
    );
    assert_eq!(
        fs::read_to_string(site.root.join("sibling/secret.txt")).unwrap(),
        SECRET
    );
    let server = start(&site);
    for (target, why) in [
        ("/outside-link", "a relative symlink to ../secret.txt"),
        ("/absolute-link", "an absolute symlink to the secret"),
        ("/up/secret.txt", "through a directory symlink to .."),
        (
            "/up/",
            "the parent directory itself, which must not be listed",
        ),
        (
            "/sibling/secret.txt",
            "root-evil starts with the root's name, and is not in it",
        ),
    ] {
        let response = get(&server, target);
        assert_eq!(response.status, 404, "{target:?} ({why}): {response:?}");
        let raw = String::from_utf8_lossy(&response.raw);
        assert!(
            !raw.contains("TOP-SECRET"),
            "{target:?} ({why}) leaked: {raw}"
        );
    }
    let log = server.wait_for_stderr(
        |log| log.contains("refused /sibling/secret.txt"),
        "the log line for the last refusal",
    );
    assert!(
        log.contains("static_files: refused /outside-link: it leads outside the served directory"),
        "{log}"
    );
    // Inside the root, a symlink is followed; the Content-Type is the name's (no extension).
    let inside = get(&server, "/inside-link");
    assert_eq!(inside.status, 200);
    assert_eq!(inside.body_text(), "hello, file\n");
    assert_eq!(
        inside.header("Content-Type"),
        Some("application/octet-stream")
    );
    // What counts is where a path ends up: out through `up` and back in is inside.
    assert_eq!(
        get(&server, "/up/root/hello.txt").body_text(),
        "hello, file\n"
    );
}
