//! `hayate local`: a coordinator and workers in this process, still talking
//! Flight over loopback so the same code paths run as in a cluster.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Instant;

use hayate_coordinator::{CoordinatorConfig, EmbeddedCluster, StorageConfig};

use crate::client::SqlClient;

/// Starts the embedded cluster of `hayate local`.
pub async fn start(
    workers: usize,
    port: u16,
    storage: StorageConfig,
) -> anyhow::Result<EmbeddedCluster> {
    let config = CoordinatorConfig {
        bind: SocketAddr::from(([127, 0, 0, 1], port)),
        storage,
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
