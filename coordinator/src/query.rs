//! A query's life on the coordinator: planned at `GetFlightInfo`, run at
//! `DoGet`, and cleaned up on every worker when its stream ends, fails or is
//! dropped by the client. The workers answer that cleanup with their tasks'
//! reports, which become the query's record in the history.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::arrow::array::{Array, RecordBatch, UInt64Array};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::ScalarValue;
use datafusion::datasource::sink::DataSinkExec;
use datafusion::error::DataFusionError;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::memory::MemoryStream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::prelude::SessionContext;
use futures::{StreamExt, TryStreamExt};
use hayate_protocol::QueryStats;
use hayate_storage::{IoCounters, StoreRegistry, redact_sql};
use parking_lot::Mutex;

use crate::admission::Admission;
use crate::analyze::analyze_rows;
use crate::attempts::{QueryRun, RetryPolicy, run_with_retries};
use crate::error::CoordinatorError;
use crate::history::QueryHistory;
use crate::membership::Membership;
use crate::metrics::QueryMetrics;
use crate::planning::{Planned, PlannedStatement, plan_statement, session_options};
use crate::running::RunningQueries;
use crate::scheduler::Scheduler;
use hayate_planner::StageGraph;
use hayate_worker::Channels;

/// Planned statements a client has not fetched within this time are dropped.
const PENDING_TTL: Duration = Duration::from_secs(10 * 60);

/// How long a stats request waits for a just-finished query's reports.
const REPORT_WAIT: Duration = Duration::from_secs(5);

struct Pending {
    ctx: SessionContext,
    statement: PlannedStatement,
    created: Instant,
}

/// Plans and runs statements.
pub struct QueryEngine {
    membership: Arc<Membership>,
    scheduler: Scheduler,
    stores: Arc<StoreRegistry>,
    history: Arc<QueryHistory>,
    pending: Mutex<HashMap<String, Pending>>,
    admission: Admission,
    running: RunningQueries,
    limits: QueryLimits,
    metrics: QueryMetrics,
}

/// What the engine is doing now, for `/metrics` and `/readyz`.
pub struct EngineLoad {
    pub running: usize,
    pub queued: usize,
    pub max_running: usize,
}

/// Server-wide limits on queries.
#[derive(Clone, Debug)]
pub struct QueryLimits {
    pub max_running: usize,
    pub max_queued: usize,
    /// Default timeout; a session's `hayate.query_timeout_secs` overrides it.
    pub timeout: Option<Duration>,
}

impl Default for QueryLimits {
    fn default() -> Self {
        Self {
            max_running: 32,
            max_queued: 256,
            timeout: None,
        }
    }
}

impl QueryEngine {
    pub fn new(
        membership: Arc<Membership>,
        stores: Arc<StoreRegistry>,
        limits: QueryLimits,
        channels: Channels,
    ) -> Self {
        Self {
            scheduler: Scheduler::new(Arc::clone(&membership), Arc::clone(&stores), channels),
            membership,
            stores,
            history: Arc::default(),
            pending: Mutex::new(HashMap::new()),
            admission: Admission::new(limits.max_running, limits.max_queued),
            running: RunningQueries::default(),
            limits,
            metrics: QueryMetrics::default(),
        }
    }

    pub fn load(&self) -> EngineLoad {
        EngineLoad {
            running: self.admission.running(),
            queued: self.admission.queued(),
            max_running: self.admission.max_running(),
        }
    }

    pub fn history(&self) -> &QueryHistory {
        &self.history
    }

    pub fn query_metrics(&self) -> &QueryMetrics {
        &self.metrics
    }

    /// Stops a streaming query (a client's `CancelFlightInfo`); false if
    /// it is not running.
    pub fn cancel(&self, id: &str) -> bool {
        self.running.stop(
            id,
            tonic::Status::cancelled("query cancelled by the client"),
        )
    }

    /// The timeout of a query in session `ctx`.
    fn timeout(&self, ctx: &SessionContext) -> Option<Duration> {
        let session = session_options(ctx).query_timeout_secs;
        match session {
            0 => self.limits.timeout,
            secs => Some(Duration::from_secs(secs)),
        }
    }

    /// Plans `sql` with the `parameters` bound to its placeholders (if any)
    /// and keeps it for a `DoGet`; returns its id and answer schema.
    pub async fn plan(
        &self,
        ctx: &SessionContext,
        sql: &str,
        parameters: Option<Vec<ScalarValue>>,
    ) -> Result<(String, SchemaRef), CoordinatorError> {
        // A statement that cannot be planned is a failed query too.
        let (id, schema, writes) = self
            .plan_statement(ctx, sql, parameters)
            .await
            .inspect_err(|_| self.metrics.start().fail())?;
        if writes {
            // A write runs when it is submitted, as in a database: a client
            // that never fetches its answer (ADBC's `execute` of an INSERT)
            // still has its rows written, and hears of a failure at once.
            let written: Vec<RecordBatch> = self.execute(&id).await?.try_collect().await?;
            self.pending.lock().insert(
                id.clone(),
                Pending {
                    ctx: ctx.clone(),
                    statement: PlannedStatement {
                        schema: Arc::clone(&schema),
                        planned: Planned::Written(written),
                        split_time: Duration::ZERO,
                    },
                    created: Instant::now(),
                },
            );
        }
        Ok((id, schema))
    }

    async fn plan_statement(
        &self,
        ctx: &SessionContext,
        sql: &str,
        parameters: Option<Vec<ScalarValue>>,
    ) -> Result<(String, SchemaRef, bool), CoordinatorError> {
        let workers = self.membership.live().len();
        let started = Instant::now();
        let io = Arc::new(IoCounters::default());
        let statement = plan_statement(ctx, &self.stores, sql, parameters, workers, &io)
            .await
            .map_err(CoordinatorError::Planning)?;
        let id = uuid::Uuid::new_v4().to_string();
        let schema = Arc::clone(&statement.schema);
        let writes = matches!(&statement.planned, Planned::Stages(graph) if writes_output(graph));
        self.history
            .begin(&id, io, started.elapsed(), statement.split_time);
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
            sql = %redact_sql(sql),
            elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
            "planned"
        );
        Ok((id, schema, writes))
    }

    pub async fn execute(&self, id: &str) -> Result<SendableRecordBatchStream, CoordinatorError> {
        let pending = self
            .pending
            .lock()
            .remove(id)
            .ok_or_else(|| CoordinatorError::UnknownStatement(id.to_string()))?;
        let schema = Arc::clone(&pending.statement.schema);
        // A write ran when it was planned: its record is complete.
        if !matches!(pending.statement.planned, Planned::Written(_)) {
            self.history
                .time(id, |t| &mut t.ticket_wait_us, pending.created.elapsed());
        }
        match pending.statement.planned {
            Planned::Written(batches) => {
                Ok(Box::pin(MemoryStream::try_new(batches, schema, None)?))
            }
            Planned::Rows(batches) => {
                self.history.finish(id, Vec::new());
                self.metrics.start().complete();
                Ok(Box::pin(MemoryStream::try_new(batches, schema, None)?))
            }
            Planned::Stages(graph) => {
                let outcome = self.metrics.start();
                let queued = Instant::now();
                let slot = self
                    .admission
                    .admit()
                    .await
                    .inspect_err(|_| outcome.fail())?;
                self.history
                    .time(id, |t| &mut t.queued_us, queued.elapsed());
                let timeout = self.timeout(&pending.ctx);
                let result = self.run(id, Arc::new(graph), pending.ctx);
                let history = Arc::clone(&self.history);
                let query_id = id.to_string();
                let failed = Arc::clone(&outcome);
                let stream = self
                    .running
                    .track(id, timeout, result)
                    .map(move |batch| {
                        let _slot = &slot;
                        if batch.is_err() {
                            history.fail(&query_id);
                            failed.fail();
                        }
                        batch
                    })
                    // Reached only when the client has read to the end.
                    .chain(
                        futures::stream::once(async move { outcome.complete() })
                            .filter_map(|()| futures::future::ready(None)),
                    );
                Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
            }
            Planned::Analyze(graph) => {
                let outcome = self.metrics.start();
                let _slot = self
                    .admission
                    .admit()
                    .await
                    .inspect_err(|_| outcome.fail())?;
                let started = Instant::now();
                let graph = Arc::new(graph);
                let timeout = self.timeout(&pending.ctx);
                let result = self.run(id, Arc::clone(&graph), pending.ctx);
                let rows = self
                    .running
                    .track(id, timeout, result)
                    .try_fold(0usize, |n, b| async move { Ok(n + b.num_rows()) })
                    .await
                    .inspect_err(|_| {
                        self.history.fail(id);
                        outcome.fail();
                    })?;
                outcome.complete();
                let stats = self.stats(id).await.unwrap_or_default();
                let batches = analyze_rows(&graph, &stats, rows, started.elapsed())?;
                Ok(Box::pin(MemoryStream::try_new(batches, schema, None)?))
            }
        }
    }

    /// Runs a planned query on the workers, again if workers are lost.
    fn run(
        &self,
        id: &str,
        graph: Arc<StageGraph>,
        ctx: SessionContext,
    ) -> impl futures::Stream<Item = Result<RecordBatch, DataFusionError>> + Send + 'static {
        let options = session_options(&ctx);
        // A write is not repeatable: a rerun would add its files again.
        let max_attempts = if writes_output(&graph) {
            1
        } else {
            options.query_attempts.max(1)
        };
        run_with_retries(QueryRun {
            query_id: id.to_string(),
            graph,
            ctx,
            scheduler: self.scheduler.clone(),
            membership: Arc::clone(&self.membership),
            history: Arc::clone(&self.history),
            policy: RetryPolicy {
                max_attempts,
                hold_back_bytes: options.retry_buffer_bytes as usize,
            },
        })
    }

    /// What query `id` did, once its workers have reported (or after a
    /// few seconds, with what has arrived).
    pub async fn stats(&self, id: &str) -> Option<QueryStats> {
        self.history.stats(id, REPORT_WAIT).await
    }

    pub async fn run_update(
        &self,
        ctx: &SessionContext,
        sql: &str,
        parameters: Option<Vec<ScalarValue>>,
    ) -> Result<i64, CoordinatorError> {
        let (id, _) = self.plan(ctx, sql, parameters).await?;
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

/// Whether any stage of `graph` writes files (`COPY`, `INSERT INTO` a
/// listing table).
fn writes_output(graph: &StageGraph) -> bool {
    fn writes(plan: &Arc<dyn ExecutionPlan>) -> bool {
        plan.downcast_ref::<DataSinkExec>().is_some() || plan.children().into_iter().any(writes)
    }
    graph.stages.iter().any(|stage| writes(&stage.plan))
}
