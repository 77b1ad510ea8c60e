//! Reading upstream partitions from other workers: the Arrow Flight
//! implementation of the planner's [`PartitionFetcher`].

use std::sync::Arc;

use arrow_flight::Ticket;
use arrow_flight::decode::FlightRecordBatchStream;
use arrow_flight::error::FlightError;
use arrow_flight::flight_service_client::FlightServiceClient;
use dashmap::DashMap;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use futures::{StreamExt, TryStreamExt};
use hayate_planner::{PartitionFetcher, PartitionSource};
use hayate_protocol::ClusterSecret;
use hayate_protocol::control::worker_control::worker_control_client::WorkerControlClient;
use hayate_protocol::transport::{InternalTransport, MAX_MESSAGE_BYTES, channel};
use prost::Message;
use tonic::Status;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::error::from_status;
use crate::partitions::LocalPeers;
use crate::peer_loss::name_peer;

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

    fn get(&self, address: &str) -> std::result::Result<Channel, Status> {
        if let Some(c) = self.channels.get(address) {
            return Ok(c.clone());
        }
        let c = channel(address, self.transport.tls.as_ref())
            .map_err(|e| Status::invalid_argument(format!("bad worker address {address}: {e}")))?;
        self.channels.insert(address.to_string(), c.clone());
        Ok(c)
    }

    /// A Flight client to `address` over the shared connection.
    pub fn client(&self, address: &str) -> std::result::Result<InternalClient, Status> {
        Ok(flight_client(self.get(address)?, &self.transport.secret))
    }

    /// A client of the control service of the worker at `address`, over
    /// the shared connection.
    pub fn control(&self, address: &str) -> std::result::Result<ControlClient, Status> {
        Ok(
            WorkerControlClient::with_interceptor(
                self.get(address)?,
                self.transport.secret.clone(),
            )
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES),
        )
    }
}

/// Opens upstream partitions: in memory when their worker is in this
/// process ([`LocalPeers`]), else as `DoGet` streams to the worker.
#[derive(Debug, Default, Clone)]
pub struct FlightPartitionFetcher {
    channels: Channels,
    local: LocalPeers,
}

impl FlightPartitionFetcher {
    pub fn new(channels: Channels, local: LocalPeers) -> Self {
        Self { channels, local }
    }
}

/// A Flight client to a Hayate process, with Hayate's message limits and
/// the cluster secret on every call.
pub fn flight_client(channel: Channel, secret: &ClusterSecret) -> InternalClient {
    FlightServiceClient::with_interceptor(channel, secret.clone())
        .max_decoding_message_size(MAX_MESSAGE_BYTES)
        .max_encoding_message_size(MAX_MESSAGE_BYTES)
}

fn flight_error(err: FlightError, address: &str) -> DataFusionError {
    match err {
        FlightError::Tonic(status) => from_status(name_peer(*status, address)),
        FlightError::ExternalError(e) => match e.downcast::<DataFusionError>() {
            Ok(df) => *df,
            Err(e) => DataFusionError::External(e),
        },
        other => from_status(Status::internal(format!("worker {address}: {other}"))),
    }
}

impl PartitionFetcher for FlightPartitionFetcher {
    fn fetch(
        &self,
        source: &PartitionSource,
        schema: SchemaRef,
    ) -> Result<SendableRecordBatchStream> {
        if let Some(local) = self.local.open(source) {
            return local;
        }
        let mut client = self.channels.client(&source.address).map_err(from_status)?;
        let address = source.address.clone();
        let ticket = source.ticket.encode_to_vec();
        let open = async move {
            let response = client
                .do_get(Ticket {
                    ticket: ticket.into(),
                })
                .await
                .map_err(|s| from_status(name_peer(s, &address)))?;
            let data = response
                .into_inner()
                .map_err(|s| FlightError::Tonic(Box::new(s)));
            let batches = FlightRecordBatchStream::new_from_flight_data(data)
                .map_err(move |e| flight_error(e, &address));
            Ok::<_, DataFusionError>(batches)
        };
        let stream = futures::stream::once(open).try_flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            schema,
            stream.boxed(),
        )))
    }
}
