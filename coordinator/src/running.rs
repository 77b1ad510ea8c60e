//! Queries that are streaming to a client, so that they can be stopped from
//! outside their stream: by the client (`CancelFlightInfo`) or by their
//! timeout. Stopping ends the client's stream with the reason, and the end
//! of the stream cancels the query's tasks on every worker.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use datafusion::error::DataFusionError;
use futures::{Stream, StreamExt};
use parking_lot::Mutex;
use tokio_util::sync::CancellationToken;
use tonic::Status;

#[derive(Clone, Default)]
pub struct RunningQueries {
    queries: Arc<Mutex<HashMap<String, Control>>>,
}

#[derive(Clone, Default)]
struct Control {
    stop: CancellationToken,
    /// Why the query was stopped (set before `stop` fires).
    reason: Arc<Mutex<Option<Status>>>,
}

impl Control {
    fn stop_with(&self, reason: Status) {
        self.reason.lock().get_or_insert(reason);
        self.stop.cancel();
    }
}

/// Forgets the query when its stream is gone.
struct Registered {
    queries: RunningQueries,
    id: String,
}

impl Drop for Registered {
    fn drop(&mut self) {
        self.queries.queries.lock().remove(&self.id);
    }
}

impl RunningQueries {
    /// `stream` as query `id`: it ends early, with the reason as its last
    /// item, if the query is stopped or runs past `timeout`.
    pub fn track<S, T>(
        &self,
        id: &str,
        timeout: Option<Duration>,
        stream: S,
    ) -> impl Stream<Item = Result<T, DataFusionError>> + Send + 'static
    where
        S: Stream<Item = Result<T, DataFusionError>> + Send + 'static,
        T: Send + 'static,
    {
        let control = Control::default();
        self.queries.lock().insert(id.to_string(), control.clone());
        let registered = Registered {
            queries: self.clone(),
            id: id.to_string(),
        };
        let watcher = control.clone();
        let stopped = async move {
            match timeout {
                Some(limit) => tokio::select! {
                    _ = watcher.stop.cancelled() => {}
                    _ = tokio::time::sleep(limit) => watcher.stop_with(Status::deadline_exceeded(format!(
                        "query timed out after {}s (hayate.query_timeout_secs or the server's --query-timeout-secs)",
                        limit.as_secs_f64()
                    ))),
                },
                None => watcher.stop.cancelled().await,
            }
        };
        let tail =
            futures::stream::once(async move { control.reason.lock().take() }).filter_map(
                |reason| async move {
                    reason.map(|status| Err(hayate_worker::error::from_status(status)))
                },
            );
        stream.take_until(stopped).chain(tail).map(move |item| {
            let _alive = &registered;
            item
        })
    }

    /// Stops query `id`; false if it is not streaming.
    pub fn stop(&self, id: &str, reason: Status) -> bool {
        match self.queries.lock().get(id) {
            Some(control) => {
                control.stop_with(reason);
                true
            }
            None => false,
        }
    }
}
