//! `hayate compact` on the S3 server while queries run: a day of logs in
//! many small files per hour is rewritten into one sorted file per hour,
//! and every answer during and after it equals the answer from before (no
//! row seen twice, none missed), with listings that switch at any moment.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use datafusion::arrow::util::pretty::pretty_format_batches;
use hayate_compaction::{CompactOptions, CompactionError, cleanup, compact_partition, partitions};
use hayate_logs::LogSpec;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use crate::support::{logs_on_s3, logs_reference, s3_storage, total};

/// Answers that a lost or doubled file changes: counts, sums and a
/// per-hour breakdown (one file's rows move one hour's numbers).
const CHECKS: &[&str] = &[
    "SELECT count(*) AS n, sum(bytes) AS b, count(DISTINCT trace_id) AS t FROM logs",
    "SELECT hour, count(*) AS n, max(ts) AS last FROM logs GROUP BY hour ORDER BY hour",
    "SELECT service, status, count(*) AS n FROM logs \
     WHERE ts >= TIMESTAMP '2026-11-01T06:00:00Z' AND ts < TIMESTAMP '2026-11-01T18:00:00Z' \
     GROUP BY service, status ORDER BY service, status",
];

async fn answers(client: &mut crate::support::Client) -> Vec<String> {
    let mut out = Vec::new();
    for sql in CHECKS {
        let batches = client.query(sql).await.expect(sql);
        out.push(pretty_format_batches(&batches).unwrap().to_string());
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn compaction_switches_readers_at_once_without_doubling_or_losing_rows() {
    let server = hayate_testkit::S3Server::start("compact").await;
    let store: Arc<dyn ObjectStore> = server.store();
    // A day in 24 hours of about 14 small files each.
    let spec = LogSpec {
        rows: 20_000,
        days: 1,
        rows_per_file: 60,
        rows_per_group: 1_000,
        ..Default::default()
    };
    // Listings are renewed every second and the newest hour every query,
    // so readers switch listings while the compaction runs.
    let storage = hayate_coordinator::StorageConfig {
        listing_cache_ttl: Duration::from_secs(1),
        fresh_listing_interval: Duration::ZERO,
        ..s3_storage(&server, &server.endpoint, true)
    };
    let (cluster, mut client, location) = logs_on_s3(&server, &spec, 2, storage).await;

    // The expected answers: single-node DataFusion before any compaction.
    let reference = logs_reference(&server, &location).await;
    let mut expected = Vec::new();
    for sql in CHECKS {
        let batches = reference.sql(sql).await.unwrap().collect().await.unwrap();
        expected.push(pretty_format_batches(&batches).unwrap().to_string());
    }
    assert_eq!(answers(&mut client).await, expected);
    let prefix = Path::from("web");
    let before = partitions(&store, &prefix).await.unwrap();
    let files_before: usize = before.iter().map(|p| p.visible.len()).sum();
    assert_eq!(before.len(), 24);
    assert!(files_before >= 300, "{files_before} files");

    // Readers query without pause while every hour is compacted.
    let stop = Arc::new(AtomicBool::new(false));
    let mut readers = Vec::new();
    for _ in 0..2 {
        let (stop, expected) = (Arc::clone(&stop), expected.clone());
        let mut client = cluster.client().await;
        readers.push(tokio::spawn(async move {
            let mut rounds = 0;
            while !stop.load(Ordering::Relaxed) {
                assert_eq!(answers(&mut client).await, expected, "round {rounds}");
                rounds += 1;
            }
            rounds
        }));
    }
    let options = CompactOptions {
        sort_by: Some("ts".into()),
        settle: Duration::ZERO,
        ..CompactOptions::default()
    };
    let mut rows = 0;
    for partition in &before {
        let done = compact_partition(Arc::clone(&store), partition, &options)
            .await
            .unwrap()
            .expect("a partition of small files is compacted");
        assert_eq!((done.removed, done.added), (partition.visible.len(), 1));
        rows += done.rows;
    }
    assert_eq!(rows, 20_000);
    // Listings taken after the last commit.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    stop.store(true, Ordering::Relaxed);
    let mut rounds = Vec::new();
    for reader in readers {
        rounds.push(
            reader
                .await
                .expect("every answer during the compaction was right"),
        );
    }
    eprintln!("reader rounds during the compaction: {rounds:?}");
    assert!(rounds.iter().all(|r| *r >= 2), "{rounds:?}");

    // After it: one file of one row group per hour is read (there were
    // 24 files of a row group each per hour before).
    let (batches, stats) = client
        .query_with_stats("SELECT count(*) FROM logs WHERE message LIKE '%GET%'")
        .await
        .unwrap();
    assert!(!batches.is_empty());
    assert_eq!(total(&stats, "row_groups_total"), 24, "{:?}", stats.total);
    assert_eq!(answers(&mut client).await, expected);

    // A second compaction of an hour from the same old listing loses the
    // race for the commit and leaves no file behind.
    let stale = &before[3];
    match compact_partition(Arc::clone(&store), stale, &options).await {
        Err(CompactionError::Conflict { generation, .. }) => assert_eq!(generation, 1),
        other => panic!("expected a conflict, got {other:?}"),
    }
    let now = partitions(&store, &prefix).await.unwrap();
    assert_eq!(
        now[3].files.len(),
        stale.files.len() + 1,
        "no file of the loser kept"
    );
    assert_eq!(answers(&mut client).await, expected);

    // Nothing is left to do; the replaced files are deleted once the grace
    // period is over, and readers never needed them.
    for partition in &now {
        assert!(
            compact_partition(Arc::clone(&store), partition, &options)
                .await
                .unwrap()
                .is_none()
        );
    }
    let kept = cleanup(&store, &now, Duration::from_secs(3600))
        .await
        .unwrap();
    assert_eq!(kept.replaced, 0);
    let cleaned = cleanup(&store, &now, Duration::ZERO).await.unwrap();
    assert_eq!(cleaned.replaced, files_before);
    let after = partitions(&store, &prefix).await.unwrap();
    assert!(
        after
            .iter()
            .all(|p| p.files.len() == 1 && p.visible.len() == 1)
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(answers(&mut client).await, expected);

    // A damaged commit is a clear error, not a guess; the server goes on.
    let broken =
        Path::from("web/dt=2026-11-01/hour=05/_hayate_compaction/00000000000000000002.json");
    store
        .put(&broken, PutPayload::from_static(b"{ not json"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let err = client.query(CHECKS[0]).await.unwrap_err();
    assert!(err.contains("is not a compaction commit"), "{err}");
    store.delete(&broken).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(answers(&mut client).await, expected);
    cluster.stop().await;
}
