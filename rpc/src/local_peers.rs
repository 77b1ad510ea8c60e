//! The workers of this process, found by the address the cluster knows them
//! at. Every worker finds its own tasks here, so an exchange between two
//! tasks on one worker stays in memory; `hayate local` shares one set
//! between its coordinator and all its workers, so no exchange of it
//! crosses a socket: readers get plain record batches and skip Arrow IPC,
//! the socket and the copies in between.

use std::collections::HashMap;
use std::sync::{Arc, Weak};

use datafusion::error::Result;
use datafusion::execution::SendableRecordBatchStream;
use hayate_planner::PartitionSource;
use hayate_protocol::PartitionTicket;
use parking_lot::RwLock;

/// What serves the output partitions of a worker's tasks in memory.
pub trait LocalPartitions: Send + Sync {
    /// The partition `ticket` names, ready to be polled by any runtime.
    fn open_local(&self, ticket: &PartitionTicket) -> Result<SendableRecordBatchStream>;
}

/// The workers in this process, by address. Holds them weakly: a stopped
/// worker is not kept alive.
#[derive(Clone, Default)]
pub struct LocalPeers {
    servers: Arc<RwLock<HashMap<String, Weak<dyn LocalPartitions>>>>,
}

impl std::fmt::Debug for LocalPeers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_set().entries(self.servers.read().keys()).finish()
    }
}

impl LocalPeers {
    pub fn insert<P: LocalPartitions + 'static>(&self, address: &str, server: &Arc<P>) {
        let weak: Weak<dyn LocalPartitions> = Arc::downgrade(server) as _;
        self.servers.write().insert(address.to_string(), weak);
    }

    pub fn remove(&self, address: &str) {
        self.servers.write().remove(address);
    }

    /// The partition `source` names, read in memory, if its worker is in
    /// this process; `None` means it must be fetched over the network.
    pub fn open(&self, source: &PartitionSource) -> Option<Result<SendableRecordBatchStream>> {
        let server = self.servers.read().get(&source.address)?.upgrade()?;
        Some(server.open_local(&source.ticket))
    }
}
