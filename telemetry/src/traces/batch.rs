//! Finished spans, queued and exported in batches from one thread.
//!
//! Request tasks only push a finished span onto a bounded queue under a short lock; a
//! dedicated thread takes the queue whole when a batch is full or the schedule delay
//! has passed, and hands it to the OTLP exporter. A full queue drops spans (counted and
//! reported once in a while) rather than slowing requests down or growing without bound.

use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use opentelemetry_sdk::trace::{SpanData, SpanExporter};

/// Limits of the queue and the batches, from the standard `OTEL_BSP_*` variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchConfig {
    /// Spans held at most; more are dropped (`OTEL_BSP_MAX_QUEUE_SIZE`, 2048).
    pub max_queue: usize,
    /// Spans sent in one export at most (`OTEL_BSP_MAX_EXPORT_BATCH_SIZE`, 512).
    pub max_batch: usize,
    /// Longest a span waits for its batch (`OTEL_BSP_SCHEDULE_DELAY`, 5000 ms).
    pub delay: Duration,
}

impl Default for BatchConfig {
    fn default() -> Self {
        BatchConfig {
            max_queue: 2048,
            max_batch: 512,
            delay: Duration::from_millis(5000),
        }
    }
}

impl BatchConfig {
    /// The defaults, overridden by whichever `OTEL_BSP_*` variables hold a number.
    pub fn from_env() -> Self {
        let var = |name: &str| {
            std::env::var(name)
                .ok()
                .and_then(|v| v.trim().parse::<u64>().ok())
                .filter(|v| *v > 0)
        };
        let default = BatchConfig::default();
        let max_queue = var("OTEL_BSP_MAX_QUEUE_SIZE").map_or(default.max_queue, |v| v as usize);
        BatchConfig {
            max_queue,
            // A batch larger than the queue could never fill.
            max_batch: var("OTEL_BSP_MAX_EXPORT_BATCH_SIZE")
                .map_or(default.max_batch, |v| v as usize)
                .min(max_queue),
            delay: var("OTEL_BSP_SCHEDULE_DELAY").map_or(default.delay, Duration::from_millis),
        }
    }
}

#[derive(Debug, Default)]
struct Queue {
    spans: Vec<SpanData>,
    dropped: u64,
    closing: bool,
}

#[derive(Debug)]
struct Shared {
    queue: Mutex<Queue>,
    wake: Condvar,
    config: BatchConfig,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        // A panic while holding this lock leaves a queue of whole spans: still usable.
        self.queue.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The sending side: cheap to clone, held by the span layer.
#[derive(Debug, Clone)]
pub struct Batcher {
    shared: Arc<Shared>,
}

impl Batcher {
    /// Queues one finished span, or drops it when the queue is full.
    pub fn push(&self, span: SpanData) {
        let mut q = self.shared.lock();
        if q.closing || q.spans.len() >= self.shared.config.max_queue {
            q.dropped += 1;
            return;
        }
        q.spans.push(span);
        if q.spans.len() == self.shared.config.max_batch {
            drop(q);
            self.shared.wake.notify_one();
        }
    }
}

#[cfg(test)]
impl Batcher {
    /// A batcher with no export thread, whose queue tests read with [`Batcher::take`].
    pub(crate) fn unstarted() -> Self {
        Batcher {
            shared: Arc::new(Shared {
                queue: Mutex::new(Queue::default()),
                wake: Condvar::new(),
                config: BatchConfig::default(),
            }),
        }
    }

    /// Everything queued so far.
    pub(crate) fn take(&self) -> Vec<SpanData> {
        std::mem::take(&mut self.shared.lock().spans)
    }
}

/// The export thread; dropping it (or [`Exporting::shutdown`]) sends what is queued and
/// shuts the exporter down.
#[derive(Debug)]
pub struct Exporting {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// Starts the export thread. `runtime` drives the exporter's futures: the OTLP/gRPC
/// exporter's connection lives on the Tokio runtime that built it.
pub fn start<E>(
    exporter: E,
    config: BatchConfig,
    runtime: tokio::runtime::Handle,
) -> std::io::Result<(Batcher, Exporting)>
where
    E: SpanExporter + 'static,
{
    let shared = Arc::new(Shared {
        queue: Mutex::new(Queue {
            spans: Vec::with_capacity(config.max_batch),
            ..Queue::default()
        }),
        wake: Condvar::new(),
        config,
    });
    let worker = Arc::clone(&shared);
    let thread = std::thread::Builder::new()
        .name("otlp-spans".into())
        .spawn(move || run(exporter, &worker, &runtime))?;
    Ok((
        Batcher {
            shared: Arc::clone(&shared),
        },
        Exporting {
            shared,
            thread: Some(thread),
        },
    ))
}

fn run<E: SpanExporter>(exporter: E, shared: &Shared, runtime: &tokio::runtime::Handle) {
    let config = shared.config;
    let mut failing = false;
    let mut reported_drops = 0;
    loop {
        let deadline = Instant::now() + config.delay;
        let (batch, dropped, closing) = {
            let mut q = shared.lock();
            while !q.closing && q.spans.len() < config.max_batch {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                q = shared
                    .wake
                    .wait_timeout(q, left)
                    .unwrap_or_else(|p| p.into_inner())
                    .0;
            }
            let batch = std::mem::replace(&mut q.spans, Vec::with_capacity(config.max_batch));
            (batch, q.dropped, q.closing)
        };
        if dropped > reported_drops {
            tracing::warn!(
                dropped = dropped - reported_drops,
                "span queue full; spans dropped"
            );
            reported_drops = dropped;
        }
        for chunk in chunks(batch, config.max_batch) {
            // Errors are reported when exporting starts or stops failing, not per batch.
            match runtime.block_on(exporter.export(chunk)) {
                Ok(()) if failing => {
                    failing = false;
                    tracing::info!("span export recovered");
                }
                Err(e) if !failing => {
                    failing = true;
                    tracing::warn!(error = %e, "span export failed; retrying with the next batch");
                }
                _ => {}
            }
        }
        if closing {
            let _ = exporter.shutdown();
            return;
        }
    }
}

/// Splits a batch that outgrew `max` while the thread was exporting; each span is
/// moved once.
fn chunks(batch: Vec<SpanData>, max: usize) -> Vec<Vec<SpanData>> {
    if batch.len() <= max {
        return if batch.is_empty() {
            Vec::new()
        } else {
            vec![batch]
        };
    }
    let mut out = Vec::with_capacity(batch.len().div_ceil(max));
    let mut spans = batch.into_iter();
    loop {
        let chunk: Vec<SpanData> = spans.by_ref().take(max).collect();
        if chunk.is_empty() {
            return out;
        }
        out.push(chunk);
    }
}

impl Exporting {
    /// Sends what is queued, shuts the exporter down and waits for the thread.
    pub fn shutdown(&mut self) {
        self.shared.lock().closing = true;
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for Exporting {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use opentelemetry::InstrumentationScope;
    use opentelemetry::trace::{SpanContext, SpanId, SpanKind, Status};
    use opentelemetry_sdk::error::OTelSdkResult;
    use std::time::SystemTime;

    /// Records what it is given, in order.
    #[derive(Debug, Clone, Default)]
    struct Recording {
        batches: Arc<Mutex<Vec<Vec<String>>>>,
        shut: Arc<Mutex<bool>>,
    }

    impl SpanExporter for Recording {
        async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
            let names = batch.into_iter().map(|s| s.name.into_owned()).collect();
            self.batches.lock().unwrap().push(names);
            Ok(())
        }

        fn shutdown(&self) -> OTelSdkResult {
            *self.shut.lock().unwrap() = true;
            Ok(())
        }
    }

    fn span(name: &str) -> SpanData {
        SpanData {
            span_context: SpanContext::NONE,
            parent_span_id: SpanId::INVALID,
            parent_span_is_remote: false,
            span_kind: SpanKind::Internal,
            name: name.to_owned().into(),
            start_time: SystemTime::UNIX_EPOCH,
            end_time: SystemTime::UNIX_EPOCH,
            attributes: Vec::new(),
            dropped_attributes_count: 0,
            events: Default::default(),
            links: Default::default(),
            status: Status::Unset,
            instrumentation_scope: InstrumentationScope::default(),
        }
    }

    fn config(max_queue: usize, max_batch: usize, delay_ms: u64) -> BatchConfig {
        BatchConfig {
            max_queue,
            max_batch,
            delay: Duration::from_millis(delay_ms),
        }
    }

    fn wait_for(rec: &Recording, batches: usize) -> Vec<Vec<String>> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let got = rec.batches.lock().unwrap().clone();
            if got.len() >= batches || Instant::now() > deadline {
                return got;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_full_batch_is_sent_at_once_without_waiting_for_the_delay() {
        let rec = Recording::default();
        let (batcher, _exporting) = start(
            rec.clone(),
            config(100, 3, 60_000),
            tokio::runtime::Handle::current(),
        )
        .unwrap();
        for n in ["a", "b", "c"] {
            batcher.push(span(n));
        }
        let got = tokio::task::spawn_blocking(move || wait_for(&rec, 1))
            .await
            .unwrap();
        assert_eq!(got, vec![vec!["a", "b", "c"]]);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 1)]
    async fn a_partial_batch_goes_after_the_delay_and_shutdown_flushes_the_rest() {
        let rec = Recording::default();
        let (batcher, mut exporting) = start(
            rec.clone(),
            config(100, 50, 50),
            tokio::runtime::Handle::current(),
        )
        .unwrap();
        batcher.push(span("early"));
        let r = rec.clone();
        let got = tokio::task::spawn_blocking(move || wait_for(&r, 1))
            .await
            .unwrap();
        assert_eq!(got, vec![vec!["early"]]);

        batcher.push(span("late"));
        tokio::task::spawn_blocking(move || exporting.shutdown())
            .await
            .unwrap();
        let all: Vec<String> = rec.batches.lock().unwrap().concat();
        assert_eq!(all, ["early", "late"]);
        assert!(*rec.shut.lock().unwrap(), "the exporter was shut down");
        // After shutdown nothing is queued any more.
        batcher.push(span("after"));
        assert_eq!(batcher.shared.lock().spans.len(), 0);
    }

    #[test]
    fn a_full_queue_drops_spans_instead_of_growing() {
        let shared = Arc::new(Shared {
            queue: Mutex::new(Queue::default()),
            wake: Condvar::new(),
            config: config(2, 2, 1000),
        });
        let batcher = Batcher { shared };
        for n in ["a", "b", "c", "d"] {
            batcher.push(span(n));
        }
        let q = batcher.shared.lock();
        assert_eq!(q.spans.len(), 2);
        assert_eq!(q.dropped, 2);
    }

    #[test]
    fn oversized_batches_are_split() {
        let sizes: Vec<usize> = chunks((0..7).map(|_| span("x")).collect(), 3)
            .iter()
            .map(Vec::len)
            .collect();
        assert_eq!(sizes, [3, 3, 1]);
        assert!(chunks(Vec::new(), 3).is_empty());
    }
}
