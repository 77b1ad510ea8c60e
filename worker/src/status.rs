//! What a worker shows on its HTTP status endpoint: ready while the
//! coordinator knows it and it is not draining, and its metrics, read from
//! the task registry at each scrape.

use hayate_ops_http::prometheus_client::registry::Registry;
use hayate_ops_http::{Readiness, StatusSource, counter, encode, gauge, register_io_totals};

use crate::lifecycle::Lifecycle;
use crate::registry::TaskRegistry;

pub struct WorkerStatus {
    pub registry: TaskRegistry,
    pub lifecycle: Lifecycle,
    /// Whether this worker has a coordinator to register with.
    pub joins_coordinator: bool,
    pub slots: usize,
}

impl StatusSource for WorkerStatus {
    fn readiness(&self) -> Readiness {
        if self.lifecycle.is_draining() {
            Readiness::NotReady("draining: finishing its tasks, taking no new ones".into())
        } else if self.joins_coordinator && self.lifecycle.links.registered() == 0 {
            Readiness::NotReady("not registered with any coordinator".into())
        } else {
            Readiness::Ready(format!(
                "taking tasks; {} running",
                self.registry.running_tasks()
            ))
        }
    }

    fn metrics(&self) -> String {
        let r = &self.registry;
        let mut registry = Registry::with_prefix("hayate_worker");
        gauge(
            &mut registry,
            "tasks_running",
            "Tasks running now",
            r.running_tasks() as u64,
        );
        gauge(
            &mut registry,
            "task_slots",
            "CPUs this worker runs tasks on",
            self.slots as u64,
        );
        gauge(
            &mut registry,
            "draining",
            "1 while shutting down: finishing tasks, taking no new ones",
            self.lifecycle.is_draining() as u64,
        );
        let coordinators = self.lifecycle.links.registered();
        gauge(
            &mut registry,
            "registered",
            "1 while a coordinator knows this worker",
            u64::from(coordinators > 0),
        );
        gauge(
            &mut registry,
            "coordinators",
            "Coordinators that know this worker (it serves every one)",
            coordinators as u64,
        );
        gauge(
            &mut registry,
            "query_memory_bytes",
            "Memory reserved by queries' operators now",
            r.query_memory_in_use() as u64,
        );
        counter(
            &mut registry,
            "tasks_launched",
            "Tasks accepted",
            r.launched_total(),
        );
        let totals = r.totals();
        register_io_totals(
            &mut registry,
            &totals,
            "exchange_bytes_sent",
            "of tasks that ended here",
        );
        encode(&registry)
    }
}
