//! No source file of the workspace holds more than about a thousand lines of
//! non-test code: a file that grows past it holds more than one concept and
//! is split (issue 20). Test code (`tests/`, `tests.rs`, everything after a
//! file's first top-level `#[cfg(test)]`) does not count.

use std::path::{Path, PathBuf};

/// The most non-test lines one source file may have.
const MOST_LINES: usize = 1000;

fn rust_sources(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if path.is_dir() {
            if name != "tests" && name != "target" && name != "vendor" {
                rust_sources(&path, found);
            }
        } else if path.extension().is_some_and(|e| e == "rs") && name != "tests.rs" {
            found.push(path);
        }
    }
}

fn non_test_lines(text: &str) -> usize {
    text.lines()
        .take_while(|line| !line.starts_with("#[cfg(test)]"))
        .count()
}

#[test]
fn no_source_file_holds_more_than_a_thousand_lines_of_non_test_code() {
    let root = tierkreis_test_support::workspace_root();
    let mut files = Vec::new();
    for top in ["crates", "examples"] {
        rust_sources(&root.join(top), &mut files);
    }
    assert!(
        files.len() > 50,
        "only {} source files found under {}: the walk is broken",
        files.len(),
        root.display()
    );
    let mut too_long: Vec<String> = files
        .iter()
        .filter_map(|file| {
            let text = std::fs::read_to_string(file).ok()?;
            let lines = non_test_lines(&text);
            (lines > MOST_LINES).then(|| format!("{} ({lines} lines)", file.display()))
        })
        .collect();
    too_long.sort();
    assert!(
        too_long.is_empty(),
        "split these by concept (at most {MOST_LINES} non-test lines each):\n{}",
        too_long.join("\n")
    );
}

#[test]
fn test_code_after_cfg_test_is_not_counted() {
    assert_eq!(
        non_test_lines("fn a() {}\nfn b() {}\n#[cfg(test)]\nmod tests {}\n"),
        2
    );
    assert_eq!(non_test_lines("fn a() {}\n"), 1);
}
