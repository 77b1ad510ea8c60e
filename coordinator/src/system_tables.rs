//! `system.queries`, `system.tasks`, `system.workers`, `system.tables` and
//! `system.query_history`: the coordinator's own state as tables, queryable
//! with SQL and joinable with user tables.
//!
//! That state lives only in this process, so a scan reads it here, while
//! the query is planned, into an in-memory scan of the rows. The rows then
//! travel inside the plan like `VALUES` do: a stage that joins them with a
//! Parquet table on a worker gets the coordinator's rows, never the
//! worker's own (empty) view. The history of a shared catalog is the
//! exception: it lives in the catalog's store ([`QueryHistory`]) and is
//! scanned as Parquet.

use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use datafusion::arrow::array::{
    ArrayRef, RecordBatch, StringArray, TimestampMillisecondArray, UInt32Array, UInt64Array,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use datafusion::catalog::{CatalogProviderList, SchemaProvider, Session, TableProvider};
use datafusion::datasource::TableType;
use datafusion::datasource::listing::ListingTable;
use datafusion::datasource::memory::MemorySourceConfig;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use futures::TryStreamExt;
use hayate_storage::{io_metric, scan_metric};

use crate::membership::Membership;
use crate::planning::listing_table;
use crate::query::QuerySummary;
use crate::query_history::QueryHistory;
use crate::registry::QueryRegistry;

/// The schema that holds the system tables.
pub const SYSTEM_SCHEMA: &str = "system";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Queries,
    Tasks,
    Workers,
    Tables,
    QueryHistory,
}

const KINDS: [(&str, Kind); 5] = [
    ("queries", Kind::Queries),
    ("tasks", Kind::Tasks),
    ("workers", Kind::Workers),
    ("tables", Kind::Tables),
    ("query_history", Kind::QueryHistory),
];

/// What the system tables read.
#[derive(Clone)]
pub struct SystemState {
    pub queries: Arc<QueryRegistry>,
    pub membership: Arc<Membership>,
    pub catalogs: Arc<dyn CatalogProviderList>,
    /// The shared history, with a catalog; without one the history is the
    /// ended queries this process still holds.
    pub history: Option<Arc<QueryHistory>>,
}

impl std::fmt::Debug for SystemState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SystemState")
    }
}

/// The `system` schema.
#[derive(Debug)]
pub struct SystemSchema {
    state: SystemState,
}

impl SystemSchema {
    pub fn new(state: SystemState) -> Self {
        Self { state }
    }
}

#[async_trait]
impl SchemaProvider for SystemSchema {
    fn table_names(&self) -> Vec<String> {
        KINDS.iter().map(|(name, _)| name.to_string()).collect()
    }

    async fn table(&self, name: &str) -> Result<Option<Arc<dyn TableProvider>>> {
        Ok(KINDS.iter().find(|(n, _)| *n == name).map(|(_, kind)| {
            Arc::new(SystemTable {
                kind: *kind,
                state: self.state.clone(),
            }) as Arc<dyn TableProvider>
        }))
    }

    fn table_exist(&self, name: &str) -> bool {
        KINDS.iter().any(|(n, _)| *n == name)
    }
}

#[derive(Debug)]
struct SystemTable {
    kind: Kind,
    state: SystemState,
}

#[async_trait]
impl TableProvider for SystemTable {
    fn schema(&self) -> SchemaRef {
        schema(self.kind)
    }

    fn table_type(&self) -> TableType {
        TableType::View
    }

    async fn scan(
        &self,
        session: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let columns = match self.kind {
            Kind::QueryHistory => match &self.state.history {
                Some(history) => return history.scan(session, projection, filters, limit).await,
                None => ended_queries(&self.state),
            },
            Kind::Queries => queries(&self.state),
            Kind::Tasks => tasks(&self.state),
            Kind::Workers => workers(&self.state),
            Kind::Tables => tables(&self.state, session).await?,
        };
        let batch = RecordBatch::try_new(self.schema(), columns)?;
        let plan =
            MemorySourceConfig::try_new_exec(&[vec![batch]], self.schema(), projection.cloned())?;
        Ok(plan)
    }
}

/// `system.query_history`'s columns: `system.queries`' and the coordinator
/// that ran the query.
pub fn history_schema() -> SchemaRef {
    static SCHEMA: std::sync::OnceLock<SchemaRef> = std::sync::OnceLock::new();
    Arc::clone(SCHEMA.get_or_init(|| schema(Kind::QueryHistory)))
}

fn schema(kind: Kind) -> SchemaRef {
    let text = |name: &str| Field::new(name, DataType::Utf8, false);
    let maybe_text = |name: &str| Field::new(name, DataType::Utf8, true);
    let count = |name: &str| Field::new(name, DataType::UInt64, false);
    let small = |name: &str| Field::new(name, DataType::UInt32, false);
    let time = |name: &str, nullable| {
        Field::new(
            name,
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            nullable,
        )
    };
    let query_fields = || {
        vec![
            text("query_id"),
            text("user"),
            text("sql"),
            text("state"),
            time("submitted", false),
            time("started", true),
            time("finished", true),
            count("elapsed_ms"),
            count("rows"),
            count("bytes_scanned"),
            count("exchange_bytes"),
            count("get_requests"),
            small("attempts"),
            maybe_text("error"),
        ]
    };
    let fields = match kind {
        Kind::Queries => query_fields(),
        Kind::QueryHistory => {
            let mut fields = query_fields();
            fields.push(text("coordinator"));
            fields
        }
        Kind::Tasks => vec![
            text("query_id"),
            small("attempt"),
            small("stage"),
            small("task"),
            text("worker"),
            text("state"),
            count("rows"),
            count("cpu_ms"),
            count("rows_scanned"),
            count("bytes_scanned"),
            count("exchange_bytes"),
        ],
        Kind::Workers => vec![
            text("worker_id"),
            text("address"),
            text("state"),
            small("slots"),
            small("running_tasks"),
            count("tasks_launched"),
            count("memory_bytes"),
            count("last_heartbeat_ms"),
        ],
        Kind::Tables => vec![
            text("catalog"),
            text("schema"),
            text("table"),
            text("kind"),
            maybe_text("location"),
            maybe_text("format"),
            Field::new("files", DataType::UInt64, true),
        ],
    };
    Arc::new(Schema::new(fields))
}

fn millis(t: SystemTime) -> i64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn times(values: impl Iterator<Item = Option<SystemTime>>) -> ArrayRef {
    Arc::new(
        TimestampMillisecondArray::from(values.map(|t| t.map(millis)).collect::<Vec<_>>())
            .with_timezone("UTC"),
    )
}

fn texts<S: AsRef<str>>(values: impl Iterator<Item = S>) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(values))
}

fn counts(values: impl Iterator<Item = u64>) -> ArrayRef {
    Arc::new(UInt64Array::from_iter_values(values))
}

fn smalls(values: impl Iterator<Item = u32>) -> ArrayRef {
    Arc::new(UInt32Array::from_iter_values(values))
}

fn queries(state: &SystemState) -> Vec<ArrayRef> {
    let qs: Vec<_> = state.queries.list().iter().map(|q| q.summary()).collect();
    query_columns(&qs)
}

/// The ended queries this process holds, as history rows.
fn ended_queries(state: &SystemState) -> Vec<ArrayRef> {
    let qs: Vec<_> = state
        .queries
        .list()
        .iter()
        .filter(|q| q.state().is_over())
        .map(|q| q.summary())
        .collect();
    history_columns(&qs, &state.membership.coordinator_id)
}

/// History rows of `qs`, all run by `coordinator_id`.
pub fn history_columns(qs: &[QuerySummary], coordinator_id: &str) -> Vec<ArrayRef> {
    let mut columns = query_columns(qs);
    columns.push(texts(qs.iter().map(|_| coordinator_id)));
    columns
}

fn query_columns(qs: &[QuerySummary]) -> Vec<ArrayRef> {
    let total = |name: &'static str| {
        counts(
            qs.iter()
                .map(move |q| q.totals.get(name).copied().unwrap_or(0)),
        )
    };
    vec![
        texts(qs.iter().map(|q| &q.id)),
        texts(qs.iter().map(|q| &q.user)),
        texts(qs.iter().map(|q| &q.sql)),
        texts(qs.iter().map(|q| q.state.name())),
        times(qs.iter().map(|q| Some(q.submitted))),
        times(qs.iter().map(|q| q.started)),
        times(qs.iter().map(|q| q.finished)),
        counts(qs.iter().map(|q| q.elapsed.as_millis() as u64)),
        counts(qs.iter().map(|q| q.rows)),
        total(scan_metric::BYTES_SCANNED),
        total(scan_metric::EXCHANGE_BYTES),
        total(io_metric::GET_REQUESTS),
        smalls(qs.iter().map(|q| q.attempts)),
        Arc::new(StringArray::from(
            qs.iter().map(|q| q.state.error()).collect::<Vec<_>>(),
        )),
    ]
}

fn tasks(state: &SystemState) -> Vec<ArrayRef> {
    let ts: Vec<_> = state
        .queries
        .list()
        .iter()
        .flat_map(|q| q.tasks())
        .collect();
    let metric = |name: &'static str, scale: u64| {
        counts(
            ts.iter()
                .map(move |t| t.report.metrics.get(name).copied().unwrap_or(0) / scale),
        )
    };
    vec![
        texts(ts.iter().map(|t| &t.report.task.query_id)),
        smalls(ts.iter().map(|t| t.report.task.attempt)),
        smalls(ts.iter().map(|t| t.report.task.stage)),
        smalls(ts.iter().map(|t| t.report.task.task)),
        texts(ts.iter().map(|t| &t.report.worker)),
        texts(ts.iter().map(|t| t.state)),
        metric(scan_metric::OUTPUT_ROWS, 1),
        metric(scan_metric::CPU_NANOS, 1_000_000),
        metric(scan_metric::ROWS_SCANNED, 1),
        metric(scan_metric::BYTES_SCANNED, 1),
        metric(scan_metric::EXCHANGE_BYTES, 1),
    ]
}

fn workers(state: &SystemState) -> Vec<ArrayRef> {
    let ws = state.membership.all();
    vec![
        texts(ws.iter().map(|w| &w.worker_id)),
        texts(ws.iter().map(|w| &w.address)),
        texts(
            ws.iter()
                .map(|w| if w.draining { "draining" } else { "active" }),
        ),
        smalls(ws.iter().map(|w| w.slots)),
        smalls(ws.iter().map(|w| w.running_tasks)),
        counts(ws.iter().map(|w| w.tasks_launched)),
        counts(ws.iter().map(|w| w.memory_used)),
        counts(ws.iter().map(|w| w.last_heartbeat.as_millis() as u64)),
    ]
}

/// One row per table and view of every catalog, with where a file table's
/// data lives, its format and how many data files it has now.
async fn tables(state: &SystemState, session: &dyn Session) -> Result<Vec<ArrayRef>> {
    let mut rows: Vec<TableRow> = Vec::new();
    for catalog_name in state.catalogs.catalog_names() {
        let Some(catalog) = state.catalogs.catalog(&catalog_name) else {
            continue;
        };
        for schema_name in catalog.schema_names() {
            let Some(schema) = catalog.schema(&schema_name) else {
                continue;
            };
            let mut names = schema.table_names();
            names.sort();
            for table_name in names {
                let Some(table) = schema.table(&table_name).await? else {
                    continue;
                };
                let mut row = TableRow {
                    catalog: catalog_name.clone(),
                    schema: schema_name.clone(),
                    table: table_name,
                    kind: match table.table_type() {
                        TableType::Base => "table",
                        TableType::View => "view",
                        TableType::Temporary => "temporary",
                    },
                    location: None,
                    format: None,
                    files: None,
                };
                if let Some(listing) = listing_table(table.as_ref()) {
                    describe(listing, &mut row);
                    // A store that cannot be listed now leaves the count
                    // empty rather than failing the whole table.
                    row.files = count_files(listing, session)
                        .await
                        .inspect_err(|e| tracing::debug!(table = %row.table, error = %e, "cannot count files"))
                        .ok();
                }
                rows.push(row);
            }
        }
    }
    Ok(vec![
        texts(rows.iter().map(|r| &r.catalog)),
        texts(rows.iter().map(|r| &r.schema)),
        texts(rows.iter().map(|r| &r.table)),
        texts(rows.iter().map(|r| r.kind)),
        Arc::new(StringArray::from(
            rows.iter().map(|r| r.location.clone()).collect::<Vec<_>>(),
        )),
        Arc::new(StringArray::from(
            rows.iter().map(|r| r.format.clone()).collect::<Vec<_>>(),
        )),
        Arc::new(UInt64Array::from(
            rows.iter().map(|r| r.files).collect::<Vec<_>>(),
        )),
    ])
}

struct TableRow {
    catalog: String,
    schema: String,
    table: String,
    kind: &'static str,
    location: Option<String>,
    format: Option<String>,
    files: Option<u64>,
}

/// A file table's location and format.
fn describe(table: &ListingTable, row: &mut TableRow) {
    row.location = Some(
        table
            .table_paths()
            .iter()
            .map(|p| p.as_str().to_string())
            .collect::<Vec<_>>()
            .join(", "),
    );
    let format = table.options().format.get_ext();
    row.format = Some(format.trim_start_matches('.').to_string());
}

/// How many data files a file table has now (listed through the planning
/// cache, as a query would).
async fn count_files(table: &ListingTable, session: &dyn Session) -> Result<u64> {
    let extension = &table.options().file_extension;
    let mut files = 0u64;
    for path in table.table_paths() {
        let store = session.runtime_env().object_store(path)?;
        let listed = path
            .list_all_files(session, store.as_ref(), extension)
            .await
            .map_err(|e| DataFusionError::Execution(format!("listing {path}: {e}")))?;
        files += listed
            .try_fold(0u64, |n, _| async move { Ok(n + 1) })
            .await?;
    }
    Ok(files)
}
