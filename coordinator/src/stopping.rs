//! Stopping a streaming query from outside its stream: by a client's
//! `CancelFlightInfo`, the web UI, or its timeout. Stopping ends the
//! client's stream with the reason, and the end of the stream cancels the
//! query's tasks on every worker.

use std::sync::Arc;
use std::time::Duration;

use datafusion::error::DataFusionError;
use futures::{Stream, StreamExt};
use tonic::Status;

use crate::error::CoordinatorError;
use crate::query::{Query, StopReason};

/// `stream` as `query`'s answer: it ends early, with the reason as its last
/// item, if the query is stopped or runs past `timeout`.
pub fn stoppable<S, T>(
    query: Arc<Query>,
    timeout: Option<Duration>,
    stream: S,
) -> impl Stream<Item = Result<T, DataFusionError>> + Send + 'static
where
    S: Stream<Item = Result<T, DataFusionError>> + Send + 'static,
    T: Send + 'static,
{
    let stop = query.stopped();
    let watcher = Arc::clone(&query);
    let stopped = async move {
        match timeout {
            Some(limit) => tokio::select! {
                _ = stop.cancelled() => {}
                _ = tokio::time::sleep(limit) => {
                    watcher.stop(StopReason::TimedOut(limit));
                }
            },
            None => stop.cancelled().await,
        }
    };
    let tail = futures::stream::once(async move { query.stop_reason() })
        .filter_map(|reason| async move { reason.map(|reason| Err(stop_error(&reason))) });
    stream.take_until(stopped).chain(tail)
}

/// The error a stopped query's client gets, with the gRPC code its kind
/// maps to.
fn stop_error(reason: &StopReason) -> DataFusionError {
    let status = Status::from(CoordinatorError::Stopped(reason.clone()));
    hayate_rpc::from_status(status)
}
