//! Serving the output partitions of the tasks a worker holds: as Flight
//! `DoGet` streams to other processes, and as plain record batches to
//! readers in this process ([`LocalPeers`]), which then skip Arrow IPC, the
//! socket and the copies in between.

use std::collections::HashMap;
use std::sync::{Arc, Weak};

use datafusion::error::Result as DfResult;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use futures::StreamExt;
use hayate_planner::PartitionSource;
use hayate_protocol::PartitionTicket;
use parking_lot::RwLock;
use tonic::Status;

use crate::cpu_runtime::CpuRuntime;
use crate::error::{from_status, to_status};
use crate::peer_loss::task_missing;
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

/// The workers this process serves, by the address the cluster knows them
/// at. Every worker finds its own tasks here, so an exchange between two
/// tasks on one worker stays in memory; `hayate local` shares one between
/// its coordinator and all its workers, so no exchange of it crosses a
/// socket. Holds the servers weakly: a stopped worker is not kept alive.
#[derive(Clone, Default)]
pub struct LocalPeers {
    servers: Arc<RwLock<HashMap<String, Weak<PartitionServer>>>>,
}

impl std::fmt::Debug for LocalPeers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.servers.read().keys()).finish()
    }
}

impl LocalPeers {
    pub fn insert(&self, address: &str, server: &Arc<PartitionServer>) {
        self.servers
            .write()
            .insert(address.to_string(), Arc::downgrade(server));
    }

    pub fn remove(&self, address: &str) {
        self.servers.write().remove(address);
    }

    /// The partition `source` names, read in memory, if its worker is in
    /// this process; `None` means it must be fetched over the network.
    pub fn open(&self, source: &PartitionSource) -> Option<DfResult<SendableRecordBatchStream>> {
        let server = self.servers.read().get(&source.address)?.upgrade()?;
        Some(
            server
                .open(&source.ticket)
                .map(|open| {
                    let schema = open.batches.schema();
                    let batches = server.cpu().poll_here(open.batches);
                    Box::pin(RecordBatchStreamAdapter::new(schema, batches)) as _
                })
                .map_err(from_status),
        )
    }
}
