//! How queries end, counted for Prometheus: finished, failed or cancelled
//! (the client went away or stopped it), and how long they took. A query
//! is counted once, when the stream its client reads ends or is dropped,
//! so the numbers are what clients saw.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use std::time::Instant;

use hayate_ops_http::prometheus_client::metrics::counter::Counter;
use hayate_ops_http::prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use hayate_ops_http::prometheus_client::registry::Registry;

#[derive(Clone)]
pub struct QueryMetrics {
    finished: Counter,
    failed: Counter,
    cancelled: Counter,
    duration: Histogram,
}

impl Default for QueryMetrics {
    fn default() -> Self {
        Self {
            finished: Counter::default(),
            failed: Counter::default(),
            cancelled: Counter::default(),
            // 5 ms to about 5 minutes, doubling.
            duration: Histogram::new(exponential_buckets(0.005, 2.0, 17)),
        }
    }
}

impl QueryMetrics {
    /// Starts timing a query; its outcome is counted when the last clone of
    /// the returned handle is dropped.
    pub fn start(&self) -> Arc<QueryOutcome> {
        Arc::new(QueryOutcome {
            metrics: self.clone(),
            started: Instant::now(),
            state: AtomicU8::new(RUNNING),
        })
    }

    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "queries_finished",
            "Queries whose results were read to the end",
            self.finished.clone(),
        );
        registry.register(
            "queries_failed",
            "Queries that ended with an error",
            self.failed.clone(),
        );
        registry.register(
            "queries_cancelled",
            "Queries stopped by their client (cancel, disconnect) before the end",
            self.cancelled.clone(),
        );
        registry.register(
            "query_duration_seconds",
            "Time from admission to the end of a query's results",
            self.duration.clone(),
        );
    }
}

const RUNNING: u8 = 0;
const COMPLETE: u8 = 1;
const FAILED: u8 = 2;

/// One query's outcome, recorded on drop.
pub struct QueryOutcome {
    metrics: QueryMetrics,
    started: Instant,
    state: AtomicU8,
}

impl QueryOutcome {
    /// The query returned an error (the first outcome set wins).
    pub fn fail(&self) {
        let _ = self
            .state
            .compare_exchange(RUNNING, FAILED, Ordering::AcqRel, Ordering::Acquire);
    }

    /// The client read the whole result.
    pub fn complete(&self) {
        let _ = self
            .state
            .compare_exchange(RUNNING, COMPLETE, Ordering::AcqRel, Ordering::Acquire);
    }
}

impl Drop for QueryOutcome {
    fn drop(&mut self) {
        let counter = match self.state.load(Ordering::Acquire) {
            COMPLETE => &self.metrics.finished,
            FAILED => &self.metrics.failed,
            _ => &self.metrics.cancelled,
        };
        counter.inc();
        self.metrics
            .duration
            .observe(self.started.elapsed().as_secs_f64());
    }
}
