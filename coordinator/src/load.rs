//! Where a task goes: to the live worker running the fewest of this
//! coordinator's tasks.
//!
//! Small queries run as a single task by design, and their stages used to
//! start at the first worker of the list: with three workers, the 22 TPC-H
//! queries at SF0.1 all ran on one of them, so concurrent small queries
//! queued there while the others idled. The coordinator knows exactly
//! which tasks it has placed and when each query ends, so it counts them
//! itself (a worker's heartbeat would say the same a second later).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use parking_lot::Mutex;

/// Tasks placed per worker address and not yet ended. Cheap to clone.
#[derive(Clone, Default)]
pub struct TaskLoad {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    running: Mutex<HashMap<String, usize>>,
    /// Breaks ties, so that an idle cluster takes turns.
    turn: AtomicUsize,
}

/// Tasks of one run of a query, counted against their workers until
/// dropped (when the run has ended on its workers, or failed to start).
pub struct PlacedTasks {
    load: TaskLoad,
    workers: Vec<String>,
}

impl TaskLoad {
    /// The worker for each of `tasks` tasks: the least loaded workers,
    /// one task each before any gets a second (the tasks of a stage do the
    /// same work, so they should not share a worker while another idles).
    pub fn place(&self, workers: &[String], tasks: usize, placed: &mut PlacedTasks) -> Vec<String> {
        if workers.is_empty() {
            return Vec::new();
        }
        let turn = self.inner.turn.fetch_add(1, Ordering::Relaxed);
        let mut running = self.inner.running.lock();
        // Least loaded first; among equals, starting from this turn's worker.
        let mut order: Vec<&String> = (0..workers.len())
            .map(|i| &workers[(turn + i) % workers.len()])
            .collect();
        order.sort_by_key(|w| running.get(*w).copied().unwrap_or(0));
        let chosen: Vec<String> = (0..tasks).map(|i| order[i % order.len()].clone()).collect();
        for worker in &chosen {
            *running.entry(worker.clone()).or_default() += 1;
        }
        placed.workers.extend(chosen.iter().cloned());
        chosen
    }

    /// An empty set of placed tasks, to fill with [`Self::place`].
    pub fn track(&self) -> PlacedTasks {
        PlacedTasks {
            load: self.clone(),
            workers: Vec::new(),
        }
    }

    /// Tasks placed on `worker` and not yet ended.
    pub fn running_on(&self, worker: &str) -> usize {
        self.inner.running.lock().get(worker).copied().unwrap_or(0)
    }
}

impl PlacedTasks {
    /// The workers that hold these tasks, each once.
    pub fn workers(&self) -> Vec<String> {
        let mut workers = self.workers.clone();
        workers.sort();
        workers.dedup();
        workers
    }
}

impl Drop for PlacedTasks {
    fn drop(&mut self) {
        let mut running = self.load.inner.running.lock();
        for worker in &self.workers {
            if let Some(n) = running.get_mut(worker) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    running.remove(worker);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn workers(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("http://w{i}")).collect()
    }

    #[test]
    fn concurrent_single_task_queries_spread_over_idle_workers() {
        let load = TaskLoad::default();
        let ws = workers(3);
        let queries: Vec<PlacedTasks> = (0..3)
            .map(|_| {
                let mut placed = load.track();
                load.place(&ws, 1, &mut placed);
                placed
            })
            .collect();
        for w in &ws {
            assert_eq!(load.running_on(w), 1, "{w}");
        }
        drop(queries);
        for w in &ws {
            assert_eq!(load.running_on(w), 0, "{w} is free once its query ended");
        }
    }

    #[test]
    fn a_stage_spreads_over_distinct_workers() {
        let load = TaskLoad::default();
        let ws = workers(2);
        let mut busy = load.track();
        // One worker already has two tasks, the other one: the stage's two
        // tasks still go one to each.
        load.place(&ws[..1], 2, &mut busy);
        load.place(&ws[1..], 1, &mut busy);
        let mut next = load.track();
        let mut chosen = load.place(&ws, 2, &mut next);
        chosen.sort();
        assert_eq!(chosen, ws);
    }

    #[test]
    fn a_stage_goes_to_the_least_loaded_workers_first() {
        let load = TaskLoad::default();
        let ws = workers(3);
        let mut busy = load.track();
        load.place(&ws[..1], 2, &mut busy);
        let mut next = load.track();
        let chosen = load.place(&ws, 2, &mut next);
        assert!(!chosen.contains(&ws[0]), "{chosen:?}");
        assert_ne!(chosen[0], chosen[1], "one task per idle worker");
    }
}
