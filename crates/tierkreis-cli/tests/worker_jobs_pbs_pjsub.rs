//! Worker jobs on PBS and PJSUB, through the fake `qsub`/`qstat`/`qdel` and
//! `pjsub`/`pjstat`/`pjdel` of `tierkreis_test_support::fake_batch` (which
//! run each job script in the background on this machine): a warm Rust SDK
//! worker routed to either system serves a map of tasks in at most
//! `max_worker_jobs` jobs, each task's record names its job, and the jobs
//! end with the run. (SLURM is tested for real in `worker_jobs.rs`.)

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::{bin_dir, hello_worker, run_uuid, tkr};
use tierkreis_core::Value;
use tierkreis_test_support::graphs::TaskMap;

/// A map of `hello_world_worker.greet("hello ", s)` over `subjects`.
fn greet_map_graph(subjects: &[String]) -> String {
    let elements: Vec<String> = subjects.iter().map(|s| format!("{s:?}")).collect();
    TaskMap {
        function: "hello_world_worker.greet",
        element_port: "subject",
        elements: &elements,
        constants: &[("greeting", r#""hello ""#)],
    }
    .graph()
}

/// The fake system's jobs that still run (state `Q` or `R`).
fn running_jobs(state: &Path) -> Vec<String> {
    std::fs::read_dir(state)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let n = name.strip_suffix(".state")?.to_string();
            let s = std::fs::read_to_string(e.path()).ok()?;
            matches!(s.trim(), "Q" | "R").then_some(n)
        })
        .collect()
}

fn worker_jobs_serve_a_map_on(system: &str) {
    hello_worker();
    let t = tempfile::tempdir().expect("tempdir");
    let (bin, state) = (t.path().join("bin"), t.path().join("state"));
    std::fs::create_dir_all(&state).expect("mkdir");
    tierkreis_test_support::fake_batch::install(system, &bin, &state).expect("fake batch system");
    let config = t.path().join("tkr.toml");
    std::fs::write(
        &config,
        format!(
            "[hpc]\npoll_secs = 0.2\n\n[workers.hello_world_worker]\nexecutor = \"{system}\"\nmax_worker_jobs = 2\n[workers.hello_world_worker.job]\ncores_per_node = 2\n"
        ),
    )
    .expect("write tkr.toml");
    let subjects: Vec<String> = (0..12).map(|i| format!("s{i}")).collect();
    let graph = t.path().join("graph.json");
    std::fs::write(&graph, greet_map_graph(&subjects)).expect("write graph");
    let ck = t.path().join("ck");
    let path = format!(
        "{}:{}:{}",
        bin.display(),
        bin_dir().display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let out = tkr(&ck)
        .args(["run", "-q", "-o", "--json", "--run-id", "1", "--config"])
        .arg(&config)
        .arg("-f")
        .arg(&graph)
        .env("PATH", path)
        .current_dir(t.path())
        .output()
        .expect("run tkr");
    assert!(
        out.status.success(),
        "{system}: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let report = tierkreis_core::json::parse(&out.stdout).expect("--json object");
    let value = report
        .as_map()
        .and_then(|m| m.get("outputs"))
        .and_then(Value::as_map)
        .and_then(|m| m.get("value"))
        .and_then(Value::as_list)
        .unwrap_or_else(|| panic!("{system}: no outputs in {report:?}"));
    let got: Vec<&str> = value.iter().filter_map(Value::as_str).collect();
    let want: Vec<String> = subjects.iter().map(|s| format!("hello {s}")).collect();
    assert_eq!(got, want, "{system}");
    let submits = tierkreis_test_support::fake_batch::calls(&state, "submit");
    assert!(
        (1..=2).contains(&submits),
        "{system}: {submits} jobs for 12 tasks, max_worker_jobs = 2"
    );
    // Every task names its worker job.
    let wf = ck.join(run_uuid(1));
    let mut served = 0;
    for e in std::fs::read_dir(wf.join("debug/executors"))
        .expect("executor records")
        .flatten()
    {
        let v = tierkreis_core::json::parse(&std::fs::read(e.path()).expect("read"))
            .expect("executor record");
        let m = v.as_map().expect("object");
        let executor = m
            .get("executor")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if executor == "builtin" {
            continue;
        }
        assert_eq!(
            executor,
            format!("tierkreis-rs:{system}-worker-job:binary-warm"),
            "{system}: {}",
            e.file_name().to_string_lossy()
        );
        assert!(
            m.get("job_id").and_then(Value::as_str).is_some(),
            "{system}: job id"
        );
        served += 1;
    }
    assert_eq!(
        served,
        subjects.len(),
        "{system}: every task in a worker job"
    );
    // `tkr show` names each task's job and lists the run's worker jobs.
    let show = tkr(&ck)
        .args(["show", "--run-id", "1", "--all"])
        .output()
        .expect("tkr show");
    let text = String::from_utf8_lossy(&show.stdout);
    assert_eq!(
        text.matches(&format!("[{system} worker job ")).count(),
        subjects.len(),
        "{system}: each task names its job:\n{text}"
    );
    let listed = text.split_once("worker jobs:\n").map(|(_, jobs)| {
        jobs.lines()
            .filter(|l| l.contains(&format!(" {system} job ")))
            .count()
    });
    assert_eq!(
        listed,
        Some(submits),
        "{system}: the run's worker jobs:\n{text}"
    );
    let json = tkr(&ck)
        .args(["show", "--run-id", "1", "--json"])
        .output()
        .expect("tkr show --json");
    let v = tierkreis_core::json::parse(&json.stdout).expect("show --json");
    let jobs = v
        .as_map()
        .and_then(|m| m.get("worker_jobs"))
        .and_then(Value::as_list)
        .expect("worker_jobs");
    assert_eq!(jobs.len(), submits, "{system}");
    // The jobs end with the run.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !running_jobs(&state).is_empty() {
        assert!(
            Instant::now() < deadline,
            "{system}: jobs {:?} still run after the run",
            running_jobs(&state)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn worker_jobs_serve_a_map_on_pbs() {
    worker_jobs_serve_a_map_on("pbs");
}

#[test]
fn worker_jobs_serve_a_map_on_pjsub() {
    worker_jobs_serve_a_map_on("pjsub");
}
