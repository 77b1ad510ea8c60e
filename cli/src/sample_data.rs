//! `hayate sample-data`: the sample data set (TPC-H tables and a week of
//! logs) written to a directory or an `s3://` location, built in memory so
//! it runs in a container with no writable disk (the compose loader).
//!
//! A marker object written last says the set is complete, so running the
//! loader again (as `docker compose up` does each time) finds it and leaves
//! the files that running queries read alone.

use std::time::Instant;

use object_store::ObjectStoreExt;
use object_store::path::Path;

use crate::storage_args::StorageArgs;

/// Written after every table: its presence means the set is whole.
const MARKER: &str = "_SAMPLE_DATA_COMPLETE";

pub struct SampleData<'a> {
    pub out: &'a str,
    pub sf: f64,
    pub log_rows: u64,
    /// Write again even where a complete set is found.
    pub force: bool,
}

pub async fn run(sample: SampleData<'_>, storage: &StorageArgs) -> anyhow::Result<()> {
    let SampleData {
        out,
        sf,
        log_rows,
        force,
    } = sample;
    let started = Instant::now();
    let (store, prefix) = storage.output_store(out)?;
    let join = |name: &str| match prefix.as_str() {
        "" => name.to_string(),
        p => format!("{p}/{name}"),
    };
    let marker = Path::from(join(MARKER));
    let wanted = format!("tpch_sf={sf} log_rows={log_rows}\n");
    if !force {
        match store.get(&marker).await {
            Ok(found) => {
                let found = String::from_utf8_lossy(&found.bytes().await?).into_owned();
                if found == wanted {
                    println!(
                        "Sample data already complete at {out} ({}); nothing written",
                        found.trim()
                    );
                    return Ok(());
                }
                anyhow::bail!(
                    "{out} holds other sample data ({}); use another location, or --force to write over it",
                    found.trim()
                );
            }
            Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
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
        let written = hayate_logs::generate(&spec, store.clone(), &join("logs")).await?;
        println!(
            "{} log lines in {} files written to {out}/logs",
            written.rows, written.files
        );
    }
    store.put(&marker, wanted.into()).await?;
    println!(
        "Sample data ready in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
