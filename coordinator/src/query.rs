//! A query's life on the coordinator: planned at `GetFlightInfo`, run at
//! `DoGet`, and cleaned up on every worker when its stream ends, fails or is
//! dropped by the client.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::arrow::array::{Array, UInt64Array};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::physical_plan::memory::MemoryStream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::prelude::SessionContext;
use futures::{StreamExt, TryStreamExt};
use parking_lot::Mutex;

use crate::error::CoordinatorError;
use crate::membership::Membership;
use crate::planning::{Planned, PlannedStatement, plan_statement};
use crate::scheduler::{Scheduler, cancel_on};
use hayate_worker::Channels;

/// Planned statements a client has not fetched within this time are dropped.
const PENDING_TTL: Duration = Duration::from_secs(10 * 60);

struct Pending {
    ctx: SessionContext,
    statement: PlannedStatement,
    created: Instant,
}

/// Plans and runs statements.
pub struct QueryEngine {
    membership: Arc<Membership>,
    scheduler: Scheduler,
    pending: Mutex<HashMap<String, Pending>>,
}

impl QueryEngine {
    pub fn new(membership: Arc<Membership>) -> Self {
        Self {
            scheduler: Scheduler::new(Arc::clone(&membership)),
            membership,
            pending: Mutex::new(HashMap::new()),
        }
    }

    /// Plans `sql` and keeps it until the client fetches it; returns the
    /// query id (the statement handle) and the answer's schema.
    pub async fn plan(
        &self,
        ctx: &SessionContext,
        sql: &str,
    ) -> Result<(String, SchemaRef), CoordinatorError> {
        let workers = self.membership.live().len();
        let started = Instant::now();
        let statement = plan_statement(ctx, sql, workers).await?;
        let id = uuid::Uuid::new_v4().to_string();
        let schema = Arc::clone(&statement.schema);
        let mut pending = self.pending.lock();
        pending.retain(|_, p| p.created.elapsed() < PENDING_TTL);
        pending.insert(
            id.clone(),
            Pending {
                ctx: ctx.clone(),
                statement,
                created: Instant::now(),
            },
        );
        tracing::debug!(
            query_id = %id,
            sql,
            elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
            "planned"
        );
        Ok((id, schema))
    }

    /// Runs a planned statement; each handle runs once.
    pub async fn execute(&self, id: &str) -> Result<SendableRecordBatchStream, CoordinatorError> {
        let pending = self
            .pending
            .lock()
            .remove(id)
            .ok_or_else(|| CoordinatorError::UnknownStatement(id.to_string()))?;
        let schema = Arc::clone(&pending.statement.schema);
        match pending.statement.planned {
            Planned::Rows(batches) => Ok(Box::pin(MemoryStream::try_new(batches, schema, None)?)),
            Planned::Stages(graph) => {
                let running = self.scheduler.start(id, &graph, &pending.ctx).await?;
                let guard = CleanupGuard {
                    channels: self.scheduler.channels().clone(),
                    query_id: id.to_string(),
                    workers: running.workers,
                };
                let stream = running.stream.map(move |batch| {
                    let _alive = &guard;
                    batch
                });
                Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
            }
        }
    }

    /// Plans and runs `sql` to the end; returns the rows it changed (the
    /// `count` of an INSERT), or 0 for DDL.
    pub async fn run_update(
        &self,
        ctx: &SessionContext,
        sql: &str,
    ) -> Result<i64, CoordinatorError> {
        let (id, _) = self.plan(ctx, sql).await?;
        let batches: Vec<_> = self.execute(&id).await?.try_collect().await?;
        let mut count = 0i64;
        for batch in &batches {
            if let Some(col) = batch.column_by_name("count")
                && let Some(counts) = col.as_any().downcast_ref::<UInt64Array>()
            {
                count += counts.iter().flatten().sum::<u64>() as i64;
            }
        }
        Ok(count)
    }
}

/// Cancels the query's tasks on its workers when the client's stream goes
/// away, whether it finished, failed or was dropped mid-way.
struct CleanupGuard {
    channels: Channels,
    query_id: String,
    workers: Vec<String>,
}

impl Drop for CleanupGuard {
    fn drop(&mut self) {
        if self.workers.is_empty() {
            return;
        }
        let query_id = std::mem::take(&mut self.query_id);
        let workers = std::mem::take(&mut self.workers);
        let channels = self.channels.clone();
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            handle.spawn(async move { cancel_on(&channels, &query_id, &workers).await });
        }
    }
}
