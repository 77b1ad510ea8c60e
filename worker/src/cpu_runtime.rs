//! A tokio runtime of its own for running plan fragments.
//!
//! DataFusion operators compute inside `poll` and some steps (building a
//! join's hash table, decoding a page) take long without yielding. On the
//! runtime that also serves gRPC, they would hold up the control plane:
//! cancels, task launches and heartbeats would wait for them, and a busy
//! worker could look dead. Fragments therefore run here, and so does the
//! Arrow IPC encoding of their output: only finished Flight messages cross
//! to the serving runtime, which has little else to do than move bytes.

use std::sync::Arc;

use datafusion::error::Result;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use futures::{Stream, StreamExt};
use tokio::runtime::{Handle, Runtime};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

/// Cheap to clone; the runtime shuts down when the last clone is dropped.
#[derive(Clone)]
pub struct CpuRuntime {
    inner: Arc<Inner>,
}

struct Inner {
    handle: Handle,
    runtime: Option<Runtime>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Dropping a runtime blocks; from async code, shut it down in place.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl std::fmt::Debug for CpuRuntime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CpuRuntime")
    }
}

impl CpuRuntime {
    /// A runtime with `threads` threads: one per core this worker may use,
    /// so that the fragments of concurrent tasks share the cores without
    /// more threads than cores competing for them.
    pub fn new(threads: usize) -> std::io::Result<Self> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .thread_name("hayate-cpu")
            .enable_all()
            .build()?;
        Ok(Self {
            inner: Arc::new(Inner {
                handle: runtime.handle().clone(),
                runtime: Some(runtime),
            }),
        })
    }

    /// Starts a record batch stream here (so that what it spawns runs here
    /// too) and polls it here; the returned stream only receives its
    /// batches. Dropping the returned stream stops the work.
    pub fn run(
        &self,
        start: impl FnOnce() -> Result<SendableRecordBatchStream>,
    ) -> Result<SendableRecordBatchStream> {
        let stream = self.start(start)?;
        let schema = stream.schema();
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            schema,
            self.poll_here(stream),
        )))
    }

    /// Calls `start` inside this runtime, so that the tasks it spawns (a
    /// plan's input streams) run here.
    pub fn start<T>(&self, start: impl FnOnce() -> T) -> T {
        let _here = self.inner.handle.enter();
        start()
    }

    /// Polls `stream` on this runtime; the returned stream receives its
    /// items. Dropping the returned stream stops the work.
    pub fn poll_here<T: Send + 'static>(
        &self,
        stream: impl Stream<Item = T> + Send + 'static,
    ) -> impl Stream<Item = T> + Send + 'static {
        let (tx, rx) = mpsc::channel(2);
        let pump = self.inner.handle.spawn(async move {
            let mut stream = std::pin::pin!(stream);
            loop {
                tokio::select! {
                    biased;
                    _ = tx.closed() => return,
                    item = stream.next() => match item {
                        Some(item) => {
                            if tx.send(item).await.is_err() {
                                return;
                            }
                        }
                        None => return,
                    },
                }
            }
        });
        let stop = AbortOnDrop(pump);
        ReceiverStream::new(rx).map(move |item| {
            let _running = &stop;
            item
        })
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
