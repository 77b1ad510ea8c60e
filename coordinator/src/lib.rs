//! Hayate's coordinator: the Flight SQL server clients talk to. It owns the
//! catalog and sessions, plans SQL with DataFusion, cuts plans into stages,
//! places tasks on the live workers, and streams the root stage to the
//! client.

pub mod admission;
pub mod analyze;
pub mod attempts;
pub mod auth;
pub mod catalog;
pub mod catalog_log;
pub mod catalog_seal;
pub mod catalog_sync;
pub mod cleanup;
pub mod engine;
pub mod error;
pub mod file_table;
pub mod flight_sql;
pub mod fresh_listing;
pub mod gate;
pub mod load;
pub mod membership;
pub mod membership_service;
pub mod metrics;
pub mod parameters;
mod partition_pruning;
pub mod planning;
pub mod query;
pub mod query_history;
pub mod query_insight;
pub mod registry;
pub mod scheduler;
mod schema_sample;
pub mod server;
pub mod session;
pub mod session_options;
pub mod sql_metadata;
pub mod status;
pub mod stopping;
pub mod system_tables;
mod table_listing;
pub mod time_partitions;
pub mod web_ui;

pub use catalog::Catalog;
pub use engine::QueryLimits;
pub use server::{
    AuthConfig, CoordinatorConfig, CoordinatorHandle, StorageConfig, start_coordinator,
};
pub use session::SESSION_HEADER;
