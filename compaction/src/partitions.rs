//! A table's partitions as a compaction sees them: each directory that
//! holds data files directly, with its files, the files readers use, and
//! its commits.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStore};

use crate::CompactionError;
use crate::commit::{Commit, commit_generation, commit_partition, is_commit, parent};
use crate::visibility::{CommitCache, visible};

#[derive(Debug, Clone, Default)]
pub struct Partition {
    /// The directory, a full path in the store.
    pub dir: Path,
    /// Data files directly in it, used or not.
    pub files: Vec<ObjectMeta>,
    /// The data files readers use now.
    pub visible: Vec<ObjectMeta>,
    /// Its commits, oldest first.
    pub commits: Vec<(Path, Arc<Commit>)>,
    /// The search index's sidecars of its files (`_hayate_index/`).
    pub sidecars: Vec<ObjectMeta>,
}

impl Partition {
    /// The generation the next commit gets.
    pub fn next_generation(&self) -> u64 {
        self.commits
            .iter()
            .filter_map(|(p, _)| commit_generation(p))
            .max()
            .unwrap_or(0)
            + 1
    }

    /// Its name relative to the table's location (`dt=…/hour=…`).
    pub fn name(&self, prefix: &Path) -> String {
        match self.dir.prefix_match(prefix) {
            Some(parts) => {
                let name = Path::from_iter(parts).to_string();
                if name.is_empty() { ".".into() } else { name }
            }
            None => self.dir.to_string(),
        }
    }
}

/// Where the search index keeps a partition's sidecars.
const SIDECAR_DIR: &str = "_hayate_index";

/// Whether `path` is one of the table's own objects under `prefix`: not in
/// (nor named like) something starting with `_` or `.`, as the search
/// index's sidecars, compaction commits and markers are.
pub fn is_table_object(path: &Path, prefix: &Path) -> bool {
    path.prefix_match(prefix)
        .is_some_and(|mut parts| parts.all(|s| !s.as_ref().starts_with(['_', '.'])))
}

/// A data file: Parquet and one of the table's own objects.
fn is_data(path: &Path, prefix: &Path) -> bool {
    path.as_ref().ends_with(".parquet") && is_table_object(path, prefix)
}

/// Lists the table at `prefix` once and groups it by partition.
pub async fn partitions(
    store: &Arc<dyn ObjectStore>,
    prefix: &Path,
) -> Result<Vec<Partition>, CompactionError> {
    let listing: Vec<ObjectMeta> = store.list(Some(prefix)).try_collect().await?;
    let commits = CommitCache::default().commits(store, &listing).await?;
    let used: std::collections::HashSet<Path> = visible(listing.clone(), &commits)
        .into_iter()
        .map(|m| m.location)
        .collect();
    let mut by_dir: BTreeMap<Path, Partition> = BTreeMap::new();
    fn dir_of(by_dir: &mut BTreeMap<Path, Partition>, dir: Path) -> &mut Partition {
        by_dir.entry(dir.clone()).or_insert_with(|| Partition {
            dir,
            ..Partition::default()
        })
    }
    for meta in listing {
        if is_commit(&meta.location) {
            continue;
        }
        if is_data(&meta.location, prefix) {
            let partition = dir_of(&mut by_dir, parent(&meta.location));
            if used.contains(&meta.location) {
                partition.visible.push(meta.clone());
            }
            partition.files.push(meta);
        } else {
            let dir = parent(&meta.location);
            if dir.filename() == Some(SIDECAR_DIR) {
                dir_of(&mut by_dir, parent(&dir)).sidecars.push(meta);
            }
        }
    }
    let mut grouped: HashMap<Path, Vec<(Path, Arc<Commit>)>> = HashMap::new();
    for (path, commit) in commits {
        grouped
            .entry(commit_partition(&path))
            .or_default()
            .push((path, commit));
    }
    for (dir, mut commits) in grouped {
        commits.sort_by(|a, b| a.0.cmp(&b.0));
        dir_of(&mut by_dir, dir).commits = commits;
    }
    Ok(by_dir.into_values().collect())
}
