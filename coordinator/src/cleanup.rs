//! Ending one run of a query on its workers, whatever way it ends, and
//! filing what the workers report about it.

use std::sync::Arc;
use std::time::Instant;

use hayate_protocol::QueryRun;
use hayate_rpc::Channels;

use crate::load::PlacedTasks;
use crate::query::Query;
use crate::registry::QueryRegistry;
use crate::scheduler::cancel_on;

/// Ends a run (attempt) of a query on its workers when dropped, and files
/// their reports under the query.
pub struct CleanupGuard {
    channels: Channels,
    registry: Arc<QueryRegistry>,
    /// `None` once the run has been ended.
    run: Option<Run>,
}

struct Run {
    query: Arc<Query>,
    /// Which run of the query it is, as the workers know it.
    id: QueryRun,
    workers: Vec<String>,
    /// Counted against their workers until the run has ended there.
    placed: PlacedTasks,
}

impl Run {
    /// Stops the run's tasks on its workers; their final reports.
    async fn end(self, channels: &Channels) -> (Arc<Query>, Vec<hayate_protocol::TaskReport>) {
        let reports = cancel_on(channels, &self.id, &self.workers).await;
        drop(self.placed);
        (self.query, reports)
    }
}

impl CleanupGuard {
    pub fn new(
        channels: Channels,
        registry: Arc<QueryRegistry>,
        query: Arc<Query>,
        id: QueryRun,
        placed: PlacedTasks,
    ) -> Self {
        Self {
            channels,
            registry,
            run: Some(Run {
                query,
                id,
                workers: placed.workers(),
                placed,
            }),
        }
    }

    /// Ends the run now, waits for the reports, and closes the record.
    pub async fn finish_now(mut self) {
        let Some(run) = self.run.take() else { return };
        let started = Instant::now();
        let (query, reports) = run.end(&self.channels).await;
        query.time(|t| &mut t.cleanup_us, started.elapsed());
        self.registry.file_reports(&query, reports, true);
    }

    /// Ends a run abandoned because `lost` went away; the query goes on in
    /// another run at once, so its record stays open. The cancels go out in
    /// the background: a cut-off worker would hold up the rerun until its
    /// cancel timed out.
    pub fn abandon(mut self, lost: &str) {
        let Some(run) = self.run.take() else { return };
        self.registry.retried(&run.query, lost);
        let channels = self.channels.clone();
        let registry = Arc::clone(&self.registry);
        tokio::spawn(async move {
            let (query, reports) = run.end(&channels).await;
            registry.file_reports(&query, reports, false);
        });
    }
}

impl Drop for CleanupGuard {
    fn drop(&mut self) {
        let Some(run) = self.run.take() else { return };
        let channels = self.channels.clone();
        let registry = Arc::clone(&self.registry);
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move {
                let (query, reports) = run.end(&channels).await;
                registry.file_reports(&query, reports, true);
            });
        }
    }
}
