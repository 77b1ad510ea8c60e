//! A log shipper's small files on the S3 server: a worker reads each in
//! one GET (its footer's read, with DataFusion's 512 KiB hint, returns the
//! whole file, which the task keeps for the column chunks).

use futures::TryStreamExt;
use hayate_logs::LogSpec;
use object_store::ObjectStore;
use object_store::path::Path;

use crate::support::{logs_on_s3, logs_reference, s3_storage, total};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_reads_a_small_file_in_one_get() {
    let server = hayate_testkit::S3Server::start("small").await;
    let spec = LogSpec {
        rows: 2_000,
        days: 1,
        rows_per_file: 40,
        ..Default::default()
    };
    let storage = s3_storage(&server, &server.endpoint, true);
    let (_cluster, mut client, location) = logs_on_s3(&server, &spec, 2, storage).await;
    let files = server
        .store()
        .list(Some(&Path::from("web")))
        .try_collect::<Vec<_>>()
        .await
        .unwrap()
        .len() as u64;
    assert!(files >= 50, "{files} files");
    // A table of its own, declared with its columns and planned without
    // statistics: no footer is read before the workers read them.
    client
        .update("SET datafusion.execution.collect_statistics = false")
        .await
        .unwrap();
    client
        .update(&format!(
            "CREATE EXTERNAL TABLE cold (status INT, bytes BIGINT, dt VARCHAR, hour VARCHAR) \
             STORED AS PARQUET PARTITIONED BY (dt, hour) LOCATION '{location}'"
        ))
        .await
        .unwrap();
    let sql = "SELECT count(*) AS n, sum(bytes) AS b FROM cold WHERE status >= 0";
    let (batches, stats) = client.query_with_stats(sql).await.unwrap();
    let reference = logs_reference(&server, &location).await;
    let expected = reference
        .sql("SELECT count(*) AS n, sum(bytes) AS b FROM logs WHERE status >= 0")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    assert_eq!(
        datafusion::arrow::util::pretty::pretty_format_batches(&batches)
            .unwrap()
            .to_string(),
        datafusion::arrow::util::pretty::pretty_format_batches(&expected)
            .unwrap()
            .to_string()
    );
    let planning = stats.planning.get("get_requests").copied().unwrap_or(0);
    let by_workers = total(&stats, "get_requests") - planning;
    assert_eq!(by_workers, files, "{:?}", stats.total);
}
