//! The crate's dependencies point one way: the gateway interface is the leaf.
//!
//! Stage: none — this reads the source. `src/gateway/` is what an application sees, so a reader
//! must be able to understand it alone: it may use std and itself, and nothing else of the
//! crate (STYLE.md §10). The engine uses the gateway; each transport uses both.

use std::fs;
use std::path::Path;

/// Every `.rs` file under `dir`, as (path, text).
fn rust_files(dir: &Path) -> Vec<(String, String)> {
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).expect("read the directory") {
        let path = entry.expect("a directory entry").path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = fs::read_to_string(&path).expect("read a source file");
            files.push((path.display().to_string(), text));
        }
    }
    files
}

/// The crate's top-level modules other than `gateway`, from `src/lib.rs`'s `mod` lines.
fn other_modules() -> Vec<String> {
    let lib = fs::read_to_string("src/lib.rs").expect("read src/lib.rs");
    lib.lines()
        .filter_map(|line| {
            let line = line.trim().trim_start_matches("pub ");
            line.strip_prefix("mod ")?
                .strip_suffix(';')
                .map(str::to_owned)
        })
        .filter(|name| name != "gateway")
        .collect()
}

#[test]
fn the_gateway_names_no_other_module_of_the_crate() {
    let others = other_modules();
    assert!(others.contains(&"engine".to_owned()), "{others:?}");
    for (path, text) in rust_files(Path::new("src/gateway")) {
        for (number, line) in text.lines().enumerate() {
            let mut named = vec!["crate::".to_owned(), "super::super".to_owned()];
            // Doc examples are code too: `rgiref::gateway::…` is fine, `rgiref::engine` is not.
            named.extend(others.iter().map(|module| format!("rgiref::{module}")));
            for name in &named {
                assert!(
                    !line.contains(name.as_str()),
                    "{path}:{}: the gateway must not use other modules of the crate, \
                     but this line names {name:?}: {line}",
                    number + 1
                );
            }
        }
    }
}

#[test]
fn the_engine_knows_no_http_server() {
    // The engine runs behind any transport, so it must not reach into one.
    for (path, text) in rust_files(Path::new("src/engine")) {
        for forbidden in ["crate::server", "crate::http", "TcpStream"] {
            assert!(
                !text.contains(forbidden),
                "{path} names {forbidden}: the engine must not know the HTTP server"
            );
        }
    }
}
