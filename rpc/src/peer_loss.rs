//! Telling a lost worker apart from a failed query.
//!
//! When a worker dies, is cut off or restarts, whoever was calling it (the
//! coordinator or another worker) sees a transport error, or a "task not
//! running" answer from the new process at the same address. Where such a
//! call returns, [`call_failed`] turns it into a [`WorkerLost`], once; every
//! other failure stays the status the peer sent. Inside a process the loss
//! is that type; between processes it travels as an Unavailable status that
//! names the worker in its metadata, and becomes a [`WorkerLost`] again on
//! the other side. So the coordinator can tell "worker X is gone, run the
//! query again without it" from an error that would happen again on any
//! worker (bad data, out of memory, ...), however many workers passed the
//! error on.

use datafusion::error::DataFusionError;
use tonic::metadata::MetadataValue;
use tonic::{Code, Status};

use crate::wire_error::find;

/// Status metadata naming the worker whose loss caused the error: how a
/// [`WorkerLost`] crosses the wire.
const LOST_WORKER_KEY: &str = "x-hayate-lost-worker";

/// Status metadata a worker sets when asked for a task it does not hold
/// (it restarted, or the task was never launched there).
const TASK_MISSING_KEY: &str = "x-hayate-task-missing";

/// A worker that is gone: it cannot be reached, its connection broke, it
/// restarted without the task asked for, or it stopped sending heartbeats.
/// A query that meets one may run again without it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct WorkerLost {
    /// The lost worker's address.
    pub worker: String,
    /// What the caller saw; names the worker.
    pub message: String,
}

impl WorkerLost {
    pub fn new(worker: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            worker: worker.into(),
            message: message.into(),
        }
    }

    /// As it crosses the wire.
    pub fn to_status(&self) -> Status {
        let mut status = Status::unavailable(self.message.clone());
        if let Ok(value) = self.worker.parse() {
            status.metadata_mut().insert(LOST_WORKER_KEY, value);
        }
        status
    }

    /// The loss a status that crossed the wire marks, if it marks one.
    pub(crate) fn from_wire(status: &Status) -> Option<Self> {
        let worker = status.metadata().get(LOST_WORKER_KEY)?.to_str().ok()?;
        Some(Self::new(worker, status.message()))
    }
}

impl From<WorkerLost> for DataFusionError {
    fn from(lost: WorkerLost) -> Self {
        DataFusionError::External(Box::new(lost))
    }
}

/// The "task not running here" answer.
pub fn task_missing(what: impl std::fmt::Display) -> Status {
    let mut status = Status::not_found(format!("{what} is not running on this worker"));
    status
        .metadata_mut()
        .insert(TASK_MISSING_KEY, MetadataValue::from_static("1"));
    status
}

/// What a failed call to the peer at `address` means, decoded where the
/// call returns: the peer is gone ([`WorkerLost`]: this one, or one the
/// peer itself lost and passed on), or the peer answered with an error,
/// kept with its code.
pub fn call_failed(status: Status, address: &str) -> DataFusionError {
    if let Some(passed_on) = WorkerLost::from_wire(&status) {
        return passed_on.into();
    }
    let message = if !status.message().contains(address) {
        format!("worker {address}: {}", status.message())
    } else {
        status.message().to_string()
    };
    if peer_gone(&status) {
        return WorkerLost::new(address, message).into();
    }
    // Errors about reaching the peer say which peer.
    let about_the_call = matches!(
        status.code(),
        Code::Unknown | Code::Cancelled | Code::DeadlineExceeded
    );
    if !about_the_call {
        return DataFusionError::External(Box::new(status));
    }
    let named = Status::with_metadata(status.code(), message, status.metadata().clone());
    DataFusionError::External(Box::new(named))
}

/// Whether a failed call means the peer itself is gone: the connection could
/// not be made or broke (an error made locally by the transport, which has a
/// source; a status the peer sent has none), or the peer no longer holds the
/// task.
fn peer_gone(status: &Status) -> bool {
    if status.metadata().contains_key(TASK_MISSING_KEY) {
        return true;
    }
    match status.code() {
        Code::Unavailable => true,
        Code::Unknown | Code::Internal | Code::Cancelled => {
            std::error::Error::source(status).is_some()
        }
        _ => false,
    }
}

/// The worker loss that caused `err`, if that is what caused it.
pub fn lost_worker(err: &DataFusionError) -> Option<&WorkerLost> {
    find::<WorkerLost>(err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire_error::{from_status, to_status};

    fn lost(err: &DataFusionError) -> Option<&str> {
        lost_worker(err).map(|l| l.worker.as_str())
    }

    #[test]
    fn a_status_the_peer_sent_is_not_a_loss() {
        let err = call_failed(Status::internal("bad parquet"), "http://w:1");
        assert_eq!(lost(&err), None);
        assert_eq!(to_status(&err).code(), Code::Internal);
    }

    #[test]
    fn refused_connections_and_missing_tasks_are_losses() {
        let refused = call_failed(Status::unavailable("tcp connect error"), "http://w:1");
        assert_eq!(lost(&refused), Some("http://w:1"));
        assert!(refused.to_string().contains("http://w:1"));
        let missing = call_failed(task_missing("q/1/0"), "http://w:2");
        assert_eq!(lost(&missing), Some("http://w:2"));
        assert_eq!(to_status(&missing).code(), Code::Unavailable);
    }

    #[test]
    fn a_loss_crosses_the_wire_and_the_first_lost_worker_is_kept() {
        let from_a = call_failed(Status::unavailable("reset"), "http://a:1");
        // Worker b serves the error to its reader, which calls b.
        let via_b = call_failed(to_status(&from_a), "http://b:1");
        assert_eq!(lost(&via_b), Some("http://a:1"));
        let replayed = from_status(to_status(&via_b));
        assert_eq!(lost(&replayed), Some("http://a:1"));
    }
}
