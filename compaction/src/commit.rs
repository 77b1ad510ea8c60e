//! The commit file of one compaction: which files of a partition it
//! removed and which it added. Its existence is the switch.

use object_store::ObjectMeta;
use object_store::path::Path;
use serde::{Deserialize, Serialize};

use crate::CompactionError;

/// The directory, inside a partition, that holds its commits.
const COMMIT_DIR: &str = "_hayate_compaction";
/// The name every file written by a compaction starts with.
const COMPACTED_PREFIX: &str = "hayate-compacted-";

/// One file a commit names, by its name in the partition and the version
/// the compaction read (or wrote): a later file under the same name is
/// another file and not covered by the commit.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommittedFile {
    pub name: String,
    pub size: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub e_tag: Option<String>,
}

impl CommittedFile {
    pub fn of(meta: &ObjectMeta) -> Self {
        Self {
            name: meta.location.filename().unwrap_or_default().to_string(),
            size: meta.size,
            e_tag: meta.e_tag.clone(),
        }
    }

    /// Whether `meta` is this very file (same size, and same ETag where
    /// the store gives one).
    pub fn is(&self, meta: &ObjectMeta) -> bool {
        meta.size == self.size
            && match (&self.e_tag, &meta.e_tag) {
                (Some(a), Some(b)) => a == b,
                _ => true,
            }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Commit {
    /// Commits of one partition are numbered 1, 2, …; the number is the
    /// file's name, written only if absent.
    pub generation: u64,
    /// When it was written (RFC 3339), for the grace period of deletes.
    pub committed_at: String,
    pub removed: Vec<CommittedFile>,
    pub added: Vec<CommittedFile>,
    /// Rows in the added files (and so in the removed ones).
    pub rows: u64,
}

impl Commit {
    pub fn path(partition: &Path, generation: u64) -> Path {
        partition
            .clone()
            .join(COMMIT_DIR)
            .join(format!("{generation:020}.json"))
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).expect("a commit serializes")
    }

    pub fn from_json(path: &Path, bytes: &[u8]) -> Result<Self, CompactionError> {
        serde_json::from_slice(bytes).map_err(|e| CompactionError::BadCommit {
            path: path.to_string(),
            message: e.to_string(),
        })
    }

    pub fn committed_at(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        chrono::DateTime::parse_from_rfc3339(&self.committed_at)
            .ok()
            .map(|t| t.to_utc())
    }
}

/// Whether `path` is a commit file.
pub fn is_commit(path: &Path) -> bool {
    commit_generation(path).is_some()
}

/// The generation a commit file's name holds.
pub(crate) fn commit_generation(path: &Path) -> Option<u64> {
    let mut parts: Vec<_> = path.parts().collect();
    let name = parts.pop()?;
    let dir = parts.pop()?;
    if dir.as_ref() != COMMIT_DIR {
        return None;
    }
    name.as_ref().strip_suffix(".json")?.parse().ok()
}

/// The partition directory a commit file belongs to.
pub(crate) fn commit_partition(path: &Path) -> Path {
    let mut parts: Vec<_> = path.parts().collect();
    parts.truncate(parts.len().saturating_sub(2));
    Path::from_iter(parts)
}

/// Whether `path` is a file written by a compaction, which readers use only
/// once a commit adds it.
pub fn is_compacted(path: &Path) -> bool {
    path.filename()
        .is_some_and(|n| n.starts_with(COMPACTED_PREFIX))
}

/// The name of the `n`th file a compaction `id` writes.
pub(crate) fn compacted_name(id: &str, n: usize) -> String {
    format!("{COMPACTED_PREFIX}{id}-{n:04}.parquet")
}

/// The directory of `path`.
pub(crate) fn parent(path: &Path) -> Path {
    let mut parts: Vec<_> = path.parts().collect();
    parts.pop();
    Path::from_iter(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commit_paths_name_their_partition_and_generation() {
        let partition = Path::from("logs/dt=2026-11-05/hour=14");
        let path = Commit::path(&partition, 3);
        assert_eq!(
            path.as_ref(),
            "logs/dt=2026-11-05/hour=14/_hayate_compaction/00000000000000000003.json"
        );
        assert_eq!(commit_generation(&path), Some(3));
        assert_eq!(commit_partition(&path), partition);
        assert!(!is_commit(&Path::from("logs/dt=2026-11-05/hour=14/x.json")));
        assert!(is_compacted(
            &partition.clone().join(compacted_name("abc", 0))
        ));
        assert!(!is_compacted(&partition.join("part-0.parquet")));
    }
}
