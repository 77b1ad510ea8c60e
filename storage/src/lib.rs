//! Object storage for Hayate.
//!
//! Table locations are URLs (`file:///data/t/`, `s3://bucket/prefix/`). The
//! coordinator lists and plans with the store a location names; each task
//! carries the options of the stores its scans read, so a worker builds the
//! same store itself and reads the bytes with ranged GETs. Every store a query
//! touches is wrapped so that its requests, bytes and cache hits are counted
//! for that query alone.

mod cache;
mod counting;
mod error;
mod options;
mod profile;
mod redact;
mod registry;
mod runtime;
mod s3;
mod small_objects;
mod summary;
mod wrapped_registry;

pub use cache::{CacheKind, CountingCache, listing_cache_key};
pub use counting::{CountingStore, IoCounters, io_metric};
pub use error::StorageError;
pub use options::{StoreOptions, split_store_options};
pub use redact::{is_secret_key, redact_sql};
pub use registry::{Replaced, StoreRegistry, store_key};
pub use runtime::{counting_runtime, counting_runtime_with_memory};
pub use small_objects::SmallObjects;
pub use summary::{human_bytes, io_summary};
pub use wrapped_registry::WrappedRegistry;

/// What tasks report about their scans and output, beside the I/O
/// counters.
pub mod scan_metric {
    pub const OUTPUT_ROWS: &str = "output_rows";
    pub const CPU_NANOS: &str = "cpu_nanos";
    pub const ROWS_SCANNED: &str = "rows_scanned";
    pub const BYTES_SCANNED: &str = "bytes_scanned";
    pub const FILE_RANGES_READ: &str = "file_ranges_read";
    pub const FILE_RANGES_PRUNED: &str = "file_ranges_pruned";
    pub const ROW_GROUPS_TOTAL: &str = "row_groups_total";
    pub const ROW_GROUPS_PRUNED: &str = "row_groups_pruned";
    pub const PAGE_ROWS_PRUNED: &str = "page_index_rows_pruned";
    /// Bytes of Flight messages the task's output streams sent.
    pub const EXCHANGE_BYTES: &str = "exchange_bytes_sent";
    /// Rows the task read from exchanges (other tasks' output), and the
    /// bytes those rows hold in memory.
    pub const EXCHANGE_ROWS_IN: &str = "exchange_rows_received";
    pub const EXCHANGE_BYTES_IN: &str = "exchange_bytes_received";
    /// Record batches the task produced.
    pub const OUTPUT_BATCHES: &str = "output_batches";
    /// From the task's launch to its end (or to the report, while running).
    pub const WALL_NANOS: &str = "wall_nanos";
    /// What its operators spilled to disk under memory pressure.
    pub const SPILL_COUNT: &str = "spill_count";
    pub const SPILLED_BYTES: &str = "spilled_bytes";
}
