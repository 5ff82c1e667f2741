//! A resumed or restarted run never runs one node twice at once, even when a
//! task process of the killed controller before it is still alive (its
//! guardian, [`super::guardian`], was killed too, or has not acted yet).
//!
//! Each task start records the process group running it in
//! `debug/tkr-process-groups/<loc>` (a file of ours; the reference ignores
//! it): the group id, its leader's start time, and the controller's own pid
//! and start time. Before a node's task starts, a record left by another
//! controller whose group still runs is acted on: that group is SIGKILLed
//! and waited for. A process id is never reused while it names a live
//! process group, and a leader's start time tells a reused pid apart, so an
//! unrelated program is never killed.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tierkreis_core::Loc;
use tierkreis_storage::ControllerStorage;

/// How long a killed leftover group may take to disappear before the new
/// task starts anyway (with a warning).
const LEFTOVER_GONE_WITHIN: Duration = Duration::from_secs(10);

/// Who started a task: a process and its start time (clock ticks since
/// boot), which together name one process for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct ProcessIdentity {
    pid: i32,
    start_ticks: u64,
}

/// The record of one task's process group, as one text line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct TaskGroupRecord {
    group: ProcessIdentity,
    controller: ProcessIdentity,
}

impl TaskGroupRecord {
    fn to_line(self) -> String {
        format!(
            "{} {} {} {}\n",
            self.group.pid,
            self.group.start_ticks,
            self.controller.pid,
            self.controller.start_ticks
        )
    }

    fn parse(text: &str) -> Option<Self> {
        let mut words = text.split_whitespace();
        let mut next = || words.next();
        let group_pid = next()?.parse().ok()?;
        let group_start = next()?.parse().ok()?;
        let controller_pid = next()?.parse().ok()?;
        let controller_start = next()?.parse().ok()?;
        Some(Self {
            group: ProcessIdentity {
                pid: group_pid,
                start_ticks: group_start,
            },
            controller: ProcessIdentity {
                pid: controller_pid,
                start_ticks: controller_start,
            },
        })
    }
}

/// `debug/tkr-process-groups/<loc>`.
fn record_path(storage: &dyn ControllerStorage, loc: &Loc) -> PathBuf {
    storage
        .debug_path()
        .join("tkr-process-groups")
        .join(loc.as_str())
}

/// The start time of process `pid` (field 22 of `/proc/PID/stat`), `None`
/// when it is gone or a zombie.
fn start_ticks(pid: i32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = stat.rsplit_once(')')?;
    let mut fields = rest.split_whitespace();
    if fields.next()? == "Z" {
        return None;
    }
    // After the state: ppid, pgrp, ... starttime is the 20th field on.
    fields.nth(18)?.parse().ok()
}

/// This controller process, found once.
fn this_controller() -> Option<ProcessIdentity> {
    static ME: OnceLock<Option<ProcessIdentity>> = OnceLock::new();
    *ME.get_or_init(|| {
        let pid = i32::try_from(std::process::id()).ok()?;
        Some(ProcessIdentity {
            pid,
            start_ticks: start_ticks(pid)?,
        })
    })
}

/// Whether any process that is not a zombie is in group `pgid`.
fn group_has_live_members(pgid: i32) -> bool {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return false;
    };
    dir.flatten().any(|entry| {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            return false;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            return false;
        };
        let Some((_, rest)) = stat.rsplit_once(')') else {
            return false;
        };
        let mut fields = rest.split_whitespace();
        let state = fields.next();
        let group = fields.nth(1).and_then(|g| g.parse::<i32>().ok());
        state != Some("Z") && group == Some(pgid)
    })
}

/// Records that process group `pgid` (just started by this controller)
/// runs the task at `loc`. A record that cannot be written is logged and
/// skipped: it only protects a later resume.
pub(super) fn record_task_group(storage: &dyn ControllerStorage, loc: &Loc, pgid: Pid) {
    let (Some(controller), Some(start)) = (this_controller(), start_ticks(pgid.as_raw())) else {
        return;
    };
    let record = TaskGroupRecord {
        group: ProcessIdentity {
            pid: pgid.as_raw(),
            start_ticks: start,
        },
        controller,
    };
    if let Err(e) = storage.write(&record_path(storage, loc), record.to_line().as_bytes()) {
        tracing::warn!(loc = %loc, error = %e, "cannot record the task's process group");
    }
}

/// Before the task at `loc` starts: ends the process group an earlier
/// controller recorded for it, if that group still runs, and waits (up to
/// [`LEFTOVER_GONE_WITHIN`]) until it is gone.
pub(super) fn end_leftover_task_group(storage: &dyn ControllerStorage, loc: &Loc) {
    let path = record_path(storage, loc);
    let Ok(bytes) = storage.read(&path) else {
        return;
    };
    let Some(record) = TaskGroupRecord::parse(&String::from_utf8_lossy(&bytes)) else {
        return;
    };
    if Some(record.controller) == this_controller() || record.group.pid <= 1 {
        return;
    }
    let pgid = record.group.pid;
    let leader_is_the_recorded_one = start_ticks(pgid) == Some(record.group.start_ticks);
    // With its leader gone, the group id cannot have been reused while
    // members remain; with its leader alive, the start time must match.
    let still_ours = match start_ticks(pgid) {
        Some(_) => leader_is_the_recorded_one,
        None => group_has_live_members(pgid),
    };
    if !still_ours {
        return;
    }
    tracing::warn!(loc = %loc, pgid, "ending a task process left running by an earlier controller");
    let _ = storage.append_workflow_log(&format!(
        "tkr: ended process group {pgid}, left running at {loc} by an earlier controller, \
         before running the task again"
    ));
    let _ = killpg(Pid::from_raw(pgid), Signal::SIGKILL);
    let started = Instant::now();
    while group_has_live_members(pgid) {
        if started.elapsed() > LEFTOVER_GONE_WITHIN {
            tracing::warn!(loc = %loc, pgid, "a killed leftover process group is still there");
            return;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::os::unix::process::CommandExt;
    use tierkreis_storage::FileControllerStorage;

    #[test]
    fn a_record_reads_back_and_a_cut_record_is_ignored() {
        let r = TaskGroupRecord {
            group: ProcessIdentity {
                pid: 4242,
                start_ticks: 99,
            },
            controller: ProcessIdentity {
                pid: 7,
                start_ticks: 5,
            },
        };
        assert_eq!(TaskGroupRecord::parse(&r.to_line()), Some(r));
        assert_eq!(TaskGroupRecord::parse("4242 99 7"), None);
    }

    #[test]
    fn a_group_recorded_by_another_controller_is_ended_and_ours_is_kept() {
        let t = tempfile::tempdir().unwrap();
        let storage = FileControllerStorage::new(t.path().join("ck"), uuid::Uuid::new_v4(), None);
        let loc = Loc::root().n(1);
        let mut child = std::process::Command::new("sleep")
            .arg("300")
            .process_group(0)
            .spawn()
            .unwrap();
        let pgid = i32::try_from(child.id()).unwrap();
        // Recorded by this controller: left alone.
        record_task_group(&storage, &loc, Pid::from_raw(pgid));
        end_leftover_task_group(&storage, &loc);
        assert!(
            child.try_wait().unwrap().is_none(),
            "our own group was killed"
        );
        // The same record from another controller (a pid that is not ours).
        let mut record = TaskGroupRecord::parse(
            &String::from_utf8(storage.read(&record_path(&storage, &loc)).unwrap()).unwrap(),
        )
        .unwrap();
        record.controller.pid += 1;
        storage
            .write(&record_path(&storage, &loc), record.to_line().as_bytes())
            .unwrap();
        // A reused pid (another start time) is not that group.
        let mut stale = record;
        stale.group.start_ticks += 1;
        storage
            .write(&record_path(&storage, &loc), stale.to_line().as_bytes())
            .unwrap();
        end_leftover_task_group(&storage, &loc);
        assert!(
            child.try_wait().unwrap().is_none(),
            "a reused pid was killed"
        );
        storage
            .write(&record_path(&storage, &loc), record.to_line().as_bytes())
            .unwrap();
        // `sleep` is our child here, so it stays a zombie until reaped:
        // reap it from another thread while the wait runs.
        let reaper = std::thread::spawn(move || child.wait().unwrap());
        end_leftover_task_group(&storage, &loc);
        let status = reaper.join().unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(status.signal(), Some(9));
    }
}
