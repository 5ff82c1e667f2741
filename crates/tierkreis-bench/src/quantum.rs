//! The reference's own quantum workflow, side by side: `compile_simulate`
//! (pytket compilation and Aer simulation of GHZ circuits, with the published
//! `tkr-aer-worker`) on the same graph JSON and inputs under the Python
//! reference controller and under `tkr` (warm workers and `--no-warm`),
//! timing each run and sampling the memory of all its worker processes.
//!
//! Everything runs inside the reference environment (`run.sh`), where the
//! quantum workers are on `PATH`: the graph and inputs are written by the
//! reference's Python builder (`python/quantum_graphs.py`), and a copy of
//! the `tkr` binary runs from the scratch folder, which the reference root
//! sees (it is under `/tmp` or bound with `run.sh --bind`).
//!
//! Worker memory is the peak, over samples taken every
//! [`MEMORY_SAMPLE_EVERY`], of the sum of `VmRSS` of every process whose
//! environment holds the run's own `TKR_DIR=<checkpoint folder>` (both
//! controllers give it to every worker; the reference's bash and `tee`
//! helpers count too), except the controller process itself. Pages shared
//! between processes (the Python libraries) are counted once per process,
//! so the sum overstates physical memory: an upper bound. Processes living
//! shorter than one sample interval can be missed.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

use tierkreis_core::Value;

use crate::child::{run_measured, run_measured_telling_pid};
use crate::BenchError;

/// The graph and input builder, run with the reference's Python (shared
/// with the `quantum` tests of tierkreis-cli).
pub const QUANTUM_GRAPHS_PY: &str = include_str!("../python/quantum_graphs.py");

/// How often worker memory is sampled.
pub const MEMORY_SAMPLE_EVERY: Duration = Duration::from_millis(50);

/// Shots per circuit.
pub const SHOTS: u64 = 100;

/// The workload's name in errors.
const WORKLOAD: &str = "compile_simulate";

/// Which controller runs the workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Controller {
    /// The Python reference's `run_graph` (file storage, `ShellExecutor`).
    Reference,
    /// `tkr run`, warm workers (the default).
    TkrWarm,
    /// `tkr run --no-warm`: one process per call.
    TkrNoWarm,
    /// `tkr run --warm-prestart`: warm, and a process for every worker the
    /// graph names starts with the run.
    TkrWarmPrestart,
}

impl Controller {
    /// The name in the results table.
    pub fn name(self) -> &'static str {
        match self {
            Controller::Reference => "python 2.1.1 run_graph",
            Controller::TkrWarm => "tkr (warm)",
            Controller::TkrNoWarm => "tkr --no-warm",
            Controller::TkrWarmPrestart => "tkr --warm-prestart",
        }
    }
}

/// How to reach the reference environment and `tkr`.
#[derive(Debug, Clone)]
pub struct QuantumBench {
    /// `run.sh` of the reference environment.
    pub run_sh: PathBuf,
    /// The `tkr` binary (copied into each scratch folder).
    pub tkr: PathBuf,
    /// `tkr --jobs`, if given.
    pub jobs: Option<u64>,
    /// The reference run is stopped (all its processes killed) once its
    /// workers' sampled memory passes this many KiB, so that a reference
    /// starting every task at once cannot exhaust the machine.
    pub reference_memory_cap_kib: u64,
    /// Run each controller in a fresh memory cgroup with this limit (bytes),
    /// and report the group's peak; a run whose processes the kernel kills
    /// for memory is stopped and marked like one stopped at the cap.
    pub cgroup_memory_limit_bytes: Option<u64>,
}

/// One measured run.
#[derive(Debug, Clone)]
pub struct QuantumRun {
    pub controller: Controller,
    /// Circuits.
    pub n: u64,
    /// From spawn to exit, controller start included.
    pub wall: Duration,
    /// Peak of the sampled sum of worker RSS, KiB (see the module docs).
    pub peak_worker_rss_kib: u64,
    /// Most worker processes seen in one sample.
    pub peak_worker_processes: usize,
    /// The controller process's own peak RSS, KiB, sampled like the
    /// workers' (`ru_maxrss` would include the workers `tkr` reaps).
    pub controller_peak_rss_kib: u64,
    /// Set when the run was stopped at the memory cap: its wall time and
    /// memory are then lower bounds.
    pub stopped_at_memory_cap: bool,
    /// The peak memory of the run's cgroup (every process of the run,
    /// shared pages once, page cache included), bytes, when run in one.
    pub cgroup_peak_bytes: Option<u64>,
    /// Processes of the run's cgroup that the kernel killed for memory.
    pub cgroup_oom_kills: Option<u64>,
}

/// The GHZ circuit sizes of an `n`-circuit case: 2, 3, 4, 5 qubits, repeated.
pub fn circuit_sizes(n: u64) -> Vec<u64> {
    (0..n).map(|i| 2 + i % 4).collect()
}

impl QuantumBench {
    /// Builds the `n`-circuit case in a fresh folder under `scratch` and
    /// runs it with each of `controllers` in turn, checking every answer.
    pub fn run(
        &self,
        n: u64,
        controllers: &[Controller],
        scratch: &Path,
    ) -> Result<Vec<QuantumRun>, BenchError> {
        let dir = tempfile::Builder::new()
            .prefix("tkr-bench-quantum-")
            .tempdir_in(scratch)
            .map_err(|e| io(scratch, e))?;
        let script = dir.path().join("quantum_graphs.py");
        std::fs::write(&script, QUANTUM_GRAPHS_PY).map_err(|e| io(&script, e))?;
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).map_err(|e| io(&bin, e))?;
        let tkr = bin.join("tkr");
        std::fs::copy(&self.tkr, &tkr).map_err(|e| io(&self.tkr, e))?;
        let case = dir.path().join("case");
        let sizes = circuit_sizes(n);
        let join = |v: Vec<String>| v.join(",");
        let mut build = self.in_reference(scratch, dir.path(), None);
        build
            .args(["python3"])
            .arg(&script)
            .args(["ghz"])
            .arg(&case)
            .arg("aer")
            .arg(join(sizes.iter().map(u64::to_string).collect()))
            .arg(join(vec![SHOTS.to_string(); sizes.len()]));
        let built = run_measured(&mut build, dir.path())?;
        check_exit(&built, "quantum_graphs.py ghz", n)?;
        let inputs = input_args(&case)?;

        let mut runs = Vec::new();
        for (i, &controller) in controllers.iter().enumerate() {
            let ck = dir.path().join(format!("checkpoints-{i}"));
            std::fs::create_dir(&ck).map_err(|e| io(&ck, e))?;
            let group = match self.cgroup_memory_limit_bytes {
                Some(limit) => {
                    let name = format!("tkr-bench-{}-{n}-{i}", std::process::id());
                    Some(crate::cgroup::MemoryCgroup::create(&name, limit)?)
                }
                None => None,
            };
            let mut cmd = self.in_reference(scratch, dir.path(), group.as_ref());
            match controller {
                Controller::Reference => {
                    cmd.arg("python3").arg(&script).arg("reference").arg(&case);
                }
                Controller::TkrWarm | Controller::TkrNoWarm | Controller::TkrWarmPrestart => {
                    cmd.arg(&tkr)
                        .args(["run", "-q", "--run-id", "1"])
                        .arg("-f")
                        .arg(case.join("graph.json"));
                    if controller == Controller::TkrNoWarm {
                        cmd.arg("--no-warm");
                    }
                    if controller == Controller::TkrWarmPrestart {
                        cmd.arg("--warm-prestart");
                    }
                    if let Some(j) = self.jobs {
                        cmd.arg("--jobs").arg(j.to_string());
                    }
                    for input in &inputs {
                        cmd.arg("-i").arg(input);
                    }
                }
            }
            cmd.env("TKR_DIR", &ck);
            let cap =
                (controller == Controller::Reference).then_some(self.reference_memory_cap_kib);
            let run = self.measure(
                controller,
                n,
                &mut cmd,
                &ck,
                cap,
                dir.path(),
                group.as_ref(),
            )?;
            drop(cmd);
            drop(group);
            if !run.stopped_at_memory_cap {
                check_ghz_results(&ck, &sizes, controller.name(), n)?;
            }
            runs.push(run);
        }
        Ok(runs)
    }

    /// `run.sh [--bind scratch] --`, in `cwd`, with a clean `RUST_LOG`
    /// (inside `group` when given).
    fn in_reference(
        &self,
        scratch: &Path,
        cwd: &Path,
        group: Option<&crate::cgroup::MemoryCgroup>,
    ) -> Command {
        let mut cmd = match group {
            Some(group) => group.command_inside("bash"),
            None => Command::new("bash"),
        };
        cmd.arg(&self.run_sh);
        if !scratch.starts_with("/tmp") {
            // run.sh shows only /tmp and the folders it is asked to bind.
            cmd.arg("--bind").arg(scratch);
        }
        cmd.arg("--").current_dir(cwd).env_remove("RUST_LOG");
        cmd
    }

    /// Runs `cmd` (its own process group) while sampling its workers'
    /// memory; at `cap` KiB, or once the kernel kills a process of `group`
    /// for memory, kills the group and every worker of the run.
    #[allow(clippy::too_many_arguments)]
    fn measure(
        &self,
        controller: Controller,
        n: u64,
        cmd: &mut Command,
        ck: &Path,
        cap: Option<u64>,
        scratch: &Path,
        group: Option<&crate::cgroup::MemoryCgroup>,
    ) -> Result<QuantumRun, BenchError> {
        let entry = format!("TKR_DIR={}", ck.display());
        let controller_pid = AtomicU32::new(0);
        let finished = AtomicBool::new(false);
        let capped = AtomicBool::new(false);
        cmd.process_group(0).stdin(Stdio::null());
        let (child, peak) = std::thread::scope(|s| {
            let sampler = s.spawn(|| {
                let mut peak = (0u64, 0usize, 0u64);
                while !finished.load(Ordering::Acquire) {
                    let me = controller_pid.load(Ordering::Acquire);
                    let (rss, count) = worker_memory(&entry, me);
                    let own = if me == 0 {
                        0
                    } else {
                        vm_rss_kib(me).unwrap_or(0)
                    };
                    peak = (peak.0.max(rss), peak.1.max(count), peak.2.max(own));
                    let oom = group.and_then(|g| g.oom_kills()).is_some_and(|k| k > 0);
                    if (oom || cap.is_some_and(|c| rss > c)) && !capped.swap(true, Ordering::AcqRel)
                    {
                        kill_run(me, &entry);
                    }
                    std::thread::sleep(MEMORY_SAMPLE_EVERY);
                }
                peak
            });
            let child = run_measured_telling_pid(cmd, scratch, |pid| {
                controller_pid.store(pid, Ordering::Release);
            });
            finished.store(true, Ordering::Release);
            if capped.load(Ordering::Acquire) {
                // Workers the reference detached may still be ending.
                kill_run(0, &entry);
            }
            (child, sampler.join().unwrap_or((0, 0, 0)))
        });
        let child = child?;
        let stopped = capped.load(Ordering::Acquire);
        if !stopped {
            check_exit(&child, controller.name(), n)?;
        }
        Ok(QuantumRun {
            controller,
            n,
            wall: child.wall,
            peak_worker_rss_kib: peak.0,
            peak_worker_processes: peak.1,
            controller_peak_rss_kib: peak.2,
            stopped_at_memory_cap: stopped,
            cgroup_peak_bytes: group.and_then(|g| g.peak_bytes()),
            cgroup_oom_kills: group.and_then(|g| g.oom_kills()),
        })
    }
}

/// Sum of `VmRSS` (KiB) and count of the processes whose environment holds
/// `entry`, except `controller`.
fn worker_memory(entry: &str, controller: u32) -> (u64, usize) {
    let (mut kib, mut count) = (0, 0);
    for pid in pids_with_env(entry) {
        if pid == controller {
            continue;
        }
        if let Some(rss) = vm_rss_kib(pid) {
            kib += rss;
            count += 1;
        }
    }
    (kib, count)
}

/// Every process but this one whose environment holds `entry` (`KEY=value`).
fn pids_with_env(entry: &str) -> Vec<u32> {
    let me = std::process::id();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| *pid != me)
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/environ"))
                .map(|env| env.split(|b| *b == 0).any(|kv| kv == entry.as_bytes()))
                .unwrap_or(false)
        })
        .collect()
}

fn vm_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// SIGKILL to the controller's process group and to every process of the
/// run (the reference detaches its workers into sessions of their own).
fn kill_run(controller: u32, entry: &str) {
    let mut pids = pids_with_env(entry);
    if controller != 0 {
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{controller}")])
            .stderr(Stdio::null())
            .status();
        pids.push(controller);
    }
    for pid in pids {
        let _ = Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .stderr(Stdio::null())
            .status();
    }
}

/// `PORT:FILE` for every file of `case/inputs`, sorted.
pub(crate) fn input_args(case: &Path) -> Result<Vec<String>, BenchError> {
    let inputs = case.join("inputs");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&inputs)
        .map_err(|e| io(&inputs, e))?
        .flatten()
        .map(|e| e.path())
        .collect();
    files.sort();
    Ok(files
        .iter()
        .filter_map(|f| {
            let port = f.file_name()?.to_str()?;
            Some(format!("{port}:{}", f.display()))
        })
        .collect())
}

pub(crate) fn check_exit(
    run: &crate::child::ChildRun,
    program: &str,
    n: u64,
) -> Result<(), BenchError> {
    if run.status.success() {
        return Ok(());
    }
    Err(BenchError::ChildFailed {
        program: program.to_owned(),
        workload: WORKLOAD,
        n,
        status: run.status.to_string(),
        stderr: run.stderr_tail(),
    })
}

/// Checks workflow 1's `value` in `ck`: one BackendResult per circuit, of
/// the circuit's width, with [`SHOTS`] shots, each all zeros or all ones.
/// Shots are rows of bytes, the bits packed from the most significant one.
pub(crate) fn check_ghz_results(
    ck: &Path,
    sizes: &[u64],
    program: &str,
    n: u64,
) -> Result<(), BenchError> {
    let path = ck.join("00000000-0000-0000-0000-000000000001/-/outputs/value");
    let bytes = std::fs::read(&path).map_err(|e| io(&path, e))?;
    let wrong = |reason: String| BenchError::WrongResult {
        program: program.to_owned(),
        workload: WORKLOAD,
        n,
        expected: format!(
            "{} GHZ results of {SHOTS} all-0 or all-1 shots",
            sizes.len()
        ),
        found: reason,
    };
    let value = tierkreis_core::json::parse(&bytes)
        .map_err(|e| wrong(format!("{}: not JSON: {e}", path.display())))?;
    let results = value
        .as_list()
        .ok_or_else(|| wrong("the value is not a list".to_owned()))?;
    if results.len() != sizes.len() {
        return Err(wrong(format!("{} results", results.len())));
    }
    for (i, (result, &width)) in results.iter().zip(sizes).enumerate() {
        let shots = result
            .as_map()
            .and_then(|m| m.get("shots"))
            .and_then(Value::as_map)
            .ok_or_else(|| wrong(format!("result {i} has no shots")))?;
        let rows = shots
            .get("array")
            .and_then(Value::as_list)
            .ok_or_else(|| wrong(format!("result {i} has no shots array")))?;
        if rows.len() as u64 != SHOTS {
            return Err(wrong(format!("result {i} has {} shots", rows.len())));
        }
        let ones = packed_ones(width);
        for row in rows {
            let bytes: Option<Vec<u64>> = row.as_list().map(|r| {
                r.iter()
                    .filter_map(|b| b.as_f64().map(|f| f as u64))
                    .collect()
            });
            let all_zero = bytes.as_ref().is_some_and(|b| b.iter().all(|x| *x == 0));
            if !(all_zero || bytes.as_ref() == Some(&ones)) {
                return Err(wrong(format!(
                    "result {i} ({width} qubits) has the shot {row:?}"
                )));
            }
        }
    }
    Ok(())
}

/// `width` one bits packed into bytes from the most significant bit.
fn packed_ones(width: u64) -> Vec<u64> {
    (0..width.div_ceil(8))
        .map(|k| {
            let bits = (width - 8 * k).min(8);
            (0xFFu64 << (8 - bits)) & 0xFF
        })
        .collect()
}

pub(crate) fn io(path: &Path, source: std::io::Error) -> BenchError {
    BenchError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// `a / b` of two wall times, for the table.
pub fn speedup(reference: Duration, ours: Duration) -> f64 {
    reference.as_secs_f64() / ours.as_secs_f64().max(f64::MIN_POSITIVE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ones_are_packed_from_the_top_bit() {
        assert_eq!(packed_ones(2), vec![192]);
        assert_eq!(packed_ones(3), vec![224]);
        assert_eq!(packed_ones(8), vec![255]);
        assert_eq!(packed_ones(10), vec![255, 192]);
    }

    #[test]
    fn sizes_cycle_from_two_to_five_qubits() {
        assert_eq!(circuit_sizes(6), vec![2, 3, 4, 5, 2, 3]);
    }
}
