//! Records the run's timeline (`debug/tkr-timeline.jsonl`, format and
//! reader in [`tierkreis_storage::timeline`]) off the scheduling path: the
//! runtime and the executors only send small messages on a channel; a
//! recorder thread drains the channel every few milliseconds (never parked
//! on it, so a send never wakes a thread), appends each drain's lines in
//! one `append` and hands the same lines to the run's
//! [`TimelineSink`]s (the OpenTelemetry export).
//!
//! # Setting the lane from an executor
//!
//! An executor says where a task runs by calling
//! [`TaskEventSender::task_started`](crate::executor::contract::TaskEventSender::task_started) with the
//! task's location, its executor name and a lane: one string per process or
//! batch job that serves tasks (`"process 1234"`, `"python-warm 1234"`,
//! `"slurm job 5678 process 2"`). Tasks with the same lane share a row of
//! the report's timeline. A warm process also reports its start-up once,
//! with [`TaskEventSender::process_ready`](crate::executor::contract::TaskEventSender::process_ready).
//! Executors that say nothing get their tasks' started time equal to the
//! queued time and no lane.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::Thread;

use tierkreis_storage::timeline::{timeline_path, TimelineEvent, TimelineLine};
use tierkreis_storage::ControllerStorage;

/// Receives the run's timeline lines as they are recorded (in batches, on
/// the recorder thread).
pub trait TimelineSink: Send + Sync + std::fmt::Debug {
    /// The run with this id and name begins; called once, before any lines.
    fn run_begins(&self, workflow_id: &str, name: Option<&str>);
    /// Lines recorded since the last call, in order.
    fn record(&self, lines: &[TimelineLine]);
    /// The run is over (after its last lines): flush what is buffered.
    fn run_over(&self);
}

/// What the senders and the recorder share: the lines not yet drained, in
/// the order they were sent, and whether the run is over.
#[derive(Debug, Default)]
struct PendingLines {
    lines: Mutex<Vec<TimelineLine>>,
    /// Set by [`TimelineSender::end`]: the recorder drains once more and
    /// ends; later lines are dropped.
    over: AtomicBool,
    /// The recorder thread, once it runs: woken by [`TimelineSender::end`]
    /// (and only then), so the run's end does not wait out its pause.
    recorder: OnceLock<Thread>,
}

/// Where the runtime and executors send timeline events (cheap to clone).
/// A send appends to a list under a lock the recorder takes only once per
/// drain: no channel operation, no wake-up, and the lines' memory goes to
/// the recorder in one piece every few milliseconds.
#[derive(Debug, Clone)]
pub struct TimelineSender {
    pending: Arc<PendingLines>,
}

/// The recorder's end: takes what was sent.
#[derive(Debug)]
pub(crate) struct RecorderQueue {
    pending: Arc<PendingLines>,
}

impl TimelineSender {
    /// Records `event` as happening now; nothing once the run is over.
    pub fn send(&self, event: TimelineEvent) {
        self.send_line(TimelineLine::now(event));
    }

    /// Records a line with its own time.
    pub fn send_line(&self, line: TimelineLine) {
        if self.pending.over.load(Ordering::Relaxed) {
            return;
        }
        self.pending
            .lines
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(line);
    }

    /// Tells the recorder that the run is over (after every line sent
    /// before), and wakes it.
    pub(crate) fn end(&self) {
        self.pending.over.store(true, Ordering::Release);
        if let Some(recorder) = self.pending.recorder.get() {
            recorder.unpark();
        }
    }
}

impl RecorderQueue {
    /// Whether the run is over (ended, or every sender is gone), and the
    /// lines sent and not yet taken, in order. When it says over, the
    /// lines include every one sent before [`TimelineSender::end`].
    pub(crate) fn take(&self) -> (bool, Vec<TimelineLine>) {
        // Read before taking: a line sent before `end` is then in the list.
        let over =
            self.pending.over.load(Ordering::Acquire) || Arc::strong_count(&self.pending) == 1;
        let lines =
            std::mem::take(&mut *self.pending.lines.lock().unwrap_or_else(|e| e.into_inner()));
        (over, lines)
    }
}

/// A new channel to a recorder.
pub(crate) fn recorder_channel() -> (TimelineSender, RecorderQueue) {
    let pending = Arc::new(PendingLines::default());
    (
        TimelineSender {
            pending: Arc::clone(&pending),
        },
        RecorderQueue { pending },
    )
}

/// The longest pause of the recorder between two drains of its channel
/// (when the run is idle): at most one append per pause, still a live view.
const BATCH_WINDOW: std::time::Duration = std::time::Duration::from_millis(50);

/// The pause between drains while lines keep coming (the end of the run
/// wakes the recorder at once).
const BUSY_PAUSE: std::time::Duration = std::time::Duration::from_millis(5);

/// The recorder thread's body: until the run is over, append each batch
/// of lines to the timeline file (when `write_file`: a run stored in
/// memory has no file anyone could read) and hand it to the sinks. A write
/// failure is logged once and recording continues for the sinks: a
/// timeline is never a reason to fail a run.
pub(crate) fn record_until_end(
    queue: RecorderQueue,
    storage: Arc<dyn ControllerStorage>,
    write_file: bool,
    sinks: Vec<Arc<dyn TimelineSink>>,
) {
    let _ = queue.pending.recorder.set(std::thread::current());
    let path = timeline_path(storage.as_ref());
    let workflow_id = storage.workflow_id().to_string();
    for sink in &sinks {
        sink.run_begins(&workflow_id, storage.name());
    }
    let mut warned = false;
    let mut text = String::new();
    // The recorder is never woken by a send: it sleeps between drains (one
    // futex call per event would cost the scheduler more than recording).
    // Busy: a drain every `BUSY_PAUSE`; idle, the pause doubles up to
    // `BATCH_WINDOW`. Only the end of the run wakes it.
    let mut pause = BUSY_PAUSE;
    loop {
        std::thread::park_timeout(pause);
        let (over, lines) = queue.take();
        pause = if lines.is_empty() {
            (pause * 2).clamp(BUSY_PAUSE, BATCH_WINDOW)
        } else {
            BUSY_PAUSE
        };
        if !lines.is_empty() {
            if write_file {
                text.clear();
                for line in &lines {
                    text.push_str(&line.to_json_line());
                }
                if let Err(e) = storage.append(&path, text.as_bytes()) {
                    if !warned {
                        tracing::warn!(path = %path.display(), error = %e, "cannot record the run's timeline");
                        warned = true;
                    }
                }
            }
            for sink in &sinks {
                sink.record(&lines);
            }
        }
        if over {
            break;
        }
    }
    for sink in &sinks {
        sink.run_over();
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::sync::{Arc, Mutex};

    use indexmap::IndexMap;
    use tierkreis_storage::timeline::{timeline_path, TimelineLine};
    use tierkreis_storage::{
        ControllerStorage, FileControllerStorage, MemoryControllerStorage, MemoryFiles,
    };
    use uuid::Uuid;

    use super::TimelineSink;
    use crate::executor::test_support::one_task_graph;
    use crate::executor::BuiltinExecutor;
    use crate::runtime::{run_with_options, start_workflow, RunEventChannel, RunOptions};

    #[derive(Debug, Default)]
    struct CountingSink {
        lines: Mutex<usize>,
    }

    impl TimelineSink for CountingSink {
        fn run_begins(&self, _: &str, _: Option<&str>) {}
        fn record(&self, lines: &[TimelineLine]) {
            *self.lines.lock().unwrap() += lines.len();
        }
        fn run_over(&self) {}
    }

    fn run(storage: Arc<dyn ControllerStorage>, sinks: Vec<Arc<dyn TimelineSink>>) {
        let graph = one_task_graph("builtins.iadd", "1");
        start_workflow(storage.as_ref(), &graph, &IndexMap::new()).unwrap();
        let options = RunOptions {
            record_timeline: true,
            timeline_sinks: sinks,
            ..RunOptions::default()
        };
        let mut executor = BuiltinExecutor::default();
        run_with_options(
            storage,
            &options,
            &mut executor,
            &mut |_| {},
            RunEventChannel::new(),
        )
        .unwrap();
    }

    #[test]
    fn the_queue_gives_lines_in_order_and_says_over_after_the_last_one() {
        use tierkreis_storage::timeline::TimelineEvent;
        let (sender, queue) = super::recorder_channel();
        let other = sender.clone();
        let line = |at_us| TimelineLine {
            at_us,
            event: TimelineEvent::RunStarted { resume: false },
        };
        sender.send_line(line(1));
        other.send_line(line(2));
        let (over, lines) = queue.take();
        assert!(!over);
        assert_eq!(lines.iter().map(|l| l.at_us).collect::<Vec<_>>(), [1, 2]);
        sender.send_line(line(3));
        sender.end();
        other.send_line(line(4)); // after the end: dropped
        let (over, lines) = queue.take();
        assert!(over);
        assert_eq!(lines.iter().map(|l| l.at_us).collect::<Vec<_>>(), [3]);
        assert!(queue.take().1.is_empty());
    }

    #[test]
    fn the_queue_is_over_when_every_sender_is_gone_without_an_end() {
        let (sender, queue) = super::recorder_channel();
        let other = sender.clone();
        drop(sender);
        assert!(!queue.take().0, "one sender is left");
        drop(other);
        assert!(queue.take().0);
    }

    #[test]
    fn a_timeline_is_recorded_where_it_can_be_read_and_only_there() {
        // On disk: the file.
        let dir = tempfile::tempdir().unwrap();
        let on_disk: Arc<dyn ControllerStorage> = Arc::new(FileControllerStorage::new(
            dir.path(),
            Uuid::from_u128(1),
            None,
        ));
        run(on_disk.clone(), Vec::new());
        assert!(on_disk.exists(&timeline_path(on_disk.as_ref())));
        // In memory with nobody to read it: nothing is recorded.
        let in_memory: Arc<dyn ControllerStorage> = Arc::new(MemoryControllerStorage::new(
            MemoryFiles::default(),
            Uuid::from_u128(2),
            None,
        ));
        run(in_memory.clone(), Vec::new());
        assert!(!in_memory.exists(&timeline_path(in_memory.as_ref())));
        // In memory with a sink (the OpenTelemetry export): the sink gets the lines.
        let sink = Arc::new(CountingSink::default());
        let in_memory: Arc<dyn ControllerStorage> = Arc::new(MemoryControllerStorage::new(
            MemoryFiles::default(),
            Uuid::from_u128(3),
            None,
        ));
        run(
            in_memory.clone(),
            vec![sink.clone() as Arc<dyn TimelineSink>],
        );
        assert!(*sink.lines.lock().unwrap() > 0, "the sink got no lines");
        // ... and no file is written that nobody could read.
        assert!(!in_memory.exists(&timeline_path(in_memory.as_ref())));
    }
}
