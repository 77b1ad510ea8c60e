//! Building indexes: one data file's (reading only its indexed columns),
//! and every stale or missing one under a location, several files at once.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::arrow::array::{Array, AsArray, StringArrayType};
use datafusion::arrow::datatypes::DataType;
use datafusion::datasource::listing::PartitionedFile;
use datafusion::datasource::physical_plan::ParquetFileReaderFactory;
use datafusion::datasource::physical_plan::parquet::DefaultParquetFileReaderFactory;
use datafusion::physical_plan::metrics::ExecutionPlanMetricsSet;
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt, PutPayload};
use parquet::arrow::ParquetRecordBatchStreamBuilder;
use parquet::arrow::ProjectionMask;
use parquet::arrow::async_reader::AsyncFileReader;
use parquet::bloom_filter::Sbbf;

use crate::IndexError;
use crate::sidecar::{ColumnIndex, DataVersion, RowGroupEntry, is_sidecar, sidecar_path};
use crate::terms::value_keys;

/// A string column to index, and the length of the n-grams kept for
/// searches inside words (0: words, word prefixes and suffixes only).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IndexedColumn {
    pub name: String,
    pub ngram: usize,
}

/// How indexes are built.
#[derive(Clone, Debug)]
pub struct IndexSpec {
    pub columns: Vec<IndexedColumn>,
    /// False-positive rate of each filter: the share of row groups without
    /// a word that a search for it still reads.
    pub false_positive_rate: f64,
    /// Files indexed at once.
    pub parallel: usize,
}

impl IndexSpec {
    pub fn new(columns: Vec<IndexedColumn>) -> Self {
        Self {
            columns,
            false_positive_rate: 0.02,
            parallel: std::thread::available_parallelism().map_or(2, |n| n.get()),
        }
    }
}

/// Builds the indexes of `columns` of the Parquet file `meta` names, one
/// per column that the file has as a string column.
pub async fn build_file_index(
    store: Arc<dyn ObjectStore>,
    meta: &ObjectMeta,
    columns: &[IndexedColumn],
    false_positive_rate: f64,
) -> Result<Vec<ColumnIndex>, IndexError> {
    // DataFusion's own reader: the ranged GETs a scan would make.
    let reader: Box<dyn AsyncFileReader> = DefaultParquetFileReaderFactory::new(store)
        .create_reader(
            0,
            PartitionedFile::from(meta.clone()),
            None,
            &ExecutionPlanMetricsSet::new(),
        )?;
    let builder = ParquetRecordBatchStreamBuilder::new(reader).await?;
    let schema = Arc::clone(builder.schema());
    let metadata = Arc::clone(builder.metadata());
    let columns: Vec<&IndexedColumn> = columns
        .iter()
        .filter(|c| {
            schema.field_with_name(&c.name).is_ok_and(|f| {
                matches!(
                    f.data_type(),
                    DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
                )
            })
        })
        .collect();
    let row_groups: Vec<RowGroupEntry> = metadata
        .row_groups()
        .iter()
        .map(|rg| {
            let first = rg.column(0);
            RowGroupEntry {
                offset: first
                    .dictionary_page_offset()
                    .unwrap_or_else(|| first.data_page_offset()) as u64,
                rows: rg.num_rows() as u64,
            }
        })
        .collect();
    let mask = ProjectionMask::columns(
        metadata.file_metadata().schema_descr(),
        columns.iter().map(|c| c.name.as_str()),
    );
    // Keys of each row group, one set per indexed column; batches never
    // span row groups, and rows tell where one ends.
    let mut keys: Vec<Vec<HashSet<Vec<u8>>>> = Vec::with_capacity(row_groups.len());
    let mut stream = builder.with_projection(mask).build()?;
    let mut current = 0usize;
    let mut rows_in_current = 0u64;
    while let Some(batch) = stream.try_next().await? {
        while current < row_groups.len() && rows_in_current >= row_groups[current].rows {
            current += 1;
            rows_in_current = 0;
        }
        if keys.len() <= current {
            keys.resize_with(current + 1, || vec![HashSet::new(); columns.len()]);
        }
        for (c, column) in columns.iter().enumerate() {
            let Some(array) = batch.column_by_name(&column.name) else {
                continue;
            };
            let set = &mut keys[current][c];
            let mut add = |value: &str| {
                value_keys(value.as_bytes(), column.ngram, |k| {
                    set.insert(k);
                })
            };
            match array.data_type() {
                DataType::Utf8 => each(array.as_string::<i32>(), &mut add),
                DataType::LargeUtf8 => each(array.as_string::<i64>(), &mut add),
                DataType::Utf8View => each(array.as_string_view(), &mut add),
                _ => {}
            }
        }
        rows_in_current += batch.num_rows() as u64;
    }
    keys.resize_with(row_groups.len(), || vec![HashSet::new(); columns.len()]);
    let mut per_column: Vec<Vec<Sbbf>> = vec![Vec::with_capacity(row_groups.len()); columns.len()];
    for group in keys {
        for (c, set) in group.into_iter().enumerate() {
            per_column[c].push(filter_of(&set, false_positive_rate)?);
        }
    }
    Ok(columns
        .iter()
        .zip(per_column)
        .map(|(column, filters)| ColumnIndex {
            data: DataVersion::of(meta),
            column: column.name.clone(),
            ngram: column.ngram,
            row_groups: row_groups.clone(),
            filters,
        })
        .collect())
}

fn each<'a>(values: impl StringArrayType<'a>, add: &mut impl FnMut(&str)) {
    for i in 0..values.len() {
        if !values.is_null(i) {
            add(values.value(i));
        }
    }
}

fn filter_of(keys: &HashSet<Vec<u8>>, fpp: f64) -> Result<Sbbf, IndexError> {
    let mut filter = Sbbf::new_with_ndv_fpp(keys.len().max(1) as u64, fpp)?;
    for k in keys {
        filter.insert(k.as_slice());
    }
    // Sized for the exact count, then shrunk as far as the rate allows
    // (the power-of-two rounding can leave it up to twice too big).
    filter.fold_to_target_fpp(fpp);
    Ok(filter)
}

/// What [`index_location`] did.
#[derive(Clone, Debug, Default)]
pub struct BuildReport {
    pub files: usize,
    /// Files whose every index was already current.
    pub fresh: usize,
    /// Files with an index (re)built, and the sidecars written.
    pub built: usize,
    pub sidecars: usize,
    pub data_bytes: u64,
    pub index_bytes: u64,
    pub row_groups: usize,
    pub elapsed: Duration,
}

/// Builds the indexes of every Parquet file under `prefix` whose sidecar
/// for a column is missing, unreadable, older than the file (by size and
/// ETag) or of another n-gram length.
pub async fn index_location(
    store: Arc<dyn ObjectStore>,
    prefix: &Path,
    spec: &IndexSpec,
) -> Result<BuildReport, IndexError> {
    let started = Instant::now();
    let listed: Vec<ObjectMeta> = store.list(Some(prefix)).try_collect().await?;
    let sidecars: HashSet<Path> = listed
        .iter()
        .filter(|m| is_sidecar(&m.location))
        .map(|m| m.location.clone())
        .collect();
    let data: Vec<ObjectMeta> = listed
        .into_iter()
        .filter(|m| {
            m.location.as_ref().ends_with(".parquet") && !is_sidecar(&m.location) && m.size > 0
        })
        .collect();
    let jobs = data.into_iter().map(|meta| {
        let store = Arc::clone(&store);
        let sidecars = &sidecars;
        async move {
            let mut stale = Vec::new();
            for column in &spec.columns {
                let side = sidecar_path(&meta.location, &column.name);
                if !(sidecars.contains(&side)
                    && is_current(store.as_ref(), &side, &meta, column).await)
                {
                    stale.push(column.clone());
                }
            }
            let mut written = (0usize, 0u64, 0usize);
            if stale.is_empty() {
                return Ok::<_, IndexError>((meta.size, None));
            }
            for index in
                build_file_index(Arc::clone(&store), &meta, &stale, spec.false_positive_rate)
                    .await?
            {
                let bytes = index.encode()?;
                written.0 += 1;
                written.1 += bytes.len() as u64;
                written.2 = index.row_groups.len();
                store
                    .put(
                        &sidecar_path(&meta.location, &index.column),
                        PutPayload::from(bytes),
                    )
                    .await?;
            }
            Ok((meta.size, Some(written)))
        }
    });
    let mut report = BuildReport::default();
    let mut results = futures::stream::iter(jobs).buffer_unordered(spec.parallel.max(1));
    while let Some(result) = results.next().await {
        let (data_bytes, built) = result?;
        report.files += 1;
        report.data_bytes += data_bytes;
        match built {
            Some((sidecars, bytes, row_groups)) => {
                report.built += 1;
                report.sidecars += sidecars;
                report.index_bytes += bytes;
                report.row_groups += row_groups;
            }
            None => report.fresh += 1,
        }
    }
    report.elapsed = started.elapsed();
    Ok(report)
}

/// Whether the sidecar at `side` indexes this version of the file, with the
/// n-grams asked for.
async fn is_current(
    store: &dyn ObjectStore,
    side: &Path,
    meta: &ObjectMeta,
    column: &IndexedColumn,
) -> bool {
    let Ok(got) = store.get(side).await else {
        return false;
    };
    let Ok(bytes) = got.bytes().await else {
        return false;
    };
    ColumnIndex::decode(&bytes)
        .is_ok_and(|index| index.data.is(meta) && index.ngram == column.ngram)
}
