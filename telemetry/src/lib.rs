//! What a Hayate process tells its operators while it runs: log lines,
//! as text for people or as JSON for log pipelines, that carry the query
//! and task they belong to; and OpenTelemetry traces of every query,
//! exported over OTLP/HTTP when an endpoint is configured. A query's trace
//! crosses processes: the coordinator puts its span context in the
//! metadata of the calls that launch tasks ([`inject`]) and the worker
//! makes its task spans children of it ([`adopt_parent`]), so one trace
//! spans the coordinator and every worker that ran a task of the query.

mod propagation;
mod setup;
mod streams;

pub use propagation::{adopt_parent, inject};
pub use setup::{LogFormat, Telemetry, TelemetryConfig, TelemetryError, init};
pub use streams::in_span;
