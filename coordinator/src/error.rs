//! The coordinator's errors, and how each reaches a client as a Flight status.

use datafusion::error::DataFusionError;
use tonic::Status;

use crate::catalog_log::CatalogLogError;

#[derive(Debug, thiserror::Error)]
pub enum CoordinatorError {
    #[error(
        "no live workers: start one with `hayate worker --coordinator <this coordinator's URL>`"
    )]
    NoWorkers,
    #[error("unknown or expired statement handle {0:?}")]
    UnknownStatement(String),
    #[error("server busy: {running} queries running and {queued} waiting; try again shortly")]
    Busy { running: usize, queued: usize },
    #[error("the coordinator is shutting down")]
    ShuttingDown,
    /// A statement that could not be planned. Planning reads metadata and
    /// runs DDL, so an execution error raised there (a function given the
    /// wrong arguments, a table that already exists or does not) is the
    /// statement's fault, not the server's.
    #[error("{0}")]
    Planning(DataFusionError),
    /// Stopped from outside its stream: cancelled or timed out.
    #[error("{0}")]
    Stopped(crate::query::StopReason),
    #[error("{0}")]
    DataFusion(#[from] DataFusionError),
    #[error("{}", .0.message())]
    Status(Status),
    /// The shared catalog refused a change or could not be reached.
    #[error("{0}")]
    Catalog(crate::catalog_log::CatalogLogError),
}

impl From<CoordinatorError> for Status {
    fn from(err: CoordinatorError) -> Self {
        match err {
            CoordinatorError::NoWorkers => Status::unavailable(err.to_string()),
            CoordinatorError::UnknownStatement(_) => Status::not_found(err.to_string()),
            CoordinatorError::Busy { .. } => Status::resource_exhausted(err.to_string()),
            CoordinatorError::ShuttingDown => Status::unavailable(err.to_string()),
            CoordinatorError::Planning(e) => match e.find_root() {
                DataFusionError::Execution(_) => Status::invalid_argument(e.strip_backtrace()),
                _ => hayate_rpc::to_status(&e),
            },
            CoordinatorError::Stopped(reason) => match reason {
                crate::query::StopReason::Cancelled { .. } => Status::cancelled(reason.to_string()),
                crate::query::StopReason::TimedOut(_) => {
                    Status::deadline_exceeded(reason.to_string())
                }
            },
            CoordinatorError::DataFusion(e) => hayate_rpc::to_status(&e),
            CoordinatorError::Status(s) => s,
            CoordinatorError::Catalog(e) => match e {
                CatalogLogError::Refused(_) => Status::already_exists(e.to_string()),
                CatalogLogError::Busy(_) => Status::aborted(e.to_string()),
                CatalogLogError::Store(_) => Status::unavailable(e.to_string()),
                CatalogLogError::Corrupt { .. } => Status::internal(e.to_string()),
            },
        }
    }
}
