//! Many clients at once against a small admission limit: every query either
//! answers exactly what DataFusion answers or is told the server is busy;
//! nothing hangs, nothing else goes wrong, and afterwards every slot and
//! every worker is free again.

use std::time::{Duration, Instant};

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::prelude::SessionContext;
use hayate_coordinator::{QueryLimits, StorageConfig};

use crate::support::{TestCluster, assert_workers_idle, tpch_dir};

const CLIENTS: usize = 32;
const QUERIES_PER_CLIENT: usize = 10;

fn queries() -> Vec<String> {
    (0..QUERIES_PER_CLIENT)
        .map(|i| match i % 3 {
            0 => format!("SELECT count(*) AS n FROM lineitem WHERE l_quantity > {}", i * 4),
            1 => "SELECT l_returnflag, l_linestatus, count(*) AS n, sum(l_quantity) AS q \
                  FROM lineitem GROUP BY 1, 2 ORDER BY 1, 2"
                .to_string(),
            _ => format!(
                "SELECT o_orderpriority, count(*) AS n FROM orders JOIN customer ON o_custkey = c_custkey \
                 WHERE c_nationkey = {i} GROUP BY 1 ORDER BY 1"
            ),
        })
        .collect()
}

async fn reference(sql: &str) -> Vec<RecordBatch> {
    let ctx = SessionContext::new();
    for ddl in hayate_tpch::create_table_statements(tpch_dir()) {
        ctx.sql(&ddl).await.unwrap().collect().await.unwrap();
    }
    ctx.sql(sql).await.unwrap().collect().await.unwrap()
}

#[derive(Default, Debug)]
struct Tally {
    correct: usize,
    busy: usize,
    wrong: Vec<String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_two_clients_every_query_accounted_for() {
    let limits = QueryLimits {
        max_running: 4,
        max_queued: 12,
        timeout: None,
    };
    let cluster = TestCluster::start_with(2, StorageConfig::default(), limits).await;
    // Registers the tables once: the catalog is shared by every session.
    drop(cluster.tpch_client().await);
    let queries = queries();
    let mut expected = Vec::new();
    for sql in &queries {
        expected.push(reference(sql).await);
    }
    let expected = std::sync::Arc::new(expected);

    let started = Instant::now();
    let clients = (0..CLIENTS).map(|c| {
        let queries = queries.clone();
        let expected = std::sync::Arc::clone(&expected);
        let address = cluster.coordinator.address.clone();
        tokio::spawn(async move {
            let mut client = crate::support::Client::connect(&address).await.unwrap();
            let mut tally = Tally::default();
            for (i, sql) in queries
                .iter()
                .enumerate()
                .cycle()
                .skip(c)
                .take(QUERIES_PER_CLIENT)
            {
                match client.query(sql).await {
                    Ok(batches) => {
                        match hayate_tpch::compare_results(&expected[i], &batches, true) {
                            Ok(()) => tally.correct += 1,
                            Err(diff) => tally.wrong.push(format!("{sql}: {diff}")),
                        }
                    }
                    Err(e) if e.contains("server busy") => tally.busy += 1,
                    Err(e) => tally.wrong.push(format!("{sql}: {e}")),
                }
            }
            tally
        })
    });
    let all = tokio::time::timeout(Duration::from_secs(240), futures::future::join_all(clients))
        .await
        .expect("no client hangs");
    let mut total = Tally::default();
    for tally in all {
        let tally = tally.expect("client task");
        total.correct += tally.correct;
        total.busy += tally.busy;
        total.wrong.extend(tally.wrong);
    }
    eprintln!(
        "{} queries from {CLIENTS} clients in {:?}: {} correct, {} busy",
        CLIENTS * QUERIES_PER_CLIENT,
        started.elapsed(),
        total.correct,
        total.busy
    );
    assert!(total.wrong.is_empty(), "{:#?}", total.wrong);
    assert_eq!(total.correct + total.busy, CLIENTS * QUERIES_PER_CLIENT);
    assert!(total.correct >= CLIENTS, "{total:?}");

    // Every slot came back: a fresh query runs at once, and workers are idle.
    assert_workers_idle(&cluster, Duration::from_secs(3), "the load").await;
    let mut client = cluster.client().await;
    client
        .query(&queries[1])
        .await
        .expect("a query after the load answers");
    cluster.stop().await;
}
