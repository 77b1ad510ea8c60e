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
        /// 0 derives it from the workers: `bytes_per_core` for each core of
        /// the smallest live worker.
        pub bytes_per_task: u64, default = 0
        /// Scan input per worker core that one task should read, where
        /// `bytes_per_task` is 0. A task's start-up cost is about fixed while
        /// what it reads takes time in proportion to its worker's speed, so
        /// a worker of 8 cores gets 64 MiB a task and one of 1 core 8 MiB:
        /// a cluster of small machines splits the same scan over more of
        /// them.
        pub bytes_per_core: u64, default = 8 * 1024 * 1024
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

impl HayateOptions {
    /// The scan input one task should read on workers of `worker_cores`
    /// cores (the smallest live worker's).
    pub fn task_bytes(&self, worker_cores: usize) -> u64 {
        match self.bytes_per_task {
            0 => self
                .bytes_per_core
                .saturating_mul(worker_cores.max(1) as u64),
            bytes => bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::HayateOptions;

    const MIB: u64 = 1024 * 1024;

    #[test]
    fn a_task_reads_bytes_per_core_for_each_core_of_the_smallest_worker_unless_set() {
        let derived = HayateOptions::default();
        assert_eq!(derived.task_bytes(8), 64 * MIB);
        assert_eq!(derived.task_bytes(2), 16 * MIB);
        assert_eq!(derived.task_bytes(1), 8 * MIB);
        assert_eq!(
            derived.task_bytes(0),
            8 * MIB,
            "a worker has a core at least"
        );
        let set = HayateOptions {
            bytes_per_task: 1,
            ..Default::default()
        };
        assert_eq!(set.task_bytes(8), 1);
    }
}
