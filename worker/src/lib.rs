//! A Hayate worker: a stateless process that runs plan fragments (tasks) it
//! is given and serves their output partitions over Arrow Flight, to other
//! workers and to the coordinator. It keeps no state between queries beyond
//! caches: every task carries its plan, settings and input locations.

pub mod control;
pub mod cpu_runtime;
pub mod error;
pub mod exchange_client;
pub mod membership;
pub mod memory;
pub mod partitions;
pub mod peer_loss;
pub mod registry;
pub mod replay;
pub mod report;
pub mod server;
pub mod service;
pub mod status;
pub mod task;
pub mod wire;

pub use exchange_client::{Channels, FlightPartitionFetcher, flight_client};
pub use memory::MemoryLimits;
pub use partitions::LocalPeers;
pub use peer_loss::{lost_worker, name_peer};
pub use server::{WorkerConfig, WorkerHandle, start_worker};
