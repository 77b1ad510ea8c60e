//! Errors on the wire keep their kind: a DataFusion error becomes the gRPC
//! status code that says what went wrong, and a status that arrived from
//! another Hayate process passes through unchanged (code and message), so a
//! client sees the same error whichever worker hit it. A lost worker
//! crosses the wire marked as one and is a [`WorkerLost`] again on the
//! other side.

use std::error::Error;

use datafusion::arrow::error::ArrowError;
use datafusion::error::DataFusionError;
use datafusion::parquet::errors::ParquetError;
use tonic::{Code, Status};

use crate::peer_loss::WorkerLost;

/// The gRPC status for a DataFusion error.
pub fn to_status(err: &DataFusionError) -> Status {
    if let Some(lost) = find::<WorkerLost>(err) {
        return lost.to_status();
    }
    if let Some(status) = find::<Status>(err) {
        return status.clone();
    }
    let message = err.strip_backtrace();
    let code = match err.find_root() {
        DataFusionError::SQL(..) | DataFusionError::Plan(_) | DataFusionError::SchemaError(..) => {
            Code::InvalidArgument
        }
        DataFusionError::NotImplemented(_) => Code::Unimplemented,
        DataFusionError::ResourcesExhausted(_) => Code::ResourceExhausted,
        DataFusionError::ObjectStore(e) if matches!(**e, object_store::Error::NotFound { .. }) => {
            Code::NotFound
        }
        DataFusionError::IoError(e) if e.kind() == std::io::ErrorKind::NotFound => Code::NotFound,
        // What the statement asked of the data: a value that does not
        // parse or cast, a division by zero, an overflow.
        DataFusionError::ArrowError(e, _) => match **e {
            ArrowError::ParseError(_)
            | ArrowError::CastError(_)
            | ArrowError::InvalidArgumentError(_)
            | ArrowError::DivideByZero
            | ArrowError::ArithmeticOverflow(_) => Code::InvalidArgument,
            ArrowError::NotYetImplemented(_) => Code::Unimplemented,
            _ => Code::Internal,
        },
        DataFusionError::ParquetError(e) if matches!(**e, ParquetError::NYI(_)) => {
            Code::Unimplemented
        }
        DataFusionError::Execution(_) | DataFusionError::ParquetError(_) => Code::Internal,
        _ => Code::Internal,
    };
    Status::new(code, message)
}

/// A status that crossed the wire (or was made here), as DataFusion's
/// error: a lost worker becomes a [`WorkerLost`] again, any other status is
/// kept as it came.
pub fn from_status(status: Status) -> DataFusionError {
    match WorkerLost::from_wire(&status) {
        Some(lost) => DataFusionError::External(Box::new(lost)),
        None => DataFusionError::External(Box::new(status)),
    }
}

/// The innermost error of type `E` in an error chain, if any.
pub(crate) fn find<E: Error + 'static>(err: &DataFusionError) -> Option<&E> {
    let mut current: &dyn Error = err;
    loop {
        if let Some(found) = current.downcast_ref::<E>() {
            return Some(found);
        }
        if let Some(DataFusionError::External(inner)) = current.downcast_ref::<DataFusionError>()
            && let Some(found) = inner.downcast_ref::<E>()
        {
            return Some(found);
        }
        current = current.source()?;
    }
}
