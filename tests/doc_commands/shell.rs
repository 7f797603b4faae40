//! The shell's side of `tests/doc_commands.rs`: splitting a command line into words the way
//! `sh` does, and normalizing output so that what varies between runs compares equal.
//!
//! Interface:
//! * [`split`] gives a command line's words (quotes removed) and where a `#` comment starts.
//! * [`Normalize`] rewrites the ports the test chose back to the ones the document shows, and
//!   blanks `Date:` values and millisecond counts.

use std::collections::BTreeMap;

/// A command line split into words, as `sh` would split it (single and double quotes,
/// backslashes); `comment` is the byte offset of a `#` that starts a comment, if any.
#[derive(Debug, PartialEq)]
pub struct Words {
    pub words: Vec<String>,
    pub comment: Option<usize>,
}

/// Splits `line` into words. `Err` for an unclosed quote.
pub fn split(line: &str) -> Result<Words, String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None; // None between words
    let mut chars = line.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        match c {
            ' ' | '\t' => {
                words.extend(word.take());
            }
            '#' if word.is_none() => {
                return Ok(Words {
                    words,
                    comment: Some(at),
                })
            }
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some((_, '\'')) => break,
                        Some((_, c)) => w.push(c),
                        None => return Err(format!("an unclosed ' in {line:?}")),
                    }
                }
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some((_, '"')) => break,
                        Some((_, '\\')) => match chars.next() {
                            Some((_, c @ ('"' | '\\' | '$' | '`'))) => w.push(c),
                            Some((_, c)) => {
                                w.push('\\');
                                w.push(c);
                            }
                            None => return Err(format!("an unclosed \" in {line:?}")),
                        },
                        Some((_, c)) => w.push(c),
                        None => return Err(format!("an unclosed \" in {line:?}")),
                    }
                }
            }
            '\\' => {
                let w = word.get_or_insert_with(String::new);
                if let Some((_, c)) = chars.next() {
                    w.push(c);
                }
            }
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    Ok(Words {
        words,
        comment: None,
    })
}

/// True for `NAME=value`, a variable assignment before (or, for `env`, among) the words.
pub fn is_assignment(word: &str) -> bool {
    word.split_once('=').is_some_and(|(name, _)| {
        !name.is_empty()
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            && !name.starts_with(|c: char| c.is_ascii_digit())
    })
}

/// Every port of `127.0.0.1:PORT` in `text`.
pub fn loopback_ports(text: &str) -> Vec<u16> {
    let mut ports = Vec::new();
    for (at, _) in text.match_indices("127.0.0.1:") {
        let digits: String = text[at + "127.0.0.1:".len()..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if let Ok(port) = digits.parse() {
            ports.push(port);
        }
    }
    ports
}

/// `text` with each `127.0.0.1:FROM` (not followed by a digit) made `127.0.0.1:TO`.
pub fn replace_ports(text: &str, ports: &BTreeMap<u16, u16>) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("127.0.0.1:") {
        let after = at + "127.0.0.1:".len();
        out.push_str(&rest[..after]);
        rest = &rest[after..];
        let digits = rest.len() - rest.trim_start_matches(|c: char| c.is_ascii_digit()).len();
        let port = rest[..digits].parse().ok().and_then(|p: u16| ports.get(&p));
        match port {
            Some(to) => out.push_str(&to.to_string()),
            None => out.push_str(&rest[..digits]),
        }
        rest = &rest[digits..];
    }
    out.push_str(rest);
    out
}

/// How output is made comparable with what a document shows. Applied to both sides:
/// * each port the test chose is written back as the document's (`127.0.0.1:41023` →
///   `127.0.0.1:8000`);
/// * a `Date:` header's value becomes `…` (`Date: Wed, 02 Dec 2026 06:10:00 GMT` →
///   `Date: …`);
/// * a count of milliseconds becomes `…` (`2001 ms` → `… ms`);
/// * trailing spaces go.
pub struct Normalize {
    /// The test's port → the document's.
    pub ports_back: BTreeMap<u16, u16>,
}

impl Normalize {
    pub fn line(&self, line: &str) -> String {
        let line = replace_ports(line, &self.ports_back);
        let line = blank_date(&line);
        blank_milliseconds(&line).trim_end().to_owned()
    }

    pub fn lines(&self, text: &str) -> Vec<String> {
        text.lines().map(|line| self.line(line)).collect()
    }
}

fn blank_date(line: &str) -> String {
    match line.find("Date: ") {
        Some(at) => {
            let start = at + "Date: ".len();
            let end = line[start..]
                .find("GMT")
                .map_or(line.len(), |g| start + g + 3);
            format!("{}…{}", &line[..start], &line[end..])
        }
        None => line.to_owned(),
    }
}

fn blank_milliseconds(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(at) = rest.find(" ms") {
        let before = &rest[..at];
        let digits = before.len() - before.trim_end_matches(|c: char| c.is_ascii_digit()).len();
        if digits > 0 {
            out.push_str(&before[..before.len() - digits]);
            out.push('…');
        } else {
            out.push_str(before);
        }
        out.push_str(" ms");
        rest = &rest[at + " ms".len()..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_quotes_and_comments() {
        let line = r#"cargo run -- 'GET  /\r\n' "a \"b\"" c\ d   # a comment's 'quote"#;
        let words = split(line).unwrap();
        assert_eq!(
            words.words,
            ["cargo", "run", "--", r"GET  /\r\n", r#"a "b""#, "c d"]
        );
        assert_eq!(&line[words.comment.unwrap()..], "# a comment's 'quote");
        assert!(split("echo 'open").is_err());
    }

    #[test]
    fn normalizing_ports_dates_and_milliseconds() {
        let normalize = Normalize {
            ports_back: BTreeMap::from([(41023, 8000)]),
        };
        assert_eq!(
            normalize.line("< Date: Wed, 02 Dec 2026 06:10:00 GMT\\r\\n  "),
            "< Date: …\\r\\n"
        );
        assert_eq!(
            normalize.line("* connected to 127.0.0.1:41023, closed 2001 ms after"),
            "* connected to 127.0.0.1:8000, closed … ms after"
        );
        assert_eq!(normalize.line("127.0.0.1:4102/"), "127.0.0.1:4102/");
    }
}
