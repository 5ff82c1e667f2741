//! The end-to-end benchmark of the `tkr` binary: write a workload's graph,
//! run `tkr run` as a child process with a fresh checkpoint folder, time it,
//! record its peak RSS and check the printed result against the closed form.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::child::{run_measured, ChildRun};
use crate::floor::per_unit_us;
use crate::{BenchError, StorageMode, Workload};

/// The variable that turns `tkr`'s OpenTelemetry export on.
pub const OTLP_ENDPOINT_VARIABLE: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";

/// The measurements for one workload size.
#[derive(Debug, Clone)]
pub struct RunStats {
    pub workload: Workload,
    pub storage: StorageMode,
    pub n: u64,
    /// Wall time of each run, in run order.
    pub walls: Vec<Duration>,
    /// User plus system CPU time of each run (`wait4`), in run order.
    pub cpus: Vec<Duration>,
    /// The largest peak RSS over the runs, in KiB.
    pub max_rss_kib: u64,
    /// Files, folders and links in the checkpoint folder after the first run
    /// (file storage with counting asked for only).
    pub entries: Option<u64>,
}

impl RunStats {
    pub fn median(&self) -> Duration {
        median(&self.walls)
    }

    /// The markdown table header matching [`RunStats::markdown_row`].
    pub fn markdown_header() -> &'static str {
        "| workload | storage | N | runs | median s | min s | µs / element | peak RSS MiB | entries / element |\n\
         |---|---|---:|---:|---:|---:|---:|---:|---:|"
    }

    pub fn markdown_row(&self) -> String {
        let med = self.median();
        let min = self.walls.iter().min().copied().unwrap_or_default();
        let entries = match self.entries {
            Some(e) if self.n > 0 => format!("{:.1}", e as f64 / self.n as f64),
            _ => "-".to_owned(),
        };
        format!(
            "| {} | {} | {} | {} | {:.3} | {:.3} | {:.2} | {:.1} | {} |",
            self.workload.name(),
            self.storage.as_arg(),
            self.n,
            self.walls.len(),
            med.as_secs_f64(),
            min.as_secs_f64(),
            per_unit_us(med, self.n),
            self.max_rss_kib as f64 / 1024.0,
            entries
        )
    }
}

/// The median of `d` (mean of the middle two for an even count; zero if empty).
pub fn median(d: &[Duration]) -> Duration {
    let mut v = d.to_vec();
    v.sort();
    match v.len() {
        0 => Duration::ZERO,
        len if len % 2 == 1 => v[len / 2],
        len => (v[len / 2 - 1] + v[len / 2]) / 2,
    }
}

/// How to run one benchmark series.
#[derive(Debug, Clone)]
pub struct TkrBench {
    /// The `tkr` binary.
    pub tkr: PathBuf,
    pub workload: Workload,
    pub storage: StorageMode,
    pub repeat: u32,
    /// Count the checkpoint entries after the first run (file storage).
    pub count_entries: bool,
    /// The workload's worker binary (see [`Workload::worker_binary`]): a
    /// link to it, under its expected name, goes in a folder put first on
    /// the child's `PATH`, where `tkr` finds it.
    pub worker: Option<PathBuf>,
    /// `tkr --jobs` (processes at once); `None` keeps tkr's default (the
    /// number of cores).
    pub jobs: Option<u64>,
    /// The OpenTelemetry export's endpoint for the child
    /// (`OTEL_EXPORTER_OTLP_ENDPOINT`); `None` runs it without one, even
    /// when this process has the variable set.
    pub otlp_endpoint: Option<String>,
}

impl TkrBench {
    /// Runs size `n` `repeat` times inside a fresh folder under `scratch`.
    pub fn run(&self, n: u64, scratch: &Path) -> Result<RunStats, BenchError> {
        let dir = tempfile::Builder::new()
            .prefix("tkr-bench-")
            .tempdir_in(scratch)
            .map_err(|source| io_err(scratch, source))?;
        let worker_dir = match (&self.worker, self.workload.worker_binary()) {
            (Some(worker), Some(name)) => Some(link_worker(worker, name, dir.path())?),
            _ => None,
        };
        let graph_path = dir.path().join("graph.json");
        std::fs::write(&graph_path, self.workload.graph(n).to_json())
            .map_err(|source| io_err(&graph_path, source))?;
        let mut stats = RunStats {
            workload: self.workload,
            storage: self.storage,
            n,
            walls: Vec::new(),
            cpus: Vec::new(),
            max_rss_kib: 0,
            entries: None,
        };
        for r in 0..self.repeat.max(1) {
            let ck = dir.path().join(format!("checkpoints-{r}"));
            std::fs::create_dir(&ck).map_err(|source| io_err(&ck, source))?;
            let mut cmd = Command::new(&self.tkr);
            cmd.arg("run")
                .arg("-f")
                .arg(&graph_path)
                .args(["--run-id", "1", "--storage", self.storage.as_arg()])
                .arg("--checkpoints")
                .arg(&ck)
                .args(["-o", "--json", "-q"])
                .env("TKR_DIR", &ck);
            if let Some(jobs) = self.jobs {
                cmd.arg("--jobs").arg(jobs.to_string());
            }
            if let Some(bin) = &worker_dir {
                cmd.env("PATH", path_with_first(bin));
            }
            match &self.otlp_endpoint {
                Some(url) => cmd.env(OTLP_ENDPOINT_VARIABLE, url),
                None => cmd.env_remove(OTLP_ENDPOINT_VARIABLE),
            };
            let run = run_measured(&mut cmd, dir.path())?;
            let program = self.tkr.display().to_string();
            check_run(&run, &program, self.workload, n)?;
            let line = run.last_stdout_line();
            let value = parse_output(line, &program, self.workload, n, &["outputs", "value"])?;
            check_value(&value, &program, self.workload, n)?;
            stats.walls.push(run.wall);
            stats.cpus.push(run.cpu);
            stats.max_rss_kib = stats.max_rss_kib.max(run.max_rss_kib);
            if r == 0 && self.count_entries && self.storage == StorageMode::File {
                stats.entries = Some(count_entries(&ck)?);
            }
        }
        // Deleting many files right before a timed run slows that run (the
        // file system is still busy freeing them), so checkpoint folders are
        // kept until all repeats are done; `dir` is removed on drop.
        Ok(stats)
    }
}

/// Makes `scratch/bin/<name>`, a link to `worker`, and returns `scratch/bin`.
fn link_worker(worker: &Path, name: &str, scratch: &Path) -> Result<PathBuf, BenchError> {
    let bin = scratch.join("bin");
    std::fs::create_dir_all(&bin).map_err(|source| io_err(&bin, source))?;
    let target = std::path::absolute(worker).map_err(|source| io_err(worker, source))?;
    let link = bin.join(name);
    std::os::unix::fs::symlink(&target, &link).map_err(|source| io_err(&link, source))?;
    Ok(bin)
}

/// This process's `PATH` with `dir` in front (for the child).
pub fn path_with_first(dir: &Path) -> std::ffi::OsString {
    let mut dirs = vec![dir.to_path_buf()];
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    // Joining fails only on a folder name holding ':'; then the folder alone.
    std::env::join_paths(&dirs).unwrap_or_else(|_| dir.as_os_str().to_owned())
}

/// Where the worker binary `name` is expected: the folder of the `tkr`
/// binary (`cargo build --release -p tierkreis-cli -p numerics_worker` puts
/// both in `target/release`). Fails with a hint when it is not there.
pub fn worker_next_to(tkr: &Path, name: &str) -> Result<PathBuf, BenchError> {
    let dir = tkr
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let bin = dir.join(name);
    if bin.is_file() {
        return Ok(bin);
    }
    Err(BenchError::MissingWorker {
        path: bin,
        hint: "build it with `cargo build --release -p numerics_worker`",
    })
}

fn io_err(p: &Path, source: std::io::Error) -> BenchError {
    BenchError::Io {
        path: p.to_path_buf(),
        source,
    }
}

/// Fails unless the child exited with status 0.
pub fn check_run(
    run: &ChildRun,
    program: &str,
    workload: Workload,
    n: u64,
) -> Result<(), BenchError> {
    if run.status.success() {
        return Ok(());
    }
    Err(BenchError::ChildFailed {
        program: program.to_owned(),
        workload: workload.name(),
        n,
        status: run.status.to_string(),
        stderr: run.stderr_tail(),
    })
}

/// Parses `line` as a JSON object and returns the value at `path` (keys).
pub fn parse_output(
    line: &str,
    program: &str,
    workload: Workload,
    n: u64,
    path: &[&str],
) -> Result<serde_json::Value, BenchError> {
    let bad = |reason: String| BenchError::BadOutput {
        program: program.to_owned(),
        workload: workload.name(),
        n,
        reason,
        line: line.chars().take(300).collect(),
    };
    let mut v: serde_json::Value =
        serde_json::from_str(line).map_err(|e| bad(format!("not JSON: {e}")))?;
    for key in path {
        v = match v {
            serde_json::Value::Object(mut m) => m
                .remove(*key)
                .ok_or_else(|| bad(format!("no key {key:?}")))?,
            _ => return Err(bad(format!("not an object where {key:?} was expected"))),
        };
    }
    Ok(v)
}

/// Fails unless `found` is the integer `workload.expected(n)`.
pub fn check_value(
    found: &serde_json::Value,
    program: &str,
    workload: Workload,
    n: u64,
) -> Result<(), BenchError> {
    let expected = workload.expected(n).to_string();
    let ok = matches!(found, serde_json::Value::Number(num) if num.is_u64() && num.to_string() == expected);
    if ok {
        return Ok(());
    }
    Err(BenchError::WrongResult {
        program: program.to_owned(),
        workload: workload.name(),
        n,
        expected,
        found: found.to_string(),
    })
}

/// Counts every file, folder and link below `root`.
pub fn count_entries(root: &Path) -> Result<u64, BenchError> {
    let mut count = 0u64;
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).map_err(|source| io_err(&d, source))? {
            let e = e.map_err(|source| io_err(&d, source))?;
            count += 1;
            let ft = e.file_type().map_err(|source| io_err(&e.path(), source))?;
            if ft.is_dir() {
                stack.push(e.path());
            }
        }
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even() {
        let s = Duration::from_secs;
        assert_eq!(median(&[s(5), s(1), s(3)]), s(3));
        assert_eq!(
            median(&[s(4), s(1), s(3), s(2)]),
            Duration::from_millis(2500)
        );
        assert_eq!(median(&[]), Duration::ZERO);
    }

    #[test]
    fn worker_dir_comes_first_on_path() {
        let p = path_with_first(Path::new("/opt/tkr-bench-workers"));
        let dirs: Vec<PathBuf> = std::env::split_paths(&p).collect();
        assert_eq!(dirs[0], Path::new("/opt/tkr-bench-workers"));
        if let Some(old) = std::env::var_os("PATH") {
            assert_eq!(dirs.len(), std::env::split_paths(&old).count() + 1);
        }
    }

    #[test]
    fn worker_is_looked_up_beside_tkr() {
        let dir = tempfile::tempdir().expect("tempdir");
        let tkr = dir.path().join("tkr");
        let err = worker_next_to(&tkr, "tkr-numerics-worker").expect_err("absent");
        assert!(err.to_string().contains("numerics_worker"), "{err}");
        let bin = dir.path().join("tkr-numerics-worker");
        std::fs::write(&bin, b"").expect("write");
        assert_eq!(
            worker_next_to(&tkr, "tkr-numerics-worker").expect("found"),
            bin
        );
    }

    #[test]
    fn output_checks() {
        let w = Workload::MapSquareSum;
        let v = parse_output(r#"{"value":2470}"#, "tkr", w, 20, &["value"]).expect("parses");
        check_value(&v, "tkr", w, 20).expect("2470 is right for n=20");
        let err = check_value(&v, "tkr", w, 21).expect_err("wrong n");
        assert!(
            matches!(err, BenchError::WrongResult { n: 21, .. }),
            "{err}"
        );
        let v = parse_output(r#"{"value":2470.0}"#, "tkr", w, 20, &["value"]).expect("parses");
        check_value(&v, "tkr", w, 20).expect_err("a float is not the int");
        let err = parse_output(r#"{"other":1}"#, "tkr", w, 20, &["value"]).expect_err("no key");
        assert!(err.to_string().contains("\"value\""), "{err}");
        parse_output("workflow finished", "tkr", w, 20, &["value"]).expect_err("not JSON");
    }
}
