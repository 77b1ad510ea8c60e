//! `hayate logs-gen`: sample logs to a directory or to S3 (with the same
//! storage flags and AWS credential chain as the coordinator).

use std::time::Instant;

use hayate_logs::{LogSpec, generate};

use crate::storage_args::StorageArgs;

pub async fn run(spec: LogSpec, out: &str, storage: &StorageArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let (store, prefix) = storage.output_store(out)?;
    let written = generate(&spec, store, &prefix).await?;
    println!(
        "{} log lines in {} files ({:.1} MiB) written to {out} in {:.1}s",
        written.rows,
        written.files,
        written.bytes as f64 / (1024.0 * 1024.0),
        started.elapsed().as_secs_f64()
    );
    println!(
        "Query them with:\n  {};",
        hayate_logs::create_table_sql("logs", out, &[])
    );
    Ok(())
}
