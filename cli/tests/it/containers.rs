//! The Hayate image and the compose cluster as users run them: the image is
//! built from local files (`docker/build-image`), `docker/compose.yaml`
//! starts an S3 server, the sample-data loader, two coordinators sharing a
//! catalog and two workers, and a Flight SQL client on the host queries
//! it. Then the cluster is disturbed as an orchestrator disturbs it: a
//! worker container is killed mid-query, workers are added, a worker is
//! stopped with SIGTERM under a steady query load, and a coordinator
//! container is killed under load and replaced. Every answer is checked
//! against single-node DataFusion on the same data.
//!
//! Where no Docker engine answers, the test says so and passes: it needs
//! the engine, not the code under test.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hayate_testkit::{SqlClient, http_get, metric, try_http_get};

use crate::cluster::tpch_dir;
use crate::processes::HAYATE;

/// A compose project started for this test and torn down (containers,
/// network, volume) when it is dropped, however the test ends.
struct Compose {
    /// `docker compose` or `docker-compose`.
    program: Vec<String>,
    project: String,
    file: PathBuf,
    env: Vec<(String, String)>,
    /// Images built for the test, removed with the project.
    images: Vec<String>,
}

impl Compose {
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.program[0]);
        cmd.args(&self.program[1..])
            .args(["-p", &self.project, "-f"])
            .arg(&self.file)
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        let out = self.command(args).output().expect("compose runs");
        assert!(
            out.status.success(),
            "compose {args:?} failed: {}",
            text(&out)
        );
        out
    }

    /// The host address (`127.0.0.1:port`) that `service`'s `port` is
    /// published on.
    fn published(&self, service: &str, port: u16) -> String {
        let out = self.run(&["port", service, &port.to_string()]);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }

    /// Running containers of `service`.
    fn containers(&self, service: &str) -> Vec<String> {
        let out = docker(&[
            "ps",
            "-q",
            "--filter",
            &format!("label=com.docker.compose.project={}", self.project),
            "--filter",
            &format!("label=com.docker.compose.service={service}"),
        ]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    }
}

impl Drop for Compose {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let logs = self
                .command(&["logs", "--no-color", "--tail", "40"])
                .output();
            if let Ok(logs) = logs {
                eprintln!("{}", String::from_utf8_lossy(&logs.stdout));
            }
        }
        let _ = self
            .command(&["down", "-v", "--remove-orphans", "--timeout", "5"])
            .output();
        for image in &self.images {
            let _ = docker(&["rmi", "-f", image]);
        }
    }
}

fn docker(args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .output()
        .expect("docker runs")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The compose program, if a Docker engine answers and compose exists.
fn compose_program() -> Option<Vec<String>> {
    let engine = Command::new("docker").arg("info").output();
    if !engine.is_ok_and(|o| o.status.success()) {
        return None;
    }
    let ok = |program: &str, args: &[&str]| {
        Command::new(program)
            .args(args)
            .output()
            .is_ok_and(|o| o.status.success())
    };
    if ok("docker", &["compose", "version"]) {
        Some(vec!["docker".into(), "compose".into()])
    } else if ok("docker-compose", &["version"]) {
        Some(vec!["docker-compose".into()])
    } else {
        None
    }
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Small batches and a task per file, so that queries last long enough in
/// a debug build for a container to die under them.
const SPREAD_AND_SLOW: [&str; 2] = [
    "SET hayate.bytes_per_task = 1",
    "SET datafusion.execution.batch_size = 64",
];

async fn session(url: &str) -> SqlClient {
    let mut client = SqlClient::connect(url).await.expect("connect");
    for s in SPREAD_AND_SLOW {
        client.update(s).await.expect("setting applies");
    }
    client
}

/// Runs TPC-H query `q` and checks it against DataFusion's answer.
async fn checked(client: &mut SqlClient, q: usize) -> Result<(), String> {
    let expected = hayate_tpch::reference_answer(tpch_dir(), q, 2)
        .await
        .map_err(|e| e.to_string())?;
    let got = client.query(hayate_tpch::query(q)).await?;
    hayate_tpch::compare_results(&expected, &got, hayate_tpch::is_ordered(q))
        .map_err(|e| format!("q{q}: {e}"))
}

/// Tasks each worker (by address) has accepted, from the coordinator's
/// metrics.
async fn tasks_by_worker(status: &str) -> Vec<(String, f64)> {
    let page = http_get(&format!("{status}/metrics")).await.1;
    page.lines()
        .filter_map(|line| {
            let rest = line.strip_prefix("hayate_worker_tasks_launched_total{worker=\"")?;
            let (address, value) = rest.split_once("\"} ")?;
            Some((address.to_string(), value.parse().ok()?))
        })
        .collect()
}

/// Waits up to two minutes until the coordinator at `url` (status page
/// `status`) has `workers` live workers and answers `sql`.
async fn answers_with_workers(url: &str, status: &str, workers: f64, sql: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(120);
    while Instant::now() < deadline {
        let answered = async {
            // The published port may accept before the coordinator listens.
            let (_, page) = try_http_get(&format!("{status}/metrics")).await?;
            if metric(&page, "hayate_workers_live", "") < workers {
                return None;
            }
            let mut client = SqlClient::connect(url).await.ok()?;
            client.query(sql).await.ok()
        };
        if tokio::time::timeout(Duration::from_secs(5), answered)
            .await
            .ok()
            .flatten()
            .is_some()
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn compose_cluster_answers_through_kills_scale_out_and_drain() {
    let Some(program) = compose_program() else {
        eprintln!("SKIPPED: no Docker engine with compose here");
        return;
    };
    let pid = std::process::id();
    let (image, s3_image) = (
        format!("hayate:test-{pid}"),
        format!("hayate-s3:test-{pid}"),
    );
    let compose = Compose {
        program,
        project: format!("hayateit{pid}"),
        file: repo().join("docker/compose.yaml"),
        env: vec![
            ("HAYATE_IMAGE".into(), image.clone()),
            ("HAYATE_S3_IMAGE".into(), s3_image.clone()),
            // Host ports Docker picks: one chosen ahead could be taken
            // while the images build.
            ("HAYATE_HOST_PORT".into(), "0".into()),
            ("HAYATE_STATUS_HOST_PORT".into(), "0".into()),
            ("HAYATE_HOST_PORT_2".into(), "0".into()),
            ("HAYATE_STATUS_HOST_PORT_2".into(), "0".into()),
        ],
        images: vec![image.clone(), s3_image.clone()],
    };
    let build = Command::new(repo().join("docker/build-image"))
        .args(["--binary", HAYATE, "--tag", &image, "--s3-tag", &s3_image])
        .output()
        .expect("build-image runs");
    assert!(build.status.success(), "image build: {}", text(&build));
    eprintln!("{}", String::from_utf8_lossy(&build.stdout).trim());

    let started = Instant::now();
    compose.run(&["up", "-d", "--build"]);
    let url = format!("http://{}", compose.published("coordinator", 50051));
    let status = format!("http://{}", compose.published("coordinator", 8080));

    // Ready when both workers have registered and the sample tables answer.
    assert!(
        answers_with_workers(&url, &status, 2.0, "SELECT count(*) FROM nation").await,
        "the compose cluster never became ready"
    );
    eprintln!(
        "compose cluster ready in {:.1}s",
        started.elapsed().as_secs_f64()
    );
    // Docker's own health checks (`hayate probe .../readyz` inside the
    // containers) agree.
    let deadline = Instant::now() + Duration::from_secs(60);
    for service in ["coordinator", "worker"] {
        for container in compose.containers(service) {
            loop {
                let health = docker(&["inspect", "-f", "{{.State.Health.Status}}", &container]);
                let health = String::from_utf8_lossy(&health.stdout).trim().to_string();
                if health == "healthy" {
                    break;
                }
                assert!(Instant::now() < deadline, "{service} is {health}");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
        }
    }
    eprintln!(
        "docker health checks healthy after {:.1}s",
        started.elapsed().as_secs_f64()
    );

    // Every TPC-H query through the containers.
    let mut client = session(&url).await;
    for q in 1..=22 {
        checked(&mut client, q)
            .await
            .expect("TPC-H answer equals DataFusion's");
    }

    // A worker container killed (SIGKILL) half-way through q9.
    let q = 9;
    let healthy = {
        let t = Instant::now();
        client
            .query(hayate_tpch::query(q))
            .await
            .expect("healthy q9");
        t.elapsed()
    };
    let expected = hayate_tpch::reference_answer(tpch_dir(), q, 2)
        .await
        .expect("DataFusion answers");
    let run = tokio::spawn(async move {
        let answer = client.query_with_stats(hayate_tpch::query(q)).await;
        (client, answer)
    });
    tokio::time::sleep(healthy / 2).await;
    let mid_query = !run.is_finished();
    let killed = compose.containers("worker")[0].clone();
    docker(&["kill", &killed]);
    let (mut client, answer) = run.await.expect("query task");
    let (got, stats) = answer.expect("q9 answers after a worker container is killed");
    hayate_tpch::compare_results(&expected, &got, hayate_tpch::is_ordered(q))
        .expect("q9 answers correctly after a worker container is killed");
    eprintln!(
        "q9 with a worker killed {}: correct, {} run(s), lost {:?}",
        if mid_query {
            "mid-query"
        } else {
            "after it ended"
        },
        stats.attempts,
        stats.lost_workers
    );
    // Replaced, never repaired: the dead container is removed.
    docker(&["rm", "-f", &killed]);

    // Scale out: two new workers join (three in all) and get tasks.
    let before: BTreeSet<String> = tasks_by_worker(&status)
        .await
        .into_iter()
        .map(|(a, _)| a)
        .collect();
    let coordinator = compose.containers("coordinator");
    compose.run(&["up", "-d", "--no-recreate", "--scale", "worker=3"]);
    let scaled = Instant::now();
    // Scaling replaced nothing, and the loader that compose started again
    // found the sample data complete and rewrote nothing under the queries.
    assert_eq!(compose.containers("coordinator"), coordinator);
    let loader = text(&compose.run(&["logs", "--no-color", "loader"]));
    assert!(
        loader.contains("Sample data ready") && loader.contains("already complete"),
        "{loader}"
    );
    let mut first_task = None;
    while scaled.elapsed() < Duration::from_secs(60) {
        client
            .query(hayate_tpch::query(3))
            .await
            .expect("q3 while scaling");
        let new: Vec<f64> = tasks_by_worker(&status)
            .await
            .into_iter()
            .filter(|(a, _)| !before.contains(a))
            .map(|(_, n)| n)
            .collect();
        if first_task.is_none() && new.iter().any(|&n| n > 0.0) {
            first_task = Some(scaled.elapsed());
        }
        if new.len() == 2 && new.iter().all(|&n| n > 0.0) {
            break;
        }
    }
    let first_task = first_task.expect("a new worker got tasks");
    eprintln!(
        "a new worker ran its first task {:.1}s after `up --scale` returned",
        first_task.as_secs_f64()
    );
    let page = http_get(&format!("{status}/metrics")).await.1;
    assert_eq!(metric(&page, "hayate_workers_live", ""), 3.0, "{page}");

    // Scale in under a steady load: two clients keep querying while one
    // worker is stopped with SIGTERM (as a kubelet stops a pod), then
    // compose scales the workers down to one; not one query may fail.
    let stop = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicUsize::new(0));
    let mut load = Vec::new();
    for i in 0..2 {
        let (stop, answered) = (Arc::clone(&stop), Arc::clone(&answered));
        let mut client = session(&url).await;
        load.push(tokio::spawn(async move {
            let queries = [3usize, 5, 10, 12, 1, 6];
            let mut n = i;
            while !stop.load(Ordering::Relaxed) {
                checked(&mut client, queries[n % queries.len()]).await?;
                answered.fetch_add(1, Ordering::Relaxed);
                n += 1;
            }
            Ok::<_, String>(())
        }));
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let stopped = compose.containers("worker")[0].clone();
    let stop_started = Instant::now();
    let out = docker(&["stop", "--time", "40", &stopped]);
    assert!(out.status.success(), "docker stop: {}", text(&out));
    let drained_in = stop_started.elapsed();
    let exit = docker(&["inspect", "-f", "{{.State.ExitCode}}", &stopped]);
    assert_eq!(
        String::from_utf8_lossy(&exit.stdout).trim(),
        "0",
        "a drained worker exits cleanly"
    );
    let logs = text(&docker(&["logs", &stopped]));
    let drain_line = logs
        .lines()
        .find(|l| l.contains("draining"))
        .unwrap_or_else(|| panic!("the worker logged no drain: {logs}"));
    assert!(logs.contains("drained"), "{logs}");
    docker(&["rm", "-f", &stopped]);
    let after_stop = answered.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(1)).await;
    compose.run(&["up", "-d", "--no-recreate", "--scale", "worker=1"]);
    assert_eq!(compose.containers("worker").len(), 1);
    tokio::time::sleep(Duration::from_secs(2)).await;
    stop.store(true, Ordering::Relaxed);
    for client in load {
        client
            .await
            .expect("load task")
            .expect("no query fails while workers drain");
    }
    eprintln!(
        "steady load: {} queries answered correctly ({after_stop} by the end of a SIGTERM, \
         the rest through a scale-down to one worker); the stopped worker drained and \
         exited in {:.1}s: {drain_line}",
        answered.load(Ordering::Relaxed),
        drained_in.as_secs_f64()
    );
    let page = http_get(&format!("{status}/metrics")).await.1;
    assert_eq!(
        metric(&page, "hayate_queries_failed_total", ""),
        0.0,
        "{page}"
    );
    assert_eq!(metric(&page, "hayate_workers_live", ""), 1.0, "{page}");

    coordinator_lost_and_replaced(&compose, &url, &status).await;

    let size = docker(&["image", "inspect", "-f", "{{.Size}}", &image]);
    eprintln!(
        "image {image} is {} bytes (from a debug build)",
        String::from_utf8_lossy(&size.stdout).trim()
    );
}

/// The second coordinator: a view created through it reaches the first; it
/// is killed (SIGKILL) while clients of both run queries: every query sent
/// to the survivor answers correctly and the workers end up holding no
/// task; then a new container takes its place, comes up with the view, and
/// the workers join it.
async fn coordinator_lost_and_replaced(compose: &Compose, url: &str, status: &str) {
    let second = |port| format!("http://{}", compose.published("coordinator-2", port));
    let (url2, status2) = (second(50051), second(8080));
    let live = async |status: &str| {
        let page = http_get(&format!("{status}/metrics")).await.1;
        metric(&page, "hayate_workers_live", "")
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while live(&status2).await < 1.0 {
        assert!(Instant::now() < deadline, "no worker joined coordinator-2");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let mut on_second = session(&url2).await;
    on_second
        .update("CREATE OR REPLACE VIEW nations AS SELECT count(*) AS n FROM nation")
        .await
        .expect("a view through coordinator-2");
    let mut on_first = session(url).await;
    let mut seen = false;
    for _ in 0..30 {
        if let Ok(rows) = on_first.query("SELECT n FROM nations").await
            && datafusion::arrow::util::pretty::pretty_format_batches(&rows)
                .map(|t| t.to_string().contains("25"))
                .unwrap_or(false)
        {
            seen = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        seen,
        "coordinator 1 never saw the view made through coordinator-2"
    );

    // Load on both; coordinator-2 is killed under it.
    let stop = Arc::new(AtomicBool::new(false));
    let mut load = Vec::new();
    for (i, target) in [url, url2.as_str(), url].into_iter().enumerate() {
        let (stop, target) = (Arc::clone(&stop), target.to_string());
        let mut client = session(&target).await;
        load.push(tokio::spawn(async move {
            let queries = [3usize, 5, 10, 1];
            let (mut answered, mut failed) = (0, 0);
            let mut n = i;
            while !stop.load(Ordering::Relaxed) {
                let q = queries[n % queries.len()];
                let expected = hayate_tpch::reference_answer(tpch_dir(), q, 2)
                    .await
                    .expect("DataFusion answers");
                match client.query(hayate_tpch::query(q)).await {
                    Ok(got) => {
                        hayate_tpch::compare_results(&expected, &got, hayate_tpch::is_ordered(q))
                            .unwrap_or_else(|e| panic!("q{q} from {target}: {e}"));
                        answered += 1;
                    }
                    Err(_) => {
                        failed += 1;
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                }
                n += 1;
            }
            (target, answered, failed)
        }));
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let killed = compose.containers("coordinator-2")[0].clone();
    docker(&["kill", &killed]);
    tokio::time::sleep(Duration::from_secs(5)).await;
    stop.store(true, Ordering::Relaxed);
    let mut lines = Vec::new();
    for client in load {
        let (target, answered, failed) = client.await.expect("no wrong answer");
        if target == url {
            assert_eq!(
                failed, 0,
                "a query sent to the surviving coordinator failed"
            );
            assert!(answered > 0);
        }
        lines.push(format!("{target}: {answered} answered, {failed} failed"));
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let page = http_get(&format!("{status}/metrics")).await.1;
        if metric(&page, "hayate_worker_tasks_running", "") == 0.0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "workers still hold tasks after the load ended: {page}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    eprintln!("coordinator-2 killed under load: {}", lines.join("; "));

    // Replaced, not repaired: a new container, with every table and view.
    docker(&["rm", "-f", &killed]);
    compose.run(&["up", "-d", "--no-recreate", "coordinator-2"]);
    let replaced = Instant::now();
    let (url2, status2) = (second(50051), second(8080));
    assert!(
        answers_with_workers(&url2, &status2, 1.0, "SELECT n FROM nations").await,
        "the new coordinator-2 never answered"
    );
    let mut on_new = session(&url2).await;
    checked(&mut on_new, 3)
        .await
        .expect("the new coordinator answers as DataFusion does");
    eprintln!(
        "a new coordinator-2 answered with the shared catalog {:.1}s after it was started",
        replaced.elapsed().as_secs_f64()
    );
}
