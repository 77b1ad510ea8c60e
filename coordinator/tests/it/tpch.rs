//! Every TPC-H query through the full path, at 1, 2 and 3 workers, equal to
//! single-node DataFusion on the same files; and in one process whose
//! members read each other in memory (`hayate local`).

use std::collections::HashMap;

use datafusion::arrow::record_batch::RecordBatch;
use hayate_storage::scan_metric;
use tokio::sync::OnceCell;

use crate::support::{TestCluster, difference, finish_checked_run, total, tpch_dir};

async fn reference(n: usize) -> &'static Vec<RecordBatch> {
    static ANSWERS: OnceCell<HashMap<usize, Vec<RecordBatch>>> = OnceCell::const_new();
    let answers = ANSWERS
        .get_or_init(|| async {
            let mut answers = HashMap::new();
            for q in 1..=22 {
                let batches = hayate_tpch::reference_answer(tpch_dir(), q, 2)
                    .await
                    .unwrap_or_else(|e| panic!("DataFusion fails q{q}: {e}"));
                answers.insert(q, batches);
            }
            answers
        })
        .await;
    &answers[&n]
}

/// Runs all 22 queries on `cluster`; returns the exchange bytes each sent.
async fn check_all_queries(cluster: TestCluster, settings: &[&str]) -> Vec<u64> {
    let mut client = cluster.tpch_client().await;
    for s in settings {
        client.update(s).await.expect("setting applies");
    }
    let mut failures = Vec::new();
    let mut exchanged = Vec::new();
    for q in 1..=22 {
        let answer = client.query_with_stats(hayate_tpch::query(q)).await;
        if let Ok((_, stats)) = &answer {
            exchanged.push(total(stats, scan_metric::EXCHANGE_BYTES));
        }
        let answer = answer.map(|(batches, _)| batches);
        failures.extend(difference(
            &format!("q{q}"),
            reference(q).await,
            &answer,
            hayate_tpch::is_ordered(q),
        ));
    }
    finish_checked_run(cluster, failures, "of 22 queries").await;
    exchanged
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tpch_on_one_worker() {
    check_all_queries(TestCluster::start(1).await, &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tpch_on_two_workers() {
    let exchanged = check_all_queries(TestCluster::start(2).await, &[]).await;
    assert!(
        exchanged.iter().all(|b| *b > 0),
        "every query's result reaches the coordinator over Flight: {exchanged:?}"
    );
}

/// `hayate local`: a coordinator and two workers in one process read each
/// other's partitions in memory, so no query sends a byte over Flight.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tpch_in_one_process_reading_in_memory() {
    let exchanged = check_all_queries(TestCluster::start_in_memory(2).await, &[]).await;
    assert_eq!(exchanged, vec![0; 22], "exchange bytes sent per query");
}

/// Three workers, and session settings that must reach the workers' plans.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tpch_on_three_workers_with_three_partitions() {
    check_all_queries(
        TestCluster::start(3).await,
        &[
            "SET datafusion.execution.target_partitions = 3",
            "SET datafusion.execution.batch_size = 1000",
        ],
    )
    .await;
}
