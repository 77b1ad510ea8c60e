//! How queries end, counted for Prometheus: finished, failed or cancelled
//! (the client went away or stopped it), and how long they took from
//! submission. A query is counted once, by its own state machine when it
//! ends (see [`crate::query::Query`]), so these numbers and
//! `system.queries` never tell two stories.

use std::time::Duration;

use hayate_ops_http::prometheus_client::metrics::counter::Counter;
use hayate_ops_http::prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use hayate_ops_http::prometheus_client::registry::Registry;

use crate::query::QueryState;

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
    /// Counts a query that ended in `state` after `took`.
    pub fn record(&self, state: &QueryState, took: Duration) {
        let counter = match state {
            QueryState::Finished => &self.finished,
            QueryState::Failed { .. } => &self.failed,
            _ => &self.cancelled,
        };
        counter.inc();
        self.duration.observe(took.as_secs_f64());
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
            "Time from a query's submission to its end",
            self.duration.clone(),
        );
    }
}
