//! The durable-storage floor: the least time any controller can take to
//! checkpoint a map of `n` elements in the reference's file layout, measured
//! by creating exactly those files, folders and hard links with plain system
//! calls and nothing else (no scheduling, no reading back, no workers).
//!
//! The per-element entries are those the reference writes for
//! [`crate::graphs::map_square_sum`] (see `tests/data/reference_map20_tree.txt`,
//! recorded from the reference controller): 9 folders, 13 files and 5 hard
//! links per element, including the unfold's `-.N4/outputs/<i>`, the map's
//! `-.N5/outputs/value-<i>` and the executor record `debug/executors/...`.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::BenchError;

/// The workflow folder name the reference uses for `--run-id 1`.
pub const WORKFLOW_ID: &str = "00000000-0000-0000-0000-000000000001";

/// How many entries of each kind one map element creates.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EntryCounts {
    pub dirs: u64,
    pub files: u64,
    pub links: u64,
}

impl EntryCounts {
    pub fn total(&self) -> u64 {
        self.dirs + self.files + self.links
    }
}

/// The result of one floor run.
#[derive(Debug, Clone)]
pub struct FloorReport {
    pub n: u64,
    /// Time to create all per-element entries (set-up excluded).
    pub elapsed: Duration,
    /// Entries created for each element.
    pub per_element: EntryCounts,
}

impl FloorReport {
    pub fn us_per_element(&self) -> f64 {
        per_unit_us(self.elapsed, self.n)
    }
}

/// Microseconds per unit of `count`.
pub fn per_unit_us(d: Duration, count: u64) -> f64 {
    if count == 0 {
        return 0.0;
    }
    d.as_secs_f64() * 1e6 / count as f64
}

/// Creates entries, counting them, with errors naming the path.
#[derive(Debug, Default)]
struct Writer {
    counts: EntryCounts,
}

impl Writer {
    fn dir(&mut self, p: &Path) -> Result<(), BenchError> {
        fs::create_dir(p).map_err(|source| io_err(p, source))?;
        self.counts.dirs += 1;
        Ok(())
    }

    fn file(&mut self, p: &Path, content: &[u8]) -> Result<(), BenchError> {
        let mut f = File::create(p).map_err(|source| io_err(p, source))?;
        if !content.is_empty() {
            f.write_all(content).map_err(|source| io_err(p, source))?;
        }
        self.counts.files += 1;
        Ok(())
    }

    fn link(&mut self, src: &Path, dst: &Path) -> Result<(), BenchError> {
        fs::hard_link(src, dst).map_err(|source| io_err(dst, source))?;
        self.counts.links += 1;
        Ok(())
    }
}

fn io_err(p: &Path, source: std::io::Error) -> BenchError {
    BenchError::Io {
        path: p.to_path_buf(),
        source,
    }
}

/// Creates, under `root/<WORKFLOW_ID>`, the map element entries for
/// elements `0..n` and times that; the folders and files the elements hang
/// off (`-.N3/outputs/value`, `-.N4/outputs`, `-.N5/outputs`,
/// `debug/executors`) are made first and not timed. `root` must be empty or
/// not exist.
pub fn durable_floor(root: &Path, n: u64) -> Result<FloorReport, BenchError> {
    let wf = root.join(WORKFLOW_ID);
    let mut setup = Writer::default();
    for d in [
        "-.N3/outputs",
        "-.N4/outputs",
        "-.N5/outputs",
        "debug/executors",
    ] {
        let p = wf.join(d);
        fs::create_dir_all(&p).map_err(|source| io_err(&p, source))?;
    }
    let body_graph = crate::graphs::square_body().to_json();
    setup.file(&wf.join("-.N3/outputs/value"), &body_graph)?;

    let mut w = Writer::default();
    let start = Instant::now();
    for i in 0..n {
        write_element(&mut w, &wf, i)?;
    }
    let elapsed = start.elapsed();
    let per = |count: u64| count.checked_div(n).unwrap_or(0);
    let per_element = EntryCounts {
        dirs: per(w.counts.dirs),
        files: per(w.counts.files),
        links: per(w.counts.links),
    };
    Ok(FloorReport {
        n,
        elapsed,
        per_element,
    })
}

/// The entries of map element `i`, in the order the reference makes them.
fn write_element(w: &mut Writer, wf: &Path, i: u64) -> Result<(), BenchError> {
    let id = WORKFLOW_ID;
    let m = format!("-.N5.M{i}");
    let p = |rel: &str| -> PathBuf { wf.join(rel) };
    let unfolded = p(&format!("-.N4/outputs/{i}"));
    w.file(&unfolded, i.to_string().as_bytes())?;

    w.dir(&p(&m))?;
    w.file(
        &p(&format!("{m}/nodedef")),
        br#"{"outputs":{"value-*":[6]},"graph":[-1,"body"],"inputs":{"value":[4,"*"]},"type":"eval"}"#,
    )?;
    w.dir(&p(&format!("{m}.N-1")))?;
    w.dir(&p(&format!("{m}.N-1/outputs")))?;
    w.link(
        &p("-.N3/outputs/value"),
        &p(&format!("{m}.N-1/outputs/body")),
    )?;
    let input = p(&format!("{m}.N-1/outputs/value"));
    w.link(&unfolded, &input)?;

    w.dir(&p(&format!("{m}.N0")))?;
    w.file(
        &p(&format!("{m}.N0/nodedef")),
        br#"{"outputs":{"value":[1,1]},"name":"value","inputs":{},"type":"input"}"#,
    )?;
    w.dir(&p(&format!("{m}.N0/outputs")))?;
    w.link(&input, &p(&format!("{m}.N0/outputs/value")))?;
    w.file(&p(&format!("{m}.N0/_done")), b"")?;
    w.file(&p(&format!("{m}/_metadata")), b"")?;

    let task = format!("{m}.N1");
    w.dir(&p(&task))?;
    w.file(
        &p(&format!("{task}/nodedef")),
        br#"{"outputs":{"value":[2]},"function_name":"builtins.itimes","inputs":{"a":[0,"value"],"b":[0,"value"]},"type":"function"}"#,
    )?;
    let call_args = format!(
        r#"{{"function_name":"itimes","inputs":{{"a":"{id}/{m}.N0/outputs/value","b":"{id}/{m}.N0/outputs/value"}},"outputs":{{"value":"{id}/{task}/outputs/value"}},"output_dir":"{id}/{task}/outputs","done_path":"{id}/{task}/_done","error_path":"{id}/{task}/logs","logs_path":"{id}/logs"}}"#
    );
    w.file(&p(&format!("{task}/definition")), call_args.as_bytes())?;
    let exec = format!(
        r#"{{"executor":"builtin","launch_command":"main.py {id}/{task}/definition","job_id":null,"env":{{}},"packages":[]}}"#
    );
    w.file(&p(&format!("debug/executors/{task}")), exec.as_bytes())?;
    w.dir(&p(&format!("{task}/outputs")))?;
    let result = p(&format!("{task}/outputs/value"));
    w.file(
        &result,
        (u128::from(i) * u128::from(i)).to_string().as_bytes(),
    )?;
    w.file(&p(&format!("{task}/_done")), b"")?;

    w.dir(&p(&format!("{m}.N2")))?;
    w.file(
        &p(&format!("{m}.N2/nodedef")),
        br#"{"outputs":{},"inputs":{"value":[1,"value"]},"type":"output"}"#,
    )?;
    w.dir(&p(&format!("{m}/outputs")))?;
    let element_out = p(&format!("{m}/outputs/value"));
    w.link(&result, &element_out)?;
    w.file(&p(&format!("{m}.N2/_done")), b"")?;
    w.file(&p(&format!("{m}/_done")), b"")?;
    w.link(&element_out, &p(&format!("-.N5/outputs/value-{i}")))?;
    Ok(())
}

/// Microseconds per small-file creation (`File::create` + a 2-byte
/// `write_all`) for `count` files in one folder `dir` (created).
pub fn small_file_create(dir: &Path, count: u64) -> Result<Duration, BenchError> {
    fs::create_dir_all(dir).map_err(|source| io_err(dir, source))?;
    let mut w = Writer::default();
    let start = Instant::now();
    for i in 0..count {
        w.file(&dir.join(format!("f{i}")), b"42")?;
    }
    Ok(start.elapsed())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn tree(root: &Path) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut stack = vec![root.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in fs::read_dir(&d).expect("readable") {
                let p = e.expect("entry").path();
                let rel = p.strip_prefix(root).expect("under root");
                out.insert(rel.to_string_lossy().into_owned());
                if p.is_dir() {
                    stack.push(p);
                }
            }
        }
        out
    }

    /// The reference's own per-element entries for n = 20: everything in a
    /// map element's folders, plus the unfold's, map's and executor records.
    fn reference_element_entries() -> BTreeSet<String> {
        let path = format!(
            "{}/tests/data/reference_map20_tree.txt",
            env!("CARGO_MANIFEST_DIR")
        );
        let text = fs::read_to_string(path).expect("recorded tree present");
        text.lines()
            .filter(|l| {
                l.starts_with("-.N5.M")
                    || l.starts_with("debug/executors/-.N5.M")
                    || l.starts_with("-.N5/outputs/value-")
                    || (l.starts_with("-.N4/outputs/") && l != &"-.N4/outputs")
            })
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn floor_creates_exactly_the_reference_element_entries() {
        let dir = tempfile::tempdir().expect("tempdir");
        let report = durable_floor(dir.path(), 20).expect("floor runs");
        let expected = reference_element_entries();
        assert_eq!(expected.len(), 20 * 27);
        let made = tree(&dir.path().join(WORKFLOW_ID));
        let setup: BTreeSet<String> = [
            "-.N3",
            "-.N3/outputs",
            "-.N3/outputs/value",
            "-.N4",
            "-.N4/outputs",
            "-.N5",
            "-.N5/outputs",
            "debug",
            "debug/executors",
        ]
        .into_iter()
        .map(str::to_owned)
        .collect();
        let elements: BTreeSet<String> = made.difference(&setup).cloned().collect();
        assert_eq!(elements, expected);
        assert_eq!(
            report.per_element,
            EntryCounts {
                dirs: 9,
                files: 13,
                links: 5
            }
        );
        assert_eq!(report.per_element.total(), 27);
        let v = fs::read_to_string(dir.path().join(WORKFLOW_ID).join("-.N5/outputs/value-19"))
            .expect("map output");
        assert_eq!(v, "361");
    }

    #[test]
    fn floor_refuses_a_used_folder() {
        let dir = tempfile::tempdir().expect("tempdir");
        durable_floor(dir.path(), 2).expect("first run");
        let err = durable_floor(dir.path(), 2).expect_err("entries exist");
        assert!(err.to_string().contains(WORKFLOW_ID), "{err}");
    }

    #[test]
    fn small_files_are_created() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sub = dir.path().join("files");
        small_file_create(&sub, 50).expect("creates");
        assert_eq!(fs::read_dir(&sub).expect("dir").count(), 50);
        assert_eq!(fs::read(sub.join("f49")).expect("file"), b"42");
    }
}
