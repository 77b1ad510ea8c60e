//! The messages that cross the wire between Hayate's coordinator, its
//! workers and its clients. Control calls are typed gRPC services
//! ([`control`]) whose messages are these `prost` structs; data moves as
//! Arrow Flight `DoGet` streams of record batches. The metadata keys that
//! clients and Hayate processes set on calls are in [`headers`].

pub mod actions;
pub mod cluster_secret;
pub mod control;
pub mod headers;
pub mod messages;
pub mod task_id;
pub mod ticket;
pub mod transport;

pub use cluster_secret::ClusterSecret;
pub use control::{Drain, Drained, TaskLaunched};
pub use messages::*;
pub use task_id::{QueryRun, TaskId};
pub use ticket::StatementTicket;
