//! A query's life on the coordinator: planned at `GetFlightInfo`, run at
//! `DoGet`, and cleaned up on every worker when its stream ends, fails or is
//! dropped by the client. The workers answer that cleanup with their tasks'
//! reports, which become the query's record in the history.

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
use hayate_protocol::{QueryProgress, QueryStats};
use hayate_storage::{IoCounters, StoreRegistry, redact_sql};
use tracing::Instrument;

use crate::admission::Admission;
use crate::analyze::analyze_rows;
use crate::attempts::{RetryPolicy, Runs, run_with_retries};
use crate::catalog_sync::CatalogSync;
use crate::error::CoordinatorError;
use crate::membership::{Capacity, Membership};
use crate::metrics::QueryMetrics;
use crate::planning::{Planned, PlannedStatement, plan_statement, session_options};
use crate::query::{Pending, Query, Submitter};
use crate::registry::QueryRegistry;
use crate::scheduler::Scheduler;
use crate::stopping::stoppable;
use hayate_planner::StageGraph;
use hayate_rpc::Channels;

/// How long a stats request waits for a just-finished query's reports.
const REPORT_WAIT: Duration = Duration::from_secs(5);

/// Plans and runs statements.
pub struct QueryEngine {
    membership: Arc<Membership>,
    scheduler: Scheduler,
    stores: Arc<StoreRegistry>,
    registry: Arc<QueryRegistry>,
    admission: Admission,
    limits: QueryLimits,
    metrics: QueryMetrics,
    /// The shared catalog log, when the catalog is kept in object storage.
    catalog_sync: std::sync::OnceLock<Arc<CatalogSync>>,
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
            registry: Arc::default(),
            admission: Admission::new(limits.max_running, limits.max_queued),
            limits,
            metrics: QueryMetrics::default(),
            catalog_sync: std::sync::OnceLock::new(),
        }
    }

    /// Table and view definitions are kept in, and followed from, the
    /// shared catalog log.
    pub fn follow_catalog(&self, sync: Arc<CatalogSync>) {
        let _ = self.catalog_sync.set(sync);
    }

    pub fn load(&self) -> EngineLoad {
        EngineLoad {
            running: self.admission.running(),
            queued: self.admission.queued(),
            max_running: self.admission.max_running(),
        }
    }

    pub fn registry(&self) -> &Arc<QueryRegistry> {
        &self.registry
    }

    pub fn membership(&self) -> &Arc<Membership> {
        &self.membership
    }

    pub fn query_metrics(&self) -> &QueryMetrics {
        &self.metrics
    }

    /// Stops a query (a client's `CancelFlightInfo`, the web UI); false if
    /// it is unknown or already over.
    pub fn cancel(&self, id: &str, by: &str) -> bool {
        self.registry.cancel(id, by)
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
        submitter: &Submitter,
        sql: &str,
        parameters: Option<Vec<ScalarValue>>,
    ) -> Result<(String, SchemaRef), CoordinatorError> {
        let submitted = self.submit(ctx, submitter, sql, parameters).await?;
        Ok((submitted.id, submitted.schema))
    }

    /// As [`Self::plan`], also saying whether planning the statement again
    /// would give the same answer (a read-only query) or not (a write,
    /// DDL, `SET`: they take effect when planned).
    pub async fn submit(
        &self,
        ctx: &SessionContext,
        submitter: &Submitter,
        sql: &str,
        parameters: Option<Vec<ScalarValue>>,
    ) -> Result<Submitted, CoordinatorError> {
        let PlannedQuery {
            query,
            schema,
            writes,
            replayable,
        } = self.plan_statement(ctx, submitter, sql, parameters).await?;
        if writes {
            // A write runs when it is submitted, as in a database: a client
            // that never fetches its answer (ADBC's `execute` of an INSERT)
            // still has its rows written, and hears of a failure at once.
            let written: Vec<RecordBatch> = self.execute(&query.id).await?.try_collect().await?;
            query.keep_answer(Pending {
                ctx: ctx.clone(),
                statement: PlannedStatement {
                    schema: Arc::clone(&schema),
                    planned: Planned::Written(written),
                    split_time: Duration::ZERO,
                },
            });
        }
        Ok(Submitted {
            id: query.id.clone(),
            schema,
            replayable,
        })
    }

    async fn plan_statement(
        &self,
        ctx: &SessionContext,
        submitter: &Submitter,
        sql: &str,
        parameters: Option<Vec<ScalarValue>>,
    ) -> Result<PlannedQuery, CoordinatorError> {
        let capacity = Capacity::of(&self.membership.live());
        let started = Instant::now();
        let io = Arc::new(IoCounters::default());
        let query = Arc::new(
            Query::new(
                uuid::Uuid::new_v4().to_string(),
                redact_sql(sql),
                submitter.clone(),
                Arc::clone(&io),
            )
            .counted_in(self.metrics.clone()),
        );
        self.registry.add(Arc::clone(&query));
        // A change to the shared catalog is checked before it runs here.
        let catalog_change = match self.catalog_sync.get() {
            Some(sync) => sync.change_of(sql),
            None => Ok(None),
        };
        let planning = async {
            let change = catalog_change?;
            // Held from before the change runs here until it is in the log.
            let held = match (&change, self.catalog_sync.get()) {
                (Some(_), Some(sync)) => Some(sync.hold().await),
                _ => None,
            };
            let statement =
                plan_statement(ctx, &self.stores, sql, parameters, capacity, &io).await?;
            Ok::<_, DataFusionError>((statement, change.zip(held)))
        };
        let (statement, change) = match planning.instrument(query.span()).await {
            Ok(statement) => statement,
            // A statement that cannot be planned is a failed query too.
            Err(e) => {
                query.failed(&e.to_string());
                self.registry.file_reports(&query, Vec::new(), true);
                return Err(CoordinatorError::Planning(e));
            }
        };
        if let (Some(sync), Some((change, held))) = (self.catalog_sync.get(), change)
            && let Err(e) = sync.record(change, held).await
        {
            let e = CoordinatorError::Catalog(e);
            query.failed(&e.to_string());
            self.registry.file_reports(&query, Vec::new(), true);
            return Err(e);
        }
        let schema = Arc::clone(&statement.schema);
        let writes = matches!(&statement.planned, Planned::Stages(graph) if writes_output(graph));
        let replayable = !writes && matches!(&statement.planned, Planned::Stages(_));
        let split = statement.split_time;
        query.planned(
            Pending {
                ctx: ctx.clone(),
                statement,
            },
            started.elapsed(),
            split,
        );
        tracing::debug!(
            query_id = %query.id,
            sql = %query.sql,
            elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
            "planned"
        );
        Ok(PlannedQuery {
            query,
            schema,
            writes,
            replayable,
        })
    }

    pub async fn execute(&self, id: &str) -> Result<SendableRecordBatchStream, CoordinatorError> {
        let unknown = || CoordinatorError::UnknownStatement(id.to_string());
        let query = self.registry.get(id).ok_or_else(unknown)?;
        let pending = query.take_pending().ok_or_else(unknown)?;
        // Cancelled between its planning and its `DoGet`.
        if let Some(reason) = query.stop_reason() {
            query.failed(&reason.to_string());
            self.registry.file_reports(&query, Vec::new(), true);
            return Err(CoordinatorError::Stopped(reason));
        }
        let schema = Arc::clone(&pending.statement.schema);
        match pending.statement.planned {
            // A write ran when it was planned: its record is complete.
            Planned::Written(batches) => {
                Ok(Box::pin(MemoryStream::try_new(batches, schema, None)?))
            }
            Planned::Rows(batches) => {
                query.count_rows(batches.iter().map(|b| b.num_rows()).sum());
                query.finished();
                self.registry.file_reports(&query, Vec::new(), true);
                Ok(Box::pin(MemoryStream::try_new(batches, schema, None)?))
            }
            Planned::Stages(graph) => {
                let end = QueryEnd::new(&query, &self.registry);
                let slot = self.admit(&query).await.inspect_err(|e| end.refused(e))?;
                let timeout = self.timeout(&pending.ctx);
                let result = self.run(&query, Arc::new(graph), pending.ctx);
                let at_end = Arc::clone(&end);
                let stream = stoppable(Arc::clone(&query), timeout, result)
                    .map(move |batch| {
                        let _slot = &slot;
                        match &batch {
                            Ok(batch) => end.query.count_rows(batch.num_rows()),
                            Err(e) => end.failed(e),
                        }
                        batch
                    })
                    // Reached only when the client has read to the end.
                    .chain(
                        futures::stream::once(async move { at_end.finished() })
                            .filter_map(|()| futures::future::ready(None)),
                    );
                Ok(Box::pin(RecordBatchStreamAdapter::new(schema, stream)))
            }
            Planned::Analyze(graph) => {
                let end = QueryEnd::new(&query, &self.registry);
                let _slot = self.admit(&query).await.inspect_err(|e| end.refused(e))?;
                let started = Instant::now();
                let graph = Arc::new(graph);
                let timeout = self.timeout(&pending.ctx);
                let result = self.run(&query, Arc::clone(&graph), pending.ctx);
                let rows = stoppable(Arc::clone(&query), timeout, result)
                    .try_fold(0usize, |n, b| async move { Ok(n + b.num_rows()) })
                    .await
                    .inspect_err(|e| end.failed(e))?;
                end.finished();
                let stats = self.stats(id).await.unwrap_or_default();
                let batches = analyze_rows(&graph, &stats, rows, started.elapsed())?;
                query.count_rows(batches.iter().map(|b| b.num_rows()).sum());
                Ok(Box::pin(MemoryStream::try_new(batches, schema, None)?))
            }
        }
    }

    /// A slot for `query`, after waiting in the queue if all are taken.
    async fn admit(&self, query: &Query) -> Result<crate::admission::Slot, CoordinatorError> {
        query.queued();
        let queued = Instant::now();
        let slot = self.admission.admit().await?;
        query.time(|t| &mut t.queued_us, queued.elapsed());
        Ok(slot)
    }

    /// Runs a planned query on the workers, again if workers are lost.
    fn run(
        &self,
        query: &Arc<Query>,
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
        run_with_retries(Runs {
            query: Arc::clone(query),
            graph,
            ctx,
            scheduler: self.scheduler.clone(),
            membership: Arc::clone(&self.membership),
            registry: Arc::clone(&self.registry),
            policy: RetryPolicy {
                max_attempts,
                hold_back_bytes: options.retry_buffer_bytes as usize,
            },
        })
    }

    /// Where query `id` is now, at once.
    pub fn progress(&self, id: &str) -> Option<QueryProgress> {
        Some(self.registry.get(id)?.progress())
    }

    /// What query `id` did, once its workers have reported (or after a
    /// few seconds, with what has arrived).
    pub async fn stats(&self, id: &str) -> Option<QueryStats> {
        let query = self.registry.get(id)?;
        query.reports(REPORT_WAIT).await;
        Some(query.stats())
    }

    pub async fn run_update(
        &self,
        ctx: &SessionContext,
        submitter: &Submitter,
        sql: &str,
        parameters: Option<Vec<ScalarValue>>,
    ) -> Result<i64, CoordinatorError> {
        let (id, _) = self.plan(ctx, submitter, sql, parameters).await?;
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

/// A statement planned and held by its query until its `DoGet`.
struct PlannedQuery {
    query: Arc<Query>,
    schema: SchemaRef,
    /// It writes files, so it runs when submitted.
    writes: bool,
    /// Planning it again gives the same answer (see [`QueryEngine::submit`]).
    replayable: bool,
}

/// A planned statement, as `GetFlightInfo` answers it.
pub struct Submitted {
    pub id: String,
    pub schema: SchemaRef,
    /// Planning it again gives the same answer (see [`QueryEngine::submit`]).
    pub replayable: bool,
}

/// Records how a running query's answer ended: at its end, with its first
/// error, or (when dropped first) because the client went away.
struct QueryEnd {
    query: Arc<Query>,
    registry: Arc<QueryRegistry>,
}

impl QueryEnd {
    fn new(query: &Arc<Query>, registry: &Arc<QueryRegistry>) -> Arc<Self> {
        Arc::new(Self {
            query: Arc::clone(query),
            registry: Arc::clone(registry),
        })
    }

    fn failed(&self, error: &dyn std::fmt::Display) {
        self.query.failed(&error.to_string());
    }

    /// It failed before any task was launched: no worker will report.
    fn refused(&self, error: &dyn std::fmt::Display) {
        self.failed(error);
        self.registry.file_reports(&self.query, Vec::new(), true);
    }

    fn finished(&self) {
        self.query.finished();
    }
}

impl Drop for QueryEnd {
    fn drop(&mut self) {
        self.query.abandoned();
    }
}
