//! `hayate local`: a coordinator and workers in this process, still talking
//! Flight over loopback so the same code paths run as in a cluster.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Instant;

use hayate_coordinator::{CoordinatorConfig, StorageConfig};
use hayate_embedded::EmbeddedCluster;

use crate::client::SqlClient;

/// Starts the embedded cluster of `hayate local`.
pub async fn start(
    workers: usize,
    port: u16,
    ui_port: Option<u16>,
    storage: StorageConfig,
    catalog: Option<url::Url>,
) -> anyhow::Result<EmbeddedCluster> {
    let config = CoordinatorConfig {
        bind: SocketAddr::from(([127, 0, 0, 1], port)),
        status: ui_port.map(|port| SocketAddr::from(([127, 0, 0, 1], port))),
        storage,
        catalog,
        ..Default::default()
    };
    Ok(EmbeddedCluster::start(config, workers).await?)
}

/// Where sample data is kept: `$HAYATE_DATA_DIR`, else `./data`.
fn data_dir() -> PathBuf {
    std::env::var_os("HAYATE_DATA_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("data"))
}

/// Generates (once) and registers the TPC-H sample tables.
pub async fn load_sample(client: &mut SqlClient, sf: f64) -> anyhow::Result<()> {
    let base = data_dir();
    if !base.join(format!("tpch-sf{sf}")).join("lineitem").exists() {
        eprintln!(
            "Generating TPC-H sample data (scale factor {sf}) in {} ...",
            base.display()
        );
    }
    let started = Instant::now();
    let dir = tokio::task::spawn_blocking(move || hayate_tpch::generate_dir(&base, sf)).await??;
    for ddl in hayate_tpch::create_table_statements(&dir) {
        client.collect(&ddl).await?;
    }
    eprintln!(
        "Sample tables ready ({:.1}s): {}",
        started.elapsed().as_secs_f64(),
        hayate_tpch::TABLES.join(", ")
    );
    Ok(())
}

/// Generates (once) `rows` log lines under the data directory and
/// registers them as `logs`, partitioned by day and hour of `ts`.
pub async fn load_logs(client: &mut SqlClient, rows: u64) -> anyhow::Result<()> {
    let dir = data_dir().join(format!("logs-{rows}"));
    if !dir.join("dt=2026-11-07").exists() {
        eprintln!("Generating {rows} log lines in {} ...", dir.display());
        std::fs::create_dir_all(&dir)?;
        let spec = hayate_logs::LogSpec {
            rows,
            ..Default::default()
        };
        let store =
            std::sync::Arc::new(object_store::local::LocalFileSystem::new_with_prefix(&dir)?);
        hayate_logs::generate(&spec, store, "").await?;
    }
    let location = dir.canonicalize()?.display().to_string();
    client
        .collect(&hayate_logs::create_table_sql(
            "logs",
            &location,
            &[hayate_logs::TIME_COLUMN],
        ))
        .await?;
    eprintln!("Table logs ready: {rows} lines from 2026-11-01 to 2026-11-07 (UTC)");
    Ok(())
}
