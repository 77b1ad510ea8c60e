//! Batches as they go on the wire.
//!
//! A string-view column (`Utf8View`, as Parquet scans produce) points into
//! shared data buffers, and Arrow IPC writes every buffer a column refers to.
//! After a filter, limit or a slice, a few rows can still reference megabytes
//! of strings: 20 result rows became a 6 MB message. Compacting such columns
//! before encoding keeps messages proportional to the rows they carry (and
//! below gRPC message limits).

use std::sync::Arc;

use arrow_flight::encode::{DictionaryHandling, FlightDataEncoderBuilder};
use arrow_flight::error::FlightError;
use arrow_flight::{FlightData, SchemaAsIpc};
use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, Schema, SchemaRef};
use datafusion::arrow::ipc::writer::IpcWriteOptions;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::error::DataFusionError;
use futures::stream::BoxStream;
use futures::{Stream, StreamExt, TryStreamExt};
use hayate_protocol::transport::TARGET_FLIGHT_MESSAGE_BYTES;
use tonic::Status;

use crate::wire_error::to_status;

/// Buffers smaller than this are sent as they are.
const MIN_WASTE_BYTES: usize = 64 * 1024;

/// `batch` with view columns compacted where they carry mostly unused bytes.
pub fn compact_for_wire(batch: RecordBatch) -> RecordBatch {
    let needs = batch.columns().iter().any(|c| wasteful_view(c).is_some());
    if !needs {
        return batch;
    }
    let columns: Vec<ArrayRef> = batch
        .columns()
        .iter()
        .map(|c| wasteful_view(c).unwrap_or_else(|| Arc::clone(c)))
        .collect();
    RecordBatch::try_new(batch.schema(), columns).unwrap_or(batch)
}

/// The compacted column, if `column` is a view column worth compacting.
fn wasteful_view(column: &ArrayRef) -> Option<ArrayRef> {
    let (held, used) = match column.data_type() {
        DataType::Utf8View => {
            let a = column.as_string_view();
            (
                a.data_buffers().iter().map(|b| b.len()).sum::<usize>(),
                a.total_buffer_bytes_used(),
            )
        }
        DataType::BinaryView => {
            let a = column.as_binary_view();
            (
                a.data_buffers().iter().map(|b| b.len()).sum::<usize>(),
                a.total_buffer_bytes_used(),
            )
        }
        _ => return None,
    };
    if held < MIN_WASTE_BYTES || held < 2 * used {
        return None;
    }
    Some(match column.data_type() {
        DataType::Utf8View => Arc::new(column.as_string_view().gc()),
        _ => Arc::new(column.as_binary_view().gc()),
    })
}

/// Encodes a stream of batches as Flight data: view columns compacted,
/// batches split to about [`TARGET_FLIGHT_MESSAGE_BYTES`] per message, and
/// errors as statuses that keep their kind.
///
/// Every reader gets the exact types the plan declared, dictionaries
/// included ([`DictionaryHandling::Resend`]): a consuming plan expects them
/// (a Hive partition column is a dictionary, and a hydrated column breaks
/// its row conversion), and a client is owed the types single-node
/// DataFusion would answer with.
pub fn flight_encode(
    schema: SchemaRef,
    batches: impl Stream<Item = Result<RecordBatch, DataFusionError>> + Send + 'static,
) -> BoxStream<'static, Result<FlightData, Status>> {
    let batches = batches
        .map_ok(compact_for_wire)
        .map_err(|e| FlightError::Tonic(Box::new(to_status(&e))));
    let mut exact_schema = Some(schema_message(&schema));
    FlightDataEncoderBuilder::new()
        .with_dictionary_handling(DictionaryHandling::Resend)
        .with_schema(schema)
        .with_max_flight_data_size(TARGET_FLIGHT_MESSAGE_BYTES)
        .build(batches)
        .map_err(Status::from)
        // The encoder's first message is its schema, written before any
        // batch; it is replaced by the stream's own.
        .map(move |message| match exact_schema.take() {
            Some(exact) => message.map(|_| exact),
            None => message,
        })
        .boxed()
}

/// The schema message for `schema`, as the batches that follow it are
/// written. arrow-flight 59's encoder writes a `LargeList` column as a
/// `List` in its schema message while the batches keep their 64-bit offsets
/// (apache/arrow-rs#10291, fixed after 59): a reader would take them for
/// 32-bit ones. Dictionary ids agree with the encoder's: both number a
/// schema's dictionaries depth first from zero.
fn schema_message(schema: &Schema) -> FlightData {
    SchemaAsIpc::new(schema, &IpcWriteOptions::default()).into()
}
