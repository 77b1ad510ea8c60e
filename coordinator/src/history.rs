//! Recent queries and what they did: planning I/O, each stage's summed
//! task reports, totals. Filled in when a query ends (its workers answer
//! the final `cancel_query` with their tasks' reports) and read by
//! `hayate.query_stats`, `EXPLAIN ANALYZE` and the CLI.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hayate_protocol::{QueryStats, QueryTimings, Spread, StageStats, TaskReport};
use hayate_storage::IoCounters;
use parking_lot::Mutex;
use tokio::sync::watch;

/// How many finished queries are remembered.
const KEPT: usize = 1000;

struct Record {
    id: String,
    started: Instant,
    elapsed: Option<Duration>,
    failed: bool,
    planning: Arc<IoCounters>,
    tasks: Vec<TaskReport>,
    /// Workers whose loss made the query run again.
    lost_workers: Vec<String>,
    /// Becomes true once the workers' reports are in.
    done: watch::Sender<bool>,
    timings: QueryTimings,
}

#[derive(Default)]
pub struct QueryHistory {
    records: Mutex<VecDeque<Record>>,
    /// Every query's metrics summed since the coordinator started (bytes
    /// scanned, object-store requests, exchange bytes), for `/metrics`.
    totals: Mutex<BTreeMap<String, u64>>,
    /// Runs abandoned because a worker was lost.
    reruns: AtomicU64,
}

impl QueryHistory {
    /// Starts the record of a query planned with `planning` counters, in
    /// `plan` of which `split` went to cutting it into stages.
    pub fn begin(&self, id: &str, planning: Arc<IoCounters>, plan: Duration, split: Duration) {
        let mut records = self.records.lock();
        if records.len() >= KEPT {
            records.pop_front();
        }
        records.push_back(Record {
            id: id.to_string(),
            started: Instant::now(),
            elapsed: None,
            failed: false,
            planning,
            tasks: Vec::new(),
            lost_workers: Vec::new(),
            done: watch::channel(false).0,
            timings: QueryTimings {
                plan_us: micros(plan.saturating_sub(split)),
                split_us: micros(split),
                ..Default::default()
            },
        });
    }

    /// Records how long a phase of the query took.
    pub fn time(&self, id: &str, phase: fn(&mut QueryTimings) -> &mut u64, took: Duration) {
        self.with(id, |r| *phase(&mut r.timings) = micros(took));
    }

    pub fn fail(&self, id: &str) {
        self.with(id, |r| r.failed = true);
    }

    /// A run of the query was abandoned because `lost` went away.
    pub fn retried(&self, id: &str, lost: &str) {
        self.reruns.fetch_add(1, Ordering::Relaxed);
        self.with(id, |r| r.lost_workers.push(lost.to_string()));
    }

    /// What the tasks of an abandoned run reported.
    pub fn add_reports(&self, id: &str, tasks: Vec<TaskReport>) {
        self.add_to_totals(tasks.iter().map(|t| &t.metrics));
        self.with(id, |r| r.tasks.extend(tasks));
    }

    /// The query is over and `tasks` is everything its workers reported.
    pub fn finish(&self, id: &str, tasks: Vec<TaskReport>) {
        self.add_to_totals(tasks.iter().map(|t| &t.metrics));
        let mut planning = None;
        self.with(id, |r| {
            planning = Some(r.planning.snapshot());
            r.elapsed = Some(r.started.elapsed());
            r.tasks.extend(tasks);
            r.done.send_replace(true);
        });
        if let Some(planning) = planning {
            let mut totals = self.totals.lock();
            for (k, v) in planning {
                *totals.entry(k.to_string()).or_default() += v;
            }
        }
    }

    fn add_to_totals<'a>(&self, reports: impl Iterator<Item = &'a BTreeMap<String, u64>>) {
        let mut totals = self.totals.lock();
        for metrics in reports {
            add_all(&mut totals, metrics);
        }
    }

    /// Metrics of every query so far, summed, and how many runs were
    /// abandoned for a lost worker.
    pub fn totals(&self) -> (BTreeMap<String, u64>, u64) {
        (
            self.totals.lock().clone(),
            self.reruns.load(Ordering::Relaxed),
        )
    }

    fn with(&self, id: &str, f: impl FnOnce(&mut Record)) {
        if let Some(r) = self.records.lock().iter_mut().rev().find(|r| r.id == id) {
            f(r);
        }
    }

    /// The query's stats, waiting up to `wait` for its workers' reports.
    pub async fn stats(&self, id: &str, wait: Duration) -> Option<QueryStats> {
        let mut done = {
            let records = self.records.lock();
            records.iter().rev().find(|r| r.id == id)?.done.subscribe()
        };
        let _ = tokio::time::timeout(wait, done.wait_for(|d| *d)).await;
        let records = self.records.lock();
        let r = records.iter().rev().find(|r| r.id == id)?;
        Some(summarize(r))
    }
}

fn summarize(r: &Record) -> QueryStats {
    let planning: BTreeMap<String, u64> = r
        .planning
        .snapshot()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    let mut stages: BTreeMap<u32, StageStats> = BTreeMap::new();
    for task in &r.tasks {
        let stage = stages.entry(task.stage_id).or_insert_with(|| StageStats {
            stage_id: task.stage_id,
            ..Default::default()
        });
        stage.tasks += 1;
        add_all(&mut stage.metrics, &task.metrics);
    }
    for stage in stages.values_mut() {
        let tasks: Vec<&TaskReport> = r
            .tasks
            .iter()
            .filter(|t| t.stage_id == stage.stage_id)
            .collect();
        stage.spread = stage
            .metrics
            .keys()
            .map(|name| {
                let values = tasks
                    .iter()
                    .map(|t| t.metrics.get(name).copied().unwrap_or(0));
                (name.clone(), spread(values))
            })
            .collect();
    }
    let mut total = planning.clone();
    for stage in stages.values() {
        add_all(&mut total, &stage.metrics);
    }
    let state = match (r.elapsed, r.failed) {
        (_, true) => "failed",
        (Some(_), false) => "finished",
        (None, false) => "running",
    };
    QueryStats {
        query_id: r.id.clone(),
        state: state.to_string(),
        elapsed_ms: r.elapsed.unwrap_or_else(|| r.started.elapsed()).as_millis() as u64,
        planning,
        stages: stages.into_values().collect(),
        total,
        attempts: r.lost_workers.len() as u32 + 1,
        lost_workers: r.lost_workers.clone(),
        timings: Some(r.timings),
    }
}

fn micros(d: Duration) -> u64 {
    d.as_micros().try_into().unwrap_or(u64::MAX)
}

fn add_all(into: &mut BTreeMap<String, u64>, from: &BTreeMap<String, u64>) {
    for (k, v) in from {
        *into.entry(k.clone()).or_default() += v;
    }
}

/// The smallest, median (the lower one of an even count) and largest of
/// `values`.
fn spread(values: impl Iterator<Item = u64>) -> Spread {
    let mut sorted: Vec<u64> = values.collect();
    sorted.sort_unstable();
    Spread {
        min: sorted.first().copied().unwrap_or(0),
        median: sorted
            .get(sorted.len().saturating_sub(1) / 2)
            .copied()
            .unwrap_or(0),
        max: sorted.last().copied().unwrap_or(0),
    }
}

#[cfg(test)]
mod spread_tests {
    use super::*;

    #[test]
    fn spread_is_min_median_max() {
        let s = spread([40, 1, 3, 2].into_iter());
        assert_eq!((s.min, s.median, s.max), (1, 2, 40));
        let s = spread(std::iter::empty());
        assert_eq!((s.min, s.median, s.max), (0, 0, 0));
    }
}
