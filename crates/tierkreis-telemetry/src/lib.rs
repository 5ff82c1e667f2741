//! Exports a run as OpenTelemetry traces and metrics (OTLP over HTTP,
//! protobuf), for the tools people already watch. It exists apart from the
//! controller so that only the `tkr` binary pays for the `opentelemetry`
//! crates, and only a run given an endpoint (`--otlp URL` or
//! `OTEL_EXPORTER_OTLP_ENDPOINT`) creates anything: without one nothing is
//! built and no connection is ever opened.
//!
//! The export is a [`TimelineSink`]: it turns the run's timeline lines
//! (see [`tierkreis_storage::timeline`]) into
//! - a trace per run: the root span `tierkreis run` (`tierkreis.workflow_id`,
//!   `tierkreis.workflow_name`, `tierkreis.outcome`), a span per task node
//!   (`tierkreis.loc`, `tierkreis.function`, `tierkreis.worker`,
//!   `tierkreis.attempts`, `tierkreis.outcome`, `tierkreis.cache_source`
//!   for a cache hit) from queued to its last attempt's end, and under it a
//!   span per attempt (`tierkreis.attempt`, `tierkreis.executor`,
//!   `tierkreis.lane`, `tierkreis.job_id` when the lane is a batch job,
//!   `tierkreis.queue_wait_s`, `tierkreis.outcome`, `tierkreis.failure`);
//! - metrics: `tierkreis.task.duration` (histogram, seconds, by function
//!   and outcome), `tierkreis.tasks.queued` and `tierkreis.tasks.running`
//!   (up-down counters: the queue length and the tasks running),
//!   `tierkreis.warm_processes.started` and `tierkreis.worker_jobs.started`
//!   (counters of new lanes).
//!
//! Spans carry the recorded times, so they are exact however late they are
//! exported. Each is written once, when it ends, straight into the OTLP
//! protobuf bytes of the `opentelemetry-proto` crate's `Span` message (see
//! `span_encoding`; not through the SDK's tracer, whose span objects and
//! conversions cost a 1,000-task run more than 5%), on the timeline's
//! recorder thread as its batches of lines arrive; an exporting thread
//! sends them while the run goes on, every 256 ended spans (a batch not
//! full leaves after 500 ms without a full one; see the `span_batches`
//! module): when the run is over only the last few spans and the metrics
//! are left to send. The metrics are counted by the export itself
//! (`run_metrics`) and sent by the same thread, on the same kept
//! connection, every 10 s while the run goes on and once after its last
//! spans. No OpenTelemetry SDK is involved: the messages are the
//! `opentelemetry-proto` crate's, so any collector reads them, and the
//! cost stays small (see BENCHMARKS.md).

mod http_client;
mod run_metrics;
mod span_batches;
mod span_encoding;

use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::common::v1::InstrumentationScope;
use opentelemetry_proto::tonic::resource::v1::Resource;
use rustc_hash::{FxHashMap, FxHashSet};
use tierkreis_controller::timeline::TimelineSink;
use tierkreis_storage::timeline::{AttemptOutcome, TimelineEvent, TimelineLine};

pub use http_client::{HttpClientError, PlainHttpClient};

use http_client::{KeptConnection, Signal};
use run_metrics::RunMetrics;

/// The variable that turns the export on, as in every OpenTelemetry SDK.
pub const ENDPOINT_VARIABLE: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";

use span_batches::{PeriodicWork, SpanBatches};
use span_encoding::{EncodedSpan, SpanWriter};

/// How long one export request may take.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// The name of the instrumentation scope, and the service's unless the
/// environment names it.
const SCOPE_NAME: &str = "tierkreis-rs";

/// The export could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error(transparent)]
    Endpoint(#[from] HttpClientError),
    #[error("cannot start the OTLP exporting thread for {endpoint}: {source}")]
    ExportingThread {
        endpoint: String,
        #[source]
        source: std::io::Error,
    },
}

/// The endpoint to export to: `flag` (`--otlp URL`), else a non-empty
/// `OTEL_EXPORTER_OTLP_ENDPOINT`; `None` means no export at all.
pub fn endpoint(flag: Option<&str>) -> Option<String> {
    flag.map(str::to_string).or_else(|| {
        std::env::var(ENDPOINT_VARIABLE)
            .ok()
            .filter(|v| !v.trim().is_empty())
    })
}

/// The resource every request names, as the OpenTelemetry SDKs make it
/// from the environment: the attributes of `OTEL_RESOURCE_ATTRIBUTES`
/// (`key=value,...`), `service.name` from `OTEL_SERVICE_NAME`, else from
/// those attributes, else `tierkreis-rs`, and the `telemetry.sdk.*`
/// attributes naming this exporter.
fn resource_from_environment() -> Resource {
    resource_from(
        &std::env::var("OTEL_RESOURCE_ATTRIBUTES").unwrap_or_default(),
        std::env::var("OTEL_SERVICE_NAME").ok().as_deref(),
    )
}

/// [`resource_from_environment`] for the variables' values.
fn resource_from(listed: &str, service_name: Option<&str>) -> Resource {
    let mut attributes: Vec<(String, String)> = http_client::parse_key_value_list(listed);
    let service = service_name
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_string)
        .or_else(|| {
            attributes
                .iter()
                .find(|(key, _)| key == "service.name")
                .map(|(_, name)| name.clone())
        })
        .unwrap_or_else(|| SCOPE_NAME.to_string());
    attributes.retain(|(key, _)| key != "service.name" && !key.starts_with("telemetry.sdk."));
    attributes.extend([
        ("service.name".to_string(), service),
        ("telemetry.sdk.language".to_string(), "rust".to_string()),
        ("telemetry.sdk.name".to_string(), SCOPE_NAME.to_string()),
        (
            "telemetry.sdk.version".to_string(),
            env!("CARGO_PKG_VERSION").to_string(),
        ),
    ]);
    attributes.sort();
    Resource {
        attributes: attributes
            .iter()
            .map(|(key, value)| run_metrics::text(key, value))
            .collect(),
        ..Default::default()
    }
}

/// The instrumentation scope of every request.
fn scope() -> InstrumentationScope {
    InstrumentationScope {
        name: SCOPE_NAME.to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        ..Default::default()
    }
}

/// The function that sends one batch of spans as one OTLP/HTTP request to
/// `traces` (on the exporting thread): the batch wrapped in the run's
/// resource and scope.
fn trace_request_sender(
    client: PlainHttpClient,
    traces: String,
    resource: Resource,
    connection: Arc<Mutex<KeptConnection>>,
) -> span_batches::SendSpans<EncodedSpan> {
    let scope = scope();
    let headers = http_client::headers_from_environment(Signal::Traces);
    Box::new(move |spans: Vec<EncodedSpan>| {
        let request = span_encoding::trace_request(&resource, "", &scope, &spans);
        drop(spans);
        let mut connection = connection.lock().unwrap_or_else(|e| e.into_inner());
        client
            .post_protobuf(&mut connection, &traces, &headers, request)
            .map_err(|e| e.to_string())
    })
}

/// Sends the run's metrics, as they stand, to the collector (on the
/// exporting thread, on the spans' connection).
#[derive(Debug)]
struct MetricsSender {
    client: PlainHttpClient,
    url: String,
    headers: Vec<(String, String)>,
    resource: Resource,
    scope: InstrumentationScope,
    connection: Arc<Mutex<KeptConnection>>,
}

impl MetricsSender {
    /// One request with every metric of `state` as of now.
    fn send(&self, state: &Mutex<ExportState>) -> Result<(), HttpClientError> {
        let request = {
            let state = state.lock().unwrap_or_else(|e| e.into_inner());
            state.metrics.request(&self.resource, &self.scope, now_ns())
        };
        let mut connection = self.connection.lock().unwrap_or_else(|e| e.into_inner());
        self.client
            .post_protobuf(&mut connection, &self.url, &self.headers, request)
    }
}

/// Now, in ns since the Unix epoch.
fn now_ns() -> u64 {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    u64::try_from(now).unwrap_or(u64::MAX)
}

/// The export to the OTLP/HTTP collector at `base` (`http://host:4318`):
/// traces to `base/v1/traces`, metrics to `base/v1/metrics`.
pub fn otlp_export(base: &str) -> Result<Arc<dyn TimelineSink>, TelemetryError> {
    let base = base.trim_end_matches('/');
    http_client::check_endpoint(base)?;
    let client = PlainHttpClient {
        timeout: EXPORT_TIMEOUT,
    };
    let traces = format!("{base}/v1/traces");
    let resource = resource_from_environment();
    let state = Arc::new(Mutex::new(ExportState::new()));
    // One connection for everything the exporting thread sends.
    let connection = Arc::new(Mutex::new(KeptConnection::default()));
    let metrics = MetricsSender {
        client: client.clone(),
        url: format!("{base}/v1/metrics"),
        headers: http_client::headers_from_environment(Signal::Metrics),
        resource: resource.clone(),
        scope: scope(),
        connection: Arc::clone(&connection),
    };
    // The metrics while the run goes on and after its last spans, from the
    // exporting thread.
    let periodic = {
        let state = Arc::clone(&state);
        PeriodicWork {
            every: run_metrics::METRICS_INTERVAL,
            work: Box::new(move || {
                if let Err(e) = metrics.send(&state) {
                    tracing::warn!(error = %e, "could not export the run's metrics");
                }
            }),
        }
    };
    // Exports go in small batches during the run (see the crate docs).
    let spans = SpanBatches::new(
        trace_request_sender(client, traces.clone(), resource, connection),
        Some(periodic),
    )
    .map_err(|source| TelemetryError::ExportingThread {
        endpoint: traces,
        source,
    })?;
    Ok(Arc::new(OtlpExport { spans, state }))
}

/// A task node whose span is open (sent when it ends).
#[derive(Debug)]
struct OpenTask {
    span_id: [u8; 8],
    /// When the node was first queued (its span's start), in ns.
    first_queued_ns: u64,
    /// The task's location and function, shared by its spans' attributes
    /// and its metric points.
    loc: Arc<str>,
    function: Arc<str>,
    attempts: u32,
    /// The running attempt: when it started (µs) and in which lane.
    started: Option<(u64, String)>,
    /// When the current attempt was queued, in µs.
    queued_at_us: u64,
    /// Whether the last attempt ended (µs), and how.
    last_end: Option<(u64, AttemptOutcome)>,
}

/// The run's root span, sent when the run ends.
#[derive(Debug)]
struct RunSpan {
    span_id: [u8; 8],
    start_ns: u64,
}

#[derive(Debug)]
struct ExportState {
    workflow_id: String,
    workflow_name: Option<String>,
    trace_id: [u8; 16],
    /// The next span id (random start, one more per span: unique in the
    /// trace, never zero).
    next_span_id: u64,
    run: Option<RunSpan>,
    tasks: FxHashMap<String, OpenTask>,
    lanes: FxHashSet<String>,
    metrics: RunMetrics,
}

/// A random 64-bit number (the standard library's per-process random
/// hasher keys, mixed with the time).
fn random_u64() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    hasher.finish()
}

impl ExportState {
    fn new() -> ExportState {
        let mut trace_id = [0u8; 16];
        trace_id[..8].copy_from_slice(&random_u64().to_be_bytes());
        trace_id[8..].copy_from_slice(&random_u64().to_be_bytes());
        ExportState {
            workflow_id: String::new(),
            workflow_name: None,
            trace_id,
            next_span_id: random_u64(),
            run: None,
            tasks: FxHashMap::default(),
            lanes: FxHashSet::default(),
            metrics: RunMetrics::new(now_ns()),
        }
    }

    fn new_span_id(&mut self) -> [u8; 8] {
        self.next_span_id = self.next_span_id.wrapping_add(1).max(1);
        self.next_span_id.to_be_bytes()
    }

    /// The run span's id, opening it at `at_us` if it is not open.
    fn run_span_id(&mut self, at_us: u64) -> [u8; 8] {
        if let Some(run) = &self.run {
            return run.span_id;
        }
        let span_id = self.new_span_id();
        self.run = Some(RunSpan {
            span_id,
            start_ns: nanos(at_us),
        });
        span_id
    }
}

fn nanos(us: u64) -> u64 {
    us.saturating_mul(1000)
}

/// The OpenTelemetry export of one run (see the crate docs).
#[derive(Debug)]
struct OtlpExport {
    /// The spans' batches, and the exporting thread that also sends the
    /// metrics.
    spans: SpanBatches<EncodedSpan>,
    state: Arc<Mutex<ExportState>>,
}

fn worker_of(function: &str) -> &str {
    function.rsplit_once('.').map_or(function, |(w, _)| w)
}

fn outcome_word(outcome: AttemptOutcome) -> &'static str {
    match outcome {
        AttemptOutcome::Done => "done",
        AttemptOutcome::Failed => "failed",
        AttemptOutcome::Unfinished => "unfinished",
    }
}

/// A span's name for attempt `n`.
fn attempt_name(n: u32) -> std::borrow::Cow<'static, str> {
    match n {
        1 => "attempt 1".into(),
        n => format!("attempt {n}").into(),
    }
}

/// The batch job id in a lane such as `slurm job 5678 process 2`.
fn job_id(lane: &str) -> Option<&str> {
    let mut words = lane.split_whitespace();
    while let Some(w) = words.next() {
        if w == "job" {
            return words.next();
        }
    }
    None
}

impl OtlpExport {
    /// Ends a task node's span at `end_us` and sends it.
    fn end_task(&self, state: &ExportState, task: OpenTask, end_us: u64, outcome: AttemptOutcome) {
        let run = state.run.as_ref().map(|r| r.span_id);
        let mut span = SpanWriter::new(
            &state.trace_id,
            &task.span_id,
            run.as_ref(),
            &task.function,
            (task.first_queued_ns, nanos(end_us)),
        );
        span.text("tierkreis.loc", &task.loc);
        span.text("tierkreis.function", &task.function);
        span.text("tierkreis.worker", worker_of(&task.function));
        span.integer("tierkreis.attempts", i64::from(task.attempts));
        span.text("tierkreis.outcome", outcome_word(outcome));
        self.spans.push(span.finish());
    }

    fn apply(&self, state: &mut ExportState, line: &TimelineLine) {
        let now = line.at_us;
        match &line.event {
            TimelineEvent::RunStarted { .. } => {
                state.run_span_id(now);
            }
            TimelineEvent::Queued { loc, function } => {
                state.metrics.queued(1);
                if let Some(task) = state.tasks.get_mut(loc) {
                    // A retry: the node's span goes on.
                    task.attempts += 1;
                    task.queued_at_us = now;
                    task.started = None;
                    task.last_end = None;
                    return;
                }
                state.run_span_id(now);
                let span_id = state.new_span_id();
                state.tasks.insert(
                    loc.clone(),
                    OpenTask {
                        span_id,
                        first_queued_ns: nanos(now),
                        loc: Arc::from(loc.as_str()),
                        function: Arc::from(function.as_str()),
                        attempts: 1,
                        started: None,
                        queued_at_us: now,
                        last_end: None,
                    },
                );
            }
            TimelineEvent::Started { loc, lane } => {
                if let Some(task) = state.tasks.get_mut(loc) {
                    task.started = Some((now, lane.clone()));
                    state.metrics.queued(-1);
                    state.metrics.running(1);
                }
                if lane.contains(" job ") && state.lanes.insert(lane.clone()) {
                    state.metrics.worker_job_started();
                }
            }
            TimelineEvent::Finished {
                loc,
                outcome,
                failure,
            } => {
                let attempt_id = state.new_span_id();
                let trace_id = state.trace_id;
                let Some(task) = state.tasks.get_mut(loc) else {
                    return;
                };
                let (start, lane) = match task.started.take() {
                    Some((start, lane)) => {
                        state.metrics.running(-1);
                        (start, Some(lane))
                    }
                    None => {
                        state.metrics.queued(-1);
                        (task.queued_at_us, None)
                    }
                };
                let mut span = SpanWriter::new(
                    &trace_id,
                    &attempt_id,
                    Some(&task.span_id),
                    &attempt_name(task.attempts),
                    (nanos(start), nanos(now)),
                );
                span.text("tierkreis.loc", &task.loc);
                span.integer("tierkreis.attempt", i64::from(task.attempts));
                span.text("tierkreis.outcome", outcome_word(*outcome));
                span.float(
                    "tierkreis.queue_wait_s",
                    start.saturating_sub(task.queued_at_us) as f64 / 1e6,
                );
                if let Some(lane) = &lane {
                    let executor = lane.split_whitespace().next().unwrap_or_default();
                    span.text("tierkreis.executor", executor);
                    span.text("tierkreis.lane", lane);
                    if let Some(job) = job_id(lane) {
                        span.text("tierkreis.job_id", job);
                    }
                }
                if let Some(failure) = failure {
                    span.text("tierkreis.failure", failure);
                }
                let function = Arc::clone(&task.function);
                let seconds = now.saturating_sub(start) as f64 / 1e6;
                if *outcome != AttemptOutcome::Done {
                    // A retry may follow: the node's span ends with the run.
                    task.last_end = Some((now, *outcome));
                }
                self.spans.push(span.finish());
                state
                    .metrics
                    .task_duration(&function, outcome_word(*outcome), seconds);
                if *outcome == AttemptOutcome::Done {
                    if let Some(task) = state.tasks.remove(loc) {
                        self.end_task(state, task, now, AttemptOutcome::Done);
                    }
                }
            }
            TimelineEvent::CacheHit {
                loc,
                function,
                from_run,
            } => {
                let run = state.run_span_id(now);
                let span_id = state.new_span_id();
                let mut span = SpanWriter::new(
                    &state.trace_id,
                    &span_id,
                    Some(&run),
                    function,
                    (nanos(now), nanos(now)),
                );
                span.text("tierkreis.loc", loc);
                span.text("tierkreis.function", function);
                span.text("tierkreis.worker", worker_of(function));
                span.text("tierkreis.cache_source", from_run);
                span.text("tierkreis.outcome", "cache hit");
                self.spans.push(span.finish());
            }
            TimelineEvent::ProcessReady { lane, .. } => {
                if state.lanes.insert(lane.clone()) {
                    state.metrics.warm_process_started();
                }
            }
            TimelineEvent::RunEnded { outcome } => {
                self.end_run(state, now, Some(outcome));
            }
        }
    }

    /// Ends the open task spans (at their last attempt's end, else `now_us`
    /// as unfinished) and the run span, and sends them.
    fn end_run(&self, state: &mut ExportState, now_us: u64, outcome: Option<&str>) {
        let tasks: Vec<OpenTask> = state.tasks.drain().map(|(_, task)| task).collect();
        for task in tasks {
            let (end, how) = task
                .last_end
                .unwrap_or((now_us, AttemptOutcome::Unfinished));
            self.end_task(state, task, end, how);
        }
        if let Some(run) = state.run.take() {
            let mut span = SpanWriter::new(
                &state.trace_id,
                &run.span_id,
                None,
                "tierkreis run",
                (run.start_ns, nanos(now_us)),
            );
            span.text("tierkreis.workflow_id", &state.workflow_id);
            if let Some(name) = &state.workflow_name {
                span.text("tierkreis.workflow_name", name);
            }
            if let Some(outcome) = outcome {
                span.text("tierkreis.outcome", outcome);
            }
            self.spans.push(span.finish());
        }
    }
}

impl TimelineSink for OtlpExport {
    fn run_begins(&self, workflow_id: &str, name: Option<&str>) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.workflow_id = workflow_id.to_string();
        state.workflow_name = name.map(str::to_string);
    }

    fn record(&self, lines: &[TimelineLine]) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        for line in lines {
            self.apply(&mut state, line);
        }
    }

    /// Sends the last spans, then the metrics, and ends the exporting
    /// thread: an export serves one run.
    fn run_over(&self) {
        {
            // A run that ended without its last line: its open spans end now.
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            if state.run.is_some() {
                self.end_run(&mut state, now_ns() / 1000, None);
            }
        }
        if let Err(e) = self.spans.shutdown_within(EXPORT_TIMEOUT * 3) {
            tracing::warn!(error = %e, "could not export the run's spans");
        }
    }
}

impl Drop for OtlpExport {
    fn drop(&mut self) {
        let _ = self.spans.shutdown_within(EXPORT_TIMEOUT);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry_proto::tonic::common::v1::any_value;
    use opentelemetry_proto::tonic::trace::v1::Span;
    use prost::Message as _;
    use std::collections::BTreeSet;

    /// An export whose span requests are kept in `sent` instead of posted.
    fn export_into(sent: &Arc<Mutex<Vec<Span>>>) -> OtlpExport {
        let sink = Arc::clone(sent);
        let spans = SpanBatches::new(
            Box::new(move |batch: Vec<EncodedSpan>| {
                let decoded = batch
                    .iter()
                    .map(|span| Span::decode(span.bytes()).expect("an OTLP span"));
                sink.lock().expect("lock").extend(decoded);
                Ok(())
            }),
            None,
        )
        .expect("exporting thread");
        OtlpExport {
            spans,
            state: Arc::new(Mutex::new(ExportState::new())),
        }
    }

    fn line(at_us: u64, event: TimelineEvent) -> TimelineLine {
        TimelineLine { at_us, event }
    }

    fn attribute(span: &Span, key: &str) -> Option<any_value::Value> {
        span.attributes
            .iter()
            .find(|kv| kv.key == key)
            .and_then(|kv| kv.value.clone()?.value)
    }

    fn string(value: &str) -> Option<any_value::Value> {
        Some(any_value::Value::StringValue(value.to_string()))
    }

    #[test]
    fn a_retried_task_is_one_node_span_with_an_attempt_span_per_try() {
        let sent = Arc::new(Mutex::new(Vec::new()));
        let export = export_into(&sent);
        export.run_begins("wf-1", Some("retrying"));
        let queued = |at| {
            line(
                at,
                TimelineEvent::Queued {
                    loc: "-.N3".to_string(),
                    function: "w.f".to_string(),
                },
            )
        };
        let started = |at, lane: &str| {
            line(
                at,
                TimelineEvent::Started {
                    loc: "-.N3".to_string(),
                    lane: lane.to_string(),
                },
            )
        };
        let finished = |at, outcome, failure: Option<&str>| {
            line(
                at,
                TimelineEvent::Finished {
                    loc: "-.N3".to_string(),
                    outcome,
                    failure: failure.map(str::to_string),
                },
            )
        };
        export.record(&[
            line(1_000, TimelineEvent::RunStarted { resume: false }),
            queued(2_000),
            started(3_000, "slurm job 77 process 1"),
            finished(5_000, AttemptOutcome::Failed, Some("exit 1")),
            queued(6_000),
            started(8_000, "process 42"),
            finished(9_000, AttemptOutcome::Done, None),
            line(
                10_000,
                TimelineEvent::RunEnded {
                    outcome: "finished".to_string(),
                },
            ),
        ]);
        export.run_over();
        let spans = sent.lock().expect("lock").clone();
        assert_eq!(spans.len(), 4, "run, node and two attempts: {spans:?}");
        let named = |name: &str| {
            spans
                .iter()
                .find(|s| s.name == name)
                .unwrap_or_else(|| panic!("no span {name}: {spans:?}"))
        };
        let (run, node) = (named("tierkreis run"), named("w.f"));
        let (first, second) = (named("attempt 1"), named("attempt 2"));
        assert!(spans.iter().all(|s| s.trace_id == run.trace_id));
        assert_eq!(run.trace_id.len(), 16);
        assert!(run.parent_span_id.is_empty());
        assert_eq!(node.parent_span_id, run.span_id);
        assert_eq!(first.parent_span_id, node.span_id);
        assert_eq!(second.parent_span_id, node.span_id);
        let ids: std::collections::HashSet<&Vec<u8>> = spans.iter().map(|s| &s.span_id).collect();
        assert_eq!(ids.len(), 4, "distinct span ids");
        assert_eq!(
            (run.start_time_unix_nano, run.end_time_unix_nano),
            (1_000_000, 10_000_000)
        );
        assert_eq!(
            (node.start_time_unix_nano, node.end_time_unix_nano),
            (2_000_000, 9_000_000)
        );
        assert_eq!(
            (first.start_time_unix_nano, first.end_time_unix_nano),
            (3_000_000, 5_000_000)
        );
        assert_eq!(attribute(run, "tierkreis.workflow_id"), string("wf-1"));
        assert_eq!(
            attribute(run, "tierkreis.workflow_name"),
            string("retrying")
        );
        assert_eq!(attribute(run, "tierkreis.outcome"), string("finished"));
        assert_eq!(
            attribute(node, "tierkreis.attempts"),
            Some(any_value::Value::IntValue(2))
        );
        assert_eq!(attribute(node, "tierkreis.worker"), string("w"));
        assert_eq!(attribute(node, "tierkreis.outcome"), string("done"));
        assert_eq!(attribute(first, "tierkreis.outcome"), string("failed"));
        assert_eq!(attribute(first, "tierkreis.failure"), string("exit 1"));
        assert_eq!(attribute(first, "tierkreis.executor"), string("slurm"));
        assert_eq!(attribute(first, "tierkreis.job_id"), string("77"));
        assert_eq!(
            attribute(first, "tierkreis.queue_wait_s"),
            Some(any_value::Value::DoubleValue(0.001))
        );
        assert_eq!(attribute(second, "tierkreis.lane"), string("process 42"));
        assert_eq!(attribute(second, "tierkreis.job_id"), None);
    }

    #[test]
    fn the_resource_is_named_by_the_environment_as_the_sdks_name_it() {
        let resource = |listed: &str, service: Option<&str>| -> Vec<(String, String)> {
            resource_from(listed, service)
                .attributes
                .into_iter()
                .filter_map(|kv| match kv.value?.value? {
                    any_value::Value::StringValue(v) => Some((kv.key, v)),
                    _ => None,
                })
                .filter(|(key, _)| !key.starts_with("telemetry.sdk.version"))
                .collect()
        };
        let pairs = |list: &[(&str, &str)]| -> Vec<(String, String)> {
            list.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        let sdk = [
            ("telemetry.sdk.language", "rust"),
            ("telemetry.sdk.name", "tierkreis-rs"),
        ];
        // Nothing set: the service is tierkreis-rs.
        let mut expected = vec![("service.name", "tierkreis-rs")];
        expected.extend(sdk);
        assert_eq!(resource("", None), pairs(&expected));
        // OTEL_SERVICE_NAME wins over the listed service.name; the other
        // listed attributes stay, percent-decoded.
        let mut expected = vec![
            ("deployment.environment", "lab a"),
            ("service.name", "sweep"),
        ];
        expected.extend(sdk);
        assert_eq!(
            resource(
                "service.name=listed,deployment.environment=lab%20a",
                Some("sweep")
            ),
            pairs(&expected)
        );
        // Without OTEL_SERVICE_NAME the listed name counts.
        assert!(resource("service.name=listed", Some(" "))
            .contains(&("service.name".to_string(), "listed".to_string())));
    }

    #[test]
    fn a_run_without_its_last_line_still_sends_its_open_spans() {
        let sent = Arc::new(Mutex::new(Vec::new()));
        let export = export_into(&sent);
        export.run_begins("wf-2", None);
        export.record(&[line(
            1_000,
            TimelineEvent::Queued {
                loc: "-.N1".to_string(),
                function: "w.g".to_string(),
            },
        )]);
        export.run_over();
        let spans = sent.lock().expect("lock").clone();
        let names: BTreeSet<&str> = spans.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, BTreeSet::from(["tierkreis run", "w.g"]));
        let node = spans.iter().find(|s| s.name == "w.g").expect("node span");
        assert_eq!(attribute(node, "tierkreis.outcome"), string("unfinished"));
    }
}
