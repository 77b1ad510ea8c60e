//! Names of the Flight actions Hayate uses internally.

/// Coordinator → worker: run one task (body: [`crate::LaunchTask`]).
pub const LAUNCH_TASK: &str = "hayate.launch_task";
/// Coordinator → worker: stop and forget every task of a query
/// (body: [`crate::QueryRef`]); answers with a [`crate::QueryTasksReport`].
pub const CANCEL_QUERY: &str = "hayate.cancel_query";
/// Worker → coordinator: join the cluster (body: [`crate::WorkerAnnouncement`]).
pub const REGISTER: &str = "hayate.register";
/// Worker → coordinator: still alive (body: [`crate::WorkerAnnouncement`]).
pub const HEARTBEAT: &str = "hayate.heartbeat";
/// Client → coordinator: what a query did (body: [`crate::QueryRef`], the
/// statement handle of its ticket); answers with a [`crate::QueryStats`]
/// once the query's workers have reported, or after a few seconds.
pub const QUERY_STATS: &str = "hayate.query_stats";
/// Client → coordinator: where a running query is now (body:
/// [`crate::QueryRef`]); answers at once with a [`crate::QueryProgress`].
pub const QUERY_PROGRESS: &str = "hayate.query_progress";
/// Operator → worker (a Kubernetes preStop hook, `hayate drain`): stop
/// taking tasks and answer once the running ones finish or the grace
/// period (body: seconds as decimal text) ends; answers with the number of
/// tasks still running, as text.
pub const DRAIN: &str = "hayate.drain";
