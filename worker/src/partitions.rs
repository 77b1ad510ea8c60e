//! Serving the output partitions of the tasks a worker holds: as Flight
//! `DoGet` streams to other processes, and as plain record batches to
//! readers in this process ([`hayate_rpc::LocalPeers`]), which then skip Arrow IPC, the
//! socket and the copies in between.

use std::sync::{Arc, Weak};

use datafusion::error::Result as DfResult;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use futures::StreamExt;
use hayate_protocol::PartitionTicket;
use hayate_rpc::{LocalPartitions, from_status, task_missing, to_status};
use tonic::Status;

use crate::cpu_runtime::CpuRuntime;
use crate::registry::TaskRegistry;
use crate::task::RunningTask;

/// Opens the output partitions of this worker's tasks.
pub struct PartitionServer {
    registry: TaskRegistry,
    /// Where fragments run, apart from the runtime that serves calls.
    cpu: CpuRuntime,
}

/// An open output partition: its batches, and the task that makes them
/// (weak, so that counting what a stream sent never keeps a cancelled
/// task's plan alive).
pub struct OpenPartition {
    pub batches: SendableRecordBatchStream,
    pub task: Weak<RunningTask>,
}

impl PartitionServer {
    pub fn new(registry: TaskRegistry, cpu: CpuRuntime) -> Self {
        Self { registry, cpu }
    }

    /// Starts one output partition of a task held here, to be polled on
    /// the CPU runtime ([`Self::cpu`]). It ends at once, with `Cancelled`,
    /// when its query is cancelled (dropping the operators and the memory
    /// they hold, as the reader may be gone already); the task is forgotten
    /// once all its output streams are done or dropped.
    pub fn open(&self, ticket: &PartitionTicket) -> Result<OpenPartition, Status> {
        let key = &ticket.task;
        let (task, cancel) = self.registry.get(key).ok_or_else(|| task_missing(key))?;
        tracing::debug!(%key, partition = ticket.partition, consumer = ticket.consumer, "partition opened");
        let stream = self
            .cpu
            .start(|| {
                task.execute(
                    ticket.partition as usize,
                    ticket.consumer as usize,
                    cancel.clone(),
                )
            })
            .map_err(|e| to_status(&e))?;
        let schema = stream.schema();
        let weak = Arc::downgrade(&task);
        let guard = StreamGuard {
            registry: self.registry.clone(),
            task,
        };
        let batches = futures::stream::unfold(Some((stream, guard, cancel)), |state| async move {
            let (mut stream, guard, cancel) = state?;
            tokio::select! {
                biased;
                _ = cancel.cancelled() => {
                    drop((stream, guard));
                    Some((Err(from_status(Status::cancelled("query was cancelled"))), None))
                }
                item = stream.next() => item.map(|item| (item, Some((stream, guard, cancel)))),
            }
        });
        Ok(OpenPartition {
            batches: Box::pin(RecordBatchStreamAdapter::new(schema, batches)),
            task: weak,
        })
    }

    /// The runtime partitions are polled on.
    pub fn cpu(&self) -> &CpuRuntime {
        &self.cpu
    }
}

struct StreamGuard {
    registry: TaskRegistry,
    task: Arc<RunningTask>,
}

impl Drop for StreamGuard {
    fn drop(&mut self) {
        tracing::debug!(task = %self.task.id, "partition stream ended");
        if self.task.finish_stream() {
            self.registry.remove(&self.task.id);
        }
    }
}

/// Readers in this process (the worker's own tasks, and in `hayate local`
/// every member of the cluster) read partitions here, in memory.
impl LocalPartitions for PartitionServer {
    fn open_local(&self, ticket: &PartitionTicket) -> DfResult<SendableRecordBatchStream> {
        let open = self.open(ticket).map_err(from_status)?;
        let schema = open.batches.schema();
        let batches = self.cpu.poll_here(open.batches);
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, batches)))
    }
}
