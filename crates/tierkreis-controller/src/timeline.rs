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

use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, OnceLock};
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

/// A message to the recorder thread.
#[derive(Debug)]
pub(crate) enum RecorderMessage {
    Line(TimelineLine),
    /// The run is over: write what is queued and end.
    End,
}

/// Where the runtime and executors send timeline events (cheap to clone).
#[derive(Debug, Clone)]
pub struct TimelineSender {
    tx: Sender<RecorderMessage>,
    /// The recorder thread, once it runs: woken by [`TimelineSender::end`]
    /// (and only then), so the run's end does not wait out its pause.
    recorder: Arc<OnceLock<Thread>>,
}

/// The recorder's end of the channel.
#[derive(Debug)]
pub(crate) struct RecorderQueue {
    rx: Receiver<RecorderMessage>,
    recorder: Arc<OnceLock<Thread>>,
}

impl TimelineSender {
    /// Records `event` as happening now; nothing when the recorder is gone.
    pub fn send(&self, event: TimelineEvent) {
        let _ = self
            .tx
            .send(RecorderMessage::Line(TimelineLine::now(event)));
    }

    /// Records a line with its own time.
    pub fn send_line(&self, line: TimelineLine) {
        let _ = self.tx.send(RecorderMessage::Line(line));
    }

    /// Tells the recorder that the run is over, and wakes it.
    pub(crate) fn end(&self) {
        let _ = self.tx.send(RecorderMessage::End);
        if let Some(recorder) = self.recorder.get() {
            recorder.unpark();
        }
    }
}

impl RecorderQueue {
    /// The next message, if one is waiting (for a reader other than the
    /// recorder thread, such as a worker job's loop).
    pub(crate) fn try_recv(&self) -> Result<RecorderMessage, std::sync::mpsc::TryRecvError> {
        self.rx.try_recv()
    }
}

/// A new channel to a recorder.
pub(crate) fn recorder_channel() -> (TimelineSender, RecorderQueue) {
    let (tx, rx) = channel();
    let recorder = Arc::new(OnceLock::new());
    (
        TimelineSender {
            tx,
            recorder: Arc::clone(&recorder),
        },
        RecorderQueue { rx, recorder },
    )
}

/// Lines written per batch at most (the rest go in the next batch).
const MAX_BATCH: usize = 4096;

/// The longest pause of the recorder between two drains of its channel
/// (when the run is idle): at most one append per pause, still a live view.
const BATCH_WINDOW: std::time::Duration = std::time::Duration::from_millis(50);

/// The pause between drains while lines keep coming (the end of the run
/// wakes the recorder at once).
const BUSY_PAUSE: std::time::Duration = std::time::Duration::from_millis(5);

/// The recorder thread's body: until [`RecorderMessage::End`] (or every
/// sender is gone), append each batch of lines to the timeline file (when
/// `write_file`: a run stored in memory has no file anyone could read) and
/// hand it to the sinks. A write failure is logged once and recording
/// continues for the sinks: a timeline is never a reason to fail a run.
pub(crate) fn record_until_end(
    queue: RecorderQueue,
    storage: Arc<dyn ControllerStorage>,
    write_file: bool,
    sinks: Vec<Arc<dyn TimelineSink>>,
) {
    let _ = queue.recorder.set(std::thread::current());
    let queue = queue.rx;
    let path = timeline_path(storage.as_ref());
    let workflow_id = storage.workflow_id().to_string();
    for sink in &sinks {
        sink.run_begins(&workflow_id, storage.name());
    }
    let mut warned = false;
    let mut lines: Vec<TimelineLine> = Vec::new();
    let mut text = String::new();
    let mut over = false;
    // Each line is turned into text as it arrives (while the run goes on),
    // so little is left to do when the run ends.
    let has_sinks = !sinks.is_empty();
    let take = |line: TimelineLine, text: &mut String, lines: &mut Vec<TimelineLine>| {
        if write_file {
            text.push_str(&line.to_json_line());
        }
        if has_sinks {
            lines.push(line);
        }
    };
    // The recorder never blocks on the channel while the run is busy: it
    // sleeps between drains, so a send is a push and never has to wake a
    // parked thread (one futex call per event would cost the scheduler more
    // than recording). Busy: a drain every `BUSY_PAUSE`; idle, the pause
    // doubles up to `BATCH_WINDOW`. Only the end of the run wakes it.
    let mut pause = BUSY_PAUSE;
    while !over {
        text.clear();
        std::thread::park_timeout(pause);
        let mut taken = 0;
        while !over && taken < MAX_BATCH {
            match queue.try_recv() {
                Ok(RecorderMessage::Line(line)) => {
                    take(line, &mut text, &mut lines);
                    taken += 1;
                }
                Ok(RecorderMessage::End) => over = true,
                Err(std::sync::mpsc::TryRecvError::Empty) => break,
                Err(std::sync::mpsc::TryRecvError::Disconnected) => over = true,
            }
        }
        pause = if taken >= MAX_BATCH {
            std::time::Duration::ZERO
        } else if taken > 0 {
            BUSY_PAUSE
        } else {
            (pause * 2).clamp(BUSY_PAUSE, BATCH_WINDOW)
        };
        if !text.is_empty() {
            if let Err(e) = storage.append(&path, text.as_bytes()) {
                if !warned {
                    tracing::warn!(path = %path.display(), error = %e, "cannot record the run's timeline");
                    warned = true;
                }
            }
        }
        if !lines.is_empty() {
            for sink in &sinks {
                sink.record(&lines);
            }
            lines.clear();
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
