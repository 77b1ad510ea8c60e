//! A log shipper's day: one day of logs written as many small files (a
//! file per flush, e.g. 30 lines and 8 KiB each, 100,000 files a day), the
//! questions asked of its last hours, then `hayate compact` and the same
//! questions again. Every engine reads the same files: DataFusion and
//! DuckDB read the directory as it is, so the replaced files are deleted
//! (cleanup with no grace period) before the compacted run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hayate_compaction::{CompactOptions, cleanup, compact_partition, partitions};
use hayate_logs::LogSpec;
use object_store::ObjectStore;
use object_store::path::Path;
use serde::Serialize;

use crate::workload::{Query, Workload};

/// The day the shipper's files cover.
pub const DAY: &str = "2026-11-01";

/// `rows` lines of one day, `rows_per_file` to a file.
pub fn spec(rows: u64, rows_per_file: usize) -> LogSpec {
    LogSpec {
        rows,
        days: 1,
        rows_per_file,
        ..LogSpec::default()
    }
}

/// What people ask of the newest logs: each reads one hour's (or ten
/// minutes') files of the day, found among all the day's files.
pub fn queries() -> Vec<Query> {
    let query = |name: &str, sql: String| Query {
        name: name.to_string(),
        sql,
        ordered: true,
        duckdb_sql: None,
    };
    vec![
        query(
            "last_hour_server_errors",
            format!(
                "SELECT count(*) AS errors FROM logs \
                 WHERE ts >= TIMESTAMP '{DAY}T23:00:00Z' AND status >= 500"
            ),
        ),
        query(
            "last_10_minutes_by_service",
            format!(
                "SELECT service, count(*) AS requests, max(latency_ms) AS max_ms FROM logs \
                 WHERE ts >= TIMESTAMP '{DAY}T23:50:00Z' GROUP BY service ORDER BY service"
            ),
        ),
        query(
            "noon_hour_summary",
            format!(
                "SELECT service, count(*) AS requests, sum(bytes) AS bytes FROM logs \
                 WHERE ts >= TIMESTAMP '{DAY}T12:00:00Z' AND ts < TIMESTAMP '{DAY}T13:00:00Z' \
                 GROUP BY service ORDER BY service"
            ),
        ),
    ]
}

/// `logs` (the shipper's files, as [`Workload::logs`] makes them visible)
/// with the small-file queries, named `name`.
pub fn workload(logs: &Workload, name: String) -> Workload {
    Workload {
        name,
        queries: queries(),
        ..logs.clone()
    }
}

/// What compacting one location did, cleanup included.
#[derive(Serialize, Clone, Debug, Default)]
pub struct CompactionRun {
    pub location: String,
    pub partitions: usize,
    pub files_before: usize,
    pub files_after: usize,
    pub bytes_before: u64,
    pub bytes_after: u64,
    pub rows: u64,
    /// Listing the location and rewriting every partition.
    pub seconds: f64,
    /// Deleting the replaced files afterwards.
    pub cleanup_seconds: f64,
}

/// Compacts every partition under `prefix` sorted by `ts`, then deletes
/// the replaced files at once (no reader but this benchmark's, which
/// recreates its tables, holds an older listing).
pub async fn compact(
    location: &str,
    store: Arc<dyn ObjectStore>,
    prefix: &str,
) -> anyhow::Result<CompactionRun> {
    let started = Instant::now();
    let prefix = Path::from(prefix);
    let found = partitions(&store, &prefix).await?;
    let options = CompactOptions {
        sort_by: Some("ts".into()),
        settle: Duration::ZERO,
        ..CompactOptions::default()
    };
    let mut run = CompactionRun {
        location: location.to_string(),
        partitions: found.len(),
        ..Default::default()
    };
    for partition in &found {
        let bytes: u64 = partition.visible.iter().map(|m| m.size).sum();
        run.files_before += partition.visible.len();
        run.bytes_before += bytes;
        // Files a compaction leaves as they are (already large) count too.
        let (removed, removed_bytes) =
            match compact_partition(Arc::clone(&store), partition, &options).await? {
                Some(done) => {
                    run.files_after += done.added;
                    run.bytes_after += done.added_bytes;
                    run.rows += done.rows;
                    (done.removed, done.removed_bytes)
                }
                None => (0, 0),
            };
        run.files_after += partition.visible.len() - removed;
        run.bytes_after += bytes - removed_bytes;
    }
    run.seconds = started.elapsed().as_secs_f64();
    let started = Instant::now();
    cleanup(&store, &partitions(&store, &prefix).await?, Duration::ZERO).await?;
    run.cleanup_seconds = started.elapsed().as_secs_f64();
    Ok(run)
}
