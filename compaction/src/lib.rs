//! Compaction: a partition's many small files become a few large sorted
//! ones, and readers switch from the old set to the new one at once.
//!
//! The switch is one object: a *commit* in the partition's
//! `_hayate_compaction/` directory, naming the files it removes (with their
//! size and ETag) and the files it adds. New files are written beside the
//! old ones under names that mark them (`hayate-compacted-…`), and a reader
//! ignores such a file until a commit it has listed adds it. A reader that
//! listed the partition before the commit sees the old files only; one that
//! listed it after sees the new files only. No reader sees rows twice or
//! misses rows, whatever it lists while a compaction runs ([`visible`]).
//!
//! Commits are numbered per partition and written with create-only
//! semantics, so of two compactions of one partition at once the second
//! fails instead of committing the same rows again. Removed files are
//! deleted only a grace period after their commit, so that queries planned
//! from an older listing still find them ([`cleanup`]).

mod cleanup;
mod commit;
mod compact;
mod error;
mod partitions;
mod visibility;

pub use cleanup::{Cleaned, cleanup};
pub use commit::{Commit, CommittedFile, is_commit, is_compacted};
pub use compact::{CompactOptions, Compacted, compact_partition};
pub use error::CompactionError;
pub use partitions::{Partition, is_table_object, partitions};
pub use visibility::{CommitCache, visible};
