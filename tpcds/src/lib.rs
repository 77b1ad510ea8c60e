//! TPC-DS for Hayate: the 24 tables and the 99 queries, prepared on disk by
//! `tpcds/prepare.py` (data from PyPI's `tpcgen-cli`, queries from DuckDB's
//! `tpcds` extension, so no generated text lives in the repository), and
//! the reference answer of single-node DataFusion for each query.
//!
//! Answers are compared with `hayate_tpch::compare_results`, as TPC-H's are,
//! and the tables are registered as TPC-H's are.

mod prepare;
mod tables;

pub use prepare::{PrepareError, TpcdsData, prepare};
pub use tables::{TABLES, create_table_statements};

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::error::Result;
use datafusion::prelude::{SessionConfig, SessionContext};

/// The query numbers, 1 to 99.
pub const QUERIES: std::ops::RangeInclusive<usize> = 1..=99;

/// A session of single-node DataFusion over the tables of `data`, with
/// `target_partitions` partitions: where every expected answer comes from.
pub async fn reference_context(
    data: &TpcdsData,
    target_partitions: usize,
) -> Result<SessionContext> {
    let ctx = SessionContext::new_with_config(
        SessionConfig::new().with_target_partitions(target_partitions),
    );
    for ddl in create_table_statements(&data.tables_base()) {
        ctx.sql(&ddl).await?.collect().await?;
    }
    Ok(ctx)
}

/// Runs `sql` on `ctx`: the reference answer.
pub async fn reference_answer(ctx: &SessionContext, sql: &str) -> Result<Vec<RecordBatch>> {
    ctx.sql(sql).await?.collect().await
}
