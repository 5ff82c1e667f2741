//! Fake batch systems for tests: `sbatch`/`squeue`/`scancel`,
//! `qsub`/`qstat`/`qdel` and `pjsub`/`pjstat`/`pjdel` as shell scripts that
//! print what the real commands print and run each job script in the
//! background (in its own session), keeping each job's state in a folder.
//! Shared by the controller's batch-executor tests and the CLI's worker-job
//! tests, for PBS and PJSUB (SLURM is real in CI).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Writes `$2` into the file `$1` by a rename, so that a query reading it
/// concurrently sees the old or the new content, never an empty file (a
/// plain `echo X > f` truncates first: a reader in between reads "").
const PUT_FN: &str = r#"put() { echo "$2" > "$1.tmp.$$" && mv -f "$1.tmp.$$" "$1"; }
"#;

/// Submits a job script: numbers it, runs it with `fake-job` in its own
/// session in the background, and prints its number once the job has
/// recorded its session (`$D/<n>.pid`), so that cancelling it right away
/// kills it.
const SUBMIT: &str = r#"
script="${@: -1}"; idvar="$1"; outp="$2"; errp="$3"
echo "submit $script" >> $D/calls
if [ -e $D/refuse ]; then echo "$(cat $D/refuse)" >&2; exit 1; fi
n=$(( $(cat $D/counter 2>/dev/null || echo 100) + 1 )); put $D/counter $n
out=$(sed -n "s|^$outp||p" "$script"); err=$(sed -n "s|^$errp||p" "$script")
put $D/$n.state Q
setsid __BIN__/fake-job $n "$idvar" "$script" "$out" "$err" > /dev/null 2>&1 < /dev/null &
for _ in $(seq 3000); do [ -e $D/$n.pid ] && { echo $n; exit 0; }; sleep 0.01; done
echo "fake job $n did not start" >&2; exit 1
"#;

/// A job (`fake-job N IDVAR SCRIPT OUT ERR`), the leader of its own session:
/// records its session id in `$D/<n>.pid`, waits while `$D/hold` exists,
/// then runs the script; its state goes `Q`, `R`, `F` with `$D/<n>.exit`
/// (`C` cancelled, `T` timed out, set by others, are kept).
const JOB: &str = r#"
n=$1; idvar=$2; script=$3; out=$4; err=$5
put $D/$n.pid $$
while [ -e $D/hold ]; do sleep 0.05; done
put $D/$n.state R
export $idvar=$n
bash "$script" > "$out" 2> "$err"
put $D/$n.exit $?
[ "$(cat $D/$n.state)" = R ] && put $D/$n.state F
exit 0
"#;

/// Cancels jobs: kills their session, state `C`.
const CANCEL: &str = r#"
echo "cancel $*" >> $D/calls
for id in "$@"; do n=${id%%.*}; put $D/$n.state C; kill -KILL -- -$(cat $D/$n.pid) 2>/dev/null; done
exit 0
"#;

/// SLURM's accounting: the fake's `squeue` keeps ended jobs, so there is
/// nothing to add (and the host's `sacct`, later on `PATH`, must not answer
/// for the fake's job ids).
const SACCT: &str = r#"
exit 0
"#;

/// `state N` prints the fake state of job N and its exit status.
const STATE_FN: &str = r#"echo "query $*" >> $D/calls
state() { local n=${1%%.*}; [ -e $D/$n.state ] || return 1; s=$(cat $D/$n.state); e=$(cat $D/$n.exit 2>/dev/null || echo 0); }
"#;

const SQUEUE: &str = r#"
ids=""; while [ $# -gt 0 ]; do [ "$1" = -j ] && ids="$2"; shift; done
any=0
for id in ${ids//,/ }; do
  state $id || continue; any=1
  case $s in Q) t=PENDING;; R) t=RUNNING;; C) t=CANCELLED;; T) t=TIMEOUT;; F) [ $e = 0 ] && t=COMPLETED || t=FAILED;; esac
  echo "$id $t"
done
[ $any = 1 ] || { echo "slurm_load_jobs error: Invalid job id specified" >&2; exit 1; }
"#;

const QSTAT: &str = r#"
for id in "$@"; do
  case $id in -*) continue;; esac
  state $id || { echo "qstat: Unknown Job Id $id" >&2; continue; }
  echo "Job Id: $id"; echo "    Job_Name = tkr"
  case $s in Q) echo "    job_state = Q";; R) echo "    job_state = R";;
    C) echo "    job_state = F"; echo "    Exit_status = 271";;
    T) echo "    job_state = F"; echo "    Exit_status = -29";;
    F) echo "    job_state = F"; echo "    Exit_status = $e";; esac
  echo
done
"#;

const PJSTAT: &str = r#"
hist=0; [ "$1" = -H ] && hist=1
if [ $hist = 1 ]; then echo "  JOB_ID     JOB_NAME   MD ST  USER     START_DATE      ELAPSE_TIM ELAPSE_LIM NODE_REQUIRE    EC  PC  SN"
else echo "  JOB_ID     JOB_NAME   MD ST  USER     START_DATE      ELAPSE_LIM NODE_REQUIRE    VNODE  CORE V_MEM"; fi
for id in "$@"; do
  case $id in -*) continue;; esac
  state $id || continue
  case $s in Q) st=QUE;; R) st=RUN;; C) st=CCL;; T) st=EXT; e=137;; F) st=EXT;; esac
  if [ $hist = 1 ]; then
    case $st in QUE|RUN) ;; *) printf "  %-10s %-10s NM %-3s u01      01/23 10:00:00  0000:00:05 0001:00:00 1               %-3s 0   0\n" $id tkr $st $e;; esac
  else
    case $st in QUE|RUN) printf "  %-10s %-10s NM %-3s u01      01/23 10:00:00  0001:00:00 1               -      -    -\n" $id tkr $st;; esac
  fi
done
"#;

fn script(path: &Path, text: &str) -> std::io::Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(path, text)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755))
}

/// Writes the fake commands of `system` (`"slurm"`, `"pbs"` or `"pjsub"`)
/// into `bin`, keeping job states in `state` (which must exist): `calls`
/// logs every `submit`, `query` and `cancel`; `<n>.state` holds `Q`, `R`,
/// `F` (with `<n>.exit`), `C` (cancelled) or `T` (timed out); while
/// `state/hold` exists, submitted jobs wait in `Q`.
pub fn install(system: &str, bin: &Path, state: &Path) -> std::io::Result<()> {
    // Each command: bash, `D` the state folder, `put` for atomic writes.
    let fake = |name: &str, body: &str| {
        let body = body.replace("__BIN__", &bin.display().to_string());
        let text = format!("#!/bin/bash\nD={}\n{PUT_FN}{body}", state.display());
        script(&bin.join(name), &text)
    };
    fake("fake-submit", SUBMIT)?;
    fake("fake-job", JOB)?;
    let submit = |var: &str, out: &str, err: &str, print: &str| {
        format!(
            "#!/bin/bash\nid=$({} {var} '{out}' '{err}' \"$@\") || exit 1\n{print}\n",
            bin.join("fake-submit").display()
        )
    };
    let (sub, stat, cancel, print, out, err, var, body) = match system {
        "slurm" => (
            "sbatch",
            "squeue",
            "scancel",
            "echo $id",
            "#SBATCH --output=",
            "#SBATCH --error=",
            "SLURM_JOB_ID",
            SQUEUE,
        ),
        "pbs" => (
            "qsub",
            "qstat",
            "qdel",
            "echo $id.fakepbs",
            "#PBS -o ",
            "#PBS -e ",
            "PBS_JOBID",
            QSTAT,
        ),
        _ => (
            "pjsub",
            "pjstat",
            "pjdel",
            "echo \"[INFO] PJM 0000 pjsub Job $id submitted.\"",
            "#PJM -o ",
            "#PJM -e ",
            "PJM_JOBID",
            PJSTAT,
        ),
    };
    if system == "slurm" {
        fake("sacct", SACCT)?;
    }
    script(&bin.join(sub), &submit(var, out, err, print))?;
    fake(cancel, CANCEL)?;
    fake(stat, &format!("{STATE_FN}{body}"))
}

/// Sets the fake state of job `id` (`R`, `T`...) as the fake's commands do:
/// by a rename, so that a concurrent query never reads an empty state.
pub fn set_state(state: &Path, id: &str, value: &str) -> std::io::Result<()> {
    let n = id.split('.').next().unwrap_or(id);
    let tmp = state.join(format!("{n}.state.tmp.test"));
    std::fs::write(&tmp, format!("{value}\n"))?;
    std::fs::rename(&tmp, state.join(format!("{n}.state")))
}

/// How many calls of `kind` (`submit`, `query`, `cancel`) the fake logged.
pub fn calls(state: &Path, kind: &str) -> usize {
    std::fs::read_to_string(state.join("calls"))
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with(kind))
        .count()
}
