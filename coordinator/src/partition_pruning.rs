//! A many-file table's listing pruned by partition before DataFusion plans
//! a scan from it. DataFusion parses every file's path and evaluates the
//! partition filters file by file (`pruned_partition_list`): over a log
//! shipper's day of 100,000 small files in 24 hour directories, that is
//! 100,000 evaluations where 24 decide, on every query. Here the filters
//! are evaluated once per partition, over one batch, and the scan is planned
//! from a listing of the matching partitions' files only.
//!
//! DataFusion still filters that listing as before, so the answer cannot
//! change: a file is left out only when its partition's values were parsed
//! exactly as DataFusion parses them and the filters are false for them.
//! Whatever cannot be decided here (a value that does not parse, a path
//! outside the partition layout) is kept for DataFusion to decide.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::Session;
use datafusion::common::{DFSchema, ScalarValue};
use datafusion::datasource::listing::ListingTableUrl;
use datafusion::datasource::listing::helpers::{
    expr_applicable_for_cols, parse_partitions_for_path,
};
use datafusion::error::Result;
use datafusion::execution::SessionState;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::cache::Cache;
use datafusion::execution::cache::TableScopedPath;
use datafusion::execution::cache::cache_manager::{CacheManagerConfig, CachedFileList};
use datafusion::execution::cache::default_cache::DefaultCache;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::logical_expr::Expr;
use datafusion::logical_expr::utils::conjunction;
use object_store::ObjectMeta;

use crate::table_listing::ListingSnapshot;

/// The files of `files` (a listing of `url`) whose partition may match
/// `filters`; `None` when no file can be left out.
fn prune(
    state: &dyn Session,
    url: &ListingTableUrl,
    files: &[ObjectMeta],
    partition_cols: &[(String, DataType)],
    filters: &[Expr],
) -> Result<Option<Vec<ObjectMeta>>> {
    let names: Vec<&str> = partition_cols.iter().map(|(n, _)| n.as_str()).collect();
    let filters: Vec<Expr> = filters
        .iter()
        .filter(|f| expr_applicable_for_cols(&names, f))
        .cloned()
        .collect();
    let Some(filter) = conjunction(filters) else {
        return Ok(None);
    };
    if names.is_empty() {
        return Ok(None);
    }
    let partitions = Partitions::of(url, files, partition_cols);
    if partitions.values.is_empty() {
        return Ok(None);
    }
    let schema = Arc::new(Schema::new(
        partition_cols
            .iter()
            .map(|(n, t)| Field::new(n, t.clone(), true))
            .collect::<Vec<_>>(),
    ));
    let columns = (0..names.len())
        .map(|c| ScalarValue::iter_to_array(partitions.values.iter().map(|row| row[c].clone())))
        .collect::<Result<Vec<_>>>()?;
    let batch = RecordBatch::try_new(Arc::clone(&schema), columns)?;
    let df_schema = DFSchema::try_from(schema.as_ref().clone())?;
    let matches = state
        .create_physical_expr(filter, &df_schema)?
        .evaluate(&batch)?
        .into_array(batch.num_rows())?;
    let Some(matches) = matches.as_boolean_opt() else {
        return Ok(None);
    };
    // A null answer is left to DataFusion too.
    let keep = |p: usize| matches.is_null(p) || matches.value(p);
    let kept: Vec<ObjectMeta> = files
        .iter()
        .zip(&partitions.of_file)
        .filter(|(_, p)| p.is_none_or(keep))
        .map(|(m, _)| m.clone())
        .collect();
    match kept.first() {
        _ if kept.len() == files.len() => Ok(None),
        Some(_) => Ok(Some(kept)),
        // The cache takes no empty listing: one file stands in, which
        // DataFusion's own filtering then leaves out.
        None => Ok(Some(files[..1].to_vec())),
    }
}

/// The distinct partitions of a listing and each file's.
struct Partitions {
    /// Per partition, its values in partition-column order.
    values: Vec<Vec<ScalarValue>>,
    /// Per file, its partition; `None` where DataFusion must decide.
    of_file: Vec<Option<usize>>,
}

impl Partitions {
    fn of(url: &ListingTableUrl, files: &[ObjectMeta], cols: &[(String, DataType)]) -> Self {
        let mut index: HashMap<String, Option<usize>> = HashMap::new();
        let mut values = Vec::new();
        let of_file = files
            .iter()
            .map(|meta| {
                // The directories that hold the partition values.
                let dirs: Vec<&str> = url.strip_prefix(&meta.location)?.take(cols.len()).collect();
                if dirs.len() < cols.len() {
                    return None;
                }
                let key = dirs.join("/");
                *index.entry(key).or_insert_with(|| {
                    let row = parse(url, meta, cols)?;
                    values.push(row);
                    Some(values.len() - 1)
                })
            })
            .collect();
        Self { values, of_file }
    }
}

/// `meta`'s partition values, parsed and typed as DataFusion does.
fn parse(
    url: &ListingTableUrl,
    meta: &ObjectMeta,
    cols: &[(String, DataType)],
) -> Option<Vec<ScalarValue>> {
    let parsed =
        parse_partitions_for_path(url, &meta.location, cols.iter().map(|(n, _)| n.as_str()))?;
    if parsed.len() != cols.len() {
        return None;
    }
    parsed
        .into_iter()
        .zip(cols)
        .map(|(v, (_, t))| ScalarValue::try_from_string(v.into_owned(), t).ok())
        .collect()
}

/// A copy of `state` to plan one scan from `snapshot`, its listings
/// pruned by the partition filters among `filters`; `None` when no file
/// can be left out (or `state` is not a `SessionState`).
pub fn pruned_state(
    state: &dyn Session,
    snapshot: &ListingSnapshot,
    partition_cols: &[(String, DataType)],
    filters: &[Expr],
) -> Result<Option<SessionState>> {
    let Some(session) = state.as_any().downcast_ref::<SessionState>() else {
        return Ok(None);
    };
    let mut listings = Vec::new();
    let mut pruned = false;
    for location in snapshot.locations() {
        let files = match prune(
            state,
            &location.url,
            &location.files,
            partition_cols,
            filters,
        )? {
            Some(kept) => {
                pruned = true;
                Arc::new(kept)
            }
            None => Arc::clone(&location.files),
        };
        listings.push((location.key.clone(), CachedFileList { files }));
    }
    if !pruned {
        return Ok(None);
    }
    with_listings(session, listings).map(Some)
}

/// A copy of `state` whose list-files cache holds `listings` (and nothing
/// else): the scan planned with it lists nothing and sees only these.
fn with_listings(
    state: &SessionState,
    listings: Vec<(TableScopedPath, CachedFileList)>,
) -> Result<SessionState> {
    let runtime = state.runtime_env();
    let cache = DefaultCache::<TableScopedPath, CachedFileList>::new(usize::MAX);
    for (key, files) in listings {
        cache.put(&key, files);
    }
    let caches = &runtime.cache_manager;
    let config = CacheManagerConfig::default()
        .with_file_statistics_cache(caches.get_file_statistic_cache())
        .with_file_statistics_cache_limit(caches.get_file_statistic_cache_limit())
        .with_file_metadata_cache(Some(caches.get_file_metadata_cache()))
        .with_metadata_cache_limit(caches.get_metadata_cache_limit())
        .with_list_files_cache(Some(Arc::new(cache)))
        .with_list_files_cache_limit(usize::MAX);
    let runtime = RuntimeEnvBuilder::from_runtime_env(runtime)
        .with_cache_manager(config)
        .build_arc()?;
    Ok(SessionStateBuilder::new_from_existing(state.clone())
        .with_runtime_env(runtime)
        .build())
}

#[cfg(test)]
mod tests {
    use datafusion::datasource::listing::helpers::pruned_partition_list;
    use datafusion::logical_expr::{col, lit};
    use datafusion::prelude::SessionContext;
    use futures::TryStreamExt;
    use object_store::memory::InMemory;
    use object_store::path::Path;

    use super::*;

    fn meta(path: &str) -> ObjectMeta {
        ObjectMeta {
            location: Path::from(path),
            last_modified: chrono::Utc::now(),
            size: 100,
            e_tag: None,
            version: None,
        }
    }

    /// The files DataFusion plans a scan of from `files`.
    async fn planned(
        state: &SessionState,
        url: &ListingTableUrl,
        files: Vec<ObjectMeta>,
        cols: &[(String, DataType)],
        filters: &[Expr],
    ) -> std::result::Result<Vec<String>, String> {
        let key = TableScopedPath {
            table: None,
            path: url.prefix().clone(),
        };
        let state = with_listings(state, vec![(key, CachedFileList::new(files))]).unwrap();
        let store = InMemory::new();
        let listed = async {
            pruned_partition_list(&state, &store, url, filters, ".parquet", cols)
                .await?
                .map_ok(|f| f.object_meta.location.to_string())
                .try_collect::<Vec<_>>()
                .await
        };
        let mut out = listed.await.map_err(|e| e.to_string())?;
        out.sort();
        Ok(out)
    }

    #[tokio::test]
    async fn pruning_never_changes_the_files_datafusion_plans() {
        let state = SessionContext::new().state();
        let url = ListingTableUrl::parse("s3://bucket/logs/").unwrap();
        let cols = vec![
            ("dt".to_string(), DataType::Utf8),
            ("hour".to_string(), DataType::Int32),
        ];
        let mut files = Vec::new();
        for day in ["2026-11-01", "2026-11-02"] {
            for hour in ["00", "07", "22", "23"] {
                for n in 0..3 {
                    files.push(meta(&format!("logs/dt={day}/hour={hour}/part-{n}.parquet")));
                }
            }
        }
        // Paths outside the layout, an escaped value, and a file below a
        // partition.
        files.push(meta("logs/stray.parquet"));
        files.push(meta("logs/dt=2026-11-01/stray.parquet"));
        files.push(meta("logs/dt=2026%2D11%2D02/hour=23/part-0.parquet"));
        files.push(meta("logs/dt=2026-11-02/hour=23/nested/part-9.parquet"));
        let cases = [
            vec![col("hour").gt_eq(lit(22))],
            vec![col("dt").eq(lit("2026-11-02")), col("hour").eq(lit(23))],
            vec![col("dt").gt(lit("2026-11-01")).or(col("hour").lt(lit(1)))],
            vec![col("hour").gt(lit(99))],
            vec![col("hour").is_null()],
        ];
        for filters in cases {
            let all = planned(&state, &url, files.clone(), &cols, &filters).await;
            let kept = prune(&state, &url, &files, &cols, &filters).unwrap();
            let kept = kept.expect("every case leaves some partitions out");
            assert!(kept.len() < files.len(), "{filters:?}");
            let from_kept = planned(&state, &url, kept, &cols, &filters).await;
            assert_eq!(from_kept, all, "{filters:?}");
        }
        // A value that does not parse: DataFusion's error stays its own.
        let mut bad = files.clone();
        bad.push(meta("logs/dt=2026-11-01/hour=xx/part-0.parquet"));
        let filters = vec![col("hour").gt_eq(lit(22))];
        let kept = prune(&state, &url, &bad, &cols, &filters).unwrap().unwrap();
        assert!(kept.iter().any(|m| m.location.as_ref().contains("hour=xx")));
        let error = planned(&state, &url, bad.clone(), &cols, &filters).await;
        assert!(error.is_err(), "{error:?}");
        assert_eq!(planned(&state, &url, kept, &cols, &filters).await, error);
        // No partition filter: nothing to prune.
        let other = vec![col("message").eq(lit("x"))];
        assert!(
            prune(&state, &url, &files, &cols, &other)
                .unwrap()
                .is_none()
        );
    }
}
