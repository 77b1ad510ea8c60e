//! Hayate's own session settings, set like DataFusion's: `SET hayate.bytes_per_task = 0`.

use datafusion::common::config::ConfigExtension;
use datafusion::common::extensions_options;

extensions_options! {
    /// Settings that shape how a query is cut into stages and tasks.
    pub struct HayateOptions {
        /// Join build sides estimated at most this many bytes are broadcast
        /// to every task of the probe side, which then stays where it was
        /// scanned, instead of shuffling both inputs by the join keys
        /// (only for join types that allow it; 0 never broadcasts more
        /// than DataFusion's own choice). Not used with one worker, where
        /// nothing is shuffled over the network.
        pub broadcast_join_bytes: u64, default = 32 * 1024 * 1024
        /// Bytes of scan input one task should read before a second task is
        /// worth its start-up cost. Small inputs stay on one task, which keeps
        /// short queries fast (more workers must not make small queries slower).
        pub bytes_per_task: u64, default = 64 * 1024 * 1024
        /// Upper bound on tasks per stage; 0 means one task per live worker.
        pub max_tasks_per_stage: usize, default = 0
        /// A query running longer than this many seconds is stopped on
        /// every worker and fails with a timeout; 0 means the server's
        /// default (`--query-timeout-secs`).
        pub query_timeout_secs: u64, default = 0
        /// Memory, in bytes, the query may hold on each worker (sorts,
        /// aggregations and joins spill or fail past it, alone); 0 means
        /// the worker's default (`--query-memory-mb`).
        pub query_memory_limit: u64, default = 0
        /// How many times a query is run in all when workers are lost under
        /// it (killed, cut off, restarted); 1 never runs it again.
        pub query_attempts: usize, default = 3
        /// Result bytes the coordinator holds back from the client before
        /// the first batch is sent. While nothing has been sent, losing a
        /// worker costs only a rerun; once rows are out, it fails the query
        /// (they would be sent twice). 0 sends every batch at once.
        pub retry_buffer_bytes: u64, default = 16 * 1024 * 1024
        /// Whether text searches (`LIKE '%..%'`, `contains`, `strpos`,
        /// `matches`) skip row groups by the search index that
        /// `hayate index` builds; off, every file is read as if it had none.
        pub search_index: bool, default = true
    }
}

impl ConfigExtension for HayateOptions {
    const PREFIX: &'static str = "hayate";
}
