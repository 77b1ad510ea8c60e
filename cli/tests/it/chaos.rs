//! The chaos run: a cluster of two coordinators, three workers and the S3
//! server under a steady load from four clients, while one process after
//! another is killed (SIGKILL) and replaced: a worker, a coordinator, a
//! worker, the S3 server, the other coordinator, a worker. Every answer is
//! checked against single-node DataFusion. A query may fail only if it was
//! sent to a coordinator that was killed under it or before its client moved
//! on; no table, view or answer is lost otherwise. The numbers are printed.

use std::sync::Arc;
use std::time::{Duration, Instant};

use hayate_testkit::{S3Server, SqlClient, upload_dir};
use parking_lot::Mutex;

use crate::cluster::{Process, spawn_worker, tpch_dir};
use crate::high_availability::{
    LOAD, coordinator, count, env, eventually, expected, on_every_worker, pretty,
};

/// Between two kills.
const EVERY: Duration = Duration::from_secs(5);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Victim {
    Worker(usize),
    Coordinator(usize),
    S3,
}

/// One query of the load.
#[derive(Debug)]
struct Outcome {
    coordinator: String,
    sent: Instant,
    ended: Instant,
    error: Option<String>,
}

/// A killed process: what, when, and when its replacement was up.
#[derive(Debug)]
struct Kill {
    victim: Victim,
    at: Instant,
    replaced_after: Duration,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn chaos_run_kills_each_kind_of_process_by_turns_under_load() {
    let mut server = S3Server::start("hayate-chaos").await;
    upload_dir(server.store().as_ref(), tpch_dir().as_ref(), "tpch")
        .await
        .unwrap();
    let logs = tempfile::tempdir().unwrap();
    let log = |name: String| logs.path().join(name);
    let mut coordinators: Vec<(Process, String, String)> = (0..2)
        .map(|i| tokio::task::block_in_place(|| coordinator(&server, &log(format!("c{i}.log")), 0)))
        .collect();
    let urls: Vec<String> = coordinators.iter().map(|c| c.1.clone()).collect();
    let ports: Vec<u16> = urls
        .iter()
        .map(|u| url::Url::parse(u).unwrap().port().unwrap())
        .collect();
    let both = urls.join(",");
    let worker_env = env(&server);
    let worker_env: Vec<(&str, &str)> = worker_env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let start_worker =
        || tokio::task::block_in_place(|| spawn_worker(&both, &[], None, &worker_env));
    let mut workers: Vec<(Process, String, String)> = (0..3).map(|_| start_worker()).collect();
    let serve_both = async |workers: &[(Process, String, String)]| {
        on_every_worker(
            workers,
            "hayate_worker_coordinators",
            2.0,
            Duration::from_secs(15),
        )
        .await
    };
    assert!(
        serve_both(&workers).await,
        "every worker serves both coordinators"
    );
    let mut setup = SqlClient::connect(&urls[0]).await.unwrap();
    for ddl in hayate_tpch::create_table_statements("s3://hayate-chaos/tpch") {
        setup.query(&ddl).await.expect("tables");
    }
    setup
        .query("CREATE VIEW big_nations AS SELECT n_name FROM nation WHERE n_nationkey > 20")
        .await
        .unwrap();
    // The other coordinator follows the catalog within its poll.
    for url in &urls {
        let mut client = SqlClient::connect(url).await.unwrap();
        assert!(
            eventually(Duration::from_secs(3), async || {
                count(&mut client, "SELECT count(*) FROM big_nations").await == Ok(4)
            })
            .await
        );
    }
    let expected = expected().await;

    // Four clients, two starting on each coordinator; a client whose query
    // fails moves to the other coordinator and goes on.
    let outcomes: Arc<Mutex<Vec<Outcome>>> = Arc::default();
    let stop = tokio_util::sync::CancellationToken::new();
    let mut clients = Vec::new();
    for n in 0..4 {
        let (outcomes, stop, expected, urls) = (
            Arc::clone(&outcomes),
            stop.clone(),
            expected.clone(),
            urls.clone(),
        );
        clients.push(tokio::spawn(async move {
            let mut at = n % 2;
            let mut client = None;
            let mut i = n;
            while !stop.is_cancelled() {
                let sent = Instant::now();
                let c = match client.take() {
                    Some(c) => Ok(c),
                    None => SqlClient::connect(&urls[at]).await,
                };
                let answer = match c {
                    Ok(mut c) => {
                        let answer = c.query(LOAD[i % LOAD.len()]).await.map(|b| pretty(&b));
                        client = Some(c);
                        answer
                    }
                    Err(e) => Err(e),
                };
                if let Ok(answer) = &answer {
                    assert_eq!(
                        answer,
                        &expected[i % LOAD.len()],
                        "a wrong answer from {}",
                        urls[at]
                    );
                    i += 1;
                }
                let error = answer.err();
                outcomes.lock().push(Outcome {
                    coordinator: urls[at].clone(),
                    sent,
                    ended: Instant::now(),
                    error: error.clone(),
                });
                if error.is_some() {
                    // Reconnect to the other coordinator and rerun there.
                    at = (at + 1) % urls.len();
                    client = None;
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }));
    }

    let schedule = [
        Victim::Worker(0),
        Victim::Coordinator(0),
        Victim::Worker(1),
        Victim::S3,
        Victim::Coordinator(1),
        Victim::Worker(2),
    ];
    let began = Instant::now();
    let mut kills = Vec::new();
    for victim in schedule {
        tokio::time::sleep(EVERY).await;
        let at = Instant::now();
        match victim {
            Victim::Worker(i) => {
                let _ = workers[i].0.0.kill();
                let _ = workers[i].0.0.wait();
                workers[i] = start_worker();
            }
            Victim::Coordinator(i) => {
                let _ = coordinators[i].0.0.kill();
                let _ = coordinators[i].0.0.wait();
                // Replaced at the same address, as a pod behind its name.
                coordinators[i] = tokio::task::block_in_place(|| {
                    coordinator(&server, &log(format!("c{i}-again.log")), ports[i])
                });
            }
            Victim::S3 => server.restart().await.expect("the S3 server comes back"),
        }
        kills.push(Kill {
            victim,
            at,
            replaced_after: at.elapsed(),
        });
    }
    tokio::time::sleep(EVERY).await;
    stop.cancel();
    for client in clients {
        client.await.expect("every answer was right");
    }
    let run = began.elapsed();
    let outcomes = std::mem::take(&mut *outcomes.lock());

    // A failure is allowed only for a query sent to a coordinator that was
    // killed while it ran, or to its address before the replacement was up.
    let excused = |o: &Outcome| {
        kills.iter().any(|k| match k.victim {
            Victim::Coordinator(i) => {
                o.coordinator == urls[i] && o.sent <= k.at + k.replaced_after && o.ended >= k.at
            }
            _ => false,
        })
    };
    let failed: Vec<&Outcome> = outcomes.iter().filter(|o| o.error.is_some()).collect();
    let unexcused: Vec<&&Outcome> = failed.iter().filter(|o| !excused(o)).collect();
    let answered = outcomes.len() - failed.len();
    // The longest time no query of the load was answered.
    let mut ends: Vec<Instant> = outcomes
        .iter()
        .filter(|o| o.error.is_none())
        .map(|o| o.ended)
        .collect();
    ends.sort();
    let longest_gap = ends
        .windows(2)
        .map(|w| w[1] - w[0])
        .max()
        .unwrap_or_default();
    eprintln!(
        "chaos run: {:.0}s, {} kills ({}), {} queries: {answered} answered correctly, {} failed \
         (all sent to a killed coordinator: {}), longest time without an answer {:.2}s",
        run.as_secs_f64(),
        kills.len(),
        kills
            .iter()
            .map(|k| format!(
                "{:?} replaced in {:.1}s",
                k.victim,
                k.replaced_after.as_secs_f64()
            ))
            .collect::<Vec<_>>()
            .join(", "),
        outcomes.len(),
        failed.len(),
        unexcused.is_empty(),
        longest_gap.as_secs_f64(),
    );
    assert!(
        unexcused.is_empty(),
        "queries failed that no killed coordinator was serving: {:?}",
        unexcused
            .iter()
            .map(|o| (&o.coordinator, o.sent - began, &o.error))
            .collect::<Vec<_>>()
    );
    assert!(answered >= 20, "the load kept being answered: {answered}");

    // Nothing of the catalog was lost: both (replaced) coordinators have
    // every table and the view; the workers hold no task and serve both.
    for url in &urls {
        let mut client = SqlClient::connect(url).await.unwrap();
        assert_eq!(
            count(&mut client, "SELECT count(*) FROM big_nations").await,
            Ok(4)
        );
        let tables = "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'";
        assert_eq!(count(&mut client, tables).await, Ok(9));
    }
    assert!(
        on_every_worker(
            &workers,
            "hayate_worker_tasks_running",
            0.0,
            Duration::from_secs(10)
        )
        .await,
        "a worker still holds tasks"
    );
    assert!(
        serve_both(&workers).await,
        "a worker does not serve both coordinators"
    );
}
