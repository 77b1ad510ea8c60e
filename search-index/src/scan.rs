//! Narrowing a planned Parquet scan by the search index: where the scan's
//! filters contain a text search and a data file has a current sidecar,
//! the scan keeps only the row groups that may match (as byte ranges) and
//! drops files with none. Files without a sidecar, with a stale one (size
//! or ETag changed) or a damaged one are read whole, so the answer never
//! depends on the index.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::catalog::Session;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::datasource::listing::{ListingTableUrl, PartitionedFile};
use datafusion::datasource::physical_plan::{
    FileGroup, FileScanConfig, FileScanConfigBuilder, ParquetSource,
};
use datafusion::datasource::source::DataSourceExec;
use datafusion::error::Result;
use datafusion::logical_expr::Expr;
use datafusion::physical_plan::ExecutionPlan;
use hayate_storage::{IoCounters, listing_cache_key};
use object_store::ObjectMeta;
use object_store::path::Path;

use crate::cache::IndexCache;
use crate::needs::Need;
use crate::prune::{Selection, select};
use crate::sidecar::{FileIndexes, is_sidecar, sidecar_path};

/// Set in a session's config to plan its scans without the index (as
/// `SET hayate.search_index = false` does).
#[derive(Debug)]
pub struct SearchIndexOff;

/// `plan`, a scan of the table at `paths` with `filters`, narrowed by the
/// indexes of its files.
pub async fn narrow_scan(
    plan: Arc<dyn ExecutionPlan>,
    filters: &[Expr],
    paths: &[ListingTableUrl],
    state: &dyn Session,
) -> Result<Arc<dyn ExecutionPlan>> {
    match Need::of_filters(filters) {
        Some(need) => prune(plan, &need, paths, state).await,
        None => Ok(plan),
    }
}

/// The sidecars under the table's locations, by path, as the listing the
/// scan was just planned from shows them (no request of its own).
fn listed_sidecars(paths: &[ListingTableUrl], state: &dyn Session) -> HashMap<Path, ObjectMeta> {
    let Some(cache) = state.runtime_env().cache_manager.get_list_files_cache() else {
        return HashMap::new();
    };
    let mut out = HashMap::new();
    for url in paths {
        if let Some(listed) = cache.get(&listing_cache_key(url)) {
            out.extend(
                listed
                    .files
                    .iter()
                    .filter(|m| is_sidecar(&m.location))
                    .map(|m| (m.location.clone(), m.clone())),
            );
        }
    }
    out
}

async fn prune(
    plan: Arc<dyn ExecutionPlan>,
    need: &Need,
    paths: &[ListingTableUrl],
    state: &dyn Session,
) -> Result<Arc<dyn ExecutionPlan>> {
    let Some(cache) = state.config().get_extension::<IndexCache>() else {
        return Ok(plan);
    };
    if state.config().get_extension::<SearchIndexOff>().is_some() {
        return Ok(plan);
    }
    let sidecars = listed_sidecars(paths, state);
    if sidecars.is_empty() {
        return Ok(plan);
    }
    // The current indexes of the scanned files' searched columns,
    // fetched before the (synchronous) rewrite of the plan.
    let columns = need.columns();
    let mut indexes: HashMap<Path, FileIndexes> = HashMap::new();
    for config in parquet_scans(&plan) {
        let mut wanted: Vec<(&PartitionedFile, ObjectMeta)> = Vec::new();
        for file in config.file_groups.iter().flat_map(|g| g.iter()) {
            for column in &columns {
                if let Some(side) = sidecars.get(&sidecar_path(&file.object_meta.location, column))
                {
                    wanted.push((file, side.clone()));
                }
            }
        }
        if wanted.is_empty() {
            continue;
        }
        let store = state.runtime_env().object_store(&config.object_store_url)?;
        let metas: Vec<ObjectMeta> = wanted.iter().map(|(_, m)| m.clone()).collect();
        let mut per_file: HashMap<&Path, Vec<_>> = HashMap::new();
        for ((file, _), index) in wanted.iter().zip(cache.indexes(&store, &metas).await) {
            match index {
                Some(index) if index.data.is(&file.object_meta) => {
                    per_file
                        .entry(&file.object_meta.location)
                        .or_default()
                        .push(index);
                }
                Some(index) => tracing::debug!(
                    file = %file.object_meta.location,
                    column = %index.column,
                    "search index is stale: the file is read as if it had none"
                ),
                None => {}
            }
        }
        for (path, columns) in per_file {
            if let Some(file) = FileIndexes::new(columns) {
                indexes.insert(path.clone(), file);
            }
        }
    }
    if indexes.is_empty() {
        return Ok(plan);
    }
    let counters = state.config().get_extension::<IoCounters>();
    let rewritten = plan.transform_down(|node| {
        let Some(config) = parquet_scan(&node) else {
            return Ok(Transformed::no(node));
        };
        let mut groups = Vec::with_capacity(config.file_groups.len());
        let (mut files_skipped, mut groups_skipped) = (0, 0);
        for group in &config.file_groups {
            let mut kept = Vec::with_capacity(group.len());
            for file in group.iter() {
                let Some(index) = indexes.get(&file.object_meta.location) else {
                    kept.push(file.clone());
                    continue;
                };
                let (selection, skipped) = select(file, index, need);
                groups_skipped += skipped as u64;
                match selection {
                    Selection::Whole => kept.push(file.clone()),
                    Selection::Nothing => files_skipped += 1,
                    Selection::Ranges(ranges) => kept.extend(ranges.into_iter().map(|r| {
                        let mut part = file.clone();
                        part.range = Some(r);
                        // The file's statistics describe all of it.
                        part.statistics = None;
                        part
                    })),
                }
            }
            groups.push(FileGroup::new(kept));
        }
        if let Some(c) = &counters {
            IoCounters::add(&c.index_files_skipped, files_skipped);
            IoCounters::add(&c.index_row_groups_skipped, groups_skipped);
        }
        let config = FileScanConfigBuilder::from(config.clone())
            .with_file_groups(groups)
            .build();
        Ok(Transformed::yes(
            DataSourceExec::from_data_source(config) as Arc<dyn ExecutionPlan>
        ))
    })?;
    Ok(rewritten.data)
}

fn parquet_scan(plan: &Arc<dyn ExecutionPlan>) -> Option<&FileScanConfig> {
    let config = plan
        .downcast_ref::<DataSourceExec>()?
        .data_source()
        .downcast_ref::<FileScanConfig>()?;
    config.file_source().downcast_ref::<ParquetSource>()?;
    Some(config)
}

fn parquet_scans(plan: &Arc<dyn ExecutionPlan>) -> Vec<&FileScanConfig> {
    let mut out: Vec<&FileScanConfig> = parquet_scan(plan).into_iter().collect();
    for child in plan.children() {
        out.extend(parquet_scans(child));
    }
    out
}
