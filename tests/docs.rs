//! Keeps TUTORIAL.md honest: it cites code by file and function name (not line numbers), and
//! this test checks every such citation still points at something real.
//!
//! Stage: none — it reads the docs against the source. When a rename breaks one of these, fix
//! the tutorial in the same change.

use std::fs;
use std::path::Path;

/// Every Rust source file under `src/`, as (path, text).
fn sources() -> Vec<(String, String)> {
    let mut files = Vec::new();
    collect(Path::new("src"), &mut files);
    files
}

fn collect(dir: &Path, files: &mut Vec<(String, String)>) {
    for entry in fs::read_dir(dir).expect("read src/") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            collect(&path, files);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = fs::read_to_string(&path).expect("read a source file");
            files.push((path.display().to_string(), text));
        }
    }
}

/// The text between each pair of backticks in `markdown` (code spans; fenced blocks too, which
/// is harmless: their contents rarely look like citations).
fn code_spans(markdown: &str) -> Vec<&str> {
    markdown.split('`').skip(1).step_by(2).collect()
}

fn tutorial() -> String {
    fs::read_to_string("TUTORIAL.md").expect("TUTORIAL.md exists")
}

#[test]
fn every_cited_source_file_exists() {
    let text = tutorial();
    let cited: Vec<&str> = code_spans(&text)
        .into_iter()
        .filter(|s| s.starts_with("src/"))
        .collect();
    assert!(!cited.is_empty(), "the tutorial cites files as `src/...`");
    for path in cited {
        let path = path.trim_end_matches('/');
        assert!(
            Path::new(path).exists(),
            "TUTORIAL.md cites {path}, which does not exist"
        );
    }
}

#[test]
fn every_cited_type_and_function_exists() {
    let text = tutorial();
    let all_source: String = sources().into_iter().map(|(_, text)| text).collect();
    for span in code_spans(&text) {
        let Some((owner, item)) = span.split_once("::") else {
            continue;
        };
        let is_citation = owner.chars().next().is_some_and(|c| c.is_ascii_uppercase())
            && owner.chars().all(|c| c.is_ascii_alphanumeric())
            && item.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !is_citation {
            continue;
        }
        let owner_defined = ["struct", "enum", "trait", "type"]
            .iter()
            .any(|kind| all_source.contains(&format!("{kind} {owner}")));
        assert!(
            owner_defined,
            "TUTORIAL.md cites `{span}`, but `{owner}` is not defined in src/"
        );
        let item_defined = all_source.contains(&format!("fn {item}("))
            || all_source.contains(&format!("fn {item}<"))
            || all_source.contains(&format!("pub {item}:"))
            || all_source.contains(&format!("    {item}:"))
            || all_source.contains(&format!("    {item},"));
        assert!(
            item_defined,
            "TUTORIAL.md cites `{span}`, but nothing named `{item}` is in src/"
        );
    }
}

#[test]
fn every_cited_snake_case_function_exists() {
    let text = tutorial();
    let all_source: String = sources().into_iter().map(|(_, text)| text).collect();
    for span in code_spans(&text) {
        let looks_like_function = span.contains('_')
            && span.chars().all(|c| c.is_ascii_lowercase() || c == '_')
            && !span.starts_with('_');
        if looks_like_function {
            assert!(
                all_source.contains(&format!("fn {span}("))
                    || all_source.contains(&format!("fn {span}<")),
                "TUTORIAL.md cites `{span}`, but there is no function of that name in src/"
            );
        }
    }
}

#[test]
fn the_stage_table_matches_the_code() {
    let text = tutorial();
    // Rows of the stage table look like "| accept | the server takes ... | `src/...` |".
    let rows: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("| ") && l.contains("`src/"))
        .filter_map(|l| l.split('|').nth(1).map(str::trim))
        .collect();
    let names: Vec<&str> = rgiref::Stage::ALL.iter().map(|s| s.name()).collect();
    assert_eq!(
        rows, names,
        "TUTORIAL.md's stage table must list rgiref::Stage::ALL, in order"
    );
}

/// The first ```text block after `heading` in `text`. In `src/lib.rs` the block is inside `//!`
/// comments: `comment` removes the marker and the one space after it.
fn text_block_after(text: &str, heading: &str, comment: bool) -> String {
    let after = &text[text.find(heading).expect("the heading is there")..];
    let start = after.find("```text\n").expect("a text block follows") + "```text\n".len();
    let block = &after[start..];
    let end = block.find("```").expect("the block ends");
    let lines = block[..end].lines().map(|line| match comment {
        true => line
            .strip_prefix("//!")
            .map_or(line, |l| l.strip_prefix(' ').unwrap_or(l)),
        false => line,
    });
    let lines: Vec<&str> = lines.collect();
    lines.join("\n").trim_end().to_owned()
}

#[test]
fn the_crate_docs_and_the_tutorial_draw_the_same_stack_diagram() {
    let lib = fs::read_to_string("src/lib.rs").expect("src/lib.rs");
    let in_code = text_block_after(&lib, "//! ## The stack diagram", true);
    let in_tutorial = text_block_after(&tutorial(), "## 1. The picture", false);
    assert_eq!(
        in_code, in_tutorial,
        "src/lib.rs and TUTORIAL.md §1 must draw one diagram, character for character"
    );
}

#[test]
fn the_diagram_brackets_exactly_the_stages() {
    let lib = fs::read_to_string("src/lib.rs").expect("src/lib.rs");
    let diagram = text_block_after(&lib, "//! ## The stack diagram", true);
    let bracketed: Vec<&str> = diagram
        .split('[')
        .skip(1)
        .filter_map(|rest| rest.split_once(']').map(|(name, _)| name))
        .collect();
    let names: Vec<&str> = rgiref::Stage::ALL.iter().map(|s| s.name()).collect();
    for name in &bracketed {
        assert!(
            names.contains(name),
            "the diagram brackets [{name}], which is no Stage"
        );
    }
    for name in &names {
        assert!(bracketed.contains(name), "the diagram never shows [{name}]");
    }
}

#[test]
fn every_source_file_says_which_stages_it_is_in_the_diagrams_words() {
    let names: Vec<&str> = rgiref::Stage::ALL.iter().map(|s| s.name()).collect();
    for (path, text) in sources() {
        // The header's stage paragraph: from the line starting "//! Stage" to the blank line.
        let lines: Vec<&str> = text.lines().take(15).collect();
        let start = lines
            .iter()
            .position(|l| l.starts_with("//! Stage"))
            .unwrap_or_else(|| panic!("{path} does not say at its top which stage it is"));
        let paragraph: String = lines[start..]
            .iter()
            .take_while(|l| l.trim() != "//!")
            .map(|l| l.trim_start_matches("//!"))
            .collect::<Vec<_>>()
            .join(" ");
        for bold in paragraph.split("**").skip(1).step_by(2) {
            let bold = bold.split_whitespace().collect::<Vec<_>>().join(" ");
            assert!(
                names.contains(&bold.as_str()),
                "{path} names the stage **{bold}**, which is not one of {names:?}"
            );
        }
    }
}

#[test]
fn the_tutorials_stage_chapters_follow_the_stages_in_order() {
    let text = tutorial();
    let chapters: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("## "))
        .filter_map(|l| l.split_once(". ").map(|(_, title)| title))
        .collect();
    let names: Vec<&str> = rgiref::Stage::ALL.iter().map(|s| s.name()).collect();
    let at = chapters
        .iter()
        .position(|c| *c == names[0])
        .expect("a chapter for the first stage");
    assert_eq!(
        &chapters[at..at + names.len()],
        names.as_slice(),
        "TUTORIAL.md has one chapter per stage, in order"
    );
}
