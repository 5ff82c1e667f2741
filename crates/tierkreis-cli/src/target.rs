//! Which workflow a command is about: a UUID, a unique UUID prefix, or
//! `--run-id N` (the UUID whose integer value is N, as the reference does).

use std::path::Path;

use anyhow::{bail, Context};
use clap::Args;
use uuid::Uuid;

/// A workflow named on the command line.
#[derive(Debug, Args)]
pub struct RunTarget {
    /// The workflow id (a UUID or a unique prefix of one).
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
        bail!("name a workflow: a UUID, a unique prefix, or --run-id N");
    };
    if let Ok(id) = Uuid::parse_str(run) {
        return Ok(id);
    }
    let entries = std::fs::read_dir(tkr_dir)
        .with_context(|| format!("cannot list the checkpoint folder {}", tkr_dir.display()))?;
    let mut matches = Vec::new();
    let mut all = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Ok(id) = Uuid::parse_str(&name) {
            if name.starts_with(run) {
                matches.push(id);
            }
            all.push(name);
        }
    }
    match matches.as_slice() {
        [one] => Ok(*one),
        [] => {
            all.sort();
            let near: Vec<&String> = all.iter().filter(|n| n.starts_with(&run[..1.min(run.len())])).take(5).collect();
            if near.is_empty() {
                bail!("no workflow {run:?} in {}", tkr_dir.display())
            }
            bail!(
                "no workflow {run:?} in {}; similar ids: {}",
                tkr_dir.display(),
                near.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
            )
        }
        many => bail!(
            "{run:?} matches {} workflows in {}: {}",
            many.len(),
            tkr_dir.display(),
            many.iter().map(Uuid::to_string).collect::<Vec<_>>().join(", ")
        ),
    }
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
        for id in ["abcd0000-0000-0000-0000-000000000001", "abce0000-0000-0000-0000-000000000002"] {
            std::fs::create_dir(dir.path().join(id)).expect("mkdir");
        }
        let id = resolve(Some("abcd"), None, dir.path()).expect("unique");
        assert_eq!(id.to_string(), "abcd0000-0000-0000-0000-000000000001");
        let err = resolve(Some("abc"), None, dir.path()).expect_err("ambiguous");
        assert!(err.to_string().contains("matches 2 workflows"), "{err}");
        let err = resolve(Some("ffff"), None, dir.path()).expect_err("missing");
        assert!(err.to_string().contains("no workflow \"ffff\""), "{err}");
    }
}
