//! Single-task queries are placed on the least loaded worker, so that
//! concurrent small queries spread over the cluster instead of queueing on
//! its first worker.

use std::time::Duration;

use futures::StreamExt;

use crate::support::{TestCluster, assert_workers_idle};

/// A single-task query (small input) that keeps its worker busy for as long
/// as its stream is open: a self-join streamed in small batches.
const HOLDS_A_WORKER: &str = "SELECT l1.l_orderkey, l2.l_partkey FROM lineitem l1 JOIN lineitem l2 ON l1.l_suppkey = l2.l_suppkey";

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_single_task_queries_go_to_different_workers() {
    let cluster = TestCluster::start(3).await;
    let mut streams = Vec::new();
    for _ in 0..3 {
        let mut client = cluster.tpch_client().await;
        // Small inputs stay on one task (the default), and small batches
        // keep each query streaming while the next one is placed.
        client
            .update("SET hayate.bytes_per_task = 1073741824")
            .await
            .unwrap();
        client
            .update("SET datafusion.execution.batch_size = 64")
            .await
            .unwrap();
        let info = client
            .inner
            .execute(HOLDS_A_WORKER.into(), None)
            .await
            .unwrap();
        let ticket = info.endpoint[0].ticket.clone().unwrap();
        let mut stream = client.inner.do_get(ticket).await.unwrap();
        stream
            .next()
            .await
            .expect("a first batch")
            .expect("no error");
        streams.push((client, stream));
    }
    let per_worker: Vec<usize> = cluster
        .workers
        .iter()
        .map(|w| w.registry.running_tasks())
        .collect();
    assert_eq!(
        per_worker,
        vec![1, 1, 1],
        "each query's one task on a worker of its own"
    );
    drop(streams);
    assert_workers_idle(&cluster, Duration::from_secs(2), "the clients left").await;
    cluster.stop().await;
}
