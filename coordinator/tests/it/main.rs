//! Integration tests of the coordinator with real workers on loopback ports,
//! queried through a Flight SQL client. One test binary, one module a topic.

mod cancel;
mod catalog_log;
mod compaction;
mod concurrency;
mod errors;
mod exchange_windows;
mod explain_analyze;
mod flight_sql;
mod fresh_data;
mod garbage;
mod joins;
mod limits;
mod log_functions;
mod logs;
mod membership;
mod message_size;
mod placement;
mod s3;
mod search_index;
mod security;
mod small_files;
mod status;
mod support;
mod system_tables;
mod tpcds;
mod tpch;
mod web_ui;
