//! How many worker jobs a worker gets: a pure decision, kept apart from the
//! batch system and the files so that it is tested by itself.
//!
//! A worker job costs its start: the batch system's queue (seconds to
//! minutes on a busy cluster) and the worker's import. A worker with queued
//! tasks and no job gets one. More are added while the queued work would
//! wait longer than a job takes to start: with `J` jobs of `S` warm
//! processes each and tasks of mean time `t`, `Q` queued tasks take
//! `Q·t/(J·S)`, so the jobs wanted are `⌈Q·t/(S·start)⌉`, at most
//! `max_jobs`. Before any task has finished, `t` is taken to be as long as a
//! start (each queued slot-full of tasks is worth a job). A job idle for
//! `idle` (no task in it, none queued) is ended.

use std::time::Duration;

/// What the executor knows of one worker's jobs and tasks.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WorkerJobsLoad {
    /// Tasks waiting for a job.
    pub queued: usize,
    /// Jobs submitted and not yet started.
    pub pending_jobs: usize,
    /// Jobs serving (started and not asked to end), and how long each has
    /// been idle (`None`: it has tasks).
    pub serving_jobs: Vec<Option<Duration>>,
    /// Warm processes per job.
    pub slots_per_job: usize,
    /// The most jobs at once.
    pub max_jobs: usize,
    /// The mean time of the tasks finished so far.
    pub mean_task: Option<Duration>,
    /// The mean time a job took from submission to serving; `None` before
    /// any started.
    pub mean_job_start: Option<Duration>,
    /// How long a job may stay idle.
    pub idle: Duration,
}

/// What to do now.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WorkerJobsDecision {
    /// Jobs to submit.
    pub submit: usize,
    /// Indices (into `serving_jobs`) of the jobs to end.
    pub end: Vec<usize>,
}

/// A start assumed before any job has started.
pub const ASSUMED_JOB_START: Duration = Duration::from_secs(10);

/// Decides, for one worker in state `load`, what to submit and what to end.
pub fn decide_worker_jobs(load: &WorkerJobsLoad) -> WorkerJobsDecision {
    let jobs = load.pending_jobs + load.serving_jobs.len();
    let mut decision = WorkerJobsDecision::default();
    if load.queued > 0 {
        let slots = load.slots_per_job.max(1);
        let start = load
            .mean_job_start
            .unwrap_or(ASSUMED_JOB_START)
            .max(Duration::from_millis(1));
        let task = load.mean_task.unwrap_or(start);
        let work = task.as_secs_f64() * load.queued as f64;
        let wanted = (work / (slots as f64 * start.as_secs_f64())).ceil() as usize;
        let wanted = wanted.clamp(1, load.max_jobs.max(1));
        decision.submit = wanted.saturating_sub(jobs);
        return decision;
    }
    decision.end = load
        .serving_jobs
        .iter()
        .enumerate()
        .filter(|(_, idle)| idle.is_some_and(|d| d >= load.idle))
        .map(|(i, _)| i)
        .collect();
    decision
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load() -> WorkerJobsLoad {
        WorkerJobsLoad {
            slots_per_job: 1,
            max_jobs: 4,
            idle: Duration::from_secs(60),
            ..WorkerJobsLoad::default()
        }
    }

    #[test]
    fn a_queued_task_without_a_job_gets_one() {
        let l = WorkerJobsLoad {
            queued: 1,
            ..load()
        };
        assert_eq!(decide_worker_jobs(&l).submit, 1);
    }

    #[test]
    fn nothing_queued_and_no_job_submits_nothing() {
        assert_eq!(decide_worker_jobs(&load()), WorkerJobsDecision::default());
    }

    #[test]
    fn before_any_timing_each_slot_full_of_queued_tasks_is_worth_a_job_up_to_the_maximum() {
        let l = WorkerJobsLoad {
            queued: 3,
            slots_per_job: 2,
            ..load()
        };
        assert_eq!(decide_worker_jobs(&l).submit, 2);
        let l = WorkerJobsLoad {
            queued: 100,
            ..load()
        };
        assert_eq!(decide_worker_jobs(&l).submit, 4, "capped at max_jobs");
        let l = WorkerJobsLoad {
            queued: 100,
            pending_jobs: 1,
            serving_jobs: vec![None, None, None],
            ..load()
        };
        assert_eq!(decide_worker_jobs(&l).submit, 0, "already at max_jobs");
    }

    #[test]
    fn short_tasks_behind_a_slow_start_are_left_to_the_jobs_there_are() {
        // 10 tasks of 0.1 s = 1 s of work; a job takes 20 s to start.
        let l = WorkerJobsLoad {
            queued: 10,
            serving_jobs: vec![None],
            mean_task: Some(Duration::from_millis(100)),
            mean_job_start: Some(Duration::from_secs(20)),
            ..load()
        };
        assert_eq!(decide_worker_jobs(&l).submit, 0);
    }

    #[test]
    fn long_queues_get_jobs_while_they_would_wait_longer_than_a_start() {
        // 30 tasks of 2 s = 60 s of work; a start takes 20 s: 3 jobs.
        let l = WorkerJobsLoad {
            queued: 30,
            serving_jobs: vec![None],
            mean_task: Some(Duration::from_secs(2)),
            mean_job_start: Some(Duration::from_secs(20)),
            ..load()
        };
        assert_eq!(decide_worker_jobs(&l).submit, 2);
    }

    #[test]
    fn idle_jobs_end_only_after_the_idle_time_and_only_with_nothing_queued() {
        let l = WorkerJobsLoad {
            serving_jobs: vec![
                Some(Duration::from_secs(61)),
                Some(Duration::from_secs(5)),
                None,
            ],
            ..load()
        };
        assert_eq!(decide_worker_jobs(&l).end, vec![0]);
        let l = WorkerJobsLoad {
            queued: 1,
            serving_jobs: vec![Some(Duration::from_secs(61))],
            ..load()
        };
        assert_eq!(decide_worker_jobs(&l), WorkerJobsDecision::default());
    }
}
