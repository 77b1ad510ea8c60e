//! An embedded cluster: a coordinator and workers in this process, still
//! talking Flight over loopback so the same code paths run as in a real
//! cluster. Used by `hayate local`, the benchmarks and the tests.

use std::net::SocketAddr;
use std::time::Duration;

use hayate_protocol::ClusterSecret;
use hayate_worker::{MemoryLimits, WorkerConfig, WorkerHandle, start_worker};

use crate::server::{CoordinatorConfig, CoordinatorHandle, start_coordinator};

pub struct EmbeddedCluster {
    pub coordinator: CoordinatorHandle,
    pub workers: Vec<WorkerHandle>,
}

impl EmbeddedCluster {
    /// Starts a coordinator with `config` (its port may be 0) and `workers`
    /// workers on free loopback ports, and waits until all have registered.
    /// Without a cluster secret in `config`, one is made up: loopback ports
    /// are reachable by every local user, who should not be able to make
    /// the workers run plans.
    pub async fn start(mut config: CoordinatorConfig, workers: usize) -> std::io::Result<Self> {
        if !config.secret.is_set() {
            config.secret = ClusterSecret::new(&uuid::Uuid::new_v4().simple().to_string());
        }
        let secret = config.secret.clone();
        let tls = config.tls.clone();
        let coordinator = start_coordinator(config).await?;
        let mut handles = Vec::new();
        for _ in 0..workers {
            handles.push(
                start_worker(WorkerConfig {
                    bind: SocketAddr::from(([127, 0, 0, 1], 0)),
                    advertise_host: None,
                    advertise_port: None,
                    coordinator: Some(coordinator.address.clone()),
                    memory: MemoryLimits::for_this_process().unwrap_or_default(),
                    secret: secret.clone(),
                    tls: tls.clone(),
                    status: None,
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
