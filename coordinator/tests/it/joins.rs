//! Joins whose correctness depends on how build rows are owned across tasks
//! (the bugs of other engines: rows lost or multiplied by LEFT/FULL/SEMI/ANTI
//! joins over several tasks). Each is checked at 1 and 3 workers, with
//! DataFusion's own join choices, with hash joins forced to collect their
//! build side (broadcast), with Hayate's broadcast rule choosing, and with
//! every join partitioned, against single-node DataFusion.

use datafusion::prelude::{SessionConfig, SessionContext};

use crate::support::{TestCluster, tpch_dir};

const JOINS: &[&str] = &[
    // LEFT: customers without orders must appear exactly once.
    "SELECT c_custkey, count(o_orderkey) AS n FROM customer LEFT JOIN orders ON c_custkey = o_custkey GROUP BY c_custkey",
    "SELECT count(*) AS n, count(o_orderkey) AS matched FROM customer LEFT JOIN orders ON c_custkey = o_custkey",
    // RIGHT
    "SELECT count(*) AS n, count(c_custkey) AS matched FROM orders RIGHT JOIN customer ON c_custkey = o_custkey AND o_orderpriority = '1-URGENT'",
    // FULL: unmatched rows on both sides.
    "SELECT count(*) AS n, count(c.c_custkey) AS left_side, count(o.o_orderkey) AS right_side \
     FROM (SELECT * FROM customer WHERE c_nationkey < 10) c \
     FULL JOIN (SELECT * FROM orders WHERE o_orderpriority = '1-URGENT') o ON c.c_custkey = o.o_custkey",
    // SEMI and ANTI, both directions.
    "SELECT count(*) AS n FROM customer WHERE EXISTS (SELECT 1 FROM orders WHERE o_custkey = c_custkey)",
    "SELECT count(*) AS n FROM customer WHERE NOT EXISTS (SELECT 1 FROM orders WHERE o_custkey = c_custkey)",
    "SELECT count(*) AS n FROM orders WHERE o_custkey IN (SELECT c_custkey FROM customer WHERE c_mktsegment = 'BUILDING')",
    "SELECT count(*) AS n FROM supplier WHERE s_suppkey NOT IN (SELECT ps_suppkey FROM partsupp WHERE ps_availqty < 100)",
    // A small build side on the left of an outer join.
    "SELECT n_name, count(s_suppkey) AS n FROM nation LEFT JOIN supplier ON n_nationkey = s_nationkey AND s_acctbal > 9000 GROUP BY n_name",
    "SELECT n_name, count(c_custkey) AS n FROM nation FULL JOIN customer ON n_nationkey = c_nationkey AND c_acctbal > 9990 GROUP BY n_name",
    // Cross and nested-loop joins.
    "SELECT count(*) AS n FROM region, nation, supplier",
    "SELECT n1.n_name, count(n2.n_name) AS n FROM nation n1 LEFT JOIN nation n2 ON n1.n_nationkey < n2.n_nationkey AND n2.n_regionkey = 0 GROUP BY n1.n_name",
    "SELECT count(*) AS n FROM supplier s JOIN nation n ON s.s_nationkey < n.n_nationkey",
];

/// Settings that make DataFusion collect every hash join's build side.
const FORCE_COLLECT_LEFT: &[&str] = &[
    "SET datafusion.optimizer.hash_join_single_partition_threshold = 1000000000",
    "SET datafusion.optimizer.hash_join_single_partition_threshold_rows = 1000000000",
];

/// Settings under which DataFusion partitions every hash join, so that
/// Hayate's broadcast rule (`hayate.broadcast_join_bytes`) picks which to
/// broadcast, and with none broadcast at all.
const HAYATE_BROADCASTS: &[&str] = &[
    "SET datafusion.optimizer.hash_join_single_partition_threshold = 0",
    "SET datafusion.optimizer.hash_join_single_partition_threshold_rows = 0",
];
const NOTHING_BROADCAST: &[&str] = &[
    "SET datafusion.optimizer.hash_join_single_partition_threshold = 0",
    "SET datafusion.optimizer.hash_join_single_partition_threshold_rows = 0",
    "SET hayate.broadcast_join_bytes = 0",
];

async fn reference(sql: &str) -> Vec<datafusion::arrow::record_batch::RecordBatch> {
    let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(2));
    for ddl in hayate_tpch::create_table_statements(tpch_dir()) {
        ctx.sql(&ddl).await.unwrap().collect().await.unwrap();
    }
    ctx.sql(sql).await.unwrap().collect().await.unwrap()
}

async fn check_joins(workers: usize, settings: &[&str]) {
    let cluster = TestCluster::start(workers).await;
    let mut client = cluster.tpch_client().await;
    for s in settings {
        client.update(s).await.expect("setting applies");
    }
    let mut failures = Vec::new();
    for sql in JOINS {
        let expected = reference(sql).await;
        match client.query(sql).await {
            Ok(actual) => {
                if let Err(diff) = hayate_tpch::compare_results(&expected, &actual, false) {
                    failures.push(format!("{sql}\n  {diff}"));
                }
            }
            Err(e) => failures.push(format!("{sql}\n  failed: {e}")),
        }
    }
    cluster.stop().await;
    assert!(
        failures.is_empty(),
        "joins differ at {workers} workers:\n{}",
        failures.join("\n")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn joins_on_one_worker() {
    check_joins(1, &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn joins_on_three_workers() {
    check_joins(3, &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn broadcast_joins_on_three_workers() {
    check_joins(3, FORCE_COLLECT_LEFT).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn joins_broadcast_by_hayate_on_three_workers() {
    check_joins(3, HAYATE_BROADCASTS).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn partitioned_joins_on_three_workers() {
    check_joins(3, NOTHING_BROADCAST).await;
}
