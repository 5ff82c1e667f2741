//! The run's timeline: when each task attempt was queued, started and
//! finished, in which lane (the process or batch job that served it), the
//! warm processes' start-up times, and cache hits. It exists so that `tkr
//! report`, the web view and the OpenTelemetry export read one record, in
//! one place, from what the controller wrote or, for a run of the
//! reference, from what its folders hold.
//!
//! # The file
//!
//! `debug/tkr-timeline.jsonl` in the workflow folder (the reference ignores
//! it): one JSON object per line, appended in batches by the controller's
//! recorder thread, off the scheduling path. Every line has `at_us` (micro
//! seconds since the UNIX epoch) and `event`:
//!
//! | `event` | other fields | meaning |
//! | --- | --- | --- |
//! | `run_started` | `resume` | the controller began (or resumed) the run |
//! | `queued` | `loc`, `function` | the runtime handed an attempt to an executor |
//! | `started` | `loc`, `lane` | the executor began running it in `lane` |
//! | `finished` | `loc`, `outcome`, `failure`? | the executor saw it end |
//! | `cache_hit` | `loc`, `function`, `from_run` | served from the result cache |
//! | `process_ready` | `lane`, `spawned_us` | a warm process finished starting up |
//! | `run_ended` | `outcome` | the controller stopped driving the run |
//!
//! A task's attempts are told apart by order: each `queued` of a location
//! opens its next attempt. A line cut short by a crash is skipped.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use tierkreis_core::graph::NodeKind;
use tierkreis_core::Loc;

use crate::{ControllerStorage, StorageError};

/// `debug/<this>`: the timeline our controller records.
pub const TIMELINE_FILE: &str = "tkr-timeline.jsonl";

/// Where the timeline of the workflow in `storage` is.
pub fn timeline_path(storage: &dyn ControllerStorage) -> PathBuf {
    storage.debug_path().join(TIMELINE_FILE)
}

/// Micro seconds since the UNIX epoch of `time` (0 before the epoch).
pub fn micros_since_epoch(time: SystemTime) -> u64 {
    time.duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// One line of the timeline file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineLine {
    /// When it happened, micro seconds since the UNIX epoch.
    pub at_us: u64,
    /// What happened.
    #[serde(flatten)]
    pub event: TimelineEvent,
}

impl TimelineLine {
    /// `event`, happening now.
    pub fn now(event: TimelineEvent) -> Self {
        Self {
            at_us: micros_since_epoch(SystemTime::now()),
            event,
        }
    }

    /// The line as written to the file, newline included.
    pub fn to_json_line(&self) -> String {
        // Plain data with string keys: serialising cannot fail.
        let mut line = serde_json::to_string(self).unwrap_or_default();
        line.push('\n');
        line
    }
}

/// What happened (see the module docs for the file format).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum TimelineEvent {
    RunStarted {
        resume: bool,
    },
    Queued {
        loc: String,
        function: String,
    },
    Started {
        loc: String,
        lane: String,
    },
    Finished {
        loc: String,
        outcome: AttemptOutcome,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        failure: Option<String>,
    },
    CacheHit {
        loc: String,
        function: String,
        from_run: String,
    },
    ProcessReady {
        lane: String,
        spawned_us: u64,
    },
    RunEnded {
        outcome: String,
    },
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    /// The task marked itself done.
    Done,
    /// It failed (the kind is in `failure`).
    Failed,
    /// Still running (or the controller stopped before it ended).
    Unfinished,
}

/// One attempt of a task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AttemptRecord {
    /// 1 for the first attempt.
    pub number: u32,
    pub queued_us: u64,
    /// When it began running; the queued time when the executor did not say.
    pub started_us: u64,
    pub finished_us: Option<u64>,
    /// The process or batch job that served it, when known.
    pub lane: Option<String>,
    pub outcome: AttemptOutcome,
    pub failure: Option<String>,
}

/// One task (function node) of the run, with its attempts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskRecord {
    pub loc: String,
    /// `worker.function`.
    pub function: String,
    pub attempts: Vec<AttemptRecord>,
    /// Served from the result cache of this run (no attempt ran).
    pub cache_hit_from: Option<String>,
    /// When it was served from the cache.
    pub cache_hit_us: Option<u64>,
}

/// A warm process's start-up.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProcessStartup {
    pub lane: String,
    pub spawned_us: u64,
    pub ready_us: u64,
}

/// Where a timeline came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TimelineSource {
    /// Our controller's `debug/tkr-timeline.jsonl`.
    Recorded,
    /// A run without that file (the reference's): times of the node files.
    NodeFiles,
}

/// Everything known about when a run's tasks ran.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RunTimeline {
    pub source: TimelineSource,
    /// When the run began (first `run_started`, else the workflow's start).
    pub run_started_us: Option<u64>,
    /// When it last ended (last `run_ended`), none while running.
    pub run_ended_us: Option<u64>,
    /// Tasks in the order they were first queued.
    pub tasks: Vec<TaskRecord>,
    pub process_startups: Vec<ProcessStartup>,
    /// What this record cannot tell, in words for the reader.
    pub missing: Vec<String>,
}

/// A timeline that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum TimelineError {
    #[error("cannot read the timeline {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: Box<StorageError>,
    },
    #[error("cannot list the node folders of {path}: {source}")]
    List {
        path: PathBuf,
        #[source]
        source: Box<StorageError>,
    },
}

/// The timeline of the workflow in `storage`: the recorded one when there
/// is one, else what the node folders' file times tell (a reference run).
pub fn read_run_timeline(storage: &dyn ControllerStorage) -> Result<RunTimeline, TimelineError> {
    let path = timeline_path(storage);
    match storage.read(&path) {
        Ok(bytes) => Ok(timeline_from_lines(&bytes)),
        Err(StorageError::NotFound { .. }) => timeline_from_node_files(storage),
        Err(source) => Err(TimelineError::Read {
            path,
            source: Box::new(source),
        }),
    }
}

/// Builds the timeline from the recorded lines (a cut-short or unknown line
/// is skipped).
pub fn timeline_from_lines(bytes: &[u8]) -> RunTimeline {
    let mut timeline = RunTimeline {
        source: TimelineSource::Recorded,
        run_started_us: None,
        run_ended_us: None,
        tasks: Vec::new(),
        process_startups: Vec::new(),
        missing: Vec::new(),
    };
    let mut index: HashMap<String, usize> = HashMap::new();
    let mut skipped = 0usize;
    for raw in bytes.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
        let Ok(line) = serde_json::from_slice::<TimelineLine>(raw) else {
            skipped += 1;
            continue;
        };
        let at = line.at_us;
        match line.event {
            TimelineEvent::RunStarted { .. } => {
                timeline.run_started_us.get_or_insert(at);
                timeline.run_ended_us = None;
            }
            TimelineEvent::RunEnded { .. } => timeline.run_ended_us = Some(at),
            TimelineEvent::Queued { loc, function } => {
                let task = task_entry(&mut timeline.tasks, &mut index, &loc, &function);
                let number = task.attempts.len() as u32 + 1;
                task.attempts.push(AttemptRecord {
                    number,
                    queued_us: at,
                    started_us: at,
                    finished_us: None,
                    lane: None,
                    outcome: AttemptOutcome::Unfinished,
                    failure: None,
                });
            }
            TimelineEvent::Started { loc, lane } => {
                if let Some(a) = last_attempt(&mut timeline.tasks, &index, &loc) {
                    a.started_us = at.max(a.queued_us);
                    a.lane = Some(lane);
                }
            }
            TimelineEvent::Finished {
                loc,
                outcome,
                failure,
            } => {
                if let Some(a) = last_attempt(&mut timeline.tasks, &index, &loc) {
                    a.finished_us = Some(at.max(a.started_us));
                    a.outcome = outcome;
                    a.failure = failure;
                }
            }
            TimelineEvent::CacheHit {
                loc,
                function,
                from_run,
            } => {
                let task = task_entry(&mut timeline.tasks, &mut index, &loc, &function);
                task.cache_hit_from = Some(from_run);
                task.cache_hit_us = Some(at);
            }
            TimelineEvent::ProcessReady { lane, spawned_us } => {
                timeline.process_startups.push(ProcessStartup {
                    lane,
                    spawned_us: spawned_us.min(at),
                    ready_us: at,
                })
            }
        }
    }
    if skipped > 0 {
        timeline.missing.push(format!(
            "{skipped} unreadable line(s) of the timeline file were skipped"
        ));
    }
    timeline
}

fn task_entry<'t>(
    tasks: &'t mut Vec<TaskRecord>,
    index: &mut HashMap<String, usize>,
    loc: &str,
    function: &str,
) -> &'t mut TaskRecord {
    let i = *index.entry(loc.to_string()).or_insert_with(|| {
        tasks.push(TaskRecord {
            loc: loc.to_string(),
            function: function.to_string(),
            attempts: Vec::new(),
            cache_hit_from: None,
            cache_hit_us: None,
        });
        tasks.len() - 1
    });
    &mut tasks[i]
}

fn last_attempt<'t>(
    tasks: &'t mut [TaskRecord],
    index: &HashMap<String, usize>,
    loc: &str,
) -> Option<&'t mut AttemptRecord> {
    let i = *index.get(loc)?;
    tasks[i].attempts.last_mut()
}

/// A run without our timeline (the reference's): each function node's
/// `nodedef` time is when it was queued and started, its `_done` (or
/// `_error`) time when it finished.
fn timeline_from_node_files(storage: &dyn ControllerStorage) -> Result<RunTimeline, TimelineError> {
    let dir = storage.workflow_dir().to_path_buf();
    let entries = storage
        .list_subpaths(&dir)
        .map_err(|source| TimelineError::List {
            path: dir.clone(),
            source: Box::new(source),
        })?;
    let mut tasks = Vec::new();
    for entry in entries {
        let Some(loc) = entry
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| Loc::parse(n).ok())
        else {
            continue;
        };
        let Ok(def) = storage.read_node_def(&loc) else {
            continue;
        };
        let NodeKind::Function { function_name } = &def.kind else {
            continue;
        };
        let time = |path: PathBuf| {
            storage
                .modified_time(&path)
                .ok()
                .flatten()
                .map(micros_since_epoch)
        };
        let Some(queued) = time(storage.nodedef_path(&loc)) else {
            continue;
        };
        let started = time(storage.call_args_path(&loc))
            .unwrap_or(queued)
            .max(queued);
        let done = time(storage.done_path(&loc));
        let error = time(storage.error_path(&loc));
        let (finished, outcome) = match (done, error) {
            (Some(t), _) => (Some(t.max(started)), AttemptOutcome::Done),
            (None, Some(t)) => (Some(t.max(started)), AttemptOutcome::Failed),
            (None, None) => (None, AttemptOutcome::Unfinished),
        };
        tasks.push(TaskRecord {
            loc: loc.to_string(),
            function: function_name.clone(),
            attempts: vec![AttemptRecord {
                number: 1,
                queued_us: queued,
                started_us: started,
                finished_us: finished,
                lane: None,
                outcome,
                failure: None,
            }],
            cache_hit_from: None,
            cache_hit_us: None,
        });
    }
    tasks.sort_by_key(|t| (t.attempts[0].queued_us, t.loc.clone()));
    let run_started_us = storage
        .read_workflow_metadata()
        .ok()
        .and_then(|m| m.start_time)
        .and_then(|t| naive_local_micros(&t))
        .or_else(|| tasks.first().map(|t| t.attempts[0].queued_us));
    let run_ended_us = storage
        .read_workflow_completion_time()
        .and_then(|t| naive_local_micros(&t));
    Ok(RunTimeline {
        source: TimelineSource::NodeFiles,
        run_started_us,
        run_ended_us,
        tasks,
        process_startups: Vec::new(),
        missing: vec![
            "process lanes: the run has no tkr timeline (made by the reference, or an older tkr); which process served each task is not recorded".to_string(),
            "queue wait: a task's queued time is when its node definition was written and its start when its call arguments were, the reference writes both at once".to_string(),
            "warm process start-up times, retries and cache hits: not recorded".to_string(),
            "times come from file modification times (file system resolution)".to_string(),
        ],
    })
}

/// Micro seconds since the epoch of a workflow time stamp (Python's naive
/// `datetime.now().isoformat()`, local wall-clock time).
fn naive_local_micros(text: &str) -> Option<u64> {
    let date_time: jiff::civil::DateTime = text.trim().parse().ok()?;
    let instant = jiff::tz::TimeZone::system().to_timestamp(date_time).ok()?;
    u64::try_from(instant.as_microsecond()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(at_us: u64, event: TimelineEvent) -> String {
        TimelineLine { at_us, event }.to_json_line()
    }

    #[test]
    fn attempts_are_split_by_queued_lines_and_a_cut_line_is_skipped() {
        let mut text = String::new();
        text += &line(1, TimelineEvent::RunStarted { resume: false });
        text += &line(
            2,
            TimelineEvent::Queued {
                loc: "-.N3".into(),
                function: "w.f".into(),
            },
        );
        text += &line(
            5,
            TimelineEvent::Started {
                loc: "-.N3".into(),
                lane: "pid 7".into(),
            },
        );
        text += &line(
            9,
            TimelineEvent::Finished {
                loc: "-.N3".into(),
                outcome: AttemptOutcome::Failed,
                failure: Some("TimedOut".into()),
            },
        );
        text += &line(
            10,
            TimelineEvent::Queued {
                loc: "-.N3".into(),
                function: "w.f".into(),
            },
        );
        text += &line(
            12,
            TimelineEvent::Finished {
                loc: "-.N3".into(),
                outcome: AttemptOutcome::Done,
                failure: None,
            },
        );
        text += "{\"at_us\": 13, \"eve";
        let t = timeline_from_lines(text.as_bytes());
        assert_eq!(t.run_started_us, Some(1));
        assert_eq!(t.tasks.len(), 1);
        let a = &t.tasks[0].attempts;
        assert_eq!(a.len(), 2);
        assert_eq!(
            (a[0].queued_us, a[0].started_us, a[0].finished_us),
            (2, 5, Some(9))
        );
        assert_eq!(a[0].lane.as_deref(), Some("pid 7"));
        assert_eq!(a[0].failure.as_deref(), Some("TimedOut"));
        assert_eq!(
            (a[1].number, a[1].started_us, a[1].outcome),
            (2, 10, AttemptOutcome::Done)
        );
        assert_eq!(t.missing.len(), 1, "{:?}", t.missing);
    }
}
