//! The messages that cross the wire between Hayate's coordinator and its
//! workers. Both sides speak Arrow Flight: control messages are Flight
//! actions whose bodies are these `prost` structs, data moves as `DoGet`
//! streams of record batches. The metadata keys that clients and Hayate
//! processes set on calls are in [`headers`].

pub mod actions;
pub mod attempt;
pub mod cluster_secret;
pub mod headers;
pub mod messages;
pub mod ticket;
pub mod transport;

pub use cluster_secret::ClusterSecret;
pub use messages::*;
pub use ticket::StatementTicket;
