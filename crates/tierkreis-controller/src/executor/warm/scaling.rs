//! When a warm worker gets another process: a pure decision, kept apart from
//! the process I/O so it can be tested by itself.
//!
//! A warm process costs its start-up (a Python worker importing qiskit-aer
//! and pytket: seconds of CPU), and two of the same worker importing at once
//! on a small machine take twice as long each. So a worker gets one process
//! first, no second one while one is still starting, and an extra one only
//! when its queued calls would wait longer for the busy processes than a new
//! process takes to start. Whether a `jobs` slot is free is the pool's
//! business ([`crate::executor::process`]), not this module's.

use std::time::Duration;

/// What the pool knows about one warm worker command when one of its tasks
/// waits in the queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WarmWorkerLoad {
    /// Its processes still starting (importing, before their handshake).
    pub starting: usize,
    /// Its processes waiting for a call.
    pub idle: usize,
    /// Its processes running a call.
    pub busy: usize,
    /// Its tasks waiting in the queue, this one included.
    pub queued: usize,
    /// The mean time of its finished calls, if any finished.
    pub mean_call: Option<Duration>,
    /// How long the longest of its running calls has run so far.
    pub longest_running_call: Option<Duration>,
    /// The mean time its processes took to start (spawn to handshake).
    pub mean_start: Option<Duration>,
}

/// What to do with a queued warm task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WarmScaling {
    /// Send it to an idle process of its worker.
    UseIdleProcess,
    /// The worker has no process: start its first one (a slot is needed).
    StartFirstProcess,
    /// Its queue waits longer than a start-up: start one more process, if a
    /// slot is free.
    StartExtraProcess,
    /// Leave it queued for the worker's starting or busy processes.
    WaitForOwnProcesses,
}

/// Decides what to do with a queued task of a warm worker in state `load`.
///
/// The expected wait of the queue is `queued × call time / busy processes`,
/// where the call time is the larger of the observed mean and the longest
/// call running now (so a worker whose first call runs for seconds gets a
/// second process before that call ends). Without any observed start-up
/// time, an extra process always pays.
pub fn decide_warm_scaling(load: &WarmWorkerLoad) -> WarmScaling {
    if load.idle > 0 {
        return WarmScaling::UseIdleProcess;
    }
    if load.starting == 0 && load.busy == 0 {
        return WarmScaling::StartFirstProcess;
    }
    if load.starting > 0 {
        return WarmScaling::WaitForOwnProcesses;
    }
    let call = load
        .mean_call
        .unwrap_or_default()
        .max(load.longest_running_call.unwrap_or_default());
    let busy = u32::try_from(load.busy).unwrap_or(u32::MAX).max(1);
    let queued = u32::try_from(load.queued).unwrap_or(u32::MAX);
    let expected_wait = call.saturating_mul(queued) / busy;
    if expected_wait > load.mean_start.unwrap_or_default() {
        WarmScaling::StartExtraProcess
    } else {
        WarmScaling::WaitForOwnProcesses
    }
}

/// A running mean of durations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MeanDuration {
    total: Duration,
    count: u32,
}

impl MeanDuration {
    /// Adds one observation.
    pub fn record(&mut self, d: Duration) {
        self.total = self.total.saturating_add(d);
        self.count = self.count.saturating_add(1);
    }

    /// The mean, if anything was recorded.
    pub fn mean(&self) -> Option<Duration> {
        (self.count > 0).then(|| self.total / self.count)
    }
}

/// What the pool has observed of one warm worker command during this run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WarmTimings {
    /// Spawn to handshake, per process.
    pub start: MeanDuration,
    /// Each process's first call (often slower: lazy imports).
    pub first_call: MeanDuration,
    /// The later calls.
    pub later_call: MeanDuration,
}

impl WarmTimings {
    /// The call time to plan with: later calls when there are any, since a
    /// first call's lazy imports are paid once per process.
    pub fn mean_call(&self) -> Option<Duration> {
        self.later_call.mean().or(self.first_call.mean())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn decide(load: WarmWorkerLoad) -> WarmScaling {
        decide_warm_scaling(&load)
    }

    #[test]
    fn an_idle_process_takes_the_task_before_anything_starts() {
        let load = WarmWorkerLoad {
            idle: 1,
            busy: 1,
            starting: 1,
            queued: 50,
            mean_call: Some(ms(5_000)),
            mean_start: Some(ms(100)),
            ..Default::default()
        };
        assert_eq!(decide(load), WarmScaling::UseIdleProcess);
    }

    #[test]
    fn a_worker_without_processes_starts_its_first() {
        let load = WarmWorkerLoad {
            queued: 1,
            ..Default::default()
        };
        assert_eq!(decide(load), WarmScaling::StartFirstProcess);
        // Even when its previous processes were slow to start.
        let load = WarmWorkerLoad {
            queued: 1,
            mean_start: Some(ms(30_000)),
            mean_call: Some(ms(1)),
            ..Default::default()
        };
        assert_eq!(decide(load), WarmScaling::StartFirstProcess);
    }

    #[test]
    fn no_second_process_while_one_is_starting_however_long_the_queue() {
        for busy in [0, 1, 3] {
            let load = WarmWorkerLoad {
                starting: 1,
                busy,
                queued: 1_000,
                mean_call: Some(ms(10_000)),
                longest_running_call: Some(ms(60_000)),
                mean_start: Some(ms(1)),
                ..Default::default()
            };
            assert_eq!(
                decide(load),
                WarmScaling::WaitForOwnProcesses,
                "busy {busy}"
            );
        }
    }

    #[test]
    fn short_calls_keep_one_process_aer_like() {
        // 100 queued calls of 25 ms wait 2.5 s: less than a 3 s import.
        let load = WarmWorkerLoad {
            busy: 1,
            queued: 100,
            mean_call: Some(ms(25)),
            longest_running_call: Some(ms(10)),
            mean_start: Some(ms(3_000)),
            ..Default::default()
        };
        assert_eq!(decide(load), WarmScaling::WaitForOwnProcesses);
    }

    #[test]
    fn a_queue_waiting_longer_than_a_start_up_gets_another_process() {
        let load = WarmWorkerLoad {
            busy: 1,
            queued: 200,
            mean_call: Some(ms(25)),
            mean_start: Some(ms(3_000)),
            ..Default::default()
        };
        assert_eq!(decide(load), WarmScaling::StartExtraProcess);
        // Two busy processes drain it twice as fast: 200 × 25 / 2 = 2.5 s.
        let load = WarmWorkerLoad { busy: 2, ..load };
        assert_eq!(decide(load), WarmScaling::WaitForOwnProcesses);
    }

    #[test]
    fn a_long_running_first_call_gets_a_parallel_process_before_it_ends() {
        // No call has finished yet; the running one is at 400 ms, 3 queued:
        // 1.2 s of waiting against a 1 s start-up.
        let load = WarmWorkerLoad {
            busy: 1,
            queued: 3,
            mean_call: None,
            longest_running_call: Some(ms(400)),
            mean_start: Some(ms(1_000)),
            ..Default::default()
        };
        assert_eq!(decide(load), WarmScaling::StartExtraProcess);
        let early = WarmWorkerLoad {
            longest_running_call: Some(ms(200)),
            ..load
        };
        assert_eq!(decide(early), WarmScaling::WaitForOwnProcesses);
    }

    #[test]
    fn seconds_long_calls_scale_out_to_the_queue() {
        let load = WarmWorkerLoad {
            busy: 3,
            queued: 4,
            mean_call: Some(ms(5_000)),
            mean_start: Some(ms(3_000)),
            ..Default::default()
        };
        assert_eq!(decide(load), WarmScaling::StartExtraProcess);
    }

    #[test]
    fn without_an_observed_start_up_an_extra_process_pays() {
        let load = WarmWorkerLoad {
            busy: 1,
            queued: 1,
            longest_running_call: Some(ms(1)),
            ..Default::default()
        };
        assert_eq!(decide(load), WarmScaling::StartExtraProcess);
    }

    #[test]
    fn timings_plan_with_later_calls_and_fall_back_to_first_calls() {
        let mut t = WarmTimings::default();
        assert_eq!(t.mean_call(), None);
        t.first_call.record(ms(900));
        assert_eq!(t.mean_call(), Some(ms(900)));
        t.later_call.record(ms(20));
        t.later_call.record(ms(30));
        assert_eq!(t.mean_call(), Some(ms(25)));
        t.start.record(ms(3_000));
        assert_eq!(t.start.mean(), Some(ms(3_000)));
    }
}
