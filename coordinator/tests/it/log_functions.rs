//! The functions log users reach for, distributed over two workers and
//! compared with single-node DataFusion on the same files: the approximate
//! ones within their error (`approx_distinct` against the exact count of
//! distinct values, `approx_percentile_cont` up to 0.999 by the share of
//! rows at or under its answer), the time ones exactly (`date_bin`,
//! `date_trunc`, `AT TIME ZONE`, and the session's time zone, which travels
//! to the workers with the query's settings).

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::{Float64Type, Int64Type};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::prelude::SessionContext;
use hayate_logs::{LogSpec, TIME_COLUMN, create_table_sql, generate};
use object_store::local::LocalFileSystem;

use crate::support::TestCluster;

/// The first column of a one-column, one-row answer, as f64.
fn number(batches: &[RecordBatch]) -> f64 {
    let column = datafusion::arrow::compute::cast(
        batches[0].column(0),
        &datafusion::arrow::datatypes::DataType::Float64,
    )
    .unwrap();
    column.as_primitive::<Float64Type>().value(0)
}

async fn reference(ctx: &SessionContext, sql: &str) -> Vec<RecordBatch> {
    ctx.sql(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .collect()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn approximate_and_time_functions_match_single_node_datafusion() {
    let dir = tempfile::tempdir().unwrap();
    let spec = LogSpec {
        rows: 40_000,
        rows_per_group: 512,
        ..Default::default()
    };
    let store = Arc::new(LocalFileSystem::new_with_prefix(dir.path()).unwrap());
    generate(&spec, store, "logs").await.expect("logs written");
    let location = format!("{}/logs/", dir.path().display());

    let cluster = TestCluster::start(2).await;
    let mut client = cluster.client().await;
    client
        .update(&create_table_sql("logs", &location, &[TIME_COLUMN]))
        .await
        .unwrap();
    client
        .update("SET hayate.bytes_per_task = 1")
        .await
        .unwrap();
    let ctx = SessionContext::new();
    ctx.sql(&create_table_sql("logs", &location, &[]))
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();

    // approx_distinct per service within 3% of the exact count (HyperLogLog's
    // error at this size is about 1%).
    let sql = "SELECT service, approx_distinct(client_ip) AS n FROM logs GROUP BY service ORDER BY service";
    let approx = client.query(sql).await.unwrap();
    let exact = reference(
        &ctx,
        "SELECT service, count(DISTINCT client_ip) AS n FROM logs GROUP BY service ORDER BY service",
    )
    .await;
    let approx = datafusion::arrow::compute::concat_batches(&approx[0].schema(), &approx).unwrap();
    let exact = datafusion::arrow::compute::concat_batches(&exact[0].schema(), &exact).unwrap();
    assert_eq!(approx.num_rows(), exact.num_rows());
    assert_eq!(
        approx.column(0).as_ref(),
        exact.column(0).as_ref(),
        "the same services"
    );
    let approx_n = datafusion::arrow::compute::cast(
        approx.column(1),
        &datafusion::arrow::datatypes::DataType::Int64,
    )
    .unwrap();
    for row in 0..exact.num_rows() {
        let (a, e) = (
            approx_n.as_primitive::<Int64Type>().value(row) as f64,
            exact.column(1).as_primitive::<Int64Type>().value(row) as f64,
        );
        assert!((a - e).abs() <= e * 0.03, "approx_distinct {a} against {e}");
    }

    // approx_percentile_cont: the share of rows at or under the answer is
    // close to the asked one, at 0.5, 0.99 and 0.999 (t-digest is most
    // exact in the tails).
    for (p, tolerance) in [(0.5, 0.01), (0.99, 0.002), (0.999, 0.0005)] {
        let sql = format!(
            "SELECT approx_percentile_cont({p}) WITHIN GROUP (ORDER BY latency_ms) FROM logs"
        );
        let answer = number(&client.query(&sql).await.unwrap());
        let share = number(
            &reference(
                &ctx,
                &format!(
                    "SELECT avg(CASE WHEN latency_ms <= {answer} THEN 1.0 ELSE 0.0 END) FROM logs"
                ),
            )
            .await,
        );
        assert!(
            (share - p).abs() <= tolerance,
            "approx_percentile_cont({p}) = {answer} has {share} of rows at or under it"
        );
        eprintln!(
            "approx_percentile_cont({p}) = {answer:.2} ms: {share:.5} of rows at or under it"
        );
    }

    // Time functions, exactly.
    let exact_queries = [
        "SELECT date_bin(INTERVAL '15 minutes', ts, TIMESTAMP '2026-11-01T00:00:00Z') AS bucket, count(*) AS n \
         FROM logs WHERE ts >= TIMESTAMP '2026-11-03T00:00:00Z' AND ts < TIMESTAMP '2026-11-03T06:00:00Z' \
         GROUP BY 1 ORDER BY 1",
        "SELECT date_trunc('day', ts AT TIME ZONE 'America/New_York') AS day, count(*) AS n \
         FROM logs GROUP BY 1 ORDER BY 1",
        "SELECT date_trunc('hour', ts AT TIME ZONE 'Asia/Kolkata') AS hour, max(latency_ms) AS slowest \
         FROM logs WHERE ts >= TIMESTAMP '2026-11-05T00:00:00Z' AND ts < TIMESTAMP '2026-11-05T12:00:00Z' \
         GROUP BY 1 ORDER BY 1",
    ];
    for sql in exact_queries {
        let got = client
            .query(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        let expected = reference(&ctx, sql).await;
        hayate_tpch::compare_results(&expected, &got, true)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    }

    // The session's time zone reaches the workers: days cut at New York's
    // midnight, on both engines.
    let sql = "SELECT date_trunc('day', ts) AS day, count(*) AS n FROM logs GROUP BY 1 ORDER BY 1";
    client
        .update("SET datafusion.execution.time_zone = 'America/New_York'")
        .await
        .unwrap();
    let got = client.query(sql).await.unwrap();
    ctx.sql("SET datafusion.execution.time_zone = 'America/New_York'")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let expected = reference(&ctx, sql).await;
    hayate_tpch::compare_results(&expected, &got, true).unwrap_or_else(|e| panic!("{sql}: {e}"));
    assert!(got.iter().map(|b| b.num_rows()).sum::<usize>() >= 7);
    let first = got[0].column(0);
    assert!(!first.is_null(0));
    cluster.stop().await;
}
