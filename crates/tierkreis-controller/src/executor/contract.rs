//! The executor contract: what the runtime asks of an executor (the
//! [`Executor`] trait) and what an executor reports back (a [`TaskCompletion`]
//! through [`TaskEventSender`], or a [`LaunchError`]), with the failure kinds the
//! retries match on. It sits below the runtime and every executor, so an
//! executor never needs the module that drives it.

use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;

use tierkreis_core::{GraphData, Loc};
use tierkreis_storage::timeline::{
    micros_since_epoch, AttemptOutcome, TimelineEvent, TimelineLine,
};
use tierkreis_storage::{ControllerStorage, StorageError};

use crate::scheduler::ReadyTask;

/// A task's end, as reported by an executor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskCompletion {
    /// The task's node.
    pub loc: Loc,
    /// `Ok` when the task marked itself done; `Err` with the reason otherwise.
    /// The executor has already written the error text and `_error`, except
    /// for [`FailureKind::ControllerStorage`], which marks nothing.
    pub result: Result<(), TaskFailure>,
}

/// Why a task did not finish: the kind, set by the executor that saw it
/// end (the retry policy matches on it), and the message shown to users.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TaskFailure {
    /// What kind of end it was.
    pub kind: FailureKind,
    /// The text written to the node's errors (summary line first).
    pub message: String,
}

impl TaskFailure {
    /// A failure of `kind` with `message`.
    pub fn new(kind: FailureKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }
}

/// How a task ended without finishing, as its executor observed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum FailureKind {
    /// The worker reported the failure itself: it wrote `_error`, or a
    /// builtin (or in-process task) returned an error.
    WorkerReportedError,
    /// The worker marked itself done without writing a declared output.
    DeclaredOutputsMissing,
    /// The process exited with this non-zero status. A warm call that
    /// raised (an exception, `sys.exit(N)`) counts as the exit its one-shot
    /// process would have had (1, N), as does a warm process that exited
    /// during the call, so warm and one-shot tasks fail alike.
    ExitedWithStatus(i32),
    /// The process exited with status 0 (a warm call: returned, or raised
    /// `sys.exit(0)`), or ended with no status, without marking the task
    /// done or failed.
    ExitedWithoutMarkers,
    /// The process (or a warm process during the call) was killed by this
    /// signal.
    KilledBySignal(i32),
    /// The task ran past its timeout and was stopped.
    TimedOut,
    /// The worker could not be started (spawn failed, no such program, a
    /// warm process that cannot be reached).
    CouldNotLaunch,
    /// The task's processes (one-shot, or the warm process serving the call)
    /// went over `memory_limit` and were stopped.
    MemoryLimitExceeded,
    /// A batch job ended in a way the scheduler reports.
    BatchJob(BatchJobFailure),
    /// The controller could not write the task's checkpoint files (disk full,
    /// permissions): not the task's fault, so the node is not marked failed
    /// and the run stops (exit 3) so that `tkr resume` runs it again.
    ControllerStorage,
}

/// How a batch job ended without its task finishing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum BatchJobFailure {
    /// The job ended (failed or completed) without the worker marking done
    /// or error.
    EndedWithoutMarkers,
    /// The job ran past its walltime.
    OutOfTime,
    /// The job was killed for using too much memory.
    OutOfMemory,
    /// The job was cancelled (by a user or the administrator).
    Cancelled,
    /// The scheduler no longer knows the job.
    Lost,
}

/// What the runtime loop waits for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunEvent {
    /// A task ended.
    TaskCompletion(TaskCompletion),
    /// Stop the run: stop running tasks, mark nothing failed.
    Stop,
    /// The backoff of a task's retry has passed: launch it again.
    RetryDue(Loc),
}

/// Where executors report completions (a cloneable sender of [`RunEvent`]s).
#[derive(Debug, Clone)]
pub struct TaskEventSender {
    pub(crate) tx: Sender<RunEvent>,
    /// The run's timeline recorder, while the run records one.
    pub(crate) timeline: Option<crate::timeline::TimelineSender>,
}

impl TaskEventSender {
    /// Reports a task's end. Returns `false` when the run is over (nobody
    /// listens any more); the completion is then dropped.
    pub fn complete(&self, completion: TaskCompletion) -> bool {
        if let Some(timeline) = &self.timeline {
            let (outcome, failure) = match &completion.result {
                Ok(()) => (AttemptOutcome::Done, None),
                Err(f) => (AttemptOutcome::Failed, Some(format!("{:?}", f.kind))),
            };
            timeline.send(TimelineEvent::Finished {
                loc: completion.loc.to_string(),
                outcome,
                failure,
            });
        }
        self.tx.send(RunEvent::TaskCompletion(completion)).is_ok()
    }

    /// The task at `loc` begins running now, in `lane` (the process or
    /// batch job serving it: one string per process, see
    /// [`crate::timeline`]), run by the executor named `executor`. Executors
    /// call it when the task really starts (after any queue of their own);
    /// a channel send, nothing when the run records no timeline.
    pub fn task_started(&self, loc: &Loc, executor: &str, lane: impl Into<String>) {
        if let Some(timeline) = &self.timeline {
            timeline.send(TimelineEvent::Started {
                loc: loc.to_string(),
                lane: format!("{executor} {}", lane.into()),
            });
        }
    }

    /// A warm process (the lane `lane`, named as in [`TaskEventSender::task_started`]
    /// with its executor) spawned at `spawned` became ready to serve at `ready`.
    pub fn process_ready(
        &self,
        executor: &str,
        lane: impl Into<String>,
        spawned: std::time::SystemTime,
        ready: std::time::SystemTime,
    ) {
        if let Some(timeline) = &self.timeline {
            timeline.send_line(TimelineLine {
                at_us: micros_since_epoch(ready),
                event: TimelineEvent::ProcessReady {
                    lane: format!("{executor} {}", lane.into()),
                    spawned_us: micros_since_epoch(spawned),
                },
            });
        }
    }

    /// A handle that stops the run this sender belongs to.
    pub fn stop_handle(&self) -> StopHandle {
        StopHandle {
            tx: self.tx.clone(),
        }
    }

    /// [`TaskEventSender::task_started`] at a time and in a lane (already named in
    /// full) that another process saw: a task that ran in a worker job.
    pub(crate) fn task_started_elsewhere(&self, loc: &Loc, lane: String, at_us: u64) {
        if let Some(timeline) = &self.timeline {
            timeline.send_line(TimelineLine {
                at_us,
                event: TimelineEvent::Started {
                    loc: loc.to_string(),
                    lane,
                },
            });
        }
    }

    /// [`TaskEventSender::process_ready`] for a process another process saw start (a
    /// worker job's warm process), its lane already named in full.
    pub(crate) fn process_ready_elsewhere(&self, lane: String, spawned_us: u64, ready_us: u64) {
        if let Some(timeline) = &self.timeline {
            timeline.send_line(TimelineLine {
                at_us: ready_us,
                event: TimelineEvent::ProcessReady { lane, spawned_us },
            });
        }
    }
}

/// Stops a run from another thread (e.g. a signal handler thread).
#[derive(Debug, Clone)]
pub struct StopHandle {
    tx: Sender<RunEvent>,
}

impl StopHandle {
    /// Asks the run to stop; does nothing if it is already over.
    pub fn stop(&self) {
        let _ = self.tx.send(RunEvent::Stop);
    }
}

/// The channel of one run: create it first to get a [`StopHandle`], then pass
/// it to [`run_with_events`].
#[derive(Debug)]
pub struct RunEventChannel {
    pub(crate) events: TaskEventSender,
    pub(crate) rx: Receiver<RunEvent>,
}

impl RunEventChannel {
    /// A new, empty channel.
    pub fn new() -> Self {
        let (tx, rx) = channel();
        Self {
            events: TaskEventSender { tx, timeline: None },
            rx,
        }
    }

    /// A handle that stops the run driven with this channel.
    pub fn stop_handle(&self) -> StopHandle {
        self.events.stop_handle()
    }

    /// The sender executors report to.
    pub(crate) fn events(&self) -> &TaskEventSender {
        &self.events
    }

    /// Timeline events of the executors driven with this channel go to
    /// `timeline` (a worker job collects them for its reports).
    pub(crate) fn with_timeline(mut self, timeline: crate::timeline::TimelineSender) -> Self {
        self.events.timeline = Some(timeline);
        self
    }

    /// The next completion, waiting at most `timeout` (other events are
    /// dropped: for a caller that drives an executor without a scheduler).
    pub(crate) fn next_completion(&self, timeout: std::time::Duration) -> Option<TaskCompletion> {
        match self.rx.recv_timeout(timeout) {
            Ok(RunEvent::TaskCompletion(c)) => Some(c),
            _ => None,
        }
    }
}

impl Default for RunEventChannel {
    fn default() -> Self {
        Self::new()
    }
}

/// Runs tasks. Each launched task must eventually report exactly one
/// [`TaskCompletion`] through `done` (possibly before `launch` returns), unless
/// the executor is stopped first.
pub trait Executor {
    /// Starts `task`, whose call args are written.
    fn launch(
        &mut self,
        task: &ReadyTask,
        storage: &Arc<dyn ControllerStorage>,
        done: &TaskEventSender,
    ) -> Result<(), LaunchError>;

    /// Stops every running task (without marking any failed) and returns how
    /// many were stopped. Tasks that have not reported by now never will.
    fn stop(&mut self) -> usize {
        0
    }

    /// A fresh run of `graph` is about to start: the executor may get ready
    /// for the workers it will call (warm processes start importing while
    /// the first nodes run). Nothing by default.
    fn prepare_for_run(&mut self, _graph: &GraphData, _storage: &Arc<dyn ControllerStorage>) {}
}

/// A task that could not be started at all.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    #[error("no executor knows worker {worker:?} (task {function:?} at {loc})")]
    UnknownWorker {
        loc: Loc,
        worker: String,
        function: String,
    },
    #[error("starting worker {worker:?} for {loc} failed: {message}")]
    Spawn {
        loc: Loc,
        worker: String,
        message: String,
    },
    /// The controller could not read or write the task's checkpoint files
    /// while launching it (a full disk, say): not the task's fault, so the
    /// node is not marked failed and the run stops for a resume.
    #[error("checkpoint storage failed while launching the task at {loc}: {source}")]
    Storage {
        loc: Loc,
        #[source]
        source: Box<StorageError>,
    },
}
