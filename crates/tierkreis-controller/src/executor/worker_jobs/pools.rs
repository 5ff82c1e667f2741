//! The pools of worker jobs (one per worker, command and job settings):
//! their queue and jobs, handing a job tasks and taking its reports, and
//! submitting and ending jobs as [`super::scaling`] decides.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tierkreis_storage::ControllerStorage;

use super::driver::Driver;
use super::faults::{may_be_the_jobs_end, HeldFailure};
use super::mailbox::{
    self, JobFolder, SubmittedRecord, TaskOrder, TaskReport, WorkerJobSpec, WORKER_JOBS_DIR,
};
use super::scaling::{decide_worker_jobs, WorkerJobsLoad};
use super::worker_job_executor::{Queued, WorkerJobRoute};
use crate::executor::contract::TaskFailure;
use crate::executor::hpc::{script, JobCommand, JobSpec, JobState};
use crate::executor::warm::scaling::MeanDuration;

/// Tasks handed to a job beyond its processes, so that none waits for the
/// next poll between two tasks.
const PREFETCH_PER_SLOT: usize = 1;

/// The tasks of one worker with one command and job settings, and its jobs.
pub(super) struct Pool {
    pub(super) route: WorkerJobRoute,
    pub(super) worker: String,
    pub(super) storage: Arc<dyn ControllerStorage>,
    pub(super) queue: VecDeque<Queued>,
    pub(super) jobs: Vec<WorkerJob>,
    pub(super) task_time: MeanDuration,
    pub(super) job_start: MeanDuration,
    /// Jobs in a row that ended without serving.
    pub(super) failed_starts: u32,
}

impl Pool {
    /// A pool with no task and no job yet.
    pub(super) fn new(
        route: WorkerJobRoute,
        worker: String,
        storage: Arc<dyn ControllerStorage>,
    ) -> Self {
        Self {
            route,
            worker,
            storage,
            queue: VecDeque::new(),
            jobs: Vec::new(),
            task_time: MeanDuration::default(),
            job_start: MeanDuration::default(),
            failed_starts: 0,
        }
    }
}

/// Where a worker job is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    /// Submitted, not yet serving.
    Pending,
    /// Serving tasks.
    Serving,
    /// Asked to end (idle, or the run is over).
    Ending { since: Instant },
}

/// A submitted worker job, and the tasks it was handed.
pub(super) struct WorkerJob {
    pub(super) folder: JobFolder,
    /// The batch system's name, for the timeline's lanes.
    pub(super) system: &'static str,
    pub(super) job_id: String,
    pub(super) submitted: Instant,
    pub(super) last_start_check: Instant,
    pub(super) phase: Phase,
    /// Tasks handed to it, by sequence number.
    pub(super) assigned: BTreeMap<u64, Queued>,
    pub(super) held: Vec<HeldFailure>,
    pub(super) next_seq: u64,
    pub(super) idle_since: Instant,
}

impl Driver {
    /// Hands queued tasks to serving jobs with room.
    pub(super) fn dispatch(&mut self, index: usize) -> bool {
        let pool = &mut self.pools[index];
        let room = pool.route.slots.max(1) * (1 + PREFETCH_PER_SLOT);
        let mut any = false;
        // The emptiest job first.
        let mut order: Vec<usize> = (0..pool.jobs.len())
            .filter(|&i| pool.jobs[i].phase == Phase::Serving)
            .collect();
        order.sort_by_key(|&i| pool.jobs[i].assigned.len());
        for ji in order {
            while pool.jobs[ji].assigned.len() < room {
                let Some(q) = pool.queue.pop_front() else {
                    return any;
                };
                let job = &mut pool.jobs[ji];
                let seq = job.next_seq;
                job.next_seq += 1;
                let order = TaskOrder {
                    seq,
                    loc: q.task.loc.to_string(),
                    worker: q.task.worker.clone(),
                    function: q.task.function.clone(),
                    call_args_path: q.task.call_args_path.clone(),
                };
                match mailbox::write_record(&job.folder.order_path(seq), &order) {
                    Ok(()) => {
                        job.assigned.insert(seq, q);
                        any = true;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot hand a task to a worker job");
                        pool.queue.push_front(q);
                        return any;
                    }
                }
            }
        }
        any
    }

    /// Submits and ends jobs as [`super::scaling`] decides.
    pub(super) fn scale(&mut self, index: usize) {
        let load = {
            let p = &self.pools[index];
            WorkerJobsLoad {
                queued: p.queue.len(),
                pending_jobs: p.jobs.iter().filter(|j| j.phase == Phase::Pending).count(),
                serving_jobs: p
                    .jobs
                    .iter()
                    .filter(|j| j.phase == Phase::Serving)
                    .map(|j| {
                        (j.assigned.is_empty() && j.held.is_empty()).then(|| j.idle_since.elapsed())
                    })
                    .collect(),
                slots_per_job: p.route.slots,
                max_jobs: p.route.max_jobs,
                mean_task: p.task_time.mean(),
                mean_job_start: p.job_start.mean(),
                idle: p.route.idle,
            }
        };
        let decision = decide_worker_jobs(&load);
        if !decision.end.is_empty() {
            let pool = &mut self.pools[index];
            let serving: Vec<usize> = (0..pool.jobs.len())
                .filter(|&i| pool.jobs[i].phase == Phase::Serving)
                .collect();
            for k in decision.end {
                if let Some(&ji) = serving.get(k) {
                    let job = &mut pool.jobs[ji];
                    tracing::info!(job = %job.job_id, "ending an idle worker job");
                    if let Err(e) = job.folder.request_stop() {
                        tracing::warn!(error = %e, "cannot ask a worker job to end");
                    }
                    job.phase = Phase::Ending {
                        since: Instant::now(),
                    };
                }
            }
        }
        for _ in 0..decision.submit {
            if let Err(message) = self.submit(index) {
                self.fail_queue(index, &message);
                return;
            }
        }
    }

    /// Writes a job's folder and script and submits it.
    fn submit(&mut self, index: usize) -> Result<(), String> {
        let (storage, worker, route) = {
            let p = &self.pools[index];
            (p.storage.clone(), p.worker.clone(), p.route.clone())
        };
        let workflow_dir = std::path::absolute(storage.workflow_dir())
            .map_err(|e| format!("cannot make the workflow folder absolute: {e}"))?;
        let tkr_dir = std::path::absolute(storage.tkr_dir())
            .map_err(|e| format!("cannot make the checkpoint folder absolute: {e}"))?;
        let jobs_dir = workflow_dir.join(WORKER_JOBS_DIR);
        std::fs::create_dir_all(&jobs_dir)
            .map_err(|e| format!("cannot make {}: {e}", jobs_dir.display()))?;
        // A folder of its own, never one an earlier controller of this
        // workflow used (a resumed run finds theirs there).
        let (number, folder) = loop {
            let number = self.next_job_number;
            self.next_job_number += 1;
            let dir = jobs_dir.join(format!("{worker}-{number}"));
            match std::fs::create_dir(&dir) {
                Ok(()) => break (number, JobFolder::new(dir)),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(format!("cannot make {}: {e}", dir.display())),
            }
        };
        folder.create().map_err(|e| e.to_string())?;
        let heartbeat = self.heartbeat.file_in(&jobs_dir)?;
        let spec = WorkerJobSpec {
            tkr_dir: tkr_dir.clone(),
            workflow_id: storage.workflow_id().to_string(),
            worker: worker.clone(),
            plan: route.plan.clone(),
            slots: route.slots,
            grace_secs: self.options.grace.as_secs_f64(),
            task_timeout_secs: self.options.task_timeout.map(|d| d.as_secs_f64()),
            heartbeat,
            controller_timeout_secs: route.idle.as_secs_f64(),
            system: route.system.name().to_string(),
        };
        mailbox::write_record(&folder.spec_path(), &spec).map_err(|e| e.to_string())?;
        let job_spec = JobSpec::resolve(
            route.job.clone(),
            &format!("{worker}.worker-job"),
            None,
            folder.dir(),
            JobCommand {
                tkr_dir,
                cwd: None,
                env: BTreeMap::new(),
                command: Vec::new(),
                stdout: None,
                stdin: None,
                node_logs: folder.dir().join("job.out"),
                done: folder.dir().join("ended.json"),
                error: folder.dir().join("ended.json"),
                parent_metadata: folder.dir().join("ended.json"),
                done_on_success: false,
                who: format!("worker job {number} of {worker:?}"),
            },
        );
        let script = script::render_worker_job(
            route.system,
            &job_spec,
            &self.options.tkr_program,
            folder.dir(),
        )
        .map_err(|e| format!("the worker job script cannot be written: {e}"))?;
        mailbox::write_atomically(&folder.script_path(), &script).map_err(|e| e.to_string())?;
        let job_id = route
            .system
            .submit(
                &self.commands,
                &folder.script_path(),
                job_spec.no_check_directory,
            )
            .map_err(|e| {
                format!(
                    "the {} scheduler refused the worker job of {worker:?} (script {}): {e}",
                    route.system.name(),
                    folder.script_path().display()
                )
            })?;
        let record = SubmittedRecord {
            system: route.system.name().to_string(),
            job_id: job_id.clone(),
            worker: worker.clone(),
            at: mailbox::unix_now(),
        };
        if let Err(e) = mailbox::write_record(&folder.submitted_path(), &record) {
            tracing::warn!(error = %e, "cannot record a worker job");
        }
        let _ = storage.append_workflow_log(&format!(
            "tkr: submitted worker job {job_id} ({}) for worker {worker:?}: {} warm process(es), folder {}",
            route.system.name(),
            route.slots,
            folder.dir().display()
        ));
        tracing::info!(job = %job_id, worker = %worker, "worker job submitted");
        let now = Instant::now();
        self.pools[index].jobs.push(WorkerJob {
            folder,
            system: route.system.name(),
            job_id,
            submitted: now,
            last_start_check: now,
            phase: Phase::Pending,
            assigned: BTreeMap::new(),
            held: Vec::new(),
            next_seq: 1,
            idle_since: now,
        });
        Ok(())
    }
}

/// Takes the job's reports: successes complete at once; failures that may
/// be the job's end are held until its next status.
pub(super) fn receive_reports(
    job: &mut WorkerJob,
    task_time: &mut MeanDuration,
    completions: &mut Vec<(Queued, Result<(), TaskFailure>)>,
) {
    let seqs = match job.folder.list_outbox() {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(error = %e, "cannot read a worker job's outbox");
            return;
        }
    };
    for seq in seqs {
        let report: TaskReport = match mailbox::take_record(&job.folder.report_path(seq)) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read a worker job's report");
                continue;
            }
        };
        job.idle_since = Instant::now();
        let Some(q) = job
            .assigned
            .get(&seq)
            .filter(|q| q.task.loc.to_string() == report.loc)
        else {
            tracing::warn!(seq, loc = %report.loc, "a worker job reported a task it was not given; ignored");
            continue;
        };
        // The job's timeline: its processes in lanes named after the job.
        let lane = |l: &str| format!("{} worker job {} {l}", job.system, job.job_id);
        for (process, spawned_us, ready_us) in &report.processes_ready {
            q.events
                .process_ready_elsewhere(lane(process), *spawned_us, *ready_us);
        }
        if let Some((at_us, process)) = &report.started {
            q.events
                .task_started_elsewhere(&q.task.loc, lane(process), *at_us);
        }
        match &report.failure {
            None => {
                task_time.record(Duration::from_secs_f64(report.secs.max(0.0)));
                if let Some(q) = job.assigned.remove(&seq) {
                    completions.push((q, Ok(())));
                }
            }
            Some(f) if may_be_the_jobs_end(f.kind) => job.held.push(HeldFailure {
                seq,
                report,
                queries_since: 0,
            }),
            Some(f) => {
                if let Some(q) = job.assigned.remove(&seq) {
                    completions.push((q, Err(TaskFailure::new(f.kind, f.message.clone()))));
                }
            }
        }
    }
}

/// Records the scheduler's word on a job for `tkr show` and the web view.
pub(super) fn write_state(job: &WorkerJob, state: Option<&JobState>) {
    let text = match state {
        Some(JobState::Queued) => "queued".to_string(),
        Some(JobState::Running) => "running".to_string(),
        Some(JobState::Ended(end)) => format!("ended: {end:?}").to_lowercase(),
        None => "unknown to the scheduler".to_string(),
    };
    let path = job.folder.state_path();
    if std::fs::read(&path).is_ok_and(|b| b == text.as_bytes()) {
        return;
    }
    if let Err(e) = mailbox::write_atomically(&path, text.as_bytes()) {
        tracing::debug!(error = %e, "cannot record a worker job's state");
    }
}
