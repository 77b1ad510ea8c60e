//! `hayate logs-gen`: sample logs to a directory or to S3 (with the same
//! storage flags and AWS credential chain as the coordinator).

use std::sync::Arc;
use std::time::Instant;

use datafusion::execution::object_store::ObjectStoreRegistry;
use hayate_logs::{LogSpec, generate};
use hayate_storage::StoreRegistry;
use object_store::ObjectStore;
use object_store::local::LocalFileSystem;

use crate::storage_args::StorageArgs;

pub async fn run(spec: LogSpec, out: &str, storage: &StorageArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let (store, prefix): (Arc<dyn ObjectStore>, String) = match url::Url::parse(out) {
        Ok(url) if url.scheme() == "s3" => {
            let stores = StoreRegistry::new(storage.config().defaults);
            (
                stores.get_store(&url)?,
                url.path().trim_matches('/').to_string(),
            )
        }
        _ => {
            std::fs::create_dir_all(out)?;
            (
                Arc::new(LocalFileSystem::new_with_prefix(out)?),
                String::new(),
            )
        }
    };
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
