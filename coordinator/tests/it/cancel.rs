//! A client that walks away mid-query stops the query's tasks on every
//! worker: nothing keeps running, nothing is left holding memory or slots,
//! whether the workers read each other over Flight or in memory.

use std::time::Duration;

use futures::StreamExt;

use crate::support::{TestCluster, assert_workers_idle};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dropping_the_stream_stops_every_task() {
    walk_away_mid_query(TestCluster::start(2).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dropping_the_stream_stops_every_task_read_in_memory() {
    walk_away_mid_query(TestCluster::start_in_memory(2).await).await;
}

async fn walk_away_mid_query(cluster: TestCluster) {
    let mut client = cluster.tpch_client().await;
    client
        .update("SET datafusion.execution.batch_size = 64")
        .await
        .unwrap();
    // A large result (a join that multiplies rows) streamed in small batches.
    let info = client
        .inner
        .execute(
            "SELECT l1.l_orderkey, l2.l_partkey FROM lineitem l1 JOIN lineitem l2 ON l1.l_suppkey = l2.l_suppkey".into(),
            None,
        )
        .await
        .unwrap();
    let ticket = info.endpoint[0].ticket.clone().unwrap();
    let mut stream = client.inner.do_get(ticket).await.unwrap();
    let first = stream
        .next()
        .await
        .expect("a first batch")
        .expect("no error");
    assert!(first.num_rows() > 0);
    let busy: usize = cluster
        .workers
        .iter()
        .map(|w| w.registry.running_tasks())
        .sum();
    assert!(busy > 0, "tasks run while the query streams");
    let held: usize = cluster
        .workers
        .iter()
        .map(|w| w.registry.query_memory_in_use())
        .sum();
    assert!(held > 0, "the join's build side holds query memory");

    drop(stream);
    assert_workers_idle(&cluster, Duration::from_secs(1), "the client left").await;
    // The cluster is free for the next query.
    let rows = client
        .query("SELECT count(*) FROM orders WHERE o_orderkey > 0")
        .await
        .unwrap();
    assert_eq!(rows[0].num_rows(), 1);
    cluster.stop().await;
}
