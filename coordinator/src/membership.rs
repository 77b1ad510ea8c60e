//! The live workers: registered, heartbeating, forgotten when silent.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use hayate_protocol::WorkerAnnouncement;
use parking_lot::RwLock;

#[derive(Debug, Clone)]
struct WorkerEntry {
    address: String,
    last_seen: Instant,
    running_tasks: u32,
    /// Shutting down: gets no new tasks, still serves the ones it has.
    draining: bool,
    /// Tasks it runs at full speed at once (its CPUs).
    slots: u32,
    /// Tasks it has accepted since it started.
    tasks_launched: u64,
    /// Bytes its queries held at its last heartbeat.
    memory_used: u64,
}

/// Who is in the cluster. A worker is live while its heartbeats arrive; one
/// that misses them for `timeout` is forgotten and gets no new tasks. A
/// worker the scheduler could not reach is forgotten at once (it re-registers
/// by itself if it comes back).
#[derive(Debug)]
pub struct Membership {
    workers: RwLock<HashMap<String, WorkerEntry>>,
    /// Addresses forgotten because their heartbeats stopped (not merely
    /// because one call to them failed), until they register again.
    silent: RwLock<HashSet<String>>,
    pub heartbeat_interval: Duration,
    pub timeout: Duration,
    /// This coordinator process, as its workers know it: every launch
    /// carries it, so that a worker serving several coordinators stops only
    /// the tasks of the one it lost.
    pub coordinator_id: String,
}

/// A worker as the scheduler sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveWorker {
    pub worker_id: String,
    pub address: String,
    pub running_tasks: u32,
    /// The cores it runs tasks on.
    pub cores: u32,
}

/// What a query can be planned for: the live workers, and the cores of the
/// smallest (tasks are sized to it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capacity {
    pub workers: usize,
    pub smallest_cores: usize,
}

impl Capacity {
    /// One worker of one core: a statement that only the coordinator runs.
    pub const SINGLE: Capacity = Capacity {
        workers: 1,
        smallest_cores: 1,
    };

    pub fn of(live: &[LiveWorker]) -> Self {
        Self {
            workers: live.len(),
            smallest_cores: live.iter().map(|w| w.cores).min().unwrap_or(1).max(1) as usize,
        }
    }
}

/// A worker as metrics and status pages show it.
#[derive(Debug, Clone)]
pub struct WorkerState {
    pub worker_id: String,
    pub address: String,
    pub running_tasks: u32,
    pub slots: u32,
    pub draining: bool,
    pub tasks_launched: u64,
    pub memory_used: u64,
    /// How long ago its last heartbeat (or registration) arrived.
    pub last_heartbeat: Duration,
}

impl Membership {
    pub fn new(heartbeat_interval: Duration, timeout: Duration) -> Self {
        Self {
            workers: RwLock::new(HashMap::new()),
            silent: RwLock::new(HashSet::new()),
            heartbeat_interval,
            timeout,
            coordinator_id: uuid::Uuid::new_v4().to_string(),
        }
    }

    /// Adds or refreshes a worker. A new process at an address that another
    /// worker id held replaces it.
    pub fn register(&self, worker: &WorkerAnnouncement) {
        let (worker_id, address) = (worker.worker_id.as_str(), worker.address.as_str());
        self.silent.write().remove(address);
        let mut workers = self.workers.write();
        workers.retain(|id, w| id == worker_id || w.address != address);
        let fresh = !workers.contains_key(worker_id);
        workers.insert(
            worker_id.to_string(),
            WorkerEntry {
                address: address.to_string(),
                last_seen: Instant::now(),
                running_tasks: worker.running_tasks,
                draining: worker.draining,
                slots: worker.cpus,
                tasks_launched: worker.tasks_launched,
                memory_used: worker.memory_used,
            },
        );
        if fresh {
            tracing::info!(worker_id, address, "worker joined");
        }
    }

    /// Records a heartbeat; false if the worker is not (or no longer) known.
    pub fn heartbeat(&self, worker: &WorkerAnnouncement) -> bool {
        let mut workers = self.workers.write();
        match workers.get_mut(&worker.worker_id) {
            Some(w) => {
                if worker.draining && !w.draining {
                    tracing::info!(worker_id = %worker.worker_id, address = %w.address, "worker draining");
                }
                w.last_seen = Instant::now();
                w.running_tasks = worker.running_tasks;
                w.draining = worker.draining;
                w.slots = worker.cpus;
                w.tasks_launched = worker.tasks_launched;
                w.memory_used = worker.memory_used;
                true
            }
            None => false,
        }
    }

    /// Forgets the worker at `address` (it failed a request).
    pub fn forget_address(&self, address: &str) {
        let mut workers = self.workers.write();
        let before = workers.len();
        workers.retain(|_, w| w.address != address);
        if workers.len() < before {
            tracing::warn!(address, "worker forgotten: unreachable");
        }
    }

    /// Live workers that take new tasks (not draining), in a stable order
    /// (by address).
    pub fn live(&self) -> Vec<LiveWorker> {
        self.expire();
        let workers = self.workers.read();
        let mut live: Vec<LiveWorker> = workers
            .iter()
            .filter(|(_, w)| !w.draining)
            .map(|(id, w)| LiveWorker {
                worker_id: id.clone(),
                address: w.address.clone(),
                running_tasks: w.running_tasks,
                cores: w.slots,
            })
            .collect();
        live.sort_by(|a, b| a.address.cmp(&b.address));
        live
    }

    /// Every known worker, draining ones too, for metrics and status.
    pub fn all(&self) -> Vec<WorkerState> {
        self.expire();
        let workers = self.workers.read();
        let mut all: Vec<WorkerState> = workers
            .iter()
            .map(|(id, w)| WorkerState {
                worker_id: id.clone(),
                address: w.address.clone(),
                running_tasks: w.running_tasks,
                slots: w.slots,
                draining: w.draining,
                tasks_launched: w.tasks_launched,
                memory_used: w.memory_used,
                last_heartbeat: w.last_seen.elapsed(),
            })
            .collect();
        all.sort_by(|a, b| a.address.cmp(&b.address));
        all
    }

    /// Whether the worker at `address` stopped heartbeating (and has not
    /// registered again since).
    pub fn went_silent(&self, address: &str) -> bool {
        self.expire();
        self.silent.read().contains(address)
    }

    /// Forgets workers whose heartbeats stopped.
    pub fn expire(&self) {
        let timeout = self.timeout;
        let mut workers = self.workers.write();
        let mut silent = self.silent.write();
        workers.retain(|id, w| {
            let alive = w.last_seen.elapsed() <= timeout;
            if !alive {
                silent.insert(w.address.clone());
                tracing::warn!(worker_id = %id, address = %w.address, "worker forgotten: missed heartbeats");
            }
            alive
        });
    }
}
