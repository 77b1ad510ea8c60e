//! Ending one run of a query on its workers, whatever way it ends, and
//! filing what the workers report about it.

use std::sync::Arc;
use std::time::Instant;

use hayate_worker::Channels;

use crate::history::QueryHistory;
use crate::load::PlacedTasks;
use crate::scheduler::cancel_on;

/// Ends a run (attempt) of a query on its workers when dropped, and files
/// their reports under the query.
pub struct CleanupGuard {
    channels: Channels,
    history: Arc<QueryHistory>,
    /// The query, as clients and the history know it.
    query_id: String,
    /// The run's id on the workers (the query id, or a rerun's own id).
    attempt_id: String,
    workers: Vec<String>,
    /// Counted against their workers until the run has ended there.
    placed: Option<PlacedTasks>,
}

impl CleanupGuard {
    pub fn new(
        channels: Channels,
        history: Arc<QueryHistory>,
        query_id: &str,
        attempt_id: &str,
        placed: PlacedTasks,
    ) -> Self {
        Self {
            channels,
            history,
            query_id: query_id.to_string(),
            attempt_id: attempt_id.to_string(),
            workers: placed.workers(),
            placed: Some(placed),
        }
    }

    /// Ends the run now, waits for the reports, and closes the record.
    pub async fn finish_now(mut self) {
        let (query_id, attempt_id, workers, placed) = self.take();
        let started = Instant::now();
        let reports = cancel_on(&self.channels, &attempt_id, &workers).await;
        drop(placed);
        self.history
            .time(&query_id, |t| &mut t.cleanup_us, started.elapsed());
        self.history.finish(&query_id, reports);
    }

    /// Ends a run abandoned because `lost` went away; the query goes on in
    /// another run at once, so its record stays open. The cancels go out in
    /// the background: a cut-off worker would hold up the rerun until its
    /// cancel timed out.
    pub fn abandon(mut self, lost: &str) {
        let (query_id, attempt_id, workers, placed) = self.take();
        self.history.retried(&query_id, lost);
        let channels = self.channels.clone();
        let history = Arc::clone(&self.history);
        tokio::spawn(async move {
            let reports = cancel_on(&channels, &attempt_id, &workers).await;
            drop(placed);
            history.add_reports(&query_id, reports);
        });
    }

    fn take(&mut self) -> (String, String, Vec<String>, Option<PlacedTasks>) {
        (
            std::mem::take(&mut self.query_id),
            std::mem::take(&mut self.attempt_id),
            std::mem::take(&mut self.workers),
            self.placed.take(),
        )
    }
}

impl Drop for CleanupGuard {
    fn drop(&mut self) {
        if self.query_id.is_empty() {
            return;
        }
        let (query_id, attempt_id, workers, placed) = self.take();
        let channels = self.channels.clone();
        let history = Arc::clone(&self.history);
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                let reports = cancel_on(&channels, &attempt_id, &workers).await;
                drop(placed);
                history.finish(&query_id, reports);
            });
        }
    }
}
