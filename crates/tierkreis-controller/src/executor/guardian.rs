//! No worker process outlives its controller, however the controller ends
//! (SIGKILL and the out-of-memory killer included).
//!
//! The first worker process a controller process starts also forks a small
//! guardian process (named `tkr-guardian`, in a process group of its own so
//! a Ctrl-C at the terminal does not reach it). It holds the read end of a
//! pipe whose only write end the controller holds. The controller tells it
//! each process group it starts ([`register`]) and each group it has ended
//! (dropping the [`GroupRegistration`]). When the controller dies, the
//! kernel closes the write end; the guardian reads end of file, SIGKILLs
//! every group still registered (a worker and whatever it spawned, such as a
//! task's `subprocess.Popen(["sleep", "88"])`) and exits.
//!
//! `PR_SET_PDEATHSIG` alone does not do this: it fires when the *thread*
//! that spawned the child ends, not the process, and never reaches the
//! child's own children.
//!
//! The guardian is forked (not executed), so it needs no binary of its own
//! and works where the controller is a library (the Python wheel). After the
//! fork only async-signal-safe system calls run in it, on fixed buffers: no
//! allocation, no lock.

use std::fs::File;
use std::io::Write;
use std::sync::{Mutex, OnceLock};

use nix::unistd::Pid;

/// Process groups the guardian can hold at once (far above any `jobs`);
/// more would not be guarded, never refused.
const GUARDIAN_CAPACITY: usize = 4096;

/// One message to the guardian: an operation byte, three zero bytes, and the
/// process group id (little-endian `i32`). Eight bytes, so each write is
/// atomic on a pipe.
const RECORD_LEN: usize = 8;
const REGISTER: u8 = b'+';
const FORGET: u8 = b'-';

/// The write end of the pipe to this process's guardian; `None` when it
/// could not be started (then nothing is guarded, and that was logged).
static GUARDIAN: OnceLock<Option<Mutex<File>>> = OnceLock::new();

/// A process group the guardian ends if the controller dies; dropping it
/// (once the group is ended) tells the guardian to forget it, so a process
/// group id reused later by another program is never killed.
#[derive(Debug)]
pub struct GroupRegistration {
    pgid: i32,
}

/// Registers process group `pgid` (a worker process just spawned as the
/// leader of its own group) with this controller's guardian, starting the
/// guardian first if needed.
pub fn register(pgid: Pid) -> GroupRegistration {
    let pgid = pgid.as_raw();
    send(REGISTER, pgid);
    GroupRegistration { pgid }
}

impl Drop for GroupRegistration {
    fn drop(&mut self) {
        send(FORGET, self.pgid);
    }
}

fn send(op: u8, pgid: i32) {
    // Group ids 0 and 1 would make the guardian's `kill(-pgid)` mean
    // "my own group" or "every process".
    if pgid <= 1 {
        return;
    }
    let Some(pipe) = GUARDIAN.get_or_init(start_guardian) else {
        return;
    };
    let mut record = [0u8; RECORD_LEN];
    record[0] = op;
    record[4..].copy_from_slice(&pgid.to_le_bytes());
    let mut pipe = pipe.lock().unwrap_or_else(|e| e.into_inner());
    if let Err(e) = pipe.write_all(&record) {
        // Once: a guardian that was killed fails every later write.
        static WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
        if !WARNED.swap(true, std::sync::atomic::Ordering::Relaxed) {
            tracing::warn!(
                pgid,
                error = %e,
                "cannot reach the process guardian: worker processes may outlive a killed controller"
            );
        }
    }
}

fn start_guardian() -> Option<Mutex<File>> {
    match fork_guardian() {
        Ok(pipe) => Some(Mutex::new(pipe)),
        Err(e) => {
            tracing::warn!(
                error = %e,
                "cannot start the process guardian: worker processes may outlive a killed controller"
            );
            None
        }
    }
}

/// Creates the pipe (close-on-exec, so no worker inherits the write end) and
/// forks the guardian; returns the write end.
#[allow(unsafe_code)]
fn fork_guardian() -> std::io::Result<File> {
    use std::os::fd::FromRawFd;
    let mut fds: [libc::c_int; 2] = [-1; 2];
    // SAFETY: `fds` is a valid array of two ints for pipe2 to fill.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let [read_end, write_end] = fds;
    // SAFETY: the child runs only `guardian_main`, which makes
    // async-signal-safe system calls on stack buffers and never returns.
    match unsafe { libc::fork() } {
        -1 => {
            let e = std::io::Error::last_os_error();
            // SAFETY: both descriptors were just created and are ours.
            unsafe {
                libc::close(read_end);
                libc::close(write_end);
            }
            Err(e)
        }
        0 => guardian_main(read_end),
        pid => {
            tracing::debug!(pid, "process guardian started");
            // SAFETY: the read end is ours and used nowhere else here; the
            // write end is a fresh descriptor owned by the returned File.
            unsafe {
                libc::close(read_end);
                Ok(File::from_raw_fd(write_end))
            }
        }
    }
}

/// The guardian: keeps the registered groups until end of file on
/// `read_end`, then SIGKILLs those left and exits. Only async-signal-safe
/// calls: the controller's other threads did not come along with the fork,
/// and any lock they held stays held here.
#[allow(unsafe_code)]
fn guardian_main(read_end: libc::c_int) -> ! {
    // SAFETY: plain system calls on our own process, descriptors and stack
    // buffers; nothing allocates or takes a lock.
    unsafe {
        libc::setpgid(0, 0);
        libc::prctl(
            libc::PR_SET_NAME,
            c"tkr-guardian".as_ptr() as libc::c_ulong,
            0,
            0,
            0,
        );
        // The controller's handlers (Ctrl-C) mean nothing here; a hang-up
        // of the terminal must not end the guardian before the controller.
        libc::signal(libc::SIGINT, libc::SIG_IGN);
        libc::signal(libc::SIGHUP, libc::SIG_IGN);
        libc::signal(libc::SIGTERM, libc::SIG_DFL);
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        let mut none: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut none);
        libc::sigprocmask(libc::SIG_SETMASK, &none, std::ptr::null_mut());
        // Keep the read end only, as fd 0: the write end must close with
        // the controller, and a worker's stdin pipe or the run's lock held
        // here would outlive it.
        if read_end != 0 {
            libc::dup2(read_end, 0);
        }
        if libc::syscall(libc::SYS_close_range, 1u32, u32::MAX, 0u32) != 0 {
            for fd in 1..65_536 {
                libc::close(fd);
            }
        }
        let mut groups = [0i32; GUARDIAN_CAPACITY];
        let mut buf = [0u8; 64 * RECORD_LEN];
        let mut have = 0usize;
        loop {
            let n = libc::read(
                0,
                buf.as_mut_ptr().add(have).cast::<libc::c_void>(),
                buf.len() - have,
            );
            if n < 0 {
                if *libc::__errno_location() == libc::EINTR {
                    continue;
                }
                break;
            }
            if n == 0 {
                break;
            }
            have += n as usize;
            let whole = have - have % RECORD_LEN;
            for record in buf[..whole].chunks_exact(RECORD_LEN) {
                let pgid = i32::from_le_bytes([record[4], record[5], record[6], record[7]]);
                apply(&mut groups, record[0], pgid);
            }
            buf.copy_within(whole..have, 0);
            have -= whole;
        }
        for pgid in groups {
            if pgid > 1 {
                libc::kill(-pgid, libc::SIGKILL);
            }
        }
        libc::_exit(0)
    }
}

/// One record applied to the guardian's table (free slots hold 0).
fn apply(groups: &mut [i32; GUARDIAN_CAPACITY], op: u8, pgid: i32) {
    match op {
        REGISTER => {
            if let Some(slot) = groups.iter_mut().find(|g| **g == 0) {
                *slot = pgid;
            }
        }
        FORGET => {
            if let Some(slot) = groups.iter_mut().find(|g| **g == pgid) {
                *slot = 0;
            }
        }
        _ => {}
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn the_table_registers_and_forgets_each_group_once() {
        let mut groups = [0i32; GUARDIAN_CAPACITY];
        apply(&mut groups, REGISTER, 42);
        apply(&mut groups, REGISTER, 43);
        apply(&mut groups, FORGET, 42);
        apply(&mut groups, FORGET, 7);
        let live: Vec<i32> = groups.iter().copied().filter(|g| *g != 0).collect();
        assert_eq!(live, vec![43]);
    }
}
