//! One shared HTTP/2 connection per peer, and the clients that use it.

use std::future::Future;
use std::sync::Arc;

use arrow_flight::flight_service_client::FlightServiceClient;
use dashmap::DashMap;
use hayate_protocol::ClusterSecret;
use hayate_protocol::control::worker_control::worker_control_client::WorkerControlClient;
use hayate_protocol::transport::{InternalTransport, MAX_MESSAGE_BYTES, endpoint};
use tokio::runtime::Handle;
use tonic::Status;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

/// A Flight client to another Hayate process: every call carries the
/// cluster secret.
pub type InternalClient = FlightServiceClient<InterceptedService<Channel, ClusterSecret>>;

/// A client of a worker's control service, with the cluster secret.
pub type ControlClient = WorkerControlClient<InterceptedService<Channel, ClusterSecret>>;

/// One shared HTTP/2 connection per peer, opened on first use: a new
/// connection per request would add a TCP and HTTP/2 handshake to every
/// task launch and every partition read.
///
/// A connection is driven by background tasks (HTTP/2 framing, answering
/// the peer's keep-alive pings). By default they run on whichever runtime
/// first uses the channel; a worker first reads another worker's partition
/// from inside a plan fragment, on its CPU runtime, where a join's hash
/// build may not yield for seconds. A peer whose pings go unanswered for
/// [`hayate_protocol::transport::KEEP_ALIVE_TIMEOUT`] closes the
/// connection, and the query loses a worker that was only busy: on model
/// nodes of 0.2 cores TPC-DS q72 failed so on every attempt. [`Self::on`]
/// keeps those tasks on a runtime that only moves bytes.
#[derive(Debug, Default, Clone)]
pub struct Channels {
    channels: Arc<DashMap<String, Channel>>,
    transport: InternalTransport,
    driver: Option<Handle>,
}

/// Spawns a connection's background tasks on one runtime.
#[derive(Clone)]
struct OnRuntime(Handle);

impl<F> hyper::rt::Executor<F> for OnRuntime
where
    F: Future<Output = ()> + Send + 'static,
{
    fn execute(&self, task: F) {
        self.0.spawn(task);
    }
}

impl Channels {
    pub fn new(transport: InternalTransport) -> Self {
        Self {
            channels: Arc::default(),
            transport,
            driver: None,
        }
    }

    /// These channels, with every connection driven on `runtime`.
    pub fn on(mut self, runtime: Handle) -> Self {
        self.driver = Some(runtime);
        self
    }

    fn get(&self, address: &str) -> Result<Channel, Status> {
        if let Some(c) = self.channels.get(address) {
            return Ok(c.clone());
        }
        let bad = |e: tonic::transport::Error| {
            Status::invalid_argument(format!("bad worker address {address}: {e}"))
        };
        let mut endpoint = endpoint(address, self.transport.tls.as_ref()).map_err(bad)?;
        if let Some(runtime) = &self.driver {
            endpoint = endpoint.executor(OnRuntime(runtime.clone()));
        }
        let c = endpoint.connect_lazy();
        self.channels.insert(address.to_string(), c.clone());
        Ok(c)
    }

    /// A Flight client to `address` over the shared connection.
    pub fn client(&self, address: &str) -> Result<InternalClient, Status> {
        Ok(flight_client(self.get(address)?, &self.transport.secret))
    }

    /// A client of the control service of the worker at `address`, over
    /// the shared connection.
    pub fn control(&self, address: &str) -> Result<ControlClient, Status> {
        let client = WorkerControlClient::with_interceptor(
            self.get(address)?,
            self.transport.secret.clone(),
        );
        Ok(client
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES))
    }
}

/// A Flight client to a Hayate process, with Hayate's message limits and
/// the cluster secret on every call.
pub fn flight_client(channel: Channel, secret: &ClusterSecret) -> InternalClient {
    FlightServiceClient::with_interceptor(channel, secret.clone())
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES)
}
