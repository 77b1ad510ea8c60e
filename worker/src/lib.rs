//! A Hayate worker: a stateless process that runs plan fragments (tasks) it
//! is given and serves their output partitions over Arrow Flight, to other
//! workers and to the coordinator. It keeps no state between queries beyond
//! caches: every task carries its plan, settings and input locations.

pub mod control;
pub mod coordinator_links;
pub mod coordinators;
pub mod cpu_runtime;
pub mod lifecycle;
pub mod membership;
pub mod memory;
pub mod partitions;
pub mod registry;
pub mod replay;
pub mod report;
pub mod server;
pub mod service;
pub mod status;
pub mod task;

pub use coordinators::CoordinatorTargets;
pub use memory::MemoryLimits;
pub use server::{WorkerConfig, WorkerHandle, start_worker};
