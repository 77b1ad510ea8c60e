//! The tasks this worker holds, grouped by query so that a cancel finds and
//! stops all of them at once.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;

use crate::task::{RunningTask, TaskKey};

#[derive(Default)]
struct QueryTasks {
    /// Cancelled when the query is cancelled: every output stream of every
    /// task of the query ends at once.
    cancel: CancellationToken,
    tasks: HashMap<(u32, u32), Arc<RunningTask>>,
}

/// Running tasks by query. Cheap to clone.
#[derive(Clone, Default)]
pub struct TaskRegistry {
    queries: Arc<Mutex<HashMap<String, QueryTasks>>>,
    launched: Arc<AtomicU64>,
}

impl TaskRegistry {
    pub fn insert(&self, task: RunningTask) -> CancellationToken {
        self.launched.fetch_add(1, Ordering::Relaxed);
        let mut queries = self.queries.lock();
        let entry = queries.entry(task.key.query_id.clone()).or_default();
        entry
            .tasks
            .insert((task.key.stage_id, task.key.task_id), Arc::new(task));
        entry.cancel.clone()
    }

    /// The task and its query's cancellation token.
    pub fn get(&self, key: &TaskKey) -> Option<(Arc<RunningTask>, CancellationToken)> {
        let queries = self.queries.lock();
        let q = queries.get(&key.query_id)?;
        let task = q.tasks.get(&(key.stage_id, key.task_id))?;
        Some((Arc::clone(task), q.cancel.clone()))
    }

    /// Forgets a task whose output has been read in full.
    pub fn remove(&self, key: &TaskKey) {
        let mut queries = self.queries.lock();
        if let Some(q) = queries.get_mut(&key.query_id) {
            q.tasks.remove(&(key.stage_id, key.task_id));
            if q.tasks.is_empty() {
                queries.remove(&key.query_id);
            }
        }
    }

    /// Stops every task of a query and forgets them; returns how many there were.
    pub fn cancel_query(&self, query_id: &str) -> usize {
        let removed = self.queries.lock().remove(query_id);
        match removed {
            Some(q) => {
                q.cancel.cancel();
                q.tasks.len()
            }
            None => 0,
        }
    }

    /// Forgets queries whose tasks have all been waiting longer than `max_age`
    /// (a coordinator that vanished before it could cancel them).
    pub fn expire(&self, max_age: std::time::Duration) -> usize {
        let mut queries = self.queries.lock();
        let stale: Vec<String> = queries
            .iter()
            .filter(|(_, q)| q.tasks.values().all(|t| t.started.elapsed() > max_age))
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

    pub fn running_tasks(&self) -> usize {
        self.queries.lock().values().map(|q| q.tasks.len()).sum()
    }
}
