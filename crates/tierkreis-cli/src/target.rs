//! Which workflow a command is about: a UUID, a workflow name (from its
//! metadata; the newest run of that name), a unique UUID prefix, or
//! `--run-id N` (the UUID whose integer value is N, as the reference does).

use std::path::Path;

use anyhow::{bail, Context};
use clap::Args;
use uuid::Uuid;

/// A workflow named on the command line.
#[derive(Debug, Args)]
pub struct RunTarget {
    /// The workflow: a UUID, a unique prefix of one, or a workflow name.
    #[arg(value_name = "RUN", required_unless_present = "run_id")]
    pub run: Option<String>,
    /// The workflow whose id is the UUID with integer value N.
    #[arg(long, value_name = "N")]
    pub run_id: Option<u128>,
}

impl RunTarget {
    /// Finds the workflow id in the checkpoint folder `tkr_dir`.
    pub fn resolve(&self, tkr_dir: &Path) -> anyhow::Result<Uuid> {
        resolve(self.run.as_deref(), self.run_id, tkr_dir)
    }
}

/// Resolves a RUN argument or a run id to a workflow id.
pub fn resolve(run: Option<&str>, run_id: Option<u128>, tkr_dir: &Path) -> anyhow::Result<Uuid> {
    if let Some(n) = run_id {
        return Ok(Uuid::from_u128(n));
    }
    let Some(run) = run else {
        bail!("name a workflow: a UUID, a unique prefix, a name, or --run-id N");
    };
    if let Ok(id) = Uuid::parse_str(run) {
        return Ok(id);
    }
    let entries = std::fs::read_dir(tkr_dir)
        .with_context(|| format!("cannot list the checkpoint folder {}", tkr_dir.display()))?;
    let mut ids = Vec::new();
    for entry in entries.flatten() {
        if let Ok(id) = Uuid::parse_str(&entry.file_name().to_string_lossy()) {
            ids.push(id);
        }
    }
    ids.sort();
    // Names first: a name is what people type, and may look like a prefix.
    let named: Vec<(Uuid, Option<String>)> = ids
        .iter()
        .map(|id| (*id, workflow_name(tkr_dir, *id)))
        .collect();
    let mut by_name: Vec<(String, Uuid)> = named
        .iter()
        .filter(|(_, n)| n.as_deref() == Some(run))
        .map(|(id, _)| (start_time(tkr_dir, *id), *id))
        .collect();
    if !by_name.is_empty() {
        by_name.sort();
        let (_, newest) = by_name[by_name.len() - 1];
        if by_name.len() > 1 {
            eprintln!(
                "note: {} workflows are named {run:?}; using the newest, {newest} (give an id to choose another)",
                by_name.len()
            );
        }
        return Ok(newest);
    }
    let matches: Vec<Uuid> = ids
        .iter()
        .filter(|id| id.to_string().starts_with(run))
        .copied()
        .collect();
    match matches.as_slice() {
        [one] => Ok(*one),
        [] => {
            let near = closest(run, &named);
            if near.is_empty() {
                bail!(
                    "no workflow {run:?} in {} (it holds no workflows)",
                    tkr_dir.display()
                )
            }
            bail!(
                "no workflow {run:?} in {}; closest: {} (`tkr ls` lists them all)",
                tkr_dir.display(),
                near.join(", ")
            )
        }
        many => bail!(
            "{run:?} matches {} workflows in {}: {}",
            many.len(),
            tkr_dir.display(),
            many.iter()
                .map(Uuid::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The workflow's name from its `_metadata`, if any.
fn workflow_name(tkr_dir: &Path, id: Uuid) -> Option<String> {
    let bytes = std::fs::read(tkr_dir.join(id.to_string()).join("_metadata")).ok()?;
    let v = tierkreis_core::json::parse(&bytes).ok()?;
    v.as_map()?.get("name")?.as_str().map(str::to_string)
}

/// The workflow's start time from its `_metadata` (naive ISO, sorts as text).
fn start_time(tkr_dir: &Path, id: Uuid) -> String {
    let read = || {
        let bytes = std::fs::read(tkr_dir.join(id.to_string()).join("_metadata")).ok()?;
        let v = tierkreis_core::json::parse(&bytes).ok()?;
        v.as_map()?.get("start_time")?.as_str().map(str::to_string)
    };
    read().unwrap_or_default()
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
fn edit_distance(a: &str, b: &str) -> usize {
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

    #[test]
    fn run_id_is_the_uuid_with_that_integer_value() {
        let dir = tempfile::tempdir().expect("tempdir");
        let id = resolve(None, Some(7), dir.path()).expect("resolves");
        assert_eq!(id.to_string(), "00000000-0000-0000-0000-000000000007");
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
        let id = resolve(Some("abcd"), None, dir.path()).expect("unique");
        assert_eq!(id.to_string(), "abcd0000-0000-0000-0000-000000000001");
        let err = resolve(Some("abc"), None, dir.path()).expect_err("ambiguous");
        assert!(err.to_string().contains("matches 2 workflows"), "{err}");
        let err = resolve(Some("ffff"), None, dir.path()).expect_err("missing");
        assert!(err.to_string().contains("no workflow \"ffff\""), "{err}");
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
        let id = resolve(Some("factorial"), None, dir.path()).expect("by name");
        assert_eq!(id.to_string(), "abce0000-0000-0000-0000-000000000002");
        let id = resolve(Some("gcd"), None, dir.path()).expect("by name");
        assert_eq!(id.to_string(), "0bce0000-0000-0000-0000-000000000003");
        let err = resolve(Some("factorail"), None, dir.path()).expect_err("typo");
        let msg = err.to_string();
        assert!(msg.contains("closest: factorial (abc"), "{msg}");
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
