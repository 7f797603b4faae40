//! Reads a Markdown document as `tests/doc_commands.rs` needs it: in order, its fenced blocks,
//! its code spans and its HTML comments, each with its line and the section it is in.
//!
//! Interface:
//! * [`pieces`] takes the document's text and returns every [`Piece`] in document order.
//! * A section is the text under one heading (a line starting with `#`, outside fences); the
//!   pieces before the first heading are in section "".
//!
//! Only as much Markdown as the two documents use: fences are lines starting with ```` ``` ````;
//! a code span is a run of backticks closed by the next run of the same length, within one
//! paragraph, list item or table row (CommonMark's rule), its line breaks turned to spaces.

/// What one piece of the document is.
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// A fenced block: its language (```` ```sh ```` gives `sh`) and its lines, with numbers.
    Block {
        lang: String,
        lines: Vec<(usize, String)>,
    },
    /// A code span's text.
    Span(String),
    /// An HTML comment's text, its white space collapsed: `<!-- interop: nginx-scgi -->` gives
    /// `interop: nginx-scgi`.
    Comment(String),
    /// A heading: a new section starts here.
    Heading(String),
}

/// A piece of the document, where it is.
#[derive(Debug, Clone)]
pub struct Piece {
    /// The line it starts on, counting from 1.
    pub line: usize,
    /// The heading of the section it is in, without its `#`s.
    pub section: String,
    pub kind: Kind,
}

/// Every fenced block, code span, HTML comment and heading of `text`, in order.
pub fn pieces(text: &str) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut section = String::new();
    // The paragraph being gathered: its first line's number and its lines.
    let mut paragraph: Vec<(usize, &str)> = Vec::new();
    let mut lines = text.lines().enumerate().map(|(i, line)| (i + 1, line));
    while let Some((number, line)) = lines.next() {
        let trimmed = line.trim_start();
        if let Some(lang) = trimmed.strip_prefix("```") {
            scan_paragraph(&paragraph, &section, &mut out);
            paragraph.clear();
            let body = lines
                .by_ref()
                .take_while(|(_, l)| !l.trim_start().starts_with("```"))
                .map(|(n, l)| (n, l.to_owned()))
                .collect();
            let lang = lang.trim().to_owned();
            out.push(piece(number, &section, Kind::Block { lang, lines: body }));
        } else if let Some(title) = heading(line) {
            scan_paragraph(&paragraph, &section, &mut out);
            paragraph.clear();
            section = title.to_owned();
            out.push(piece(number, &section, Kind::Heading(section.clone())));
        } else if trimmed.is_empty() {
            scan_paragraph(&paragraph, &section, &mut out);
            paragraph.clear();
        } else {
            // A list item or a table row starts a unit of its own: no code span crosses into it.
            if starts_item(trimmed) {
                scan_paragraph(&paragraph, &section, &mut out);
                paragraph.clear();
            }
            paragraph.push((number, line));
        }
    }
    scan_paragraph(&paragraph, &section, &mut out);
    out
}

fn piece(line: usize, section: &str, kind: Kind) -> Piece {
    Piece {
        line,
        section: section.to_owned(),
        kind,
    }
}

/// `## 2. accept` gives `2. accept`.
fn heading(line: &str) -> Option<&str> {
    let title = line.trim_start_matches('#');
    (title.len() < line.len() && title.starts_with(' ')).then(|| title.trim())
}

fn starts_item(line: &str) -> bool {
    let numbered = line
        .split_once(". ")
        .is_some_and(|(n, _)| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
    line.starts_with("- ") || line.starts_with("* ") || line.starts_with('|') || numbered
}

/// The code spans and comments of one paragraph, in order.
fn scan_paragraph(lines: &[(usize, &str)], section: &str, out: &mut Vec<Piece>) {
    let Some(&(first, _)) = lines.first() else {
        return;
    };
    let text: String = lines.iter().map(|(_, l)| *l).collect::<Vec<_>>().join("\n");
    let line_at = |offset: usize| first + text[..offset].matches('\n').count();
    let mut at = 0;
    while at < text.len() {
        let rest = &text[at..];
        if rest.starts_with("<!--") {
            let Some(end) = rest.find("-->") else { break };
            let comment = rest[4..end]
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            out.push(piece(line_at(at), section, Kind::Comment(comment)));
            at += end + 3;
        } else if rest.starts_with('`') {
            let run = rest.len() - rest.trim_start_matches('`').len();
            match closing_run(&rest[run..], run) {
                Some((content, used)) => {
                    let span = span_text(content);
                    out.push(piece(line_at(at), section, Kind::Span(span)));
                    at += run + used;
                }
                None => at += run, // no closer: the backticks are literal
            }
        } else {
            at += rest.chars().next().map_or(1, char::len_utf8);
        }
    }
}

/// In `rest`, the text before the next run of exactly `run` backticks, and how many bytes
/// that is with the run.
fn closing_run(rest: &str, run: usize) -> Option<(&str, usize)> {
    let mut at = 0;
    while let Some(found) = rest[at..].find('`') {
        let start = at + found;
        let length = rest[start..].len() - rest[start..].trim_start_matches('`').len();
        if length == run {
            return Some((&rest[..start], start + run));
        }
        at = start + length;
    }
    None
}

/// CommonMark: line breaks become spaces, and one space is stripped from each end if both
/// ends have one (so that `` `` ` `` `` can hold a backtick).
fn span_text(content: &str) -> String {
    let text = content.replace('\n', " ");
    let padded = text.len() >= 2 && text.starts_with(' ') && text.ends_with(' ');
    if padded && !text.trim().is_empty() {
        text[1..text.len() - 1].to_owned()
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<Kind> {
        pieces(text).into_iter().map(|p| p.kind).collect()
    }

    #[test]
    fn spans_comments_blocks_and_headings_in_order() {
        let text = "# T\n\nRun `cargo\nrun`, <!-- c: x --> then `` a`b ``.\n\n```sh\nls\n```\n";
        assert_eq!(
            kinds(text),
            [
                Kind::Heading("T".into()),
                Kind::Span("cargo run".into()),
                Kind::Comment("c: x".into()),
                Kind::Span("a`b".into()),
                Kind::Block {
                    lang: "sh".into(),
                    lines: vec![(7, "ls".into())]
                },
            ]
        );
    }

    #[test]
    fn an_unclosed_backtick_is_literal_and_ends_with_its_list_item() {
        let text = "- one ` two\n- `three`\n";
        assert_eq!(kinds(text), [Kind::Span("three".into())]);
    }
}
