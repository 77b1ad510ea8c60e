//! An embedded cluster: a coordinator and workers in this process. Used by
//! `hayate local`, the benchmarks and the tests.
//!
//! Started with [`EmbeddedCluster::start`], its members read each other's
//! partitions in memory: nothing is encoded as Arrow IPC or crosses a
//! socket but the client's own connection. Started with
//! [`EmbeddedCluster::start_networked`], workers read each other over
//! loopback Flight, as separate processes do (only a worker's reads of its
//! own tasks stay in memory), which is how the tests exercise the network
//! path in one process.

use std::net::SocketAddr;
use std::time::Duration;

use hayate_coordinator::{CoordinatorConfig, CoordinatorHandle, start_coordinator};
use hayate_protocol::ClusterSecret;
use hayate_rpc::LocalPeers;
use hayate_worker::cpu_runtime::CpuRuntime;
use hayate_worker::server::CpuThreads;
use hayate_worker::{CoordinatorTargets, MemoryLimits, WorkerConfig, WorkerHandle, start_worker};

pub struct EmbeddedCluster {
    pub coordinator: CoordinatorHandle,
    pub workers: Vec<WorkerHandle>,
}

impl EmbeddedCluster {
    /// Starts a coordinator with `config` (its port may be 0) and `workers`
    /// workers on free loopback ports, all reading each other in memory,
    /// and waits until all have registered.
    pub async fn start(config: CoordinatorConfig, workers: usize) -> std::io::Result<Self> {
        let shared = config.local_peers.clone();
        Self::start_with(config, workers, || shared.clone()).await
    }

    /// As [`Self::start`], but the workers read each other over loopback
    /// Flight, and the coordinator reads them so too.
    pub async fn start_networked(
        config: CoordinatorConfig,
        workers: usize,
    ) -> std::io::Result<Self> {
        Self::start_with(config, workers, LocalPeers::default).await
    }

    /// Without a cluster secret in `config`, one is made up: loopback ports
    /// are reachable by every local user, who should not be able to make
    /// the workers run plans.
    async fn start_with(
        mut config: CoordinatorConfig,
        workers: usize,
        peers_of_worker: impl Fn() -> LocalPeers,
    ) -> std::io::Result<Self> {
        if !config.secret.is_set() {
            config.secret = ClusterSecret::new(&uuid::Uuid::new_v4().simple().to_string());
        }
        let secret = config.secret.clone();
        let tls = config.tls.clone();
        // The workers share this process's cores: one thread per core for
        // all of them, not for each.
        let cpu = CpuRuntime::new(hayate_worker::server::cpus())?;
        let coordinator = start_coordinator(config).await?;
        let coordinators = CoordinatorTargets::parse(&[&coordinator.address])
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
        let mut handles = Vec::new();
        for _ in 0..workers {
            handles.push(
                start_worker(WorkerConfig {
                    bind: SocketAddr::from(([127, 0, 0, 1], 0)),
                    advertise_host: None,
                    advertise_port: None,
                    coordinators: coordinators.clone(),
                    memory: MemoryLimits::for_this_process().unwrap_or_default(),
                    secret: secret.clone(),
                    tls: tls.clone(),
                    status: None,
                    local_peers: peers_of_worker(),
                    cpu: CpuThreads::Shared(cpu.clone()),
                })
                .await?,
            );
        }
        if !coordinator
            .wait_for_workers(workers, Duration::from_secs(10))
            .await
        {
            return Err(std::io::Error::other("workers did not register within 10s"));
        }
        Ok(Self {
            coordinator,
            workers: handles,
        })
    }

    pub async fn stop(self) {
        for w in self.workers {
            w.stop().await;
        }
        self.coordinator.stop().await;
    }
}
