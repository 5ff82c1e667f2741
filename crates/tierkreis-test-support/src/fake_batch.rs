//! Fake batch systems for tests: `sbatch`/`squeue`/`scancel`,
//! `qsub`/`qstat`/`qdel` and `pjsub`/`pjstat`/`pjdel` as shell scripts that
//! print what the real commands print and run each job script in the
//! background (in its own session), keeping each job's state in a folder.
//! Shared by the controller's batch-executor tests and the CLI's worker-job
//! tests, for PBS and PJSUB (SLURM is real in CI).

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// Submits a job script: numbers it, runs it in its own session in the
/// background (held while `$D/hold` exists), and keeps its state in
/// `$D/<n>.state` (`Q`, `R`, `F` with `$D/<n>.exit`, `C` cancelled, `T`).
const SUBMIT: &str = r#"#!/bin/bash
D=__D__
script="${@: -1}"; idvar="$1"; outp="$2"; errp="$3"
echo "submit $script" >> $D/calls
if [ -e $D/refuse ]; then echo "$(cat $D/refuse)" >&2; exit 1; fi
n=$(( $(cat $D/counter 2>/dev/null || echo 100) + 1 )); echo $n > $D/counter
out=$(sed -n "s|^$outp||p" "$script"); err=$(sed -n "s|^$errp||p" "$script")
echo Q > $D/$n.state
setsid bash -c "while [ -e $D/hold ]; do sleep 0.05; done; echo R > $D/$n.state; export $idvar=$n; bash '$script' > '$out' 2> '$err'; echo \$? > $D/$n.exit; [ \"\$(cat $D/$n.state)\" = R ] && echo F > $D/$n.state" > /dev/null 2>&1 < /dev/null &
echo $! > $D/$n.pid
echo $n
"#;

/// Cancels jobs: kills their session, state `C`.
const CANCEL: &str = r#"#!/bin/bash
D=__D__
echo "cancel $*" >> $D/calls
for id in "$@"; do n=${id%%.*}; echo C > $D/$n.state; kill -KILL -- -$(cat $D/$n.pid) 2>/dev/null; done
exit 0
"#;

/// `state N` prints the fake state of job N and its exit status.
const STATE_FN: &str = r#"D=__D__
echo "query $*" >> $D/calls
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
    let d = |s: &str| s.replace("__D__", &state.display().to_string());
    script(&bin.join("fake-submit"), &d(SUBMIT))?;
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
    script(&bin.join(sub), &submit(var, out, err, print))?;
    script(&bin.join(cancel), &d(CANCEL))?;
    script(
        &bin.join(stat),
        &format!("#!/bin/bash\n{}{body}", d(STATE_FN)),
    )
}

/// How many calls of `kind` (`submit`, `query`, `cancel`) the fake logged.
pub fn calls(state: &Path, kind: &str) -> usize {
    std::fs::read_to_string(state.join("calls"))
        .unwrap_or_default()
        .lines()
        .filter(|l| l.starts_with(kind))
        .count()
}
