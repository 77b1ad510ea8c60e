//! `system.query_history`: every query any coordinator of the catalog ran,
//! kept as Parquet in the catalog's store so that it outlives the process
//! that ran it and can be read from any coordinator.
//!
//! Each coordinator writes the queries that ended since its last write as
//! one file every few seconds, and once more when it shuts down:
//! `<catalog>/history/<unix ms, 13 digits>-<coordinator id>.parquet`. Names
//! never collide (each writer has its own id), so plain puts suffice and no
//! writer waits for another. Files older than the retention are deleted by
//! whichever coordinator finds them first. Reading is a Parquet scan of the
//! prefix, listed afresh at every query and distributed like any table's.
//!
//! A coordinator that is killed loses the queries that ended in its last
//! few seconds; one that is stopped (SIGTERM, a rolling update) loses none.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::Session;
use datafusion::common::TableReference;
use datafusion::datasource::TableProvider;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::error::DataFusionError;
use datafusion::logical_expr::Expr;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::file::properties::WriterProperties;
use datafusion::physical_plan::ExecutionPlan;
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;

use crate::query::QuerySummary;
use crate::registry::QueryRegistry;
use crate::system_tables::{history_columns, history_schema};

/// How often the queries that ended are written.
const FLUSH_EVERY: Duration = Duration::from_secs(5);
/// How often files past the retention are looked for.
const EXPIRE_EVERY: Duration = Duration::from_secs(600);

#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error("query history store: {0}")]
    Store(#[from] object_store::Error),
    #[error("query history file: {0}")]
    Encode(#[from] datafusion::parquet::errors::ParquetError),
    #[error("query history: {0}")]
    Plan(#[from] DataFusionError),
}

/// The query history of one catalog, as this coordinator writes and reads
/// it.
pub struct QueryHistory {
    store: Arc<dyn ObjectStore>,
    /// `<catalog prefix>/history`.
    dir: Path,
    /// The same place as a URL, for scans.
    url: ListingTableUrl,
    coordinator_id: String,
    retention: Duration,
    /// Ended queries already written, while the registry still holds them.
    written: Mutex<HashSet<String>>,
}

impl std::fmt::Debug for QueryHistory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryHistory")
            .field("url", &self.url.as_str())
            .finish()
    }
}

impl QueryHistory {
    /// The history kept under the catalog at `catalog` (whose prefix in
    /// `store` is `prefix`), written as `coordinator_id`.
    pub fn new(
        store: Arc<dyn ObjectStore>,
        catalog: &url::Url,
        prefix: &Path,
        coordinator_id: &str,
        retention: Duration,
    ) -> Result<Self, HistoryError> {
        let url = catalog
            .join("history/")
            .map_err(|e| DataFusionError::Configuration(format!("catalog {catalog}: {e}")))?;
        let url = ListingTableUrl::parse(url.as_str())?.with_table_ref(TableReference::full(
            "datafusion",
            crate::system_tables::SYSTEM_SCHEMA,
            "query_history",
        ));
        Ok(Self {
            store,
            dir: prefix.clone().join("history"),
            url,
            coordinator_id: coordinator_id.to_string(),
            retention,
            written: Mutex::new(HashSet::new()),
        })
    }

    /// Writes ended queries every few seconds and deletes files past the
    /// retention, until `stop`; then writes what ended last.
    pub async fn keep(self: Arc<Self>, queries: Arc<QueryRegistry>, stop: CancellationToken) {
        let mut expired_at: Option<tokio::time::Instant> = None;
        loop {
            let stopping = tokio::select! {
                _ = stop.cancelled() => true,
                _ = tokio::time::sleep(FLUSH_EVERY) => false,
            };
            if let Err(e) = self.flush(&queries).await {
                tracing::warn!(error = %e, "query history not written; retrying");
            }
            if stopping {
                return;
            }
            if expired_at.is_none_or(|at| at.elapsed() > EXPIRE_EVERY) {
                expired_at = Some(tokio::time::Instant::now());
                match self.expire().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(files = n, "deleted query history past its retention"),
                    Err(e) => {
                        tracing::warn!(error = %e, "query history past its retention not deleted")
                    }
                }
            }
        }
    }

    /// Writes the queries that ended and are not written yet as one file;
    /// returns how many.
    pub async fn flush(&self, queries: &QueryRegistry) -> Result<usize, HistoryError> {
        let all = queries.list();
        let ended: Vec<QuerySummary> = {
            let written = self.written.lock();
            all.iter()
                .filter(|q| q.state().is_over() && !written.contains(&q.id))
                .map(|q| q.summary())
                .collect()
        };
        if !ended.is_empty() {
            let bytes = encode(&ended, &self.coordinator_id)?;
            let now = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .unwrap_or_default()
                .as_millis();
            let file = self
                .dir
                .clone()
                .join(format!("{now:013}-{}.parquet", self.coordinator_id));
            self.store.put(&file, bytes.into()).await?;
        }
        // Remember only what the registry still holds: it forgets old queries.
        let held: HashSet<&str> = all.iter().map(|q| q.id.as_str()).collect();
        let mut written = self.written.lock();
        written.retain(|id| held.contains(id.as_str()));
        written.extend(ended.iter().map(|q| q.id.clone()));
        Ok(ended.len())
    }

    /// Deletes history files older than the retention; returns how many.
    pub async fn expire(&self) -> Result<usize, HistoryError> {
        let cutoff = chrono::Utc::now()
            - chrono::Duration::from_std(self.retention).unwrap_or(chrono::Duration::MAX);
        let old: Vec<Path> = self
            .store
            .list(Some(&self.dir))
            .try_filter(|meta| std::future::ready(meta.last_modified < cutoff))
            .map_ok(|meta| meta.location)
            .try_collect()
            .await?;
        for file in &old {
            match self.store.delete(file).await {
                // Another coordinator deleted it first.
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
        Ok(old.len())
    }

    /// A scan of every history file there is now.
    pub async fn scan(
        &self,
        session: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>, DataFusionError> {
        // The history grows every few seconds: list it afresh, not from the
        // listing cache.
        if let (Some(cache), Some(table)) = (
            session.runtime_env().cache_manager.get_list_files_cache(),
            self.url.get_table_ref(),
        ) {
            cache.drop_table_entries(table)?;
        }
        let options =
            ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
        let config = ListingTableConfig::new(self.url.clone())
            .with_listing_options(options)
            .with_schema(history_schema());
        let table = ListingTable::try_new(config)?;
        table.scan(session, projection, filters, limit).await
    }

    pub fn schema(&self) -> SchemaRef {
        history_schema()
    }
}

/// The queries as one Parquet file.
fn encode(queries: &[QuerySummary], coordinator_id: &str) -> Result<Vec<u8>, HistoryError> {
    let batch = RecordBatch::try_new(history_schema(), history_columns(queries, coordinator_id))
        .map_err(DataFusionError::from)?;
    let properties = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .build();
    let mut bytes = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut bytes, history_schema(), Some(properties))?;
    writer.write(&batch)?;
    writer.close()?;
    Ok(bytes)
}
