//! A coordinator killed after it launched tasks and before it read them
//! (as it dies between the two, or with a join that had not yet asked for
//! its probe side): nobody will ever read or cancel those tasks. The worker
//! notices within a few heartbeats that its coordinator is gone and stops
//! them, rather than holding them (and their memory) until they expire
//! half an hour later.

use std::time::{Duration, Instant};

use datafusion::prelude::SessionContext;
use hayate_protocol::transport::InternalTransport;
use hayate_protocol::{LaunchTask, QueryRun};
use hayate_rpc::Channels;
use hayate_testkit::{http_get, metric};

use crate::cluster::ProcessCluster;

/// Tasks held by the worker whose status endpoint is `status`.
async fn tasks_held(status: &str) -> f64 {
    let page = http_get(&format!("{status}/metrics")).await.1;
    metric(&page, "hayate_worker_tasks_running", "")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_stop_the_tasks_of_a_killed_coordinator() {
    let mut cluster = tokio::task::spawn_blocking(|| ProcessCluster::start(1))
        .await
        .expect("cluster starts");
    let (worker, status) = tokio::task::block_in_place(|| cluster.add_worker(&[]));
    let plan = SessionContext::new()
        .sql("SELECT value FROM generate_series(1, 1000)")
        .await
        .unwrap()
        .create_physical_plan()
        .await
        .unwrap();
    let plan = hayate_planner::encode_plan(plan).unwrap();
    // Three tasks launched as the coordinator would, and never read.
    let mut control = Channels::new(InternalTransport::default())
        .control(&worker)
        .unwrap();
    let run = QueryRun::new("orphaned", 1);
    for task in 0..3 {
        let launch = LaunchTask {
            task: run.task(0, task),
            plan: plan.clone(),
            settings: Vec::new(),
            consumers: 1,
            stores: Vec::new(),
        };
        control.launch_task(launch).await.expect("launched");
    }
    // Held while their coordinator lives (heartbeats every 200 ms).
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(tasks_held(&status).await, 3.0);

    // SIGKILL: the coordinator cancels nothing on its way out.
    let killed = Instant::now();
    let _ = cluster.coordinator.0.kill();
    let _ = cluster.coordinator.0.wait();
    loop {
        let held = tasks_held(&status).await;
        if held == 0.0 {
            break;
        }
        assert!(
            killed.elapsed() < Duration::from_secs(10),
            "the worker still holds {held} tasks {:?} after its coordinator was killed",
            killed.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!("tasks stopped {:?} after the kill", killed.elapsed());
}
