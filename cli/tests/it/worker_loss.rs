//! Workers lost while queries run: killed with SIGKILL, or cut off by the
//! network. Every answer must still equal single-node DataFusion's, and the
//! query's record must show that it ran again without the lost worker.

use std::time::{Duration, Instant};

use hayate_testkit::{SqlClient, TcpProxy};

use crate::cluster::{ProcessCluster, free_port, tpch_dir};

/// Small batches and a task per file: queries take long enough in a debug
/// build for a worker to die under them, and every worker holds tasks.
const SPREAD_AND_SLOW: [&str; 2] = [
    "SET hayate.bytes_per_task = 1",
    "SET datafusion.execution.batch_size = 64",
];

async fn tpch_session(url: &str) -> SqlClient {
    let mut client = SqlClient::connect(url).await.expect("connect");
    for ddl in hayate_tpch::create_table_statements(tpch_dir()) {
        client.update(&ddl).await.expect("create table");
    }
    for s in SPREAD_AND_SLOW {
        client.update(s).await.expect("setting applies");
    }
    client
}

/// How long TPC-H query `q` takes with every worker there.
async fn healthy_run(client: &mut SqlClient, q: usize) -> Duration {
    let started = Instant::now();
    client
        .query(hayate_tpch::query(q))
        .await
        .expect("healthy run");
    started.elapsed()
}

/// Kills the cluster's first worker a third of the way through q9 and
/// returns the error the query must end with.
async fn error_after_a_kill(cluster: &mut ProcessCluster, mut client: SqlClient) -> String {
    let q = 9;
    let healthy = healthy_run(&mut client, q).await;
    let run = tokio::spawn(async move { client.query(hayate_tpch::query(q)).await });
    tokio::time::sleep(healthy / 3).await;
    assert!(!run.is_finished(), "q{q} ended before the kill");
    drop(cluster.workers.remove(0));
    run.await
        .expect("query task")
        .expect_err("the query cannot answer after the kill")
}

async fn start_cluster(workers: usize) -> ProcessCluster {
    tokio::task::spawn_blocking(move || ProcessCluster::start(workers))
        .await
        .expect("cluster starts")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tpch_answers_survive_a_worker_killed_mid_query() {
    let mut cluster = start_cluster(3).await;
    let mut client = tpch_session(&cluster.url).await;
    let mut failures = Vec::new();
    let mut retried = Vec::new();
    let mut killed_mid_query = 0;
    for (i, q) in [3usize, 5, 9, 10, 18].into_iter().enumerate() {
        let expected = hayate_tpch::reference_answer(tpch_dir(), q, 2)
            .await
            .expect("DataFusion answers");
        // A healthy run first, to know when "half-way" is.
        let healthy = healthy_run(&mut client, q).await;
        let started = Instant::now();
        let run = tokio::spawn(async move {
            let answer = client.query_with_stats(hayate_tpch::query(q)).await;
            (client, answer)
        });
        // Kill a different worker each time, half-way through the query,
        // and start a replacement, as a Deployment would.
        tokio::time::sleep(healthy / 2).await;
        if !run.is_finished() {
            killed_mid_query += 1;
        }
        let victim = cluster.workers.remove(i % cluster.workers.len());
        drop(victim);
        cluster.add_worker(&[]);
        let (back, answer) = run.await.expect("query task");
        client = back;
        match answer {
            Ok((batches, stats)) => {
                if stats.attempts > 1 {
                    retried.push(q);
                }
                eprintln!(
                    "q{q}: {:?} healthy, {:?} with a kill; attempts {}, lost {:?}",
                    healthy,
                    started.elapsed(),
                    stats.attempts,
                    stats.lost_workers
                );
                if let Err(diff) =
                    hayate_tpch::compare_results(&expected, &batches, hayate_tpch::is_ordered(q))
                {
                    failures.push(format!("q{q}: {diff}"));
                }
            }
            Err(e) => failures.push(format!("q{q} failed: {e}")),
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(
        killed_mid_query >= 3,
        "the kill landed during only {killed_mid_query} queries; the test did not test"
    );
    assert!(
        !retried.is_empty(),
        "no query ran again although workers were killed under {killed_mid_query} of them"
    );
}

/// A worker that stops answering without resetting anything (a network
/// partition): the proxy in front of it goes silent between two queries,
/// while its heartbeats keep reaching the coordinator directly. The next
/// query's call to it gets no answer; keep-alive gives up on it and the
/// query runs without it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_cut_off_by_the_network_is_left_out() {
    let mut cluster = start_cluster(2).await;
    let port = free_port();
    let proxy = TcpProxy::start(([127, 0, 0, 1], port).into())
        .await
        .expect("proxy starts");
    let proxied = format!("http://127.0.0.1:{}", proxy.port);
    cluster.add_worker(&[
        "--port",
        &port.to_string(),
        "--advertise-port",
        &proxy.port.to_string(),
    ]);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut client = tpch_session(&cluster.url).await;

    let q = 9;
    let expected = hayate_tpch::reference_answer(tpch_dir(), q, 2)
        .await
        .expect("DataFusion answers");
    let (_, healthy) = client
        .query_with_stats(hayate_tpch::query(q))
        .await
        .expect("healthy run");
    assert_eq!(healthy.attempts, 1);

    proxy.stall();
    let cut = Instant::now();
    let (batches, stats) = client
        .query_with_stats(hayate_tpch::query(q))
        .await
        .expect("q9 answers without the cut-off worker");
    eprintln!(
        "q{q} answered {:?} after the cut; attempts {}, lost {:?}",
        cut.elapsed(),
        stats.attempts,
        stats.lost_workers
    );
    hayate_tpch::compare_results(&expected, &batches, hayate_tpch::is_ordered(q))
        .expect("the answer equals DataFusion's");
    assert_eq!(stats.lost_workers, vec![proxied]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_attempts_left_the_error_names_the_lost_worker() {
    let mut cluster = start_cluster(2).await;
    let mut client = tpch_session(&cluster.url).await;
    client
        .update("SET hayate.query_attempts = 1")
        .await
        .expect("setting applies");
    let error = error_after_a_kill(&mut cluster, client).await;
    assert!(
        error.contains("query failed after 1 attempt(s)")
            && error.contains("worker http://127.0.0.1:"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn losing_the_last_worker_says_so() {
    let mut cluster = start_cluster(1).await;
    let client = tpch_session(&cluster.url).await;
    let error = error_after_a_kill(&mut cluster, client).await;
    assert!(
        error.contains("no live workers left after losing http://127.0.0.1:"),
        "{error}"
    );
}

/// SIGTERM is not a loss: the worker takes no new queries, finishes the
/// ones it is part of, then exits; the query under it answers on its first
/// attempt and the next one runs on the worker left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_stopped_with_sigterm_drains() {
    let mut cluster = start_cluster(1).await;
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("worker.log");
    cluster.add_logging_worker(&log);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let launched = || {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .matches("task launched")
            .count()
    };
    let mut client = tpch_session(&cluster.url).await;
    let q = 9;
    let expected = hayate_tpch::reference_answer(tpch_dir(), q, 2)
        .await
        .expect("DataFusion answers");
    healthy_run(&mut client, q).await;
    let before = launched();
    let run = tokio::spawn(async move {
        let answer = client.query_with_stats(hayate_tpch::query(q)).await;
        (client, answer)
    });
    // SIGTERM once the query has tasks on the worker.
    let deadline = Instant::now() + Duration::from_secs(10);
    while launched() == before {
        assert!(
            Instant::now() < deadline,
            "q{q} placed nothing on the worker"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(!run.is_finished(), "q{q} ended before the SIGTERM");
    let mut stopping = cluster.workers.pop().expect("the logging worker");
    stopping.sigterm();
    let mut client = answered_first_time(run, &expected, q).await;

    let deadline = Instant::now() + Duration::from_secs(10);
    while stopping.0.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "the drained worker did not exit");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    next_query_on_the_worker_left(&mut client, &expected, q).await;
}

/// The Kubernetes preStop path: `hayate drain` returns once the worker's
/// running tasks are done (the query under it answers on its first
/// attempt), the worker reports itself not ready, and the SIGTERM that
/// follows ends it at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_drain_command_finishes_running_tasks_before_sigterm() {
    let mut cluster = start_cluster(1).await;
    let (worker, status) = cluster.add_worker(&[]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while hayate_testkit::http_status(&format!("{status}/readyz")).await != Some(200) {
        assert!(Instant::now() < deadline, "the worker never became ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut client = tpch_session(&cluster.url).await;
    let q = 9;
    let expected = hayate_tpch::reference_answer(tpch_dir(), q, 2)
        .await
        .expect("DataFusion answers");
    healthy_run(&mut client, q).await;
    let run = tokio::spawn(async move {
        let answer = client.query_with_stats(hayate_tpch::query(q)).await;
        (client, answer)
    });
    // Drain once the query has tasks on the worker.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let page = hayate_testkit::http_get(&format!("{status}/metrics"))
            .await
            .1;
        if hayate_testkit::metric(&page, "hayate_worker_tasks_running", "") > 0.0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "q{q} placed nothing on the worker"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let drain = tokio::task::spawn_blocking(move || {
        std::process::Command::new(crate::processes::HAYATE)
            .args(["drain", "--worker", &worker, "--grace-secs", "20"])
            .output()
            .expect("hayate drain runs")
    });
    let mut client = answered_first_time(run, &expected, q).await;
    let drained = drain.await.unwrap();
    let said = crate::processes::text(&drained);
    assert!(drained.status.success(), "{said}");
    assert!(said.contains("drained; 0 tasks still running"), "{said}");
    assert_eq!(
        hayate_testkit::http_status(&format!("{status}/readyz")).await,
        Some(503)
    );

    let mut stopping = cluster.workers.pop().expect("the drained worker");
    let sigterm_sent = Instant::now();
    stopping.sigterm();
    while stopping.0.try_wait().unwrap().is_none() {
        assert!(
            sigterm_sent.elapsed() < Duration::from_secs(2),
            "a drained worker exits at once on SIGTERM"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    next_query_on_the_worker_left(&mut client, &expected, q).await;
}

type QueryRun = tokio::task::JoinHandle<(
    SqlClient,
    Result<
        (
            Vec<datafusion::arrow::array::RecordBatch>,
            hayate_protocol::QueryStats,
        ),
        String,
    >,
)>;

/// Waits for a query that ran under a draining worker: it must equal
/// DataFusion's answer on its first attempt (drained, not lost).
async fn answered_first_time(
    run: QueryRun,
    expected: &[datafusion::arrow::array::RecordBatch],
    q: usize,
) -> SqlClient {
    let (client, answer) = run.await.expect("query task");
    let (batches, stats) = answer.expect("the query under the draining worker answers");
    hayate_tpch::compare_results(expected, &batches, hayate_tpch::is_ordered(q))
        .expect("the answer equals DataFusion's");
    assert_eq!(
        stats.attempts, 1,
        "drained, not lost: {:?}",
        stats.lost_workers
    );
    client
}

/// After a drained worker has gone, the next run of `q` answers correctly
/// on the first attempt.
async fn next_query_on_the_worker_left(
    client: &mut SqlClient,
    expected: &[datafusion::arrow::array::RecordBatch],
    q: usize,
) {
    let (batches, stats) = client
        .query_with_stats(hayate_tpch::query(q))
        .await
        .expect("the next query runs on the worker left");
    hayate_tpch::compare_results(expected, &batches, hayate_tpch::is_ordered(q))
        .expect("the answer equals DataFusion's");
    assert_eq!(stats.attempts, 1);
}
