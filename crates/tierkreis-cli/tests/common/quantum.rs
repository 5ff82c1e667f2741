//! The reference's quantum graphs for the CLI's tests (quantum.rs runs `tkr`
//! inside the reference root, worker_jobs.rs on this host through SLURM):
//! the builder script, its case folders, and the GHZ results checked as
//! pytket decodes them.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;

use tierkreis_core::Value;

use super::reference::run_sh;

/// The Python builder of the reference's quantum graphs (shared with the
/// bench).
pub const QUANTUM_GRAPHS_PY: &str =
    include_str!("../../../tierkreis-bench/python/quantum_graphs.py");

/// Writes [`QUANTUM_GRAPHS_PY`] into `dir` (under `/tmp`, where the
/// reference sees it) as `quantum_graphs.py`.
pub fn write_quantum_graphs_py(dir: &Path) {
    std::fs::write(dir.join("quantum_graphs.py"), QUANTUM_GRAPHS_PY)
        .expect("write quantum_graphs.py");
}

/// `dir/quantum_graphs.py ARGS` with the reference's Python, in `dir`;
/// panics unless it succeeds, returning its stdout.
pub fn quantum_graphs<S: AsRef<OsStr> + std::fmt::Debug>(dir: &Path, args: &[S]) -> Vec<u8> {
    let out = Command::new("bash")
        .arg(run_sh())
        .args(["--", "python3"])
        .arg(dir.join("quantum_graphs.py"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run quantum_graphs.py");
    assert!(
        out.status.success(),
        "quantum_graphs.py {args:?}: {}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// A case folder written by `quantum_graphs.py`: `graph.json` and `inputs/`.
pub struct Case {
    pub dir: PathBuf,
}

impl Case {
    /// `quantum_graphs.py KIND DIR/NAME REST...` for `args = [KIND, REST...]`,
    /// with the builder in `dir` ([`write_quantum_graphs_py`]).
    pub fn build(dir: &Path, name: &str, args: &[&str]) -> Case {
        let case = dir.join(name);
        let case_arg = case.display().to_string();
        let mut all = vec![args[0], case_arg.as_str()];
        all.extend_from_slice(&args[1..]);
        quantum_graphs(dir, &all);
        Case { dir: case }
    }

    pub fn graph(&self) -> PathBuf {
        self.dir.join("graph.json")
    }

    /// `PORT:FILE` for every input, sorted by port.
    pub fn inputs(&self) -> Vec<String> {
        let mut ports: Vec<PathBuf> = std::fs::read_dir(self.dir.join("inputs"))
            .expect("inputs folder")
            .flatten()
            .map(|e| e.path())
            .collect();
        ports.sort();
        ports
            .into_iter()
            .map(|p| {
                let port = p.file_name().expect("name").to_string_lossy().into_owned();
                format!("{port}:{}", p.display())
            })
            .collect()
    }

    /// `-i PORT:FILE` for every input, sorted by port.
    pub fn input_args(&self) -> Vec<String> {
        self.inputs()
            .into_iter()
            .flat_map(|input| ["-i".to_string(), input])
            .collect()
    }
}

/// GHZ circuits of `sizes` qubits, each simulated `shots[i]` times.
pub struct GhzCircuits<'a> {
    pub sizes: &'a [usize],
    pub shots: &'a [u64],
}

impl GhzCircuits<'_> {
    /// `tierkreis.graphs.simulate.compile_simulate` of these circuits on
    /// `simulator`, as the case `dir/ghz`.
    pub fn case(&self, dir: &Path, simulator: &str) -> Case {
        let sizes: Vec<String> = self.sizes.iter().map(ToString::to_string).collect();
        let shots: Vec<String> = self.shots.iter().map(ToString::to_string).collect();
        Case::build(
            dir,
            "ghz",
            &["ghz", simulator, &sizes.join(","), &shots.join(",")],
        )
    }

    /// Decodes the run's output `value_file` with pytket (the builder in
    /// `dir`) and checks each result: the circuit's width, exactly the shots
    /// asked for, and only all-zeros or all-ones outcomes (a GHZ state).
    /// `what` names the run in failures. Returns the decoded results.
    pub fn check_results(&self, dir: &Path, value_file: &Path, what: &str) -> Vec<Value> {
        let summary = quantum_graphs(dir, &[OsStr::new("counts"), value_file.as_os_str()]);
        let summary = tierkreis_core::json::parse(&summary).expect("counts JSON");
        let results = summary.as_list().expect("a list of results").to_vec();
        assert_eq!(
            results.len(),
            self.sizes.len(),
            "{what}: one result per circuit"
        );
        for (i, result) in results.iter().enumerate() {
            let result = result.as_map().expect("result object");
            let width = result.get("n_qubits").and_then(int);
            assert_eq!(
                width,
                Some(self.sizes[i] as i64),
                "{what}: circuit {i}: width"
            );
            let counts = result
                .get("counts")
                .and_then(Value::as_map)
                .expect("counts");
            let (zeros, ones) = ("0".repeat(self.sizes[i]), "1".repeat(self.sizes[i]));
            let mut total: u64 = 0;
            for (outcome, n) in counts {
                assert!(
                    *outcome == zeros || *outcome == ones,
                    "{what}: circuit {i}: outcome {outcome} of a GHZ state"
                );
                total += int(n).and_then(|n| u64::try_from(n).ok()).expect("count");
            }
            assert_eq!(total, self.shots[i], "{what}: circuit {i}: number of shots");
        }
        results
    }
}

/// The value as an `i64`, if it is an integer that fits.
pub fn int(v: &Value) -> Option<i64> {
    v.as_int().and_then(|i| i64::try_from(i).ok())
}
