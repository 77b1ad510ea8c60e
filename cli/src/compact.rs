//! `hayate compact LOCATION`: rewrites each time partition's many small
//! files (a log shipper's) into a few large files sorted by the time
//! column, and switches readers to them at once with a commit file in the
//! partition. It first deletes what earlier compactions replaced, once the
//! grace period has passed. Safe to run while queries and shippers run,
//! and to run from a schedule (a Kubernetes CronJob).

use std::time::Duration;

use clap::Args;
use hayate_compaction::{CompactOptions, cleanup, compact_partition, partitions};
use hayate_storage::human_bytes;
use object_store::path::Path;

use crate::storage_args::StorageArgs;

#[derive(Args)]
pub struct CompactArgs {
    /// The table's location: a directory or s3://bucket/prefix.
    location: String,
    /// Compact only this partition (relative to the location, e.g.
    /// `dt=2026-11-05/hour=14`); repeat for several. Default: every one.
    #[arg(long = "partition")]
    partitions: Vec<String>,
    /// Sort the new files by this column (the table's time column), so
    /// each file and row group covers a narrow time range.
    #[arg(long)]
    sort_by: Option<String>,
    /// Size at which a new file is closed; files over half of it are left
    /// as they are.
    #[arg(long, default_value_t = 128)]
    target_file_mb: u64,
    #[arg(long, default_value_t = 16 * 1024)]
    row_group_rows: usize,
    /// Partitions with fewer small files are left alone.
    #[arg(long, default_value_t = 2)]
    min_files: usize,
    /// Leave a partition alone until its newest file is this many seconds
    /// old (a shipper may still be writing to it).
    #[arg(long, default_value_t = 300)]
    settle_secs: u64,
    /// Delete the files a compaction replaced this many seconds after its
    /// commit: longer than the coordinators' listing cache lifetime plus
    /// the longest query, which may still read them.
    #[arg(long, default_value_t = 900)]
    grace_secs: u64,
    #[command(flatten)]
    storage: StorageArgs,
}

pub async fn run(args: &CompactArgs) -> anyhow::Result<()> {
    if args.target_file_mb == 0 {
        anyhow::bail!("--target-file-mb must be at least 1");
    }
    let (store, prefix) = args.storage.output_store(&args.location)?;
    let prefix = Path::from(prefix);
    let mut found = partitions(&store, &prefix).await?;
    let cleaned = cleanup(&store, &found, Duration::from_secs(args.grace_secs)).await?;
    if cleaned.replaced + cleaned.abandoned > 0 {
        println!(
            "deleted {} replaced files ({}), {} files of unfinished compactions and {} sidecars",
            cleaned.replaced,
            human_bytes(cleaned.replaced_bytes),
            cleaned.abandoned,
            cleaned.sidecars
        );
    }
    if !args.partitions.is_empty() {
        for wanted in &args.partitions {
            let wanted = wanted.trim_matches('/');
            if !found.iter().any(|p| p.name(&prefix) == wanted) {
                anyhow::bail!("{}: no partition {wanted} with data files", args.location);
            }
        }
        found.retain(|p| {
            args.partitions
                .iter()
                .any(|w| w.trim_matches('/') == p.name(&prefix))
        });
    }
    let options = CompactOptions {
        sort_by: args.sort_by.clone(),
        target_file_bytes: args.target_file_mb * 1024 * 1024,
        row_group_rows: args.row_group_rows,
        settle: Duration::from_secs(args.settle_secs),
        min_files: args.min_files,
        ..CompactOptions::default()
    };
    let (mut compacted, mut removed, mut added) = (0, 0, 0);
    for partition in &found {
        let Some(done) = compact_partition(store.clone(), partition, &options).await? else {
            continue;
        };
        compacted += 1;
        removed += done.removed;
        added += done.added;
        println!(
            "{}: {} files ({}) -> {} ({}), {} rows, commit {}, in {:.1}s",
            partition.name(&prefix),
            done.removed,
            human_bytes(done.removed_bytes),
            done.added,
            human_bytes(done.added_bytes),
            done.rows,
            done.generation,
            done.elapsed.as_secs_f64()
        );
    }
    println!(
        "compacted {compacted} of {} partitions: {removed} files -> {added}",
        found.len()
    );
    Ok(())
}
