//! TPC-H for Hayate: generating the data as Parquet, the 22 queries, and the
//! comparison of an answer with single-node DataFusion's.

pub mod compare;
pub mod generate;
pub mod queries;
pub mod tables;

pub use compare::compare_results;
pub use generate::{
    GenerateError, MIN_FILES, generate, generate_dir, generate_split_dir, generate_to_store,
};
pub use queries::{is_ordered, query};
pub use tables::{TABLES, create_table_statements, parquet_table_statements};

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::error::Result;
use datafusion::prelude::{SessionConfig, SessionContext};

/// Runs TPC-H query `n` on single-node DataFusion over the tables under
/// `base`: the reference answer every Hayate answer is checked against.
pub async fn reference_answer(
    base: &str,
    n: usize,
    target_partitions: usize,
) -> Result<Vec<RecordBatch>> {
    let ctx = SessionContext::new_with_config(
        SessionConfig::new().with_target_partitions(target_partitions),
    );
    for ddl in create_table_statements(base) {
        ctx.sql(&ddl).await?.collect().await?;
    }
    ctx.sql(query(n)).await?.collect().await
}
