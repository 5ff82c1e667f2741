//! The settings a run is started with, recorded in its folder, and the one
//! function that assembles the engine from them (worker discovery, warm
//! workers, batch routes, task timeout, retries, result cache): `tkr run`,
//! `tkr resume`, `tkr restart`, the Python package (through
//! [`crate::embedded`]) and the web view's Restart (which starts `tkr
//! resume`) all build their executor here, so they run tasks alike.
//!
//! The record is `debug/tkr-run-settings.json` in the workflow folder (the
//! reference ignores it), so a resume or restart finds the same workers and
//! runs tasks the same way without the user repeating the flags. Paths are
//! kept absolute, so a resume from another working directory sees the same
//! folders.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tierkreis_storage::{ControllerStorage, StorageError};

use crate::executor::{
    ConfigError, DefaultExecutor, Discovery, ExecutorConfig, ProcessExecutor, ProcessOptions,
    DEFAULT_CONFIG_FILE,
};
use crate::runtime::RunOptions;
use crate::scheduler::Breakpoints;

/// The file name of the record under the workflow's `debug/` folder.
pub const RUN_SETTINGS_FILE: &str = "tkr-run-settings.json";

/// How a run's tasks run: what `tkr run`'s flags and the Python package's
/// arguments say, recorded in the run's folder and reused on resume.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct RunSettings {
    /// Registry folders of workers, searched in order before the
    /// configuration's (`--registry`).
    pub registries: Vec<PathBuf>,
    /// The configuration file (`--config`, or `./tkr.toml` found at the start).
    pub config: Option<PathBuf>,
    /// Worker processes at once (`--jobs`); `None` takes the
    /// configuration's, else one per core.
    pub jobs: Option<u64>,
    /// The timeout of tasks without a configured one, in seconds (`--task-timeout`).
    pub task_timeout: Option<f64>,
    /// Run every task in a process of its own (`--no-warm`).
    pub no_warm: bool,
    /// Start a warm process for each worker the graph names when the run
    /// starts (`--warm-prestart`).
    pub warm_prestart: bool,
    /// Reuse results of identical earlier tasks (`--cache`); the
    /// configuration's `cache = true` turns it on too.
    pub cache: bool,
    /// Retries of a failed task without its own `retries` setting (`--retries`).
    pub retries: Option<u32>,
    /// Python workers run with `uv run` (`--uv`).
    pub prefer_uv: bool,
    /// Seconds between two batch-job status queries (`-p`), over the
    /// configuration's `[hpc] poll_secs`.
    pub batch_poll_secs: Option<f64>,
    /// The interpreter that loaded a `-g` graph (`--python`), for the record.
    pub python: Option<PathBuf>,
}

/// Why the run's settings cannot be read or recorded.
#[derive(Debug, thiserror::Error)]
pub enum RunSettingsError {
    #[error("cannot read the run's settings {}", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: Box<StorageError>,
    },
    #[error("the run's settings {} are not valid", .path.display())]
    Invalid {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("cannot encode the run's settings for {}", .path.display())]
    Encode {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("cannot record the run's settings in {}", .path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: Box<StorageError>,
    },
}

/// `path` made absolute against the current directory (unchanged when that
/// cannot be known).
fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

impl RunSettings {
    /// These settings with every path absolute, and `./tkr.toml` as the
    /// configuration file when none is named and it exists: what a run
    /// records.
    pub fn with_absolute_paths(self) -> RunSettings {
        let config = self.config.as_deref().map(absolute).or_else(|| {
            let default = Path::new(DEFAULT_CONFIG_FILE);
            default.is_file().then(|| absolute(default))
        });
        RunSettings {
            registries: self.registries.iter().map(|r| absolute(r)).collect(),
            config,
            python: self.python.as_deref().map(absolute),
            ..self
        }
    }

    /// These recorded settings with what a resume or restart gives on top:
    /// values given there win (registries given replace the recorded ones),
    /// switches given there are added; `config_given` says whether the
    /// configuration file was named (not just found as `./tkr.toml`).
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

    /// The settings recorded in the run's folder; `None` when the run has
    /// none (started by the reference or an older `tkr`).
    pub fn read(storage: &dyn ControllerStorage) -> Result<Option<RunSettings>, RunSettingsError> {
        let path = storage.debug_path().join(RUN_SETTINGS_FILE);
        if !storage.exists(&path) {
            return Ok(None);
        }
        let bytes = storage
            .read(&path)
            .map_err(|source| RunSettingsError::Read {
                path: path.clone(),
                source: Box::new(source),
            })?;
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|source| RunSettingsError::Invalid { path, source })
    }

    /// Records these settings in the run's folder (temporary file, then
    /// rename).
    pub fn write(&self, storage: &dyn ControllerStorage) -> Result<(), RunSettingsError> {
        let path = storage.debug_path().join(RUN_SETTINGS_FILE);
        let bytes = serde_json::to_vec_pretty(self).map_err(|source| RunSettingsError::Encode {
            path: path.clone(),
            source,
        })?;
        storage
            .mkdir(&storage.debug_path())
            .and_then(|()| storage.write(&path, &bytes))
            .map_err(|source| RunSettingsError::Write {
                path,
                source: Box::new(source),
            })
    }

    /// For a resume or restart: the settings the run recorded with these
    /// (`given`) on top, recorded again; `given` alone when the run has
    /// none (started by the reference or an older `tkr`).
    pub fn with_recorded_under(
        self,
        storage: &dyn ControllerStorage,
        config_given: bool,
    ) -> Result<RunSettings, RunSettingsError> {
        let settings = match RunSettings::read(storage)? {
            Some(recorded) => recorded.overridden_by(&self, config_given),
            None => self,
        };
        settings.write(storage)?;
        Ok(settings)
    }

    /// The configuration file these settings name, else `./tkr.toml` when it
    /// exists, else the defaults.
    pub fn load_config(&self) -> Result<ExecutorConfig, ConfigError> {
        match &self.config {
            Some(path) => ExecutorConfig::load(path),
            None if Path::new(DEFAULT_CONFIG_FILE).is_file() => {
                ExecutorConfig::load(Path::new(DEFAULT_CONFIG_FILE))
            }
            None => Ok(ExecutorConfig::default()),
        }
    }

    /// `config` with these settings' overrides of it: `-p` sets the
    /// batch-job polling.
    pub fn effective_config(&self, mut config: ExecutorConfig) -> ExecutorConfig {
        if let Some(secs) = self.batch_poll_secs {
            config.hpc.poll_secs = Some(secs);
        }
        config
    }

    /// The worker-process options: these settings first, then `config`'s,
    /// then the defaults.
    pub fn process_options(&self, config: &ExecutorConfig) -> ProcessOptions {
        let defaults = ProcessOptions::default();
        ProcessOptions {
            jobs: self
                .jobs
                .map(|n| usize::try_from(n).unwrap_or(usize::MAX))
                .or(config.jobs)
                .unwrap_or(defaults.jobs),
            task_timeout: self
                .task_timeout
                .or(config.timeout_secs)
                .map(Duration::from_secs_f64),
            grace: config
                .grace_secs
                .map_or(defaults.grace, Duration::from_secs_f64),
            warm: !self.no_warm,
            prestart_warm: self.warm_prestart && !self.no_warm,
        }
    }
}

/// A new workflow may find its folder made already (e.g. for a log file),
/// but not started: its metadata or the root node's folder `-` is the sign
/// of a start. `tkr run` and the Python package refuse to start a workflow
/// whose folder has either.
pub fn workflow_started(workflow_dir: &Path) -> bool {
    ["_metadata", "-"]
        .iter()
        .any(|entry| workflow_dir.join(entry).exists())
}

/// What runs a workflow: the executor stack and the runtime's options.
pub struct Engine {
    /// Builtins in-process; other workers found by discovery, run as
    /// processes, warm workers, worker jobs or batch jobs as configured.
    pub executor: DefaultExecutor,
    /// Resume, breakpoints, result cache, retries, timeline (its sinks
    /// empty: a caller exporting the timeline adds its own).
    pub options: RunOptions,
}

impl std::fmt::Debug for Engine {
    /// The options' switches; the executor and the hooks have no text.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Engine")
            .field("resume", &self.options.resume)
            .field("cache", &self.options.cache.is_some())
            .field("retries", &self.options.retries.is_some())
            .finish_non_exhaustive()
    }
}

/// Assembles the engine that runs the workflow in `storage` with `settings`
/// and the executor configuration `config` (see
/// [`RunSettings::load_config`]): the one place that decides how tasks run.
/// The result cache is used only for a workflow on disk (in-memory storage
/// has nothing to reuse).
pub fn assemble_engine(
    storage: &dyn ControllerStorage,
    settings: &RunSettings,
    config: ExecutorConfig,
    breakpoints: Breakpoints,
    resume: bool,
) -> Engine {
    let config = settings.effective_config(config);
    let cache = ((settings.cache || config.cache == Some(true)) && storage.workflow_dir().is_dir())
        .then(|| {
            Arc::new(crate::cache::configured_cache(
                storage.tkr_dir(),
                &config,
                &settings.registries,
            ))
        });
    let options = RunOptions {
        resume,
        breakpoints,
        cache,
        retries: crate::retry::configured_policies(&config, settings.retries.unwrap_or(0)),
        record_timeline: true,
        timeline_sinks: Vec::new(),
    };
    let process_options = settings.process_options(&config);
    let discovery =
        Discovery::new(config, settings.registries.clone()).with_uv_preferred(settings.prefer_uv);
    Engine {
        executor: DefaultExecutor::with_processes(ProcessExecutor::new(discovery, process_options)),
        options,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tierkreis_storage::{FileControllerStorage, MemoryControllerStorage, MemoryFiles};
    use uuid::Uuid;

    #[test]
    fn values_given_on_resume_win_over_the_recorded_ones() {
        let recorded = RunSettings {
            registries: vec!["/reg".into()],
            config: Some("/a/tkr.toml".into()),
            jobs: Some(2),
            retries: Some(1),
            warm_prestart: true,
            ..RunSettings::default()
        };
        assert_eq!(
            recorded.overridden_by(&RunSettings::default(), false),
            recorded
        );
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
        // No warm processes, so none to start early.
        assert!(!merged.warm_prestart);
    }

    #[test]
    fn settings_go_first_then_the_configuration_then_the_defaults() {
        let config = ExecutorConfig::parse(
            "jobs = 3\ntimeout_secs = 7\ngrace_secs = 2\n",
            Path::new("tkr.toml"),
            Path::new("/"),
        )
        .expect("config");
        let from_config = RunSettings::default().process_options(&config);
        assert_eq!(from_config.jobs, 3);
        assert_eq!(from_config.task_timeout, Some(Duration::from_secs(7)));
        assert_eq!(from_config.grace, Duration::from_secs(2));
        assert!(from_config.warm && !from_config.prestart_warm);
        let settings = RunSettings {
            jobs: Some(1),
            task_timeout: Some(0.5),
            warm_prestart: true,
            ..RunSettings::default()
        };
        let given = settings.process_options(&config);
        assert_eq!(given.jobs, 1);
        assert_eq!(given.task_timeout, Some(Duration::from_millis(500)));
        assert!(given.prestart_warm);
        let cold = RunSettings {
            no_warm: true,
            warm_prestart: true,
            ..RunSettings::default()
        }
        .process_options(&ExecutorConfig::default());
        assert!(!cold.warm && !cold.prestart_warm);
    }

    #[test]
    fn the_polling_interval_overrides_the_configuration() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("tkr.toml");
        std::fs::write(&path, "[hpc]\npoll_secs = 5\n").expect("write");
        let settings = RunSettings {
            config: Some(path),
            batch_poll_secs: Some(0.02),
            ..RunSettings::default()
        };
        let loaded = settings.load_config().expect("config");
        assert_eq!(loaded.hpc.poll_secs, Some(5.0));
        let effective = settings.effective_config(loaded.clone());
        assert_eq!(effective.hpc.poll_secs, Some(0.02));
        let without = RunSettings {
            batch_poll_secs: None,
            ..settings
        };
        assert_eq!(without.effective_config(loaded).hpc.poll_secs, Some(5.0));
    }

    #[test]
    fn a_record_reads_back_and_a_run_without_one_has_none() {
        let dir = tempfile::tempdir().expect("tempdir");
        let storage = FileControllerStorage::new(dir.path(), Uuid::from_u128(1), None);
        assert_eq!(RunSettings::read(&storage).expect("read"), None);
        let settings = RunSettings {
            registries: vec!["/reg".into()],
            task_timeout: Some(1.5),
            prefer_uv: true,
            ..RunSettings::default()
        };
        settings.write(&storage).expect("write");
        assert_eq!(RunSettings::read(&storage).expect("read"), Some(settings));
        std::fs::write(storage.debug_path().join(RUN_SETTINGS_FILE), "{").expect("spoil");
        let err = RunSettings::read(&storage).expect_err("invalid");
        assert!(matches!(err, RunSettingsError::Invalid { .. }), "{err}");
    }

    #[test]
    fn only_a_folder_with_metadata_or_a_root_node_is_a_started_workflow() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert!(!workflow_started(dir.path()));
        std::fs::write(dir.path().join("logs"), "").expect("log");
        assert!(!workflow_started(dir.path()));
        std::fs::create_dir(dir.path().join("-")).expect("root");
        assert!(workflow_started(dir.path()));
    }

    #[test]
    fn the_cache_and_retries_follow_the_settings_and_need_a_folder() {
        let dir = tempfile::tempdir().expect("tempdir");
        let storage = FileControllerStorage::new(dir.path(), Uuid::from_u128(1), None);
        std::fs::create_dir_all(storage.workflow_dir()).expect("folder");
        let plain = assemble_engine(
            &storage,
            &RunSettings::default(),
            ExecutorConfig::default(),
            Breakpoints::default(),
            false,
        );
        assert!(plain.options.cache.is_none() && plain.options.retries.is_none());
        assert!(!plain.options.resume && plain.options.record_timeline);
        let asked = RunSettings {
            cache: true,
            retries: Some(2),
            ..RunSettings::default()
        };
        let engine = assemble_engine(
            &storage,
            &asked,
            ExecutorConfig::default(),
            Breakpoints::default(),
            true,
        );
        assert!(engine.options.cache.is_some() && engine.options.resume);
        let policy = engine.options.retries.expect("retries");
        assert_eq!(policy("w", "f").retries, 2);
        let memory = MemoryControllerStorage::new(MemoryFiles::new(), Uuid::from_u128(2), None);
        let in_memory = assemble_engine(
            &memory,
            &asked,
            ExecutorConfig::default(),
            Breakpoints::default(),
            false,
        );
        assert!(in_memory.options.cache.is_none());
    }
}
