//! A file table as Hayate serves it: DataFusion's `ListingTable`, and what
//! Hayate does around each of its scans:
//! 1. its listing is kept fresh (new files show up within seconds) and
//!    filtered by compaction commits ([`TableListing`]);
//! 2. a filter on the time column also selects `dt`/`hour` partitions
//!    ([`TimePartitions`]), and the listing is pruned by partition before
//!    DataFusion sees it ([`pruned_state`]);
//! 3. Parquet scans are narrowed to the row groups the search index does
//!    not rule out ([`hayate_search_index::narrow_scan`]).

use std::borrow::Cow;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{ScanArgs, ScanResult, Session, TableProvider};
use datafusion::common::{Constraints, Statistics};
use datafusion::datasource::listing::ListingTable;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::SessionState;
use datafusion::logical_expr::dml::InsertOp;
use datafusion::logical_expr::{Expr, LogicalPlan, TableProviderFilterPushDown, TableType};
use datafusion::physical_plan::ExecutionPlan;

use crate::partition_pruning::pruned_state;
use crate::table_listing::TableListing;
use crate::time_partitions::TimePartitions;

/// Tables with more files than this are planned without reading every
/// file's footer for statistics: a log shipper's day of 100,000 small
/// files would cost as many GETs before the first task starts. Their scans
/// still prune files and row groups by statistics where they are read.
const STATISTICS_MAX_FILES: usize = 10_000;

/// A copy of `state` that plans scans without file statistics, when a
/// table has more than [`STATISTICS_MAX_FILES`] files and collecting them
/// is on.
pub(crate) fn without_statistics(state: &dyn Session, files: usize) -> Option<SessionState> {
    if files <= STATISTICS_MAX_FILES || !state.config().collect_statistics() {
        return None;
    }
    let mut quiet = state.as_any().downcast_ref::<SessionState>()?.clone();
    quiet
        .config_mut()
        .options_mut()
        .execution
        .collect_statistics = false;
    Some(quiet)
}

/// Plans of a scan before giving up when the table's cached listing keeps
/// being replaced under it (expiring, `REFRESH TABLE` at once).
const SCAN_ATTEMPTS: usize = 4;

#[derive(Debug)]
pub struct FileTable {
    listing: Arc<ListingTable>,
    time: Option<TimePartitions>,
    files: TableListing,
    /// Whether its files are Parquet, which the search index covers.
    parquet: bool,
}

impl FileTable {
    /// `listing` with a time column (`hayate.time_column`) if it names one.
    pub fn try_new(listing: Arc<ListingTable>, time_column: Option<&str>) -> Result<Self> {
        let partitions: Vec<String> = listing
            .options()
            .table_partition_cols
            .iter()
            .map(|(name, _)| name.clone())
            .collect();
        let time = time_column
            .map(|c| TimePartitions::try_new(&listing.schema(), c, &partitions))
            .transpose()?;
        let files = TableListing::new(listing.table_paths().clone(), !partitions.is_empty());
        let parquet = listing.options().format.get_ext() == "parquet";
        Ok(Self {
            listing,
            time,
            files,
            parquet,
        })
    }

    pub fn listing(&self) -> &ListingTable {
        &self.listing
    }
}

#[async_trait]
impl TableProvider for FileTable {
    fn schema(&self) -> SchemaRef {
        self.listing.schema()
    }

    fn constraints(&self) -> Option<&Constraints> {
        self.listing.constraints()
    }

    fn table_type(&self) -> TableType {
        self.listing.table_type()
    }

    fn get_logical_plan(&'_ self) -> Option<Cow<'_, LogicalPlan>> {
        self.listing.get_logical_plan()
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let args = ScanArgs::default()
            .with_projection(projection.map(|p| p.as_slice()))
            .with_filters(Some(filters))
            .with_limit(limit);
        Ok(self.scan_with_args(state, args).await?.into_inner())
    }

    async fn scan_with_args<'a>(
        &self,
        state: &dyn Session,
        args: ScanArgs<'a>,
    ) -> Result<ScanResult> {
        let filters = args.filters().unwrap_or(&[]).to_vec();
        let mut all = filters.clone();
        if let Some(time) = &self.time {
            all.extend(time.partition_filters(&filters));
        }
        let args = args.clone().with_filters(Some(&all));
        let mut attempts = 0;
        let plan = loop {
            let snapshot = self.files.prepare(state).await?;
            let files = snapshot.files(&self.listing.options().file_extension);
            let partition_cols = &self.listing.options().table_partition_cols;
            let pruned = pruned_state(state, &snapshot, partition_cols, &all)?;
            let scan_state: &dyn Session = match &pruned {
                Some(pruned) => pruned,
                None => state,
            };
            let plan = match without_statistics(scan_state, files) {
                Some(quiet) => self.listing.scan_with_args(&quiet, args.clone()).await?,
                None => {
                    self.listing
                        .scan_with_args(scan_state, args.clone())
                        .await?
                }
            }
            .into_inner();
            if self.files.unchanged(state, &snapshot) {
                break plan;
            }
            attempts += 1;
            if attempts == SCAN_ATTEMPTS {
                return Err(DataFusionError::Execution(format!(
                    "the listing of {} changed while {SCAN_ATTEMPTS} scans of it were planned; try again",
                    self.listing.table_paths()[0]
                )));
            }
        };
        if !self.parquet {
            return Ok(ScanResult::new(plan));
        }
        let plan =
            hayate_search_index::narrow_scan(plan, &filters, self.listing.table_paths(), state)
                .await?;
        Ok(ScanResult::new(plan))
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        self.listing.supports_filters_pushdown(filters)
    }

    fn statistics(&self) -> Option<Statistics> {
        self.listing.statistics()
    }

    async fn insert_into(
        &self,
        state: &dyn Session,
        input: Arc<dyn ExecutionPlan>,
        insert_op: InsertOp,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.listing.insert_into(state, input, insert_op).await
    }
}
