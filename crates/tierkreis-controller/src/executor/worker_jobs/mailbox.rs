//! The file-system transport between a controller and its worker jobs:
//! compute nodes can always reach the shared file system that holds the
//! checkpoints, not always the login node over TCP, so tasks and their ends
//! travel as small files in the job's own folder.
//!
//! Layout, under the workflow folder (extra files the reference ignores):
//!
//! ```text
//! tkr-worker-jobs/
//!   controller-<session>.alive     touched by the controller every few seconds
//!   <worker>-<n>/                  one worker job
//!     spec.json                    what to serve (written before submission)
//!     job.sh job.out job.err       the batch script and its output
//!     submitted.json               batch system and job id (controller)
//!     state                        the scheduler's last word on the job (controller)
//!     started.json                 host, pid, job id, time (the job, when it starts)
//!     ended.json                   why it ended (the job, when it ends by itself)
//!     inbox/<seq>.json             a task for the job (controller)
//!     inbox/stop                   end when idle (controller)
//!     outbox/<seq>.json            how a task ended (the job)
//! ```
//!
//! Every record is written to a hidden temporary name and renamed, so a
//! reader never sees half a record. Each side reads its box with one
//! `readdir` per poll (no `stat` per task), and only while it expects
//! something there.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::executor::discovery::LaunchPlan;
use crate::runtime::FailureKind;

/// The folder of a run's worker jobs, under its workflow folder.
pub const WORKER_JOBS_DIR: &str = "tkr-worker-jobs";

/// The name of the stop request in a job's inbox.
const STOP: &str = "stop";

/// A file of the transport could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum MailboxError {
    #[error("cannot write {}", .path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read {}", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{} is not a valid record", .path.display())]
    Decode {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
}

/// What a worker job serves: written by the controller before it submits
/// the job, read by `tkr worker-job` when the job starts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkerJobSpec {
    /// The checkpoint folder (`TKR_DIR`), absolute.
    pub tkr_dir: PathBuf,
    /// The workflow whose tasks the job serves (its UUID).
    pub workflow_id: String,
    /// The worker served.
    pub worker: String,
    /// How its processes start, as the controller's discovery resolved it.
    pub plan: LaunchPlan,
    /// Warm processes the job holds (its cores).
    pub slots: usize,
    /// SIGTERM .. SIGKILL when a task is stopped, in seconds.
    pub grace_secs: f64,
    /// The per-task timeout of tasks without their own, in seconds.
    pub task_timeout_secs: Option<f64>,
    /// The controller's heartbeat file.
    pub heartbeat: PathBuf,
    /// The job ends itself when the heartbeat is older than this.
    pub controller_timeout_secs: f64,
    /// The batch system's name (`slurm`, `pbs`, `pjsub`), for the job id.
    pub system: String,
}

/// A task handed to a worker job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskOrder {
    pub seq: u64,
    /// The node's location (`-.N3.M0.N1`).
    pub loc: String,
    pub worker: String,
    pub function: String,
    /// Relative to `TKR_DIR`, as the worker gets it.
    pub call_args_path: PathBuf,
}

/// How a task ended in a worker job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskReport {
    pub seq: u64,
    pub loc: String,
    /// `None`: the task marked itself done.
    pub failure: Option<ReportedFailure>,
    /// Seconds from the job taking the task to its end.
    pub secs: f64,
}

/// A failed task's kind and message, as the job's executor saw them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportedFailure {
    pub kind: FailureKind,
    pub message: String,
}

/// What the job writes when it starts serving.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StartedRecord {
    pub host: String,
    pub pid: u32,
    pub batch_job_id: Option<String>,
    /// Seconds since the Unix epoch.
    pub at: f64,
}

/// What the controller writes when it has submitted a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubmittedRecord {
    pub system: String,
    pub job_id: String,
    pub worker: String,
    /// Seconds since the Unix epoch.
    pub at: f64,
}

/// Why a job ended by itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndedRecord {
    pub reason: String,
    /// Tasks it served.
    pub served: u64,
}

/// Now, in seconds since the Unix epoch.
pub fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// One worker job's folder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobFolder {
    dir: PathBuf,
}

impl JobFolder {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn spec_path(&self) -> PathBuf {
        self.dir.join("spec.json")
    }

    pub fn script_path(&self) -> PathBuf {
        self.dir.join("job.sh")
    }

    pub fn submitted_path(&self) -> PathBuf {
        self.dir.join("submitted.json")
    }

    pub fn state_path(&self) -> PathBuf {
        self.dir.join("state")
    }

    pub fn started_path(&self) -> PathBuf {
        self.dir.join("started.json")
    }

    pub fn ended_path(&self) -> PathBuf {
        self.dir.join("ended.json")
    }

    pub fn inbox(&self) -> PathBuf {
        self.dir.join("inbox")
    }

    pub fn outbox(&self) -> PathBuf {
        self.dir.join("outbox")
    }

    /// The order file of task `seq`.
    pub fn order_path(&self, seq: u64) -> PathBuf {
        self.inbox().join(seq_name(seq))
    }

    /// The report file of task `seq`.
    pub fn report_path(&self, seq: u64) -> PathBuf {
        self.outbox().join(seq_name(seq))
    }

    /// Makes the folder and its boxes.
    pub fn create(&self) -> Result<(), MailboxError> {
        for d in [self.inbox(), self.outbox()] {
            std::fs::create_dir_all(&d).map_err(|source| MailboxError::Write {
                path: d.clone(),
                source,
            })?;
        }
        Ok(())
    }

    /// Asks the job to end once it has no task.
    pub fn request_stop(&self) -> Result<(), MailboxError> {
        write_atomically(&self.inbox().join(STOP), b"")
    }

    /// The inbox: the sequence numbers of waiting orders, in order, and
    /// whether a stop was requested. One `readdir`.
    pub fn list_inbox(&self) -> Result<(Vec<u64>, bool), MailboxError> {
        let names = list_names(&self.inbox())?;
        let stop = names.iter().any(|n| n == STOP);
        Ok((seqs(&names), stop))
    }

    /// The sequence numbers of the reports waiting in the outbox. One `readdir`.
    pub fn list_outbox(&self) -> Result<Vec<u64>, MailboxError> {
        Ok(seqs(&list_names(&self.outbox())?))
    }
}

/// `00000042.json`.
fn seq_name(seq: u64) -> String {
    format!("{seq:08}.json")
}

/// The sequence numbers among `names` (`NNNNNNNN.json`), sorted.
fn seqs(names: &[String]) -> Vec<u64> {
    let mut v: Vec<u64> = names
        .iter()
        .filter_map(|n| n.strip_suffix(".json")?.parse().ok())
        .collect();
    v.sort_unstable();
    v
}

/// The visible names in `dir` (temporary files start with a dot).
fn list_names(dir: &Path) -> Result<Vec<String>, MailboxError> {
    let entries = std::fs::read_dir(dir).map_err(|source| MailboxError::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut names = Vec::new();
    for e in entries {
        let e = e.map_err(|source| MailboxError::Read {
            path: dir.to_path_buf(),
            source,
        })?;
        if let Some(n) = e.file_name().to_str() {
            if !n.starts_with('.') {
                names.push(n.to_string());
            }
        }
    }
    Ok(names)
}

/// Writes `bytes` to a hidden temporary file beside `path`, then renames it.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), MailboxError> {
    let name = path.file_name().unwrap_or(OsStr::new("record"));
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let r = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    r.map_err(|source| {
        let _ = std::fs::remove_file(&tmp);
        MailboxError::Write {
            path: path.to_path_buf(),
            source,
        }
    })
}

/// Writes `value` as JSON, atomically.
pub fn write_record<T: Serialize>(path: &Path, value: &T) -> Result<(), MailboxError> {
    let bytes = serde_json::to_vec_pretty(value).map_err(|source| MailboxError::Decode {
        path: path.to_path_buf(),
        source,
    })?;
    write_atomically(path, &bytes)
}

/// Reads a JSON record.
pub fn read_record<T: DeserializeOwned>(path: &Path) -> Result<T, MailboxError> {
    let bytes = std::fs::read(path).map_err(|source| MailboxError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_slice(&bytes).map_err(|source| MailboxError::Decode {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads and removes a JSON record (an order taken, a report received).
pub fn take_record<T: DeserializeOwned>(path: &Path) -> Result<T, MailboxError> {
    let value = read_record(path)?;
    std::fs::remove_file(path).map_err(|source| MailboxError::Write {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(value)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn orders_and_reports_travel_in_sequence_and_are_taken_once() {
        let tmp = tempfile::tempdir().unwrap();
        let f = JobFolder::new(tmp.path().join("w-1"));
        f.create().unwrap();
        for seq in [10, 2] {
            let order = TaskOrder {
                seq,
                loc: format!("-.N{seq}"),
                worker: "w".into(),
                function: "f".into(),
                call_args_path: format!("x/-.N{seq}/definition").into(),
            };
            write_record(&f.order_path(seq), &order).unwrap();
        }
        // A temporary file being written is not an order.
        std::fs::write(f.inbox().join(".00000003.json.1.tmp"), b"{").unwrap();
        assert_eq!(f.list_inbox().unwrap(), (vec![2, 10], false));
        let o: TaskOrder = take_record(&f.order_path(2)).unwrap();
        assert_eq!(o.loc, "-.N2");
        assert_eq!(f.list_inbox().unwrap(), (vec![10], false));
        f.request_stop().unwrap();
        assert_eq!(f.list_inbox().unwrap(), (vec![10], true));
        let report = TaskReport {
            seq: 10,
            loc: "-.N10".into(),
            failure: Some(ReportedFailure {
                kind: FailureKind::KilledBySignal(11),
                message: "killed by signal 11".into(),
            }),
            secs: 0.5,
        };
        write_record(&f.report_path(10), &report).unwrap();
        assert_eq!(f.list_outbox().unwrap(), vec![10]);
        let back: TaskReport = take_record(&f.report_path(10)).unwrap();
        assert_eq!(back, report);
        assert!(f.list_outbox().unwrap().is_empty());
    }

    #[test]
    fn a_record_cut_short_is_an_error_naming_the_file() {
        let tmp = tempfile::tempdir().unwrap();
        let p = tmp.path().join("spec.json");
        std::fs::write(&p, b"{\"tkr_dir\": ").unwrap();
        let e = read_record::<WorkerJobSpec>(&p).unwrap_err();
        assert!(e.to_string().contains("spec.json"), "{e}");
    }
}
