//! Running a workload on every engine, interleaved query by query (so that
//! a machine that slows down mid-run slows every engine alike), each answer
//! checked against single-node DataFusion's.

use std::collections::BTreeMap;
use std::time::Duration;

use hayate_storage::{io_metric, scan_metric};
use serde::Serialize;

use crate::engine::{Engine, Runs, total};
use crate::stats::median;
use crate::workload::Workload;

/// One query on one engine.
#[derive(Serialize, Clone, Debug, Default)]
pub struct EngineResult {
    /// Median of the timed runs; `None` when the engine failed the query.
    pub median_s: Option<f64>,
    pub times_s: Vec<f64>,
    pub rows: usize,
    /// CPU seconds per run, every process of the engine summed.
    pub cpu_s: f64,
    pub cpu_by_process: Vec<(String, f64)>,
    /// Peak resident bytes of each process during the timed runs.
    pub peak_bytes: Vec<(String, u64)>,
    /// Hayate: Arrow IPC bytes its exchanges sent in one run.
    pub exchange_bytes: Option<u64>,
    /// Hayate: bytes fetched from storage and GET requests in the first
    /// (cold) run.
    pub cold_bytes_fetched: Option<u64>,
    pub cold_get_requests: Option<u64>,
    /// Hayate, a warm run: LIST requests (planning's included) and the
    /// coordinator's planning time, where a table of many files shows.
    pub list_requests: Option<u64>,
    pub plan_ms: Option<f64>,
    /// "same" (equal to DataFusion's answer), "same row count" (DuckDB,
    /// whose types differ), "DIFFERS: ..." or "error: ...".
    pub check: String,
}

#[derive(Serialize, Clone, Debug)]
pub struct QueryResult {
    pub query: String,
    pub engines: BTreeMap<String, EngineResult>,
}

#[derive(Serialize, Clone, Debug)]
pub struct WorkloadResult {
    pub workload: String,
    pub engines: Vec<String>,
    /// Seconds each engine took to make the tables visible (`CREATE
    /// EXTERNAL TABLE`, which lists the files and may read their footers).
    pub setup_s: BTreeMap<String, f64>,
    pub queries: Vec<QueryResult>,
}

impl WorkloadResult {
    /// Whether Hayate answered every query, each time with DataFusion's
    /// answer (DuckDB may fail a query in another SQL dialect).
    pub fn hayate_correct(&self) -> bool {
        self.queries.iter().all(|q| {
            q.engines
                .iter()
                .filter(|(name, _)| name.starts_with("hayate"))
                .all(|(_, e)| e.check == "same")
        })
    }
}

fn secs(d: &[Duration]) -> Vec<f64> {
    d.iter().map(Duration::as_secs_f64).collect()
}

/// Runs every query of `workload` on every engine that can read its
/// tables; the first engine must be DataFusion, whose answers are the
/// reference.
pub async fn run_workload(
    workload: &Workload,
    all_engines: &mut [Engine],
    settings: &[String],
    warmups: usize,
    runs: usize,
) -> anyhow::Result<WorkloadResult> {
    let mut engines = Vec::new();
    let mut setup_s = BTreeMap::new();
    for engine in all_engines.iter_mut() {
        let started = std::time::Instant::now();
        if engine.prepare(workload, settings).await? {
            setup_s.insert(engine.name(), started.elapsed().as_secs_f64());
            engines.push(engine);
        }
    }
    let names: Vec<String> = engines.iter().map(|e| e.name()).collect();
    eprintln!("== {} on {}", workload.name, names.join(", "));
    let mut queries = Vec::new();
    for query in &workload.queries {
        let mut results = BTreeMap::new();
        let mut reference: Option<Runs> = None;
        let mut line = format!("{:<32}", query.name);
        for (index, engine) in engines.iter_mut().enumerate() {
            let name = engine.name();
            let sql = query.sql_for(engine).to_string();
            let result = match engine.run(&sql, warmups, runs).await {
                Ok(r) => {
                    let check = match (&reference, &**engine) {
                        (None, _) if index == 0 => "same".to_string(),
                        (None, _) => "unchecked: DataFusion failed".to_string(),
                        (Some(expected), Engine::DuckDb(_)) => {
                            if expected.rows == r.rows {
                                "same row count".to_string()
                            } else {
                                format!("DIFFERS: {} rows, DataFusion {}", r.rows, expected.rows)
                            }
                        }
                        (Some(expected), _) => {
                            match hayate_tpch::compare_results(
                                &expected.batches,
                                &r.batches,
                                query.ordered,
                            ) {
                                Ok(()) => "same".to_string(),
                                Err(e) => format!("DIFFERS: {e}"),
                            }
                        }
                    };
                    let median_s = median(r.times.clone()).as_secs_f64();
                    line.push_str(&format!(" {name} {median_s:.3}s"));
                    let result = EngineResult {
                        median_s: Some(median_s),
                        times_s: secs(&r.times),
                        rows: r.rows,
                        cpu_s: r.cost.total_cpu(),
                        cpu_by_process: r.cost.cpu_seconds.clone(),
                        peak_bytes: r.cost.peak_bytes.clone(),
                        exchange_bytes: r
                            .stats
                            .as_ref()
                            .map(|s| total(s, scan_metric::EXCHANGE_BYTES)),
                        cold_bytes_fetched: r
                            .first_stats
                            .as_ref()
                            .map(|s| total(s, io_metric::BYTES_FETCHED)),
                        cold_get_requests: r
                            .first_stats
                            .as_ref()
                            .map(|s| total(s, io_metric::GET_REQUESTS)),
                        list_requests: r.stats.as_ref().map(|s| total(s, io_metric::LIST_REQUESTS)),
                        plan_ms: r
                            .stats
                            .as_ref()
                            .and_then(|s| s.timings.as_ref())
                            .map(|t| t.plan_us as f64 / 1000.0),
                        check,
                    };
                    if index == 0 {
                        reference = Some(r);
                    }
                    result
                }
                Err(e) => {
                    line.push_str(&format!(" {name} error"));
                    EngineResult {
                        check: format!("error: {e:#}"),
                        ..Default::default()
                    }
                }
            };
            if result.check.starts_with("DIFFERS") {
                line.push_str(&format!(" ({name} DIFFERS)"));
            }
            results.insert(name, result);
        }
        eprintln!("{line}");
        queries.push(QueryResult {
            query: query.name.clone(),
            engines: results,
        });
    }
    Ok(WorkloadResult {
        workload: workload.name.clone(),
        engines: names,
        setup_s,
        queries,
    })
}
