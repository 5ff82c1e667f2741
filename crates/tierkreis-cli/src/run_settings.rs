//! What a run was started with (registry folders, configuration file, worker
//! options), kept in its folder so that `tkr resume`, `tkr restart` and the
//! web view's Restart (which starts `tkr resume`) find the same workers and
//! run its tasks the same way, without the user repeating the flags.
//!
//! The file is `debug/tkr-run-settings.json` in the workflow folder (the
//! reference ignores it). Paths are stored absolute, so a resume from
//! another working directory sees the same folders.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};
use tierkreis_controller::executor::DEFAULT_CONFIG_FILE;
use tierkreis_storage::ControllerStorage;

use crate::Common;

/// The file name under the workflow's `debug/` folder.
pub const RUN_SETTINGS_FILE: &str = "tkr-run-settings.json";

/// The settings of a run that decide how its tasks run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunSettings {
    /// `--registry` folders, in order.
    pub registries: Vec<PathBuf>,
    /// The configuration file used (`--config`, or `./tkr.toml` found then).
    pub config: Option<PathBuf>,
    /// `--jobs`.
    pub jobs: Option<u64>,
    /// `--task-timeout`, in seconds.
    pub task_timeout: Option<f64>,
    /// `--no-warm`.
    pub no_warm: bool,
    /// `--warm-prestart`.
    pub warm_prestart: bool,
    /// `--cache`.
    pub cache: bool,
    /// `--retries`.
    pub retries: Option<u32>,
    /// `--uv` (Python workers with `uv run`).
    pub prefer_uv: bool,
    /// `-p` (seconds between batch-job polls).
    pub batch_poll_secs: Option<f64>,
    /// `--python` (the interpreter that loaded a `-g` graph), for the record.
    pub python: Option<PathBuf>,
}

/// `path` made absolute against the current directory (unchanged when that
/// cannot be known).
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

impl RunSettings {
    /// The settings `common` and the reference flags give, paths absolute;
    /// the default `./tkr.toml` is recorded when it exists.
    pub fn from_flags(
        common: &Common,
        prefer_uv: bool,
        batch_poll_secs: Option<f64>,
        python: Option<&Path>,
    ) -> RunSettings {
        let config = common.config.as_deref().map(absolute).or_else(|| {
            let default = Path::new(DEFAULT_CONFIG_FILE);
            default.is_file().then(|| absolute(default))
        });
        RunSettings {
            registries: common.registries.iter().map(|r| absolute(r)).collect(),
            config,
            jobs: common.jobs,
            task_timeout: common.task_timeout,
            no_warm: common.no_warm,
            warm_prestart: common.warm_prestart,
            cache: common.cache,
            retries: common.retries,
            prefer_uv,
            batch_poll_secs,
            python: python.map(absolute),
        }
    }

    /// These recorded settings with what the command line of a resume or
    /// restart gives on top: flags given there win (registries given replace
    /// the recorded ones), switches given there are added.
    pub fn overridden_by(&self, given: &RunSettings, config_given: bool) -> RunSettings {
        let no_warm = self.no_warm || given.no_warm;
        RunSettings {
            registries: if given.registries.is_empty() {
                self.registries.clone()
            } else {
                given.registries.clone()
            },
            config: if config_given {
                given.config.clone()
            } else {
                self.config.clone().or_else(|| given.config.clone())
            },
            jobs: given.jobs.or(self.jobs),
            task_timeout: given.task_timeout.or(self.task_timeout),
            no_warm,
            warm_prestart: (self.warm_prestart || given.warm_prestart) && !no_warm,
            cache: self.cache || given.cache,
            retries: given.retries.or(self.retries),
            prefer_uv: self.prefer_uv || given.prefer_uv,
            batch_poll_secs: given.batch_poll_secs.or(self.batch_poll_secs),
            python: given.python.clone().or_else(|| self.python.clone()),
        }
    }

    /// `common` with these settings in place of its executor flags.
    pub fn apply_to(&self, common: &mut Common) {
        common.registries = self.registries.clone();
        common.config = self.config.clone();
        common.jobs = self.jobs;
        common.task_timeout = self.task_timeout;
        common.no_warm = self.no_warm;
        common.warm_prestart = self.warm_prestart;
        common.cache = self.cache;
        common.retries = self.retries;
    }

    /// The settings recorded in the run's folder; `None` when the run has
    /// none (started by the reference or an older `tkr`).
    pub fn read(storage: &dyn ControllerStorage) -> anyhow::Result<Option<RunSettings>> {
        let path = storage.debug_path().join(RUN_SETTINGS_FILE);
        if !storage.exists(&path) {
            return Ok(None);
        }
        let bytes = storage
            .read(&path)
            .with_context(|| format!("cannot read the run's settings {}", path.display()))?;
        serde_json::from_slice(&bytes)
            .map(Some)
            .with_context(|| format!("the run's settings {} are not valid", path.display()))
    }

    /// Records these settings in the run's folder (temporary file, then
    /// rename).
    pub fn write(&self, storage: &dyn ControllerStorage) -> anyhow::Result<()> {
        let path = storage.debug_path().join(RUN_SETTINGS_FILE);
        let bytes = serde_json::to_vec_pretty(self).context("cannot encode the run's settings")?;
        storage
            .mkdir(&storage.debug_path())
            .and_then(|()| storage.write(&path, &bytes))
            .with_context(|| format!("cannot record the run's settings in {}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_of_a_resume_win_over_the_recorded_ones() {
        let recorded = RunSettings {
            registries: vec!["/reg".into()],
            config: Some("/a/tkr.toml".into()),
            jobs: Some(2),
            retries: Some(1),
            ..RunSettings::default()
        };
        let nothing_given = RunSettings::default();
        assert_eq!(recorded.overridden_by(&nothing_given, false), recorded);
        let given = RunSettings {
            registries: vec!["/other".into()],
            config: Some("/b/tkr.toml".into()),
            jobs: Some(4),
            no_warm: true,
            ..RunSettings::default()
        };
        let merged = recorded.overridden_by(&given, true);
        assert_eq!(merged.registries, vec![PathBuf::from("/other")]);
        assert_eq!(merged.config, Some(PathBuf::from("/b/tkr.toml")));
        assert_eq!(merged.jobs, Some(4));
        assert_eq!(merged.retries, Some(1));
        assert!(merged.no_warm);
    }
}
