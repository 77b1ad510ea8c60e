//! A Flight SQL client for tests, built on arrow-flight's own client: runs
//! statements, fetches every endpoint, and asks Hayate what a query did.

use std::sync::Arc;

use arrow_flight::Action;
use arrow_flight::error::FlightError;
use arrow_flight::sql::TicketStatementQuery;
use arrow_flight::sql::client::FlightSqlServiceClient;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use futures::TryStreamExt;
use hayate_protocol::headers::SESSION_HEADER;
use hayate_protocol::{QueryProgress, QueryRef, QueryStats, actions};
use prost::Message;
use tonic::transport::Channel;

/// A statement's answer as a Flight SQL client receives it.
pub struct Described {
    /// The schema preparing the statement announced (before it ran).
    pub prepared: SchemaRef,
    /// The schema `GetFlightInfo` announced.
    pub declared: SchemaRef,
    /// The schema each endpoint's stream carried (none for a stream that
    /// sent no message).
    pub streamed: Vec<SchemaRef>,
    pub batches: Vec<RecordBatch>,
}

pub struct SqlClient {
    pub inner: FlightSqlServiceClient<Channel>,
}

impl SqlClient {
    /// Connects to the coordinator at `address` with a session of its own.
    pub async fn connect(address: &str) -> Result<Self, String> {
        Ok(Self::on(channel_to(address).await?))
    }

    /// A client over an already configured channel (TLS, say).
    pub fn on(channel: Channel) -> Self {
        let mut client = Self::unnamed_on(channel);
        client
            .inner
            .set_header(SESSION_HEADER, uuid::Uuid::new_v4().to_string());
        client
    }

    /// Connects to the coordinator at `address` without naming a session,
    /// as ADBC does unless told to keep cookies: its session is that of its
    /// connection.
    pub async fn connect_unnamed(address: &str) -> Result<Self, String> {
        Ok(Self::unnamed_on(channel_to(address).await?))
    }

    fn unnamed_on(channel: Channel) -> Self {
        Self {
            inner: FlightSqlServiceClient::new(channel),
        }
    }

    /// Runs a query (GetFlightInfo + DoGet on every endpoint).
    pub async fn query(&mut self, sql: &str) -> Result<Vec<RecordBatch>, String> {
        Ok(self.run(sql).await?.0)
    }

    /// Runs a query; returns its rows and its statement handle (the query id).
    pub async fn run(&mut self, sql: &str) -> Result<(Vec<RecordBatch>, Option<String>), String> {
        let info = self
            .inner
            .execute(sql.to_string(), None)
            .await
            .map_err(|e| e.to_string())?;
        let mut batches = Vec::new();
        let mut handle = None;
        for endpoint in info.endpoint {
            let ticket = endpoint.ticket.ok_or("endpoint without ticket")?;
            let any = arrow_flight::sql::Any::decode(ticket.ticket.as_ref())
                .map_err(|e| e.to_string())?;
            let statement: Option<TicketStatementQuery> =
                any.unpack().map_err(|e| e.to_string())?;
            handle = statement
                .and_then(|s| hayate_protocol::StatementTicket::from_handle(&s.statement_handle))
                .map(|t| t.query_id);
            let stream = self.inner.do_get(ticket).await.map_err(|e| e.to_string())?;
            let mut part: Vec<RecordBatch> =
                stream.try_collect().await.map_err(|e| e.to_string())?;
            batches.append(&mut part);
        }
        Ok((batches, handle))
    }

    /// Runs a statement and keeps every schema a client sees: the one
    /// preparing it announces, the one `GetFlightInfo` declares and the one
    /// the `DoGet` stream carries.
    pub async fn run_described(&mut self, sql: &str) -> Result<Described, String> {
        let statement = self
            .inner
            .prepare(sql.to_string(), None)
            .await
            .map_err(status_text)?;
        let prepared = Arc::new(
            statement
                .dataset_schema()
                .map_err(|e| e.to_string())?
                .clone(),
        );
        statement.close().await.map_err(status_text)?;
        let info = self
            .inner
            .execute(sql.to_string(), None)
            .await
            .map_err(status_text)?;
        let declared = Arc::new(
            info.clone()
                .try_decode_schema()
                .map_err(|e| e.to_string())?,
        );
        let mut described = Described {
            prepared,
            declared,
            streamed: Vec::new(),
            batches: Vec::new(),
        };
        for endpoint in info.endpoint {
            let ticket = endpoint.ticket.ok_or("endpoint without ticket")?;
            let mut stream = self.inner.do_get(ticket).await.map_err(status_text)?;
            while let Some(batch) = stream.try_next().await.map_err(status_text)? {
                described.batches.push(batch);
            }
            described.streamed.extend(stream.schema().cloned());
        }
        Ok(described)
    }

    /// Runs a query and returns its rows and what it did (I/O, pruning,
    /// cache hits, attempts), as the CLI shows after each query.
    pub async fn query_with_stats(
        &mut self,
        sql: &str,
    ) -> Result<(Vec<RecordBatch>, QueryStats), String> {
        let (batches, handle) = self.run(sql).await?;
        let query_id = handle.ok_or("no endpoint")?;
        Ok((batches, self.stats(&query_id).await?))
    }

    /// What query `query_id` did.
    pub async fn stats(&mut self, query_id: &str) -> Result<QueryStats, String> {
        self.ask(actions::QUERY_STATS, query_id).await
    }

    /// Where query `query_id` is now.
    pub async fn progress(&mut self, query_id: &str) -> Result<QueryProgress, String> {
        self.ask(actions::QUERY_PROGRESS, query_id).await
    }

    async fn ask<M: Message + Default>(
        &mut self,
        action: &str,
        query_id: &str,
    ) -> Result<M, String> {
        let action = Action {
            r#type: action.to_string(),
            body: QueryRef {
                query_id: query_id.to_string(),
            }
            .encode_to_vec()
            .into(),
        };
        let mut results = self
            .inner
            .do_action(action)
            .await
            .map_err(|e| e.to_string())?;
        let body = results
            .try_next()
            .await
            .map_err(|e| e.to_string())?
            .ok_or("no answer")?
            .body;
        M::decode(body.as_ref()).map_err(|e| e.to_string())
    }

    /// Runs a statement through `CommandStatementUpdate`.
    pub async fn update(&mut self, sql: &str) -> Result<i64, String> {
        self.inner
            .execute_update(sql.to_string(), None)
            .await
            .map_err(|e| e.to_string())
    }
}

/// A failed call as a client shows it: the status code and the server's
/// message as it was sent (not escaped for debugging).
fn status_text(error: FlightError) -> String {
    match error {
        FlightError::Tonic(status) => format!("{}: {}", status.code(), status.message()),
        other => other.to_string(),
    }
}

async fn channel_to(address: &str) -> Result<Channel, String> {
    Channel::from_shared(address.to_string())
        .map_err(|e| e.to_string())?
        .connect()
        .await
        .map_err(|e| format!("connect to {address}: {e}"))
}
