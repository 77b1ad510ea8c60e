//! Hayate's benchmarks: the pieces `hayate-bench` is made of (engines,
//! workloads, measurements, reports) and what the chaos run shares with it.

pub mod cluster;
pub mod concurrency;
pub mod duckdb;
pub mod engine;
pub mod exchange;
pub mod floor;
pub mod freshness;
pub mod process;
pub mod report;
pub mod scale;
pub mod search;
pub mod small_files;
pub mod stats;
pub mod suite;
pub mod workload;
