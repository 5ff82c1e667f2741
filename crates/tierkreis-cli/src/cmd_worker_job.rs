//! `tkr worker-job DIR`: the program a worker job's batch script runs (see
//! `tierkreis_controller::executor::worker_jobs`); not for people to type.

use std::path::PathBuf;

/// Arguments of `tkr worker-job`.
#[derive(Debug, clap::Args)]
pub struct WorkerJobArgs {
    /// The worker job's folder (`<workflow>/tkr-worker-jobs/<worker>-<n>`).
    pub dir: PathBuf,
}

/// Serves the job's tasks until its controller ends it or goes silent.
pub fn run(args: &WorkerJobArgs) -> u8 {
    match tierkreis_controller::executor::worker_jobs::serve::serve_worker_job(&args.dir) {
        Ok(end) => {
            eprintln!(
                "tkr worker-job: served {} task(s); ended: {}",
                end.served, end.reason
            );
            0
        }
        Err(e) => {
            eprintln!(
                "tkr worker-job: {}",
                crate::output::error_text(&anyhow::Error::new(e))
            );
            2
        }
    }
}
