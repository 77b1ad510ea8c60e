//! What the benchmark binaries share: how long to run and how to summarize.

use std::time::Duration;

use clap::Args;

/// Cluster size and repetitions, the same flags for every benchmark.
#[derive(Args, Debug, Clone)]
pub struct RunArgs {
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
    /// Timed runs per query and engine (after one warm-up run).
    #[arg(long, default_value_t = 3)]
    pub runs: usize,
    /// DataFusion target partitions, for both engines.
    #[arg(long, default_value_t = 2)]
    pub partitions: usize,
}

/// The median of `v` (the upper one of an even count).
pub fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}
