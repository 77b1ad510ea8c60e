//! New files show up without `REFRESH TABLE` and without listing the whole
//! table again. Log shippers add files at the end of a table: in the newest
//! time partition (`dt=.../hour=.../`), or under names that sort after the
//! ones before (timestamps). So before a scan is planned, a table whose
//! cached listing is older than a couple of seconds is listed only from
//! its newest partition on (`LIST` with `start-after`, and the newest
//! partition by its prefix), and that part of the cached listing is
//! replaced; the rest is kept. Two LIST requests of a few keys instead of
//! one per thousand files of the table.
//!
//! Files that land in an older partition, or under a name that sorts
//! earlier, appear when the whole table is listed again (after the listing
//! cache's lifetime, even while the newest part is kept fresh) or on
//! `REFRESH TABLE`.

use std::time::Duration;

use datafusion::datasource::listing::ListingTableUrl;
use datafusion::error::Result;
use futures::TryStreamExt;
use hayate_compaction::{is_compacted, is_table_object};
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStore};

/// How old a table's cached listing may get: a session config extension,
/// from the coordinator's `--fresh-listing-secs` and `--listing-cache-ttl-secs`.
#[derive(Debug, Clone, Copy)]
pub struct ListingIntervals {
    /// After this, the newest partition is listed again.
    pub fresh: Duration,
    /// After this, the whole table is listed again: files that landed in
    /// older partitions, and compactions of them, show up.
    pub whole: Duration,
}

/// `cached`, a listing of `url`, brought up to date from its newest part
/// with one LIST; `None` if there is no newest part to start from (an
/// empty or flat partitioned table), so the whole table is listed.
pub async fn list_newest(
    store: &dyn ObjectStore,
    url: &ListingTableUrl,
    cached: &[ObjectMeta],
    partitioned: bool,
) -> Result<Option<Vec<ObjectMeta>>> {
    let Some(offset) = newest_part(cached, url.prefix(), partitioned) else {
        return Ok(None);
    };
    let mut newer: Vec<ObjectMeta> = store
        .list_with_offset(Some(url.prefix()), &offset)
        .try_collect()
        .await?;
    if partitioned {
        // The newest partition itself, listed by its prefix: S3 returns
        // its keys after `start-after=<directory>` (they sort after the
        // directory's name), but SeaweedFS skips them.
        let inside: Vec<ObjectMeta> = store.list(Some(&offset)).try_collect().await?;
        let seen: std::collections::HashSet<Path> =
            newer.iter().map(|m| m.location.clone()).collect();
        newer.extend(inside.into_iter().filter(|m| !seen.contains(&m.location)));
    }
    let mut files: Vec<ObjectMeta> = cached
        .iter()
        .filter(|m| m.location.as_ref() <= offset.as_ref())
        .cloned()
        .collect();
    files.extend(newer);
    Ok(Some(files))
}

/// Where listing starts again: the directory of the newest data file of a
/// partitioned table (everything in it and after it), or the newest file
/// of an unpartitioned one (everything after it). Files in directories
/// starting with `_` or `.` (the search index's sidecars, compaction
/// commits, markers) are not data, and a compaction's files are named by
/// it, not by the shipper, so they do not mark where new files land.
fn newest_part(files: &[ObjectMeta], prefix: &Path, partitioned: bool) -> Option<Path> {
    let newest = files
        .iter()
        .map(|m| &m.location)
        .filter(|p| is_table_object(p, prefix) && !is_compacted(p))
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
