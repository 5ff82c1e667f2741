//! A memory cgroup around one measured run: the kernel caps the physical
//! memory of every process the run starts (so a controller that starts every
//! task at once is stopped inside its group, not by exhausting the machine),
//! and reports their peak with shared pages counted once, which a sum of
//! per-process RSS cannot.
//!
//! Works with cgroup v2 (`memory.max`, `memory.peak`, `memory.events`) and
//! with the v1 memory controller (`memory.limit_in_bytes`,
//! `memory.max_usage_in_bytes`, `memory.oom_control`); needs the right to
//! create a group (root, or a delegated subtree).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::BenchError;

/// A fresh memory cgroup, removed when dropped (once its processes are gone).
#[derive(Debug)]
pub struct MemoryCgroup {
    dir: PathBuf,
    version: CgroupVersion,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CgroupVersion {
    V1,
    V2,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> BenchError + '_ {
    move |source| BenchError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl MemoryCgroup {
    /// Creates a group named `name` whose processes may use at most
    /// `limit_bytes` of memory.
    pub fn create(name: &str, limit_bytes: u64) -> Result<Self, BenchError> {
        let v2_root = Path::new("/sys/fs/cgroup");
        let v1_root = Path::new("/sys/fs/cgroup/memory");
        let controllers = std::fs::read_to_string(v2_root.join("cgroup.controllers"));
        let (dir, version, limit_file) =
            if controllers.is_ok_and(|c| c.split_whitespace().any(|x| x == "memory")) {
                (v2_root.join(name), CgroupVersion::V2, "memory.max")
            } else {
                (
                    v1_root.join(name),
                    CgroupVersion::V1,
                    "memory.limit_in_bytes",
                )
            };
        std::fs::create_dir(&dir).map_err(io(&dir))?;
        let group = Self { dir, version };
        let limit = group.dir.join(limit_file);
        std::fs::write(&limit, limit_bytes.to_string()).map_err(io(&limit))?;
        Ok(group)
    }

    /// A command that runs `program` inside the group: a shell writes its
    /// own pid into the group, then execs `program` (add its arguments to
    /// the returned command), so every process the program starts is in the
    /// group from the start.
    pub fn command_inside(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(r#"echo $$ > "$1" || exit 125; shift; exec "$@""#)
            .arg("sh")
            .arg(self.dir.join("cgroup.procs"))
            .arg(program);
        cmd
    }

    /// The peak memory of the group's processes, bytes.
    pub fn peak_bytes(&self) -> Option<u64> {
        let file = match self.version {
            CgroupVersion::V2 => "memory.peak",
            CgroupVersion::V1 => "memory.max_usage_in_bytes",
        };
        std::fs::read_to_string(self.dir.join(file))
            .ok()?
            .trim()
            .parse()
            .ok()
    }

    /// How many of the group's processes the kernel killed for memory.
    pub fn oom_kills(&self) -> Option<u64> {
        let file = match self.version {
            CgroupVersion::V2 => "memory.events",
            CgroupVersion::V1 => "memory.oom_control",
        };
        let text = std::fs::read_to_string(self.dir.join(file)).ok()?;
        text.lines()
            .find_map(|line| line.strip_prefix("oom_kill "))
            .and_then(|n| n.trim().parse().ok())
    }
}

impl Drop for MemoryCgroup {
    fn drop(&mut self) {
        // The last processes may still be exiting: try for a moment.
        for _ in 0..50 {
            if std::fs::remove_dir(&self.dir).is_ok() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }
}
