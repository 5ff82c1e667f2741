//! The controller's heartbeat: `tkr-worker-jobs/controller-<session>.alive`,
//! touched every second while the run lasts, so that a worker job whose
//! controller was killed (and so never cancels it) sees the file grow old
//! and ends itself instead of holding an allocation.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::mailbox;

/// How often the controller's heartbeat file is touched.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(1);

/// The heartbeat file of this controller, once a job was submitted.
pub(super) struct Heartbeat {
    /// `<pid>-<nanoseconds>`: one per controller, never an earlier one's.
    session: String,
    /// `controller-<session>.alive`, once written.
    path: Option<PathBuf>,
    last: Instant,
}

impl Heartbeat {
    /// A session of its own; no file yet.
    pub(super) fn new() -> Self {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        Self {
            session: format!("{}-{nanos}", std::process::id()),
            path: None,
            last: Instant::now(),
        }
    }

    /// The heartbeat file in `jobs_dir` that a job's spec names; written
    /// when it is the first.
    pub(super) fn file_in(&mut self, jobs_dir: &Path) -> Result<PathBuf, String> {
        let heartbeat = jobs_dir.join(format!("controller-{}.alive", self.session));
        if self.path.is_none() {
            mailbox::write_atomically(&heartbeat, b"").map_err(|e| e.to_string())?;
            self.path = Some(heartbeat.clone());
        }
        Ok(heartbeat)
    }

    /// Touches the file when a beat is due.
    pub(super) fn beat(&mut self) {
        if let Some(hb) = &self.path {
            if self.last.elapsed() >= HEARTBEAT_EVERY {
                touch(hb);
                self.last = Instant::now();
            }
        }
    }

    /// The run is over: the file goes, so a job still there ends at its
    /// next look at it.
    pub(super) fn remove(&mut self) {
        if let Some(hb) = self.path.take() {
            let _ = std::fs::remove_file(hb);
        }
    }
}

/// Sets the modification time of `path` to now (creating it if needed).
fn touch(path: &Path) {
    let r = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .and_then(|f| f.set_modified(std::time::SystemTime::now()));
    if let Err(e) = r {
        tracing::warn!(path = %path.display(), error = %e, "cannot touch the worker jobs' heartbeat");
    }
}
