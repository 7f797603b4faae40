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
