//! Errors on the wire keep their kind: a DataFusion error becomes the gRPC
//! status code that says what went wrong, and a status that arrived from
//! another Hayate process passes through unchanged (code and message), so a
//! client sees the same error whichever worker hit it.

use std::error::Error;

use datafusion::arrow::error::ArrowError;
use datafusion::error::DataFusionError;
use datafusion::parquet::errors::ParquetError;
use tonic::{Code, Status};

/// The gRPC status for a DataFusion error.
pub fn to_status(err: &DataFusionError) -> Status {
    if let Some(status) = find_status(err) {
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

/// A status that crossed the wire, wrapped for DataFusion's error type.
pub fn from_status(status: Status) -> DataFusionError {
    DataFusionError::External(Box::new(status))
}

/// The innermost gRPC status in an error chain, if any.
pub(crate) fn find_status(err: &DataFusionError) -> Option<&Status> {
    let mut current: &dyn Error = err;
    loop {
        if let Some(status) = current.downcast_ref::<Status>() {
            return Some(status);
        }
        if let Some(DataFusionError::External(inner)) = current.downcast_ref::<DataFusionError>()
            && let Some(status) = inner.downcast_ref::<Status>()
        {
            return Some(status);
        }
        current = current.source()?;
    }
}
