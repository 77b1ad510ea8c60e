//! Integration tests of the coordinator with real workers on loopback ports,
//! queried through a Flight SQL client. One test binary, one module a topic.

mod support;
mod tpch;
