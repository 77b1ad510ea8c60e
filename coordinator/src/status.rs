//! What the coordinator shows on its HTTP status endpoint: ready once it
//! serves Flight SQL, and its metrics, read from the live state at each
//! scrape (queries by state, workers and their tasks, I/O totals).
//!
//! For an autoscaler: `hayate_queries_queued` (queries waiting for a slot)
//! and `hayate_cluster_tasks_running` against `hayate_cluster_task_slots`
//! (tasks on the workers against their CPUs) say when more workers help.

use std::sync::Arc;

use hayate_ops_http::prometheus_client::metrics::family::Family;
use hayate_ops_http::prometheus_client::metrics::gauge::Gauge;
use hayate_ops_http::prometheus_client::registry::Registry;
use hayate_ops_http::{
    Readiness, StatusSource, counter, encode, gauge, labelled_counter, register_io_totals,
};

use crate::engine::QueryEngine;
use crate::membership::Membership;

pub struct CoordinatorStatus {
    pub engine: Arc<QueryEngine>,
    pub membership: Arc<Membership>,
}

type Labels = Vec<(String, String)>;

impl StatusSource for CoordinatorStatus {
    fn readiness(&self) -> Readiness {
        let workers = self.membership.live().len();
        // Ready even with no workers: clients get a clear "no live
        // workers" error, and workers find the coordinator through the
        // very Service this gates.
        Readiness::Ready(format!("serving; {workers} live workers"))
    }

    fn metrics(&self) -> String {
        let mut registry = Registry::with_prefix("hayate");
        let load = self.engine.load();
        gauge(
            &mut registry,
            "queries_running",
            "Queries running now",
            load.running as u64,
        );
        gauge(
            &mut registry,
            "queries_queued",
            "Queries waiting for a slot",
            load.queued as u64,
        );
        gauge(
            &mut registry,
            "queries_max_running",
            "Queries that may run at once (--max-concurrent-queries)",
            load.max_running as u64,
        );
        self.engine.query_metrics().register(&mut registry);

        let workers = self.membership.all();
        let live: Vec<_> = workers.iter().filter(|w| !w.draining).collect();
        gauge(
            &mut registry,
            "workers_live",
            "Workers taking tasks",
            live.len() as u64,
        );
        gauge(
            &mut registry,
            "workers_draining",
            "Workers shutting down: finishing their tasks, taking no new ones",
            (workers.len() - live.len()) as u64,
        );
        gauge(
            &mut registry,
            "cluster_tasks_running",
            "Tasks running on all workers, as of their last heartbeat",
            workers.iter().map(|w| u64::from(w.running_tasks)).sum(),
        );
        gauge(
            &mut registry,
            "cluster_task_slots",
            "CPUs of the workers taking tasks",
            live.iter().map(|w| u64::from(w.slots)).sum(),
        );
        let info = Family::<Labels, Gauge>::default();
        info.get_or_create(&vec![(
            "coordinator_id".to_string(),
            self.membership.coordinator_id.clone(),
        )])
        .set(1);
        registry.register(
            "coordinator_info",
            "This coordinator process, by the id its workers know it by (new at every start)",
            info,
        );
        let per_worker = Family::<Labels, Gauge>::default();
        for w in &workers {
            per_worker
                .get_or_create(&vec![
                    ("worker".to_string(), w.address.clone()),
                    ("draining".to_string(), w.draining.to_string()),
                ])
                .set(w.running_tasks as i64);
        }
        registry.register(
            "worker_tasks_running",
            "Tasks running per worker, as of its last heartbeat",
            per_worker,
        );
        labelled_counter(
            &mut registry,
            "worker_tasks_launched",
            "Tasks each live worker has accepted since it started, as of its last heartbeat",
            "worker",
            workers
                .iter()
                .map(|w| (w.address.clone(), w.tasks_launched)),
        );

        let (totals, reruns) = self.engine.registry().totals();
        counter(
            &mut registry,
            "query_reruns",
            "Query runs abandoned and started again because a worker was lost",
            reruns,
        );
        register_io_totals(
            &mut registry,
            &totals,
            "exchange_bytes",
            "by every query (planning and tasks)",
        );
        encode(&registry)
    }
}
