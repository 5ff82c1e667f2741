//! One call of a worker binary set up by hand the way a controller sets it
//! up (call arguments in `<node>/definition`, paths relative to `TKR_DIR`),
//! for the tests of the worker SDK's example binaries.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A temporary `TKR_DIR` holding one node's call of `function`: input port
/// `p` is read from `<node>/in_p`, output port `p` written to
/// `<node>/outputs/p`, the error text to `<node>/<error_file>`.
#[derive(Debug)]
pub struct WorkerCall {
    tkr_dir: tempfile::TempDir,
    bin: PathBuf,
    node: String,
}

impl WorkerCall {
    /// The call of `function` by the worker binary `bin` at the node folder
    /// `node` (relative to `TKR_DIR`).
    pub fn new(
        bin: &str,
        node: &str,
        function: &str,
        inputs: &[&str],
        outputs: &[&str],
        error_file: &str,
    ) -> WorkerCall {
        let tkr_dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(tkr_dir.path().join(node).join("outputs")).expect("mkdir");
        let ports = |names: &[&str], prefix: &str| {
            names
                .iter()
                .map(|p| format!(r#""{p}":"{node}/{prefix}{p}""#))
                .collect::<Vec<_>>()
                .join(",")
        };
        let definition = format!(
            r#"{{"function_name":"{function}","inputs":{{{}}},"outputs":{{{}}},"output_dir":"{node}/outputs","done_path":"{node}/_done","error_path":"{node}/{error_file}","logs_path":null}}"#,
            ports(inputs, "in_"),
            ports(outputs, "outputs/"),
        );
        std::fs::write(tkr_dir.path().join(node).join("definition"), definition)
            .expect("write definition");
        WorkerCall {
            tkr_dir,
            bin: PathBuf::from(bin),
            node: node.to_string(),
        }
    }

    /// The `TKR_DIR` of the call.
    pub fn tkr_dir(&self) -> &Path {
        self.tkr_dir.path()
    }

    /// `rel` inside the node folder.
    pub fn path(&self, rel: &str) -> PathBuf {
        self.tkr_dir.path().join(&self.node).join(rel)
    }

    /// Writes input port `port`'s value.
    pub fn input(&self, port: &str, bytes: &[u8]) -> &WorkerCall {
        std::fs::write(self.path(&format!("in_{port}")), bytes).expect("write input");
        self
    }

    /// Runs the binary with `<node>/definition` and `TKR_DIR`, as a
    /// controller starts it.
    pub fn run(&self) -> Output {
        Command::new(&self.bin)
            .arg(format!("{}/definition", self.node))
            .env("TKR_DIR", self.tkr_dir.path())
            .output()
            .expect("run worker")
    }

    /// Output port `port`'s value as text.
    pub fn output_text(&self, port: &str) -> String {
        std::fs::read_to_string(self.path(&format!("outputs/{port}"))).expect("output")
    }
}
