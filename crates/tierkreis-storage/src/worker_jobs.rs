//! The files of a run's worker jobs (see the controller's
//! `executor::worker_jobs`): the transport between a controller and its
//! worker jobs through the shared file system, and what `tkr show` and the
//! web view read of them. Compute nodes can always reach the shared file
//! system that holds the checkpoints, not always the login node over TCP,
//! so tasks and their ends travel as small files in each job's own folder.
//!
//! Layout, under the workflow folder (extra files the reference ignores):
//!
//! ```text
//! tkr-worker-jobs/
//!   controller-<session>.alive     touched by the controller every second
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

/// The folder of a run's worker jobs, under its workflow folder.
pub const WORKER_JOBS_DIR: &str = "tkr-worker-jobs";

/// The name of the stop request in a job's inbox.
const STOP: &str = "stop";

/// A file of the transport could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum WorkerJobFileError {
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
    pub fn create(&self) -> Result<(), WorkerJobFileError> {
        for d in [self.inbox(), self.outbox()] {
            std::fs::create_dir_all(&d).map_err(|source| WorkerJobFileError::Write {
                path: d.clone(),
                source,
            })?;
        }
        Ok(())
    }

    /// Asks the job to end once it has no task.
    pub fn request_stop(&self) -> Result<(), WorkerJobFileError> {
        write_atomically(&self.inbox().join(STOP), b"")
    }

    /// The inbox: the sequence numbers of waiting orders, in order, and
    /// whether a stop was requested. One `readdir`.
    pub fn list_inbox(&self) -> Result<(Vec<u64>, bool), WorkerJobFileError> {
        let names = list_names(&self.inbox())?;
        let stop = names.iter().any(|n| n == STOP);
        Ok((seqs(&names), stop))
    }

    /// The sequence numbers of the reports waiting in the outbox. One `readdir`.
    pub fn list_outbox(&self) -> Result<Vec<u64>, WorkerJobFileError> {
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
fn list_names(dir: &Path) -> Result<Vec<String>, WorkerJobFileError> {
    let entries = std::fs::read_dir(dir).map_err(|source| WorkerJobFileError::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut names = Vec::new();
    for e in entries {
        let e = e.map_err(|source| WorkerJobFileError::Read {
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
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<(), WorkerJobFileError> {
    let name = path.file_name().unwrap_or(OsStr::new("record"));
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(name);
    tmp_name.push(format!(".{}.tmp", std::process::id()));
    let tmp = path.with_file_name(tmp_name);
    let r = std::fs::write(&tmp, bytes).and_then(|()| std::fs::rename(&tmp, path));
    r.map_err(|source| {
        let _ = std::fs::remove_file(&tmp);
        WorkerJobFileError::Write {
            path: path.to_path_buf(),
            source,
        }
    })
}

/// Writes `value` as JSON, atomically.
pub fn write_record<T: Serialize>(path: &Path, value: &T) -> Result<(), WorkerJobFileError> {
    let bytes = serde_json::to_vec_pretty(value).map_err(|source| WorkerJobFileError::Decode {
        path: path.to_path_buf(),
        source,
    })?;
    write_atomically(path, &bytes)
}

/// Reads a JSON record.
pub fn read_record<T: DeserializeOwned>(path: &Path) -> Result<T, WorkerJobFileError> {
    let bytes = std::fs::read(path).map_err(|source| WorkerJobFileError::Read {
        path: path.to_path_buf(),
        source,
    })?;
    serde_json::from_slice(&bytes).map_err(|source| WorkerJobFileError::Decode {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads and removes a JSON record (an order taken, a report received).
pub fn take_record<T: DeserializeOwned>(path: &Path) -> Result<T, WorkerJobFileError> {
    let value = read_record(path)?;
    std::fs::remove_file(path).map_err(|source| WorkerJobFileError::Write {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(value)
}

/// One worker job of a run, as `tkr show` and the web view name it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WorkerJobSummary {
    /// Its folder's name (`<worker>-<n>`).
    pub name: String,
    pub worker: String,
    pub system: String,
    pub job_id: String,
    /// The compute node, once it started.
    pub host: Option<String>,
    /// queued, running, serving, ended (...), as last seen.
    pub state: String,
    /// Tasks it served, once it ended by itself.
    pub served: Option<u64>,
    /// Why it ended, when it ended by itself.
    pub ended: Option<String>,
}

/// The worker jobs of the run in `workflow_dir`, in folder order.
pub fn worker_jobs(workflow_dir: &Path) -> Vec<WorkerJobSummary> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(workflow_dir.join(WORKER_JOBS_DIR))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort_by_key(|d| {
        let name = d
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let (worker, n) = name.rsplit_once('-').unwrap_or((&name, ""));
        (worker.to_string(), n.parse::<u64>().unwrap_or(u64::MAX))
    });
    let mut out = Vec::new();
    for dir in dirs {
        let folder = JobFolder::new(&dir);
        let Ok(submitted) = read_record::<SubmittedRecord>(&folder.submitted_path()) else {
            continue;
        };
        let started = read_record::<StartedRecord>(&folder.started_path()).ok();
        let ended = read_record::<EndedRecord>(&folder.ended_path()).ok();
        let seen = std::fs::read_to_string(folder.state_path()).ok();
        let state = match (&ended, &seen, &started) {
            (Some(_), _, _) => "ended".to_string(),
            (None, Some(s), Some(_)) if s == "running" => "serving".to_string(),
            (None, Some(s), _) => s.trim().to_string(),
            (None, None, Some(_)) => "serving".to_string(),
            (None, None, None) => "submitted".to_string(),
        };
        out.push(WorkerJobSummary {
            name: dir
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            worker: submitted.worker,
            system: submitted.system,
            job_id: submitted.job_id,
            host: started.map(|s| s.host),
            state,
            served: ended.as_ref().map(|e| e.served),
            ended: ended.map(|e| e.reason),
        });
    }
    out
}
