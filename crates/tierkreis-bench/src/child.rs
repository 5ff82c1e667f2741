//! Runs one child process end to end and measures what a user would pay:
//! wall time from spawn to exit (process start included) and the child's
//! peak resident set size, taken from `wait4`'s resource usage.

use std::fs::File;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::BenchError;

/// What one child run cost and printed.
#[derive(Debug)]
pub struct ChildRun {
    /// From just before spawn to the child being reaped.
    pub wall: Duration,
    /// The child's peak RSS in KiB (`ru_maxrss`; on Linux this covers the
    /// process and everything it `exec`s, not its own children).
    pub max_rss_kib: u64,
    /// User plus system CPU time of the child and the descendants it reaped
    /// (`wait4`'s resource usage): what the work cost, whatever the load.
    pub cpu: Duration,
    pub status: ExitStatus,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl ChildRun {
    /// The last non-empty line of stdout (where `--json` results are).
    pub fn last_stdout_line(&self) -> &str {
        std::str::from_utf8(&self.stdout)
            .unwrap_or("")
            .lines()
            .rev()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("")
    }

    /// The end of stderr, for error messages.
    pub fn stderr_tail(&self) -> String {
        let text = String::from_utf8_lossy(&self.stderr);
        let lines: Vec<&str> = text.lines().collect();
        let start = lines.len().saturating_sub(15);
        lines[start..].join("\n")
    }
}

/// Spawns `cmd` with stdout and stderr sent to files in `scratch`, waits
/// for it with `wait4`, and returns its cost and output.
pub fn run_measured(cmd: &mut Command, scratch: &Path) -> Result<ChildRun, BenchError> {
    run_measured_telling_pid(cmd, scratch, |_| {})
}

/// [`run_measured`], handing the child's pid to `on_spawn` as soon as it
/// runs (for whoever watches it meanwhile).
pub fn run_measured_telling_pid(
    cmd: &mut Command,
    scratch: &Path,
    on_spawn: impl FnOnce(u32),
) -> Result<ChildRun, BenchError> {
    let program = format!("{:?}", cmd.get_program());
    let out_path = scratch.join("child.stdout");
    let err_path = scratch.join("child.stderr");
    let out = create(&out_path)?;
    let err = create(&err_path)?;
    cmd.stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err));
    let start = Instant::now();
    let child = cmd.spawn().map_err(|source| BenchError::Spawn {
        program: program.clone(),
        source,
    })?;
    let pid = child.id();
    on_spawn(pid);
    let (raw_status, max_rss, cpu) = wait4(pid).map_err(|source| BenchError::Wait {
        program: program.clone(),
        pid,
        source,
    })?;
    let wall = start.elapsed();
    // `child` was reaped above; dropping a `Child` never waits or kills.
    drop(child);
    Ok(ChildRun {
        wall,
        max_rss_kib: u64::try_from(max_rss).unwrap_or(0),
        cpu,
        status: ExitStatus::from_raw(raw_status),
        stdout: read(&out_path)?,
        stderr: read(&err_path)?,
    })
}

fn create(path: &Path) -> Result<File, BenchError> {
    File::create(path).map_err(|source| BenchError::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn read(path: &Path) -> Result<Vec<u8>, BenchError> {
    std::fs::read(path).map_err(|source| BenchError::Io {
        path: PathBuf::from(path),
        source,
    })
}

/// Reaps `pid`, returning its raw wait status, `ru_maxrss` (KiB) and its
/// user plus system CPU time.
#[allow(unsafe_code)]
fn wait4(pid: u32) -> std::io::Result<(libc::c_int, libc::c_long, Duration)> {
    let pid = libc::pid_t::try_from(pid)
        .map_err(|_| std::io::Error::new(std::io::ErrorKind::InvalidInput, "pid out of range"))?;
    let mut status: libc::c_int = 0;
    // SAFETY: `rusage` is a plain C struct of integers, for which all-zero
    // bytes are a valid value.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: both pointers point at live, writable locals of the types
        // wait4 expects; `pid` is our own unreaped child.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r == pid {
            let t = |tv: libc::timeval| {
                Duration::from_secs(u64::try_from(tv.tv_sec).unwrap_or(0))
                    + Duration::from_micros(u64::try_from(tv.tv_usec).unwrap_or(0))
            };
            return Ok((
                status,
                usage.ru_maxrss,
                t(usage.ru_utime) + t(usage.ru_stime),
            ));
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_a_child_and_captures_output() {
        let dir = tempfile::tempdir().expect("tempdir");
        // The shell itself holds a 64 MiB string, so its peak RSS is clearly
        // above a shell's few MiB.
        let mut cmd = Command::new("sh");
        cmd.args([
            "-c",
            "echo noise; v=$(head -c 67108864 /dev/zero | tr '\\0' a); echo ${#v}; echo oops >&2; exit 3",
        ]);
        let run = run_measured(&mut cmd, dir.path()).expect("runs");
        assert_eq!(run.status.code(), Some(3));
        assert_eq!(run.last_stdout_line(), "67108864");
        assert!(run.stderr_tail().contains("oops"));
        assert!(run.max_rss_kib > 64 * 1024, "{} KiB", run.max_rss_kib);
        assert!(run.wall > Duration::ZERO);
    }

    #[test]
    fn spawn_failure_names_the_program() {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cmd = Command::new("/nonexistent/tkr-bench-no-such-program");
        let err = run_measured(&mut cmd, dir.path()).expect_err("no program");
        assert!(
            err.to_string().contains("tkr-bench-no-such-program"),
            "{err}"
        );
    }
}
