//! Chaos run: clients run TPC-H queries against real `hayate` processes
//! while a worker is killed with SIGKILL (a crash) or stopped with SIGTERM
//! (a scale-down: it drains, then exits) every few seconds, and replaced,
//! as a Deployment would. Every answer is checked against single-node
//! DataFusion. Reports the success rate, the errors, and the latency hit
//! against a healthy phase of the same length in the same run.
//!
//! `cargo run --release -p hayate-benches --bin chaos -- --hayate target/release/hayate`

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;
use datafusion::arrow::record_batch::RecordBatch;
use hayate_benches::stats::median;
use hayate_testkit::{SqlClient, spawn_announced};
use parking_lot::Mutex;

#[derive(Parser, Debug)]
struct Args {
    /// The `hayate` binary to run.
    #[arg(long, default_value = "target/release/hayate")]
    hayate: PathBuf,
    #[arg(long, default_value_t = 0.01)]
    sf: f64,
    #[arg(long, default_value = "/tmp/hayate-chaos")]
    data: PathBuf,
    #[arg(long, default_value_t = 3)]
    workers: usize,
    #[arg(long, default_value_t = 2)]
    clients: usize,
    /// Length of each phase (healthy, then chaos).
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    #[arg(long, default_value_t = 5)]
    kill_every_secs: u64,
    /// How a worker goes: `kill` (SIGKILL, a crash) or `term` (SIGTERM, a
    /// drain as in a scale-down).
    #[arg(long, value_enum, default_value_t = StopWith::Kill)]
    stop_with: StopWith,
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq)]
enum StopWith {
    Kill,
    Term,
}

struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `bin` with `args`; its log goes to `HAYATE_CHAOS_LOG` when that is set.
fn command(bin: &PathBuf, args: &[&str]) -> Command {
    let mut cmd = Command::new(bin);
    cmd.args(args)
        .stdout(Stdio::null())
        .stderr(match std::env::var_os("HAYATE_CHAOS_LOG") {
            Some(path) => std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map(Stdio::from)
                .unwrap_or(Stdio::null()),
            None => Stdio::null(),
        });
    cmd
}

fn spawn(bin: &PathBuf, args: &[&str]) -> Proc {
    Proc(command(bin, args).spawn().expect("hayate starts"))
}

fn worker(bin: &PathBuf, url: &str) -> Proc {
    spawn(
        bin,
        &[
            "worker",
            "--coordinator",
            url,
            "--bind",
            "127.0.0.1",
            "--port",
            "0",
        ],
    )
}

#[derive(Default)]
struct Outcomes {
    latencies: Vec<Duration>,
    correct: usize,
    retried: usize,
    wrong: Vec<String>,
    errors: HashMap<String, usize>,
}

async fn run_clients(
    args: &Args,
    url: &str,
    expected: &Arc<HashMap<usize, Vec<RecordBatch>>>,
    stop: Arc<AtomicBool>,
) -> Outcomes {
    let outcomes = Arc::new(Mutex::new(Outcomes::default()));
    let clients = (0..args.clients).map(|c| {
        let (url, expected, stop, outcomes) = (
            url.to_string(),
            Arc::clone(expected),
            Arc::clone(&stop),
            Arc::clone(&outcomes),
        );
        tokio::spawn(async move {
            let mut client = SqlClient::connect(&url).await.expect("connect");
            client
                .update("SET hayate.bytes_per_task = 1")
                .await
                .expect("set");
            let mut q = 1 + c * 7;
            while !stop.load(Ordering::Relaxed) {
                let n = (q - 1) % 22 + 1;
                q += 1;
                let started = Instant::now();
                let answer = client.query_with_stats(hayate_tpch::query(n)).await;
                let took = started.elapsed();
                let mut o = outcomes.lock();
                match answer {
                    Ok((batches, stats)) => {
                        match hayate_tpch::compare_results(
                            &expected[&n],
                            &batches,
                            hayate_tpch::is_ordered(n),
                        ) {
                            Ok(()) => {
                                o.correct += 1;
                                o.latencies.push(took);
                                if stats.attempts > 1 {
                                    o.retried += 1;
                                }
                            }
                            Err(diff) => o.wrong.push(format!("q{n}: {diff}")),
                        }
                    }
                    Err(e) => {
                        let short: String = e.chars().take(160).collect();
                        *o.errors.entry(format!("q{n}: {short}")).or_default() += 1;
                    }
                }
            }
        })
    });
    let clients: Vec<_> = clients.collect();
    for c in clients {
        c.await.expect("client");
    }
    Arc::try_unwrap(outcomes)
        .ok()
        .expect("clients done")
        .into_inner()
}

fn report(name: &str, o: &Outcomes) {
    let total = o.correct + o.wrong.len() + o.errors.values().sum::<usize>();
    let mut sorted = o.latencies.clone();
    sorted.sort();
    let p95 = sorted
        .get(sorted.len() * 95 / 100)
        .copied()
        .unwrap_or_default();
    println!(
        "{name}: {total} queries, {} correct ({:.1}%), {} ran again after a worker loss, {} wrong, {} errors; latency median {:?}, p95 {:?}",
        o.correct,
        100.0 * o.correct as f64 / total.max(1) as f64,
        o.retried,
        o.wrong.len(),
        o.errors.values().sum::<usize>(),
        if o.latencies.is_empty() {
            Duration::ZERO
        } else {
            median(o.latencies.clone())
        },
        p95,
    );
    for w in &o.wrong {
        println!("  WRONG {w}");
    }
    for (e, n) in &o.errors {
        println!("  {n} x {e}");
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    std::fs::create_dir_all(&args.data)?;
    let base = hayate_tpch::generate_dir(&args.data, args.sf)?;
    let mut expected = HashMap::new();
    for q in 1..=22 {
        expected.insert(q, hayate_tpch::reference_answer(&base, q, 2).await?);
    }
    let expected = Arc::new(expected);

    // The coordinator picks its own port and says which.
    let (coordinator, urls) = spawn_announced(
        &mut command(
            &args.hayate,
            &[
                "coordinator",
                "--bind",
                "127.0.0.1",
                "--status-port",
                "0",
                "--port",
                "0",
                "--heartbeat-ms",
                "500",
                "--worker-timeout-ms",
                "3000",
            ],
        ),
        &["coordinator listening"],
        Duration::from_secs(60),
    )
    .map_err(anyhow::Error::msg)?;
    let _coordinator = Proc(coordinator);
    let url = urls[0].clone();
    let workers = Arc::new(Mutex::new(
        (0..args.workers)
            .map(|_| worker(&args.hayate, &url))
            .collect::<Vec<_>>(),
    ));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut setup = SqlClient::connect(&url).await.map_err(anyhow::Error::msg)?;
    for ddl in hayate_tpch::create_table_statements(&base) {
        setup.update(&ddl).await.map_err(anyhow::Error::msg)?;
    }

    let phase = Duration::from_secs(args.seconds);
    let stop = Arc::new(AtomicBool::new(false));
    let timer = {
        let stop = Arc::clone(&stop);
        tokio::spawn(async move {
            tokio::time::sleep(phase).await;
            stop.store(true, Ordering::Relaxed);
        })
    };
    let healthy = run_clients(&args, &url, &expected, stop).await;
    timer.await?;

    let stop = Arc::new(AtomicBool::new(false));
    let killer = {
        let (stop, workers, bin, url) = (
            Arc::clone(&stop),
            Arc::clone(&workers),
            args.hayate.clone(),
            url.clone(),
        );
        let every = Duration::from_secs(args.kill_every_secs);
        let stop_with = args.stop_with;
        tokio::spawn(async move {
            let started = Instant::now();
            let mut kills = 0usize;
            // Workers told to stop with SIGTERM, draining until they exit.
            let mut retiring = Vec::new();
            while started.elapsed() < phase {
                tokio::time::sleep(every).await;
                let mut w = workers.lock();
                let index = kills % w.len();
                let victim = w.remove(index);
                match stop_with {
                    StopWith::Kill => drop(victim),
                    StopWith::Term => {
                        let _ = Command::new("kill")
                            .args(["-TERM", &victim.0.id().to_string()])
                            .status();
                        retiring.push(victim);
                    }
                }
                w.push(worker(&bin, &url));
                kills += 1;
            }
            stop.store(true, Ordering::Relaxed);
            // Let draining workers finish and exit rather than kill them.
            let deadline = Instant::now() + Duration::from_secs(40);
            for mut w in retiring {
                while w.0.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
            kills
        })
    };
    let chaos = run_clients(&args, &url, &expected, stop).await;
    let kills = killer.await?;

    println!(
        "chaos run: {} workers, {} clients, {}s per phase, a worker stopped with {} every {}s ({kills} stops), TPC-H SF {}",
        args.workers,
        args.clients,
        args.seconds,
        match args.stop_with {
            StopWith::Kill => "SIGKILL",
            StopWith::Term => "SIGTERM",
        },
        args.kill_every_secs,
        args.sf
    );
    report("healthy", &healthy);
    report("chaos  ", &chaos);
    Ok(())
}
