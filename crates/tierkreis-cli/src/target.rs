//! Which workflow a command is about: a UUID, a workflow name (from its
//! metadata; the newest run of that name), a unique UUID prefix, or
//! `--run-id N` (the UUID whose integer value is N, as the reference does).

use std::path::Path;

use anyhow::bail;
use clap::Args;
use tierkreis_storage::find_workflow::find_workflow;
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

/// Resolves a RUN argument or a run id to a workflow id (the rule is
/// [`tierkreis_storage::find_workflow`]'s).
pub fn resolve(run: Option<&str>, run_id: Option<u128>, tkr_dir: &Path) -> anyhow::Result<Uuid> {
    if let Some(n) = run_id {
        return Ok(Uuid::from_u128(n));
    }
    let Some(run) = run else {
        bail!("name a workflow: a UUID, a unique prefix, a name, or --run-id N");
    };
    let found = find_workflow(tkr_dir, run)?;
    if found.same_name > 1 {
        eprintln!(
            "note: {} workflows are named {run:?}; using the newest, {} (give an id to choose another)",
            found.same_name, found.workflow_id
        );
    }
    Ok(found.workflow_id)
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
}
