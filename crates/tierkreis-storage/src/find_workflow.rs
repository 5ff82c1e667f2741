//! Which workflow a person means by a word: a UUID, a workflow name (from
//! its metadata; the newest run of that name), or a unique UUID prefix.
//! One rule for `tkr` (every command naming a RUN) and the Python package's
//! `resume`/`restart`, so the same word finds the same run in both.

use std::path::{Path, PathBuf};

use uuid::Uuid;

/// The workflow a word names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FoundWorkflow {
    pub workflow_id: Uuid,
    /// How many workflows have the name the word gave (more than one: the
    /// newest was taken, and the caller may say so); 0 for an id or prefix.
    pub same_name: usize,
}

/// Why a word names no single workflow.
#[derive(Debug, thiserror::Error)]
pub enum FindWorkflowError {
    #[error("cannot list the checkpoint folder {}", .tkr_dir.display())]
    List {
        tkr_dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no workflow {run:?} in {} (it holds no workflows)", .tkr_dir.display())]
    NoWorkflows { run: String, tkr_dir: PathBuf },
    #[error("no workflow {run:?} in {}; closest: {} (`tkr ls` lists them all)", .tkr_dir.display(), .closest.join(", "))]
    NotFound {
        run: String,
        tkr_dir: PathBuf,
        /// Up to five ids or `name (id)`, nearest first.
        closest: Vec<String>,
    },
    #[error("{run:?} matches {} workflows in {}: {}", .matches.len(), .tkr_dir.display(), .matches.iter().map(Uuid::to_string).collect::<Vec<_>>().join(", "))]
    Ambiguous {
        run: String,
        tkr_dir: PathBuf,
        matches: Vec<Uuid>,
    },
}

/// The workflow in the checkpoint folder `tkr_dir` that `run` names: a
/// UUID as it is; else the newest workflow named `run` (names first: a name
/// is what people type, and may look like a prefix); else the one workflow
/// whose id starts with `run`.
pub fn find_workflow(tkr_dir: &Path, run: &str) -> Result<FoundWorkflow, FindWorkflowError> {
    if let Ok(workflow_id) = Uuid::parse_str(run) {
        return Ok(FoundWorkflow {
            workflow_id,
            same_name: 0,
        });
    }
    let entries = std::fs::read_dir(tkr_dir).map_err(|source| FindWorkflowError::List {
        tkr_dir: tkr_dir.to_path_buf(),
        source,
    })?;
    let mut ids = Vec::new();
    for entry in entries.flatten() {
        if let Ok(id) = Uuid::parse_str(&entry.file_name().to_string_lossy()) {
            ids.push(id);
        }
    }
    ids.sort();
    let named: Vec<(Uuid, Option<String>)> = ids
        .iter()
        .map(|id| (*id, metadata_text(tkr_dir, *id, "name")))
        .collect();
    let mut by_name: Vec<(String, Uuid)> = named
        .iter()
        .filter(|(_, n)| n.as_deref() == Some(run))
        .map(|(id, _)| {
            let start = metadata_text(tkr_dir, *id, "start_time").unwrap_or_default();
            (start, *id)
        })
        .collect();
    by_name.sort();
    if let Some((_, newest)) = by_name.last() {
        return Ok(FoundWorkflow {
            workflow_id: *newest,
            same_name: by_name.len(),
        });
    }
    let matches: Vec<Uuid> = ids
        .iter()
        .filter(|id| id.to_string().starts_with(run))
        .copied()
        .collect();
    match matches.as_slice() {
        [one] => Ok(FoundWorkflow {
            workflow_id: *one,
            same_name: 0,
        }),
        [] => {
            let closest = closest(run, &named);
            if closest.is_empty() {
                Err(FindWorkflowError::NoWorkflows {
                    run: run.to_string(),
                    tkr_dir: tkr_dir.to_path_buf(),
                })
            } else {
                Err(FindWorkflowError::NotFound {
                    run: run.to_string(),
                    tkr_dir: tkr_dir.to_path_buf(),
                    closest,
                })
            }
        }
        _ => Err(FindWorkflowError::Ambiguous {
            run: run.to_string(),
            tkr_dir: tkr_dir.to_path_buf(),
            matches,
        }),
    }
}

/// A text field (`name`, `start_time`: naive ISO, sorts as text) of the
/// workflow's `_metadata`, if any.
fn metadata_text(tkr_dir: &Path, id: Uuid, field: &str) -> Option<String> {
    let bytes = std::fs::read(tkr_dir.join(id.to_string()).join("_metadata")).ok()?;
    let v = tierkreis_core::json::parse(&bytes).ok()?;
    v.as_map()?.get(field)?.as_str().map(str::to_string)
}

/// Up to 5 ids or names nearest to `run` (edit distance on names, on the
/// prefix of the same length for ids), nearest first.
fn closest(run: &str, named: &[(Uuid, Option<String>)]) -> Vec<String> {
    let mut scored: Vec<(usize, String)> = Vec::new();
    for (id, name) in named {
        let id = id.to_string();
        let prefix: String = id.chars().take(run.chars().count()).collect();
        let mut best = (edit_distance(run, &prefix), id.clone());
        if let Some(n) = name {
            let d = edit_distance(run, n);
            if d < best.0 {
                best = (d, format!("{n} ({id})"));
            }
        }
        scored.push(best);
    }
    scored.sort();
    scored.into_iter().take(5).map(|(_, s)| s).collect()
}

/// Levenshtein distance over characters.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let sub = prev[j] + usize::from(ca != *cb);
            cur[j + 1] = sub.min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(dir: &Path, run: &str) -> String {
        find_workflow(dir, run)
            .expect("resolves")
            .workflow_id
            .to_string()
    }

    #[test]
    fn unique_prefix_resolves_and_ambiguous_prefix_is_an_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        for id in [
            "abcd0000-0000-0000-0000-000000000001",
            "abce0000-0000-0000-0000-000000000002",
        ] {
            std::fs::create_dir(dir.path().join(id)).expect("mkdir");
        }
        assert_eq!(
            found(dir.path(), "abcd"),
            "abcd0000-0000-0000-0000-000000000001"
        );
        let err = find_workflow(dir.path(), "abc").expect_err("ambiguous");
        assert!(err.to_string().contains("matches 2 workflows"), "{err}");
        let err = find_workflow(dir.path(), "ffff").expect_err("missing");
        assert!(err.to_string().contains("no workflow \"ffff\""), "{err}");
        let empty = tempfile::tempdir().expect("tempdir");
        let err = find_workflow(empty.path(), "x").expect_err("none at all");
        assert!(
            matches!(err, FindWorkflowError::NoWorkflows { .. }),
            "{err}"
        );
    }

    #[test]
    fn names_resolve_to_the_newest_run_and_misses_list_the_closest() {
        let dir = tempfile::tempdir().expect("tempdir");
        let write = |id: &str, name: &str, start: &str| {
            std::fs::create_dir(dir.path().join(id)).expect("mkdir");
            let meta = format!(r#"{{"name": "{name}", "start_time": "{start}"}}"#);
            std::fs::write(dir.path().join(id).join("_metadata"), meta).expect("write");
        };
        write(
            "abcd0000-0000-0000-0000-000000000001",
            "factorial",
            "2026-01-01T10:00:00",
        );
        write(
            "abce0000-0000-0000-0000-000000000002",
            "factorial",
            "2026-01-02T10:00:00",
        );
        write(
            "0bce0000-0000-0000-0000-000000000003",
            "gcd",
            "2026-01-03T10:00:00",
        );
        let newest = find_workflow(dir.path(), "factorial").expect("by name");
        assert_eq!(
            newest.workflow_id.to_string(),
            "abce0000-0000-0000-0000-000000000002"
        );
        assert_eq!(newest.same_name, 2);
        assert_eq!(
            found(dir.path(), "gcd"),
            "0bce0000-0000-0000-0000-000000000003"
        );
        let err = find_workflow(dir.path(), "factorail").expect_err("typo");
        let msg = err.to_string();
        assert!(msg.contains("closest: factorial (abc"), "{msg}");
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
