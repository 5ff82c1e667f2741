//! The batching of the export's spans: finished spans (already encoded as
//! OTLP protobuf, see `span_encoding`) are gathered in batches of [`SPANS_PER_EXPORT`] and
//! each full batch goes to an exporting thread, so spans leave while the
//! run goes on; a batch that is not full leaves when no full one came for
//! [`SPAN_EXPORT_DELAY`]. It exists because the SDK's tracer pipeline
//! (`Span` objects, `SpanData`, its `BatchSpanProcessor` and the exporter's
//! regrouping) cost about 9 µs of CPU a span, more than the 5% a run may
//! pay; memory grows with the spans waiting, up to [`MAX_SPANS_WAITING`].

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{channel, sync_channel, RecvTimeoutError, Sender, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

/// Ended spans per export request: small enough that a busy run's spans
/// leave in several requests while it goes on, not all at its end.
pub(crate) const SPANS_PER_EXPORT: usize = 256;

/// The longest an ended span waits for export while the run goes on.
pub(crate) const SPAN_EXPORT_DELAY: Duration = Duration::from_millis(500);

/// Spans handed to the exporting thread and not yet sent, at most; more
/// are dropped (with one warning) when the collector cannot keep up.
pub(crate) const MAX_SPANS_WAITING: usize = 256 * 1024;

/// Sends one batch of spans (one OTLP request); an error says why not.
pub(crate) type SendSpans<Span> = Box<dyn FnMut(Vec<Span>) -> Result<(), String> + Send>;

/// Work the exporting thread also does every so often while the run goes
/// on, and once more at shutdown, after the last spans (the export sends
/// its metrics so, on the spans' connection).
pub(crate) struct PeriodicWork {
    pub(crate) every: Duration,
    pub(crate) work: Box<dyn FnMut() + Send>,
}

/// What the exporting thread is asked to do.
enum ToExporter<Span> {
    Batch(Vec<Span>),
    /// Answer once every batch sent before is exported: with the first
    /// export error since the last flush, if any.
    Flush(SyncSender<Result<(), String>>),
}

/// Batches ended spans and hands them to an exporting thread.
#[derive(Debug)]
pub(crate) struct SpanBatches<Span> {
    /// The batch being filled (the exporting thread takes it when it is
    /// not full after [`SPAN_EXPORT_DELAY`]).
    batch: Arc<Mutex<Vec<Span>>>,
    to_exporter: Mutex<Option<Sender<ToExporter<Span>>>>,
    exporter_thread: Mutex<Option<JoinHandle<()>>>,
    /// Spans handed to the exporting thread and not yet exported.
    waiting: Arc<AtomicUsize>,
    dropped: AtomicUsize,
}

/// Sends `spans` on this thread; keeps the first error for the next flush.
fn export_now<Span>(
    send: &mut SendSpans<Span>,
    spans: Vec<Span>,
    first_error: &mut Option<String>,
) {
    let count = spans.len();
    if let Err(e) = send(spans) {
        tracing::warn!(error = %e, spans = count, "could not export spans");
        first_error.get_or_insert(e);
    }
}

impl<Span: Send + 'static> SpanBatches<Span> {
    /// Starts the exporting thread, which sends each batch with `send` and
    /// does `periodic` work, if any, while the run goes on.
    pub(crate) fn new(
        mut send: SendSpans<Span>,
        mut periodic: Option<PeriodicWork>,
    ) -> std::io::Result<SpanBatches<Span>> {
        let (to_exporter, messages) = channel::<ToExporter<Span>>();
        let waiting = Arc::new(AtomicUsize::new(0));
        let waiting_in_thread = Arc::clone(&waiting);
        let batch = Arc::new(Mutex::new(Vec::with_capacity(SPANS_PER_EXPORT)));
        let batch_in_thread = Arc::clone(&batch);
        let exporter_thread = std::thread::Builder::new()
            .name("tkr-otlp-spans".to_string())
            .spawn(move || {
                let mut first_error: Option<String> = None;
                let mut last_periodic = std::time::Instant::now();
                loop {
                    if let Some(periodic) = periodic.as_mut() {
                        if last_periodic.elapsed() >= periodic.every {
                            (periodic.work)();
                            last_periodic = std::time::Instant::now();
                        }
                    }
                    match messages.recv_timeout(SPAN_EXPORT_DELAY) {
                        Ok(ToExporter::Batch(spans)) => {
                            let count = spans.len();
                            export_now(&mut send, spans, &mut first_error);
                            waiting_in_thread.fetch_sub(count, Ordering::AcqRel);
                        }
                        Ok(ToExporter::Flush(answer)) => {
                            let _ = answer.send(first_error.take().map_or(Ok(()), Err));
                        }
                        Err(RecvTimeoutError::Timeout) => {
                            let partial = std::mem::take(
                                &mut *batch_in_thread.lock().unwrap_or_else(|e| e.into_inner()),
                            );
                            if !partial.is_empty() {
                                export_now(&mut send, partial, &mut first_error);
                            }
                        }
                        Err(RecvTimeoutError::Disconnected) => break,
                    }
                }
                if let Some(periodic) = periodic.as_mut() {
                    (periodic.work)();
                }
            })?;
        Ok(SpanBatches {
            batch,
            to_exporter: Mutex::new(Some(to_exporter)),
            exporter_thread: Mutex::new(Some(exporter_thread)),
            waiting,
            dropped: AtomicUsize::new(0),
        })
    }

    /// Adds an ended span; a full batch goes to the exporting thread.
    pub(crate) fn push(&self, span: Span) {
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

    /// Hands `spans` to the exporting thread (or drops them when too many
    /// wait already, or the thread is gone).
    fn hand_over(&self, spans: Vec<Span>) {
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
    fn flush_within(&self, timeout: Duration) -> Result<(), String> {
        let partial = std::mem::take(&mut *self.batch.lock().unwrap_or_else(|e| e.into_inner()));
        if !partial.is_empty() {
            self.hand_over(partial);
        }
        let (answer, answered) = sync_channel(1);
        {
            let sender = self.to_exporter.lock().unwrap_or_else(|e| e.into_inner());
            let Some(sender) = sender.as_ref() else {
                return Err("the span export is already shut down".to_string());
            };
            if sender.send(ToExporter::Flush(answer)).is_err() {
                return Err("the span exporting thread is gone".to_string());
            }
        }
        answered
            .recv_timeout(timeout)
            .map_err(|_| format!("the span export took more than {timeout:?}"))?
    }

    /// Exports what is left, then ends the exporting thread; a second call
    /// answers an error (already shut down).
    pub(crate) fn shutdown_within(&self, timeout: Duration) -> Result<(), String> {
        let flushed = self.flush_within(timeout);
        let sender = self
            .to_exporter
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if sender.is_none() {
            return flushed;
        }
        drop(sender);
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
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A span of the tests.
    #[derive(Debug)]
    struct Span;

    /// Batches that record the size of every batch they are asked to send.
    fn batches_with_sizes() -> (SpanBatches<Span>, Arc<Mutex<Vec<usize>>>) {
        let sizes = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&sizes);
        let batches = SpanBatches::new(
            Box::new(move |spans: Vec<Span>| {
                seen.lock().expect("lock").push(spans.len());
                Ok(())
            }),
            None,
        )
        .expect("exporting thread");
        (batches, sizes)
    }

    #[test]
    fn full_batches_leave_at_once_and_the_rest_at_shutdown() {
        let (batches, sizes) = batches_with_sizes();
        for _ in 0..600 {
            batches.push(Span);
        }
        batches
            .shutdown_within(Duration::from_secs(30))
            .expect("shutdown");
        // [256, 256, 88], unless a stalled machine let the delay pass
        // between two spans (then a partial batch leaves early).
        let sizes = sizes.lock().expect("lock").clone();
        assert_eq!(sizes.iter().sum::<usize>(), 600, "{sizes:?}");
        assert!(
            sizes.len() >= 3 && sizes.iter().all(|&n| n <= SPANS_PER_EXPORT),
            "{sizes:?}"
        );
        assert!(batches.shutdown_within(Duration::from_secs(1)).is_err());
    }

    #[test]
    fn a_batch_that_is_not_full_leaves_after_the_delay() {
        let (batches, sizes) = batches_with_sizes();
        for _ in 0..3 {
            batches.push(Span);
        }
        // Without a flush: the exporting thread sends it after
        // SPAN_EXPORT_DELAY (generous bound: 20 times that).
        let deadline = std::time::Instant::now() + SPAN_EXPORT_DELAY * 20;
        while sizes.lock().expect("lock").is_empty() && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(*sizes.lock().expect("lock"), vec![3]);
        batches
            .shutdown_within(Duration::from_secs(30))
            .expect("shutdown");
    }

    #[test]
    fn periodic_work_is_done_while_the_thread_runs() {
        let done = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&done);
        let batches = SpanBatches::<Span>::new(
            Box::new(|_spans| Ok(())),
            Some(PeriodicWork {
                every: Duration::from_millis(1),
                work: Box::new(move || {
                    counter.fetch_add(1, Ordering::Relaxed);
                }),
            }),
        )
        .expect("exporting thread");
        // The thread wakes at least every SPAN_EXPORT_DELAY: wait for two
        // rounds of work (generous bound: 20 delays).
        let deadline = std::time::Instant::now() + SPAN_EXPORT_DELAY * 20;
        while done.load(Ordering::Relaxed) < 2 && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(done.load(Ordering::Relaxed) >= 2);
        // Once more at shutdown.
        let before = done.load(Ordering::Relaxed);
        batches
            .shutdown_within(Duration::from_secs(30))
            .expect("shutdown");
        assert!(done.load(Ordering::Relaxed) > before);
    }

    #[test]
    fn a_failed_send_is_answered_at_shutdown() {
        let batches = SpanBatches::new(
            Box::new(|_spans: Vec<Span>| Err("collector refused".to_string())),
            None,
        )
        .expect("exporting thread");
        batches.push(Span);
        assert_eq!(
            batches.shutdown_within(Duration::from_secs(30)),
            Err("collector refused".to_string())
        );
    }
}
