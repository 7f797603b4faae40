//! `examples/form.rs`, run in its own process as its header says, and sent forms both ways.
//!
//! Stage: **call app** — the example's, which decodes forms with `util::query` and
//! `util::read_form` — seen from outside, over a real socket (`form 0`: a free port).
//!
//! What a reader learns here: a form sent with GET and the same form sent with POST decode to
//! the same fields, in the order sent, repeats kept; `+` and `%20` are a space and `%2B` a plus;
//! each way a client can get a form wrong has its own status (400, 413, 415) and never a 500;
//! and no value reaches the page unescaped.

mod common;
mod server_process;

use std::process::Command;

use common::Response;
use server_process::{example_binary, ServerProcess};

/// `cargo run --example form -- 0`, in effect: the example on a free port, banner read.
fn start_form() -> ServerProcess {
    let mut command = Command::new(example_binary("form"));
    command.arg("0");
    let mut server = ServerProcess::spawn(command);
    server.wait_for_banner();
    assert!(
        server
            .banner
            .starts_with("form: development server at http://127.0.0.1:"),
        "{}",
        server.banner
    );
    server
}

fn get(server: &ServerProcess, target: &str) -> Response {
    let request = format!("GET {target} HTTP/1.1\r\nHost: x\r\n\r\n");
    common::request(server.addr, request.as_bytes())
}

/// A POST of `body` as an HTML form sends it (curl's `-d` too).
fn post(server: &ServerProcess, body: &str) -> Response {
    let request = format!(
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    common::request(server.addr, request.as_bytes())
}

/// The decoded fields a page shows, as `(name, value)` still HTML-escaped.
fn fields(response: &Response) -> Vec<(String, String)> {
    assert_eq!(response.status, 200, "{}", response.body_text());
    response
        .body_text()
        .lines()
        .filter_map(|line| line.strip_prefix("<tr><td>")?.strip_suffix("</td></tr>"))
        .map(|row| {
            let (name, value) = row.split_once("</td><td>").expect("two cells");
            (name.to_owned(), value.to_owned())
        })
        .collect()
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    expected
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect()
}

#[test]
fn the_page_has_both_forms_and_no_fields_until_some_are_sent() {
    let server = start_form();
    let response = get(&server, "/");
    assert_eq!(response.status, 200);
    assert_eq!(
        response.header("Content-Type"),
        Some("text/html; charset=utf-8")
    );
    let page = response.body_text();
    assert!(page.contains("<form method=\"get\">") && page.contains("<form method=\"post\">"));
    assert!(fields(&response).is_empty(), "{page}");
}

#[test]
fn the_documented_commands_print_what_the_header_says() {
    let source = std::fs::read_to_string("examples/form.rs").expect("read examples/form.rs");
    let server = start_form();
    let documented = |command: &str, prints: &[&str]| {
        assert!(source.contains(&format!("//!   {command}\n")), "{command}");
        let block: String = prints.iter().map(|l| format!("//!       {l}\n")).collect();
        assert!(source.contains(&format!("{command}\n{block}")), "{command}");
    };
    let grep = |response: &Response| -> Vec<String> {
        let page = response.body_text();
        page.lines()
            .filter(|line| line.contains("<tr><td>"))
            .map(str::to_owned)
            .collect()
    };

    let query_rows = [
        "<tr><td>name</td><td>Ada Lovelace</td></tr>",
        "<tr><td>tag</td><td>math</td></tr>",
        "<tr><td>tag</td><td>✓</td></tr>",
    ];
    documented(
        "curl -s 'http://127.0.0.1:8007/?name=Ada+Lovelace&tag=math&tag=%E2%9C%93' \
         | grep '<tr><td>'",
        &query_rows,
    );
    let response = get(&server, "/?name=Ada+Lovelace&tag=math&tag=%E2%9C%93");
    assert_eq!(grep(&response), query_rows);

    // curl joins its -d parts with &.
    let body_rows = [
        "<tr><td>name</td><td>a b c+d</td></tr>",
        "<tr><td>note</td><td>&lt;script&gt;</td></tr>",
    ];
    documented(
        "curl -s http://127.0.0.1:8007/ -d 'name=a+b%20c%2Bd' -d 'note=<script>' | grep '<tr><td>'",
        &body_rows,
    );
    assert_eq!(
        grep(&post(&server, "name=a+b%20c%2Bd&note=<script>")),
        body_rows
    );

    let bad = "400 Bad Request: bad form field \"name=100%\": \"%\" is not a percent-escape \
               (a % must be followed by two hex digits)";
    documented("curl -s http://127.0.0.1:8007/ -d 'name=100%'", &[bad]);
    let response = post(&server, "name=100%");
    assert_eq!(
        (response.status, response.body_text()),
        (400, format!("{bad}\n"))
    );

    let big = "413 Content Too Large: the form is larger than the 4096 bytes accepted";
    documented(
        "curl -s http://127.0.0.1:8007/ -d \"name=$(printf '%05000d' 0)\"",
        &[big],
    );
    let response = post(&server, &format!("name={}", "0".repeat(5000)));
    assert_eq!(
        (response.status, response.body_text()),
        (413, format!("{big}\n"))
    );
}

#[test]
fn repeated_names_keep_their_order_both_ways() {
    let server = start_form();
    let expected = pairs(&[("tag", "b"), ("name", "x"), ("tag", "a"), ("tag", "")]);
    assert_eq!(fields(&get(&server, "/?tag=b&name=x&tag=a&tag=")), expected);
    assert_eq!(fields(&post(&server, "tag=b&name=x&tag=a&tag=")), expected);
}

#[test]
fn plus_and_percent_20_are_a_space_and_percent_2b_is_a_plus_both_ways() {
    let server = start_form();
    let encoded = "q=one+two%20three%2Bfour&%2B=+";
    let expected = pairs(&[("q", "one two three+four"), ("+", " ")]);
    assert_eq!(fields(&get(&server, &format!("/?{encoded}"))), expected);
    assert_eq!(fields(&post(&server, encoded)), expected);
}

#[test]
fn a_bad_escape_is_a_400_in_the_query_and_in_the_body() {
    let server = start_form();
    for response in [get(&server, "/?q=%zz"), post(&server, "q=%zz")] {
        assert_eq!(response.status, 400, "{}", response.body_text());
        assert!(response.body_text().contains("\"%zz\""));
    }
    let not_utf8 = get(&server, "/?q=%FF");
    assert_eq!(not_utf8.status, 400);
}

#[test]
fn a_body_over_the_limit_is_a_413_with_or_without_a_length() {
    let server = start_form();
    // With a Content-Length, the length alone decides; chunked, the reading stops at 4097.
    assert_eq!(post(&server, &"a".repeat(4097)).status, 413);
    assert_eq!(fields(&post(&server, &"a".repeat(4096))).len(), 1);
    let chunk = "a".repeat(5000);
    let chunked = format!(
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Transfer-Encoding: chunked\r\n\r\n{:x}\r\n{chunk}\r\n0\r\n\r\n",
        chunk.len()
    );
    let response = common::request(server.addr, chunked.as_bytes());
    assert_eq!(response.status, 413, "{}", response.body_text());
}

#[test]
fn a_body_that_is_not_a_form_is_a_415() {
    let server = start_form();
    let request =
        "POST / HTTP/1.0\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}";
    let response = common::request(server.addr, request.as_bytes());
    assert_eq!(response.status, 415, "{}", response.body_text());
}

#[test]
fn hostile_names_and_values_are_shown_escaped() {
    let server = start_form();
    let hostile = "<script>alert('x')</script>\"&";
    let escaped = "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&quot;&amp;";
    let encoded = "%3Cscript%3Ealert('x')%3C/script%3E%22%26";
    for response in [
        get(&server, &format!("/?{encoded}={encoded}")),
        post(&server, &format!("{encoded}={encoded}")),
        post(&server, &format!("{hostile}=x").replace('&', "%26")),
    ] {
        assert!(
            !response.body_text().contains("<script"),
            "{}",
            response.body_text()
        );
        let (name, _) = &fields(&response)[0];
        assert_eq!(name, escaped);
    }
    // The query as sent is shown too, and escaped like the rest.
    let page = get(&server, &format!("/?{encoded}=1")).body_text();
    assert!(page.contains("<code>%3Cscript%3Ealert(&#39;x&#39;)%3C/script%3E%22%26=1</code>"));
}

#[test]
fn other_methods_get_a_405_naming_the_ones_that_work() {
    let server = start_form();
    let response = common::request(server.addr, b"PUT / HTTP/1.0\r\nContent-Length: 0\r\n\r\n");
    assert_eq!(response.status, 405);
    assert_eq!(response.header("Allow"), Some("GET, HEAD, POST"));
}
