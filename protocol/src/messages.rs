//! Message bodies. Plain `prost` structs: no `.proto` files and no `protoc`.

use crate::task_id::TaskId;

/// One task of one stage of one query.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LaunchTask {
    #[prost(message, required, tag = "1")]
    pub task: TaskId,
    /// The task's plan fragment, `datafusion-proto` encoded.
    #[prost(bytes = "vec", tag = "4")]
    pub plan: Vec<u8>,
    /// The query's session settings (`datafusion.*`), so that the worker
    /// runs the fragment exactly as the coordinator planned it.
    #[prost(message, repeated, tag = "5")]
    pub settings: Vec<Setting>,
    /// How many consumer tasks read every output partition: more than one
    /// only for a broadcast.
    #[prost(uint32, tag = "6")]
    pub consumers: u32,
    /// The object stores the task's scans read, with the options to build
    /// them (a worker holds no storage configuration of its own).
    #[prost(message, repeated, tag = "7")]
    pub stores: Vec<StoreConfig>,
    /// The coordinator whose query this is ([`MembershipAck::coordinator_id`]):
    /// a worker serves several coordinators, and when one is lost only its
    /// tasks are stopped. Empty for a task launched by hand (tests).
    #[prost(string, tag = "8")]
    pub coordinator_id: String,
}

impl LaunchTask {
    /// A task of `plan` read once, with no settings or stores of its own,
    /// launched outside any coordinator (tests and benchmarks launch such
    /// tasks by hand).
    pub fn of_plan(task: TaskId, plan: Vec<u8>) -> Self {
        Self {
            task,
            plan,
            settings: Vec::new(),
            consumers: 1,
            stores: Vec::new(),
            coordinator_id: String::new(),
        }
    }
}

/// One object store: `scheme://bucket` and its `aws.*` options. Options
/// may hold credentials given to a table: never log or display them.
#[derive(Clone, PartialEq, prost::Message)]
#[prost(skip_debug)]
pub struct StoreConfig {
    #[prost(string, tag = "1")]
    pub url: String,
    #[prost(btree_map = "string, string", tag = "2")]
    pub options: std::collections::BTreeMap<String, String>,
}

/// A worker's answer to `cancel_query`: how many tasks it stopped and the
/// counters of every task of the query it ran (finished or stopped).
#[derive(Clone, PartialEq, prost::Message)]
pub struct QueryTasksReport {
    #[prost(uint32, tag = "1")]
    pub stopped: u32,
    #[prost(message, repeated, tag = "2")]
    pub tasks: Vec<TaskReport>,
}

/// What one task did: rows out, time, object-store I/O and scan pruning,
/// by metric name.
#[derive(Clone, PartialEq, prost::Message)]
pub struct TaskReport {
    #[prost(message, required, tag = "1")]
    pub task: TaskId,
    #[prost(btree_map = "string, uint64", tag = "3")]
    pub metrics: std::collections::BTreeMap<String, u64>,
    /// The worker that ran it (`http://host:port`); filled in by the
    /// coordinator from the call the report came on.
    #[prost(string, tag = "5")]
    pub worker: String,
    /// Still running when reported: its metrics are so far, not final.
    #[prost(bool, tag = "6")]
    pub running: bool,
}

#[derive(Clone, PartialEq, Eq, Hash, prost::Message)]
pub struct Setting {
    #[prost(string, tag = "1")]
    pub key: String,
    #[prost(string, tag = "2")]
    pub value: String,
}

/// The `DoGet` ticket for one output partition of one task.
#[derive(Clone, PartialEq, Eq, Hash, prost::Message)]
pub struct PartitionTicket {
    /// The task that produces it.
    #[prost(message, required, tag = "1")]
    pub task: TaskId,
    #[prost(uint32, tag = "4")]
    pub partition: u32,
    /// Which consumer's copy, for a broadcast; 0 otherwise.
    #[prost(uint32, tag = "5")]
    pub consumer: u32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct QueryRef {
    #[prost(string, tag = "1")]
    pub query_id: String,
}

/// A worker telling the coordinator who and where it is.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WorkerAnnouncement {
    /// Unique per process start: a restarted worker is a new worker.
    #[prost(string, tag = "1")]
    pub worker_id: String,
    /// `http://host:port` where other processes reach its Flight service.
    #[prost(string, tag = "2")]
    pub address: String,
    #[prost(uint32, tag = "3")]
    pub running_tasks: u32,
    #[prost(uint32, tag = "4")]
    pub cpus: u32,
    /// The worker is shutting down: it finishes what it runs and takes no
    /// new tasks.
    #[prost(bool, tag = "5")]
    pub draining: bool,
    /// Tasks it has accepted since it started.
    #[prost(uint64, tag = "6")]
    pub tasks_launched: u64,
    /// Every task it holds now, running or finished and not yet collected,
    /// with its metrics so far: the coordinator's live view of progress.
    #[prost(message, repeated, tag = "7")]
    pub tasks: Vec<TaskReport>,
    /// Bytes its queries hold in memory now.
    #[prost(uint64, tag = "8")]
    pub memory_used: u64,
}

/// The coordinator's answer to a registration or heartbeat.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MembershipAck {
    #[prost(uint64, tag = "1")]
    pub heartbeat_interval_ms: u64,
    /// False when the coordinator did not know this worker (it restarted, or
    /// forgot the worker after missed heartbeats): the worker registers again.
    #[prost(bool, tag = "2")]
    pub known: bool,
    /// Unique per coordinator process start: a worker tells coordinators
    /// apart by it (several may share an address over time, and one
    /// restarted at the same address is a new one).
    #[prost(string, tag = "3")]
    pub coordinator_id: String,
}

impl std::fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys: Vec<&String> = self.options.keys().collect();
        f.debug_struct("StoreConfig")
            .field("url", &self.url)
            .field("option_keys", &keys)
            .finish()
    }
}

/// What a query did, for the client (`hayate.query_stats`) and `EXPLAIN
/// ANALYZE`: its I/O while planning (listing, statistics), each stage's
/// summed task metrics, and the totals.
#[derive(Clone, PartialEq, prost::Message)]
pub struct QueryStats {
    #[prost(string, tag = "1")]
    pub query_id: String,
    /// "running", "finished" or "failed".
    #[prost(string, tag = "2")]
    pub state: String,
    #[prost(uint64, tag = "3")]
    pub elapsed_ms: u64,
    #[prost(btree_map = "string, uint64", tag = "4")]
    pub planning: std::collections::BTreeMap<String, u64>,
    #[prost(message, repeated, tag = "5")]
    pub stages: Vec<StageStats>,
    #[prost(btree_map = "string, uint64", tag = "6")]
    pub total: std::collections::BTreeMap<String, u64>,
    /// How many times the query was run (more than 1 when workers were
    /// lost under it).
    #[prost(uint32, tag = "7")]
    pub attempts: u32,
    /// The workers whose loss made it run again, in order.
    #[prost(string, repeated, tag = "8")]
    pub lost_workers: Vec<String>,
    /// Where the query's time went on the coordinator.
    #[prost(message, optional, tag = "9")]
    pub timings: Option<QueryTimings>,
}

/// Where a query's time went on the coordinator, phase by phase, in
/// microseconds. Phases follow each other; together with the client's own
/// clock they show where a short query's latency comes from.
#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct QueryTimings {
    /// Parsing, logical and physical planning (during `GetFlightInfo`).
    #[prost(uint64, tag = "1")]
    pub plan_us: u64,
    /// Cutting the physical plan into stages and tasks.
    #[prost(uint64, tag = "2")]
    pub split_us: u64,
    /// From the end of planning to the client's `DoGet` (its round trip).
    #[prost(uint64, tag = "3")]
    pub ticket_wait_us: u64,
    /// Waiting for an admission slot.
    #[prost(uint64, tag = "4")]
    pub queued_us: u64,
    /// Building, encoding and launching every task (of the last run).
    #[prost(uint64, tag = "5")]
    pub launch_us: u64,
    /// From the tasks' launch to the first result batch.
    #[prost(uint64, tag = "6")]
    pub first_batch_us: u64,
    /// From the first result batch to the end of the result.
    #[prost(uint64, tag = "7")]
    pub stream_us: u64,
    /// Ending the tasks on the workers and collecting their reports; the
    /// client already has its whole answer by then.
    #[prost(uint64, tag = "8")]
    pub cleanup_us: u64,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct StageStats {
    #[prost(uint32, tag = "1")]
    pub stage_id: u32,
    /// Tasks that reported.
    #[prost(uint32, tag = "2")]
    pub tasks: u32,
    #[prost(btree_map = "string, uint64", tag = "3")]
    pub metrics: std::collections::BTreeMap<String, u64>,
    /// How each metric spread over the stage's tasks (skew shows as a max
    /// far above the median).
    #[prost(btree_map = "string, message", tag = "4")]
    pub spread: std::collections::BTreeMap<String, Spread>,
    /// Each task's own report, with the worker that ran it.
    #[prost(message, repeated, tag = "5")]
    pub task_reports: Vec<TaskReport>,
}

/// The smallest, median and largest of one metric over a stage's tasks.
#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct Spread {
    #[prost(uint64, tag = "1")]
    pub min: u64,
    #[prost(uint64, tag = "2")]
    pub median: u64,
    #[prost(uint64, tag = "3")]
    pub max: u64,
}

/// Where a query is now, cheap to ask for while it runs (`hayate.query_progress`):
/// what the CLI's progress line and the web UI show.
#[derive(Clone, PartialEq, prost::Message)]
pub struct QueryProgress {
    #[prost(string, tag = "1")]
    pub query_id: String,
    /// planned, queued, running, finished, failed or cancelled.
    #[prost(string, tag = "2")]
    pub state: String,
    #[prost(uint32, tag = "3")]
    pub attempt: u32,
    #[prost(uint32, tag = "4")]
    pub stages_total: u32,
    #[prost(uint32, tag = "5")]
    pub stages_done: u32,
    #[prost(uint32, tag = "6")]
    pub tasks_total: u32,
    #[prost(uint32, tag = "7")]
    pub tasks_running: u32,
    #[prost(uint32, tag = "8")]
    pub tasks_done: u32,
    #[prost(uint64, tag = "9")]
    pub rows_scanned: u64,
    #[prost(uint64, tag = "10")]
    pub bytes_scanned: u64,
    /// Rows sent to the client so far.
    #[prost(uint64, tag = "11")]
    pub rows_out: u64,
    #[prost(uint64, tag = "12")]
    pub elapsed_ms: u64,
}
