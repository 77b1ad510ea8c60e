//! No single point of failure, with real processes and the real S3 server:
//! two coordinators sharing a catalog in S3, three workers serving both.
//! A table created through one is queried through the other; both change
//! the catalog at once and no change is lost; a statement planned by one is
//! fetched from the other; one coordinator is SIGKILLed under a steady load
//! from several clients, and every query sent to the survivor answers
//! correctly, the killed one's clients reconnect to the survivor and rerun,
//! its tasks leave the workers, and a coordinator started in its place
//! comes up with every table and the history of both.

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::arrow::record_batch::RecordBatch;
use hayate_testkit::{S3Server, SqlClient, http_get, metric, upload_dir};
use parking_lot::Mutex;

use crate::cluster::{Process, spawn_worker, start_server, tpch_dir};
use crate::processes::{HAYATE, text};

/// The queries the load sends, each with a shuffle or a broadcast.
pub(crate) const LOAD: [&str; 2] = [
    "SELECT l_returnflag, l_linestatus, count(*) AS n, sum(l_quantity) AS q \
     FROM lineitem GROUP BY 1, 2 ORDER BY 1, 2",
    "SELECT n_name, count(*) AS customers FROM customer JOIN nation \
     ON c_nationkey = n_nationkey GROUP BY n_name ORDER BY n_name",
];

/// Environment every process of the cluster gets: the S3 server's keys.
pub(crate) fn env(server: &S3Server) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ACCESS_KEY_ID", server.access_key.clone()),
        ("AWS_SECRET_ACCESS_KEY", server.secret_key.clone()),
        ("AWS_REGION", "us-east-1".to_string()),
    ]
}

/// A coordinator on the shared catalog, on `port` (0 for any); returns it
/// with its address and status URL.
pub(crate) fn coordinator(
    server: &S3Server,
    log: &std::path::Path,
    port: u16,
) -> (Process, String, String) {
    let mut cmd = Command::new(HAYATE);
    cmd.envs(env(server))
        .args(["coordinator", "--bind", "127.0.0.1"])
        .args(["--port", &port.to_string()])
        .args(["--status-port", "0", "--heartbeat-ms", "200"])
        .args(["--worker-timeout-ms", "2000"])
        .args(["--catalog", &format!("s3://{}/catalog/", server.bucket)])
        .args(["--s3-endpoint", &server.endpoint])
        .stderr(std::fs::File::create(log).expect("log file"));
    start_server(&mut cmd, "coordinator")
}

pub(crate) fn pretty(batches: &[RecordBatch]) -> String {
    datafusion::arrow::util::pretty::pretty_format_batches(batches)
        .map(|t| t.to_string())
        .unwrap_or_else(|e| e.to_string())
}

/// The answers of single-node DataFusion on the same files.
pub(crate) async fn expected() -> Vec<String> {
    let ctx = datafusion::prelude::SessionContext::new();
    for ddl in hayate_tpch::create_table_statements(tpch_dir()) {
        ctx.sql(&ddl).await.unwrap();
    }
    let mut answers = Vec::new();
    for sql in LOAD {
        answers.push(pretty(
            &ctx.sql(sql).await.unwrap().collect().await.unwrap(),
        ));
    }
    answers
}

pub(crate) async fn gauge(status: &str, name: &str) -> f64 {
    metric(&http_get(&format!("{status}/metrics")).await.1, name, "")
}

/// Waits up to `limit` for `check`; false if it never held.
pub(crate) async fn eventually(limit: Duration, mut check: impl AsyncFnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    while Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// Waits up to `limit` until metric `name` reads `value` on every one of
/// `workers` (process, address, status URL); false if one never does.
pub(crate) async fn on_every_worker(
    workers: &[(Process, String, String)],
    name: &str,
    value: f64,
    limit: Duration,
) -> bool {
    for (_, _, status) in workers {
        if !eventually(limit, async || gauge(status, name).await == value).await {
            return false;
        }
    }
    true
}

pub(crate) async fn count(client: &mut SqlClient, sql: &str) -> Result<i64, String> {
    let batches = client.query(sql).await?;
    let column = batches
        .first()
        .ok_or("no rows")?
        .column(0)
        .as_any()
        .downcast_ref::<datafusion::arrow::array::Int64Array>()
        .ok_or("not a count")?
        .clone();
    Ok(column.value(0))
}

/// One query of the load: where it was sent, when, and how it ended.
#[derive(Debug)]
struct Outcome {
    coordinator: String,
    sent: Instant,
    answer: Result<String, String>,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_coordinators_share_workers_and_catalog_and_survive_losing_one() {
    let server = S3Server::start("hayate-ha").await;
    let files = upload_dir(server.store().as_ref(), tpch_dir().as_ref(), "tpch")
        .await
        .unwrap();
    assert!(files >= 8);
    let logs = tempfile::tempdir().unwrap();
    let (mut a, a_url, _) =
        tokio::task::block_in_place(|| coordinator(&server, &logs.path().join("a.log"), 0));
    let (_b, b_url, b_status) =
        tokio::task::block_in_place(|| coordinator(&server, &logs.path().join("b.log"), 0));
    let both = format!("{a_url},{b_url}");
    let worker_env = env(&server);
    let worker_env: Vec<(&str, &str)> = worker_env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let workers: Vec<(Process, String, String)> = (0..3)
        .map(|_| tokio::task::block_in_place(|| spawn_worker(&both, &[], None, &worker_env)))
        .collect();
    assert!(
        on_every_worker(
            &workers,
            "hayate_worker_coordinators",
            2.0,
            Duration::from_secs(15)
        )
        .await,
        "every worker serves both coordinators"
    );

    // A table created through a answers through b within the catalog poll.
    let mut on_a = SqlClient::connect(&a_url).await.unwrap();
    let mut on_b = SqlClient::connect(&b_url).await.unwrap();
    for ddl in hayate_tpch::create_table_statements("s3://hayate-ha/tpch") {
        on_a.query(&ddl).await.expect("created through a");
    }
    assert!(
        eventually(Duration::from_secs(3), async || count(
            &mut on_b,
            "SELECT count(*) FROM nation"
        )
        .await
            == Ok(25))
        .await,
        "b answers from the table a created"
    );

    // Both change the catalog at once, 50 changes each: none is lost.
    let mut changes = Vec::new();
    for (side, url) in [("a", &a_url), ("b", &b_url)] {
        for part in 0..5 {
            let url = url.clone();
            changes.push(tokio::spawn(async move {
                let mut client = SqlClient::connect(&url).await.unwrap();
                for i in 0..10 {
                    let view = format!("v_{side}_{part}_{i}");
                    client
                        .query(&format!("CREATE VIEW {view} AS SELECT '{view}' AS name"))
                        .await
                        .unwrap_or_else(|e| panic!("{view}: {e}"));
                }
            }));
        }
    }
    for change in changes {
        change.await.unwrap();
    }
    let views = "SELECT count(*) FROM information_schema.tables \
                 WHERE table_schema = 'public' AND table_type = 'VIEW'";
    for client in [&mut on_a, &mut on_b] {
        assert!(
            eventually(Duration::from_secs(3), async || count(client, views).await
                == Ok(100))
            .await,
            "both coordinators hold all 100 views: {:?}",
            count(client, views).await
        );
    }

    // A statement planned by a is fetched from b: its ticket carries it.
    let info = on_a.inner.execute(LOAD[1].to_string(), None).await.unwrap();
    let ticket = info.endpoint[0].ticket.clone().unwrap();
    let stream = on_b
        .inner
        .do_get(ticket)
        .await
        .expect("b redeems a's ticket");
    let fetched: Vec<RecordBatch> = futures::TryStreamExt::try_collect(stream).await.unwrap();
    let expected = expected().await;
    assert_eq!(pretty(&fetched), expected[1]);

    // A steady load from four clients, two on each coordinator.
    let outcomes: Arc<Mutex<Vec<Outcome>>> = Arc::default();
    let stop = tokio_util::sync::CancellationToken::new();
    let mut clients = Vec::new();
    for (n, url) in [&a_url, &b_url, &a_url, &b_url].into_iter().enumerate() {
        let (outcomes, stop, expected) = (Arc::clone(&outcomes), stop.clone(), expected.clone());
        let (mut url, other) = (
            url.clone(),
            if *url == a_url {
                b_url.clone()
            } else {
                a_url.clone()
            },
        );
        clients.push(tokio::spawn(async move {
            let mut client = SqlClient::connect(&url).await.unwrap();
            let mut i = n;
            while !stop.is_cancelled() {
                let query = i % LOAD.len();
                let sent = Instant::now();
                let answer = client.query(LOAD[query]).await.map(|b| pretty(&b));
                let failed = answer.is_err();
                if let Ok(answer) = &answer {
                    assert_eq!(answer, &expected[query], "a wrong answer from {url}");
                }
                outcomes.lock().push(Outcome {
                    coordinator: url.clone(),
                    sent,
                    answer,
                });
                if failed {
                    // The test client reconnects to the other coordinator
                    // and reruns there.
                    url = other.clone();
                    client = SqlClient::connect(&url)
                        .await
                        .expect("the survivor takes clients");
                    continue;
                }
                i += 1;
            }
        }));
    }
    // Long enough for a to write some of the load to the history.
    tokio::time::sleep(Duration::from_secs(6)).await;
    let killed = Instant::now();
    let _ = a.0.kill();
    let _ = a.0.wait();
    tokio::time::sleep(Duration::from_secs(6)).await;
    stop.cancel();
    for client in clients {
        client.await.expect("no wrong answer");
    }
    let outcomes = std::mem::take(&mut *outcomes.lock());
    let before = outcomes.iter().filter(|o| o.sent < killed).count();
    let survivor_after: Vec<&Outcome> = outcomes
        .iter()
        .filter(|o| o.coordinator == b_url && o.sent > killed)
        .collect();
    let failed_on_survivor: Vec<&&Outcome> = survivor_after
        .iter()
        .filter(|o| o.answer.is_err())
        .collect();
    assert!(
        failed_on_survivor.is_empty(),
        "queries sent to the survivor failed: {failed_on_survivor:?}"
    );
    let lost: Vec<&Outcome> = outcomes.iter().filter(|o| o.answer.is_err()).collect();
    for o in &lost {
        assert_eq!(
            o.coordinator, a_url,
            "only the killed coordinator's queries fail: {o:?}"
        );
    }
    eprintln!(
        "load: {} queries, {before} before the kill, {} answered by the survivor after it, {} lost with the killed coordinator ({:?})",
        outcomes.len(),
        survivor_after.len(),
        lost.len(),
        lost.iter()
            .map(|o| o
                .answer
                .as_ref()
                .unwrap_err()
                .chars()
                .take(120)
                .collect::<String>())
            .collect::<Vec<_>>()
    );
    assert!(
        survivor_after.len() >= 4,
        "the survivor kept answering: {}",
        survivor_after.len()
    );

    // The killed coordinator's tasks leave the workers; they serve b alone.
    let limit = Duration::from_secs(5);
    assert!(
        on_every_worker(&workers, "hayate_worker_tasks_running", 0.0, limit).await,
        "a worker still holds tasks after the load ended"
    );
    assert!(
        on_every_worker(&workers, "hayate_worker_coordinators", 1.0, limit).await,
        "a worker still counts the killed coordinator"
    );
    assert_eq!(gauge(&b_status, "hayate_workers_live").await, 3.0);

    // A coordinator started in a's place (as a replaced pod is, behind the
    // same name) has every table and view, the workers join it, and it
    // reads the history of both (b's, and what a wrote before it was
    // killed).
    let a_port = url::Url::parse(&a_url).unwrap().port().unwrap();
    let (mut c, c_url, _) =
        tokio::task::block_in_place(|| coordinator(&server, &logs.path().join("c.log"), a_port));
    let mut on_c = SqlClient::connect(&c_url).await.unwrap();
    assert_eq!(count(&mut on_c, views).await, Ok(100));
    assert!(
        on_every_worker(
            &workers,
            "hayate_worker_coordinators",
            2.0,
            Duration::from_secs(10)
        )
        .await,
        "every worker joins the new coordinator"
    );
    let answer = on_c.query(LOAD[1]).await.map(|b| pretty(&b));
    assert_eq!(answer.as_ref(), Ok(&expected[1]));
    let history = "SELECT count(DISTINCT coordinator) FROM system.query_history WHERE sql LIKE 'SELECT l_returnflag%'";
    assert!(
        eventually(Duration::from_secs(10), async || count(&mut on_c, history)
            .await
            == Ok(2))
        .await,
        "the history holds both coordinators' queries: {:?}",
        count(&mut on_c, history).await
    );

    // A coordinator stopped as a rolling update stops it (SIGTERM) finishes
    // the query it is running before it exits.
    let mut slow = SqlClient::connect(&c_url).await.unwrap();
    for setting in [
        "SET hayate.bytes_per_task = 1",
        "SET datafusion.execution.batch_size = 16",
    ] {
        slow.query(setting).await.unwrap();
    }
    let started = Instant::now();
    let running = tokio::spawn(async move { slow.query(LOAD[0]).await.map(|b| pretty(&b)) });
    tokio::time::sleep(Duration::from_millis(150)).await;
    c.sigterm();
    let answer = running.await.unwrap();
    let took = started.elapsed();
    assert_eq!(
        answer.as_ref(),
        Ok(&expected[0]),
        "the running query finishes"
    );
    let exited = tokio::task::block_in_place(|| c.0.wait()).unwrap();
    assert!(
        exited.success(),
        "a stopped coordinator exits cleanly: {exited}"
    );
    eprintln!("a query running when its coordinator got SIGTERM answered correctly after {took:?}");

    // The CLI given two addresses, the first dead, answers from the other.
    let dead = format!("http://127.0.0.1:{}", crate::cluster::free_port());
    let out = tokio::task::block_in_place(|| {
        Command::new(HAYATE)
            .args(["sql", "--coordinator", &format!("{dead},{b_url}")])
            .args(["-e", "SELECT count(*) AS n FROM nation"])
            .output()
            .unwrap()
    });
    assert!(
        out.status.success() && text(&out).contains("25"),
        "{}",
        text(&out)
    );
}

/// `hayate sql` given two coordinators: when the one running its statement
/// is killed, the statement fails as Unavailable naming it, and the next
/// statements go to the other, with the session's settings.
#[test]
fn the_cli_moves_to_another_coordinator_when_its_coordinator_is_lost() {
    let start = || {
        let mut cmd = Command::new(HAYATE);
        cmd.stderr(std::process::Stdio::null());
        crate::cluster::start_coordinator(&mut cmd, &[])
    };
    let (mut a, a_url) = start();
    let (_b, b_url) = start();
    // Runs in a's process alone (no file input, no worker) for seconds.
    let cli = Command::new(HAYATE)
        .args(["sql", "--coordinator", &format!("{a_url},{b_url}")])
        .args(["-e", "SET datafusion.execution.batch_size = 777"])
        .args(["-e", "SELECT count(*) FROM generate_series(1, 5000000000)"])
        .args(["-e", "SELECT 6 * 7 AS answer"])
        .args(["-e", "SHOW datafusion.execution.batch_size"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    let _ = a.0.kill();
    let _ = a.0.wait();
    let out = cli.wait_with_output().unwrap();
    let said = text(&out);
    assert!(!out.status.success(), "a statement failed: {said}");
    assert!(
        said.contains(&format!("Unavailable: lost the coordinator at {a_url}")),
        "{said}"
    );
    assert!(
        said.contains(&format!("Next statements go to the coordinator at {b_url}")),
        "{said}"
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("42"),
        "{said}"
    );
    // The session's settings moved with it.
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("777"),
        "{said}"
    );
}
