//! What a controller and its worker jobs say to each other about tasks
//! (the records that name controller types); the folder layout, the other
//! records and the atomic file I/O are `tierkreis_storage::worker_jobs`.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use tierkreis_storage::worker_jobs::{
    read_record, take_record, unix_now, write_atomically, write_record, EndedRecord, JobFolder,
    StartedRecord, SubmittedRecord, WorkerJobFileError, WORKER_JOBS_DIR,
};

use crate::executor::contract::FailureKind;
use crate::executor::discovery::LaunchPlan;

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
    /// When it began running in the job (microseconds since the epoch, the
    /// compute node's clock) and the lane of the process that ran it.
    #[serde(default)]
    pub started: Option<(u64, String)>,
    /// Warm processes of the job that became ready since its last report:
    /// lane, spawned and ready (microseconds since the epoch).
    #[serde(default)]
    pub processes_ready: Vec<(String, u64, u64)>,
}

/// A failed task's kind and message, as the job's executor saw them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportedFailure {
    pub kind: FailureKind,
    pub message: String,
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
            started: Some((1, "python-warm process 7".into())),
            processes_ready: vec![("python-warm process 7".into(), 0, 1)],
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
