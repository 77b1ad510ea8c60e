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
use hayate_protocol::PartitionTicket;
use hayate_protocol::transport::{MAX_MESSAGE_BYTES, channel};
use prost::Message;
use tonic::Status;
use tonic::transport::Channel;

use crate::error::from_status;
use crate::peer_loss::name_peer;

/// One shared HTTP/2 connection per peer, opened on first use: a new
/// connection per request would add a TCP and HTTP/2 handshake to every
/// task launch and every partition read.
#[derive(Debug, Default, Clone)]
pub struct Channels {
    channels: Arc<DashMap<String, Channel>>,
}

impl Channels {
    pub fn get(&self, address: &str) -> std::result::Result<Channel, Status> {
        if let Some(c) = self.channels.get(address) {
            return Ok(c.clone());
        }
        let c = channel(address)
            .map_err(|e| Status::invalid_argument(format!("bad worker address {address}: {e}")))?;
        self.channels.insert(address.to_string(), c.clone());
        Ok(c)
    }

    /// A Flight client to `address` over the shared connection.
    pub fn client(
        &self,
        address: &str,
    ) -> std::result::Result<FlightServiceClient<Channel>, Status> {
        Ok(flight_client(self.get(address)?))
    }
}

/// Opens `DoGet` streams to the workers that hold upstream partitions.
#[derive(Debug, Default, Clone)]
pub struct FlightPartitionFetcher {
    channels: Channels,
}

/// A Flight client with Hayate's message limits.
pub fn flight_client(channel: Channel) -> FlightServiceClient<Channel> {
    FlightServiceClient::new(channel)
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
        let channel = self.channels.get(&source.address).map_err(from_status)?;
        let address = source.address.clone();
        let ticket = PartitionTicket {
            query_id: source.query_id.clone(),
            stage_id: source.stage_id,
            task_id: source.task_id,
            partition: source.partition,
            consumer: source.consumer,
        }
        .encode_to_vec();
        let open = async move {
            let mut client = flight_client(channel);
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
