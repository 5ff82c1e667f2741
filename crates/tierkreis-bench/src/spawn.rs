//! The process-spawn floor for the `map_worker` workload: what running the
//! worker binary N times costs with no controller at all. Each call gets
//! call arguments prepared beforehand in a temporary `TKR_DIR` (as the
//! controller would write them), and the binary is spawned directly, with
//! `jobs` processes at a time, each one waited for. `tkr`'s per-task
//! overhead is then `(tkr wall time - floor) / N`.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indexmap::IndexMap;
use tierkreis_core::WorkerCallArgs;

use crate::floor::per_unit_us;
use crate::BenchError;

/// The task every prepared call runs: `square(x = i)` for call `i`.
pub const SPAWN_FUNCTION: &str = "square";

/// One timed batch of spawns.
#[derive(Debug, Clone)]
pub struct SpawnReport {
    /// How many calls (processes).
    pub n: u64,
    /// How many processes ran at once.
    pub jobs: usize,
    /// From the first spawn to the last process reaped.
    pub elapsed: Duration,
}

impl SpawnReport {
    /// Wall time per call (for `jobs > 1`, per call of the batch, so
    /// comparable with a controller running the same number of calls).
    pub fn us_per_spawn(&self) -> f64 {
        per_unit_us(self.elapsed, self.n)
    }
}

/// The call-args path (relative to `TKR_DIR`) of call `index` in batch `tag`.
fn call_dir(tag: &str, index: u64) -> String {
    format!("spawn-{tag}/-.M{index}")
}

/// Writes, under `tkr_dir`, call arguments for `n` calls of
/// [`SPAWN_FUNCTION`] (call `i` with input `x = i`, output `value`) and
/// returns their paths relative to `tkr_dir`, as a worker receives them.
pub fn prepare_calls(tkr_dir: &Path, tag: &str, n: u64) -> Result<Vec<String>, BenchError> {
    let mut paths = Vec::new();
    for i in 0..n {
        let rel = call_dir(tag, i);
        let dir = tkr_dir.join(&rel);
        let outputs = dir.join("outputs");
        std::fs::create_dir_all(&outputs).map_err(|source| io_err(&outputs, source))?;
        let input = dir.join("x");
        std::fs::write(&input, i.to_string()).map_err(|source| io_err(&input, source))?;
        let args = WorkerCallArgs {
            function_name: SPAWN_FUNCTION.to_owned(),
            inputs: IndexMap::from([("x".to_owned(), PathBuf::from(format!("{rel}/x")))]),
            outputs: IndexMap::from([(
                "value".to_owned(),
                PathBuf::from(format!("{rel}/outputs/value")),
            )]),
            output_dir: PathBuf::from(format!("{rel}/outputs")),
            done_path: PathBuf::from(format!("{rel}/_done")),
            error_path: PathBuf::from(format!("{rel}/errors")),
            logs_path: Some(PathBuf::from(format!("{rel}/logs"))),
        };
        let def = dir.join("definition");
        // Every path above is built from ASCII, so encoding cannot fail.
        let json = args.to_json().unwrap_or_default();
        std::fs::write(&def, json).map_err(|source| io_err(&def, source))?;
        paths.push(format!("{rel}/definition"));
    }
    Ok(paths)
}

/// Runs `worker <call-args path>` for each of `calls`, `jobs` at a time,
/// with `TKR_DIR = tkr_dir`, and times the whole batch. Fails on the first
/// call that exits unsuccessfully.
pub fn run_calls(
    worker: &Path,
    tkr_dir: &Path,
    calls: &[String],
    jobs: usize,
) -> Result<SpawnReport, BenchError> {
    let jobs = jobs.max(1);
    let next = AtomicU64::new(0);
    let failure: Mutex<Option<BenchError>> = Mutex::new(None);
    let n = calls.len() as u64;
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(call) = usize::try_from(i).ok().and_then(|i| calls.get(i)) else {
                    return;
                };
                if let Err(e) = run_one(worker, tkr_dir, call, i) {
                    // Stop the other threads too.
                    next.store(n, Ordering::Relaxed);
                    if let Ok(mut f) = failure.lock() {
                        f.get_or_insert(e);
                    }
                    return;
                }
            });
        }
    });
    let elapsed = start.elapsed();
    if let Some(e) = failure.into_inner().ok().flatten() {
        return Err(e);
    }
    Ok(SpawnReport { n, jobs, elapsed })
}

fn run_one(worker: &Path, tkr_dir: &Path, call: &str, index: u64) -> Result<(), BenchError> {
    let out = Command::new(worker)
        .arg(call)
        .env("TKR_DIR", tkr_dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .map_err(|source| BenchError::Spawn {
            program: worker.display().to_string(),
            source,
        })?;
    if out.status.success() {
        return Ok(());
    }
    Err(BenchError::WorkerFailed {
        worker: worker.display().to_string(),
        index,
        status: out.status.to_string(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    })
}

/// Checks, after the timing, that every call of batch `tag` wrote `i * i`
/// and its done marker.
pub fn check_calls(worker: &Path, tkr_dir: &Path, tag: &str, n: u64) -> Result<(), BenchError> {
    for i in 0..n {
        let dir = tkr_dir.join(call_dir(tag, i));
        let value = dir.join("outputs/value");
        let found = std::fs::read_to_string(&value).map_err(|source| io_err(&value, source))?;
        let expected = (u128::from(i) * u128::from(i)).to_string();
        let done = dir.join("_done");
        if found.trim() != expected || !done.exists() {
            return Err(BenchError::WorkerWrongOutput {
                worker: worker.display().to_string(),
                index: i,
                expected,
                found: format!("{found} (done marker present: {})", done.exists()),
            });
        }
    }
    Ok(())
}

/// Prepares `n` calls in a fresh batch, runs them `jobs` at a time and
/// checks their outputs.
pub fn spawn_floor(
    worker: &Path,
    tkr_dir: &Path,
    n: u64,
    jobs: usize,
) -> Result<SpawnReport, BenchError> {
    let tag = format!("j{jobs}");
    let calls = prepare_calls(tkr_dir, &tag, n)?;
    let report = run_calls(worker, tkr_dir, &calls, jobs)?;
    check_calls(worker, tkr_dir, &tag, n)?;
    Ok(report)
}

/// `tkr`'s overhead per task over the floor: `(tkr - floor) / n`, in µs
/// (negative if `tkr` was faster than the floor).
pub fn overhead_per_task_us(tkr: Duration, floor: Duration, n: u64) -> f64 {
    if n == 0 {
        return 0.0;
    }
    (tkr.as_secs_f64() - floor.as_secs_f64()) * 1e6 / n as f64
}

fn io_err(p: &Path, source: std::io::Error) -> BenchError {
    BenchError::Io {
        path: p.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prepared_calls_are_valid_call_args() {
        let dir = tempfile::tempdir().expect("tempdir");
        let calls = prepare_calls(dir.path(), "t", 3).expect("prepared");
        assert_eq!(calls.len(), 3);
        let bytes = std::fs::read(dir.path().join(&calls[2])).expect("definition");
        let args = WorkerCallArgs::from_json(&bytes).expect("call args");
        assert_eq!(args.function_name, SPAWN_FUNCTION);
        let x = dir.path().join(&args.inputs["x"]);
        assert_eq!(std::fs::read_to_string(x).expect("input"), "2");
        assert!(dir.path().join(&args.output_dir).is_dir());
        assert!(args.outputs["value"].starts_with(&args.output_dir));
    }

    #[test]
    fn overhead_is_the_difference_per_task() {
        let o = overhead_per_task_us(Duration::from_secs(3), Duration::from_secs(1), 1000);
        assert!((o - 2000.0).abs() < 1e-9, "{o}");
        assert_eq!(overhead_per_task_us(Duration::ZERO, Duration::ZERO, 0), 0.0);
    }

    #[test]
    fn missing_worker_is_a_spawn_error() {
        let dir = tempfile::tempdir().expect("tempdir");
        let calls = prepare_calls(dir.path(), "m", 2).expect("prepared");
        let worker = Path::new("/nonexistent/tkr-bench-no-worker");
        let err = run_calls(worker, dir.path(), &calls, 2).expect_err("no binary");
        assert!(matches!(err, BenchError::Spawn { .. }), "{err}");
    }
}
