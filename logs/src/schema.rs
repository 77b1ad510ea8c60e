//! The columns of a log line. `dt` and `hour` are not stored in the files:
//! they are the Hive partition directories. `attributes` is a JSON object
//! per line (request, user, deployment, error details), as structured
//! loggers and shippers write them.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};

pub fn log_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new(
            "ts",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
        Field::new("host", DataType::Utf8, false),
        Field::new("service", DataType::Utf8, false),
        Field::new("level", DataType::Utf8, false),
        Field::new("method", DataType::Utf8, false),
        Field::new("path", DataType::Utf8, false),
        Field::new("status", DataType::Int32, false),
        Field::new("latency_ms", DataType::Float64, false),
        Field::new("bytes", DataType::Int64, false),
        Field::new("client_ip", DataType::Utf8, false),
        Field::new("user_agent", DataType::Utf8, false),
        Field::new("trace_id", DataType::Utf8, false),
        Field::new("message", DataType::Utf8, false),
        Field::new("attributes", DataType::Utf8, false),
    ]))
}
