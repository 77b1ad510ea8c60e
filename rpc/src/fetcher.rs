//! Reading upstream partitions: the Arrow Flight implementation of the
//! planner's [`PartitionFetcher`].

use arrow_flight::Ticket;
use arrow_flight::decode::FlightRecordBatchStream;
use arrow_flight::error::FlightError;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::SendableRecordBatchStream;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use futures::{StreamExt, TryStreamExt};
use hayate_planner::{PartitionFetcher, PartitionSource};
use prost::Message;
use tonic::Status;

use crate::channels::Channels;
use crate::local_peers::LocalPeers;
use crate::peer_loss::call_failed;
use crate::wire_error::from_status;

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

fn flight_error(err: FlightError, address: &str) -> DataFusionError {
    match err {
        FlightError::Tonic(status) => call_failed(*status, address),
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
                .map_err(|s| call_failed(s, &address))?;
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
