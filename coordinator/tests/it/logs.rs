//! The log query suite over logs in a real S3-compatible server (SeaweedFS
//! on loopback), through coordinator and two workers: every answer equal to
//! single-node DataFusion reading the same objects, time-range queries
//! pruning most of the bytes, and the caches hit on a second run.

use std::collections::BTreeMap;

use datafusion::prelude::SessionContext;
use hayate_logs::{JSON_SUITE, LogSpec, SUITE};
use hayate_protocol::QueryStats;
use hayate_storage::io_summary;
use hayate_testkit::S3Server;

use crate::support::{Client, logs_on_s3, logs_reference, long_listing_storage, total};

/// `EXPLAIN ANALYZE` of the suite's query `name`, as text.
async fn explain_analyze(client: &mut Client, name: &str) -> String {
    let query = SUITE.iter().find(|q| q.name == name).expect("query");
    let analyzed = client
        .query(&format!("EXPLAIN ANALYZE {}", query.sql))
        .await
        .expect("explain analyze");
    datafusion::arrow::util::pretty::pretty_format_batches(&analyzed)
        .expect("format")
        .to_string()
}

async fn run_suite(
    client: &mut Client,
    reference: &SessionContext,
) -> (Vec<String>, BTreeMap<&'static str, QueryStats>) {
    let mut failures = Vec::new();
    let mut stats = BTreeMap::new();
    for q in SUITE.iter().chain(JSON_SUITE) {
        let expected = reference
            .sql(q.sql)
            .await
            .unwrap_or_else(|e| panic!("DataFusion plans {}: {e}", q.name))
            .collect()
            .await
            .unwrap_or_else(|e| panic!("DataFusion runs {}: {e}", q.name));
        assert!(
            !expected.iter().all(|b| b.num_rows() == 0),
            "{} has an empty answer: a useless check",
            q.name
        );
        match client.query_with_stats(q.sql).await {
            Ok((actual, s)) => {
                if let Err(diff) = hayate_tpch::compare_results(&expected, &actual, q.ordered) {
                    failures.push(format!("{}: {diff}", q.name));
                }
                stats.insert(q.name, s);
            }
            Err(e) => failures.push(format!("{} failed: {e}", q.name)),
        }
    }
    (failures, stats)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn log_suite_from_s3_matches_datafusion_and_prunes() {
    let server = S3Server::start("logs").await;
    let spec = LogSpec {
        rows: 60_000,
        rows_per_group: 128,
        ..Default::default()
    };

    let (cluster, mut client, location) =
        logs_on_s3(&server, &spec, 2, long_listing_storage(&server)).await;
    // Spread scans over both workers although the data is small.
    client
        .update("SET hayate.bytes_per_task = 1")
        .await
        .expect("set");
    let reference = logs_reference(&server, &location).await;

    let (failures, first) = run_suite(&mut client, &reference).await;
    assert!(
        failures.is_empty(),
        "answers differ from DataFusion:\n{}",
        failures.join("\n")
    );
    for (name, s) in &first {
        eprintln!("{name}: {}", io_summary(&s.total));
    }

    // A one-hour query fetches a small fraction of a full scan's bytes.
    let hour = &first["one_hour_summary"];
    let full = &first["full_scan_summary"];
    assert!(
        total(full, "bytes_fetched") > 0 && total(full, "get_requests") > 0,
        "full scan read nothing? {full:?}"
    );
    assert!(
        total(hour, "bytes_fetched") * 20 < total(full, "bytes_fetched"),
        "one hour fetched {} bytes, the full scan {}",
        total(hour, "bytes_fetched"),
        total(full, "bytes_fetched")
    );
    // Only the hour's file is planned: the time range selected its partition.
    assert_eq!(
        total(hour, "file_ranges_read") + total(hour, "file_ranges_pruned"),
        1,
        "{}",
        io_summary(&hour.total)
    );
    // A trace id skips row groups by bloom filter and statistics.
    let trace = &first["one_trace"];
    assert!(
        total(trace, "row_groups_pruned") * 2 > total(trace, "row_groups_total"),
        "{}",
        io_summary(&trace.total)
    );
    // The latest lines come from the last files only (TopK's dynamic filter).
    let latest = &first["latest_100_lines"];
    assert!(
        total(latest, "file_ranges_pruned") > 100,
        "{}",
        io_summary(&latest.total)
    );
    // A filter on a JSON field beside a time range and a service still
    // skips by the plain columns: only the day's files are planned, and a
    // row group whose statistics rule the service out is skipped (few are:
    // the files are sorted by time, not service).
    let json = &first["json_error_codes_of_one_service_and_day"];
    assert!(
        total(json, "file_ranges_read") <= 24 && total(json, "file_ranges_read") > 0,
        "{}",
        io_summary(&json.total)
    );
    assert!(
        total(json, "row_groups_pruned") > 0,
        "{}",
        io_summary(&json.total)
    );
    // Both workers read.
    assert!(
        full.stages.iter().any(|s| s.tasks >= 2),
        "{:?}",
        full.stages
    );

    // Second run: answers unchanged, footers from the cache, and at most
    // the newest partition listed again (two requests: by its prefix, and
    // after it) instead of the table.
    let (failures, second) = run_suite(&mut client, &reference).await;
    assert!(
        failures.is_empty(),
        "second run differs:\n{}",
        failures.join("\n")
    );
    let full = &second["full_scan_summary"];
    assert!(
        total(full, "list_requests") <= 2,
        "{}",
        io_summary(&full.total)
    );
    assert!(
        total(full, "listing_cache_hits") > 0,
        "{}",
        io_summary(&full.total)
    );
    assert!(
        total(full, "metadata_cache_hits") >= total(full, "file_ranges_read") / 2
            && total(full, "metadata_cache_hits") > 0,
        "{}",
        io_summary(&full.total)
    );

    // EXPLAIN ANALYZE shows each stage's I/O.
    let text = explain_analyze(&mut client, "one_hour_summary").await;
    for needle in [
        "stage_metrics",
        "query_metrics",
        "rows scanned",
        "GET",
        "fetched",
        "file ranges",
    ] {
        assert!(
            text.contains(needle),
            "EXPLAIN ANALYZE lacks {needle:?}:\n{text}"
        );
    }

    // Over several tasks it also shows how the work spread between them.
    let text = explain_analyze(&mut client, "full_scan_summary").await;
    assert!(
        text.contains("across tasks (min / median / max): rows out")
            && text.contains("rows scanned"),
        "EXPLAIN ANALYZE lacks the spread over tasks:\n{text}"
    );
    cluster.stop().await;
    drop(server);
}
