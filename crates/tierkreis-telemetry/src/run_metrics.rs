//! The run's metrics, kept by the export itself and written as one OTLP
//! `ExportMetricsServiceRequest` each time they are sent (every
//! [`METRICS_INTERVAL`] while the run goes on, and once at its end). It
//! exists because the SDK's meter provider (its reader thread, its
//! attribute sets and aggregation maps, its exporter) cost a 1,000-task run
//! held in memory more than the 5% the whole export may add; the five
//! instruments here need a few counters and one small map.
//!
//! All points are cumulative from the export's start: the task durations
//! (`tierkreis.task.duration`, a histogram in seconds, by function and
//! outcome), the queue length and the running attempts
//! (`tierkreis.tasks.queued`, `tierkreis.tasks.running`, non-monotonic
//! sums) and the lanes that started (`tierkreis.warm_processes.started`,
//! `tierkreis.worker_jobs.started`, monotonic sums).

use std::sync::Arc;
use std::time::Duration;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, InstrumentationScope, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{
    metric, number_data_point, AggregationTemporality, Histogram, HistogramDataPoint, Metric,
    NumberDataPoint, ResourceMetrics, ScopeMetrics, Sum,
};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message as _;

/// How often the metrics are sent while a run goes on (the SDK's periodic
/// reader used the same interval); they are sent once more at its end.
pub(crate) const METRICS_INTERVAL: Duration = Duration::from_secs(10);

/// The upper bounds of the duration histogram's buckets, in seconds: from
/// a builtin's millisecond to a batch job's hour.
const DURATION_BOUNDS_S: [f64; 17] = [
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0,
    3600.0,
];

/// One function's attempts with one outcome.
#[derive(Debug, Clone, PartialEq)]
struct DurationPoint {
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
    /// One count per bucket of [`DURATION_BOUNDS_S`], and one past the last.
    bucket_counts: [u64; DURATION_BOUNDS_S.len() + 1],
}

impl DurationPoint {
    fn new() -> DurationPoint {
        DurationPoint {
            count: 0,
            sum: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            bucket_counts: [0; DURATION_BOUNDS_S.len() + 1],
        }
    }

    fn record(&mut self, seconds: f64) {
        self.count += 1;
        self.sum += seconds;
        self.min = self.min.min(seconds);
        self.max = self.max.max(seconds);
        // A bucket holds the values up to and including its bound.
        let bucket = DURATION_BOUNDS_S.partition_point(|&bound| bound < seconds);
        self.bucket_counts[bucket] += 1;
    }
}

/// The metrics of one run, updated on the recorder thread as its timeline
/// lines arrive.
#[derive(Debug)]
pub(crate) struct RunMetrics {
    /// When the export began: every point's start time, in ns.
    start_ns: u64,
    /// Attempt durations by function and outcome word (a run has a
    /// handful of functions: a list searched in order).
    durations: Vec<(Arc<str>, &'static str, DurationPoint)>,
    queued: i64,
    running: i64,
    warm_processes_started: u64,
    worker_jobs_started: u64,
}

impl RunMetrics {
    pub(crate) fn new(start_ns: u64) -> RunMetrics {
        RunMetrics {
            start_ns,
            durations: Vec::new(),
            queued: 0,
            running: 0,
            warm_processes_started: 0,
            worker_jobs_started: 0,
        }
    }

    /// An attempt of `function` ended with `outcome` after `seconds`.
    pub(crate) fn task_duration(
        &mut self,
        function: &Arc<str>,
        outcome: &'static str,
        seconds: f64,
    ) {
        let known = self
            .durations
            .iter_mut()
            .find(|(f, o, _)| *o == outcome && **f == **function);
        match known {
            Some((_, _, point)) => point.record(seconds),
            None => {
                let mut point = DurationPoint::new();
                point.record(seconds);
                self.durations.push((Arc::clone(function), outcome, point));
            }
        }
    }

    /// The queue length changes by `change`.
    pub(crate) fn queued(&mut self, change: i64) {
        self.queued += change;
    }

    /// The running attempts change by `change`.
    pub(crate) fn running(&mut self, change: i64) {
        self.running += change;
    }

    /// A warm process finished starting up.
    pub(crate) fn warm_process_started(&mut self) {
        self.warm_processes_started += 1;
    }

    /// A batch job served its first task.
    pub(crate) fn worker_job_started(&mut self) {
        self.worker_jobs_started += 1;
    }

    /// The request carrying every metric as of `now_ns`, under `resource`
    /// and `scope`, encoded.
    pub(crate) fn request(
        &self,
        resource: &Resource,
        scope: &InstrumentationScope,
        now_ns: u64,
    ) -> Vec<u8> {
        let duration_points = self
            .durations
            .iter()
            .map(|(function, outcome, point)| HistogramDataPoint {
                attributes: vec![
                    text("tierkreis.function", function),
                    text("tierkreis.outcome", outcome),
                ],
                start_time_unix_nano: self.start_ns,
                time_unix_nano: now_ns,
                count: point.count,
                sum: Some(point.sum),
                bucket_counts: point.bucket_counts.to_vec(),
                explicit_bounds: DURATION_BOUNDS_S.to_vec(),
                min: Some(point.min),
                max: Some(point.max),
                ..Default::default()
            })
            .collect();
        let cumulative = AggregationTemporality::Cumulative as i32;
        let sum = |name: &str, description: &str, value: i64, is_monotonic: bool| Metric {
            name: name.to_string(),
            description: description.to_string(),
            data: Some(metric::Data::Sum(Sum {
                data_points: vec![NumberDataPoint {
                    start_time_unix_nano: self.start_ns,
                    time_unix_nano: now_ns,
                    value: Some(number_data_point::Value::AsInt(value)),
                    ..Default::default()
                }],
                aggregation_temporality: cumulative,
                is_monotonic,
            })),
            ..Default::default()
        };
        let metrics = vec![
            Metric {
                name: "tierkreis.task.duration".to_string(),
                description: "running time of each task attempt".to_string(),
                unit: "s".to_string(),
                data: Some(metric::Data::Histogram(Histogram {
                    data_points: duration_points,
                    aggregation_temporality: cumulative,
                })),
                ..Default::default()
            },
            sum(
                "tierkreis.tasks.queued",
                "tasks handed to an executor and not yet started",
                self.queued,
                false,
            ),
            sum(
                "tierkreis.tasks.running",
                "task attempts running",
                self.running,
                false,
            ),
            sum(
                "tierkreis.warm_processes.started",
                "warm worker processes that finished starting up",
                i64::try_from(self.warm_processes_started).unwrap_or(i64::MAX),
                true,
            ),
            sum(
                "tierkreis.worker_jobs.started",
                "batch jobs that served tasks",
                i64::try_from(self.worker_jobs_started).unwrap_or(i64::MAX),
                true,
            ),
        ];
        ExportMetricsServiceRequest {
            resource_metrics: vec![ResourceMetrics {
                resource: Some(resource.clone()),
                scope_metrics: vec![ScopeMetrics {
                    scope: Some(scope.clone()),
                    metrics,
                    schema_url: String::new(),
                }],
                schema_url: String::new(),
            }],
        }
        .encode_to_vec()
    }
}

/// A string attribute.
pub(crate) fn text(key: &str, value: &str) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(value.to_string())),
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(metrics: &RunMetrics) -> Vec<Metric> {
        let bytes = metrics.request(
            &Resource::default(),
            &InstrumentationScope::default(),
            5_000,
        );
        let request = ExportMetricsServiceRequest::decode(bytes.as_slice()).expect("decodes");
        request.resource_metrics[0].scope_metrics[0].metrics.clone()
    }

    fn sum_value(metrics: &[Metric], name: &str) -> (i64, bool) {
        let metric = metrics
            .iter()
            .find(|m| m.name == name)
            .unwrap_or_else(|| panic!("no {name}"));
        let Some(metric::Data::Sum(sum)) = &metric.data else {
            panic!("{name} is not a sum")
        };
        let Some(number_data_point::Value::AsInt(value)) = sum.data_points[0].value else {
            panic!("{name} has no integer point")
        };
        (value, sum.is_monotonic)
    }

    #[test]
    fn durations_are_bucketed_per_function_and_outcome_and_sums_count_changes() {
        let mut metrics = RunMetrics::new(1_000);
        let (f, g): (Arc<str>, Arc<str>) = (Arc::from("w.f"), Arc::from("w.g"));
        metrics.task_duration(&f, "done", 0.001);
        metrics.task_duration(&f, "done", 0.2);
        metrics.task_duration(&f, "failed", 7200.0);
        metrics.task_duration(&g, "done", 0.003);
        metrics.queued(1);
        metrics.queued(1);
        metrics.queued(-1);
        metrics.running(1);
        metrics.warm_process_started();
        metrics.worker_job_started();
        metrics.worker_job_started();

        let decoded = decoded(&metrics);
        let duration = decoded
            .iter()
            .find(|m| m.name == "tierkreis.task.duration")
            .expect("the histogram");
        assert_eq!(duration.unit, "s");
        let Some(metric::Data::Histogram(histogram)) = &duration.data else {
            panic!("not a histogram")
        };
        assert_eq!(
            histogram.aggregation_temporality,
            AggregationTemporality::Cumulative as i32
        );
        let point = |function: &str, outcome: &str| {
            histogram
                .data_points
                .iter()
                .find(|p| {
                    p.attributes
                        == vec![
                            text("tierkreis.function", function),
                            text("tierkreis.outcome", outcome),
                        ]
                })
                .unwrap_or_else(|| panic!("no point for {function} {outcome}"))
        };
        let f_done = point("w.f", "done");
        assert_eq!(
            (f_done.count, f_done.sum, f_done.min, f_done.max),
            (2, Some(0.201), Some(0.001), Some(0.2))
        );
        assert_eq!(
            (f_done.start_time_unix_nano, f_done.time_unix_nano),
            (1_000, 5_000)
        );
        assert_eq!(f_done.explicit_bounds.len() + 1, f_done.bucket_counts.len());
        // 0.001 s is in the first bucket (bounds are inclusive), 0.2 s in (0.1, 0.25].
        assert_eq!(f_done.bucket_counts[0], 1);
        let quarter = f_done
            .explicit_bounds
            .iter()
            .position(|&b| b == 0.25)
            .expect("a 0.25 s bound");
        assert_eq!(f_done.bucket_counts[quarter], 1);
        assert_eq!(f_done.bucket_counts.iter().sum::<u64>(), 2);
        // Past the last bound: the overflow bucket.
        let f_failed = point("w.f", "failed");
        assert_eq!(f_failed.bucket_counts.last(), Some(&1));
        assert_eq!(point("w.g", "done").count, 1);
        assert_eq!(histogram.data_points.len(), 3);

        assert_eq!(sum_value(&decoded, "tierkreis.tasks.queued"), (1, false));
        assert_eq!(sum_value(&decoded, "tierkreis.tasks.running"), (1, false));
        assert_eq!(
            sum_value(&decoded, "tierkreis.warm_processes.started"),
            (1, true)
        );
        assert_eq!(
            sum_value(&decoded, "tierkreis.worker_jobs.started"),
            (2, true)
        );
    }

    #[test]
    fn a_run_without_tasks_still_reports_every_metric() {
        let names: Vec<String> = decoded(&RunMetrics::new(0))
            .into_iter()
            .map(|m| m.name)
            .collect();
        assert_eq!(
            names,
            [
                "tierkreis.task.duration",
                "tierkreis.tasks.queued",
                "tierkreis.tasks.running",
                "tierkreis.warm_processes.started",
                "tierkreis.worker_jobs.started"
            ]
        );
    }
}
