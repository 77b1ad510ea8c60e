//! `hayate sample-data`: the sample data set (TPC-H tables and a week of
//! logs) written to a directory or an `s3://` location, built in memory so
//! it runs in a container with no writable disk (the compose loader).

use std::time::Instant;

use crate::storage_args::StorageArgs;

pub async fn run(out: &str, sf: f64, log_rows: u64, storage: &StorageArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let (store, prefix) = storage.output_store(out)?;
    let join = |name: &str| match prefix.as_str() {
        "" => name.to_string(),
        p => format!("{p}/{name}"),
    };
    let bytes = hayate_tpch::generate_to_store(store.clone(), &join("tpch"), sf).await?;
    println!(
        "TPC-H scale factor {sf} ({:.1} MiB) written to {out}/tpch",
        bytes as f64 / (1024.0 * 1024.0)
    );
    if log_rows > 0 {
        let spec = hayate_logs::LogSpec {
            rows: log_rows,
            ..Default::default()
        };
        let written = hayate_logs::generate(&spec, store, &join("logs")).await?;
        println!(
            "{} log lines in {} files written to {out}/logs",
            written.rows, written.files
        );
    }
    println!(
        "Sample data ready in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
