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

pub use cache::{CacheKind, CountingCache};
pub use counting::{CountingRegistry, CountingStore, IoCounters, io_metric};
pub use error::StorageError;
pub use options::{StoreOptions, split_store_options};
pub use redact::{is_secret_key, redact_sql};
pub use registry::{Replaced, StoreRegistry, store_key};
pub use runtime::counting_runtime;
