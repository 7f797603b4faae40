//! One request, three wire formats: the same request as a web server hands it to a CGI
//! program, to a FastCGI responder and to an SCGI server — and the one environ all three
//! become.
//!
//! Stage: the web server's side of **build environ** (turning a parsed request into CGI
//! variables, then into each protocol's bytes), and the program's side of **read request**
//! and **build environ** (our own readers taking those bytes apart again).
//!
//! Run it: `cargo run --example formats` prints the chapter "One request, three ways" of
//! TUTORIAL.md — the same text, byte for byte (a test checks it). What to notice:
//!
//! * Every format carries the same thing: the CGI meta-variables of RFC 3875 §4.1, and the
//!   body. CGI puts the variables in the process environment and the body on standard input;
//!   FastCGI packs both into records on a socket; SCGI into one netstring and the bytes after.
//! * The program's side of each is a few dozen lines in this crate, and all three end in the
//!   same function, `rgiref::cgi::environ_variables`: after it, nothing can tell which
//!   protocol brought the request. That is the answer to the thread's "wsgiref has absolutely
//!   nothing to do with FCGI/SCGI/CGI?": each protocol is a way of carrying the same
//!   variables to a program, and the gateway interface is what the program sees afterwards.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use rgiref::cgi::environ_variables;
use rgiref::fastcgi::record::{
    parse_pairs, push_pair, push_record, read_record, type_name, Header, BEGIN_REQUEST, HEADER_LEN,
    PARAMS, RESPONDER, STDIN,
};
use rgiref::http::{body_framing, cgi_variables, read_request_head, ConnectionInfo, Limits};
use rgiref::scgi;

/// CGI variables in the order a web server sends them.
type Variables = Vec<(String, String)>;

/// The request every format carries: a form posted to `/hello`.
const REQUEST: &[u8] = b"POST /hello?lang=en HTTP/1.1\r\n\
Host: localhost:8080\r\n\
Content-Type: application/x-www-form-urlencoded\r\n\
Content-Length: 11\r\n\
\r\n\
greeting=hi";

fn main() {
    match render() {
        Ok(text) => print!("{text}"),
        Err(message) => {
            eprintln!("formats: {message}");
            std::process::exit(1);
        }
    }
}

/// The whole chapter's demonstration, as text.
fn render() -> Result<String, String> {
    let (vars, body) = web_server_side()?;
    let mut out = String::new();
    show_request(&mut out);
    let cgi_env = as_cgi(&mut out, &vars, &body);
    let fastcgi = as_fastcgi(&mut out, &vars, &body)?;
    let scgi = as_scgi(&mut out, &vars, &body);
    let environs = [
        ("CGI", cgi_program_side(&cgi_env)?),
        ("FastCGI", fastcgi_responder_side(&fastcgi)?),
        ("SCGI", scgi_server_side(&scgi)?),
    ];
    show_environ(&mut out, &environs)?;
    Ok(out)
}

/// What the web server in front does first: parse the HTTP request into CGI variables, and
/// set the body aside. (Here our own HTTP parser plays the web server.)
fn web_server_side() -> Result<(Variables, Vec<u8>), String> {
    let mut wire = REQUEST;
    let head = read_request_head(&mut wire, &Limits::default()).map_err(|e| e.to_string())?;
    let framing = body_framing(&head).map_err(|e| e.to_string())?;
    let connection = ConnectionInfo {
        local: "127.0.0.1:8080".parse().map_err(|_| "a local address")?,
        peer: "127.0.0.1:51000".parse().map_err(|_| "a peer address")?,
        server_software: "nginx/1.22.1".to_owned(),
    };
    let cgi = cgi_variables(&head, framing, &connection).map_err(|e| e.to_string())?;
    // SCGI wants CONTENT_LENGTH first; the rest in the order the web server likes (sorted here).
    let mut vars: Vec<(String, String)> = cgi.vars.into_iter().collect();
    vars.sort_by_key(|(name, _)| name != "CONTENT_LENGTH");
    Ok((vars, wire.to_vec()))
}

fn show_request(out: &mut String) {
    out.push_str("The request, as the browser sent it:\n\n");
    for line in REQUEST.split_inclusive(|&b| b == b'\n') {
        let _ = writeln!(out, "    {}", visible(line));
    }
    out.push_str(
        "\nThe web server parses it into the CGI variables of RFC 3875 §4.1 and the body, then\n\
         hands both to the program, in one of three formats.\n",
    );
}

/// CGI (RFC 3875 §4, §4.2): the variables become the new process's environment, and the body
/// is written to its standard input. Returns the environment, as `NAME=value` byte strings.
fn as_cgi(out: &mut String, vars: &[(String, String)], body: &[u8]) -> Vec<(Vec<u8>, Vec<u8>)> {
    out.push_str(
        "\n1. CGI: a new process, the variables in its environment, the body on its stdin\n\n",
    );
    let mut env = Vec::new();
    for (name, value) in vars {
        let _ = writeln!(out, "    {name}={value}");
        env.push((name.clone().into_bytes(), value.clone().into_bytes()));
    }
    let _ = writeln!(
        out,
        "\n    stdin: {:?} ({} bytes; the program reads exactly CONTENT_LENGTH)",
        String::from_utf8_lossy(body),
        body.len()
    );
    env
}

/// FastCGI (FastCGI 1.0 §5): BEGIN_REQUEST, the variables as name-value pairs in PARAMS
/// records, an empty PARAMS record, the body in STDIN records, an empty STDIN record.
fn as_fastcgi(out: &mut String, vars: &[(String, String)], body: &[u8]) -> Result<Vec<u8>, String> {
    out.push_str(
        "\n2. FastCGI: records on a connection, each an 8-byte header and its content\n\n",
    );
    let mut pairs = Vec::new();
    for (name, value) in vars {
        push_pair(&mut pairs, name.as_bytes(), value.as_bytes()).map_err(|e| e.message)?;
    }
    let begin = [0, RESPONDER as u8, 0, 0, 0, 0, 0, 0]; // role RESPONDER, flags 0, reserved
    let mut wire = Vec::new();
    push_record(&mut wire, BEGIN_REQUEST, 1, &begin);
    push_record(&mut wire, PARAMS, 1, &pairs);
    push_record(&mut wire, PARAMS, 1, &[]);
    push_record(&mut wire, STDIN, 1, body);
    push_record(&mut wire, STDIN, 1, &[]);
    show_records(out, &wire)?;
    Ok(wire)
}

/// Each record of `wire`: its header in hex with the fields named, then what it carries.
fn show_records(out: &mut String, mut wire: &[u8]) -> Result<(), String> {
    while wire.len() >= HEADER_LEN {
        let mut header = [0u8; HEADER_LEN];
        header.copy_from_slice(&wire[..HEADER_LEN]);
        let parsed = Header::parse(header);
        let _ = writeln!(
            out,
            "    {}   version {}, {}, request {}, {} content bytes, {} padding",
            hex(&header),
            parsed.version,
            type_name(parsed.kind),
            parsed.request_id,
            parsed.content_length,
            parsed.padding_length
        );
        let length = usize::from(parsed.content_length);
        let content = &wire[HEADER_LEN..HEADER_LEN + length];
        show_content(out, parsed.kind, content)?;
        wire = &wire[HEADER_LEN + length + usize::from(parsed.padding_length)..];
    }
    Ok(())
}

/// What one record carries, in words.
fn show_content(out: &mut String, kind: u8, content: &[u8]) -> Result<(), String> {
    match kind {
        _ if content.is_empty() => out.push_str("        (empty: the end of this stream)\n"),
        BEGIN_REQUEST => {
            let _ = writeln!(
                out,
                "        {}   role RESPONDER, flags 0 (close the connection after this request)",
                hex(content)
            );
        }
        PARAMS => {
            for (name, value) in parse_pairs(content).map_err(|e| e.message)? {
                // The length bytes in front of the pair, computed from it again (one byte each
                // here: every name and value is shorter than 128 bytes).
                let prefix = length_bytes(name.len()).chain(length_bytes(value.len()));
                let prefix: Vec<u8> = prefix.collect();
                let _ = writeln!(
                    out,
                    "        {:<12} {}={}",
                    hex(&prefix),
                    String::from_utf8_lossy(name),
                    String::from_utf8_lossy(value)
                );
            }
        }
        _ => {
            let _ = writeln!(out, "        {:?}", String::from_utf8_lossy(content));
        }
    }
    Ok(())
}

/// A name-value length as FastCGI writes it: one byte below 128, else four with the top bit set.
fn length_bytes(length: usize) -> impl Iterator<Item = u8> {
    let bytes = if length < 128 {
        vec![length as u8]
    } else {
        (length as u32 | 0x8000_0000).to_be_bytes().to_vec()
    };
    bytes.into_iter()
}

/// SCGI: one netstring — `length:` then `NAME NUL value NUL` pairs then `,` — then the body.
fn as_scgi(out: &mut String, vars: &[(String, String)], body: &[u8]) -> Vec<u8> {
    out.push_str("\n3. SCGI: one netstring on a connection, then the body (␀ is a NUL byte)\n\n");
    let mut pairs: Vec<(&str, &str)> = vars.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
    pairs.insert(1, ("SCGI", "1")); // after CONTENT_LENGTH, which must come first
    let mut header = Vec::new();
    for (name, value) in &pairs {
        header.extend_from_slice(name.as_bytes());
        header.push(0);
        header.extend_from_slice(value.as_bytes());
        header.push(0);
    }
    let _ = writeln!(
        out,
        "    {:<20} the header's length in decimal, a colon",
        format!("{}:", header.len())
    );
    for (name, value) in &pairs {
        // ␀ stands for the NUL byte that ends each name and each value.
        let _ = writeln!(out, "    {name}␀{value}␀");
    }
    let _ = writeln!(out, "    {:<20} the netstring's end", ",");
    let _ = writeln!(
        out,
        "    {:<20} the body: exactly CONTENT_LENGTH bytes",
        String::from_utf8_lossy(body)
    );
    let mut wire = format!("{}:", header.len()).into_bytes();
    wire.extend_from_slice(&header);
    wire.push(b',');
    wire.extend_from_slice(body);
    wire
}

/// A CGI program's side: its environment through `environ_variables`.
fn cgi_program_side(env: &[(Vec<u8>, Vec<u8>)]) -> Result<BTreeMap<String, String>, String> {
    let pairs = env.iter().map(|(n, v)| (n.as_slice(), v.as_slice()));
    Ok(environ_variables(pairs).map_err(|e| e.to_string())?.vars)
}

/// A FastCGI responder's side: read the records back, collect the PARAMS stream, take its
/// pairs apart, and through `environ_variables`.
fn fastcgi_responder_side(mut wire: &[u8]) -> Result<BTreeMap<String, String>, String> {
    let mut params = Vec::new();
    while let Some(record) = read_record(&mut wire).map_err(|e| e.to_string())? {
        if record.kind == PARAMS {
            params.extend_from_slice(&record.content);
        }
    }
    let pairs = parse_pairs(&params).map_err(|e| e.message)?;
    Ok(environ_variables(pairs).map_err(|e| e.to_string())?.vars)
}

/// An SCGI server's side: read the netstring back, and through `environ_variables`.
fn scgi_server_side(mut wire: &[u8]) -> Result<BTreeMap<String, String>, String> {
    let head = scgi::read_head(&mut wire, &scgi::Limits::default()).map_err(|e| e.to_string())?;
    Ok(environ_variables(head.pairs())
        .map_err(|e| e.to_string())?
        .vars)
}

/// The environ the three programs built: one, if they agree.
fn show_environ(
    out: &mut String,
    environs: &[(&str, BTreeMap<String, String>)],
) -> Result<(), String> {
    let (_, first) = &environs[0];
    for (name, other) in &environs[1..] {
        if other != first {
            return Err(format!("the {name} environ differs from the CGI one"));
        }
    }
    out.push_str(
        "\nThe program's side of each reads its format back and passes the variables through\n\
         rgiref::cgi::environ_variables. All three give the same environ:\n\n",
    );
    for (name, value) in first {
        let _ = writeln!(out, "    {name} = {value:?}");
    }
    Ok(())
}

/// Bytes as two-digit hex, separated by spaces.
fn hex(bytes: &[u8]) -> String {
    let digits: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
    digits.join(" ")
}

/// A line with `\r` and `\n` written as escapes.
fn visible(line: &[u8]) -> String {
    String::from_utf8_lossy(line)
        .replace('\r', "\\r")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_environs_agree() {
        let text = render().expect("the demonstration runs");
        assert!(text.contains("All three give the same environ"));
        assert!(text.contains("    PATH_INFO = \"/hello\""), "{text}");
    }

    #[test]
    fn the_tutorial_shows_exactly_what_this_prints() {
        let tutorial = std::fs::read_to_string("TUTORIAL.md").expect("TUTORIAL.md");
        let start = tutorial
            .find("<!-- formats: begin -->\n```text\n")
            .expect("the chapter marks where the output starts")
            + "<!-- formats: begin -->\n```text\n".len();
        let end = tutorial[start..]
            .find("```\n<!-- formats: end -->")
            .expect("and where it ends")
            + start;
        let printed = render().expect("the demonstration runs");
        assert_eq!(
            &tutorial[start..end],
            printed,
            "TUTORIAL.md's chapter must show what `cargo run --example formats` prints; \
             paste its output between the markers"
        );
    }
}
