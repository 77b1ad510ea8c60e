//! Log data for Hayate: a generator of web-server and application logs
//! (skewed like real ones: hot paths, mostly 2xx, bursts of 5xx during
//! incidents, long-tail latencies), written as Parquet partitioned by
//! `dt=YYYY-MM-DD/hour=HH/`, sorted by time, with statistics, page indexes
//! and bloom filters; and the suite of typical log questions.

mod generate;
mod model;
mod queries;
mod schema;

pub use generate::{GenerateError, LogSpec, Written, generate};
pub use model::PROBE_TRACE_ID;
pub use queries::{JSON_SUITE, LogQuery, SUITE, TIME_COLUMN, create_table_sql};
pub use schema::log_schema;
