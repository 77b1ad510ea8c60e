//! One query, from the statement a client sent to the record of how it
//! ended: the one object that owns its state. The registry holds them;
//! the statement waiting for its `DoGet`, the running query a cancel stops,
//! `system.queries`, the web UI and `EXPLAIN ANALYZE` all read this object.
//!
//! State moves one way: planned → queued → running(attempt) → finished,
//! failed or cancelled. The first end wins: a query cancelled by its client
//! stays cancelled even though its stream then ends with an error. Task
//! reports arrive twice: while it runs, with every worker heartbeat
//! (metrics so far), and once more, final, when its workers are told to
//! stop it.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use datafusion::prelude::SessionContext;
use hayate_planner::{Placement, StageGraph};
use hayate_protocol::{QueryProgress, QueryStats, QueryTimings, Spread, StageStats, TaskReport};
use hayate_storage::{IoCounters, scan_metric};
use parking_lot::Mutex;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

use crate::metrics::QueryMetrics;
use crate::planning::PlannedStatement;

/// Where a query is in its life.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum QueryState {
    /// Planned, waiting for the client's `DoGet`.
    Planned,
    /// Waiting for an admission slot.
    Queued,
    /// Running its `attempt`th run (more than 1 after a lost worker).
    Running {
        attempt: u32,
    },
    Finished,
    Failed {
        error: String,
    },
    Cancelled {
        reason: String,
    },
}

impl QueryState {
    pub fn name(&self) -> &'static str {
        match self {
            QueryState::Planned => "planned",
            QueryState::Queued => "queued",
            QueryState::Running { .. } => "running",
            QueryState::Finished => "finished",
            QueryState::Failed { .. } => "failed",
            QueryState::Cancelled { .. } => "cancelled",
        }
    }

    pub fn is_over(&self) -> bool {
        matches!(
            self,
            QueryState::Finished | QueryState::Failed { .. } | QueryState::Cancelled { .. }
        )
    }

    /// Why it failed or was cancelled.
    pub fn error(&self) -> Option<&str> {
        match self {
            QueryState::Failed { error } => Some(error),
            QueryState::Cancelled { reason } => Some(reason),
            _ => None,
        }
    }
}

/// Why a running query was stopped from outside its stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// By a client's `CancelFlightInfo` or the web UI's cancel button.
    Cancelled { by: String },
    /// It ran longer than its timeout.
    TimedOut(Duration),
}

impl std::fmt::Display for StopReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StopReason::Cancelled { by } => write!(f, "query cancelled by {by}"),
            StopReason::TimedOut(limit) => write!(
                f,
                "query timed out after {}s (hayate.query_timeout_secs or the server's --query-timeout-secs)",
                limit.as_secs_f64()
            ),
        }
    }
}

/// A planned statement waiting for its `DoGet`, with the session it was
/// planned in.
pub struct Pending {
    pub ctx: SessionContext,
    pub statement: PlannedStatement,
}

/// Who sent a query, and from where.
#[derive(Clone, Debug, Default)]
pub struct Submitter {
    /// The signed-in user; empty on an open coordinator.
    pub user: String,
    pub session: String,
}

/// One stage as progress counts it and the web UI draws it.
#[derive(Clone, Debug)]
struct StageShape {
    id: u32,
    tasks: u32,
    on_coordinator: bool,
    /// The operator at the top of its fragment.
    operator: String,
    /// What it sends to its consumer: shuffle, gather or broadcast.
    output: Option<String>,
    inputs: Vec<u32>,
}

/// One stage of a query now: where it runs, its inputs and how far it is
/// (what the web UI draws).
#[derive(Clone, Debug, serde::Serialize)]
pub struct StageProgress {
    pub id: u32,
    pub operator: String,
    pub output: Option<String>,
    pub inputs: Vec<u32>,
    pub on_coordinator: bool,
    pub tasks: u32,
    pub tasks_running: u32,
    pub tasks_done: u32,
    pub done: bool,
    pub rows_out: u64,
    pub rows_scanned: u64,
    pub bytes_scanned: u64,
    pub cpu_nanos: u64,
}

pub struct Query {
    pub id: String,
    /// The statement with secrets masked.
    pub sql: String,
    pub submitter: Submitter,
    pub submitted: SystemTime,
    clock: Instant,
    /// Fires when the query is stopped from outside its stream.
    stop: CancellationToken,
    /// Becomes true once the workers' final reports are in.
    reports_in: watch::Sender<bool>,
    /// The query's trace span, the parent of its tasks' spans on the
    /// workers; let go when the query ends so that the span closes.
    span: Mutex<Option<tracing::Span>>,
    /// Where its end is counted for `/metrics`, if anywhere.
    metrics: Option<QueryMetrics>,
    inner: Mutex<Inner>,
}

struct Inner {
    state: QueryState,
    pending: Option<Pending>,
    /// Since submission: when it began running, and when it ended.
    started: Option<Duration>,
    ended: Option<Duration>,
    stop_reason: Option<StopReason>,
    planning: Arc<IoCounters>,
    timings: QueryTimings,
    stages: Vec<StageShape>,
    /// Final reports, of every run.
    tasks: Vec<TaskReport>,
    /// Latest heartbeat report of each task of the current run.
    live: HashMap<(u32, u32), TaskReport>,
    lost_workers: Vec<String>,
    rows_out: u64,
}

/// A query as `system.queries` and the web UI list it.
#[derive(Clone, Debug)]
pub struct QuerySummary {
    pub id: String,
    pub user: String,
    pub sql: String,
    pub state: QueryState,
    pub submitted: SystemTime,
    pub started: Option<SystemTime>,
    pub finished: Option<SystemTime>,
    pub elapsed: Duration,
    pub rows: u64,
    pub attempts: u32,
    pub totals: BTreeMap<String, u64>,
}

/// One task as `system.tasks` lists it.
#[derive(Clone, Debug)]
pub struct TaskSummary {
    pub report: TaskReport,
    /// running, finished, or stopped (ended by the query before it was done).
    pub state: &'static str,
}

impl Query {
    pub fn new(id: String, sql: String, submitter: Submitter, planning: Arc<IoCounters>) -> Self {
        let span =
            tracing::info_span!(parent: None, "query", query_id = %id, user = %submitter.user);
        Self {
            span: Mutex::new(Some(span)),
            metrics: None,
            id,
            sql,
            submitter,
            submitted: SystemTime::now(),
            clock: Instant::now(),
            stop: CancellationToken::new(),
            reports_in: watch::channel(false).0,
            inner: Mutex::new(Inner {
                state: QueryState::Planned,
                pending: None,
                started: None,
                ended: None,
                stop_reason: None,
                planning,
                timings: QueryTimings::default(),
                stages: Vec::new(),
                tasks: Vec::new(),
                live: HashMap::new(),
                lost_workers: Vec::new(),
                rows_out: 0,
            }),
        }
    }

    /// This query, with its end counted in `metrics`.
    pub fn counted_in(mut self, metrics: QueryMetrics) -> Self {
        self.metrics = Some(metrics);
        self
    }

    pub fn state(&self) -> QueryState {
        self.inner.lock().state.clone()
    }

    /// How long since it was submitted (or how long it took, once over).
    fn elapsed(&self, inner: &Inner) -> Duration {
        inner.ended.unwrap_or_else(|| self.clock.elapsed())
    }

    /// The statement is planned: keep it for the `DoGet`, with the time
    /// planning took, of which `split` went to cutting it into stages.
    pub fn planned(&self, pending: Pending, plan: Duration, split: Duration) {
        let mut inner = self.inner.lock();
        if let crate::planning::Planned::Stages(graph) | crate::planning::Planned::Analyze(graph) =
            &pending.statement.planned
        {
            inner.stages = shapes(graph);
        }
        inner.timings.plan_us = micros(plan.saturating_sub(split));
        inner.timings.split_us = micros(split);
        inner.pending = Some(pending);
    }

    /// Keeps the answer of a write that has already run for its `DoGet`.
    pub fn keep_answer(&self, pending: Pending) {
        self.inner.lock().pending = Some(pending);
    }

    /// The planned statement, once: a second `DoGet` of the same ticket
    /// finds nothing.
    pub fn take_pending(&self) -> Option<Pending> {
        let mut inner = self.inner.lock();
        let pending = inner.pending.take()?;
        inner.timings.ticket_wait_us = micros(self.clock.elapsed())
            .saturating_sub(inner.timings.plan_us + inner.timings.split_us);
        Some(pending)
    }

    /// Drops a statement nobody fetched; true if it was waiting.
    pub fn expire_pending(&self, ttl: Duration) -> bool {
        let mut inner = self.inner.lock();
        if inner.pending.is_some() && self.clock.elapsed() > ttl {
            inner.pending = None;
            self.end(
                &mut inner,
                QueryState::Cancelled {
                    reason: format!("never fetched within {}s", ttl.as_secs()),
                },
            );
            return true;
        }
        false
    }

    pub fn queued(&self) {
        self.advance(QueryState::Queued);
    }

    /// Run `attempt` (from 1) begins; the live view of the last run is
    /// dropped.
    pub fn running(&self, attempt: u32) {
        let mut inner = self.inner.lock();
        if inner.state.is_over() {
            return;
        }
        inner.started.get_or_insert_with(|| self.clock.elapsed());
        inner.live.clear();
        inner.state = QueryState::Running { attempt };
    }

    fn advance(&self, state: QueryState) {
        let mut inner = self.inner.lock();
        if !inner.state.is_over() {
            inner.state = state;
        }
    }

    pub fn finished(&self) {
        let mut inner = self.inner.lock();
        self.end(&mut inner, QueryState::Finished);
    }

    /// It failed with `error`, unless it was stopped first: then the stop
    /// is why it ended.
    pub fn failed(&self, error: &str) {
        let mut inner = self.inner.lock();
        let state = match &inner.stop_reason {
            Some(StopReason::Cancelled { .. }) => QueryState::Cancelled {
                reason: inner
                    .stop_reason
                    .as_ref()
                    .map(|r| r.to_string())
                    .unwrap_or_default(),
            },
            Some(reason @ StopReason::TimedOut(_)) => QueryState::Failed {
                error: reason.to_string(),
            },
            None => QueryState::Failed {
                error: error.to_string(),
            },
        };
        self.end(&mut inner, state);
    }

    /// The client went away before the end of the answer.
    pub fn abandoned(&self) {
        let mut inner = self.inner.lock();
        let reason = match &inner.stop_reason {
            Some(reason) => reason.to_string(),
            None => "the client closed the stream before the end".to_string(),
        };
        self.end(&mut inner, QueryState::Cancelled { reason });
    }

    fn end(&self, inner: &mut Inner, state: QueryState) {
        if inner.state.is_over() {
            return;
        }
        let took = self.clock.elapsed();
        if let Some(metrics) = &self.metrics {
            metrics.record(&state, took);
        }
        inner.state = state;
        inner.ended = Some(took);
        self.span.lock().take();
    }

    /// The query's span, to run its work in (none once it has ended).
    pub fn span(&self) -> tracing::Span {
        self.span.lock().clone().unwrap_or_else(tracing::Span::none)
    }

    /// Stops the query from outside its stream; false if it is over.
    pub fn stop(&self, reason: StopReason) -> bool {
        {
            let mut inner = self.inner.lock();
            if inner.state.is_over() {
                return false;
            }
            inner.stop_reason.get_or_insert(reason);
        }
        self.stop.cancel();
        true
    }

    /// Fires when the query is stopped.
    pub fn stopped(&self) -> CancellationToken {
        self.stop.clone()
    }

    pub fn stop_reason(&self) -> Option<StopReason> {
        self.inner.lock().stop_reason.clone()
    }

    pub fn count_rows(&self, rows: usize) {
        self.inner.lock().rows_out += rows as u64;
    }

    /// Records how long a phase of the query took.
    pub fn time(&self, phase: fn(&mut QueryTimings) -> &mut u64, took: Duration) {
        *phase(&mut self.inner.lock().timings) = micros(took);
    }

    /// A run was abandoned because `lost` went away.
    pub fn retried(&self, lost: &str) {
        self.inner.lock().lost_workers.push(lost.to_string());
    }

    /// Final reports of a run's tasks; `last` when no run follows.
    pub fn add_reports(&self, tasks: Vec<TaskReport>, last: bool) {
        {
            let mut inner = self.inner.lock();
            inner.tasks.extend(tasks);
            if last {
                inner.live.clear();
            }
        }
        if last {
            self.reports_in.send_replace(true);
        }
    }

    /// A worker's heartbeat report of one of the query's tasks.
    pub fn heartbeat(&self, report: TaskReport) {
        if *self.reports_in.borrow() {
            return;
        }
        let mut inner = self.inner.lock();
        let current = match inner.state {
            QueryState::Running { attempt } => attempt,
            _ => return,
        };
        if report.task.attempt == current {
            inner
                .live
                .insert((report.task.stage, report.task.task), report);
        }
    }

    /// Waits up to `wait` for the workers' final reports.
    pub async fn reports(&self, wait: Duration) {
        let mut done = self.reports_in.subscribe();
        let _ = tokio::time::timeout(wait, done.wait_for(|d| *d)).await;
    }

    pub fn progress(&self) -> QueryProgress {
        let stages = self.stages();
        let inner = self.inner.lock();
        let tasks = latest_run(&inner);
        let sum = |name: &str| -> u64 {
            tasks
                .iter()
                .map(|t| t.metrics.get(name).copied().unwrap_or(0))
                .sum()
        };
        QueryProgress {
            query_id: self.id.clone(),
            state: inner.state.name().to_string(),
            attempt: match inner.state {
                QueryState::Running { attempt } => attempt,
                _ => inner.lost_workers.len() as u32 + 1,
            },
            stages_total: stages.len() as u32,
            stages_done: stages.iter().filter(|s| s.done).count() as u32,
            tasks_total: stages
                .iter()
                .filter(|s| !s.on_coordinator)
                .map(|s| s.tasks)
                .sum(),
            tasks_running: tasks.iter().filter(|t| t.running).count() as u32,
            tasks_done: tasks.iter().filter(|t| !t.running).count() as u32,
            rows_scanned: sum(scan_metric::ROWS_SCANNED),
            bytes_scanned: sum(scan_metric::BYTES_SCANNED),
            rows_out: inner.rows_out,
            elapsed_ms: self.elapsed(&inner).as_millis() as u64,
        }
    }

    /// Each stage now: a stage on workers is done when all its tasks have
    /// finished; the coordinator's when the query is over.
    pub fn stages(&self) -> Vec<StageProgress> {
        let inner = self.inner.lock();
        let tasks = latest_run(&inner);
        let over = inner.state.is_over();
        inner
            .stages
            .iter()
            .map(|stage| {
                let mine: Vec<&TaskReport> =
                    tasks.iter().filter(|t| t.task.stage == stage.id).collect();
                let sum = |name: &str| -> u64 {
                    mine.iter()
                        .map(|t| t.metrics.get(name).copied().unwrap_or(0))
                        .sum()
                };
                let done_tasks = mine.iter().filter(|t| !t.running).count() as u32;
                StageProgress {
                    id: stage.id,
                    operator: stage.operator.clone(),
                    output: stage.output.clone(),
                    inputs: stage.inputs.clone(),
                    on_coordinator: stage.on_coordinator,
                    tasks: stage.tasks,
                    tasks_running: mine.iter().filter(|t| t.running).count() as u32,
                    tasks_done: done_tasks,
                    done: over || (!stage.on_coordinator && done_tasks >= stage.tasks),
                    rows_out: sum(scan_metric::OUTPUT_ROWS),
                    rows_scanned: sum(scan_metric::ROWS_SCANNED),
                    bytes_scanned: sum(scan_metric::BYTES_SCANNED),
                    cpu_nanos: sum(scan_metric::CPU_NANOS),
                }
            })
            .collect()
    }

    pub fn summary(&self) -> QuerySummary {
        let inner = self.inner.lock();
        let mut totals: BTreeMap<String, u64> = inner
            .planning
            .snapshot()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        for task in task_view(&inner) {
            add_all(&mut totals, &task.metrics);
        }
        QuerySummary {
            id: self.id.clone(),
            user: self.submitter.user.clone(),
            sql: self.sql.clone(),
            state: inner.state.clone(),
            submitted: self.submitted,
            started: inner.started.map(|d| self.submitted + d),
            finished: inner.ended.map(|d| self.submitted + d),
            elapsed: self.elapsed(&inner),
            rows: inner.rows_out,
            attempts: inner.lost_workers.len() as u32 + 1,
            totals,
        }
    }

    /// Its tasks: the final reports once in, the live ones until then.
    pub fn tasks(&self) -> Vec<TaskSummary> {
        let inner = self.inner.lock();
        let over = *self.reports_in.borrow();
        task_view(&inner)
            .into_iter()
            .map(|report| TaskSummary {
                state: match (report.running, over) {
                    (false, _) => "finished",
                    (true, false) => "running",
                    (true, true) => "stopped",
                },
                report,
            })
            .collect()
    }

    /// What the query did, for `hayate.query_stats` and `EXPLAIN ANALYZE`.
    pub fn stats(&self) -> QueryStats {
        let inner = self.inner.lock();
        let planning: BTreeMap<String, u64> = inner
            .planning
            .snapshot()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        let tasks = task_view(&inner);
        let mut stages: BTreeMap<u32, StageStats> = BTreeMap::new();
        for task in &tasks {
            let stage = stages.entry(task.task.stage).or_insert_with(|| StageStats {
                stage_id: task.task.stage,
                ..Default::default()
            });
            stage.tasks += 1;
            add_all(&mut stage.metrics, &task.metrics);
            stage.task_reports.push(task.clone());
        }
        for stage in stages.values_mut() {
            let of_stage: Vec<&TaskReport> = tasks
                .iter()
                .filter(|t| t.task.stage == stage.stage_id)
                .collect();
            stage.spread = stage
                .metrics
                .keys()
                .map(|name| {
                    let values = of_stage
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
        QueryStats {
            query_id: self.id.clone(),
            state: inner.state.name().to_string(),
            elapsed_ms: self.elapsed(&inner).as_millis() as u64,
            planning,
            stages: stages.into_values().collect(),
            total,
            attempts: inner.lost_workers.len() as u32 + 1,
            lost_workers: inner.lost_workers.clone(),
            timings: Some(inner.timings),
        }
    }

    /// What planning read from storage (listing, footers).
    pub fn planning_io(&self) -> Vec<(&'static str, u64)> {
        self.inner.lock().planning.snapshot()
    }
}

/// The tasks of the latest run only: progress counts what the run that
/// can still answer has done.
fn latest_run(inner: &Inner) -> Vec<TaskReport> {
    let latest = match inner.state {
        QueryState::Running { attempt } => attempt,
        _ => inner.lost_workers.len() as u32 + 1,
    };
    task_view(inner)
        .into_iter()
        .filter(|t| t.task.attempt == latest)
        .collect()
}

/// Final reports plus the live ones of tasks not yet reported finally.
fn task_view(inner: &Inner) -> Vec<TaskReport> {
    let mut tasks = inner.tasks.clone();
    tasks.extend(inner.live.values().cloned());
    tasks
}

fn shapes(graph: &StageGraph) -> Vec<StageShape> {
    graph
        .stages
        .iter()
        .map(|s| StageShape {
            id: s.id as u32,
            tasks: s.tasks as u32,
            on_coordinator: s.placement == Placement::Coordinator,
            operator: s.plan.name().to_string(),
            output: s.output.map(|kind| format!("{kind:?}").to_lowercase()),
            inputs: s.inputs.iter().map(|(input, _)| *input as u32).collect(),
        })
        .collect()
}

pub(crate) fn micros(d: Duration) -> u64 {
    d.as_micros().try_into().unwrap_or(u64::MAX)
}

pub(crate) fn add_all(into: &mut BTreeMap<String, u64>, from: &BTreeMap<String, u64>) {
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
mod tests {
    use super::*;

    fn query() -> Query {
        Query::new(
            "q".into(),
            "SELECT 1".into(),
            Submitter::default(),
            Arc::default(),
        )
    }

    #[test]
    fn spread_is_min_median_max() {
        let s = spread([40, 1, 3, 2].into_iter());
        assert_eq!((s.min, s.median, s.max), (1, 2, 40));
        let s = spread(std::iter::empty());
        assert_eq!((s.min, s.median, s.max), (0, 0, 0));
    }

    #[test]
    fn the_first_end_wins() {
        let q = query();
        q.queued();
        q.running(1);
        assert!(q.stop(StopReason::Cancelled {
            by: "the client".into()
        }));
        // The stopped stream then ends with an error: still a cancel.
        q.failed("stream ended");
        q.finished();
        assert_eq!(q.state().name(), "cancelled");
        assert!(!q.stop(StopReason::TimedOut(Duration::from_secs(1))));
    }

    #[test]
    fn a_timeout_is_a_failure() {
        let q = query();
        q.running(1);
        q.stop(StopReason::TimedOut(Duration::from_secs(2)));
        q.failed("stopped");
        assert!(q.state().error().unwrap().contains("timed out after 2s"));
    }

    #[test]
    fn heartbeats_of_an_old_run_are_ignored() {
        let q = query();
        q.running(2);
        let report = |attempt: u32, running| TaskReport {
            task: hayate_protocol::QueryRun::new("q", attempt).task(0, 0),
            running,
            ..Default::default()
        };
        q.heartbeat(report(1, true));
        assert_eq!(q.progress().tasks_running, 0);
        q.heartbeat(report(2, true));
        assert_eq!(q.progress().tasks_running, 1);
    }
}
