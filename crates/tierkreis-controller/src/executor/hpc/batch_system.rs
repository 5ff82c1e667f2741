//! The three batch systems' command lines: submission (`sbatch --parsable`,
//! `qsub`, `pjsub`), one batched status query for every pending job
//! (`squeue`, with `sacct` for jobs `squeue` no longer knows; `qstat -f -x`;
//! `pjstat`, with `pjstat -H` for ended jobs), cancellation (`scancel`,
//! `qdel`, `pjdel`), and the parsers of what they print.
//!
//! Named `batch_system`, not `scheduler`: the crate's `scheduler` is the
//! graph scheduler that decides what runs; this module only talks to SLURM,
//! PBS and PJSUB.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::Path;
use std::process::{Command, Output, Stdio};

pub use crate::executor::config::batch::BatchSystem;

/// What the scheduler says about a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobState {
    /// Waiting to start (held, queued, ...).
    Queued,
    /// Started and not ended.
    Running,
    /// Ended.
    Ended(JobEnd),
}

/// How a job ended, as far as the scheduler knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobEnd {
    /// Ended normally (exit status 0).
    Completed,
    /// Cancelled (`scancel`, `qdel`, `pjdel`, or an administrator).
    Cancelled,
    /// Stopped at its walltime.
    Timeout,
    /// Stopped for using too much memory.
    OutOfMemory,
    /// Any other end, with the scheduler's words for it.
    Failed(String),
}

impl JobState {
    /// Whether the scheduler still has work to do for the job.
    pub fn is_active(&self) -> bool {
        !matches!(self, JobState::Ended(_))
    }
}

/// A batch-system command (`sbatch`, `squeue`, `qdel`...) that could not be run or failed.
#[derive(Debug, thiserror::Error)]
pub enum BatchSystemError {
    #[error("cannot run `{command}`: {source}")]
    Spawn {
        command: String,
        #[source]
        source: std::io::Error,
    },
    #[error("`{command}` failed ({status}): {stderr}")]
    Failed {
        command: String,
        status: std::process::ExitStatus,
        stderr: String,
    },
    #[error("`{command}` printed no job id: {stdout:?}")]
    NoJobId { command: String, stdout: String },
}

/// Runs scheduler commands, looking programs up in `path` when given (for
/// tests and embedding), else in the process's `PATH`.
#[derive(Debug, Clone, Default)]
pub struct Commands {
    pub path: Option<OsString>,
}

impl Commands {
    fn run(&self, program: &str, args: &[String]) -> Result<Output, BatchSystemError> {
        let line = || {
            let mut l = program.to_string();
            for a in args {
                l.push(' ');
                l.push_str(&crate::executor::worker_process::quote_for_display(
                    a.as_ref(),
                ));
            }
            l
        };
        let mut c = Command::new(self.resolve(program));
        c.args(args).stdin(Stdio::null());
        if let Some(p) = &self.path {
            c.env("PATH", p);
        }
        c.output().map_err(|source| BatchSystemError::Spawn {
            command: line(),
            source,
        })
    }

    /// `program` as found on the configured `PATH` (a bare name when not found).
    fn resolve(&self, program: &str) -> OsString {
        if let Some(path) = &self.path {
            let cwd = std::env::current_dir().unwrap_or_default();
            if let Ok(found) = which::which_in(program, Some(path), cwd) {
                return found.into_os_string();
            }
        }
        program.into()
    }

    fn checked(&self, program: &str, args: &[String]) -> Result<Output, BatchSystemError> {
        let out = self.run(program, args)?;
        if out.status.success() {
            Ok(out)
        } else {
            Err(failed(program, args, &out))
        }
    }

    fn exists(&self, program: &str) -> bool {
        let path = self.path.clone().or_else(|| std::env::var_os("PATH"));
        path.is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
    }
}

fn failed(program: &str, args: &[String], out: &Output) -> BatchSystemError {
    BatchSystemError::Failed {
        command: format!("{program} {}", args.join(" ")),
        status: out.status,
        stderr: String::from_utf8_lossy(&out.stderr).trim().to_string(),
    }
}

/// The part of a job id that names the job everywhere: PBS's `123.server`
/// may come back as `123.server.domain`, SLURM's `--parsable` may add
/// `;cluster`.
pub fn job_key(id: &str) -> &str {
    id.split(['.', ';']).next().unwrap_or(id).trim()
}

impl BatchSystem {
    /// The variable holding the job id inside a job.
    pub fn job_id_variable(self) -> &'static str {
        match self {
            BatchSystem::Slurm => "SLURM_JOB_ID",
            BatchSystem::Pbs => "PBS_JOBID",
            BatchSystem::Pjsub => "PJM_JOBID",
        }
    }

    /// The submission command of `script`.
    pub fn submit_command(
        self,
        script: &Path,
        no_check_directory: bool,
    ) -> (&'static str, Vec<String>) {
        let script = script.to_string_lossy().into_owned();
        match self {
            BatchSystem::Slurm => ("sbatch", vec!["--parsable".into(), script]),
            BatchSystem::Pbs => ("qsub", vec![script]),
            BatchSystem::Pjsub => {
                let mut args = Vec::new();
                if no_check_directory {
                    args.push("--no-check-directory".into());
                }
                args.push(script);
                ("pjsub", args)
            }
        }
    }

    /// Submits `script`; returns the job id.
    pub fn submit(
        self,
        commands: &Commands,
        script: &Path,
        no_check_directory: bool,
    ) -> Result<String, BatchSystemError> {
        let (program, args) = self.submit_command(script, no_check_directory);
        let out = commands.checked(program, &args)?;
        let stdout = String::from_utf8_lossy(&out.stdout);
        self.parse_submission(&stdout)
            .ok_or_else(|| BatchSystemError::NoJobId {
                command: format!("{program} {}", args.join(" ")),
                stdout: stdout.into_owned(),
            })
    }

    /// The job id in a submission command's stdout: `123` or `123;cluster`
    /// (`sbatch --parsable`), `123.server` (`qsub`), `[INFO] PJM 0000 pjsub
    /// Job 123 submitted.` (`pjsub`).
    pub fn parse_submission(self, stdout: &str) -> Option<String> {
        let line = stdout.lines().map(str::trim).find(|l| !l.is_empty())?;
        match self {
            BatchSystem::Slurm => {
                let id = line.split(';').next()?.trim();
                id.chars()
                    .all(|c| c.is_ascii_digit() || c == '_')
                    .then(|| id.to_string())
            }
            BatchSystem::Pbs => {
                let id = line.split_whitespace().next()?;
                id.starts_with(|c: char| c.is_ascii_digit())
                    .then(|| id.to_string())
            }
            BatchSystem::Pjsub => {
                let words: Vec<&str> = stdout.split_whitespace().collect();
                words
                    .windows(2)
                    .find(|w| {
                        w[0] == "Job"
                            && !w[1].is_empty()
                            && w[1].chars().all(|c| c.is_ascii_digit())
                    })
                    .map(|w| w[1].to_string())
            }
        }
    }

    /// The states of `ids` (by [`job_key`]); ids the scheduler does not know
    /// are missing from the map.
    pub fn query(
        self,
        commands: &Commands,
        ids: &[String],
    ) -> Result<HashMap<String, JobState>, BatchSystemError> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let mut states = match self {
            BatchSystem::Slurm => {
                let args = vec![
                    "-h".to_string(),
                    "-t".into(),
                    "all".into(),
                    "-j".into(),
                    ids.join(","),
                    "-o".into(),
                    "%i %T".into(),
                ];
                let out = commands.run("squeue", &args)?;
                let stderr = String::from_utf8_lossy(&out.stderr);
                if !out.status.success() && !stderr.contains("Invalid job id") {
                    return Err(failed("squeue", &args, &out));
                }
                parse_squeue(&String::from_utf8_lossy(&out.stdout))
            }
            BatchSystem::Pbs => {
                let mut args = vec!["-f".to_string(), "-x".into()];
                args.extend(ids.iter().cloned());
                let out = commands.run("qstat", &args)?;
                let stdout = String::from_utf8_lossy(&out.stdout);
                let stderr = String::from_utf8_lossy(&out.stderr);
                if !out.status.success()
                    && stdout.trim().is_empty()
                    && !stderr.contains("Unknown Job Id")
                {
                    return Err(failed("qstat", &args, &out));
                }
                parse_qstat(&stdout)
            }
            BatchSystem::Pjsub => {
                let mut args = vec!["-v".to_string()];
                args.extend(ids.iter().cloned());
                let out = commands.checked("pjstat", &args)?;
                parse_pjstat(&String::from_utf8_lossy(&out.stdout))
            }
        };
        // Ended jobs the first query no longer shows: the accounting query.
        let missing: Vec<String> = ids
            .iter()
            .filter(|id| !states.contains_key(job_key(id)))
            .cloned()
            .collect();
        if !missing.is_empty() {
            let more = match self {
                BatchSystem::Slurm if commands.exists("sacct") => {
                    let args = vec![
                        "-n".to_string(),
                        "-X".into(),
                        "-P".into(),
                        "-o".into(),
                        "JobID,State".into(),
                        "-j".into(),
                        missing.join(","),
                    ];
                    // Without accounting sacct fails: the jobs are just unknown.
                    commands
                        .checked("sacct", &args)
                        .map(|o| parse_sacct(&String::from_utf8_lossy(&o.stdout)))
                        .unwrap_or_default()
                }
                BatchSystem::Pjsub => {
                    let mut args = vec!["-H".to_string(), "-v".into()];
                    args.extend(missing.iter().cloned());
                    commands
                        .checked("pjstat", &args)
                        .map(|o| parse_pjstat(&String::from_utf8_lossy(&o.stdout)))
                        .unwrap_or_default()
                }
                _ => HashMap::new(),
            };
            for (k, v) in more {
                states.entry(k).or_insert(v);
            }
        }
        Ok(states)
    }

    /// Cancels `ids` (one command for all).
    pub fn cancel(self, commands: &Commands, ids: &[String]) -> Result<(), BatchSystemError> {
        if ids.is_empty() {
            return Ok(());
        }
        let program = match self {
            BatchSystem::Slurm => "scancel",
            BatchSystem::Pbs => "qdel",
            BatchSystem::Pjsub => "pjdel",
        };
        commands.checked(program, ids).map(|_| ())
    }
}

/// A SLURM state name (`squeue %T`, `sacct State`) as a [`JobState`].
pub fn slurm_state(state: &str) -> JobState {
    // sacct writes `CANCELLED by 1000`.
    let word = state
        .split_whitespace()
        .next()
        .unwrap_or("")
        .trim_end_matches('+');
    match word {
        "PENDING" | "CONFIGURING" | "REQUEUED" | "REQUEUE_FED" | "REQUEUE_HOLD"
        | "RESV_DEL_HOLD" => JobState::Queued,
        "COMPLETED" => JobState::Ended(JobEnd::Completed),
        "CANCELLED" => JobState::Ended(JobEnd::Cancelled),
        "TIMEOUT" | "DEADLINE" => JobState::Ended(JobEnd::Timeout),
        "OUT_OF_MEMORY" => JobState::Ended(JobEnd::OutOfMemory),
        "FAILED" | "NODE_FAIL" | "BOOT_FAIL" | "PREEMPTED" | "REVOKED" | "SPECIAL_EXIT" => {
            JobState::Ended(JobEnd::Failed(word.to_string()))
        }
        // RUNNING, COMPLETING, SUSPENDED, STAGE_OUT, SIGNALING, ... and
        // anything new: not ended as far as we can tell.
        _ => JobState::Running,
    }
}

/// `squeue -h -o "%i %T"` lines: `123 RUNNING`.
pub fn parse_squeue(stdout: &str) -> HashMap<String, JobState> {
    stdout
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let id = w.next()?;
            let state = w.next()?;
            Some((job_key(id).to_string(), slurm_state(state)))
        })
        .collect()
}

/// `sacct -n -X -P -o JobID,State` lines: `123|CANCELLED by 0`.
pub fn parse_sacct(stdout: &str) -> HashMap<String, JobState> {
    stdout
        .lines()
        .filter_map(|l| {
            let (id, state) = l.split_once('|')?;
            Some((job_key(id).to_string(), slurm_state(state)))
        })
        .collect()
}

/// `qstat -f -x` output: a `Job Id: ID` line per job, then indented
/// `key = value` lines (`job_state`, `Exit_status`).
pub fn parse_qstat(stdout: &str) -> HashMap<String, JobState> {
    let mut out = HashMap::new();
    let mut current: Option<(String, Option<String>, Option<i64>)> = None;
    let finish = |c: Option<(String, Option<String>, Option<i64>)>, out: &mut HashMap<_, _>| {
        if let Some((id, Some(state), exit)) = c {
            out.insert(id, pbs_state(&state, exit));
        }
    };
    for line in stdout.lines() {
        if let Some(id) = line.trim().strip_prefix("Job Id:") {
            finish(current.take(), &mut out);
            current = Some((job_key(id.trim()).to_string(), None, None));
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        if let Some(c) = current.as_mut() {
            match k.trim() {
                "job_state" => c.1 = Some(v.trim().to_string()),
                "Exit_status" => c.2 = v.trim().parse().ok(),
                _ => {}
            }
        }
    }
    finish(current, &mut out);
    out
}

/// PBS states: `Q H W T S U` wait, `R E B` run, `F X C` ended; PBS Pro's
/// exit statuses `-29` (walltime), `-27`/`-26` (memory), and `256 + signal`
/// for a job killed by a signal (`qdel` sends SIGTERM then SIGKILL).
pub fn pbs_state(state: &str, exit: Option<i64>) -> JobState {
    match state {
        "F" | "X" | "C" => JobState::Ended(match exit {
            Some(0) => JobEnd::Completed,
            Some(-29) => JobEnd::Timeout,
            Some(-27 | -26) => JobEnd::OutOfMemory,
            Some(271 | 265) | None => JobEnd::Cancelled,
            Some(e) => JobEnd::Failed(format!("Exit_status = {e}")),
        }),
        "R" | "E" | "B" => JobState::Running,
        _ => JobState::Queued,
    }
}

/// `pjstat -v` / `pjstat -H -v` tables: a header line naming the columns
/// (`JOB_ID`, `ST`, optionally `EC` for the exit code), then one row per job,
/// each value starting under its header (values such as `START_DATE` hold
/// spaces, so columns are cut at the headers' offsets); or the same as comma
/// separated values (`--data`).
pub fn parse_pjstat(stdout: &str) -> HashMap<String, JobState> {
    let mut out = HashMap::new();
    // The header's column names with their start offsets, or None for CSV.
    let mut header: Option<(Vec<(usize, String)>, bool)> = None;
    for line in stdout.lines() {
        let csv = line.contains(',');
        let cols: Vec<(usize, String)> = if csv {
            line.split(',')
                .map(|c| c.trim().to_string())
                .enumerate()
                .collect()
        } else {
            line.char_indices()
                .filter(|&(i, ch)| {
                    !ch.is_whitespace() && (i == 0 || line[..i].ends_with(char::is_whitespace))
                })
                .map(|(i, _)| {
                    let word = line[i..].split_whitespace().next().unwrap_or("");
                    (i, word.to_string())
                })
                .collect()
        };
        if cols.iter().any(|(_, c)| c == "JOB_ID") && cols.iter().any(|(_, c)| c == "ST") {
            header = Some((cols, csv));
            continue;
        }
        let Some((names, csv)) = &header else {
            continue;
        };
        let value = |name: &str| -> Option<String> {
            let k = names.iter().position(|(_, n)| n == name)?;
            if *csv {
                return cols.get(names[k].0).map(|(_, v)| v.clone());
            }
            let start = names[k].0;
            let end = names.get(k + 1).map_or(line.len(), |(o, _)| *o);
            let cell = line.get(start..end.min(line.len()))?;
            cell.split_whitespace().next().map(str::to_string)
        };
        let (Some(id), Some(st)) = (value("JOB_ID"), value("ST")) else {
            continue;
        };
        if !id.starts_with(|c: char| c.is_ascii_digit()) {
            continue;
        }
        let exit = value("EC").and_then(|e| e.parse::<i64>().ok());
        out.insert(job_key(&id).to_string(), pjm_state(&st, exit));
    }
    out
}

/// PJM states: `ACC QUE RNA HLD ...` wait, `RUN RNE RNO SPP SPD RSM` run,
/// `EXT END` ended (exit code decides), `CCL` cancelled, `ERR RJT` failed.
pub fn pjm_state(state: &str, exit: Option<i64>) -> JobState {
    match state {
        "RUN" | "RNE" | "RNO" | "SPP" | "SPD" | "RSM" => JobState::Running,
        "EXT" | "END" => JobState::Ended(match exit {
            Some(0) | None => JobEnd::Completed,
            Some(e) => JobEnd::Failed(format!("exit code {e}")),
        }),
        "CCL" => JobState::Ended(JobEnd::Cancelled),
        "ERR" | "RJT" => JobState::Ended(JobEnd::Failed(state.to_string())),
        _ => JobState::Queued,
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn submission_ids() {
        use BatchSystem::*;
        assert_eq!(Slurm.parse_submission("4242\n").as_deref(), Some("4242"));
        assert_eq!(
            Slurm.parse_submission("4242;cluster\n").as_deref(),
            Some("4242")
        );
        assert_eq!(Slurm.parse_submission("Submitted batch job 1\n"), None);
        assert_eq!(
            Pbs.parse_submission("1234.pbs01\n").as_deref(),
            Some("1234.pbs01")
        );
        assert_eq!(Pbs.parse_submission("qsub: error\n"), None);
        assert_eq!(
            Pjsub
                .parse_submission("[INFO] PJM 0000 pjsub Job 98765 submitted.\n")
                .as_deref(),
            Some("98765")
        );
        assert_eq!(Pjsub.parse_submission("[ERR.] PJM 0007 pjsub no\n"), None);
    }

    #[test]
    fn squeue_and_sacct() {
        let m = parse_squeue("12 PENDING\n13 RUNNING\n14 COMPLETED\n15 CANCELLED\n16 TIMEOUT\n17 OUT_OF_MEMORY\n18 NODE_FAIL\n19 COMPLETING\n");
        assert_eq!(m["12"], JobState::Queued);
        assert_eq!(m["13"], JobState::Running);
        assert_eq!(m["14"], JobState::Ended(JobEnd::Completed));
        assert_eq!(m["15"], JobState::Ended(JobEnd::Cancelled));
        assert_eq!(m["16"], JobState::Ended(JobEnd::Timeout));
        assert_eq!(m["17"], JobState::Ended(JobEnd::OutOfMemory));
        assert_eq!(m["18"], JobState::Ended(JobEnd::Failed("NODE_FAIL".into())));
        assert_eq!(m["19"], JobState::Running);
        let m = parse_sacct("20|CANCELLED by 0\n21|COMPLETED\n22|FAILED\n");
        assert_eq!(m["20"], JobState::Ended(JobEnd::Cancelled));
        assert_eq!(m["21"], JobState::Ended(JobEnd::Completed));
        assert_eq!(m["22"], JobState::Ended(JobEnd::Failed("FAILED".into())));
    }

    /// The shape of PBS Pro's `qstat -f -x` (trimmed attributes).
    const QSTAT: &str = "Job Id: 101.pbs01\n    Job_Name = tkr-w.f\n    Job_Owner = user@login01\n    job_state = R\n    queue = workq\n\nJob Id: 102.pbs01\n    Job_Name = tkr-w.f\n    job_state = F\n    Exit_status = 0\n    resources_used.walltime = 00:00:03\n\nJob Id: 103.pbs01\n    job_state = F\n    Exit_status = 271\n\nJob Id: 104.pbs01\n    job_state = F\n    Exit_status = -29\n\nJob Id: 105.pbs01\n    job_state = Q\n\nJob Id: 106.pbs01\n    job_state = F\n    Exit_status = 2\n";

    #[test]
    fn qstat_full_output() {
        let m = parse_qstat(QSTAT);
        assert_eq!(m["101"], JobState::Running);
        assert_eq!(m["102"], JobState::Ended(JobEnd::Completed));
        assert_eq!(m["103"], JobState::Ended(JobEnd::Cancelled));
        assert_eq!(m["104"], JobState::Ended(JobEnd::Timeout));
        assert_eq!(m["105"], JobState::Queued);
        assert_eq!(
            m["106"],
            JobState::Ended(JobEnd::Failed("Exit_status = 2".into()))
        );
    }

    #[test]
    fn pjstat_tables() {
        let active = "  JOB_ID     JOB_NAME   MD ST  USER     START_DATE      ELAPSE_LIM NODE_REQUIRE    VNODE  CORE V_MEM\n  5001       tkr-w.f    NM RUN u01      01/23 10:00:00  0001:00:00 1               -      -    -\n  5002       tkr-w.f    NM QUE u01      (01/23 10:05)   0001:00:00 1               -      -    -\n";
        let m = parse_pjstat(active);
        assert_eq!(m["5001"], JobState::Running);
        assert_eq!(m["5002"], JobState::Queued);
        let ended = concat!(
            "  JOB_ID     JOB_NAME   MD ST  USER     START_DATE      ELAPSE_TIM ELAPSE_LIM NODE_REQUIRE    EC  PC  SN\n",
            "  5003       tkr-w.f    NM EXT u01      01/23 10:00:00  0000:00:05 0001:00:00 1               0   0   0\n",
            "  5004       tkr-w.f    NM EXT u01      01/23 10:00:00  0000:00:05 0001:00:00 1               3   0   0\n",
            "  5005       tkr-w.f    NM CCL u01      01/23 10:00:00  0000:00:05 0001:00:00 1               -   -   -\n",
        );
        let m = parse_pjstat(ended);
        assert_eq!(m["5003"], JobState::Ended(JobEnd::Completed));
        assert_eq!(
            m["5004"],
            JobState::Ended(JobEnd::Failed("exit code 3".into()))
        );
        assert_eq!(m["5005"], JobState::Ended(JobEnd::Cancelled));
        let csv = "H,JOB_ID,JOB_NAME,ST,EC\nJ,5006,tkr,ERR,1\n";
        assert_eq!(
            parse_pjstat(csv)["5006"],
            JobState::Ended(JobEnd::Failed("ERR".into()))
        );
    }

    #[test]
    fn keys_drop_server_and_cluster() {
        assert_eq!(job_key("101.pbs01.example"), "101");
        assert_eq!(job_key("77;cluster"), "77");
        assert_eq!(job_key("5"), "5");
    }
}
