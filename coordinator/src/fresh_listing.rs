//! New files show up without `REFRESH TABLE` and without listing the whole
//! table again. Log shippers add files at the end of a table: in the newest
//! time partition (`dt=.../hour=.../`), or under names that sort after the
//! ones before (timestamps). So before a scan is planned, a table whose
//! cached listing is older than a couple of seconds is listed only from
//! its newest partition on (`LIST` with `start-after`), and that part of
//! the cached listing is replaced; the rest is kept. One LIST request of a
//! few keys instead of one per thousand files of the table.
//!
//! Files that land in an older partition, or under a name that sorts
//! earlier, appear when the listing cache expires or on `REFRESH TABLE`.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use datafusion::catalog::Session;
use datafusion::datasource::listing::ListingTableUrl;
use datafusion::error::Result;
use datafusion::execution::cache::cache_manager::CachedFileList;
use futures::TryStreamExt;
use hayate_storage::listing_cache_key;
use object_store::ObjectMeta;
use object_store::path::Path;
use parking_lot::Mutex;

/// How often a table's newest partition is listed again: a session config
/// extension, from the coordinator's `--fresh-listing-secs`.
#[derive(Debug, Clone, Copy)]
pub struct FreshListingInterval(pub Duration);

/// One table's listing, kept fresh at its newest end.
#[derive(Debug)]
pub struct FreshListing {
    paths: Vec<ListingTableUrl>,
    /// Partitioned tables list from their newest partition directory,
    /// others from their last file name.
    partitioned: bool,
    /// When each location's listing was last brought up to date.
    refreshed: Mutex<HashMap<usize, Instant>>,
}

impl FreshListing {
    pub fn new(paths: Vec<ListingTableUrl>, partitioned: bool) -> Self {
        Self {
            paths,
            partitioned,
            refreshed: Mutex::default(),
        }
    }

    /// Brings the cached listing of every location up to date from its
    /// newest part. A location not listed yet is left to the scan, which
    /// lists it whole.
    pub async fn refresh(&self, state: &dyn Session) -> Result<()> {
        let Some(interval) = state.config().get_extension::<FreshListingInterval>() else {
            return Ok(());
        };
        let Some(cache) = state.runtime_env().cache_manager.get_list_files_cache() else {
            return Ok(());
        };
        for (i, url) in self.paths.iter().enumerate() {
            if !url.is_collection() {
                continue;
            }
            let due = self
                .refreshed
                .lock()
                .get(&i)
                .is_none_or(|at| at.elapsed() >= interval.0);
            if !due {
                continue;
            }
            let key = listing_cache_key(url);
            let Some(cached) = cache.get(&key) else {
                continue;
            };
            let Some(offset) = newest_part(&cached.files, url.prefix(), self.partitioned) else {
                continue;
            };
            let store = state.runtime_env().object_store(url)?;
            let newer: Vec<ObjectMeta> = store
                .list_with_offset(Some(url.prefix()), &offset)
                .try_collect()
                .await?;
            let mut files: Vec<ObjectMeta> = cached
                .files
                .iter()
                .filter(|m| m.location.as_ref() <= offset.as_ref())
                .cloned()
                .collect();
            files.extend(newer);
            cache.put(&key, CachedFileList::new(files));
            self.refreshed.lock().insert(i, Instant::now());
        }
        Ok(())
    }
}

/// Where listing starts again: the directory of the newest data file of a
/// partitioned table (everything in it and after it), or the newest file
/// of an unpartitioned one (everything after it). Files in directories
/// starting with `_` or `.` (the search index's sidecars, markers) are not
/// data.
fn newest_part(files: &[ObjectMeta], prefix: &Path, partitioned: bool) -> Option<Path> {
    let newest = files
        .iter()
        .map(|m| &m.location)
        .filter(|p| {
            p.prefix_match(prefix)
                .is_some_and(|mut parts| parts.all(|s| !s.as_ref().starts_with(['_', '.'])))
        })
        .max()?;
    if !partitioned {
        return Some(newest.clone());
    }
    let mut parts: Vec<_> = newest.parts().collect();
    parts.pop();
    let directory = Path::from_iter(parts);
    // The table's own directory: everything would be listed again.
    (directory.as_ref().len() > prefix.as_ref().len()).then_some(directory)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(path: &str) -> ObjectMeta {
        ObjectMeta {
            location: Path::from(path),
            last_modified: chrono::Utc::now(),
            size: 1,
            e_tag: None,
            version: None,
        }
    }

    #[test]
    fn listing_starts_again_at_the_newest_partition_or_file() {
        let files = [
            meta("web/dt=2026-11-06/hour=23/part-0.parquet"),
            meta("web/dt=2026-11-07/hour=02/part-0.parquet"),
            meta("web/dt=2026-11-07/hour=02/_hayate_index/part-0.parquet.message.hidx"),
            meta("web/dt=2026-11-07/hour=01/part-9.parquet"),
        ];
        let prefix = Path::from("web");
        assert_eq!(
            newest_part(&files, &prefix, true).map(|p| p.to_string()),
            Some("web/dt=2026-11-07/hour=02".to_string())
        );
        assert_eq!(
            newest_part(&files, &prefix, false).map(|p| p.to_string()),
            Some("web/dt=2026-11-07/hour=02/part-0.parquet".to_string())
        );
        assert_eq!(newest_part(&files[..0], &prefix, true), None);
        let flat = [meta("web/a.parquet")];
        assert_eq!(newest_part(&flat, &prefix, true), None);
    }
}
