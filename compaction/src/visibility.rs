//! Which files of a listing a reader uses, given the commits in it.
//!
//! The rule, per partition directory:
//! - a file a listed commit removed (same name, size and ETag) is not used;
//! - a file written by a compaction is used only if a listed commit adds it;
//! - every other file is used.
//!
//! Writes happen in the order new files, then the commit; deletes of
//! removed files only a grace period after the commit. So a listing that
//! holds the commit holds the files it adds, and a listing without it
//! holds the files it removes: either way each row is used once.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt};
use parking_lot::Mutex;

use crate::CompactionError;
use crate::commit::{Commit, CommittedFile, commit_partition, is_commit, is_compacted, parent};

/// The files of `listing` a reader uses (other objects, such as commits
/// and sidecars, are kept), given the commits it lists.
pub fn visible(listing: Vec<ObjectMeta>, commits: &HashMap<Path, Arc<Commit>>) -> Vec<ObjectMeta> {
    if commits.is_empty() && !listing.iter().any(|m| is_compacted(&m.location)) {
        return listing;
    }
    let mut removed: HashMap<(Path, &str), Vec<&CommittedFile>> = HashMap::new();
    let mut added: HashSet<(Path, &str)> = HashSet::new();
    for (path, commit) in commits {
        let partition = commit_partition(path);
        for file in &commit.removed {
            removed
                .entry((partition.clone(), file.name.as_str()))
                .or_default()
                .push(file);
        }
        for file in &commit.added {
            added.insert((partition.clone(), file.name.as_str()));
        }
    }
    listing
        .into_iter()
        .filter(|meta| {
            let Some(name) = meta.location.filename() else {
                return true;
            };
            let key = (parent(&meta.location), name);
            if removed
                .get(&key)
                .is_some_and(|files| files.iter().any(|f| f.is(meta)))
            {
                return false;
            }
            !is_compacted(&meta.location) || added.contains(&key)
        })
        .collect()
}

/// Commits read so far, by path: a commit is written once and never
/// changed, so each is fetched once per process.
#[derive(Debug, Default)]
pub struct CommitCache {
    read: Mutex<HashMap<Path, Arc<Commit>>>,
}

impl CommitCache {
    /// The commits `listing` holds, fetching those not read before.
    pub async fn commits(
        &self,
        store: &Arc<dyn ObjectStore>,
        listing: &[ObjectMeta],
    ) -> Result<HashMap<Path, Arc<Commit>>, CompactionError> {
        let listed: Vec<&Path> = listing
            .iter()
            .map(|m| &m.location)
            .filter(|p| is_commit(p))
            .collect();
        let mut out = HashMap::with_capacity(listed.len());
        let mut missing = Vec::new();
        {
            let read = self.read.lock();
            for path in listed {
                match read.get(path) {
                    Some(commit) => {
                        out.insert(path.clone(), Arc::clone(commit));
                    }
                    None => missing.push(path.clone()),
                }
            }
        }
        let fetched: Vec<(Path, Arc<Commit>)> = futures::stream::iter(missing)
            .map(|path| async move {
                let bytes = store.get(&path).await?.bytes().await?;
                let commit = Commit::from_json(&path, &bytes)?;
                Ok::<_, CompactionError>((path, Arc::new(commit)))
            })
            .buffer_unordered(16)
            .try_collect()
            .await?;
        let mut read = self.read.lock();
        for (path, commit) in fetched {
            read.insert(path.clone(), Arc::clone(&commit));
            out.insert(path, commit);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(path: &str, size: u64) -> ObjectMeta {
        ObjectMeta {
            location: Path::from(path),
            last_modified: chrono::Utc::now(),
            size,
            e_tag: Some(format!("{path}-{size}")),
            version: None,
        }
    }

    fn names(files: &[ObjectMeta]) -> Vec<&str> {
        files.iter().map(|m| m.location.as_ref()).collect()
    }

    #[test]
    fn a_commit_switches_its_partition_from_the_removed_files_to_the_added_ones() {
        let p = "t/dt=1";
        let (old_a, old_b) = (meta("t/dt=1/a.parquet", 10), meta("t/dt=1/b.parquet", 20));
        let new = meta("t/dt=1/hayate-compacted-x-0000.parquet", 25);
        let late = meta("t/dt=1/c.parquet", 5);
        let other = meta("t/dt=2/a.parquet", 10);
        let commit_path = Commit::path(&Path::from(p), 1);
        let commit = Commit {
            generation: 1,
            committed_at: "2026-12-03T00:00:00Z".into(),
            removed: vec![CommittedFile::of(&old_a), CommittedFile::of(&old_b)],
            added: vec![CommittedFile::of(&new)],
            rows: 3,
        };
        let listing = vec![
            old_a.clone(),
            old_b.clone(),
            new.clone(),
            late.clone(),
            other.clone(),
        ];
        // Before the commit is listed: the new file is not used yet.
        assert_eq!(
            names(&visible(listing.clone(), &HashMap::new())),
            [
                "t/dt=1/a.parquet",
                "t/dt=1/b.parquet",
                "t/dt=1/c.parquet",
                "t/dt=2/a.parquet"
            ]
        );
        let mut with_commit = listing;
        with_commit.push(meta(commit_path.as_ref(), 100));
        let commits = HashMap::from([(commit_path.clone(), Arc::new(commit))]);
        assert_eq!(
            names(&visible(with_commit, &commits)),
            [
                "t/dt=1/hayate-compacted-x-0000.parquet",
                "t/dt=1/c.parquet",
                "t/dt=2/a.parquet",
                commit_path.as_ref()
            ]
        );
        // A file written later under a removed file's name is another file.
        let rewritten = meta("t/dt=1/a.parquet", 11);
        assert_eq!(
            names(&visible(vec![rewritten], &commits)),
            ["t/dt=1/a.parquet"]
        );
    }
}
