//! Deleting what compactions left behind, once no query can need it: the
//! files a commit removed (and their search-index sidecars), a grace
//! period after the commit; and files of compactions that never committed
//! (a crash between writing and committing), a grace period after they
//! were written. Queries planned from a listing older than the grace
//! period would miss the files, so it must exceed the listing cache's
//! lifetime plus the longest query.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt};

use crate::CompactionError;
use crate::commit::is_compacted;
use crate::partitions::Partition;

#[derive(Clone, Copy, Debug, Default)]
pub struct Cleaned {
    /// Files removed by commits older than the grace period.
    pub replaced: usize,
    pub replaced_bytes: u64,
    /// Files of compactions that never committed.
    pub abandoned: usize,
    pub sidecars: usize,
}

fn older_than(t: chrono::DateTime<chrono::Utc>, grace: Duration) -> bool {
    chrono::Utc::now()
        .signed_duration_since(t)
        .to_std()
        .is_ok_and(|age| age >= grace)
}

/// Deletes the files of `partitions` that no reader uses any more and no
/// query planned within `grace` can still read.
pub async fn cleanup(
    store: &Arc<dyn ObjectStore>,
    partitions: &[Partition],
    grace: Duration,
) -> Result<Cleaned, CompactionError> {
    let mut cleaned = Cleaned::default();
    for partition in partitions {
        let mut doomed: Vec<&ObjectMeta> = Vec::new();
        let mut added: HashSet<&str> = HashSet::new();
        for (_, commit) in &partition.commits {
            added.extend(commit.added.iter().map(|f| f.name.as_str()));
            if !commit.committed_at().is_some_and(|t| older_than(t, grace)) {
                continue;
            }
            for removed in &commit.removed {
                let found = partition.files.iter().find(|m| {
                    m.location.filename() == Some(removed.name.as_str()) && removed.is(m)
                });
                if let Some(meta) = found {
                    cleaned.replaced += 1;
                    cleaned.replaced_bytes += meta.size;
                    doomed.push(meta);
                }
            }
        }
        for meta in &partition.files {
            let name = meta.location.filename().unwrap_or_default();
            if is_compacted(&meta.location)
                && !added.contains(name)
                && older_than(meta.last_modified, grace)
            {
                cleaned.abandoned += 1;
                doomed.push(meta);
            }
        }
        let names: HashSet<&str> = doomed
            .iter()
            .filter_map(|m| m.location.filename())
            .collect();
        let sidecars: Vec<&Path> = partition
            .sidecars
            .iter()
            .map(|m| &m.location)
            .filter(|p| {
                p.filename()
                    .and_then(|n| n.rsplitn(3, '.').nth(2))
                    .is_some_and(|file| names.contains(file))
            })
            .collect();
        cleaned.sidecars += sidecars.len();
        for path in doomed.iter().map(|m| &m.location).chain(sidecars) {
            match store.delete(path).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(cleaned)
}
