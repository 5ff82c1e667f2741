//! The span processor of the export: ended spans are gathered in batches of
//! [`SPANS_PER_EXPORT`] and each full batch goes to an exporting thread, so
//! spans leave while the run goes on; a batch that is not full leaves when
//! no full one came for [`SPAN_EXPORT_DELAY`]. It exists instead of the SDK's
//! `BatchSpanProcessor` because that one allocates and touches its whole
//! bounded queue (~0.4 KiB a slot) when it is built, on the run's critical
//! path, and drops the spans of a burst longer than that queue; here memory
//! grows with the spans waiting, up to [`MAX_SPANS_WAITING`].

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{channel, sync_channel, RecvTimeoutError, Sender, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use opentelemetry::Context;
use opentelemetry_sdk::error::{OTelSdkError, OTelSdkResult};
use opentelemetry_sdk::trace::{Span, SpanData, SpanExporter, SpanProcessor};
use opentelemetry_sdk::Resource;

/// Ended spans per export request: small enough that a busy run's spans
/// leave in several requests while it goes on, not all at its end.
pub(crate) const SPANS_PER_EXPORT: usize = 256;

/// The longest an ended span waits for export while the run goes on.
pub(crate) const SPAN_EXPORT_DELAY: Duration = Duration::from_millis(500);

/// Spans handed to the exporting thread and not yet sent, at most; more
/// are dropped (with one warning) when the collector cannot keep up.
pub(crate) const MAX_SPANS_WAITING: usize = 256 * 1024;

/// What the exporting thread is asked to do.
enum ToExporter {
    Batch(Vec<SpanData>),
    /// Answer once every batch sent before is exported: with the first
    /// export error since the last flush, if any.
    Flush(SyncSender<OTelSdkResult>),
    Resource(Resource),
}

/// Batches ended spans and hands them to an exporting thread.
#[derive(Debug)]
pub(crate) struct SpanBatches {
    /// The batch being filled (the exporting thread takes it when it is
    /// not full after [`SPAN_EXPORT_DELAY`]).
    batch: Arc<Mutex<Vec<SpanData>>>,
    to_exporter: Mutex<Option<Sender<ToExporter>>>,
    exporter_thread: Mutex<Option<JoinHandle<()>>>,
    /// Spans handed to the exporting thread and not yet exported.
    waiting: Arc<AtomicUsize>,
    dropped: AtomicUsize,
}

impl std::fmt::Debug for ToExporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ToExporter::Batch(spans) => write!(f, "Batch({} spans)", spans.len()),
            ToExporter::Flush(_) => f.write_str("Flush"),
            ToExporter::Resource(_) => f.write_str("Resource"),
        }
    }
}

/// Exports `spans` on this thread; keeps the first error for the next flush.
fn export_now<E: SpanExporter>(
    exporter: &E,
    spans: Vec<SpanData>,
    first_error: &mut Option<OTelSdkError>,
) {
    let count = spans.len();
    if let Err(e) = futures_executor::block_on(exporter.export(spans)) {
        tracing::warn!(error = %e, spans = count, "could not export spans");
        first_error.get_or_insert(e);
    }
}

impl SpanBatches {
    /// Starts the exporting thread around `exporter`.
    pub(crate) fn new<E: SpanExporter + 'static>(mut exporter: E) -> std::io::Result<SpanBatches> {
        let (to_exporter, messages) = channel::<ToExporter>();
        let waiting = Arc::new(AtomicUsize::new(0));
        let waiting_in_thread = Arc::clone(&waiting);
        let batch = Arc::new(Mutex::new(Vec::with_capacity(SPANS_PER_EXPORT)));
        let batch_in_thread = Arc::clone(&batch);
        let exporter_thread = std::thread::Builder::new()
            .name("tkr-otlp-spans".to_string())
            .spawn(move || {
                let mut first_error: Option<OTelSdkError> = None;
                loop {
                    match messages.recv_timeout(SPAN_EXPORT_DELAY) {
                        Ok(ToExporter::Batch(spans)) => {
                            let count = spans.len();
                            export_now(&exporter, spans, &mut first_error);
                            waiting_in_thread.fetch_sub(count, Ordering::AcqRel);
                        }
                        Ok(ToExporter::Flush(answer)) => {
                            let _ = answer.send(first_error.take().map_or(Ok(()), Err));
                        }
                        Ok(ToExporter::Resource(resource)) => exporter.set_resource(&resource),
                        Err(RecvTimeoutError::Timeout) => {
                            let partial = std::mem::take(
                                &mut *batch_in_thread.lock().unwrap_or_else(|e| e.into_inner()),
                            );
                            if !partial.is_empty() {
                                export_now(&exporter, partial, &mut first_error);
                            }
                        }
                        Err(RecvTimeoutError::Disconnected) => break,
                    }
                }
                let _ = exporter.shutdown();
            })?;
        Ok(SpanBatches {
            batch,
            to_exporter: Mutex::new(Some(to_exporter)),
            exporter_thread: Mutex::new(Some(exporter_thread)),
            waiting,
            dropped: AtomicUsize::new(0),
        })
    }

    /// Hands `spans` to the exporting thread (or drops them when too many
    /// wait already, or the thread is gone).
    fn hand_over(&self, spans: Vec<SpanData>) {
        let count = spans.len();
        if self.waiting.load(Ordering::Acquire) + count > MAX_SPANS_WAITING {
            if self.dropped.fetch_add(count, Ordering::Relaxed) == 0 {
                tracing::warn!(
                    waiting = MAX_SPANS_WAITING,
                    "the OTLP collector does not keep up: dropping spans"
                );
            }
            return;
        }
        let sender = self.to_exporter.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(sender) = sender.as_ref() {
            self.waiting.fetch_add(count, Ordering::AcqRel);
            if sender.send(ToExporter::Batch(spans)).is_err() {
                self.waiting.fetch_sub(count, Ordering::AcqRel);
            }
        }
    }

    /// Sends the partial batch and waits until everything handed over is
    /// exported (at most `timeout`).
    fn flush_within(&self, timeout: Duration) -> OTelSdkResult {
        let partial = std::mem::take(&mut *self.batch.lock().unwrap_or_else(|e| e.into_inner()));
        if !partial.is_empty() {
            self.hand_over(partial);
        }
        let (answer, answered) = sync_channel(1);
        {
            let sender = self.to_exporter.lock().unwrap_or_else(|e| e.into_inner());
            let Some(sender) = sender.as_ref() else {
                return Err(OTelSdkError::AlreadyShutdown);
            };
            if sender.send(ToExporter::Flush(answer)).is_err() {
                return Err(OTelSdkError::InternalFailure(
                    "the span exporting thread is gone".to_string(),
                ));
            }
        }
        answered
            .recv_timeout(timeout)
            .map_err(|_| OTelSdkError::Timeout(timeout))?
    }
}

impl SpanProcessor for SpanBatches {
    fn on_start(&self, _span: &mut Span, _cx: &Context) {}

    fn on_end(&self, span: SpanData) {
        let full = {
            let mut batch = self.batch.lock().unwrap_or_else(|e| e.into_inner());
            batch.push(span);
            (batch.len() >= SPANS_PER_EXPORT)
                .then(|| std::mem::replace(&mut *batch, Vec::with_capacity(SPANS_PER_EXPORT)))
        };
        if let Some(full) = full {
            self.hand_over(full);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.flush_within(Duration::from_secs(30))
    }

    /// Exports what is left, then ends the exporting thread; a second call
    /// answers [`OTelSdkError::AlreadyShutdown`].
    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        let flushed = self.flush_within(timeout);
        if let Err(OTelSdkError::AlreadyShutdown) = flushed {
            return flushed;
        }
        drop(
            self.to_exporter
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .take(),
        );
        let thread = self
            .exporter_thread
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(thread) = thread {
            let _ = thread.join();
        }
        let dropped = self.dropped.load(Ordering::Relaxed);
        if dropped > 0 {
            tracing::warn!(
                dropped,
                "spans were dropped: the OTLP collector did not keep up"
            );
        }
        flushed
    }

    fn set_resource(&mut self, resource: &Resource) {
        let sender = self.to_exporter.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(sender) = sender.as_ref() {
            let _ = sender.send(ToExporter::Resource(resource.clone()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::trace::{Tracer as _, TracerProvider as _};
    use opentelemetry_sdk::trace::SdkTracerProvider;

    /// Records the size of every batch it is asked to export.
    #[derive(Debug, Clone, Default)]
    struct BatchSizes(Arc<Mutex<Vec<usize>>>);

    impl SpanExporter for BatchSizes {
        async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
            self.0.lock().expect("lock").push(batch.len());
            Ok(())
        }
    }

    fn provider_with(sizes: &BatchSizes) -> SdkTracerProvider {
        SdkTracerProvider::builder()
            .with_span_processor(SpanBatches::new(sizes.clone()).expect("exporting thread"))
            .build()
    }

    #[test]
    fn full_batches_leave_at_once_and_the_rest_at_shutdown() {
        let sizes = BatchSizes::default();
        let provider = provider_with(&sizes);
        let tracer = provider.tracer("test");
        for _ in 0..600 {
            tracer.in_span("task", |_| {});
        }
        provider.shutdown().expect("shutdown");
        // [256, 256, 88], unless a stalled machine let the delay pass
        // between two spans (then a partial batch leaves early).
        let sizes = sizes.0.lock().expect("lock").clone();
        assert_eq!(sizes.iter().sum::<usize>(), 600, "{sizes:?}");
        assert!(
            sizes.len() >= 3 && sizes.iter().all(|&n| n <= SPANS_PER_EXPORT),
            "{sizes:?}"
        );
        assert!(matches!(
            provider.shutdown(),
            Err(OTelSdkError::AlreadyShutdown)
        ));
    }

    #[test]
    fn a_batch_that_is_not_full_leaves_after_the_delay() {
        let sizes = BatchSizes::default();
        let provider = provider_with(&sizes);
        let tracer = provider.tracer("test");
        for _ in 0..3 {
            tracer.in_span("task", |_| {});
        }
        // Without a flush: the exporting thread sends it after
        // SPAN_EXPORT_DELAY (generous bound: 20 times that).
        let deadline = std::time::Instant::now() + SPAN_EXPORT_DELAY * 20;
        while sizes.0.lock().expect("lock").is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(*sizes.0.lock().expect("lock"), vec![3]);
        provider.shutdown().expect("shutdown");
    }
}
