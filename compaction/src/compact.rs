//! Compacting one partition: read its small files (with DataFusion, which
//! spills a sort that does not fit in memory), write them back sorted into
//! files of a target size, then commit.

use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::arrow::compute::SortOptions;
use datafusion::datasource::file_format::FileFormat;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::parquet::DefaultParquetFileReaderFactory;
use datafusion::datasource::physical_plan::{
    FileGroup, FileScanConfigBuilder, ParquetFileReaderFactory, ParquetSource,
};
use datafusion::datasource::source::DataSourceExec;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::physical_expr::expressions::col;
use datafusion::physical_expr::{LexOrdering, PhysicalSortExpr};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use datafusion::physical_plan::metrics::ExecutionPlanMetricsSet;
use datafusion::physical_plan::sorts::sort::SortExec;
use datafusion::physical_plan::sorts::sort_preserving_merge::SortPreservingMergeExec;
use datafusion::prelude::SessionContext;
use futures::StreamExt;
use object_store::buffered::BufWriter;
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt, PutMode, PutOptions};
use parquet::arrow::AsyncArrowWriter;
use parquet::arrow::ParquetRecordBatchStreamBuilder;
use parquet::arrow::async_reader::AsyncFileReader;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::SortingColumn;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

use crate::CompactionError;
use crate::commit::{Commit, CommittedFile, compacted_name};
use crate::partitions::Partition;

#[derive(Clone, Debug)]
pub struct CompactOptions {
    /// The column the new files are sorted by (the table's time column),
    /// so that each file and row group covers a narrow time range.
    pub sort_by: Option<String>,
    /// Size a new file is closed at.
    pub target_file_bytes: u64,
    pub row_group_rows: usize,
    /// A partition is left alone until its newest file is this old: a
    /// shipper may still be writing to it.
    pub settle: Duration,
    /// Fewer small files than this are left as they are.
    pub min_files: usize,
    /// Files read at once.
    pub parallel: usize,
}

impl Default for CompactOptions {
    fn default() -> Self {
        Self {
            sort_by: None,
            target_file_bytes: 128 * 1024 * 1024,
            row_group_rows: 16 * 1024,
            settle: Duration::from_secs(300),
            min_files: 2,
            parallel: std::thread::available_parallelism().map_or(2, |n| n.get()),
        }
    }
}

/// What compacting one partition did.
#[derive(Clone, Debug)]
pub struct Compacted {
    pub partition: Path,
    pub generation: u64,
    pub removed: usize,
    pub removed_bytes: u64,
    pub added: usize,
    pub added_bytes: u64,
    pub rows: u64,
    pub elapsed: Duration,
}

/// The files of `partition` to rewrite: its used files smaller than half
/// the target, if there are enough of them and the partition has settled.
fn small_files(partition: &Partition, options: &CompactOptions) -> Vec<ObjectMeta> {
    let newest = partition.files.iter().map(|m| m.last_modified).max();
    let settled = newest.is_none_or(|t| {
        chrono::Utc::now()
            .signed_duration_since(t)
            .to_std()
            .is_ok_and(|age| age >= options.settle)
    });
    if !settled {
        return Vec::new();
    }
    let small: Vec<ObjectMeta> = partition
        .visible
        .iter()
        .filter(|m| m.size < options.target_file_bytes / 2)
        .cloned()
        .collect();
    if small.len() < options.min_files.max(2) {
        return Vec::new();
    }
    small
}

/// Rewrites the small files of `partition` and commits; `None` if it has
/// nothing to compact. On any failure the files it wrote are deleted and
/// readers go on using the old ones.
pub async fn compact_partition(
    store: Arc<dyn ObjectStore>,
    partition: &Partition,
    options: &CompactOptions,
) -> Result<Option<Compacted>, CompactionError> {
    let started = Instant::now();
    let files = small_files(partition, options);
    if files.is_empty() {
        return Ok(None);
    }
    let id = uuid::Uuid::new_v4().simple().to_string();
    let mut written = Vec::new();
    let result = rewrite(&store, partition, &files, options, &id, &mut written).await;
    let committed = match result {
        Ok(rows) => commit(&store, partition, &files, &written, rows).await,
        Err(e) => Err(e),
    };
    match committed {
        Ok(commit) => Ok(Some(Compacted {
            partition: partition.dir.clone(),
            generation: commit.generation,
            removed: files.len(),
            removed_bytes: files.iter().map(|m| m.size).sum(),
            added: written.len(),
            added_bytes: written.iter().map(|m| m.size).sum(),
            rows: commit.rows,
            elapsed: started.elapsed(),
        })),
        Err(e) => {
            for file in &written {
                if let Err(d) = store.delete(&file.location).await {
                    tracing::warn!(file = %file.location, error = %d, "could not delete an uncommitted compacted file");
                }
            }
            Err(e)
        }
    }
}

async fn commit(
    store: &Arc<dyn ObjectStore>,
    partition: &Partition,
    removed: &[ObjectMeta],
    added: &[ObjectMeta],
    rows: u64,
) -> Result<Commit, CompactionError> {
    let generation = partition.next_generation();
    let commit = Commit {
        generation,
        committed_at: chrono::Utc::now().to_rfc3339(),
        removed: removed.iter().map(CommittedFile::of).collect(),
        added: added.iter().map(CommittedFile::of).collect(),
        rows,
    };
    let path = Commit::path(&partition.dir, generation);
    let create = PutOptions {
        mode: PutMode::Create,
        ..PutOptions::default()
    };
    match store.put_opts(&path, commit.to_json().into(), create).await {
        Ok(_) => Ok(commit),
        Err(
            object_store::Error::AlreadyExists { .. } | object_store::Error::Precondition { .. },
        ) => Err(CompactionError::Conflict {
            partition: partition.dir.to_string(),
            generation,
        }),
        Err(e) => Err(e.into()),
    }
}

/// Reads `files` and writes their rows, sorted, into new files of the
/// partition (listed in `written` as they are finished); the rows.
async fn rewrite(
    store: &Arc<dyn ObjectStore>,
    partition: &Partition,
    files: &[ObjectMeta],
    options: &CompactOptions,
    id: &str,
    written: &mut Vec<ObjectMeta>,
) -> Result<u64, CompactionError> {
    let ctx = SessionContext::new();
    let url = ObjectStoreUrl::parse("compact://source")?;
    ctx.register_object_store(url.as_ref(), Arc::clone(store));
    let state = ctx.state();
    // The files' own types (not DataFusion's view types), so that the new
    // files merge with the table's other files.
    let schema = ParquetFormat::default()
        .with_force_view_types(false)
        .infer_schema(&state, store, files)
        .await
        .map_err(|e| CompactionError::Schema {
            partition: partition.dir.to_string(),
            message: e.to_string(),
        })?;
    let width = options.parallel.clamp(1, files.len());
    let mut groups: Vec<Vec<PartitionedFile>> = vec![Vec::new(); width];
    for (i, meta) in files.iter().enumerate() {
        groups[i % width].push(PartitionedFile::from(meta.clone()));
    }
    let source = Arc::new(ParquetSource::new(Arc::clone(&schema)));
    let scan = DataSourceExec::from_data_source(
        FileScanConfigBuilder::new(url, source)
            .with_file_groups(groups.into_iter().map(FileGroup::new).collect())
            .build(),
    );
    let sort_column = match &options.sort_by {
        Some(name) => Some(
            schema
                .index_of(name)
                .map_err(|_| CompactionError::NoSortColumn {
                    partition: partition.dir.to_string(),
                    column: name.clone(),
                })?,
        ),
        None => None,
    };
    let plan: Arc<dyn ExecutionPlan> = match &options.sort_by {
        Some(name) => {
            let ordering = LexOrdering::new([PhysicalSortExpr::new(
                col(name, &schema)?,
                SortOptions {
                    descending: false,
                    nulls_first: false,
                },
            )])
            .expect("one sort expression");
            let sorted = SortExec::new(ordering.clone(), scan).with_preserve_partitioning(true);
            Arc::new(SortPreservingMergeExec::new(ordering, Arc::new(sorted)))
        }
        None => Arc::new(CoalescePartitionsExec::new(scan)),
    };
    let props = writer_properties(store, &files[0], options, sort_column).await?;
    let mut stream = plan.execute(0, ctx.task_ctx())?;
    let mut rows = 0u64;
    let mut open: Option<(Path, AsyncArrowWriter<BufWriter>)> = None;
    while let Some(batch) = stream.next().await {
        let batch = batch?;
        rows += batch.num_rows() as u64;
        let (_, writer) = match &mut open {
            Some(w) => w,
            None => {
                let path = partition
                    .dir
                    .clone()
                    .join(compacted_name(id, written.len()));
                let writer = AsyncArrowWriter::try_new(
                    BufWriter::new(Arc::clone(store), path.clone()),
                    Arc::clone(&schema),
                    Some(props.clone()),
                )?;
                open.insert((path, writer))
            }
        };
        writer.write(&batch).await?;
        if (writer.bytes_written() + writer.in_progress_size()) as u64 >= options.target_file_bytes
        {
            let (path, writer) = open.take().expect("a file is open");
            written.push(finish(store, path, writer).await?);
        }
    }
    if let Some((path, writer)) = open.take() {
        written.push(finish(store, path, writer).await?);
    }
    Ok(rows)
}

/// Closes a new file and returns what the store says of it (size, ETag),
/// which the commit records.
async fn finish(
    store: &Arc<dyn ObjectStore>,
    path: Path,
    writer: AsyncArrowWriter<BufWriter>,
) -> Result<ObjectMeta, CompactionError> {
    writer.close().await?;
    Ok(store.head(&path).await?)
}

/// How new files are written: zstd, page statistics for pruning, the sort
/// order recorded, and bloom filters on the columns that had them in the
/// files read.
async fn writer_properties(
    store: &Arc<dyn ObjectStore>,
    sample: &ObjectMeta,
    options: &CompactOptions,
    sort_column: Option<usize>,
) -> Result<WriterProperties, CompactionError> {
    let rows = options.row_group_rows.max(1);
    let mut props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1)?))
        .set_max_row_group_row_count(Some(rows))
        .set_data_page_row_count_limit((rows / 8).max(64))
        .set_write_batch_size((rows / 8).clamp(64, 1024))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_sorting_columns(sort_column.map(|i| {
            vec![SortingColumn {
                column_idx: i as i32,
                descending: false,
                nulls_first: false,
            }]
        }));
    let reader: Box<dyn AsyncFileReader> = DefaultParquetFileReaderFactory::new(Arc::clone(store))
        .create_reader(
            0,
            PartitionedFile::from(sample.clone()),
            None,
            &ExecutionPlanMetricsSet::new(),
        )?;
    let builder = ParquetRecordBatchStreamBuilder::new(reader).await?;
    if let Some(group) = builder.metadata().row_groups().first() {
        for column in group.columns() {
            if column.bloom_filter_offset().is_some() {
                props = props.set_column_bloom_filter_enabled(
                    ColumnPath::new(column.column_path().parts().to_vec()),
                    true,
                );
            }
        }
    }
    Ok(props.build())
}
