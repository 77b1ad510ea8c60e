//! One shared HTTP/2 connection per peer, and the clients that use it.

use std::sync::Arc;

use arrow_flight::flight_service_client::FlightServiceClient;
use dashmap::DashMap;
use hayate_protocol::ClusterSecret;
use hayate_protocol::control::worker_control::worker_control_client::WorkerControlClient;
use hayate_protocol::transport::{InternalTransport, MAX_MESSAGE_BYTES, channel};
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
#[derive(Debug, Default, Clone)]
pub struct Channels {
    channels: Arc<DashMap<String, Channel>>,
    transport: InternalTransport,
}

impl Channels {
    pub fn new(transport: InternalTransport) -> Self {
        Self {
            channels: Arc::default(),
            transport,
        }
    }

    fn get(&self, address: &str) -> Result<Channel, Status> {
        if let Some(c) = self.channels.get(address) {
            return Ok(c.clone());
        }
        let c = channel(address, self.transport.tls.as_ref())
            .map_err(|e| Status::invalid_argument(format!("bad worker address {address}: {e}")))?;
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
