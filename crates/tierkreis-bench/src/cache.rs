//! The result-cache benchmark: the same map of worker tasks run five ways
//! side by side in one round, each in a fresh checkpoint folder on the same
//! file system: without the cache and with `--cache` on an empty cache (its
//! overhead), both with warm workers (the default) and with `--no-warm` (one
//! process per task, as before warm workers), and with `--cache` again over
//! the entries the warm first run left (the whole map reused).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::child::run_measured;
use crate::runner::{check_run, check_value, parse_output, path_with_first};
use crate::{BenchError, Workload};

/// One round's wall times.
#[derive(Debug, Clone, Copy)]
pub struct CacheRound {
    /// `tkr run` without the cache.
    pub plain: Duration,
    /// `tkr run --cache` on an empty cache.
    pub first: Duration,
    /// `tkr run --no-warm` without the cache.
    pub plain_one_process_per_task: Duration,
    /// `tkr run --no-warm --cache` on an empty cache.
    pub first_one_process_per_task: Duration,
    /// `tkr run --cache` again after `first`: everything a hit.
    pub second: Duration,
}

/// Runs one round of map_worker(`n`) under `parent` with `worker` (the
/// numerics worker binary) first on `PATH`.
pub fn cache_round(
    tkr: &Path,
    worker: &Path,
    n: u64,
    parent: &Path,
) -> Result<CacheRound, BenchError> {
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |source| BenchError::Io { path: p, source }
    };
    let dir = tempfile::Builder::new()
        .prefix("tkr-bench-cache-")
        .tempdir_in(parent)
        .map_err(io(parent))?;
    let workload = Workload::MapWorker;
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).map_err(io(&bin))?;
    let name = workload.worker_binary().unwrap_or("tkr-numerics-worker");
    let target = std::path::absolute(worker).map_err(io(worker))?;
    std::os::unix::fs::symlink(&target, bin.join(name)).map_err(io(&bin))?;
    let graph = dir.path().join("graph.json");
    std::fs::write(&graph, workload.graph(n).to_json()).map_err(io(&graph))?;
    let run = |ck: &PathBuf, id: u32, cache: bool, warm: bool| -> Result<Duration, BenchError> {
        std::fs::create_dir_all(ck).map_err(io(ck))?;
        let mut cmd = Command::new(tkr);
        cmd.arg("run")
            .arg("-f")
            .arg(&graph)
            .args(["--run-id", &id.to_string()])
            .arg("--checkpoints")
            .arg(ck)
            .args(["-o", "--json", "-q"])
            .env("TKR_DIR", ck)
            .env("PATH", path_with_first(&bin));
        if cache {
            cmd.arg("--cache");
        }
        if !warm {
            cmd.arg("--no-warm");
        }
        let r = run_measured(&mut cmd, dir.path())?;
        let program = tkr.display().to_string();
        check_run(&r, &program, workload, n)?;
        let value = parse_output(
            r.last_stdout_line(),
            &program,
            workload,
            n,
            &["outputs", "value"],
        )?;
        check_value(&value, &program, workload, n)?;
        Ok(r.wall)
    };
    let plain = run(&dir.path().join("plain"), 1, false, true)?;
    let cached = dir.path().join("cached");
    let first = run(&cached, 1, true, true)?;
    let second = run(&cached, 2, true, true)?;
    let plain_one_process_per_task = run(&dir.path().join("plain-cold"), 1, false, false)?;
    let first_one_process_per_task = run(&dir.path().join("cached-cold"), 1, true, false)?;
    Ok(CacheRound {
        plain,
        first,
        plain_one_process_per_task,
        first_one_process_per_task,
        second,
    })
}
