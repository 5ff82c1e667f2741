//! The thread of each warm process in the pool: starts the process, serves
//! the calls the pool hands it, records its timings, and gives its slot back.

use std::sync::mpsc::Receiver;
use std::sync::Arc;
use std::time::Instant;

use tierkreis_storage::ControllerStorage;

use super::pool::{Order, Pool};
use crate::executor::contract::TaskCompletion;
use crate::executor::warm::{
    conclude, copy_to_workflow_log, log_len, CallEnd, WarmKey, WarmProcess,
};
use crate::executor::worker_process::{write_debug_data, Job};

/// The thread of one warm process: starts it, serves `first` (if any; a
/// pre-started process has none), then the calls the pool sends until told
/// to end or the process must be replaced.
pub(crate) fn serve(
    pool: Arc<Pool>,
    id: u64,
    key: Arc<WarmKey>,
    first: Option<Job>,
    storage: Arc<dyn ControllerStorage>,
    orders: Receiver<Order>,
) {
    let grace = pool.options.grace;
    let spawned = Instant::now();
    let spawned_at = std::time::SystemTime::now();
    let ready_at;
    let mut process = match WarmProcess::start(&key, &storage, |pgid| {
        if let Some(slot) = pool.lock().warm.get_mut(&id) {
            slot.pgid = Some(pgid);
        }
    }) {
        Ok(p) => p,
        Err(reason) => return refused(&pool, id, &key, reason, first, &storage),
    };
    {
        let mut state = pool.lock();
        if state.stopping {
            state.warm.remove(&id);
            drop(state);
            process.kill();
            pool.changed.notify_all();
            return;
        }
        let took = spawned.elapsed();
        ready_at = std::time::SystemTime::now();
        tracing::debug!(worker = %key.worker, pid = process.pid, ms = took.as_millis(), "warm process ready");
        state
            .warm_timings
            .entry(key.clone())
            .or_default()
            .start
            .record(took);
        if let Some(slot) = state.warm.get_mut(&id) {
            slot.ready = true;
            slot.idle = first.is_none();
            slot.call_started = first.is_some().then(Instant::now);
        }
        pool.changed.notify_all();
        // Its worker's queued tasks may now justify another process.
        pool.dispatch(&mut state);
    }
    let mut next = first;
    let mut calls: u64 = 0;
    loop {
        let job = match next.take() {
            Some(job) => job,
            None => match orders.recv() {
                Ok(Order::Call(job)) => *job,
                Ok(Order::End) | Err(_) => {
                    process.end(grace);
                    let mut state = pool.lock();
                    state.warm.remove(&id);
                    pool.changed.notify_all();
                    return;
                }
            },
        };
        calls += 1;
        let _ = job.storage.append(
            &job.storage.worker_logs_path(&job.loc),
            format!(
                "tkr: running warm: call {calls} of process {} (worker {:?})\n",
                process.pid, job.worker
            )
            .as_bytes(),
        );
        crate::executor::leftover_processes::record_task_group(
            job.storage.as_ref(),
            &job.loc,
            process.pgid,
        );
        let lane = format!("process {}", process.pid);
        if calls == 1 {
            job.events
                .process_ready(key.executor_name, lane.clone(), spawned_at, ready_at);
        }
        job.events.task_started(&job.loc, key.executor_name, lane);
        let from = log_len(&job);
        let call_began = Instant::now();
        let end = process.call(&job, &key, grace);
        let call_took = call_began.elapsed();
        let stopping = {
            let mut state = pool.lock();
            if matches!(end, CallEnd::Replied(_)) {
                let timings = state.warm_timings.entry(key.clone()).or_default();
                if calls == 1 {
                    timings.first_call.record(call_took);
                } else {
                    timings.later_call.record(call_took);
                }
            }
            state.stopping
        };
        let mut keep = matches!(end, CallEnd::Replied(_)) && !stopping;
        let result = if stopping {
            None
        } else {
            Some(conclude(&job, &key, process.pid, &end, from))
        };
        copy_to_workflow_log(&job, from);
        if keep {
            let why = if key.max_calls.is_some_and(|m| calls >= m) {
                Some(format!("after {calls} calls (max_calls)"))
            } else {
                key.memory_limit.and_then(|limit| {
                    process.rss().filter(|r| *r > limit).map(|rss| {
                        format!(
                            "at {} MiB resident, past memory_limit {} MiB",
                            rss >> 20,
                            limit >> 20
                        )
                    })
                })
            };
            if let Some(why) = why {
                keep = false;
                let _ = job.storage.append_workflow_log(&format!(
                    "tkr: warm process {} of worker {:?} replaced {why}",
                    process.pid, job.worker
                ));
            }
        }
        if !keep {
            process.end(grace);
        }
        {
            let mut state = pool.lock();
            match state.warm.get_mut(&id) {
                Some(slot) if keep => {
                    slot.idle = true;
                    slot.call_started = None;
                }
                _ => {
                    state.warm.remove(&id);
                }
            }
            pool.changed.notify_all();
            pool.dispatch(&mut state);
        }
        if let Some(result) = result {
            job.events.complete(TaskCompletion {
                loc: job.loc.clone(),
                result,
            });
        }
        if !keep {
            return;
        }
    }
}

/// The warm command of `job` cannot serve: note why (once per command),
/// and run `job` and the command's later tasks one process per call.
fn refused(
    pool: &Arc<Pool>,
    id: u64,
    key: &Arc<WarmKey>,
    reason: String,
    job: Option<Job>,
    storage: &Arc<dyn ControllerStorage>,
) {
    let mut state = pool.lock();
    state.warm.remove(&id);
    if state.stopping {
        // Killed by the stop while starting: nothing was refused.
        pool.changed.notify_all();
        return;
    }
    if !state.warm_refused.contains_key(key) {
        tracing::warn!(worker = %key.worker, %reason, "running one process per call");
        let _ = storage.append_workflow_log(&format!(
            "tkr: worker {:?} cannot run warm ({reason}); running one process per call",
            key.worker
        ));
        state.warm_refused.insert(key.clone(), reason);
    }
    if let Some(mut job) = job {
        job.warm = None;
        if let Err(e) = write_debug_data(&job) {
            tracing::warn!(loc = %job.loc, error = %e, "cannot rewrite debug data");
        }
        state.queue.push_front(job);
    }
    pool.changed.notify_all();
    pool.dispatch(&mut state);
}
