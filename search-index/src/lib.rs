//! Hayate's search index: substring and token searches over log text
//! (`message LIKE '%req-3f9a2c1b%'`, `contains`, `strpos`, `matches`) skip
//! the Parquet row groups and files that cannot hold a match.
//!
//! Standard Parquet statistics and bloom filters only answer equality and
//! ranges, so Hayate keeps its own index: for every data file a small
//! sidecar object per indexed column beside it
//! (`_hayate_index/<file>.<column>.hidx`) with one bloom filter per row
//! group, over the text's tokens, token
//! prefixes and suffixes, and n-grams ([`terms`]). `hayate index` builds
//! them ([`build`]); the coordinator reads them while planning
//! ([`narrow_scan`]), keeps them in memory ([`cache`]) and narrows each scan to
//! byte ranges of the row groups left ([`prune`]). An index is only ever a
//! hint: a file whose sidecar is missing, stale or damaged is read whole.

mod build;
mod cache;
mod matches;
mod needs;
mod prune;
mod scan;
mod sidecar;
pub mod terms;

pub use build::{BuildReport, IndexSpec, IndexedColumn, build_file_index, index_location};
pub use cache::IndexCache;
pub use matches::{MATCHES, matches_udf};
pub use needs::Need;
pub use prune::{Selection, select};
pub use scan::{SearchIndexOff, narrow_scan};
pub use sidecar::{ColumnIndex, DataVersion, FileIndexes, SIDECAR_DIR, is_sidecar, sidecar_path};

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("search index is damaged: {0}")]
    Corrupt(String),
    #[error("cannot read Parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    #[error("{0}")]
    DataFusion(#[from] datafusion::error::DataFusionError),
    #[error("object store: {0}")]
    Store(#[from] object_store::Error),
}
