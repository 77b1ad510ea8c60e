//! S3 for real: TPC-H from a SeaweedFS server with credentials given per
//! table, credentials that never show, `REFRESH TABLE`, and a flaky S3.

use hayate_logs::{LogSpec, create_table_sql, generate};
use hayate_testkit::{FlakyS3, S3Server, upload_dir};

use crate::support::{TestCluster, row_count, tpch_dir};

/// An S3 server with the TPC-H files under `s3://<bucket>/sf/`.
async fn tpch_on_s3(bucket: &str) -> S3Server {
    let server = S3Server::start(bucket).await;
    upload_dir(
        server.store().as_ref(),
        std::path::Path::new(tpch_dir()),
        "sf",
    )
    .await
    .expect("upload TPC-H");
    server
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tpch_from_s3_with_table_credentials_matches_datafusion() {
    let server = tpch_on_s3("tpch").await;
    // The coordinator knows only the endpoint; each table brings its keys.
    let cluster = TestCluster::start_on_s3(2, &server, false).await;
    let mut client = cluster.client().await;
    let keys = format!(
        " OPTIONS ('aws.access_key_id' '{}', 'aws.secret_access_key' '{}')",
        server.access_key, server.secret_key
    );
    for ddl in hayate_tpch::create_table_statements(&format!("s3://{}/sf", server.bucket)) {
        client
            .update(&format!("{ddl}{keys}"))
            .await
            .expect("create S3 table");
    }
    client
        .update("SET hayate.bytes_per_task = 1")
        .await
        .expect("set");
    let mut failures = Vec::new();
    for q in 1..=22 {
        let expected = hayate_tpch::reference_answer(tpch_dir(), q, 2)
            .await
            .unwrap_or_else(|e| panic!("DataFusion fails q{q}: {e}"));
        match client.query(hayate_tpch::query(q)).await {
            Ok(actual) => {
                if let Err(diff) =
                    hayate_tpch::compare_results(&expected, &actual, hayate_tpch::is_ordered(q))
                {
                    failures.push(format!("q{q}: {diff}"));
                }
            }
            Err(e) => failures.push(format!("q{q} failed: {e}")),
        }
    }
    cluster.stop().await;
    assert!(
        failures.is_empty(),
        "TPC-H from S3 differs:\n{}",
        failures.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn credentials_never_appear_in_plans_errors_or_settings() {
    let server = S3Server::start("secrets").await;
    generate(
        &LogSpec {
            rows: 2_000,
            days: 1,
            ..Default::default()
        },
        server.store(),
        "app",
    )
    .await
    .expect("logs written");
    let cluster = TestCluster::start_on_s3(1, &server, false).await;
    let mut client = cluster.client().await;
    let location = format!("s3://{}/app/", server.bucket);
    let secret = server.secret_key.clone();
    client
        .update(&create_table_sql(
            "logs",
            &location,
            &[
                ("aws.access_key_id", &server.access_key),
                ("aws.secret_access_key", &secret),
            ],
        ))
        .await
        .expect("create table with keys in OPTIONS");
    let rows = client
        .query("SELECT count(*) FROM logs")
        .await
        .expect("query with table keys");
    assert_eq!(row_count(&rows), 1);

    let mut shown = String::new();
    for sql in [
        "EXPLAIN SELECT * FROM logs WHERE status = 500",
        "EXPLAIN ANALYZE SELECT count(*) FROM logs WHERE status = 500",
        "SELECT * FROM information_schema.tables",
        "SELECT * FROM information_schema.df_settings",
    ] {
        let batches = client
            .query(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        shown.push_str(
            &datafusion::arrow::util::pretty::pretty_format_batches(&batches)
                .expect("format")
                .to_string(),
        );
    }
    assert!(shown.contains("logs"), "the checks saw nothing: {shown}");
    assert!(
        !shown.contains(&secret),
        "a secret shows in plans or tables"
    );

    // A wrong key fails with a clear error that does not echo the key, and
    // an unknown option is named without its value.
    let wrong = "not-the-secret-0123456789";
    let denied = client
        .update(&create_table_sql(
            "denied",
            &location,
            &[
                ("aws.access_key_id", &server.access_key),
                ("aws.secret_access_key", wrong),
            ],
        ))
        .await
        .expect_err("a wrong secret is refused");
    assert!(!denied.contains(wrong), "error echoes the key: {denied}");
    assert!(
        denied.contains("403")
            || denied.contains("SignatureDoesNotMatch")
            || denied.contains("Access"),
        "unclear error: {denied}"
    );
    // The refused table left the bucket's store as it was.
    let rows = client
        .query("SELECT count(*) FROM logs")
        .await
        .expect("the keyed table still reads");
    assert_eq!(row_count(&rows), 1);
    let bad_option = client
        .update(&create_table_sql(
            "bad",
            &location,
            &[("aws.secret_acess_key", "hunter2")],
        ))
        .await
        .expect_err("misspelt option is an error");
    assert!(
        bad_option.contains("aws.secret_acess_key") && !bad_option.contains("hunter2"),
        "{bad_option}"
    );
    // The server keeps serving.
    assert_eq!(
        row_count(&client.query("SELECT 1").await.expect("still serving")),
        1
    );
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn refresh_table_sees_new_files_before_the_listing_expires() {
    let server = S3Server::start("refresh").await;
    let day = |start: u32| LogSpec {
        rows: 500,
        days: 1,
        start: chrono::NaiveDate::from_ymd_opt(2026, 11, start).expect("date"),
        ..Default::default()
    };
    generate(&day(2), server.store(), "t").await.expect("a day");
    let cluster = TestCluster::start_on_s3(1, &server, true).await;
    let mut client = cluster.client().await;
    client
        .update(&create_table_sql(
            "t",
            &format!("s3://{}/t/", server.bucket),
            &[],
        ))
        .await
        .expect("create");
    let count = |batches: Vec<datafusion::arrow::record_batch::RecordBatch>| {
        datafusion::arrow::util::pretty::pretty_format_batches(&batches)
            .expect("format")
            .to_string()
    };
    let before = count(client.query("SELECT count(*) FROM t").await.expect("count"));
    assert!(before.contains("500"), "{before}");
    // A day before it, landing late: in older partitions than the newest,
    // which is all a query lists again.
    generate(&day(1), server.store(), "t")
        .await
        .expect("the day before");
    // Within the listing TTL the table still shows the old files...
    let cached = count(client.query("SELECT count(*) FROM t").await.expect("count"));
    assert!(cached.contains("500"), "{cached}");
    // ...and REFRESH TABLE lists again.
    client.update("REFRESH TABLE t").await.expect("refresh");
    let after = count(client.query("SELECT count(*) FROM t").await.expect("count"));
    assert!(after.contains("1000"), "{after}");
    cluster.stop().await;
}

/// S3 that throttles (503 SlowDown on one request in five) and drops
/// connections in the middle of ranged reads: object_store's retries with
/// backoff absorb it, and answers still equal DataFusion's.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn throttling_and_dropped_connections_are_retried() {
    let server = tpch_on_s3("flaky").await;
    let flaky = FlakyS3::start(&server.endpoint)
        .await
        .expect("proxy starts");
    let cluster = TestCluster::start_on_s3_via(2, &server, &flaky.endpoint, true).await;
    let mut client = cluster.client().await;
    for ddl in hayate_tpch::create_table_statements(&format!("s3://{}/sf", server.bucket)) {
        client.update(&ddl).await.expect("create S3 table");
    }
    client
        .update("SET hayate.bytes_per_task = 1")
        .await
        .expect("set");
    for q in [1, 3, 6, 12, 14] {
        let expected = hayate_tpch::reference_answer(tpch_dir(), q, 2)
            .await
            .expect("DataFusion answers");
        let actual = client
            .query(hayate_tpch::query(q))
            .await
            .unwrap_or_else(|e| panic!("q{q} failed through the flaky S3: {e}"));
        hayate_tpch::compare_results(&expected, &actual, hayate_tpch::is_ordered(q))
            .unwrap_or_else(|diff| panic!("q{q}: {diff}"));
    }
    eprintln!(
        "flaky S3: {} SlowDowns, {} cut bodies",
        flaky.slow_downs(),
        flaky.cuts()
    );
    assert!(
        flaky.slow_downs() >= 10,
        "only {} SlowDowns",
        flaky.slow_downs()
    );
    assert!(flaky.cuts() >= 5, "only {} cut bodies", flaky.cuts());
    cluster.stop().await;
}
