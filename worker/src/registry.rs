//! The tasks this worker holds, grouped by the query run they belong to so
//! that a cancel finds and stops all of them at once.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use std::num::NonZeroUsize;

use datafusion::execution::memory_pool::{FairSpillPool, MemoryPool, TrackConsumersPool};
use hayate_protocol::{QueryRun, QueryTasksReport, TaskId, TaskReport};

use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;

use crate::task::RunningTask;

/// How long the reports of a run's finished tasks wait for the
/// coordinator's cancel that collects them.
const REPORT_TTL: Duration = Duration::from_secs(120);

struct QueryTasks {
    /// Cancelled when the query is cancelled: every output stream of every
    /// task of the query ends at once.
    cancel: CancellationToken,
    tasks: HashMap<(u32, u32), Arc<RunningTask>>,
    /// Reports of the query's tasks that finished here.
    finished: Vec<TaskReport>,
    last_finished: Instant,
    /// The memory the query's tasks on this worker share, if limited.
    memory: Option<Arc<dyn MemoryPool>>,
    /// The coordinator whose query this is (its id, from the launch).
    coordinator_id: String,
}

impl Default for QueryTasks {
    fn default() -> Self {
        Self {
            cancel: CancellationToken::new(),
            tasks: HashMap::new(),
            finished: Vec::new(),
            last_finished: Instant::now(),
            memory: None,
            coordinator_id: String::new(),
        }
    }
}

/// Running tasks by query run. Cheap to clone.
#[derive(Clone, Default)]
pub struct TaskRegistry {
    queries: Arc<Mutex<HashMap<QueryRun, QueryTasks>>>,
    launched: Arc<AtomicU64>,
    /// Every query pool still alive: a pool lives while any stream of its
    /// query does, even after the query is cancelled.
    pools: Arc<Mutex<Vec<Weak<dyn MemoryPool>>>>,
    /// Metrics of every task that ended here, summed, for `/metrics`.
    totals: Arc<Mutex<BTreeMap<String, u64>>>,
}

impl TaskRegistry {
    /// Holds a task of a query of the coordinator `coordinator_id`.
    pub fn insert(&self, task: RunningTask, coordinator_id: &str) -> CancellationToken {
        self.launched.fetch_add(1, Ordering::Relaxed);
        let mut queries = self.queries.lock();
        let entry = queries.entry(task.id.run()).or_default();
        if entry.coordinator_id.is_empty() {
            entry.coordinator_id = coordinator_id.to_string();
        }
        entry
            .tasks
            .insert((task.id.stage, task.id.task), Arc::new(task));
        entry.cancel.clone()
    }

    /// The memory pool every task of `run` on this worker shares: `limit`
    /// bytes, made at the run's first task and gone with the run. Limits
    /// that differ between tasks of one run keep the first.
    pub fn query_memory(&self, run: QueryRun, limit: usize) -> Arc<dyn MemoryPool> {
        let mut queries = self.queries.lock();
        let entry = queries.entry(run).or_default();
        Arc::clone(entry.memory.get_or_insert_with(|| {
            let pool: Arc<dyn MemoryPool> = Arc::new(TrackConsumersPool::new(
                FairSpillPool::new(limit),
                NonZeroUsize::new(3).expect("non-zero"),
            ));
            let mut pools = self.pools.lock();
            pools.retain(|p| p.strong_count() > 0);
            pools.push(Arc::downgrade(&pool));
            pool
        }))
    }

    /// Bytes reserved by queries on this worker, counting queries that were
    /// cancelled but whose operators have not let go yet: 0 once every
    /// query's memory is back.
    pub fn query_memory_in_use(&self) -> usize {
        self.pools
            .lock()
            .iter()
            .filter_map(Weak::upgrade)
            .map(|p| p.reserved())
            .sum()
    }

    /// The task and its query's cancellation token.
    pub fn get(&self, id: &TaskId) -> Option<(Arc<RunningTask>, CancellationToken)> {
        let queries = self.queries.lock();
        let q = queries.get(&id.run())?;
        let task = q.tasks.get(&(id.stage, id.task))?;
        Some((Arc::clone(task), q.cancel.clone()))
    }

    /// Forgets a task whose output has been read in full, keeping its
    /// report for the coordinator.
    pub fn remove(&self, id: &TaskId) {
        let mut queries = self.queries.lock();
        if let Some(q) = queries.get_mut(&id.run())
            && let Some(task) = q.tasks.remove(&(id.stage, id.task))
        {
            let report = task.report(false);
            self.add_to_totals(&report);
            q.finished.push(report);
            q.last_finished = Instant::now();
        }
    }

    fn add_to_totals(&self, report: &TaskReport) {
        let mut totals = self.totals.lock();
        for (k, v) in &report.metrics {
            *totals.entry(k.clone()).or_default() += v;
        }
    }

    /// Metrics of every task that ended on this worker, summed.
    pub fn totals(&self) -> BTreeMap<String, u64> {
        self.totals.lock().clone()
    }

    /// Stops every task of a run and forgets them; reports how many were
    /// still running and what every task of the run did here.
    pub fn cancel_run(&self, run: &QueryRun) -> QueryTasksReport {
        let removed = self.queries.lock().remove(run);
        let Some(q) = removed else {
            return QueryTasksReport::default();
        };
        q.cancel.cancel();
        let stopped = q.tasks.len() as u32;
        let mut tasks = q.finished;
        for task in q.tasks.values() {
            let report = task.report(true);
            self.add_to_totals(&report);
            tasks.push(report);
        }
        QueryTasksReport { stopped, tasks }
    }

    /// Stops every run of the coordinator `coordinator_id`: it is gone, so
    /// nobody will read their output or collect their reports. The runs of
    /// other coordinators go on. Returns how many tasks were stopped.
    pub fn cancel_runs_of(&self, coordinator_id: &str) -> usize {
        let lost: Vec<QueryRun> = self
            .queries
            .lock()
            .iter()
            .filter(|(_, q)| q.coordinator_id == coordinator_id)
            .map(|(run, _)| run.clone())
            .collect();
        lost.iter()
            .map(|run| self.cancel_run(run).stopped as usize)
            .sum()
    }

    /// Every task of the coordinator `coordinator_id` held here now,
    /// running (metrics so far) or finished and not yet collected: what the
    /// heartbeat tells that coordinator (and no other).
    pub fn progress_of(&self, coordinator_id: &str) -> Vec<TaskReport> {
        let queries = self.queries.lock();
        queries
            .values()
            .filter(|q| q.coordinator_id == coordinator_id)
            .flat_map(|q| {
                let running = q.tasks.values().map(|t| t.report(true));
                running.chain(q.finished.iter().cloned())
            })
            .collect()
    }

    /// Forgets queries whose tasks have all been waiting longer than `max_age`
    /// (a coordinator that vanished before it could cancel them), and
    /// reports nobody collected.
    pub fn expire(&self, max_age: std::time::Duration) -> usize {
        let mut queries = self.queries.lock();
        let stale: Vec<QueryRun> = queries
            .iter()
            .filter(|(_, q)| {
                if q.tasks.is_empty() {
                    q.last_finished.elapsed() > REPORT_TTL
                } else {
                    q.tasks.values().all(|t| t.started.elapsed() > max_age)
                }
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in &stale {
            if let Some(q) = queries.remove(id) {
                q.cancel.cancel();
            }
        }
        stale.len()
    }

    /// Tasks this worker has accepted since it started.
    pub fn launched_total(&self) -> u64 {
        self.launched.load(Ordering::Relaxed)
    }

    /// Whether tasks of `run` were launched here (and not yet cancelled).
    pub fn holds_run(&self, run: &QueryRun) -> bool {
        self.queries.lock().contains_key(run)
    }

    pub fn running_tasks(&self) -> usize {
        self.queries.lock().values().map(|q| q.tasks.len()).sum()
    }
}
