//! `CREATE EXTERNAL TABLE … STORED AS PARQUET` without columns: DataFusion
//! reads the footer of every file to infer the schema, which for a log
//! shipper's day of 100,000 small files takes minutes before the table
//! exists. Hayate reads a sample instead (as DuckDB reads the first file):
//! files spread evenly over the sorted listing, the first and the newest
//! among them, so a column added on the way is seen. The one listing is
//! left in the cache for DataFusion and the table's first query.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::common::DFSchema;
use datafusion::datasource::listing::ListingTableUrl;
use datafusion::error::Result;
use datafusion::execution::SessionState;
use datafusion::execution::cache::cache_manager::CachedFileList;
use datafusion::logical_expr::CreateExternalTable;
use futures::TryStreamExt;
use hayate_storage::listing_cache_key;
use object_store::ObjectMeta;

/// Files read to infer a table's schema when it has more.
const SCHEMA_SAMPLE_FILES: usize = 32;

/// Gives `create` the schema of a sample of its files, if it names no
/// columns and has more files than the sample; returns how many files it
/// found (0 if it did not look).
pub async fn sample_schema(
    state: &SessionState,
    create: &mut CreateExternalTable,
) -> Result<usize> {
    if !create.schema.fields().is_empty()
        || create.locations.len() != 1
        || !create.file_type.eq_ignore_ascii_case("parquet")
    {
        return Ok(0);
    }
    let url = ListingTableUrl::parse(&create.locations[0])?.with_table_ref(create.name.clone());
    if !url.is_collection() {
        return Ok(0);
    }
    let store = state.runtime_env().object_store(&url)?;
    let listing: Vec<ObjectMeta> = store.list(Some(url.prefix())).try_collect().await?;
    let ignore_subdirectory = state
        .config_options()
        .execution
        .listing_table_ignore_subdirectory;
    let mut files: Vec<&ObjectMeta> = listing
        .iter()
        .filter(|m| m.size > 0 && url.contains(&m.location, ignore_subdirectory))
        .collect();
    // With a schema given, DataFusion takes every file of a directory as
    // the table's (without, only `*.parquet`): sample only where they are
    // the same.
    let only_parquet = files
        .iter()
        .all(|m| m.location.as_ref().ends_with(".parquet"));
    files.sort_by(|a, b| a.location.cmp(&b.location));
    let partitioned_by_path = files.iter().any(|m| {
        url.strip_prefix(&m.location)
            .is_some_and(|mut parts| parts.any(|p| p.contains('=')))
    });
    // DataFusion infers partition columns it is not told of; leave those
    // tables, and small ones, to it.
    let sample = only_parquet
        && files.len() > SCHEMA_SAMPLE_FILES
        && (!partitioned_by_path || !create.table_partition_cols.is_empty());
    if sample {
        let last = files.len() - 1;
        let picked: Vec<ObjectMeta> = (0..SCHEMA_SAMPLE_FILES)
            .map(|i| files[i * last / (SCHEMA_SAMPLE_FILES - 1)].clone())
            .collect();
        let format = state
            .get_file_format_factory("parquet")
            .ok_or_else(|| datafusion::error::DataFusionError::Plan("no Parquet format".into()))?
            .create(state, &create.options)?;
        let schema = format.infer_schema(state, &store, &picked).await?;
        let mut fields: Vec<Field> = schema.fields().iter().map(|f| f.as_ref().clone()).collect();
        // The type DataFusion gives partition columns it is not told the
        // type of.
        fields.extend(create.table_partition_cols.iter().map(|name| {
            Field::new(
                name,
                DataType::Dictionary(Box::new(DataType::UInt16), Box::new(DataType::Utf8)),
                true,
            )
        }));
        create.schema = Arc::new(DFSchema::try_from(Schema::new(fields))?);
    }
    let found = files.len();
    if let Some(cache) = state.runtime_env().cache_manager.get_list_files_cache() {
        cache.put(&listing_cache_key(&url), CachedFileList::new(listing));
    }
    Ok(found)
}
