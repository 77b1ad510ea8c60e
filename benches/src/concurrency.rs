//! Throughput under concurrency: several clients run a mix of small queries
//! (the log suite and small TPC-H queries) for a fixed time against 1, 2 and
//! 3 workers, each worker pinned to one core, so that the queries per second
//! show what another worker buys. Every answer is checked against
//! single-node DataFusion's. The coordinator's and the clients' CPU is
//! reported apart from the workers'.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use datafusion::arrow::record_batch::RecordBatch;
use parking_lot::Mutex;
use serde::Serialize;

use crate::cluster::{Hayate, Layout};
use crate::engine::DataFusion;
use crate::process::Meter;
use crate::stats::{median, ms};
use crate::workload::{Query, Workload};

#[derive(Serialize, Clone, Debug)]
pub struct ConcurrencyResult {
    pub workers: usize,
    pub clients: usize,
    pub seconds: f64,
    pub queries: usize,
    pub qps: f64,
    pub median_latency_ms: f64,
    pub wrong: Vec<String>,
    pub errors: Vec<String>,
    /// CPU seconds over the window: the coordinator, each worker, and the
    /// benchmark process (the clients).
    pub cpu_by_process: Vec<(String, f64)>,
    pub clients_cpu_s: f64,
}

impl ConcurrencyResult {
    /// Queries per second if the busiest worker had its core to itself:
    /// queries over that worker's CPU-seconds. On a machine with as many
    /// cores as workers the coordinator and the clients take their CPU from
    /// the workers' cores; this is the rate the workers alone sustain, what
    /// workers on machines of their own would give.
    pub fn worker_bound_qps(&self) -> Option<f64> {
        let busiest = self
            .cpu_by_process
            .iter()
            .filter(|(role, _)| role.starts_with("worker"))
            .map(|(_, s)| *s)
            .max_by(f64::total_cmp)?;
        (busiest > 0.0).then(|| self.queries as f64 / busiest)
    }

    /// CPU-seconds of the coordinator.
    pub fn coordinator_cpu_s(&self) -> f64 {
        self.cpu_by_process
            .iter()
            .filter(|(role, _)| role == "coordinator")
            .map(|(_, s)| *s)
            .sum()
    }
}

#[derive(Default)]
struct Tally {
    latencies: Vec<Duration>,
    wrong: Vec<String>,
    errors: Vec<String>,
}

/// Runs the mix of `workloads` with `clients` clients for `seconds` on
/// each worker count of `worker_counts`.
pub async fn measure(
    bin: &Path,
    workloads: &[&Workload],
    settings: &[String],
    worker_counts: &[usize],
    clients: usize,
    seconds: u64,
) -> anyhow::Result<Vec<ConcurrencyResult>> {
    // Every query of the mix with its expected answer.
    let mut mix: Vec<(Query, Arc<Vec<RecordBatch>>)> = Vec::new();
    let mut setup = settings.to_vec();
    for workload in workloads {
        let df = DataFusion::new(settings, &workload.stores, &workload.datafusion_tables).await?;
        for q in &workload.queries {
            let expected = df.ctx.sql(&q.sql).await?.collect().await?;
            mix.push((q.clone(), Arc::new(expected)));
        }
        setup.extend(workload.hayate_tables.iter().cloned());
    }
    let mix = Arc::new(mix);
    let mut results = Vec::new();
    for &workers in worker_counts {
        let hayate = Hayate::start(bin, Layout::Processes { workers, pin: true }).await?;
        let mut sessions = Vec::new();
        for _ in 0..clients {
            sessions.push(hayate.client(&setup).await?);
        }
        // One pass of the mix warms caches (listings, footers).
        for (q, _) in mix.iter() {
            sessions[0]
                .query(&q.sql)
                .await
                .map_err(anyhow::Error::msg)?;
        }
        let meter = Meter::new(
            hayate
                .meter()
                .processes
                .into_iter()
                .chain([("clients".to_string(), std::process::id())])
                .collect(),
        );
        let stop = Arc::new(AtomicBool::new(false));
        let tally = Arc::new(Mutex::new(Tally::default()));
        let started = meter.start();
        let clock = Instant::now();
        let mut tasks = Vec::new();
        for (c, mut session) in sessions.into_iter().enumerate() {
            let (mix, stop, tally) = (Arc::clone(&mix), Arc::clone(&stop), Arc::clone(&tally));
            tasks.push(tokio::spawn(async move {
                // Each client walks the mix from its own place in it.
                let mut i = c * mix.len() / clients;
                while !stop.load(Ordering::Relaxed) {
                    let (q, expected) = &mix[i % mix.len()];
                    i += 1;
                    let t = Instant::now();
                    let answer = session.query(&q.sql).await;
                    let took = t.elapsed();
                    let mut tally = tally.lock();
                    match answer {
                        Ok(batches) => {
                            match hayate_tpch::compare_results(expected, &batches, q.ordered) {
                                Ok(()) => tally.latencies.push(took),
                                Err(e) => tally.wrong.push(format!("{}: {e}", q.name)),
                            }
                        }
                        Err(e) => tally.errors.push(format!("{}: {e}", q.name)),
                    }
                }
            }));
        }
        tokio::time::sleep(Duration::from_secs(seconds)).await;
        stop.store(true, Ordering::Relaxed);
        for t in tasks {
            t.await?;
        }
        let window = clock.elapsed().as_secs_f64();
        let cost = meter.stop(started);
        let tally = std::mem::take(&mut *tally.lock());
        let queries = tally.latencies.len();
        let mut cpu: BTreeMap<String, f64> = cost.cpu_seconds.iter().cloned().collect();
        let clients_cpu_s = cpu.remove("clients").unwrap_or(0.0);
        let result = ConcurrencyResult {
            workers,
            clients,
            seconds: window,
            queries,
            qps: queries as f64 / window,
            median_latency_ms: ms(median(tally.latencies)),
            wrong: tally.wrong,
            errors: tally.errors,
            cpu_by_process: cost
                .cpu_seconds
                .into_iter()
                .filter(|(role, _)| role != "clients")
                .collect(),
            clients_cpu_s,
        };
        eprintln!(
            "concurrency: {} pinned worker(s), {} clients: {:.1} queries/s, median {:.0} ms, {} wrong, {} errors; CPU s {:?}, clients {:.1}",
            workers,
            clients,
            result.qps,
            result.median_latency_ms,
            result.wrong.len(),
            result.errors.len(),
            result.cpu_by_process,
            result.clients_cpu_s
        );
        results.push(result);
    }
    Ok(results)
}
