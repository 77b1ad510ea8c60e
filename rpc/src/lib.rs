//! How Hayate processes call each other, the same on both sides of every
//! call: one shared connection per peer ([`Channels`]), typed clients of the
//! control services and of Flight with the cluster secret on every call,
//! errors that keep their kind across the wire ([`wire_error`]), a lost
//! worker told apart from a failed query ([`peer_loss`]), and the Flight
//! stream that moves partitions ([`flight_encoding`], [`fetcher`]).
//! The coordinator and the workers both build on it; neither imports the
//! other.

pub mod channels;
pub mod fetcher;
pub mod flight_encoding;
pub mod local_peers;
pub mod peer_loss;
pub mod wire_error;

pub use channels::{Channels, ControlClient, InternalClient, flight_client};
pub use fetcher::FlightPartitionFetcher;
pub use flight_encoding::flight_encode;
pub use local_peers::{LocalPartitions, LocalPeers};
pub use peer_loss::{WorkerLost, call_failed, lost_worker, task_missing};
pub use wire_error::{from_status, to_status};
