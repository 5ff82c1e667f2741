//! The inside of a worker job (`tkr worker-job DIR`): warm worker processes
//! on a compute node that serve the tasks their controller drops in the
//! job's inbox, until it asks the job to end or stops being heard from.
//!
//! The tasks run through an ordinary [`ProcessExecutor`] with as many slots
//! as the job has cores, so a task here is the same warm call as on a
//! laptop: the same files, the same node log, the same markers and failure
//! kinds. Its end goes to the outbox for the controller.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tierkreis_core::Loc;
use tierkreis_storage::{ControllerStorage, FileControllerStorage};

use super::mailbox::{
    self, EndedRecord, JobFolder, ReportedFailure, StartedRecord, TaskOrder, TaskReport,
    WorkerJobFileError, WorkerJobSpec,
};
use crate::executor::config::ExecutorConfig;
use crate::executor::contract::{Executor, LaunchError, RunEventChannel};
use crate::executor::discovery::Discovery;
use crate::executor::process::{ProcessExecutor, ProcessOptions};
use crate::executor::worker_process::ServedInWorkerJob;
use crate::scheduler::ReadyTask;

/// The shortest wait between two looks at the inbox (after activity).
const FAST_POLL: Duration = Duration::from_millis(5);
/// The longest (when idle): one `readdir` of a small folder this often.
const SLOW_POLL: Duration = Duration::from_millis(250);
/// How often the controller's heartbeat is looked at.
const HEARTBEAT_CHECK: Duration = Duration::from_secs(2);

/// Why a worker job could not serve.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("the worker job in {} cannot use its folder", .dir.display())]
    Mailbox {
        dir: std::path::PathBuf,
        #[source]
        source: WorkerJobFileError,
    },
    #[error("{}: workflow_id {id:?} is not a UUID", .path.display())]
    WorkflowId {
        path: std::path::PathBuf,
        id: String,
        #[source]
        source: uuid::Error,
    },
}

/// How a worker job ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeEnd {
    pub reason: String,
    pub served: u64,
}

/// One order taken and not yet reported.
struct Taken {
    order: TaskOrder,
    since: Instant,
}

/// Serves the worker job whose folder is `dir` until it is asked to end,
/// or its controller has been silent for the spec's timeout.
pub fn serve_worker_job(dir: &Path) -> Result<ServeEnd, ServeError> {
    let folder = JobFolder::new(dir);
    let mailbox_error = |source| ServeError::Mailbox {
        dir: dir.to_path_buf(),
        source,
    };
    let spec: WorkerJobSpec = mailbox::read_record(&folder.spec_path()).map_err(mailbox_error)?;
    let host = nix::unistd::gethostname()
        .map(|h| h.to_string_lossy().into_owned())
        .unwrap_or_else(|_| "unknown".to_string());
    let batch_job_id = batch_job_id(&spec.system);
    let workflow_id =
        uuid::Uuid::parse_str(&spec.workflow_id).map_err(|source| ServeError::WorkflowId {
            path: folder.spec_path(),
            id: spec.workflow_id.clone(),
            source,
        })?;
    let storage: Arc<dyn ControllerStorage> = Arc::new(FileControllerStorage::new(
        spec.tkr_dir.clone(),
        workflow_id,
        None,
    ));
    let discovery = Discovery::new(ExecutorConfig::default(), Vec::new())
        .with_resolved_plan(&spec.worker, spec.plan.clone());
    let options = ProcessOptions {
        jobs: spec.slots.max(1),
        task_timeout: spec.task_timeout_secs.map(Duration::from_secs_f64),
        grace: Duration::from_secs_f64(spec.grace_secs),
        warm: true,
        prestart_warm: true,
    };
    let mut executor =
        ProcessExecutor::new(discovery, options).serving_in_worker_job(ServedInWorkerJob {
            system: spec.system.clone(),
            job_id: batch_job_id.clone(),
            host: host.clone(),
        });
    mailbox::write_record(
        &folder.started_path(),
        &StartedRecord {
            host,
            pid: std::process::id(),
            batch_job_id,
            at: mailbox::unix_now(),
        },
    )
    .map_err(mailbox_error)?;
    tracing::info!(worker = %spec.worker, slots = spec.slots, "worker job serving");
    // Imports start now, before the first task arrives.
    executor.prestart_warm(
        &[(spec.worker.clone(), String::new())],
        spec.slots,
        &storage,
    );
    // The executor's timeline events (where and when each task started, a
    // warm process's start-up) go into the reports, for the controller's
    // timeline.
    let (timeline, timeline_events) = crate::timeline::recorder_channel();
    let channel = RunEventChannel::new().with_timeline(timeline);
    let mut started_at: std::collections::HashMap<String, (u64, String)> =
        std::collections::HashMap::new();
    let mut processes_ready: Vec<(String, u64, u64)> = Vec::new();
    let controller_timeout = Duration::from_secs_f64(spec.controller_timeout_secs);
    let mut taken: std::collections::HashMap<Loc, Taken> = std::collections::HashMap::new();
    let mut served = 0u64;
    let mut stop_requested = false;
    let mut poll = FAST_POLL;
    let mut last_heartbeat_check = Instant::now();
    let reason = loop {
        let mut active = false;
        // The inbox: take waiting orders while a process is free. An order
        // left there is not started, so if the job ends now the controller
        // hands it to another job as it is, not as a failed attempt.
        if !stop_requested || !taken.is_empty() {
            match folder.list_inbox() {
                Ok((seqs, stop)) => {
                    stop_requested |= stop;
                    let free = spec.slots.max(1).saturating_sub(taken.len());
                    for seq in seqs.into_iter().take(free) {
                        active = true;
                        let order: TaskOrder = match mailbox::take_record(&folder.order_path(seq)) {
                            Ok(o) => o,
                            Err(e) => {
                                tracing::warn!(error = %e, "cannot take an order");
                                continue;
                            }
                        };
                        if let Some(r) = launch(&mut executor, &order, &storage, &channel) {
                            report(&folder, r);
                            served += 1;
                        } else if let Ok(loc) = Loc::parse(&order.loc) {
                            taken.insert(
                                loc,
                                Taken {
                                    order,
                                    since: Instant::now(),
                                },
                            );
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot read the inbox"),
            }
        }
        if stop_requested && taken.is_empty() {
            break "asked to end by its controller".to_string();
        }
        // Ends of running tasks, waiting up to one poll for the first.
        let mut wait = poll;
        while let Some(c) = channel.next_completion(wait) {
            wait = Duration::ZERO;
            active = true;
            collect_timeline(&timeline_events, &mut started_at, &mut processes_ready);
            let Some(t) = taken.remove(&c.loc) else {
                continue;
            };
            served += 1;
            report(
                &folder,
                TaskReport {
                    started: started_at.remove(&t.order.loc),
                    seq: t.order.seq,
                    loc: t.order.loc,
                    failure: c.result.err().map(|f| ReportedFailure {
                        kind: f.kind,
                        message: f.message,
                    }),
                    secs: t.since.elapsed().as_secs_f64(),
                    processes_ready: std::mem::take(&mut processes_ready),
                },
            );
        }
        poll = if active {
            FAST_POLL
        } else {
            (poll * 2).min(SLOW_POLL)
        };
        if last_heartbeat_check.elapsed() >= HEARTBEAT_CHECK {
            last_heartbeat_check = Instant::now();
            let silent = silent_for(&spec.heartbeat);
            if silent > controller_timeout {
                break format!(
                    "its controller has been silent for over {:.0} s (heartbeat {})",
                    controller_timeout.as_secs_f64(),
                    spec.heartbeat.display()
                );
            }
        }
    };
    let stopped = executor.stop();
    tracing::info!(%reason, served, stopped, "worker job ending");
    let ended = EndedRecord {
        reason: reason.clone(),
        served,
    };
    mailbox::write_record(&folder.ended_path(), &ended).map_err(mailbox_error)?;
    Ok(ServeEnd { reason, served })
}

/// Hands `order` to the executor; `Some(report)` when it could not start.
fn launch(
    executor: &mut ProcessExecutor,
    order: &TaskOrder,
    storage: &Arc<dyn ControllerStorage>,
    channel: &RunEventChannel,
) -> Option<TaskReport> {
    let failed = |kind, message: String| {
        Some(TaskReport {
            seq: order.seq,
            loc: order.loc.clone(),
            failure: Some(ReportedFailure { kind, message }),
            secs: 0.0,
            started: None,
            processes_ready: Vec::new(),
        })
    };
    let loc = match Loc::parse(&order.loc) {
        Ok(l) => l,
        Err(e) => {
            return failed(
                crate::executor::contract::FailureKind::CouldNotLaunch,
                format!(
                    "the worker job got an order with a bad location {:?}: {e}",
                    order.loc
                ),
            )
        }
    };
    let task = ReadyTask {
        loc,
        worker: order.worker.clone(),
        function: order.function.clone(),
        inputs: Vec::new(),
        outputs: Vec::new(),
        call_args_path: order.call_args_path.clone(),
    };
    match executor.launch(&task, storage, channel.events()) {
        Ok(()) => None,
        Err(e) => {
            let kind = match e {
                LaunchError::Storage { .. } => {
                    crate::executor::contract::FailureKind::ControllerStorage
                }
                _ => crate::executor::contract::FailureKind::CouldNotLaunch,
            };
            failed(kind, e.to_string())
        }
    }
}

/// Takes the timeline events the executor sent: task starts by location,
/// warm processes' start-ups.
fn collect_timeline(
    events: &crate::timeline::RecorderQueue,
    started_at: &mut std::collections::HashMap<String, (u64, String)>,
    processes_ready: &mut Vec<(String, u64, u64)>,
) {
    use tierkreis_storage::timeline::TimelineEvent;
    let (_, lines) = events.take();
    for line in lines {
        match line.event {
            TimelineEvent::Started { loc, lane } => {
                started_at.insert(loc, (line.at_us, lane));
            }
            TimelineEvent::ProcessReady { lane, spawned_us } => {
                processes_ready.push((lane, spawned_us, line.at_us));
            }
            _ => {}
        }
    }
}

/// Writes a report to the outbox (a failure to do so is logged: the
/// controller then finds the node's own markers when the job ends).
fn report(folder: &JobFolder, r: TaskReport) {
    if let Err(e) = mailbox::write_record(&folder.report_path(r.seq), &r) {
        tracing::error!(error = %e, loc = %r.loc, "cannot report a task's end");
    }
}

/// How long ago `heartbeat` was touched (a heartbeat that cannot be read,
/// its controller gone and its folder cleaned, counts as silent forever).
fn silent_for(heartbeat: &Path) -> Duration {
    match std::fs::metadata(heartbeat).and_then(|m| m.modified()) {
        Ok(t) => t.elapsed().unwrap_or_default(),
        Err(_) => Duration::MAX,
    }
}

/// The batch job id this process runs in, from the system's variable.
fn batch_job_id(system: &str) -> Option<String> {
    let var = match system {
        "slurm" => "SLURM_JOB_ID",
        "pbs" => "PBS_JOBID",
        "pjsub" => "PJM_JOBID",
        _ => return None,
    };
    std::env::var(var).ok().filter(|v| !v.is_empty())
}
