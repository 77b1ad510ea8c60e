//! Telling a lost worker apart from a failed query.
//!
//! When a worker dies, is cut off or restarts, whoever was reading from it
//! (the coordinator or another worker) sees a transport error, or a
//! "task not running" answer from the new process at the same address.
//! Those errors, and only those, are marked with the lost worker's address
//! in the status metadata. The mark survives being passed on from worker to
//! worker (statuses cross the wire with their metadata), so the coordinator
//! can tell "worker X is gone, run the query again without it" from an error
//! that would happen again on any worker (bad data, out of memory, ...).

use datafusion::error::DataFusionError;
use tonic::metadata::MetadataValue;
use tonic::{Code, Status};

use crate::error::find_status;

/// Status metadata naming the worker whose loss caused the error.
pub const LOST_WORKER_KEY: &str = "x-hayate-lost-worker";

/// Status metadata a worker sets when asked for a task it does not hold
/// (it restarted, or the task was never launched there).
pub const TASK_MISSING_KEY: &str = "x-hayate-task-missing";

/// The "task not running here" answer.
pub fn task_missing(what: impl std::fmt::Display) -> Status {
    let mut status = Status::not_found(format!("{what} is not running on this worker"));
    status
        .metadata_mut()
        .insert(TASK_MISSING_KEY, MetadataValue::from_static("1"));
    status
}

/// Names the peer at `address` in a status from a call to it, and marks the
/// status as a lost worker when the call failed because the peer is gone
/// rather than because the peer answered with an error.
pub fn name_peer(status: Status, address: &str) -> Status {
    let already_marked = status.metadata().contains_key(LOST_WORKER_KEY);
    let lost = !already_marked && peer_gone(&status);
    // Errors about reaching the peer (and every loss) say which peer.
    let about_the_call = lost
        || matches!(
            status.code(),
            Code::Unavailable | Code::Unknown | Code::Cancelled | Code::DeadlineExceeded
        );
    let message = if about_the_call && !status.message().contains(address) {
        format!("worker {address}: {}", status.message())
    } else {
        status.message().to_string()
    };
    let code = if lost {
        Code::Unavailable
    } else {
        status.code()
    };
    let mut metadata = status.metadata().clone();
    if lost && let Ok(value) = address.parse() {
        metadata.insert(LOST_WORKER_KEY, value);
    }
    Status::with_metadata(code, message, metadata)
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

/// The worker whose loss caused `err`, if that is what caused it.
pub fn lost_worker(err: &DataFusionError) -> Option<String> {
    find_status(err).and_then(lost_worker_of)
}

/// The worker a status marks as lost.
pub fn lost_worker_of(status: &Status) -> Option<String> {
    status
        .metadata()
        .get(LOST_WORKER_KEY)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// Marks `status` as caused by losing `address` (the coordinator's
/// membership noticed it stopped heartbeating).
pub fn mark_lost(mut status: Status, address: &str) -> Status {
    if let Ok(value) = address.parse() {
        status.metadata_mut().insert(LOST_WORKER_KEY, value);
    }
    status
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_status_the_peer_sent_is_not_a_loss() {
        let status = name_peer(Status::internal("bad parquet"), "http://w:1");
        assert_eq!(lost_worker_of(&status), None);
        assert_eq!(status.code(), Code::Internal);
    }

    #[test]
    fn refused_connections_and_missing_tasks_are_losses() {
        let refused = name_peer(Status::unavailable("tcp connect error"), "http://w:1");
        assert_eq!(lost_worker_of(&refused).as_deref(), Some("http://w:1"));
        assert!(refused.message().contains("http://w:1"));
        let missing = name_peer(task_missing("q/1/0"), "http://w:2");
        assert_eq!(lost_worker_of(&missing).as_deref(), Some("http://w:2"));
        assert_eq!(missing.code(), Code::Unavailable);
    }

    #[test]
    fn the_first_lost_worker_is_kept_when_passed_on() {
        let from_a = name_peer(Status::unavailable("reset"), "http://a:1");
        let via_b = name_peer(from_a, "http://b:1");
        assert_eq!(lost_worker_of(&via_b).as_deref(), Some("http://a:1"));
    }
}
