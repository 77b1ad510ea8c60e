//! A coordinator killed after it launched tasks and before it read them
//! (as it dies between the two, or with a join that had not yet asked for
//! its probe side): nobody will ever read or cancel those tasks. The worker
//! notices within a few heartbeats that this coordinator is gone and stops
//! them, rather than holding them (and their memory) until they expire
//! half an hour later; the tasks of its other coordinator go on.

use std::process::Command;
use std::time::{Duration, Instant};

use datafusion::prelude::SessionContext;
use hayate_protocol::transport::InternalTransport;
use hayate_protocol::{LaunchTask, QueryRun};
use hayate_rpc::Channels;
use hayate_testkit::{http_get, metric, metric_label};

use crate::cluster::{spawn_worker, start_server};
use crate::processes::HAYATE;

async fn worker_metric(status: &str, name: &str) -> f64 {
    let page = http_get(&format!("{status}/metrics")).await.1;
    metric(&page, name, "")
}

/// A coordinator process with a 200 ms heartbeat: the process, its address
/// and the id its workers know it by.
async fn coordinator() -> (crate::cluster::Process, String, String) {
    let (process, address, status) = tokio::task::block_in_place(|| {
        let mut cmd = Command::new(HAYATE);
        cmd.args(["coordinator", "--bind", "127.0.0.1", "--port", "0"])
            .args(["--status-port", "0", "--heartbeat-ms", "200"])
            .stderr(std::process::Stdio::null());
        start_server(&mut cmd, "coordinator")
    });
    let page = http_get(&format!("{status}/metrics")).await.1;
    let id = metric_label(&page, "hayate_coordinator_info", "coordinator_id").expect("an id");
    (process, address, id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_stop_the_tasks_of_a_killed_coordinator_and_keep_the_others() {
    let (mut lost, lost_address, lost_id) = coordinator().await;
    let (_kept, kept_address, kept_id) = coordinator().await;
    assert_ne!(lost_id, kept_id);
    let both = format!("{lost_address},{kept_address}");
    let (_worker, worker, status) =
        tokio::task::block_in_place(|| spawn_worker(&both, &[], None, &[]));
    let deadline = Instant::now() + Duration::from_secs(10);
    while worker_metric(&status, "hayate_worker_coordinators").await < 2.0 {
        assert!(
            Instant::now() < deadline,
            "the worker never joined both coordinators"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    let plan = SessionContext::new()
        .sql("SELECT value FROM generate_series(1, 1000)")
        .await
        .unwrap()
        .create_physical_plan()
        .await
        .unwrap();
    let plan = hayate_planner::encode_plan(plan).unwrap();
    // Tasks launched as each coordinator would, and never read: three of
    // the one to be killed, two of the other.
    let mut control = Channels::new(InternalTransport::default())
        .control(&worker)
        .unwrap();
    for (coordinator_id, tasks) in [(&lost_id, 3), (&kept_id, 2)] {
        let run = QueryRun::new(format!("orphaned-{coordinator_id}"), 1);
        for task in 0..tasks {
            let launch = LaunchTask {
                coordinator_id: coordinator_id.clone(),
                ..LaunchTask::of_plan(run.task(0, task), plan.clone())
            };
            control.launch_task(launch).await.expect("launched");
        }
    }
    // Held while their coordinators live (heartbeats every 200 ms).
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        worker_metric(&status, "hayate_worker_tasks_running").await,
        5.0
    );

    // SIGKILL: the coordinator cancels nothing on its way out.
    let killed = Instant::now();
    let _ = lost.0.kill();
    let _ = lost.0.wait();
    loop {
        let held = worker_metric(&status, "hayate_worker_tasks_running").await;
        if held == 2.0 {
            break;
        }
        assert!(
            killed.elapsed() < Duration::from_secs(10),
            "the worker holds {held} tasks {:?} after one of its coordinators was killed",
            killed.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let stopped_after = killed.elapsed();
    eprintln!("the lost coordinator's tasks stopped {stopped_after:?} after the kill");
    // The survivor's tasks stay, and the worker still serves it.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        worker_metric(&status, "hayate_worker_tasks_running").await,
        2.0
    );
    assert_eq!(
        worker_metric(&status, "hayate_worker_coordinators").await,
        1.0
    );
}
