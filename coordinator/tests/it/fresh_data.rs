//! Files a shipper adds to a table on the S3 server are seen by the next
//! queries within seconds, without `REFRESH TABLE`, by listing only from
//! the newest partition on: two LISTs of a few keys, while the cached
//! listing of the week's other 167 partitions is kept (a file slipped into
//! an old partition shows only after `REFRESH TABLE`, which proves it).

use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::arrow::array::{
    ArrayRef, AsArray, Float64Array, Int32Array, Int64Array, StringArray, TimestampMicrosecondArray,
};
use datafusion::arrow::datatypes::Int64Type;
use datafusion::arrow::record_batch::RecordBatch;
use hayate_logs::{LogSpec, log_schema};
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutPayload};

use crate::support::{Client, logs_on_s3, long_listing_storage, total};

/// A Parquet file of one log line at `ts` (µs since the epoch).
fn one_line(ts: i64, message: &str) -> Vec<u8> {
    let text = |s: &str| Arc::new(StringArray::from(vec![s])) as ArrayRef;
    let columns: Vec<ArrayRef> = vec![
        Arc::new(TimestampMicrosecondArray::from(vec![ts]).with_timezone("UTC")),
        text("api-01"),
        text("api"),
        text("INFO"),
        text("GET"),
        text("/fresh"),
        Arc::new(Int32Array::from(vec![200])),
        Arc::new(Float64Array::from(vec![1.5])),
        Arc::new(Int64Array::from(vec![10])),
        text("10.0.0.1"),
        text("curl/8.10.1"),
        text("00000000000000000000000000000001"),
        text(message),
        text("{}"),
    ];
    let batch = RecordBatch::try_new(log_schema(), columns).expect("one line");
    let mut out = Vec::new();
    let mut writer =
        parquet::arrow::ArrowWriter::try_new(&mut out, log_schema(), None).expect("writer");
    writer.write(&batch).expect("write");
    writer.close().expect("close");
    out
}

async fn count(client: &mut Client, sql: &str) -> (i64, hayate_protocol::QueryStats) {
    let (batches, stats) = client.query_with_stats(sql).await.expect(sql);
    let n = batches[0].column(0).as_primitive::<Int64Type>().value(0);
    (n, stats)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn new_files_in_the_newest_partition_show_within_seconds() {
    let server = hayate_testkit::S3Server::start("fresh").await;
    let store = server.store();
    let spec = LogSpec {
        rows: 20_000,
        ..Default::default()
    };
    // Only the newest partition may be listed again: the rest of the
    // listing is trusted for ten minutes.
    let storage = hayate_coordinator::StorageConfig {
        fresh_listing_interval: Duration::from_secs(1),
        ..long_listing_storage(&server)
    };
    let (cluster, mut client, location) = logs_on_s3(&server, &spec, 2, storage).await;
    // Defining it again where it exists (every coordinator start does)
    // keeps it.
    let again = hayate_logs::create_table_sql("logs", &location, &[hayate_logs::TIME_COLUMN])
        .replacen(
            "CREATE EXTERNAL TABLE",
            "CREATE EXTERNAL TABLE IF NOT EXISTS",
            1,
        );
    client.update(&again).await.expect("create if not exists");
    let all = "SELECT count(*) FROM logs";
    let (before, _) = count(&mut client, all).await;
    assert_eq!(before, 20_000);

    // A line written "just now" into the newest hour, a file starting the
    // next day, and a late file in the first hour of the week.
    let newest = 1_794_095_999_000_000; // 2026-11-07T23:59:59Z
    let landed = Instant::now();
    store
        .put(
            &Path::from("web/dt=2026-11-07/hour=23/part-shipper-1.parquet"),
            PutPayload::from(one_line(newest, "fresh line")),
        )
        .await
        .unwrap();
    store
        .put(
            &Path::from("web/dt=2026-11-08/hour=00/part-shipper-0.parquet"),
            PutPayload::from(one_line(newest + 2_000_000, "next day")),
        )
        .await
        .unwrap();
    store
        .put(
            &Path::from("web/dt=2026-11-01/hour=00/part-late.parquet"),
            PutPayload::from(one_line(1_793_491_200_000_000, "late line")),
        )
        .await
        .unwrap();

    // The next queries see the new partition's files within seconds.
    let (after, stats) = loop {
        let (n, stats) = count(&mut client, all).await;
        if n > before || landed.elapsed() > Duration::from_secs(10) {
            break (n, stats);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let seen_after = landed.elapsed();
    eprintln!(
        "new files seen {:.2}s after they landed; that query's I/O: {}",
        seen_after.as_secs_f64(),
        hayate_storage::io_summary(&stats.total)
    );
    assert_eq!(after, before + 2, "the newest files, not the late one");
    assert!(seen_after < Duration::from_secs(5), "{seen_after:?}");
    // Two LISTs: the newest partition by its prefix, and what sorts after
    // it (`start-after`); not the whole table.
    assert_eq!(total(&stats, "list_requests"), 2, "{:?}", stats.total);
    let (fresh, _) = client
        .query_with_stats(
            "SELECT message FROM logs WHERE ts >= TIMESTAMP '2026-11-07T23:59:58Z' ORDER BY ts",
        )
        .await
        .unwrap();
    let messages: Vec<String> = fresh
        .iter()
        .flat_map(|b| {
            let c = datafusion::arrow::compute::cast(
                b.column(0),
                &datafusion::arrow::datatypes::DataType::Utf8,
            )
            .unwrap();
            (0..c.len())
                .map(|i| c.as_string::<i32>().value(i).to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(messages, ["fresh line", "next day"]);

    // The late file in an old partition: seen after REFRESH TABLE.
    client.update("REFRESH TABLE logs").await.unwrap();
    let (refreshed, _) = count(&mut client, all).await;
    assert_eq!(refreshed, before + 3);

    // A file removed from the newest partition goes too.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    store
        .delete(&Path::from(
            "web/dt=2026-11-08/hour=00/part-shipper-0.parquet",
        ))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let (gone, _) = count(&mut client, all).await;
    assert_eq!(gone, before + 2);
    cluster.stop().await;
}

/// The fresh listing on the S3 server itself: after a table of 2,400
/// objects, two LIST requests of a few keys bring in what landed in the
/// newest partition and after it (SeaweedFS, unlike S3, returns no key of
/// a directory named by `start-after`, so the newest partition is listed
/// by its prefix too), and the store's own `start-after` is used: listing
/// from the start and dropping keys would take three pages here.
#[tokio::test]
async fn the_newest_partition_is_listed_with_two_requests_on_the_s3_server() {
    use futures::{StreamExt, TryStreamExt};
    use hayate_coordinator::fresh_listing::list_newest;
    use hayate_storage::{CountingStore, IoCounters};
    use object_store::ObjectStore;

    let server = hayate_testkit::S3Server::start("fresh").await;
    let store = server.store();
    let key = |hour: usize, n: usize| format!("t/dt=2026-11-01/hour={hour:02}/part-{n:03}.parquet");
    let keys: Vec<String> = (0..24)
        .flat_map(|h| (0..100).map(move |n| key(h, n)))
        .collect();
    futures::stream::iter(keys.iter().cloned())
        .map(|k| {
            let store = Arc::clone(&store);
            async move { store.put(&Path::from(k), PutPayload::from("x")).await }
        })
        .buffer_unordered(32)
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
    let url = datafusion::datasource::listing::ListingTableUrl::parse(format!(
        "s3://{}/t/",
        server.bucket
    ))
    .unwrap();
    let cached: Vec<_> = store
        .list(Some(&Path::from("t")))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(cached.len(), 2_400);
    // A file in the newest partition that sorts first, and a new hour.
    for k in [
        "t/dt=2026-11-01/hour=23/part-000-early.parquet",
        "t/dt=2026-11-02/hour=00/part-000.parquet",
    ] {
        store
            .put(&Path::from(k), PutPayload::from("x"))
            .await
            .unwrap();
    }
    let counters = Arc::new(IoCounters::default());
    let counted = CountingStore::new(store.clone(), Arc::clone(&counters));
    let fresh = list_newest(&counted, &url, &cached, true)
        .await
        .unwrap()
        .expect("a newest partition to start from");
    let listed: std::collections::BTreeSet<String> =
        fresh.iter().map(|m| m.location.to_string()).collect();
    let mut expected: std::collections::BTreeSet<String> = keys.into_iter().collect();
    expected.insert("t/dt=2026-11-01/hour=23/part-000-early.parquet".into());
    expected.insert("t/dt=2026-11-02/hour=00/part-000.parquet".into());
    let missing: Vec<&String> = expected.difference(&listed).collect();
    let extra: Vec<&String> = listed.difference(&expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:?}, extra {extra:?}"
    );
    assert_eq!(fresh.len(), expected.len(), "a key listed twice");
    let lists = counters
        .list_requests
        .load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(lists, 2);
}
