//! Broadcast output: each partition runs once and its batches are kept until
//! every consumer task has read them.
//!
//! Re-running a broadcast partition once per consumer would be wrong, not
//! just slow, when the stage reads a shuffle: every upstream partition may be
//! streamed only once. So the first reader starts the partition and every
//! reader, early or late, replays the same batches in order.

use std::sync::Arc;

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::error::Result;
use datafusion::execution::SendableRecordBatchStream;
use futures::{Stream, StreamExt};
use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tonic::Status;

use hayate_rpc::{from_status, to_status};

#[derive(Default)]
struct State {
    started: bool,
    batches: Vec<RecordBatch>,
    /// `Some` once the partition ended: `Ok` or the error every reader gets.
    finished: Option<std::result::Result<(), Status>>,
}

/// One broadcast output partition, shared by all of its readers.
#[derive(Default)]
pub struct ReplayPartition {
    state: Mutex<State>,
    changed: Notify,
}

impl ReplayPartition {
    /// A reader of this partition from the start. `start` runs the partition
    /// if no reader has yet; the run stops when `cancel` fires.
    pub fn reader(
        self: &Arc<Self>,
        start: impl FnOnce() -> Result<SendableRecordBatchStream>,
        cancel: CancellationToken,
    ) -> impl Stream<Item = Result<RecordBatch>> + Send + 'static {
        let first = {
            let mut state = self.state.lock();
            !std::mem::replace(&mut state.started, true)
        };
        if first {
            match start() {
                Ok(stream) => {
                    tokio::spawn(Arc::clone(self).fill(stream, cancel));
                }
                Err(e) => self.finish(Err(to_status(&e))),
            }
        }
        futures::stream::unfold(Some((Arc::clone(self), 0usize)), |cursor| async move {
            let (me, next) = cursor?;
            loop {
                let notified = me.changed.notified();
                {
                    let state = me.state.lock();
                    if let Some(batch) = state.batches.get(next) {
                        return Some((Ok(batch.clone()), Some((Arc::clone(&me), next + 1))));
                    }
                    match &state.finished {
                        Some(Ok(())) => return None,
                        // Report the error once, then end.
                        Some(Err(status)) => return Some((Err(from_status(status.clone())), None)),
                        None => {}
                    }
                }
                notified.await;
            }
        })
    }

    async fn fill(
        self: Arc<Self>,
        mut stream: SendableRecordBatchStream,
        cancel: CancellationToken,
    ) {
        loop {
            let next = tokio::select! {
                _ = cancel.cancelled() => {
                    self.finish(Err(Status::cancelled("query was cancelled")));
                    return;
                }
                next = stream.next() => next,
            };
            match next {
                Some(Ok(batch)) => {
                    self.state.lock().batches.push(batch);
                    self.changed.notify_waiters();
                }
                Some(Err(e)) => return self.finish(Err(to_status(&e))),
                None => return self.finish(Ok(())),
            }
        }
    }

    fn finish(&self, result: std::result::Result<(), Status>) {
        self.state.lock().finished = Some(result);
        self.changed.notify_waiters();
    }
}
