//! Worker discovery: turns the worker name of a task (`W` in `W.f`) into the
//! command that runs it, from the configuration, the registry folders and
//! `PATH`; when nothing fits, the error names every place searched.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::config::{ExecutorConfig, WorkerKind};

/// How to start one task's process (before the task's own paths are added).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LaunchPlan {
    pub kind: WorkerKind,
    /// The program: a path, or a name looked up on `PATH` when spawning.
    pub program: OsString,
    /// Arguments before the call-args path (which kinds other than `stdio` get last).
    pub args: Vec<OsString>,
    /// The working directory; `None` keeps the controller's.
    pub cwd: Option<PathBuf>,
    /// Extra environment from the configuration.
    pub env: BTreeMap<String, String>,
    /// The configured per-task timeout, if any.
    pub timeout: Option<Duration>,
    /// The configured `warm`, `max_calls` and `memory_limit`.
    pub warm: WarmSettings,
}

/// How a worker may be kept warm (see [`crate::executor::warm`]).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct WarmSettings {
    /// `Some(false)`: never warm.
    pub enabled: Option<bool>,
    /// Replace a warm process after this many calls.
    pub max_calls: Option<u64>,
    /// Replace a warm process whose resident memory grows past this many
    /// bytes (a one-shot task past it fails too).
    pub memory_limit: Option<u64>,
}

/// No way to run a worker was found.
#[derive(Debug, thiserror::Error)]
pub enum DiscoveryError {
    #[error("{}", not_found_message(.worker, .kind, .searched))]
    NotFound {
        worker: String,
        kind: Option<WorkerKind>,
        searched: Vec<String>,
    },
    #[error("worker {worker:?} ({}) is to run with `uv run` (kind \"uv\" in the configuration, or `tkr run --uv`), but `uv` is not on PATH", .dir.display())]
    UvMissing { worker: String, dir: PathBuf },
}

fn not_found_message(worker: &str, kind: &Option<WorkerKind>, searched: &[String]) -> String {
    let mut m = format!("no worker {worker:?} found");
    if let Some(k) = kind {
        let _ = write!(m, " of kind {:?}", k.name());
    }
    m.push_str("; searched:");
    for s in searched {
        let _ = write!(m, "\n  - {s}");
    }
    m.push_str(
        "\n(add a registry with --registry DIR or `registries` in tkr.toml, \
         or set [workers.NAME] command)",
    );
    m
}

/// Finds workers; see the module documentation of [`crate::executor`] for
/// the search order.
#[derive(Debug, Clone)]
pub struct Discovery {
    config: ExecutorConfig,
    registries: Vec<PathBuf>,
    path: Option<OsString>,
    /// Run every Python worker with `uv run` (the reference's `tkr run --uv`).
    prefer_uv: bool,
    /// Plans resolved elsewhere, by worker name, used as they are (a worker
    /// job serves the plan its controller resolved).
    resolved: BTreeMap<String, LaunchPlan>,
}

impl Discovery {
    /// Discovery with `registries` searched first, then the configuration's,
    /// and the process's `PATH`.
    pub fn new(config: ExecutorConfig, registries: Vec<PathBuf>) -> Self {
        let mut all = registries;
        all.extend(config.registries.iter().cloned());
        // Absolute, so commands work from a worker's own folder and read well in logs.
        for r in &mut all {
            if let Ok(abs) = std::path::absolute(&*r) {
                *r = abs;
            }
        }
        Self {
            config,
            registries: all,
            path: std::env::var_os("PATH"),
            prefer_uv: false,
            resolved: BTreeMap::new(),
        }
    }

    /// Every task of `worker` runs as `plan` says, with no search.
    pub fn with_resolved_plan(mut self, worker: &str, plan: LaunchPlan) -> Self {
        self.resolved.insert(worker.to_string(), plan);
        self
    }

    /// With `prefer_uv`, a Python worker (`main.py`) whose kind is not
    /// configured runs with `uv run main.py` even without a `pyproject.toml`,
    /// as the reference's `tkr run --uv` does; `uv` must then be on `PATH`.
    pub fn with_uv_preferred(mut self, prefer_uv: bool) -> Self {
        self.prefer_uv = prefer_uv;
        self
    }

    /// Uses `path` instead of the process's `PATH` (for tests and embedding).
    pub fn with_path(mut self, path: Option<OsString>) -> Self {
        self.path = path;
        self
    }

    /// The configuration in use.
    pub fn config(&self) -> &ExecutorConfig {
        &self.config
    }

    /// How to run task `worker.function`.
    pub fn resolve(&self, worker: &str, function: &str) -> Result<LaunchPlan, DiscoveryError> {
        if let Some(plan) = self.resolved.get(worker) {
            return Ok(plan.clone());
        }
        let settings = self.config.settings_for(worker, function);
        let timeout = settings.timeout_secs.map(Duration::from_secs_f64);
        let python = settings
            .python
            .clone()
            .or_else(|| self.config.python.clone())
            .unwrap_or_else(|| "python3".to_string());
        let plan = |kind, program: OsString, args: Vec<OsString>, cwd| LaunchPlan {
            kind,
            program,
            args,
            cwd,
            env: settings.env.clone(),
            timeout,
            warm: WarmSettings {
                enabled: settings.warm,
                max_calls: settings.max_calls,
                memory_limit: settings.memory_limit.map(|m| m.0),
            },
        };
        if let Some([program, args @ ..]) = settings.command.as_deref() {
            return Ok(plan(
                settings.kind.unwrap_or(WorkerKind::Binary),
                program.into(),
                args.iter().map(OsString::from).collect(),
                None,
            ));
        }
        let kind = settings.kind;
        let want = |k: WorkerKind| kind.is_none() || kind == Some(k);
        let mut searched = Vec::new();
        for registry in &self.registries {
            let dir = registry.join(worker);
            // The reference's layouts: `W/main.*`, then the package of
            // `tkr init worker`, `W/tkr_W_impl/main.*` (with the project,
            // its `pyproject.toml`, in `W`).
            let package = dir.join(format!("tkr_{worker}_impl"));
            let shell_wanted = want(WorkerKind::Shell) || kind == Some(WorkerKind::Stdio);
            let python_wanted = want(WorkerKind::Python) || want(WorkerKind::Uv);
            // `--uv` runs `main.py` with uv even where a `main.sh` exists, as
            // the reference's `tkr run --uv` looks for `main.py` only.
            let python_first = self.prefer_uv && kind.is_none();
            for script_dir in [&dir, &package] {
                let sh = script_dir.join("main.sh");
                let py = script_dir.join("main.py");
                for try_python in [python_first, !python_first] {
                    if try_python && python_wanted {
                        searched.push(py.display().to_string());
                        if py.is_file() {
                            return self.python_plan(worker, kind, script_dir, &dir, &python, plan);
                        }
                    } else if !try_python && shell_wanted {
                        searched.push(sh.display().to_string());
                        if sh.is_file() {
                            let k = kind.unwrap_or(WorkerKind::Shell);
                            return Ok(plan(k, "bash".into(), vec![sh.into()], None));
                        }
                    }
                }
            }
            if want(WorkerKind::Binary) || kind == Some(WorkerKind::Stdio) {
                for b in [dir.join("main"), dir.join(worker)] {
                    searched.push(format!("{} (executable)", b.display()));
                    if is_executable(&b) {
                        let k = kind.unwrap_or(WorkerKind::Binary);
                        return Ok(plan(k, b.into(), Vec::new(), None));
                    }
                }
            }
        }
        if self.registries.is_empty() {
            searched.push("no registry folders (none given)".to_string());
        }
        if matches!(kind, None | Some(WorkerKind::Binary | WorkerKind::Stdio)) {
            let names = path_names(worker);
            for name in &names {
                if let Some(found) = self.which(name) {
                    let k = kind.unwrap_or(WorkerKind::Binary);
                    return Ok(plan(k, found.into(), Vec::new(), None));
                }
            }
            let dirs = self
                .path
                .as_ref()
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_default();
            searched.push(format!(
                "executables named {} on PATH ({dirs})",
                names.join(", ")
            ));
        }
        Err(DiscoveryError::NotFound {
            worker: worker.to_string(),
            kind,
            searched,
        })
    }

    /// How to run the Python worker whose `main.py` is in `script_dir`, part
    /// of the project in `project_dir` (the same folder, or its parent for
    /// the `tkr_W_impl/` layout): `uv run main.py` when the kind says so, or
    /// when unconfigured and `--uv` was given or the project has a
    /// `pyproject.toml` and `uv` is on `PATH`; else the Python interpreter.
    /// For the `tkr_W_impl/` layout the project folder goes on `PYTHONPATH`,
    /// so `main.py` imports its package as if the project were installed.
    fn python_plan(
        &self,
        worker: &str,
        kind: Option<WorkerKind>,
        script_dir: &Path,
        project_dir: &Path,
        python: &str,
        plan: impl Fn(WorkerKind, OsString, Vec<OsString>, Option<PathBuf>) -> LaunchPlan,
    ) -> Result<LaunchPlan, DiscoveryError> {
        let has_project = project_dir.join("pyproject.toml").is_file();
        let uv = self.which("uv");
        let k = match kind {
            Some(k) => k,
            None if self.prefer_uv => WorkerKind::Uv,
            None if has_project && uv.is_some() => WorkerKind::Uv,
            None => WorkerKind::Python,
        };
        let mut launch = if k == WorkerKind::Uv {
            let Some(uv) = uv else {
                return Err(DiscoveryError::UvMissing {
                    worker: worker.to_string(),
                    dir: script_dir.to_path_buf(),
                });
            };
            let args = vec!["run".into(), "main.py".into()];
            plan(k, uv.into(), args, Some(script_dir.to_path_buf()))
        } else {
            plan(
                k,
                python.into(),
                vec!["main.py".into()],
                Some(script_dir.to_path_buf()),
            )
        };
        if project_dir != script_dir && !launch.env.contains_key("PYTHONPATH") {
            let mut paths = vec![project_dir.to_path_buf()];
            if let Some(existing) = std::env::var_os("PYTHONPATH") {
                paths.extend(std::env::split_paths(&existing));
            }
            if let Ok(joined) = std::env::join_paths(paths) {
                launch
                    .env
                    .insert("PYTHONPATH".into(), joined.to_string_lossy().into_owned());
            }
        }
        Ok(launch)
    }

    /// The first executable file `name` in the `PATH` directories (the
    /// `which` crate's lookup). Empty `PATH` entries are skipped, as are names
    /// with a `/`, which would otherwise be looked up from the current folder.
    fn which(&self, name: &str) -> Option<PathBuf> {
        let path = self.path.as_ref()?;
        if name.contains('/') {
            return None;
        }
        let dirs = std::env::split_paths(path).filter(|d| !d.as_os_str().is_empty());
        let dirs = std::env::join_paths(dirs).ok()?;
        if dirs.is_empty() {
            return None;
        }
        // Relative `PATH` entries are read from the current folder, as a spawn would.
        let cwd = std::env::current_dir().unwrap_or_default();
        which::which_in(name, Some(dirs), cwd).ok()
    }
}

/// The names a worker `w` may have on `PATH`, in the reference's order
/// (`check_and_set_launcher`): `w`, then `tkr-w` with every `_` written as
/// `-`, then `tkr_w` with every `-` written as `_`; without repeats.
///
/// The order matters: with the published packages installed, `tkr_W` can be
/// an older package's script than `tkr-W` (issue #14).
fn path_names(worker: &str) -> Vec<String> {
    let mut names = Vec::new();
    for n in [
        worker.to_string(),
        format!("tkr-{worker}").replace('_', "-"),
        format!("tkr-{worker}").replace('-', "_"),
    ] {
        if !names.contains(&n) {
            names.push(n);
        }
    }
    names
}

fn is_executable(p: &Path) -> bool {
    p.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::fs;

    fn exe(path: &Path) {
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, "#!/bin/sh\n").unwrap();
        fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
    }

    fn discovery(regs: &[&Path], path: &Path, config: ExecutorConfig) -> Discovery {
        Discovery::new(config, regs.iter().map(|p| p.to_path_buf()).collect())
            .with_path(Some(path.as_os_str().to_owned()))
    }

    #[test]
    fn finds_each_registry_layout_in_order() {
        let t = tempfile::tempdir().unwrap();
        let reg = t.path().join("reg");
        let bin = t.path().join("bin");
        fs::create_dir_all(&bin).unwrap();
        fs::create_dir_all(reg.join("sh")).unwrap();
        fs::write(reg.join("sh/main.sh"), "exit 0").unwrap();
        fs::create_dir_all(reg.join("py")).unwrap();
        fs::write(reg.join("py/main.py"), "").unwrap();
        exe(&reg.join("b1/main"));
        exe(&reg.join("b2/b2"));
        let d = discovery(&[&reg], &bin, ExecutorConfig::default());

        let p = d.resolve("sh", "f").unwrap();
        assert_eq!(p.kind, WorkerKind::Shell);
        assert_eq!(p.program, "bash");
        assert_eq!(p.args, vec![OsString::from(reg.join("sh/main.sh"))]);

        let p = d.resolve("py", "f").unwrap();
        assert_eq!(p.kind, WorkerKind::Python);
        assert_eq!(p.program, "python3");
        assert_eq!(p.cwd.as_deref(), Some(reg.join("py").as_path()));

        assert_eq!(d.resolve("b1", "f").unwrap().program, reg.join("b1/main"));
        assert_eq!(d.resolve("b2", "f").unwrap().program, reg.join("b2/b2"));
    }

    #[test]
    fn python_with_pyproject_uses_uv_only_when_uv_is_on_path() {
        let t = tempfile::tempdir().unwrap();
        let reg = t.path().join("reg");
        let bin = t.path().join("bin");
        fs::create_dir_all(reg.join("py")).unwrap();
        fs::write(reg.join("py/main.py"), "").unwrap();
        fs::write(reg.join("py/pyproject.toml"), "").unwrap();
        fs::create_dir_all(&bin).unwrap();
        let config = ExecutorConfig {
            python: Some("python3.11".into()),
            ..Default::default()
        };
        let d = discovery(&[&reg], &bin, config.clone());
        let p = d.resolve("py", "f").unwrap();
        assert_eq!(
            (p.kind, p.program),
            (WorkerKind::Python, "python3.11".into())
        );
        exe(&bin.join("uv"));
        let d = discovery(&[&reg], &bin, config);
        let p = d.resolve("py", "f").unwrap();
        assert_eq!(p.kind, WorkerKind::Uv);
        assert_eq!(p.program, bin.join("uv"));
        assert_eq!(p.args, vec![OsString::from("run"), "main.py".into()]);
    }

    #[test]
    fn path_names_follow_the_reference_order() {
        assert_eq!(
            path_names("my_worker"),
            vec!["my_worker", "tkr-my-worker", "tkr_my_worker"]
        );
        assert_eq!(
            path_names("my-worker"),
            vec!["my-worker", "tkr-my-worker", "tkr_my_worker"]
        );
        let t = tempfile::tempdir().unwrap();
        exe(&t.path().join("tkr-my-worker"));
        let d = discovery(&[], t.path(), ExecutorConfig::default());
        let p = d.resolve("my_worker", "f").unwrap();
        assert_eq!(p.kind, WorkerKind::Binary);
        assert_eq!(p.program, t.path().join("tkr-my-worker"));
    }

    #[test]
    fn hyphenated_tkr_script_wins_over_the_underscored_one() {
        // As with the published packages: `tkr_pytket_worker` (old 0.1.6
        // package) and `tkr-pytket-worker` (the `-impl` package) both on PATH.
        let t = tempfile::tempdir().unwrap();
        let (a, b) = (t.path().join("a"), t.path().join("b"));
        exe(&a.join("tkr_pytket_worker"));
        exe(&b.join("tkr-pytket-worker"));
        // The underscored one even comes first on PATH.
        let path = std::env::join_paths([&a, &b]).unwrap();
        let d = Discovery::new(ExecutorConfig::default(), Vec::new()).with_path(Some(path));
        let p = d.resolve("pytket_worker", "f").unwrap();
        assert_eq!(p.program, b.join("tkr-pytket-worker"));
        // The plain name wins over both.
        exe(&b.join("pytket_worker"));
        let p = d.resolve("pytket_worker", "f").unwrap();
        assert_eq!(p.program, b.join("pytket_worker"));
    }

    #[test]
    fn folders_empty_entries_and_names_with_a_slash_are_not_found_on_path() {
        let t = tempfile::tempdir().unwrap();
        fs::create_dir_all(t.path().join("w")).unwrap();
        exe(&t.path().join("sub/x"));
        let path = std::env::join_paths([Path::new(""), t.path()]).unwrap();
        let d = Discovery::new(ExecutorConfig::default(), Vec::new()).with_path(Some(path));
        // A folder named like the worker is no executable.
        assert!(d.resolve("w", "f").is_err());
        // A worker name is never a path into a PATH folder.
        assert!(d.which("sub/x").is_none());
        assert_eq!(d.which("x"), None);
        exe(&t.path().join("x"));
        assert_eq!(d.which("x"), Some(t.path().join("x")));
    }

    #[test]
    fn a_non_executable_file_on_path_is_skipped() {
        let t = tempfile::tempdir().unwrap();
        fs::write(t.path().join("w"), "").unwrap();
        let d = discovery(&[], t.path(), ExecutorConfig::default());
        assert!(d.resolve("w", "f").is_err());
    }

    #[test]
    fn not_found_names_every_place_searched() {
        let t = tempfile::tempdir().unwrap();
        let r1 = t.path().join("r1");
        let r2 = t.path().join("r2");
        let d = discovery(&[&r1, &r2], t.path(), ExecutorConfig::default());
        let e = d.resolve("ghost", "f").unwrap_err().to_string();
        for p in [
            r1.join("ghost/main.sh"),
            r1.join("ghost/main.py"),
            r1.join("ghost/main"),
            r1.join("ghost/ghost"),
            r2.join("ghost/main.sh"),
            r2.join("ghost/ghost"),
        ] {
            assert!(e.contains(&p.display().to_string()), "{e}");
        }
        assert!(e.contains("tkr-ghost") && e.contains("tkr_ghost"), "{e}");
        assert!(e.contains(&t.path().display().to_string()), "{e}");
    }

    #[test]
    fn configured_command_and_kind_win() {
        let t = tempfile::tempdir().unwrap();
        let reg = t.path().join("reg");
        fs::create_dir_all(reg.join("w")).unwrap();
        fs::write(reg.join("w/main.sh"), "").unwrap();
        fs::write(reg.join("w/main.py"), "").unwrap();
        let text = r#"
[workers.w]
kind = "python"
timeout_secs = 2.5
[workers.c]
command = ["/bin/tool", "--x"]
[[routes]]
task = "w.echo"
kind = "stdio"
"#;
        let config = ExecutorConfig::parse(text, Path::new("tkr.toml"), t.path()).unwrap();
        let d = discovery(&[&reg], t.path(), config);
        let p = d.resolve("w", "f").unwrap();
        assert_eq!(p.kind, WorkerKind::Python);
        assert_eq!(p.timeout, Some(Duration::from_millis(2500)));
        let p = d.resolve("w", "echo").unwrap();
        assert_eq!(p.kind, WorkerKind::Stdio);
        assert_eq!(p.program, "bash");
        let p = d.resolve("c", "f").unwrap();
        assert_eq!(p.kind, WorkerKind::Binary);
        assert_eq!(p.program, "/bin/tool");
        assert_eq!(p.args, vec![OsString::from("--x")]);
    }

    #[test]
    fn the_reference_layout_runs_main_py_of_the_impl_package() {
        let t = tempfile::tempdir().unwrap();
        let reg = t.path().join("reg");
        fs::create_dir_all(reg.join("w/tkr_w_impl")).unwrap();
        fs::write(reg.join("w/tkr_w_impl/main.py"), "").unwrap();
        let d = discovery(&[&reg], t.path(), ExecutorConfig::default());
        let p = d.resolve("w", "f").unwrap();
        assert_eq!(p.kind, WorkerKind::Python);
        assert_eq!(p.cwd.as_deref(), Some(reg.join("w/tkr_w_impl").as_path()));
        let pythonpath = p.env.get("PYTHONPATH").expect("PYTHONPATH set");
        assert!(
            pythonpath.starts_with(&reg.join("w").display().to_string()),
            "{pythonpath}"
        );
        // A shell launcher in the package wins, as in the reference.
        fs::write(reg.join("w/tkr_w_impl/main.sh"), "").unwrap();
        let p = d.resolve("w", "f").unwrap();
        assert_eq!(p.kind, WorkerKind::Shell);
        // With --uv, main.py is run with uv even beside a main.sh.
        let uv_dir = t.path().join("uvbin");
        exe(&uv_dir.join("uv"));
        let d = discovery(&[&reg], &uv_dir, ExecutorConfig::default()).with_uv_preferred(true);
        let p = d.resolve("w", "f").unwrap();
        assert_eq!(p.kind, WorkerKind::Uv);
        assert_eq!(p.cwd.as_deref(), Some(reg.join("w/tkr_w_impl").as_path()));
        assert!(p.env.contains_key("PYTHONPATH"));
    }

    #[test]
    fn uv_preferred_runs_python_workers_with_uv_or_says_uv_is_missing() {
        let t = tempfile::tempdir().unwrap();
        let reg = t.path().join("reg");
        let bin = t.path().join("bin");
        fs::create_dir_all(reg.join("w")).unwrap();
        fs::create_dir_all(&bin).unwrap();
        fs::write(reg.join("w/main.py"), "").unwrap();
        let d = discovery(&[&reg], &bin, ExecutorConfig::default()).with_uv_preferred(true);
        let err = d.resolve("w", "f").unwrap_err();
        assert!(err.to_string().contains("--uv"), "{err}");
        exe(&bin.join("uv"));
        let p = d.resolve("w", "f").unwrap();
        assert_eq!(p.kind, WorkerKind::Uv);
        assert_eq!(p.args, vec![OsString::from("run"), "main.py".into()]);
    }

    #[test]
    fn forced_uv_without_uv_is_an_error() {
        let t = tempfile::tempdir().unwrap();
        let reg = t.path().join("reg");
        fs::create_dir_all(reg.join("w")).unwrap();
        fs::write(reg.join("w/main.py"), "").unwrap();
        let config =
            ExecutorConfig::parse("[workers.w]\nkind = \"uv\"", Path::new("x"), t.path()).unwrap();
        let d = discovery(&[&reg], t.path(), config);
        assert!(matches!(
            d.resolve("w", "f"),
            Err(DiscoveryError::UvMissing { .. })
        ));
    }
}
