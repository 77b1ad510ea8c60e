use thiserror::Error;

#[derive(Debug, Error)]
pub enum CompactionError {
    #[error("object store: {0}")]
    Store(#[from] object_store::Error),
    #[error("{0}")]
    DataFusion(#[from] datafusion::error::DataFusionError),
    #[error("parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    #[error("commit {path} is not a compaction commit: {message}")]
    BadCommit { path: String, message: String },
    #[error(
        "another compaction of {partition} committed first (commit {generation}); nothing was changed, run it again"
    )]
    Conflict { partition: String, generation: u64 },
    #[error("the files of {partition} do not share one schema: {message}")]
    Schema { partition: String, message: String },
    #[error("--sort-by {column}: {partition} has no such column")]
    NoSortColumn { partition: String, column: String },
}
