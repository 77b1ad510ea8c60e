//! Workers join by registering, stay by heartbeating, and are forgotten
//! when they fall silent.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use hayate_worker::{CoordinatorTargets, WorkerConfig, start_worker};

use hayate_protocol::ClusterSecret;

use crate::support::{TEST_SECRET, TestCluster};

async fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < timeout, "{what} within {timeout:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn silent_workers_are_forgotten_and_new_ones_join() {
    let mut cluster = TestCluster::start(2).await;
    let membership = std::sync::Arc::clone(&cluster.coordinator.membership);

    // A silent worker (stopped: no more heartbeats) is forgotten after the
    // 2 s timeout, with no query needed to notice.
    let gone = cluster.workers.remove(0);
    gone.stop().await;
    wait_until(
        "the silent worker is forgotten",
        Duration::from_secs(5),
        || membership.live().len() == 1,
    )
    .await;

    // A new worker is live within a heartbeat of starting.
    let fresh = start_worker(WorkerConfig {
        bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        advertise_host: None,
        advertise_port: None,
        coordinators: CoordinatorTargets::parse(&[&cluster.coordinator.address])
            .expect("coordinator URL"),
        memory: Default::default(),
        secret: ClusterSecret::new(TEST_SECRET),
        tls: Default::default(),
        status: None,
        local_peers: Default::default(),
        cpu: Default::default(),
    })
    .await
    .unwrap();
    let joined = wait_until("the new worker joins", Duration::from_secs(3), || {
        membership.live().len() == 2
    })
    .await;
    assert!(membership.live().iter().any(|w| w.address == fresh.address));
    assert!(joined < Duration::from_secs(1), "joined after {joined:?}");

    // ... and receives tasks.
    let mut client = cluster.tpch_client().await;
    client
        .query("SELECT count(*) FROM lineitem WHERE l_quantity > 1")
        .await
        .unwrap();
    assert!(
        fresh.registry.launched_total() > 0,
        "the new worker ran a task"
    );
    cluster.workers.push(fresh);
    cluster.stop().await;
}
