//! OpenTelemetry export through the real `tkr` binary, to a real OTLP/HTTP
//! receiver on 127.0.0.1 that decodes the protobuf requests with the
//! `opentelemetry-proto` messages: a run with the endpoint delivers a span
//! for every task (and its attempt, under the run's trace) and the metrics;
//! a run without it opens no connection.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use common::{expect_code, run_uuid, tkr, write};
use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::metrics::v1::{metric, number_data_point, Metric};
use opentelemetry_proto::tonic::trace::v1::Span;
use prost::Message;

/// What the receiver got.
#[derive(Debug, Default)]
struct Received {
    connections: usize,
    spans: Vec<Span>,
    /// The number of spans in each trace request, in order.
    spans_per_request: Vec<usize>,
    metric_names: BTreeSet<String>,
    /// The metrics of the last metrics request (the run's final values).
    last_metrics: Vec<Metric>,
    paths: Vec<String>,
}

/// An OTLP/HTTP receiver on 127.0.0.1 (a port of its own), answering 200
/// to every request after decoding it.
struct Receiver {
    url: String,
    got: Arc<Mutex<Received>>,
}

impl Receiver {
    fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind a receiver");
        let url = format!("http://{}", listener.local_addr().expect("address"));
        let got = Arc::new(Mutex::new(Received::default()));
        let shared = got.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                shared.lock().expect("lock").connections += 1;
                let shared = shared.clone();
                std::thread::spawn(move || serve(stream, &shared));
            }
        });
        Receiver { url, got }
    }

    fn received(&self) -> std::sync::MutexGuard<'_, Received> {
        self.got.lock().expect("lock")
    }
}

/// Serves the HTTP/1.1 requests of one connection.
fn serve(stream: TcpStream, got: &Mutex<Received>) {
    let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
    let mut writer = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let path = request_line
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_string();
        let mut length = 0usize;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                if name.eq_ignore_ascii_case("content-length") {
                    length = value.trim().parse().expect("content length");
                }
            }
        }
        let mut body = vec![0; length];
        reader.read_exact(&mut body).expect("request body");
        {
            let mut got = got.lock().expect("lock");
            got.paths.push(path.clone());
            match path.as_str() {
                "/v1/traces" => {
                    let request =
                        ExportTraceServiceRequest::decode(body.as_slice()).expect("OTLP traces");
                    let mut in_request = 0;
                    for resource in request.resource_spans {
                        for scope in resource.scope_spans {
                            in_request += scope.spans.len();
                            got.spans.extend(scope.spans);
                        }
                    }
                    got.spans_per_request.push(in_request);
                }
                "/v1/metrics" => {
                    let request =
                        ExportMetricsServiceRequest::decode(body.as_slice()).expect("OTLP metrics");
                    got.last_metrics.clear();
                    for resource in request.resource_metrics {
                        for scope in resource.scope_metrics {
                            got.metric_names
                                .extend(scope.metrics.iter().map(|m| m.name.clone()));
                            got.last_metrics.extend(scope.metrics);
                        }
                    }
                }
                other => panic!("unexpected OTLP path {other}"),
            }
        }
        let _ = writer.write_all(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/x-protobuf\r\nContent-Length: 0\r\n\r\n",
        );
    }
}

/// A span's string (or int, as text) attribute.
fn attr(span: &Span, key: &str) -> Option<String> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| match kv.value.as_ref()?.value.as_ref()? {
            AnyValue::StringValue(s) => Some(s.clone()),
            AnyValue::IntValue(i) => Some(i.to_string()),
            _ => None,
        })
}

/// Three `shell` tasks of worker `echoer` and a builtin adding two of them.
fn graph() -> String {
    r#"{"nodes": [
      {"type": "const", "value": 20, "inputs": {}, "outputs": {"value": [1, 2, 3]}},
      {"type": "function", "function_name": "echoer.same", "inputs": {"x": [0, "value"]}, "outputs": {"value": [4]}},
      {"type": "function", "function_name": "echoer.same", "inputs": {"x": [0, "value"]}, "outputs": {"value": [4]}},
      {"type": "function", "function_name": "echoer.same", "inputs": {"x": [0, "value"]}, "outputs": {"value": [5]}},
      {"type": "function", "function_name": "builtins.iadd", "inputs": {"a": [1, "value"], "b": [2, "value"]}, "outputs": {"value": [5]}},
      {"type": "output", "inputs": {"value": [4, "value"], "third": [3, "value"]}, "outputs": {}}
    ], "fixed_inputs": {}, "graph_inputs": [], "graph_output_idx": 5, "named_nodes": {}, "node_metadata": {}}"#
        .to_string()
}

struct Setup {
    _tmp: tempfile::TempDir,
    root: PathBuf,
}

impl Setup {
    fn new() -> Setup {
        let tmp = tempfile::tempdir().expect("temp dir");
        let root = tmp.path().to_path_buf();
        let worker = root.join("reg/echoer/main.sh");
        std::fs::create_dir_all(worker.parent().expect("folder")).expect("mkdir");
        std::fs::write(&worker, "cat \"$input_x_file\" > \"$output_value_file\"\n")
            .expect("worker");
        write(&root, "graph.json", &graph());
        Setup { _tmp: tmp, root }
    }

    fn ck(&self) -> PathBuf {
        self.root.join("ck")
    }

    /// `tkr run` of the graph as run `id` with `extra` arguments and
    /// environment.
    fn run(&self, id: u128, extra: &[&str], env: &[(&str, &str)]) {
        let mut c = tkr(&self.ck());
        c.current_dir(&self.root)
            .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
            .args(["run", "-q", "-o", "--run-id", &id.to_string(), "--registry"])
            .arg(self.root.join("reg"))
            .args(extra)
            .arg("-f")
            .arg(self.root.join("graph.json"));
        for (k, v) in env {
            c.env(k, v);
        }
        let out = c.output().expect("run tkr");
        expect_code(&out, 0);
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "third: 20\nvalue: 40\n"
        );
    }
}

/// The function nodes of a workflow folder: loc -> function.
fn function_nodes(wf: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(wf).expect("workflow").flatten() {
        let Ok(def) = std::fs::read(e.path().join("nodedef")) else {
            continue;
        };
        let def = tierkreis_core::json::parse(&def).expect("nodedef");
        let map = def.as_map().expect("object");
        if map.get("type").and_then(|t| t.as_str()) == Some("function") {
            let name = map
                .get("function_name")
                .and_then(|f| f.as_str())
                .expect("function name");
            out.insert(
                e.file_name().to_string_lossy().into_owned(),
                name.to_string(),
            );
        }
    }
    out
}

fn check_spans_of_every_task(got: &Received, wf: &Path, id: u128) {
    let nodes = function_nodes(wf);
    assert_eq!(nodes.len(), 4, "{nodes:?}");
    let run: Vec<&Span> = got
        .spans
        .iter()
        .filter(|s| s.name == "tierkreis run")
        .collect();
    assert_eq!(run.len(), 1, "one run span");
    let run = run[0];
    assert_eq!(attr(run, "tierkreis.workflow_id"), Some(run_uuid(id)));
    assert_eq!(attr(run, "tierkreis.outcome").as_deref(), Some("finished"));
    for span in &got.spans {
        assert_eq!(
            span.trace_id, run.trace_id,
            "one trace per run: {}",
            span.name
        );
        assert!(
            span.start_time_unix_nano <= span.end_time_unix_nano,
            "{}",
            span.name
        );
    }
    for (loc, function) in &nodes {
        let node: Vec<&Span> = got
            .spans
            .iter()
            .filter(|s| {
                attr(s, "tierkreis.loc").as_deref() == Some(loc) && !s.name.starts_with("attempt")
            })
            .collect();
        assert_eq!(node.len(), 1, "one span for task {loc}");
        let node = node[0];
        assert_eq!(&node.name, function);
        assert_eq!(node.parent_span_id, run.span_id, "{loc} under the run");
        assert_eq!(attr(node, "tierkreis.function").as_ref(), Some(function));
        assert_eq!(
            attr(node, "tierkreis.worker").as_deref(),
            function.split('.').next()
        );
        assert_eq!(attr(node, "tierkreis.outcome").as_deref(), Some("done"));
        let attempts: Vec<&Span> = got
            .spans
            .iter()
            .filter(|s| s.parent_span_id == node.span_id)
            .collect();
        assert_eq!(attempts.len(), 1, "one attempt span under {loc}");
        let attempt = attempts[0];
        assert_eq!(attempt.name, "attempt 1");
        assert_eq!(attr(attempt, "tierkreis.outcome").as_deref(), Some("done"));
        assert!(attempt.start_time_unix_nano >= node.start_time_unix_nano);
        assert!(attempt.end_time_unix_nano <= node.end_time_unix_nano);
        let executor = attr(attempt, "tierkreis.executor");
        let lane = attr(attempt, "tierkreis.lane").unwrap_or_default();
        if function.starts_with("echoer.") {
            assert_eq!(executor.as_deref(), Some("shell"), "{loc}");
            assert!(lane.starts_with("shell process "), "{loc}: {lane}");
        } else {
            assert_eq!(executor.as_deref(), Some("builtins"), "{loc}");
        }
    }
    for metric in [
        "tierkreis.task.duration",
        "tierkreis.tasks.queued",
        "tierkreis.tasks.running",
    ] {
        assert!(
            got.metric_names.contains(metric),
            "metric {metric}: {:?}",
            got.metric_names
        );
    }
    // The final metrics: one finished attempt per task, counted under its
    // function, and nothing left queued or running.
    let metric = |name: &str| {
        got.last_metrics
            .iter()
            .find(|m| m.name == name)
            .and_then(|m| m.data.clone())
            .unwrap_or_else(|| panic!("no {name} in the last metrics request"))
    };
    let Some(metric::Data::Histogram(durations)) = Some(metric("tierkreis.task.duration")) else {
        panic!("tierkreis.task.duration is not a histogram")
    };
    let mut counted: BTreeMap<String, u64> = BTreeMap::new();
    for point in &durations.data_points {
        let function = point
            .attributes
            .iter()
            .find(|kv| kv.key == "tierkreis.function")
            .and_then(|kv| match kv.value.clone()?.value? {
                AnyValue::StringValue(v) => Some(v),
                _ => None,
            })
            .expect("a function attribute");
        *counted.entry(function).or_default() += point.count;
    }
    let mut expected: BTreeMap<String, u64> = BTreeMap::new();
    for function in nodes.values() {
        *expected.entry(function.clone()).or_default() += 1;
    }
    assert_eq!(counted, expected, "attempts counted per function");
    for name in ["tierkreis.tasks.queued", "tierkreis.tasks.running"] {
        let Some(metric::Data::Sum(sum)) = Some(metric(name)) else {
            panic!("{name} is not a sum")
        };
        assert_eq!(
            sum.data_points.first().and_then(|p| p.value),
            Some(number_data_point::Value::AsInt(0)),
            "{name} at the run's end"
        );
    }
}

#[test]
fn the_variable_sends_a_span_for_every_task_to_the_receiver() {
    let s = Setup::new();
    let receiver = Receiver::start();
    s.run(1, &[], &[("OTEL_EXPORTER_OTLP_ENDPOINT", &receiver.url)]);
    let got = receiver.received();
    assert!(
        got.paths.iter().any(|p| p == "/v1/traces"),
        "{:?}",
        got.paths
    );
    check_spans_of_every_task(&got, &s.ck().join(run_uuid(1)), 1);
}

#[test]
fn the_otlp_flag_sends_the_spans_too() {
    let s = Setup::new();
    let receiver = Receiver::start();
    s.run(2, &["--otlp", &receiver.url], &[]);
    check_spans_of_every_task(&receiver.received(), &s.ck().join(run_uuid(2)), 2);
}

#[test]
fn without_the_variable_no_connection_is_opened() {
    let s = Setup::new();
    let receiver = Receiver::start();
    // The per-signal variables alone do not turn the export on: tkr reads
    // only OTEL_EXPORTER_OTLP_ENDPOINT (and --otlp).
    let traces = format!("{}/v1/traces", receiver.url);
    let metrics = format!("{}/v1/metrics", receiver.url);
    s.run(
        3,
        &[],
        &[
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", &traces),
            ("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", &metrics),
        ],
    );
    assert!(s.ck().join(run_uuid(3)).join("-/_done").exists());
    let got = receiver.received();
    assert_eq!(
        got.connections, 0,
        "connections without the variable: {:?}",
        got.paths
    );
}

#[test]
fn an_https_endpoint_is_refused_before_the_run() {
    let s = Setup::new();
    let out = tkr(&s.ck())
        .current_dir(&s.root)
        .args([
            "run",
            "-q",
            "--run-id",
            "4",
            "--otlp",
            "https://collector.invalid:4318",
            "-f",
        ])
        .arg(s.root.join("graph.json"))
        .output()
        .expect("run tkr");
    expect_code(&out, 2);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("only http://"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A chain of `n` builtin additions: `1 + 1 + ... + 1` (`n + 1` in all).
fn chain_graph(n: usize) -> String {
    let mut nodes = vec![
        r#"{"type": "const", "value": 1, "inputs": {}, "outputs": {"value": [1]}}"#.to_string(),
    ];
    for i in 1..=n {
        let a = if i == 1 { 0 } else { i - 1 };
        nodes.push(format!(
            r#"{{"type": "function", "function_name": "builtins.iadd", "inputs": {{"a": [{a}, "value"], "b": [0, "value"]}}, "outputs": {{"value": [{}]}}}}"#,
            i + 1
        ));
    }
    nodes.push(format!(
        r#"{{"type": "output", "inputs": {{"value": [{n}, "value"]}}, "outputs": {{}}}}"#
    ));
    format!(
        r#"{{"nodes": [{}], "fixed_inputs": {{}}, "graph_inputs": [], "graph_output_idx": {}, "named_nodes": {{}}, "node_metadata": {{}}}}"#,
        nodes.join(",\n"),
        n + 1
    )
}

#[test]
fn a_long_run_sends_its_spans_in_several_requests_and_its_metrics_once() {
    // 300 tasks: 601 spans (a node and an attempt per task, and the run),
    // sent while the run goes on in requests of at most 256 spans, so that
    // the run's end sends only the last ones; the metrics go once at the end.
    let s = Setup::new();
    write(&s.root, "chain.json", &chain_graph(300));
    let receiver = Receiver::start();
    let started = std::time::Instant::now();
    let out = tkr(&s.ck())
        .current_dir(&s.root)
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &receiver.url)
        .args(["run", "-q", "-o", "--run-id", "4", "-f"])
        .arg(s.root.join("chain.json"))
        .output()
        .expect("run tkr");
    let took = started.elapsed();
    expect_code(&out, 0);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "value: 301\n");
    let got = receiver.received();
    let additions = got
        .spans
        .iter()
        .filter(|span| span.name == "builtins.iadd")
        .count();
    assert_eq!(additions, 300, "one span per task");
    assert_eq!(got.spans.len(), 601, "node, attempt and run spans");
    assert!(
        got.spans_per_request.len() >= 3 && got.spans_per_request.iter().all(|&n| n <= 256),
        "spans per trace request: {:?}",
        got.spans_per_request
    );
    // Once at the end, and once per 10 s period the run lasted (a loaded
    // machine may make it that slow); never a second time at the end.
    let metric_requests = got.paths.iter().filter(|p| *p == "/v1/metrics").count();
    let periods = (took.as_secs() / 10) as usize;
    assert!(
        metric_requests <= 1 + periods,
        "{metric_requests} metrics requests in {took:?}: {:?}",
        got.paths
    );
}
