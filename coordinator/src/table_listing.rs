//! The listing a file table's scans are planned from, kept in DataFusion's
//! list-files cache (where `ListingTable` looks for it):
//! - fresh at its newest end ([`list_newest`]) and listed whole again
//!   after the cache's lifetime;
//! - filtered by the compaction commits it holds, so that each row is in
//!   the files it names exactly once ([`visible`]).
//!
//! DataFusion lists a location itself when its entry is missing (expired,
//! `REFRESH TABLE`) and caches the raw listing. So before a scan the entry
//! is made one that this table put (filtered), and after the scan it is
//! checked to be still the same one: if not, the scan may have used a raw
//! listing and is planned again.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use datafusion::catalog::Session;
use datafusion::datasource::listing::ListingTableUrl;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::cache::TableScopedPath;
use datafusion::execution::cache::cache_manager::CachedFileList;
use futures::TryStreamExt;
use hayate_compaction::{CommitCache, visible};
use hayate_storage::listing_cache_key;
use object_store::ObjectMeta;

use crate::fresh_listing::{ListingIntervals, list_newest};

/// The cached listing of one location of a table.
#[derive(Debug)]
pub struct CachedListing {
    pub url: ListingTableUrl,
    /// Where it is in the list-files cache.
    pub key: TableScopedPath,
    pub files: Arc<Vec<ObjectMeta>>,
}

/// The cached listings a scan was planned from, one per location.
#[derive(Debug, Default)]
pub struct ListingSnapshot(Vec<CachedListing>);

impl ListingSnapshot {
    /// How many of its objects end with `extension` (the table's files).
    pub fn files(&self, extension: &str) -> usize {
        self.0
            .iter()
            .flat_map(|l| l.files.iter())
            .filter(|m| m.location.as_ref().ends_with(extension))
            .count()
    }

    pub fn locations(&self) -> &[CachedListing] {
        &self.0
    }
}

#[derive(Debug, Default)]
struct LocationState {
    /// The listing this table last put in the cache.
    put: Option<Arc<Vec<ObjectMeta>>>,
    /// When its newest part, and all of it, were last listed.
    fresh_at: Option<Instant>,
    whole_at: Option<Instant>,
}

#[derive(Debug)]
pub struct TableListing {
    paths: Vec<ListingTableUrl>,
    /// Partitioned tables list again from their newest partition
    /// directory, others from their last file name.
    partitioned: bool,
    commits: CommitCache,
    locations: tokio::sync::Mutex<HashMap<usize, LocationState>>,
}

impl TableListing {
    pub fn new(paths: Vec<ListingTableUrl>, partitioned: bool) -> Self {
        Self {
            paths,
            partitioned,
            commits: CommitCache::default(),
            locations: tokio::sync::Mutex::default(),
        }
    }

    /// Puts the listing of every location, current and filtered by its
    /// commits, in the cache; returns what it put (or found).
    pub async fn prepare(&self, state: &dyn Session) -> Result<ListingSnapshot> {
        let Some(cache) = state.runtime_env().cache_manager.get_list_files_cache() else {
            return Ok(ListingSnapshot::default());
        };
        let intervals = state.config().get_extension::<ListingIntervals>();
        // One query at a time lists a table; the others then find its
        // listing current.
        let mut locations = self.locations.lock().await;
        let mut snapshot = ListingSnapshot::default();
        for (i, url) in self.paths.iter().enumerate() {
            if !url.is_collection() {
                continue;
            }
            let location = locations.entry(i).or_default();
            let key = listing_cache_key(url);
            let cached = cache.get(&key).map(|c| c.files);
            let ours = match (&cached, &location.put) {
                (Some(a), Some(b)) => Arc::ptr_eq(a, b),
                _ => false,
            };
            let due = |at: Option<Instant>, every: Option<std::time::Duration>| {
                every.is_some_and(|every| at.is_none_or(|at| at.elapsed() >= every))
            };
            let store = state.runtime_env().object_store(url)?;
            let mut listed: Option<Vec<ObjectMeta>> = None;
            let whole_due = cached.is_none()
                || (ours && due(location.whole_at, intervals.as_ref().map(|i| i.whole)));
            if whole_due {
                listed = Some(store.list(Some(url.prefix())).try_collect().await?);
                location.whole_at = Some(Instant::now());
                location.fresh_at = location.whole_at;
            } else if let Some(cached) = &cached {
                if !ours {
                    // Listed whole by DataFusion, not filtered yet.
                    listed = Some(cached.to_vec());
                    location.whole_at = Some(Instant::now());
                }
                if due(location.fresh_at, intervals.as_ref().map(|i| i.fresh)) {
                    let base = listed.as_deref().unwrap_or(cached);
                    if let Some(newer) = list_newest(&store, url, base, self.partitioned).await? {
                        listed = Some(newer);
                    }
                    location.fresh_at = Some(Instant::now());
                }
            }
            let files = match listed {
                Some(files) => {
                    let commits = self
                        .commits
                        .commits(&store, &files)
                        .await
                        .map_err(|e| DataFusionError::External(Box::new(e)))?;
                    cache.put(&key, CachedFileList::new(visible(files, &commits)));
                    let put = cache.get(&key).map(|c| c.files).ok_or_else(|| {
                        DataFusionError::Execution(format!(
                            "the listing of {url} did not fit in the list-files cache"
                        ))
                    })?;
                    location.put = Some(Arc::clone(&put));
                    put
                }
                None => cached.expect("a listing that was not due is cached"),
            };
            snapshot.0.push(CachedListing {
                url: url.clone(),
                key,
                files,
            });
        }
        Ok(snapshot)
    }

    /// Whether the cache still holds the listings of `snapshot`.
    pub fn unchanged(&self, state: &dyn Session, snapshot: &ListingSnapshot) -> bool {
        let Some(cache) = state.runtime_env().cache_manager.get_list_files_cache() else {
            return true;
        };
        snapshot.0.iter().all(|l| {
            cache
                .get(&l.key)
                .is_some_and(|c| Arc::ptr_eq(&c.files, &l.files))
        })
    }
}
