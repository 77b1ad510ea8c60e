//! The HTTP status endpoints of a coordinator and its workers, read as a
//! Kubernetes probe and Prometheus read them: health, readiness (a
//! draining worker is not ready), and metrics that move with real queries.

use std::net::SocketAddr;
use std::time::Duration;

use hayate_coordinator::{CoordinatorConfig, start_coordinator};
use hayate_protocol::control::worker_control::worker_control_client::WorkerControlClient;
use hayate_protocol::{ClusterSecret, Drain};
use hayate_testkit::{http_get, metric};
use hayate_worker::{CoordinatorTargets, MemoryLimits, WorkerConfig, WorkerHandle, start_worker};

use crate::support::{Client, TEST_SECRET, tpch_dir};

fn any_port() -> Option<SocketAddr> {
    Some(SocketAddr::from(([127, 0, 0, 1], 0)))
}

async fn worker(coordinator: &str) -> WorkerHandle {
    start_worker(WorkerConfig {
        bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        advertise_host: None,
        advertise_port: None,
        coordinators: CoordinatorTargets::parse(&[coordinator]).expect("coordinator URL"),
        memory: MemoryLimits::default(),
        secret: ClusterSecret::new(TEST_SECRET),
        tls: Default::default(),
        status: any_port(),
        local_peers: Default::default(),
        cpu: Default::default(),
    })
    .await
    .expect("worker starts")
}

/// Polls `url` until it answers `status`, for up to five seconds.
async fn wait_for_status(url: &str, status: u16) -> String {
    for _ in 0..50 {
        let (code, body) = http_get(url).await;
        if code == status {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{url} never answered {status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn probes_and_metrics_follow_queries_and_drain() {
    let coordinator = start_coordinator(CoordinatorConfig {
        bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        heartbeat_interval: Duration::from_millis(200),
        secret: ClusterSecret::new(TEST_SECRET),
        status: any_port(),
        ..Default::default()
    })
    .await
    .expect("coordinator starts");
    let status = format!(
        "http://{}",
        coordinator.status_address.expect("status endpoint")
    );
    let workers = [
        worker(&coordinator.address).await,
        worker(&coordinator.address).await,
    ];
    let worker_status: Vec<String> = workers
        .iter()
        .map(|w| format!("http://{}", w.status_address.expect("status endpoint")))
        .collect();

    assert_eq!(
        http_get(&format!("{status}/healthz")).await,
        (200, "ok\n".into())
    );
    for w in &worker_status {
        assert_eq!(http_get(&format!("{w}/healthz")).await.0, 200);
        wait_for_status(&format!("{w}/readyz"), 200).await;
    }
    assert!(
        coordinator
            .wait_for_workers(2, Duration::from_secs(5))
            .await
    );
    let (code, ready) = http_get(&format!("{status}/readyz")).await;
    assert_eq!(code, 200);
    assert!(ready.contains("2 live workers"), "{ready}");

    let mut client = Client::connect(&coordinator.address).await.unwrap();
    for ddl in hayate_tpch::create_table_statements(tpch_dir()) {
        client.update(&ddl).await.unwrap();
    }
    client
        .update("SET hayate.bytes_per_task = 1")
        .await
        .unwrap();
    for _ in 0..3 {
        client
            .query(hayate_tpch::query(3))
            .await
            .expect("Q3 answers");
    }
    client.query("SELEC oops").await.expect_err("bad SQL fails");
    client
        .query("SELECT CAST(l_comment AS INT) FROM lineitem")
        .await
        .expect_err("a bad cast fails on the workers");

    let page = http_get(&format!("{status}/metrics")).await.1;
    // The three Q3s and the DDL statements finished; the bad SQL and the
    // bad cast failed.
    assert!(
        metric(&page, "hayate_queries_finished_total", "") >= 3.0,
        "{page}"
    );
    assert_eq!(
        metric(&page, "hayate_queries_failed_total", ""),
        2.0,
        "{page}"
    );
    assert!(
        metric(&page, "hayate_query_duration_seconds_count", "") >= 5.0,
        "{page}"
    );
    assert_eq!(metric(&page, "hayate_queries_running", ""), 0.0, "{page}");
    assert_eq!(metric(&page, "hayate_queries_queued", ""), 0.0, "{page}");
    assert_eq!(metric(&page, "hayate_workers_live", ""), 2.0, "{page}");
    assert!(
        metric(&page, "hayate_cluster_task_slots", "") >= 2.0,
        "{page}"
    );
    assert!(
        metric(&page, "hayate_bytes_scanned_total", "") > 0.0,
        "{page}"
    );
    assert!(
        metric(&page, "hayate_exchange_bytes_total", "") > 0.0,
        "{page}"
    );
    assert!(
        metric(&page, "hayate_object_store_requests_total", "kind=\"get\"") > 0.0,
        "{page}"
    );
    assert!(page.contains("hayate_worker_tasks_running{"), "{page}");

    let mut launched = 0.0;
    let mut sent = 0.0;
    for w in &worker_status {
        let page = http_get(&format!("{w}/metrics")).await.1;
        assert_eq!(metric(&page, "hayate_worker_registered", ""), 1.0, "{page}");
        launched += metric(&page, "hayate_worker_tasks_launched_total", "");
        sent += metric(&page, "hayate_worker_exchange_bytes_sent_total", "");
    }
    assert!(
        launched >= 6.0,
        "each Q3 ran tasks on the workers: {launched}"
    );
    assert!(sent > 0.0);

    // A preStop drain: the worker stops being ready at once, and the
    // coordinator counts it as draining after its next heartbeat.
    let channel = hayate_protocol::transport::channel(&workers[0].address, None).unwrap();
    let mut control =
        WorkerControlClient::with_interceptor(channel, ClusterSecret::new(TEST_SECRET));
    let drained = control
        .drain(Drain { grace_secs: 5 })
        .await
        .expect("drain accepted")
        .into_inner();
    assert_eq!(drained.running_tasks, 0, "an idle worker drains at once");
    let (code, why) = http_get(&format!("{}/readyz", worker_status[0])).await;
    assert_eq!(code, 503);
    assert!(why.contains("draining"), "{why}");
    let mut draining = 0.0;
    for _ in 0..50 {
        let page = http_get(&format!("{status}/metrics")).await.1;
        draining = metric(&page, "hayate_workers_draining", "");
        if draining == 1.0 {
            assert_eq!(metric(&page, "hayate_workers_live", ""), 1.0, "{page}");
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(draining, 1.0);
    // Queries go on, on the other worker.
    client
        .query(hayate_tpch::query(3))
        .await
        .expect("Q3 still answers");

    for w in workers {
        w.stop().await;
    }
    coordinator.stop().await;
}
