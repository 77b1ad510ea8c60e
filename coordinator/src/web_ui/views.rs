//! What the web UI's JSON endpoints answer: plain views of the registry and
//! membership, shaped for the page.

use std::time::SystemTime;

use serde::Serialize;

use crate::engine::QueryEngine;
use crate::query::{Query, QuerySummary, StageProgress};
use crate::registry::QueryRegistry;

#[derive(Serialize)]
pub struct Cluster {
    pub workers: Vec<Worker>,
    pub slots: u32,
    pub tasks_running: u32,
    pub queries_running: usize,
    pub queries_queued: usize,
    pub max_running: usize,
}

#[derive(Serialize)]
pub struct Worker {
    pub address: String,
    pub state: &'static str,
    pub slots: u32,
    pub running_tasks: u32,
    pub memory_bytes: u64,
    pub last_heartbeat_ms: u64,
}

#[derive(Serialize)]
pub struct QueryRow {
    pub id: String,
    pub user: String,
    pub sql: String,
    pub state: &'static str,
    pub submitted_ms: u64,
    pub elapsed_ms: u64,
    pub rows: u64,
    pub bytes_scanned: u64,
    pub attempts: u32,
    pub error: Option<String>,
}

#[derive(Serialize)]
pub struct QueryPage {
    #[serde(flatten)]
    pub query: QueryRow,
    pub stages_done: u32,
    pub stages: Vec<StageProgress>,
}

pub fn cluster(engine: &QueryEngine) -> Cluster {
    let load = engine.load();
    let workers: Vec<Worker> = engine
        .membership()
        .all()
        .into_iter()
        .map(|w| Worker {
            state: if w.draining { "draining" } else { "active" },
            address: w.address,
            slots: w.slots,
            running_tasks: w.running_tasks,
            memory_bytes: w.memory_used,
            last_heartbeat_ms: w.last_heartbeat.as_millis() as u64,
        })
        .collect();
    Cluster {
        slots: workers
            .iter()
            .filter(|w| w.state == "active")
            .map(|w| w.slots)
            .sum(),
        tasks_running: workers.iter().map(|w| w.running_tasks).sum(),
        workers,
        queries_running: load.running,
        queries_queued: load.queued,
        max_running: load.max_running,
    }
}

pub fn queries(registry: &QueryRegistry) -> Vec<QueryRow> {
    registry.list().iter().map(|q| row(q.summary())).collect()
}

pub fn query(query: &Query) -> QueryPage {
    let stages = query.stages();
    QueryPage {
        query: row(query.summary()),
        stages_done: stages.iter().filter(|s| s.done).count() as u32,
        stages,
    }
}

fn row(q: QuerySummary) -> QueryRow {
    QueryRow {
        state: q.state.name(),
        error: q.state.error().map(str::to_string),
        submitted_ms: q
            .submitted
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0),
        elapsed_ms: q.elapsed.as_millis() as u64,
        bytes_scanned: q
            .totals
            .get(hayate_storage::scan_metric::BYTES_SCANNED)
            .copied()
            .unwrap_or(0),
        id: q.id,
        user: q.user,
        sql: q.sql,
        rows: q.rows,
        attempts: q.attempts,
    }
}
