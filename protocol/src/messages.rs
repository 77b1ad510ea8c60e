//! Message bodies. Plain `prost` structs: no `.proto` files and no `protoc`.

/// One task of one stage of one query.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LaunchTask {
    #[prost(string, tag = "1")]
    pub query_id: String,
    #[prost(uint32, tag = "2")]
    pub stage_id: u32,
    #[prost(uint32, tag = "3")]
    pub task_id: u32,
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
    #[prost(string, tag = "1")]
    pub query_id: String,
    #[prost(uint32, tag = "2")]
    pub stage_id: u32,
    #[prost(uint32, tag = "3")]
    pub task_id: u32,
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
}
