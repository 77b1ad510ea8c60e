//! Starting a worker: bind its Flight port, serve, keep its membership, and
//! stop cleanly.

use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use arrow_flight::flight_service_server::FlightServiceServer;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use hayate_protocol::ClusterSecret;
use hayate_protocol::control::worker_control::worker_control_server::WorkerControlServer;
use hayate_protocol::transport::{
    InternalTransport, MAX_MESSAGE_BYTES, Tls, incoming, server_builder,
};
use hayate_storage::StoreRegistry;
use tonic::service::InterceptorLayer;

use crate::memory::MemoryLimits;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::coordinators::{CoordinatorTargets, serve_coordinators};
use crate::cpu_runtime::CpuRuntime;
use crate::lifecycle::Lifecycle;
use crate::membership::WorkerIdentity;
use crate::partitions::PartitionServer;
use crate::registry::TaskRegistry;
use crate::service::WorkerService;
use crate::status::WorkerStatus;
use hayate_rpc::{Channels, FlightPartitionFetcher, LocalPeers};

/// How to run one worker.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Address to listen on; port 0 picks a free port.
    pub bind: SocketAddr,
    /// Host other processes use to reach this worker. Defaults to the bind
    /// address; when binding all interfaces, to the local IP address that
    /// routes to the coordinator.
    pub advertise_host: Option<String>,
    /// Port other processes use to reach this worker, when it differs from
    /// the one it listens on (a proxy, NAT or port mapping in between).
    pub advertise_port: Option<u16>,
    /// The coordinators to serve (each URL's name may stand for several);
    /// none for a worker that is only given tasks directly (tests).
    pub coordinators: CoordinatorTargets,
    /// Memory per query on this worker.
    pub memory: MemoryLimits,
    /// Calls without this secret are refused, and calls to other Hayate
    /// processes carry it.
    pub secret: ClusterSecret,
    /// TLS for this worker's endpoint and for the peers it calls.
    pub tls: Tls,
    /// Where to serve `/healthz`, `/readyz` and `/metrics` over HTTP.
    pub status: Option<SocketAddr>,
    /// The workers of this process whose partitions are read in memory;
    /// the worker adds itself. A fresh set means only its own.
    pub local_peers: LocalPeers,
    /// Where plan fragments run.
    pub cpu: CpuThreads,
}

/// The threads a worker runs plan fragments on.
#[derive(Debug, Clone, Default)]
pub enum CpuThreads {
    /// One per core this process may use (its CPU affinity and container
    /// limit count).
    #[default]
    PerCore,
    /// This many.
    Count(usize),
    /// A runtime shared with the other workers of this process, so that
    /// workers sharing cores do not each bring a thread per core.
    Shared(CpuRuntime),
}

/// A running worker.
pub struct WorkerHandle {
    /// Where this worker is reached: `http://host:port`.
    pub address: String,
    pub worker_id: String,
    pub registry: TaskRegistry,
    /// Its coordinators and its drain.
    pub lifecycle: Lifecycle,
    /// The HTTP status endpoint, if one was asked for.
    pub status_address: Option<SocketAddr>,
    shutdown: CancellationToken,
    server: tokio::task::JoinHandle<Result<(), tonic::transport::Error>>,
    local_peers: LocalPeers,
}

impl WorkerHandle {
    /// Stops serving and leaves the cluster.
    pub async fn stop(self) {
        self.local_peers.remove(&self.address);
        self.shutdown.cancel();
        let _ = self.server.await;
    }

    /// Stops taking tasks (telling the coordinator at once), waits up to
    /// `grace` for the running ones to finish, then stops serving.
    pub async fn drain(self, grace: Duration) {
        self.lifecycle.drain(&self.registry, grace).await;
        self.stop().await;
    }

    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Waits until the server ends (after [`Self::stop`] or a fatal error).
    pub async fn wait(self) -> Result<(), tonic::transport::Error> {
        self.server.await.unwrap_or(Ok(()))
    }
}

pub async fn start_worker(config: WorkerConfig) -> std::io::Result<WorkerHandle> {
    if !config.secret.is_set() && !config.bind.ip().is_loopback() {
        tracing::warn!(
            "no cluster secret: anyone who reaches this port can run tasks here (see HAYATE_CLUSTER_SECRET)"
        );
    }
    let listener = TcpListener::bind(config.bind).await.map_err(|e| {
        std::io::Error::new(
            e.kind(),
            format!("the worker's Flight endpoint on {}: {e}", config.bind),
        )
    })?;
    let local = listener.local_addr()?;
    let host = match &config.advertise_host {
        Some(host) => host.clone(),
        None if local.ip().is_unspecified() => route_to(config.coordinators.first())
            .or_else(host_name)
            .unwrap_or_else(|| "127.0.0.1".to_string()),
        None => local.ip().to_string(),
    };
    let port = config.advertise_port.unwrap_or(local.port());
    let address = format!("{}://{}", config.tls.scheme(), join_host_port(&host, port));
    let transport = InternalTransport {
        secret: config.secret.clone(),
        tls: config.tls.client.clone(),
    };
    let worker_id = uuid::Uuid::new_v4().to_string();
    let registry = TaskRegistry::default();
    // Workers need no storage configuration: each task carries the options
    // of the stores it reads.
    let stores = Arc::new(StoreRegistry::new(Default::default()));
    let runtime = RuntimeEnvBuilder::new()
        .with_object_store_registry(Arc::clone(&stores) as _)
        .build_arc()
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    let cpu = match config.cpu {
        CpuThreads::PerCore => CpuRuntime::new(cpus())?,
        CpuThreads::Count(n) => CpuRuntime::new(n)?,
        CpuThreads::Shared(cpu) => cpu,
    };
    let partitions = Arc::new(PartitionServer::new(registry.clone(), cpu));
    config.local_peers.insert(&address, &partitions);
    let lifecycle = Lifecycle::default();
    let service = WorkerService::new(
        registry.clone(),
        lifecycle.clone(),
        Arc::clone(&runtime),
        stores,
        config.memory,
        // Started on the serving runtime: exchange connections are driven
        // here, never behind plan fragments on the CPU runtime.
        FlightPartitionFetcher::new(
            Channels::new(transport.clone()).on(tokio::runtime::Handle::current()),
            config.local_peers.clone(),
        ),
        partitions,
    );
    let shutdown = CancellationToken::new();

    let secret = config.secret.clone();
    let server = server_builder(config.tls.server.as_ref())
        .map_err(|e| std::io::Error::other(format!("TLS: {e}")))?
        .layer(InterceptorLayer::new(
            move |mut request: tonic::Request<()>| {
                secret.check(&mut request, true)?;
                Ok(request)
            },
        ))
        .add_service(
            FlightServiceServer::new(service.clone())
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
        )
        .add_service(
            WorkerControlServer::new(service)
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
        )
        .serve_with_incoming_shutdown(incoming(listener), shutdown.clone().cancelled_owned());
    let server = tokio::spawn(server);

    if !config.coordinators.is_empty() {
        let me = WorkerIdentity {
            worker_id: worker_id.clone(),
            address: address.clone(),
        };
        tokio::spawn(serve_coordinators(
            config.coordinators.clone(),
            transport,
            me,
            registry.clone(),
            lifecycle.clone(),
            shutdown.clone(),
        ));
    }
    // Safety net for tasks whose coordinator vanished before cancelling them.
    let sweeper_registry = registry.clone();
    let sweeper_shutdown = shutdown.clone();
    tokio::spawn(async move {
        loop {
            tokio::select! {
                _ = sweeper_shutdown.cancelled() => return,
                _ = tokio::time::sleep(Duration::from_secs(60)) => {
                    let n = sweeper_registry.expire(Duration::from_secs(30 * 60));
                    if n > 0 { tracing::warn!(queries = n, "expired abandoned tasks"); }
                }
            }
        }
    });
    tracing::info!(%address, "worker listening on {local}");
    let status_address = match config.status {
        Some(bind) => {
            let status = Arc::new(WorkerStatus {
                registry: registry.clone(),
                lifecycle: lifecycle.clone(),
                joins_coordinator: !config.coordinators.is_empty(),
                slots: cpus(),
            });
            Some(hayate_ops_http::serve(bind, status, shutdown.clone()).await?)
        }
        None => None,
    };
    Ok(WorkerHandle {
        address,
        worker_id,
        registry,
        lifecycle,
        status_address,
        shutdown,
        server,
        local_peers: config.local_peers,
    })
}

/// The local IP address this host uses to reach the coordinator: the one
/// the coordinator and other workers can reach it at, in a container or a
/// pod as on a laptop. Found by connecting a UDP socket, which sends
/// nothing.
fn route_to(coordinator: Option<&url::Url>) -> Option<String> {
    let url = coordinator?;
    let target = (url.host_str()?, url.port_or_known_default()?)
        .to_socket_addrs()
        .ok()?
        .next()?;
    let unspecified: SocketAddr = if target.is_ipv4() {
        SocketAddr::from(([0, 0, 0, 0], 0))
    } else {
        SocketAddr::from(([0u16; 8], 0))
    };
    let socket = std::net::UdpSocket::bind(unspecified).ok()?;
    socket.connect(target).ok()?;
    Some(socket.local_addr().ok()?.ip().to_string())
}

/// This host's name (a container's or pod's own), when the coordinator
/// cannot be resolved yet.
fn host_name() -> Option<String> {
    let name = std::fs::read_to_string("/proc/sys/kernel/hostname").ok()?;
    let name = name.trim();
    (!name.is_empty()).then(|| name.to_string())
}

/// CPUs this process may use: the tasks it runs at full speed at once.
pub fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}
