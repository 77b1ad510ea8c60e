//! No message-size cliffs: results far larger than gRPC's default 4 MiB
//! limit, and a few rows cut from huge string buffers, reach a client that
//! keeps that default limit.

use crate::support::{TestCluster, row_count};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn large_results_and_filtered_strings_fit_default_limits() {
    let cluster = TestCluster::start(2).await;
    let mut client = cluster.client().await;
    let dir = tempfile::tempdir().unwrap();
    // About 40 MB of 2 KB strings in two files.
    for part in 0..2 {
        client
            .update(&format!(
                "COPY (SELECT v, repeat('x', 2000) || CAST(v AS VARCHAR) AS s \
                 FROM generate_series({}, {}) AS t(v)) TO '{}/part-{part}.parquet' STORED AS PARQUET",
                part * 10_000,
                part * 10_000 + 9_999,
                dir.path().display()
            ))
            .await
            .unwrap();
    }
    client
        .update(&format!(
            "CREATE EXTERNAL TABLE big STORED AS PARQUET LOCATION '{}/'",
            dir.path().display()
        ))
        .await
        .unwrap();
    client
        .update("SET hayate.bytes_per_task = 1")
        .await
        .unwrap();

    // A handful of rows whose strings sit in buffers of megabytes.
    let few = client
        .query("SELECT v, s FROM big WHERE v % 1000 = 7")
        .await
        .unwrap();
    assert_eq!(row_count(&few), 20);
    let few = client
        .query("SELECT v, s FROM big ORDER BY v DESC LIMIT 3")
        .await
        .unwrap();
    assert_eq!(row_count(&few), 3);

    // Every row: about ten times the default message limit.
    let all = client.query("SELECT v, s FROM big").await.unwrap();
    assert_eq!(row_count(&all), 20_000);
    let bytes: usize = all.iter().map(|b| b.get_array_memory_size()).sum();
    assert!(bytes > 40_000_000, "{bytes}");
    cluster.stop().await;
}
