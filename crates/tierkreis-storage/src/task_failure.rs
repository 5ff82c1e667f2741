//! Recording a task's failure in its node: the one way every executor does
//! it, so that `tkr show`, the web view, a retry and the reference's
//! `read_errors` all find the same text beside the same marker.
//!
//! As in the reference, a node's error text is its `logs` file (a Python
//! worker writes `str(err)` there, its output is appended there) and
//! `_error` is created after it by whoever saw the process fail. The
//! controller's own message (an exit status, a lost batch job, a timeout) is
//! appended to what is there, on lines of its own (or, in a node with no log
//! yet, written alone as the reference writes an error), and `_error` comes
//! last: a reader that sees the marker finds the whole text.

use tierkreis_core::Loc;

use crate::worker::error_lines;
use crate::{ControllerStorage, StorageError};

/// Records the failure of the task at `loc` with `message`, then creates
/// the node's `_error` marker. A node without a log gets the message as the
/// reference's worker writes its error (`write_error`: the text alone, no
/// line break added), so a failed builtin's `logs` reads as the
/// reference's; a node with a log gets it appended on lines of its own, as
/// the worker SDK's `append_error` writes them (after a line break when the
/// log ends mid-line, as a worker's error text may). When the text cannot
/// be written no marker is created, so the failure is never recorded
/// without its reason.
pub fn record_task_failure(
    storage: &dyn ControllerStorage,
    loc: &Loc,
    message: &str,
) -> Result<(), StorageError> {
    let log = storage.worker_logs_path(loc);
    let before = match storage.read(&log) {
        Ok(bytes) => bytes,
        Err(e) if e.is_not_found() => Vec::new(),
        Err(e) => return Err(e),
    };
    if before.is_empty() {
        storage.write(&log, message.trim_end().as_bytes())?;
    } else {
        // Only whether the log ends mid-line matters to where the text starts.
        let ends_mid_line = before.last().is_some_and(|b| *b != b'\n');
        let text = error_lines(
            if ends_mid_line { "mid-line" } else { "" },
            message.trim_end(),
        );
        storage.append(&log, text.as_bytes())?;
    }
    storage.mark_node_error(loc)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use uuid::Uuid;

    use super::*;
    use crate::{FileControllerStorage, MemoryControllerStorage, MemoryFiles};

    fn task() -> Loc {
        Loc::root().n(3)
    }

    fn log_text(storage: &dyn ControllerStorage) -> String {
        String::from_utf8(storage.read(&storage.worker_logs_path(&task())).unwrap()).unwrap()
    }

    #[test]
    fn the_message_follows_what_the_worker_wrote_on_a_line_of_its_own() {
        let storage = MemoryControllerStorage::new(MemoryFiles::default(), Uuid::nil(), None);
        let log = storage.worker_logs_path(&task());
        storage.append(&log, b"ValueError: bad input").unwrap();
        record_task_failure(&storage, &task(), "worker exited with status 1\n\n").unwrap();
        assert_eq!(
            log_text(&storage),
            "ValueError: bad input\nworker exited with status 1\n"
        );
        assert!(storage.node_has_error(&task()));
        assert!(storage.read_errors(&task()).unwrap().contains("bad input"));
    }

    #[test]
    fn a_node_without_a_log_gets_the_message_alone_as_the_reference_writes_it() {
        let dir = tempfile::tempdir().unwrap();
        let storage = FileControllerStorage::new(dir.path(), Uuid::nil(), None);
        record_task_failure(&storage, &task(), "job 12 was cancelled\n").unwrap();
        assert_eq!(log_text(&storage), "job 12 was cancelled");
        assert!(storage.node_has_error(&task()));
    }

    #[test]
    fn a_log_ending_with_a_line_break_gets_no_empty_line() {
        let dir = tempfile::tempdir().unwrap();
        let storage = FileControllerStorage::new(dir.path(), Uuid::nil(), None);
        let log = storage.worker_logs_path(&task());
        storage.append(&log, b"started\n").unwrap();
        record_task_failure(&storage, &task(), "timed out after 5s").unwrap();
        assert_eq!(log_text(&storage), "started\ntimed out after 5s\n");
    }

    #[test]
    fn no_marker_when_the_text_cannot_be_written() {
        let dir = tempfile::tempdir().unwrap();
        let storage = FileControllerStorage::new(dir.path(), Uuid::nil(), None);
        // A folder where the log should be: appending to it fails.
        storage.mkdir(&storage.worker_logs_path(&task())).unwrap();
        assert!(record_task_failure(&storage, &task(), "lost").is_err());
        assert!(!storage.node_has_error(&task()));
    }
}
