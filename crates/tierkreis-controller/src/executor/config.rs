//! The executor configuration file (`tkr.toml`): where workers live and how
//! to start them. The format is documented in the [`crate::executor`] module.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

pub mod batch;

use batch::{BatchSystem, HpcConfig, JobConfig};

/// Where a worker's tasks run: on this machine, or as batch jobs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ExecutorKind {
    /// Processes on this machine (the default).
    #[default]
    Local,
    /// Jobs of a batch system: SLURM (`sbatch`), PBS (`qsub`) or Fujitsu
    /// PJM (`pjsub`).
    Batch(BatchSystem),
}

impl ExecutorKind {
    /// Every kind, in the order the configuration's documentation lists them.
    pub const ALL: [ExecutorKind; 4] = [
        ExecutorKind::Local,
        ExecutorKind::Batch(BatchSystem::Slurm),
        ExecutorKind::Batch(BatchSystem::Pbs),
        ExecutorKind::Batch(BatchSystem::Pjsub),
    ];

    /// The name used in the configuration file.
    pub fn name(self) -> &'static str {
        match self {
            ExecutorKind::Local => "local",
            ExecutorKind::Batch(system) => system.name(),
        }
    }
}

/// Read from its name (`executor = "slurm"`), with serde's usual message for
/// an unknown one.
impl<'de> Deserialize<'de> for ExecutorKind {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct NameVisitor;
        impl serde::de::Visitor<'_> for NameVisitor {
            type Value = ExecutorKind;
            fn expecting(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                formatter.write_str("an executor name: local, slurm, pbs or pjsub")
            }
            fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<ExecutorKind, E> {
                ExecutorKind::ALL
                    .into_iter()
                    .find(|kind| kind.name() == name)
                    .ok_or_else(|| E::unknown_variant(name, &["local", "slurm", "pbs", "pjsub"]))
            }
        }
        deserializer.deserialize_str(NameVisitor)
    }
}

/// How a worker process is started and how it reports back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WorkerKind {
    /// A shell script (`main.sh`, run with `bash`) given the reference's
    /// environment variables; exit 0 marks the task done.
    Shell,
    /// A Python worker run with `uv run main.py` in its folder.
    Uv,
    /// A Python worker run with the configured interpreter in its folder.
    Python,
    /// An executable given the call-args path (like the reference's worker CLI).
    Binary,
    /// An executable reading the first input on stdin and writing the first
    /// output on stdout; exit 0 marks the task done.
    Stdio,
}

impl WorkerKind {
    /// The name used in the configuration file and in debug data.
    pub fn name(self) -> &'static str {
        match self {
            WorkerKind::Shell => "shell",
            WorkerKind::Uv => "uv",
            WorkerKind::Python => "python",
            WorkerKind::Binary => "binary",
            WorkerKind::Stdio => "stdio",
        }
    }

    /// Whether the executor marks the task done when the process exits with 0
    /// (the reference's shell and stdin/stdout executors do); other kinds must
    /// mark done themselves.
    pub fn done_on_success(self) -> bool {
        matches!(self, WorkerKind::Shell | WorkerKind::Stdio)
    }
}

/// A number of bytes, written in `tkr.toml` as an integer or a string with a
/// unit: `B`, `KB`/`MB`/`GB`/`TB` (powers of 1000) or `KiB`/`MiB`/`GiB`/`TiB`
/// (powers of 1024), e.g. `"2GiB"`, `"1.5 GB"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemorySize(pub u64);

impl MemorySize {
    /// Parses `"2GiB"`, `"512 MB"`, `"1000"`; the error says what is wrong.
    pub fn parse(text: &str) -> Result<Self, String> {
        let t = text.trim();
        let split = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(t.len());
        let (number, unit) = t.split_at(split);
        let number: f64 = number
            .parse()
            .map_err(|_| format!("{text:?} is not a size: it must start with a number"))?;
        let factor: u64 = match unit.trim() {
            "" | "B" => 1,
            "KB" | "kB" => 1_000,
            "MB" => 1_000_000,
            "GB" => 1_000_000_000,
            "TB" => 1_000_000_000_000,
            "KiB" => 1 << 10,
            "MiB" => 1 << 20,
            "GiB" => 1 << 30,
            "TiB" => 1 << 40,
            other => {
                return Err(format!(
                    "{text:?} has the unknown unit {other:?} (use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)"
                ))
            }
        };
        let bytes = number * factor as f64;
        if !(bytes.is_finite() && bytes >= 1.0 && bytes < u64::MAX as f64) {
            return Err(format!("{text:?} is not a usable size"));
        }
        Ok(MemorySize(bytes as u64))
    }
}

impl<'de> Deserialize<'de> for MemorySize {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Bytes(u64),
            Text(String),
        }
        match Raw::deserialize(d)? {
            Raw::Bytes(0) => Err(serde::de::Error::custom("a memory limit of 0 bytes")),
            Raw::Bytes(n) => Ok(MemorySize(n)),
            Raw::Text(t) => MemorySize::parse(&t).map_err(serde::de::Error::custom),
        }
    }
}

/// A wait written as text in the configuration (`"1s"`, `"500ms"`, `"2m"`,
/// `"1.5"` seconds), checked when the file is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConfiguredDuration(pub std::time::Duration);

impl ConfiguredDuration {
    /// Parses `1s`, `500ms`, `2m`, `1h`, `1.5s` or a bare number of seconds.
    pub fn parse(text: &str) -> Option<Self> {
        let t = text.trim();
        let (number, unit) = match t.find(|c: char| c.is_ascii_alphabetic()) {
            Some(i) => (&t[..i], &t[i..]),
            None => (t, "s"),
        };
        let value: f64 = number.trim().parse().ok()?;
        let seconds = match unit {
            "ms" => value / 1000.0,
            "s" => value,
            "m" | "min" => value * 60.0,
            "h" => value * 3600.0,
            _ => return None,
        };
        (seconds.is_finite() && seconds >= 0.0)
            .then(|| Self(std::time::Duration::from_secs_f64(seconds)))
    }
}

impl<'de> Deserialize<'de> for ConfiguredDuration {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        ConfiguredDuration::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "{text:?} is not a duration (e.g. \"1s\", \"500ms\", \"2m\")"
            ))
        })
    }
}

/// Settings for one worker (`[workers.NAME]`) or one route (`[[routes]]`).
/// Unset fields fall back to the next less specific level.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkerConfig {
    /// Force a kind instead of discovering it.
    pub kind: Option<WorkerKind>,
    /// The program and its first arguments; replaces discovery.
    pub command: Option<Vec<String>>,
    /// The Python interpreter for kind `python`.
    pub python: Option<String>,
    /// Stop the task after this many seconds.
    pub timeout_secs: Option<f64>,
    /// Extra environment variables for the process.
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    /// Where the tasks run (default `local`).
    pub executor: Option<ExecutorKind>,
    /// The batch job's specification, for executors other than `local`.
    pub job: Option<JobConfig>,
    /// `false`: one process per call even where a warm process could serve
    /// many (default: warm where the worker supports it).
    pub warm: Option<bool>,
    /// Replace a warm process after this many calls.
    pub max_calls: Option<u64>,
    /// Replace a warm process whose resident memory grows past this
    /// (`"2GiB"`, `"512MB"`, or a number of bytes); a call running when it
    /// does fails, and so does a one-shot task whose processes grow past it.
    pub memory_limit: Option<MemorySize>,
    /// Whether the result cache may reuse these tasks' results (`false`
    /// for non-deterministic tasks, e.g. shots without a seed).
    pub cache: Option<bool>,
    /// How many times a failed task is run again.
    pub retries: Option<u32>,
    /// The wait before the first retry ("1s", "500ms", "2m"), doubled for
    /// each later one up to a cap.
    pub retry_backoff: Option<ConfiguredDuration>,
    /// Which failures are retried (default: exit, signal, timeout).
    pub retry_on: Option<Vec<RetryOn>>,
    /// Batch executors: at most this many worker jobs serve this worker at
    /// once (default `[hpc] max_worker_jobs`, else 4).
    pub max_worker_jobs: Option<u32>,
    /// Batch executors: a worker job idle this long is ended, and one that
    /// hears nothing from its controller this long ends itself (default
    /// `[hpc] worker_idle_secs`, else 60).
    pub worker_idle_secs: Option<f64>,
}

/// A kind of task failure a retry policy can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RetryOn {
    /// The worker process exited with a non-zero status without writing `_error`.
    Exit,
    /// The worker process was killed by a signal.
    Signal,
    /// The task ran longer than its timeout.
    Timeout,
    /// The worker wrote `_error` itself (a failure it reported).
    Error,
}

/// A `[[routes]]` entry: settings for every task whose `worker.function`
/// matches the glob `task`. Its settings are a worker's (one list of fields
/// for both; an unknown field is an error naming the route).
#[derive(Debug, Clone, PartialEq)]
pub struct RouteConfig {
    /// A glob on `worker.function`, e.g. `heavy.*` or `*.simulate`.
    pub task: String,
    /// The settings of the tasks it matches.
    pub settings: WorkerConfig,
}

impl<'de> Deserialize<'de> for RouteConfig {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let mut table = toml::Table::deserialize(d)?;
        let task = match table.remove("task") {
            Some(toml::Value::String(task)) => task,
            Some(other) => {
                return Err(D::Error::custom(format!(
                    "a route's `task` must be a glob in quotes, not {other}"
                )))
            }
            None => return Err(D::Error::missing_field("task")),
        };
        let settings = WorkerConfig::deserialize(toml::Value::Table(table))
            .map_err(|e| D::Error::custom(format!("in the route for task {task:?}: {e}")))?;
        Ok(RouteConfig { task, settings })
    }
}

/// The whole configuration file.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExecutorConfig {
    /// Registry folders holding one folder per worker, searched in order;
    /// relative paths are relative to the configuration file.
    #[serde(default)]
    pub registries: Vec<PathBuf>,
    /// The default Python interpreter (default `python3`).
    pub python: Option<String>,
    /// How many worker processes may run at once (default: the number of cores).
    pub jobs: Option<usize>,
    /// The default per-task timeout in seconds (none by default).
    pub timeout_secs: Option<f64>,
    /// Seconds between SIGTERM and SIGKILL when stopping a task (default 5).
    pub grace_secs: Option<f64>,
    /// Per-worker settings.
    #[serde(default)]
    pub workers: BTreeMap<String, WorkerConfig>,
    /// Per-task settings by glob; the first match wins over `workers`.
    #[serde(default)]
    pub routes: Vec<RouteConfig>,
    /// Settings of the batch-job executors (`[hpc]`).
    #[serde(default)]
    pub hpc: HpcConfig,
    /// Reuse results of tasks already computed with the same inputs and
    /// worker (the result cache; as `tkr run --cache`).
    pub cache: Option<bool>,
}

/// Why the configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the executor configuration {}", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the executor configuration {} is not valid", .path.display())]
    Parse {
        path: PathBuf,
        #[source]
        source: Box<toml::de::Error>,
    },
    #[error("route {index} of {}: {pattern:?} is not a valid glob", .path.display())]
    BadRoute {
        path: PathBuf,
        index: usize,
        pattern: String,
        #[source]
        source: glob::PatternError,
    },
    #[error("{field} in {} is {value}; it must be a finite number of seconds >= 0", .path.display())]
    BadSeconds {
        path: PathBuf,
        field: String,
        value: f64,
    },
    #[error("{field} in {} is an empty command", .path.display())]
    EmptyCommand { path: PathBuf, field: String },
}

/// The configuration file read from the current directory when no `--config`
/// is given.
pub const DEFAULT_CONFIG_FILE: &str = "tkr.toml";

impl ExecutorConfig {
    /// Reads and checks the file at `path`; relative registries become
    /// relative to the file's folder.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let base = path.parent().unwrap_or(Path::new(""));
        Self::parse(&text, path, base)
    }

    /// Parses `text` (named `path` in errors); relative registries are joined
    /// to `base`.
    pub fn parse(text: &str, path: &Path, base: &Path) -> Result<Self, ConfigError> {
        let mut config: ExecutorConfig = toml::from_str(text).map_err(|e| ConfigError::Parse {
            path: path.to_path_buf(),
            source: Box::new(e),
        })?;
        for r in &mut config.registries {
            if r.is_relative() {
                *r = base.join(&*r);
            }
        }
        config.check(path)?;
        Ok(config)
    }

    fn check(&self, path: &Path) -> Result<(), ConfigError> {
        let seconds = |field: String, v: Option<f64>| match v {
            Some(value) if !(value.is_finite() && value >= 0.0) => Err(ConfigError::BadSeconds {
                path: path.to_path_buf(),
                field,
                value,
            }),
            _ => Ok(()),
        };
        let command = |field: String, c: &Option<Vec<String>>| match c {
            Some(c) if c.is_empty() => Err(ConfigError::EmptyCommand {
                path: path.to_path_buf(),
                field,
            }),
            _ => Ok(()),
        };
        seconds("timeout_secs".into(), self.timeout_secs)?;
        seconds("grace_secs".into(), self.grace_secs)?;
        seconds("hpc.poll_secs".into(), self.hpc.poll_secs)?;
        seconds("hpc.worker_idle_secs".into(), self.hpc.worker_idle_secs)?;
        for (name, w) in &self.workers {
            seconds(format!("workers.{name}.timeout_secs"), w.timeout_secs)?;
            seconds(
                format!("workers.{name}.worker_idle_secs"),
                w.worker_idle_secs,
            )?;
            command(format!("workers.{name}.command"), &w.command)?;
        }
        for (index, r) in self.routes.iter().enumerate() {
            seconds(
                format!("routes[{index}].timeout_secs"),
                r.settings.timeout_secs,
            )?;
            seconds(
                format!("routes[{index}].worker_idle_secs"),
                r.settings.worker_idle_secs,
            )?;
            command(format!("routes[{index}].command"), &r.settings.command)?;
            glob::Pattern::new(&r.task).map_err(|source| ConfigError::BadRoute {
                path: path.to_path_buf(),
                index,
                pattern: r.task.clone(),
                source,
            })?;
        }
        Ok(())
    }

    /// Whether any worker or route runs its tasks as batch jobs.
    pub fn uses_batch_jobs(&self) -> bool {
        let hpc = |e: Option<ExecutorKind>| e.is_some_and(|e| e != ExecutorKind::Local);
        self.workers.values().any(|w| hpc(w.executor))
            || self.routes.iter().any(|r| hpc(r.settings.executor))
    }

    /// The settings for task `worker.function`: the first matching route,
    /// then `[workers.<worker>]`, field by field (`env` merged, the route's
    /// entries winning).
    pub fn settings_for(&self, worker: &str, function: &str) -> WorkerConfig {
        let task = format!("{worker}.{function}");
        let base = self.workers.get(worker).cloned().unwrap_or_default();
        let route = self.routes.iter().find(|r| {
            glob::Pattern::new(&r.task)
                .map(|p| p.matches(&task))
                .unwrap_or(false)
        });
        match route {
            None => base,
            Some(r) => {
                let r = r.settings.clone();
                let mut env = base.env;
                env.extend(r.env);
                WorkerConfig {
                    kind: r.kind.or(base.kind),
                    command: r.command.or(base.command),
                    python: r.python.or(base.python),
                    timeout_secs: r.timeout_secs.or(base.timeout_secs),
                    env,
                    executor: r.executor.or(base.executor),
                    job: JobConfig::merge(base.job, r.job),
                    warm: r.warm.or(base.warm),
                    max_calls: r.max_calls.or(base.max_calls),
                    memory_limit: r.memory_limit.or(base.memory_limit),
                    cache: r.cache.or(base.cache),
                    retries: r.retries.or(base.retries),
                    retry_backoff: r.retry_backoff.or(base.retry_backoff),
                    retry_on: r.retry_on.or(base.retry_on),
                    max_worker_jobs: r.max_worker_jobs.or(base.max_worker_jobs),
                    worker_idle_secs: r.worker_idle_secs.or(base.worker_idle_secs),
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_with_their_units() {
        use std::time::Duration;
        let parse = ConfiguredDuration::parse;
        assert_eq!(
            parse("500ms"),
            Some(ConfiguredDuration(Duration::from_millis(500)))
        );
        assert_eq!(
            parse("2m"),
            Some(ConfiguredDuration(Duration::from_secs(120)))
        );
        assert_eq!(
            parse("1.5"),
            Some(ConfiguredDuration(Duration::from_secs_f64(1.5)))
        );
        assert_eq!(parse("soon"), None);
        assert_eq!(parse("-1s"), None);
    }

    #[test]
    fn warm_settings_and_memory_sizes_parse() {
        let text = r#"
[workers.w]
warm = false
max_calls = 10
memory_limit = "2GiB"
[[routes]]
task = "w.big"
memory_limit = 1000
[[routes]]
task = "w.mid"
memory_limit = "1.5 GB"
"#;
        let c = ExecutorConfig::parse(text, Path::new("tkr.toml"), Path::new("")).unwrap();
        let s = c.settings_for("w", "f");
        assert_eq!(
            (s.warm, s.max_calls, s.memory_limit),
            (Some(false), Some(10), Some(MemorySize(2 << 30)))
        );
        assert_eq!(
            c.settings_for("w", "big").memory_limit,
            Some(MemorySize(1000))
        );
        assert_eq!(c.settings_for("w", "big").max_calls, Some(10));
        assert_eq!(
            c.settings_for("w", "mid").memory_limit,
            Some(MemorySize(1_500_000_000))
        );
        let e = ExecutorConfig::parse(
            "[workers.w]\nmemory_limit = \"2 parsecs\"",
            Path::new("tkr.toml"),
            Path::new(""),
        )
        .unwrap_err();
        let chain = format!("{:#}", anyhow_like(&e));
        assert!(chain.contains("\"parsecs\""), "{chain}");
    }

    fn anyhow_like(e: &dyn std::error::Error) -> String {
        let mut s = e.to_string();
        let mut cur = e.source();
        while let Some(c) = cur {
            s.push_str(": ");
            s.push_str(&c.to_string());
            cur = c.source();
        }
        s
    }

    const EXAMPLE: &str = r#"
registries = ["workers", "/abs/reg"]
python = "python3.12"
jobs = 3
timeout_secs = 60
grace_secs = 0.5

[workers.hello]
kind = "uv"
timeout_secs = 10
env = { A = "1", B = "2" }

[workers.tool]
command = ["/opt/tool", "--fast"]

[[routes]]
task = "hello.slow_*"
timeout_secs = 600
env = { B = "route" }

[[routes]]
task = "*.stdio"
kind = "stdio"
"#;

    fn example() -> ExecutorConfig {
        ExecutorConfig::parse(EXAMPLE, Path::new("/cfg/tkr.toml"), Path::new("/cfg")).unwrap()
    }

    #[test]
    fn parses_every_field_and_resolves_relative_registries() {
        let c = example();
        assert_eq!(
            c.registries,
            vec![PathBuf::from("/cfg/workers"), PathBuf::from("/abs/reg")]
        );
        assert_eq!(c.python.as_deref(), Some("python3.12"));
        assert_eq!(c.jobs, Some(3));
        assert_eq!(c.timeout_secs, Some(60.0));
        assert_eq!(c.grace_secs, Some(0.5));
        assert_eq!(c.workers["hello"].kind, Some(WorkerKind::Uv));
        assert_eq!(
            c.workers["tool"].command.as_deref(),
            Some(&["/opt/tool".to_string(), "--fast".to_string()][..])
        );
        assert_eq!(c.routes.len(), 2);
    }

    #[test]
    fn routes_override_worker_settings_field_by_field() {
        let c = example();
        let s = c.settings_for("hello", "slow_add");
        assert_eq!(s.kind, Some(WorkerKind::Uv));
        assert_eq!(s.timeout_secs, Some(600.0));
        assert_eq!(s.env["A"], "1");
        assert_eq!(s.env["B"], "route");
        let s = c.settings_for("hello", "fast");
        assert_eq!(s.timeout_secs, Some(10.0));
        assert_eq!(s.env["B"], "2");
        assert_eq!(
            c.settings_for("other", "stdio").kind,
            Some(WorkerKind::Stdio)
        );
        assert_eq!(c.settings_for("other", "x"), WorkerConfig::default());
    }

    #[test]
    fn executor_names_read_as_local_or_a_batch_system() {
        let path = Path::new("/cfg/tkr.toml");
        for (name, kind) in [
            ("local", ExecutorKind::Local),
            ("slurm", ExecutorKind::Batch(BatchSystem::Slurm)),
            ("pbs", ExecutorKind::Batch(BatchSystem::Pbs)),
            ("pjsub", ExecutorKind::Batch(BatchSystem::Pjsub)),
        ] {
            let text = format!("[workers.w]\nexecutor = \"{name}\"");
            let config = ExecutorConfig::parse(&text, path, Path::new("/")).unwrap();
            assert_eq!(config.workers["w"].executor, Some(kind));
            assert_eq!(kind.name(), name);
        }
        let error = ExecutorConfig::parse("[workers.w]\nexecutor = \"lsf\"", path, Path::new("/"))
            .unwrap_err();
        let message = format!("{error:#}");
        let source = std::error::Error::source(&error)
            .map(ToString::to_string)
            .unwrap_or_default();
        assert!(
            source.contains(
                "unknown variant `lsf`, expected one of `local`, `slurm`, `pbs`, `pjsub`"
            ),
            "{message}: {source}"
        );
    }

    #[test]
    fn a_bad_backoff_or_an_unknown_route_field_is_refused_naming_where() {
        let p = Path::new("/cfg/tkr.toml");
        let e = ExecutorConfig::parse(
            "[workers.flaky]\nretries = 1\nretry_backoff = \"soon\"\n",
            p,
            Path::new("/"),
        )
        .unwrap_err();
        let text = format!("{}", std::error::Error::source(&e).unwrap());
        assert!(
            text.contains("line 3") && text.contains("retry_backoff = \"soon\""),
            "{text}"
        );
        assert!(text.contains("\"soon\" is not a duration"), "{text}");
        let e = ExecutorConfig::parse(
            "[[routes]]\ntask = \"heavy.*\"\nretry = 2\n",
            p,
            Path::new("/"),
        )
        .unwrap_err();
        let text = format!("{}", std::error::Error::source(&e).unwrap());
        assert!(
            text.contains("route for task \"heavy.*\"") && text.contains("retry"),
            "{text}"
        );
        let c = ExecutorConfig::parse(
            "[workers.w]\nretry_backoff = \"2m\"\n[[routes]]\ntask = \"w.f\"\nretries = 2\n",
            p,
            Path::new("/"),
        )
        .unwrap();
        let s = c.settings_for("w", "f");
        assert_eq!(s.retries, Some(2));
        assert_eq!(
            s.retry_backoff,
            Some(ConfiguredDuration(std::time::Duration::from_secs(120)))
        );
    }

    #[test]
    fn errors_name_the_file_and_the_field() {
        let p = Path::new("/cfg/tkr.toml");
        let e = ExecutorConfig::parse("jobs = \"many\"", p, Path::new("/")).unwrap_err();
        assert!(matches!(e, ConfigError::Parse { .. }), "{e}");
        assert!(e.to_string().contains("/cfg/tkr.toml"));
        let e = ExecutorConfig::parse("bogus = 1", p, Path::new("/")).unwrap_err();
        assert!(matches!(e, ConfigError::Parse { .. }), "{e}");
        let e =
            ExecutorConfig::parse("[workers.w]\nkind = \"docker\"", p, Path::new("/")).unwrap_err();
        assert!(matches!(e, ConfigError::Parse { .. }), "{e}");
        let e =
            ExecutorConfig::parse("[workers.w]\ntimeout_secs = -1", p, Path::new("/")).unwrap_err();
        assert!(e.to_string().contains("workers.w.timeout_secs"), "{e}");
        let e = ExecutorConfig::parse("[workers.w]\ncommand = []", p, Path::new("/")).unwrap_err();
        assert!(e.to_string().contains("workers.w.command"), "{e}");
        let e = ExecutorConfig::parse("[[routes]]\ntask = \"a[\"", p, Path::new("/")).unwrap_err();
        assert!(matches!(e, ConfigError::BadRoute { index: 0, .. }), "{e}");
    }
}
