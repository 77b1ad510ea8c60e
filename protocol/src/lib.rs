//! The messages that cross the wire between Hayate's coordinator and its
//! workers. Both sides speak Arrow Flight: control messages are Flight
//! actions whose bodies are these `prost` structs, data moves as `DoGet`
//! streams of record batches.

pub mod actions;
pub mod messages;
pub mod transport;

pub use messages::*;
