//! The end-to-end benchmark of the `tkr` binary: write a workload's graph,
//! run `tkr run` as a child process with a fresh checkpoint folder, time it,
//! record its peak RSS and check the printed result against the closed form.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::child::{run_measured, ChildRun};
use crate::floor::per_unit_us;
use crate::{BenchError, StorageMode, Workload};

/// The measurements for one workload size.
#[derive(Debug, Clone)]
pub struct RunStats {
    pub workload: Workload,
    pub storage: StorageMode,
    pub n: u64,
    /// Wall time of each run, in run order.
    pub walls: Vec<Duration>,
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
}

impl TkrBench {
    /// Runs size `n` `repeat` times inside a fresh folder under `scratch`.
    pub fn run(&self, n: u64, scratch: &Path) -> Result<RunStats, BenchError> {
        let dir = tempfile::Builder::new()
            .prefix("tkr-bench-")
            .tempdir_in(scratch)
            .map_err(|source| io_err(scratch, source))?;
        let graph_path = dir.path().join("graph.json");
        std::fs::write(&graph_path, self.workload.graph(n).to_json())
            .map_err(|source| io_err(&graph_path, source))?;
        let mut stats = RunStats {
            workload: self.workload,
            storage: self.storage,
            n,
            walls: Vec::new(),
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
            let run = run_measured(&mut cmd, dir.path())?;
            let program = self.tkr.display().to_string();
            check_run(&run, &program, self.workload, n)?;
            let line = run.last_stdout_line();
            let value = parse_output(line, &program, self.workload, n, &["value"])?;
            check_value(&value, &program, self.workload, n)?;
            stats.walls.push(run.wall);
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
