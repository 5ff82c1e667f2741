//! Every conformance case recorded from the reference, through the `tkr run`
//! contract: outputs equal as values, and every checkpoint path the reference
//! created exists in ours.

mod common;

use std::collections::BTreeSet;

use common::*;
use tierkreis_core::Value;

#[test]
fn every_conformance_case_matches_the_reference() {
    let cases_dir = fixtures().join("conformance");
    let mut cases: Vec<_> = std::fs::read_dir(&cases_dir)
        .expect("conformance folder")
        .flatten()
        .map(|e| e.path())
        .collect();
    cases.sort();
    assert!(
        cases.len() >= 28,
        "expected the 28 recorded cases, found {}",
        cases.len()
    );
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut failures = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let name = case
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let id = i as u128 + 1;
        let out = tkr(tmp.path())
            .args(["run", "-f"])
            .arg(case.join("graph.json"))
            .args(input_args(case))
            .args(["--run-id", &id.to_string(), "-q"])
            .output()
            .expect("run tkr");
        if !out.status.success() {
            failures.push(format!(
                "{name}: exit {:?}: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ));
            continue;
        }
        let wf = tmp.path().join(run_uuid(id));
        // Outputs: same ports, equal values.
        let expected_dir = case.join("expected");
        let mut expected_ports = BTreeSet::new();
        for e in std::fs::read_dir(&expected_dir)
            .expect("expected folder")
            .flatten()
        {
            let port = e.file_name().to_string_lossy().into_owned();
            let want = Value::from_bytes(&std::fs::read(e.path()).expect("expected value"));
            match std::fs::read(wf.join("-/outputs").join(&port)) {
                Ok(got) => {
                    let got = Value::from_bytes(&got);
                    if got != want {
                        failures.push(format!("{name}: output {port}: got {got:?}, want {want:?}"));
                    }
                }
                Err(e) => failures.push(format!("{name}: output {port} missing: {e}")),
            }
            expected_ports.insert(port);
        }
        let got_ports: BTreeSet<String> = std::fs::read_dir(wf.join("-/outputs"))
            .expect("outputs")
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        if got_ports != expected_ports {
            failures.push(format!(
                "{name}: output ports {got_ports:?}, want {expected_ports:?}"
            ));
        }
        // Checkpoint layout: every path of the reference's tree exists.
        let tree = std::fs::read_to_string(case.join("tree.txt")).expect("tree.txt");
        let missing: Vec<&str> = tree
            .lines()
            .filter(|p| !p.is_empty() && !wf.join(p).exists())
            .collect();
        if !missing.is_empty() {
            failures.push(format!(
                "{name}: {} paths missing, e.g. {:?}",
                missing.len(),
                &missing[..missing.len().min(5)]
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn every_conformance_case_runs_in_memory_with_the_same_outputs() {
    let cases_dir = fixtures().join("conformance");
    let tmp = tempfile::tempdir().expect("tempdir");
    for entry in std::fs::read_dir(&cases_dir)
        .expect("conformance folder")
        .flatten()
    {
        let case = entry.path();
        let out = tkr(tmp.path())
            .args(["run", "--storage", "memory", "-f"])
            .arg(case.join("graph.json"))
            .args(input_args(&case))
            .args(["-o", "--json", "-q"])
            .output()
            .expect("run tkr");
        expect_code(&out, 0);
        let got = outputs_of_report(
            tierkreis_core::json::parse(&out.stdout).expect("--json prints JSON"),
        );
        let Value::Map(got) = got else {
            panic!("--json prints an object")
        };
        for e in std::fs::read_dir(case.join("expected"))
            .expect("expected")
            .flatten()
        {
            let port = e.file_name().to_string_lossy().into_owned();
            let want = Value::from_bytes(&std::fs::read(e.path()).expect("value"));
            assert_eq!(
                got.get(&port),
                Some(&want),
                "{}: port {port}",
                case.display()
            );
        }
    }
    // Nothing was written to the checkpoint folder.
    assert_eq!(std::fs::read_dir(tmp.path()).expect("dir").count(), 0);
}
