//! The controller's modules import each other one way: each module may use
//! only the modules listed before it in [`LAYERS`]. This test reads every
//! source file under `src/` and fails on an import that goes up or sideways
//! (a circle needs one), and on a module missing from the list, so the
//! order written in ARCHITECTURE.md is the order the code has.
//!
//! A "module" here is a top-level module of the crate, or a module of
//! `executor` (`executor::process` with all its files). Files of one module
//! may use each other. Test code (`#[cfg(test)]` items, `tests.rs`,
//! `test_support`) is left out: tests may drive an executor with the runtime.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Bottom first. A module may import only modules above it in this list.
const LAYERS: &[&str] = &[
    // The pure core: decisions, no processes.
    "builtins",
    "scheduler",
    "timeline",
    // The executor contract: what the runtime asks of an executor.
    "executor::contract",
    // What executors and the runtime build on.
    "executor::config",
    "executor::guardian",
    "executor::leftover_processes",
    "executor::discovery",
    "retry",
    "cache",
    // The executors.
    "executor::worker_process",
    "executor::warm",
    "executor::process",
    "executor::inprocess",
    "executor::builtin_executor",
    "executor::router",
    "executor::hpc",
    "executor::worker_jobs",
    "executor::local_or_batch",
    "executor::default_executor",
    "executor",
    // Drives the scheduler against the executors.
    "runtime",
    // Whole runs in one call.
    "engine",
    "embedded",
];

#[derive(Debug)]
struct Import {
    from: String,
    to: String,
    file: PathBuf,
    line: usize,
}

#[test]
fn controller_modules_import_only_modules_below_them() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let reexports = executor_reexports(&src);
    let mut imports = Vec::new();
    for file in rust_files(&src) {
        let relative = file.strip_prefix(&src).unwrap_or(&file).to_path_buf();
        let module = module_path(&relative);
        if is_test_file(&module) {
            continue;
        }
        let text = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
        let code = without_comments(&without_test_items(&text));
        let Some(from) = unit_of(&module, &src, &reexports) else {
            continue;
        };
        for (line, path) in referenced_paths(&code, &module) {
            if let Some(to) = unit_of(&path, &src, &reexports) {
                if to != from {
                    imports.push(Import {
                        from: from.clone(),
                        to,
                        file: relative.clone(),
                        line,
                    });
                }
            }
        }
    }
    let rank = |unit: &str| LAYERS.iter().position(|l| *l == unit);
    let mut problems = Vec::new();
    let mut units: Vec<&str> = imports.iter().map(|i| i.from.as_str()).collect();
    units.sort_unstable();
    units.dedup();
    for unit in units {
        if rank(unit).is_none() {
            problems.push(format!(
                "module `{unit}` is not in LAYERS: place it in this test's list and in ARCHITECTURE.md"
            ));
        }
    }
    for import in &imports {
        if let (Some(from), Some(to)) = (rank(&import.from), rank(&import.to)) {
            if to > from {
                problems.push(format!(
                    "{}:{}: `{}` uses `{}`, which sits above it",
                    import.file.display(),
                    import.line,
                    import.from,
                    import.to
                ));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "the controller's layers are crossed:\n{}",
        problems.join("\n")
    );
    // The check sees real imports: the runtime uses the scheduler.
    assert!(
        imports
            .iter()
            .any(|i| i.from == "runtime" && i.to == "scheduler"),
        "no import of the scheduler by the runtime was found: the parser is broken"
    );
}

#[test]
fn the_parser_resolves_crate_super_and_grouped_paths() {
    let module = vec!["executor".to_string(), "warm".to_string()];
    let code = "use crate::{scheduler::ReadyTask, executor::{config::X, process}};\n\
                use super::discovery::LaunchPlan;\n\
                fn f() { crate::runtime::run(); }\n";
    let found: Vec<(usize, String)> = referenced_paths(code, &module)
        .into_iter()
        .map(|(line, p)| (line, p.join("::")))
        .collect();
    assert_eq!(
        found,
        vec![
            (1, "scheduler::ReadyTask".to_string()),
            (1, "executor::config::X".to_string()),
            (1, "executor::process".to_string()),
            (2, "executor::discovery::LaunchPlan".to_string()),
            (3, "runtime::run".to_string()),
        ]
    );
    let stripped = without_test_items(
        "fn a() {}\n#[cfg(test)]\nmod tests {\n fn b() { crate::runtime::x(); }\n}\nfn c() {}\n",
    );
    assert!(!stripped.contains("runtime"), "{stripped}");
    assert!(stripped.contains("fn c()"), "{stripped}");
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries =
            std::fs::read_dir(&d).unwrap_or_else(|e| panic!("cannot list {}: {e}", d.display()));
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                found.push(path);
            }
        }
    }
    found.sort();
    found
}

/// `executor/process/pool.rs` is `["executor", "process", "pool"]`;
/// `mod.rs` and `lib.rs` name their folder.
fn module_path(relative: &Path) -> Vec<String> {
    let mut parts: Vec<String> = relative
        .with_extension("")
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|l| l == "mod" || l == "lib") {
        parts.pop();
    }
    parts
}

fn is_test_file(module: &[String]) -> bool {
    module.iter().any(|p| p == "tests" || p == "test_support")
}

/// The module a path belongs to: `executor::X` for a module of `executor`
/// (an item `executor` re-exports counts as its defining module's), else
/// the top-level module; `None` for the crate root.
fn unit_of(path: &[String], src: &Path, reexports: &BTreeMap<String, String>) -> Option<String> {
    let first = path.first()?;
    if first != "executor" {
        let exists = src.join(format!("{first}.rs")).exists() || src.join(first).is_dir();
        return exists.then(|| first.clone());
    }
    let Some(second) = path.get(1) else {
        return Some("executor".to_string());
    };
    let executor = src.join("executor");
    if executor.join(format!("{second}.rs")).exists() || executor.join(second).is_dir() {
        return Some(format!("executor::{second}"));
    }
    Some(
        reexports
            .get(second)
            .cloned()
            .unwrap_or_else(|| "executor".to_string()),
    )
}

/// Names `executor/mod.rs` re-exports (`pub use process::{A, B};`), with the
/// module that defines them, so `crate::executor::A` counts as a use of
/// `executor::process`, not of the facade.
fn executor_reexports(src: &Path) -> BTreeMap<String, String> {
    let file = src.join("executor").join("mod.rs");
    let text = std::fs::read_to_string(&file)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", file.display()));
    let mut names = BTreeMap::new();
    for statement in without_comments(&text).split(';') {
        let statement = statement.trim();
        let Some(rest) = statement.strip_prefix("pub use ") else {
            continue;
        };
        let rest = rest.trim_start_matches("self::");
        let (unit, items) = if let Some(rest) = rest.strip_prefix("crate::") {
            let module: String = rest.split("::").next().unwrap_or("").to_string();
            (module, rest.rsplit("::").next().unwrap_or("").to_string())
        } else {
            let module: String = rest.split("::").next().unwrap_or("").to_string();
            (
                format!("executor::{module}"),
                rest[module.len()..].to_string(),
            )
        };
        for item in items
            .trim_start_matches("::")
            .trim_matches(|c| c == '{' || c == '}')
            .split(',')
        {
            let item = item.trim();
            if !item.is_empty() {
                names.insert(item.to_string(), unit.clone());
            }
        }
    }
    names
}

/// The text with every `#[cfg(test)]` item removed (a `mod tests { .. }` up
/// to its closing brace, or a `mod tests;` line).
fn without_test_items(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("#[cfg(test)]") {
        out.push_str(&rest[..at]);
        let after = &rest[at..];
        let brace = after.find('{');
        let semicolon = after.find(';');
        let end = match (brace, semicolon) {
            (Some(b), Some(s)) if s < b => s + 1,
            (Some(b), _) => {
                let mut depth = 0usize;
                let mut end = after.len();
                for (i, c) in after[b..].char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' => {
                            depth -= 1;
                            if depth == 0 {
                                end = b + i + 1;
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                end
            }
            (None, Some(s)) => s + 1,
            (None, None) => after.len(),
        };
        // Keep the line count, so later line numbers stay true.
        out.extend(after[..end].chars().filter(|c| *c == '\n'));
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// The text with `//` comments (doc comments too) blanked out.
fn without_comments(text: &str) -> String {
    text.lines()
        .map(|line| match line.find("//") {
            Some(at) => &line[..at],
            None => line,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every module path that `crate::` and `super::` paths in `code` name,
/// absolute (from the crate root), with its line number. Grouped imports
/// (`use crate::{a::X, b::{c, d}}`) give one path per leaf.
fn referenced_paths(code: &str, module: &[String]) -> Vec<(usize, Vec<String>)> {
    let mut found = Vec::new();
    for (index, _) in code
        .match_indices("crate::")
        .chain(code.match_indices("super::"))
    {
        let preceded_by_ident = code[..index]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':');
        if preceded_by_ident {
            continue;
        }
        let line = code[..index].matches('\n').count() + 1;
        let mut base: Vec<String> = Vec::new();
        let mut rest = &code[index..];
        if let Some(r) = rest.strip_prefix("crate::") {
            rest = r;
        } else {
            // The file's own module is `module`; `super` is its parent.
            base = module.to_vec();
            while let Some(r) = rest.strip_prefix("super::") {
                base.pop();
                rest = r;
            }
        }
        for tail in expand_path(rest) {
            let mut path = base.clone();
            path.extend(tail);
            found.push((line, path));
        }
    }
    found.sort_by_key(|(line, _)| *line);
    found
}

/// The leaves of a path starting at `text`: `a::b::C` or `a::{b, c::D}`.
fn expand_path(text: &str) -> Vec<Vec<String>> {
    let mut prefix = Vec::new();
    let mut rest = text;
    loop {
        let ident_len = rest
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if ident_len == 0 {
            break;
        }
        prefix.push(rest[..ident_len].to_string());
        rest = &rest[ident_len..];
        match rest.strip_prefix("::") {
            Some(r) => rest = r,
            None => return vec![prefix],
        }
    }
    let Some(group) = rest.strip_prefix('{') else {
        return vec![prefix];
    };
    let mut leaves = Vec::new();
    let mut depth = 0usize;
    let mut start = 0usize;
    for (i, c) in group.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                push_group_entry(&group[start..i], &prefix, &mut leaves);
                break;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                push_group_entry(&group[start..i], &prefix, &mut leaves);
                start = i + 1;
            }
            _ => {}
        }
    }
    leaves
}

fn push_group_entry(entry: &str, prefix: &[String], leaves: &mut Vec<Vec<String>>) {
    let entry = entry.trim();
    if entry.is_empty() || entry == "self" {
        if entry == "self" {
            leaves.push(prefix.to_vec());
        }
        return;
    }
    for tail in expand_path(entry) {
        let mut path = prefix.to_vec();
        path.extend(tail);
        leaves.push(path);
    }
}
