//! Every query this coordinator knows: the ones waiting for their `DoGet`,
//! queued, running, and the last [`KEPT`] that ended. Statements waiting to
//! be fetched, running queries and history are views of this one registry,
//! so a query is never in two places with two stories.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hayate_protocol::TaskReport;
use parking_lot::Mutex;

use crate::query::{Query, StopReason, add_all};

/// How many ended queries are remembered.
const KEPT: usize = 1000;

/// Planned statements a client has not fetched within this time are dropped.
const PENDING_TTL: Duration = Duration::from_secs(10 * 60);

/// How many queries past [`KEPT`] are filed before the registry is swept.
const SWEEP_EVERY: usize = 100;

#[derive(Default)]
pub struct QueryRegistry {
    queries: Mutex<Queries>,
    /// Every query's metrics summed since the coordinator started (bytes
    /// scanned, object-store requests, exchange bytes), for `/metrics`.
    totals: Mutex<BTreeMap<String, u64>>,
    /// Runs abandoned because a worker was lost.
    reruns: AtomicU64,
}

#[derive(Default)]
struct Queries {
    by_id: HashMap<String, Arc<Query>>,
    /// Ids in submission order.
    order: VecDeque<String>,
}

impl Queries {
    /// Forgets the oldest ended queries beyond [`KEPT`], after ending the
    /// statements nobody fetched within [`PENDING_TTL`].
    fn sweep(&mut self) {
        for q in self.by_id.values() {
            q.expire_pending(PENDING_TTL);
        }
        let ended = self
            .order
            .iter()
            .filter(|id| self.by_id[*id].state().is_over())
            .count();
        let mut excess = ended.saturating_sub(KEPT);
        let by_id = &mut self.by_id;
        self.order.retain(|id| {
            if excess > 0 && by_id[id].state().is_over() {
                by_id.remove(id);
                excess -= 1;
                false
            } else {
                true
            }
        });
    }
}

impl QueryRegistry {
    /// Files a new query. Every [`SWEEP_EVERY`] queries beyond [`KEPT`],
    /// forgets the oldest ended ones and statements nobody fetched, so that
    /// filing costs no scan of the registry in the common case.
    pub fn add(&self, query: Arc<Query>) {
        let mut queries = self.queries.lock();
        if queries.order.len() >= KEPT + SWEEP_EVERY {
            queries.sweep();
        }
        queries.order.push_back(query.id.clone());
        queries.by_id.insert(query.id.clone(), query);
    }

    pub fn get(&self, id: &str) -> Option<Arc<Query>> {
        self.queries.lock().by_id.get(id).cloned()
    }

    /// Every known query, newest first.
    pub fn list(&self) -> Vec<Arc<Query>> {
        let queries = self.queries.lock();
        queries
            .order
            .iter()
            .rev()
            .filter_map(|id| queries.by_id.get(id).cloned())
            .collect()
    }

    /// Stops query `id`; false if it is unknown or over.
    pub fn cancel(&self, id: &str, by: &str) -> bool {
        self.get(id)
            .is_some_and(|q| q.stop(StopReason::Cancelled { by: by.to_string() }))
    }

    /// Routes the task reports of a worker's heartbeat to their queries.
    pub fn heartbeat(&self, worker: &str, reports: Vec<TaskReport>) {
        let queries = self.queries.lock();
        for mut report in reports {
            if let Some(q) = queries.by_id.get(&report.task.query_id) {
                report.worker = worker.to_string();
                q.heartbeat(report);
            }
        }
    }

    /// Files the final reports of one run of `query`; `last` when no run
    /// follows.
    pub fn file_reports(&self, query: &Query, tasks: Vec<TaskReport>, last: bool) {
        {
            let mut totals = self.totals.lock();
            for task in &tasks {
                add_all(&mut totals, &task.metrics);
            }
            if last {
                for (k, v) in query.planning_io() {
                    *totals.entry(k.to_string()).or_default() += v;
                }
            }
        }
        query.add_reports(tasks, last);
    }

    /// A run of `query` was abandoned because `lost` went away.
    pub fn retried(&self, query: &Query, lost: &str) {
        self.reruns.fetch_add(1, Ordering::Relaxed);
        query.retried(lost);
    }

    /// Metrics of every query so far, summed, and how many runs were
    /// abandoned for a lost worker.
    pub fn totals(&self) -> (BTreeMap<String, u64>, u64) {
        (
            self.totals.lock().clone(),
            self.reruns.load(Ordering::Relaxed),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::query::Submitter;

    fn query(n: usize) -> Arc<Query> {
        Arc::new(Query::new(
            format!("q{n}"),
            "SELECT 1".into(),
            Submitter::default(),
            Arc::default(),
        ))
    }

    #[test]
    fn ended_queries_beyond_the_limit_are_forgotten_oldest_first() {
        let registry = QueryRegistry::default();
        let waiting = query(0);
        registry.add(Arc::clone(&waiting));
        for n in 1..=KEPT + SWEEP_EVERY + 1 {
            let q = query(n);
            q.finished();
            registry.add(q);
        }
        let kept = registry.list().len();
        assert!(kept <= KEPT + SWEEP_EVERY + 1, "{kept}");
        // The oldest ended ones went; the one still waiting stays.
        assert!(registry.get("q1").is_none());
        assert!(registry.get("q0").is_some());
        assert!(
            registry
                .get(&format!("q{}", KEPT + SWEEP_EVERY + 1))
                .is_some()
        );
    }
}
