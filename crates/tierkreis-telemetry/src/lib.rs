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
//! exported. They are built on the timeline's recorder thread as its
//! batches of lines arrive, and the span exporter's own thread sends them
//! while the run goes on, every 256 ended spans (a batch not full leaves
//! after 500 ms without a full one; see the `span_batches` module): when
//! the run is over only the last few spans and the metrics are left to
//! send, both at once.

mod http_client;
mod span_batches;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use opentelemetry::metrics::{Counter, Histogram, MeterProvider as _, UpDownCounter};
use opentelemetry::trace::{
    Span as _, SpanKind, TraceContextExt, Tracer as _, TracerProvider as _,
};
use opentelemetry::{Context, KeyValue};
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::{SdkTracer, SdkTracerProvider, Span};
use opentelemetry_sdk::Resource;
use tierkreis_controller::timeline::TimelineSink;
use tierkreis_storage::timeline::{AttemptOutcome, TimelineEvent, TimelineLine};

pub use http_client::{HttpClientError, PlainHttpClient};

/// The variable that turns the export on, as in every OpenTelemetry SDK.
pub const ENDPOINT_VARIABLE: &str = "OTEL_EXPORTER_OTLP_ENDPOINT";

use span_batches::SpanBatches;

/// How long one export request may take.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(10);

/// The export could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error(transparent)]
    Endpoint(#[from] HttpClientError),
    #[error("cannot build the OTLP {signal} exporter for {endpoint}: {message}")]
    Exporter {
        signal: &'static str,
        endpoint: String,
        message: String,
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

/// The export to the OTLP/HTTP collector at `base` (`http://host:4318`):
/// traces to `base/v1/traces`, metrics to `base/v1/metrics`.
pub fn otlp_export(base: &str) -> Result<Arc<dyn TimelineSink>, TelemetryError> {
    let base = base.trim_end_matches('/');
    http_client::check_endpoint(base)?;
    let client = PlainHttpClient {
        timeout: EXPORT_TIMEOUT,
    };
    let traces = format!("{base}/v1/traces");
    let metrics = format!("{base}/v1/metrics");
    let span_exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_http_client(client.clone())
        .with_endpoint(&traces)
        .with_timeout(EXPORT_TIMEOUT)
        .build()
        .map_err(|e| TelemetryError::Exporter {
            signal: "trace",
            endpoint: traces.clone(),
            message: e.to_string(),
        })?;
    let metric_exporter = opentelemetry_otlp::MetricExporter::builder()
        .with_http()
        .with_http_client(client)
        .with_endpoint(&metrics)
        .with_timeout(EXPORT_TIMEOUT)
        .build()
        .map_err(|e| TelemetryError::Exporter {
            signal: "metrics",
            endpoint: metrics.clone(),
            message: e.to_string(),
        })?;
    let resource = Resource::builder()
        .with_service_name("tierkreis-rs")
        .build();
    // Exports go in small batches during the run (see the crate docs).
    let processor = SpanBatches::new(span_exporter).map_err(|e| TelemetryError::Exporter {
        signal: "trace",
        endpoint: traces.clone(),
        message: format!("cannot start the exporting thread: {e}"),
    })?;
    let tracer_provider = SdkTracerProvider::builder()
        .with_span_processor(processor)
        .with_resource(resource.clone())
        .build();
    let meter_provider = SdkMeterProvider::builder()
        .with_reader(
            PeriodicReader::builder(metric_exporter)
                .with_interval(Duration::from_secs(10))
                .build(),
        )
        .with_resource(resource)
        .build();
    let tracer = tracer_provider.tracer("tierkreis-rs");
    let meter = meter_provider.meter("tierkreis-rs");
    let instruments = Instruments {
        task_duration: meter
            .f64_histogram("tierkreis.task.duration")
            .with_unit("s")
            .with_description("running time of each task attempt")
            .build(),
        queued: meter
            .i64_up_down_counter("tierkreis.tasks.queued")
            .with_description("tasks handed to an executor and not yet started")
            .build(),
        running: meter
            .i64_up_down_counter("tierkreis.tasks.running")
            .with_description("task attempts running")
            .build(),
        warm_processes: meter
            .u64_counter("tierkreis.warm_processes.started")
            .with_description("warm worker processes that finished starting up")
            .build(),
        worker_jobs: meter
            .u64_counter("tierkreis.worker_jobs.started")
            .with_description("batch jobs that served tasks")
            .build(),
    };
    Ok(Arc::new(OtlpExport {
        tracer_provider,
        meter_provider,
        tracer,
        instruments,
        state: Mutex::new(ExportState::default()),
    }))
}

/// The metric instruments.
#[derive(Debug)]
struct Instruments {
    task_duration: Histogram<f64>,
    queued: UpDownCounter<i64>,
    running: UpDownCounter<i64>,
    warm_processes: Counter<u64>,
    worker_jobs: Counter<u64>,
}

/// A task node whose span is open.
#[derive(Debug)]
struct OpenTask {
    span: Span,
    context: Context,
    /// The task's location and function, shared by its spans' attributes
    /// and its metric points (no copy per span).
    loc: Arc<str>,
    function: Arc<str>,
    attempts: u32,
    /// The running attempt: when it started and in which lane.
    started: Option<(SystemTime, String)>,
    queued_at: SystemTime,
    /// Whether the last attempt ended, and how.
    last_end: Option<(SystemTime, AttemptOutcome)>,
}

#[derive(Debug, Default)]
struct ExportState {
    workflow_id: String,
    workflow_name: Option<String>,
    run: Option<(Span, Context)>,
    tasks: HashMap<String, OpenTask>,
    lanes: HashSet<String>,
}

/// The OpenTelemetry export of one run (see the crate docs).
#[derive(Debug)]
struct OtlpExport {
    tracer_provider: SdkTracerProvider,
    meter_provider: SdkMeterProvider,
    tracer: SdkTracer,
    instruments: Instruments,
    state: Mutex<ExportState>,
}

fn at(us: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_micros(us)
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

/// A span's name for attempt `n`: no allocation for the usual first ones.
fn attempt_name(n: u32) -> std::borrow::Cow<'static, str> {
    match n {
        1 => "attempt 1".into(),
        2 => "attempt 2".into(),
        3 => "attempt 3".into(),
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
    fn run_context(&self, state: &mut ExportState, start: SystemTime) -> Context {
        if let Some((_, cx)) = &state.run {
            return cx.clone();
        }
        let mut attributes = vec![KeyValue::new(
            "tierkreis.workflow_id",
            state.workflow_id.clone(),
        )];
        if let Some(name) = &state.workflow_name {
            attributes.push(KeyValue::new("tierkreis.workflow_name", name.clone()));
        }
        let span = self
            .tracer
            .span_builder("tierkreis run")
            .with_kind(SpanKind::Internal)
            .with_start_time(start)
            .with_attributes(attributes)
            .start_with_context(&self.tracer, &Context::new());
        let cx = Context::new().with_remote_span_context(span.span_context().clone());
        state.run = Some((span, cx.clone()));
        cx
    }

    fn end_task(task: &mut OpenTask, end: SystemTime, outcome: AttemptOutcome) {
        task.span.set_attribute(KeyValue::new(
            "tierkreis.attempts",
            i64::from(task.attempts),
        ));
        task.span
            .set_attribute(KeyValue::new("tierkreis.outcome", outcome_word(outcome)));
        task.span.end_with_timestamp(end);
    }

    fn apply(&self, state: &mut ExportState, line: &TimelineLine) {
        let now = at(line.at_us);
        match &line.event {
            TimelineEvent::RunStarted { .. } => {
                self.run_context(state, now);
            }
            TimelineEvent::Queued { loc, function } => {
                self.instruments.queued.add(1, &[]);
                if let Some(task) = state.tasks.get_mut(loc) {
                    // A retry: the node's span goes on.
                    task.attempts += 1;
                    task.queued_at = now;
                    task.started = None;
                    task.last_end = None;
                    return;
                }
                let parent = self.run_context(state, now);
                let shared_loc: Arc<str> = Arc::from(loc.as_str());
                let shared_function: Arc<str> = Arc::from(function.as_str());
                let span = self
                    .tracer
                    .span_builder(function.clone())
                    .with_kind(SpanKind::Internal)
                    .with_start_time(now)
                    .with_attributes(vec![
                        KeyValue::new("tierkreis.loc", Arc::clone(&shared_loc)),
                        KeyValue::new("tierkreis.function", Arc::clone(&shared_function)),
                        KeyValue::new("tierkreis.worker", worker_of(function).to_string()),
                    ])
                    .start_with_context(&self.tracer, &parent);
                let context = Context::new().with_remote_span_context(span.span_context().clone());
                state.tasks.insert(
                    loc.clone(),
                    OpenTask {
                        span,
                        context,
                        loc: shared_loc,
                        function: shared_function,
                        attempts: 1,
                        started: None,
                        queued_at: now,
                        last_end: None,
                    },
                );
            }
            TimelineEvent::Started { loc, lane } => {
                if let Some(task) = state.tasks.get_mut(loc) {
                    task.started = Some((now, lane.clone()));
                    self.instruments.queued.add(-1, &[]);
                    self.instruments.running.add(1, &[]);
                }
                if lane.contains(" job ") && state.lanes.insert(lane.clone()) {
                    self.instruments.worker_jobs.add(1, &[]);
                }
            }
            TimelineEvent::Finished {
                loc,
                outcome,
                failure,
            } => {
                let Some(task) = state.tasks.get_mut(loc) else {
                    return;
                };
                let (start, lane) = match task.started.take() {
                    Some((start, lane)) => {
                        self.instruments.running.add(-1, &[]);
                        (start, Some(lane))
                    }
                    None => {
                        self.instruments.queued.add(-1, &[]);
                        (task.queued_at, None)
                    }
                };
                let mut attributes = Vec::with_capacity(8);
                attributes.extend([
                    KeyValue::new("tierkreis.loc", Arc::clone(&task.loc)),
                    KeyValue::new("tierkreis.attempt", i64::from(task.attempts)),
                    KeyValue::new("tierkreis.outcome", outcome_word(*outcome)),
                    KeyValue::new(
                        "tierkreis.queue_wait_s",
                        start
                            .duration_since(task.queued_at)
                            .unwrap_or_default()
                            .as_secs_f64(),
                    ),
                ]);
                if let Some(lane) = lane {
                    let executor = lane.split_whitespace().next().unwrap_or_default();
                    attributes.push(KeyValue::new("tierkreis.executor", executor.to_string()));
                    let job = job_id(&lane).map(str::to_string);
                    attributes.push(KeyValue::new("tierkreis.lane", lane));
                    if let Some(job) = job {
                        attributes.push(KeyValue::new("tierkreis.job_id", job));
                    }
                }
                if let Some(failure) = failure {
                    attributes.push(KeyValue::new("tierkreis.failure", failure.clone()));
                }
                let mut span = self
                    .tracer
                    .span_builder(attempt_name(task.attempts))
                    .with_kind(SpanKind::Internal)
                    .with_start_time(start)
                    .with_attributes(attributes)
                    .start_with_context(&self.tracer, &task.context);
                span.end_with_timestamp(now);
                self.instruments.task_duration.record(
                    now.duration_since(start).unwrap_or_default().as_secs_f64(),
                    &[
                        KeyValue::new("tierkreis.function", Arc::clone(&task.function)),
                        KeyValue::new("tierkreis.outcome", outcome_word(*outcome)),
                    ],
                );
                if *outcome == AttemptOutcome::Done {
                    if let Some(mut task) = state.tasks.remove(loc) {
                        Self::end_task(&mut task, now, AttemptOutcome::Done);
                    }
                } else {
                    // A retry may follow: the node's span ends with the run.
                    task.last_end = Some((now, *outcome));
                }
            }
            TimelineEvent::CacheHit {
                loc,
                function,
                from_run,
            } => {
                let parent = self.run_context(state, now);
                let mut span = self
                    .tracer
                    .span_builder(function.clone())
                    .with_kind(SpanKind::Internal)
                    .with_start_time(now)
                    .with_attributes(vec![
                        KeyValue::new("tierkreis.loc", loc.clone()),
                        KeyValue::new("tierkreis.function", function.clone()),
                        KeyValue::new("tierkreis.worker", worker_of(function).to_string()),
                        KeyValue::new("tierkreis.cache_source", from_run.clone()),
                        KeyValue::new("tierkreis.outcome", "cache hit"),
                    ])
                    .start_with_context(&self.tracer, &parent);
                span.end_with_timestamp(now);
            }
            TimelineEvent::ProcessReady { lane, .. } => {
                if state.lanes.insert(lane.clone()) {
                    self.instruments.warm_processes.add(1, &[]);
                }
            }
            TimelineEvent::RunEnded { outcome } => {
                for (_, mut task) in state.tasks.drain() {
                    let (end, how) = task.last_end.unwrap_or((now, AttemptOutcome::Unfinished));
                    Self::end_task(&mut task, end, how);
                }
                if let Some((mut span, _)) = state.run.take() {
                    span.set_attribute(KeyValue::new("tierkreis.outcome", outcome.clone()));
                    span.end_with_timestamp(now);
                }
            }
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

    /// Sends the last spans and the metrics at once (one request each, in
    /// parallel) and shuts the exporters down: an export serves one run, and
    /// a shut-down meter provider does not send its metrics again when
    /// dropped.
    fn run_over(&self) {
        std::thread::scope(|threads| {
            let metrics = threads.spawn(|| self.meter_provider.shutdown());
            if let Err(e) = self.tracer_provider.shutdown() {
                tracing::warn!(error = %e, "could not export the run's spans");
            }
            match metrics.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::warn!(error = %e, "could not export the run's metrics"),
                Err(_) => tracing::warn!("the metrics export panicked"),
            }
        });
    }
}

impl Drop for OtlpExport {
    fn drop(&mut self) {
        let _ = self.tracer_provider.shutdown();
        let _ = self.meter_provider.shutdown();
    }
}
