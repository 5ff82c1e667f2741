//! The numbers of a run's report (`tkr report`, its `--json`, and the web
//! view's timeline), computed once here from the [`RunTimeline`] so that
//! every reader shows the same figures.
//!
//! The summary names one figure for how much of the wall time the tasks'
//! own work explains: **task coverage**, the share of the wall time during
//! which at least one task attempt was running. 100% means the run took no
//! longer than its tasks kept something busy; the rest is the controller,
//! start-ups and waiting with nothing running.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::timeline::{AttemptOutcome, RunTimeline, TaskRecord};

/// Everything a report shows.
#[derive(Debug, Clone, Serialize)]
pub struct RunReport {
    pub workflow_id: String,
    pub name: Option<String>,
    pub summary: ReportSummary,
    /// One per process or batch job that served tasks, busiest first.
    pub lanes: Vec<LaneStats>,
    pub process_startups: Vec<StartupStats>,
    /// By `worker.function`, sorted by name.
    pub functions: Vec<FunctionStats>,
    /// The timeline itself (times in micro seconds since the epoch).
    pub timeline: RunTimeline,
}

/// The run as a whole.
#[derive(Debug, Clone, Serialize)]
pub struct ReportSummary {
    /// First start to last end (to the latest event while running), seconds.
    pub wall_time_s: f64,
    /// Sum of every attempt's running time (started to finished), seconds:
    /// the core-seconds the tasks kept busy, one core per task.
    pub cpu_busy_s: f64,
    /// `cpu_busy_s / wall_time_s`: how many tasks ran at once on average.
    pub mean_busy_tasks: f64,
    /// Seconds of the wall time with at least one attempt running.
    pub task_busy_wall_s: f64,
    /// `task_busy_wall_s / wall_time_s` (0..=1): see the module docs.
    pub task_coverage: f64,
    /// Sum of queue waits (queued to started), seconds.
    pub queue_wait_s: f64,
    pub tasks: usize,
    pub attempts: usize,
    pub retries: usize,
    pub failures: usize,
    pub cache_hits: usize,
    pub lanes: usize,
    /// Sum of the warm processes' start-up times, seconds.
    pub startup_s: f64,
}

/// One lane: a worker process or batch job.
#[derive(Debug, Clone, Serialize)]
pub struct LaneStats {
    pub lane: String,
    pub attempts: usize,
    pub busy_s: f64,
}

/// A warm process's start-up.
#[derive(Debug, Clone, Serialize)]
pub struct StartupStats {
    pub lane: String,
    pub startup_s: f64,
}

/// Per function.
#[derive(Debug, Clone, Serialize)]
pub struct FunctionStats {
    pub function: String,
    /// Attempts that ran.
    pub count: usize,
    pub total_s: f64,
    pub mean_s: f64,
    pub max_s: f64,
    pub failures: usize,
    pub retries: usize,
    pub cache_hits: usize,
}

fn secs(us: u64) -> f64 {
    us as f64 / 1e6
}

/// The report of `timeline`; `now_us` ends the wall time of a run that has
/// not ended.
pub fn build_report(
    workflow_id: String,
    name: Option<String>,
    timeline: RunTimeline,
    now_us: u64,
) -> RunReport {
    let attempts = || timeline.tasks.iter().flat_map(|t| t.attempts.iter());
    let last_event = attempts()
        .map(|a| a.finished_us.unwrap_or(now_us))
        .chain(timeline.tasks.iter().filter_map(|t| t.cache_hit_us))
        .max();
    let start = timeline
        .run_started_us
        .or_else(|| attempts().map(|a| a.queued_us).min())
        .unwrap_or(now_us);
    let end = timeline
        .run_ended_us
        .or(last_event)
        .unwrap_or(now_us)
        .max(start);
    let wall = end - start;
    let run_us = |a: &crate::timeline::AttemptRecord| {
        a.finished_us.unwrap_or(end).saturating_sub(a.started_us)
    };
    let cpu_busy: u64 = attempts().map(run_us).sum();
    let queue_wait: u64 = attempts()
        .map(|a| a.started_us.saturating_sub(a.queued_us))
        .sum();
    // The union of the running intervals.
    let mut intervals: Vec<(u64, u64)> = attempts()
        .map(|a| (a.started_us, a.finished_us.unwrap_or(end)))
        .collect();
    intervals.sort_unstable();
    let mut covered = 0u64;
    let mut reach = 0u64;
    for (s, e) in intervals {
        let s = s.max(reach);
        if e > s {
            covered += e - s;
            reach = e;
        }
    }
    let mut lanes: BTreeMap<&str, LaneStats> = BTreeMap::new();
    for a in attempts() {
        if let Some(lane) = &a.lane {
            let entry = lanes.entry(lane).or_insert_with(|| LaneStats {
                lane: lane.clone(),
                attempts: 0,
                busy_s: 0.0,
            });
            entry.attempts += 1;
            entry.busy_s += secs(run_us(a));
        }
    }
    let mut lanes: Vec<LaneStats> = lanes.into_values().collect();
    lanes.sort_by(|a, b| b.busy_s.total_cmp(&a.busy_s).then(a.lane.cmp(&b.lane)));
    let startups: Vec<StartupStats> = timeline
        .process_startups
        .iter()
        .map(|p| StartupStats {
            lane: p.lane.clone(),
            startup_s: secs(p.ready_us.saturating_sub(p.spawned_us)),
        })
        .collect();
    let functions = function_stats(&timeline.tasks, end);
    let failed = |t: &TaskRecord| {
        t.attempts
            .last()
            .is_some_and(|a| a.outcome == AttemptOutcome::Failed)
    };
    let summary = ReportSummary {
        wall_time_s: secs(wall),
        cpu_busy_s: secs(cpu_busy),
        mean_busy_tasks: if wall > 0 {
            cpu_busy as f64 / wall as f64
        } else {
            0.0
        },
        task_busy_wall_s: secs(covered),
        task_coverage: if wall > 0 {
            (covered as f64 / wall as f64).min(1.0)
        } else {
            0.0
        },
        queue_wait_s: secs(queue_wait),
        tasks: timeline.tasks.len(),
        attempts: attempts().count(),
        retries: timeline
            .tasks
            .iter()
            .map(|t| t.attempts.len().saturating_sub(1))
            .sum(),
        failures: timeline.tasks.iter().filter(|t| failed(t)).count(),
        cache_hits: timeline
            .tasks
            .iter()
            .filter(|t| t.cache_hit_from.is_some())
            .count(),
        lanes: lanes.len(),
        startup_s: startups.iter().fold(0.0, |sum, s| sum + s.startup_s),
    };
    RunReport {
        workflow_id,
        name,
        summary,
        lanes,
        process_startups: startups,
        functions,
        timeline,
    }
}

/// The report of the workflow in `storage` (a run that has not ended
/// counts its wall time to now): what `tkr report` and the web view show.
pub fn workflow_report(
    storage: &dyn crate::ControllerStorage,
) -> Result<RunReport, crate::timeline::TimelineError> {
    let timeline = crate::timeline::read_run_timeline(storage)?;
    Ok(build_report(
        storage.workflow_id().to_string(),
        storage.read_workflow_metadata().ok().and_then(|m| m.name),
        timeline,
        crate::timeline::micros_since_epoch(std::time::SystemTime::now()),
    ))
}

fn function_stats(tasks: &[TaskRecord], end: u64) -> Vec<FunctionStats> {
    let mut by: BTreeMap<&str, FunctionStats> = BTreeMap::new();
    for t in tasks {
        let f = by.entry(&t.function).or_insert_with(|| FunctionStats {
            function: t.function.clone(),
            count: 0,
            total_s: 0.0,
            mean_s: 0.0,
            max_s: 0.0,
            failures: 0,
            retries: 0,
            cache_hits: 0,
        });
        f.retries += t.attempts.len().saturating_sub(1);
        if t.cache_hit_from.is_some() {
            f.cache_hits += 1;
        }
        for a in &t.attempts {
            let d = secs(a.finished_us.unwrap_or(end).saturating_sub(a.started_us));
            f.count += 1;
            f.total_s += d;
            f.max_s = f.max_s.max(d);
            if a.outcome == AttemptOutcome::Failed {
                f.failures += 1;
            }
        }
    }
    by.into_values()
        .map(|mut f| {
            f.mean_s = if f.count > 0 {
                f.total_s / f.count as f64
            } else {
                0.0
            };
            f
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::timeline::{AttemptRecord, TimelineSource};

    fn attempt(q: u64, s: u64, f: u64, lane: &str) -> AttemptRecord {
        AttemptRecord {
            number: 1,
            queued_us: q,
            started_us: s,
            finished_us: Some(f),
            lane: Some(lane.to_string()),
            outcome: AttemptOutcome::Done,
            failure: None,
        }
    }

    #[test]
    fn coverage_counts_overlapping_attempts_once() {
        let task = |loc: &str, a: AttemptRecord| TaskRecord {
            loc: loc.into(),
            function: "w.f".into(),
            attempts: vec![a],
            cache_hit_from: None,
            cache_hit_us: None,
        };
        let timeline = RunTimeline {
            source: TimelineSource::Recorded,
            run_started_us: Some(0),
            run_ended_us: Some(10_000_000),
            tasks: vec![
                task("-.N1", attempt(0, 1_000_000, 5_000_000, "a")),
                task("-.N2", attempt(0, 3_000_000, 6_000_000, "b")),
            ],
            process_startups: vec![],
            missing: vec![],
        };
        let r = build_report("id".into(), None, timeline, 0);
        assert_eq!(r.summary.wall_time_s, 10.0);
        assert_eq!(r.summary.cpu_busy_s, 7.0);
        assert_eq!(r.summary.task_busy_wall_s, 5.0);
        assert_eq!(r.summary.task_coverage, 0.5);
        assert_eq!(r.summary.queue_wait_s, 4.0);
        assert_eq!(r.lanes.len(), 2);
        assert_eq!(r.functions[0].count, 2);
        assert_eq!(r.functions[0].max_s, 4.0);
    }
}
