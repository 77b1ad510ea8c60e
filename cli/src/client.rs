//! A small Flight SQL client for the CLI: runs a statement and returns its
//! batches, keeping the server's error code and message intact.

use arrow_flight::decode::FlightRecordBatchStream;
use arrow_flight::error::FlightError;
use arrow_flight::flight_service_client::FlightServiceClient;
use arrow_flight::sql::{CommandStatementQuery, ProstMessageExt};
use arrow_flight::{FlightDescriptor, HandshakeRequest};
use datafusion::arrow::record_batch::RecordBatch;
use futures::{StreamExt, TryStreamExt};
use hayate_coordinator::SESSION_HEADER;
use hayate_coordinator::flight_sql::statement_handle;
use hayate_protocol::control::query_insight::query_insight_client::QueryInsightClient;
use hayate_protocol::transport::{MAX_MESSAGE_BYTES, channel};
use hayate_protocol::{QueryProgress, QueryRef, QueryStats};
use prost::Message;
use tonic::transport::{Channel, ClientTlsConfig};
use tonic::{Code, Request, Status};

/// A connection to a coordinator with one session (settings made with `SET`
/// stay for the life of the client).
pub struct SqlClient {
    inner: FlightServiceClient<Channel>,
    /// The coordinator's query progress and stats, on the same connection.
    insight: QueryInsightClient<Channel>,
    session: String,
    /// `Bearer <token>` once signed in.
    bearer: Option<String>,
    /// Kept to sign in again when the token expires.
    login: Option<Login>,
    /// The statement handle (query id) of the last statement run.
    last_query: Option<String>,
}

/// A user name and password to sign in with.
#[derive(Clone)]
pub struct Login {
    pub user: String,
    pub password: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{}", describe(.0))]
    Server(Status),
    #[error("cannot reach the coordinator at {0}: {1}")]
    Connect(String, String),
    #[error("bad answer from the server: {0}")]
    Protocol(String),
}

fn describe(status: &Status) -> String {
    let kind = match status.code() {
        Code::InvalidArgument => "Error",
        Code::NotFound => "Not found",
        Code::Unavailable => "Unavailable",
        Code::ResourceExhausted => "Resources exhausted",
        Code::Unimplemented => "Not supported",
        Code::Cancelled => "Cancelled",
        Code::Unauthenticated => "Not signed in",
        Code::PermissionDenied => "Permission denied",
        _ => "Execution error",
    };
    format!("{kind}: {}", status.message())
}

impl SqlClient {
    /// Connects to `address` (`https://` is verified against `tls`, else
    /// the public roots) and signs in when given a login.
    pub async fn connect(
        address: &str,
        tls: Option<&ClientTlsConfig>,
        login: Option<&Login>,
    ) -> Result<Self, ClientError> {
        let channel = channel(address, tls)
            .map_err(|e| ClientError::Connect(address.to_string(), e.to_string()))?;
        let inner = FlightServiceClient::new(channel.clone())
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        let insight = QueryInsightClient::new(channel).max_decoding_message_size(MAX_MESSAGE_BYTES);
        let mut client = Self {
            inner,
            insight,
            session: uuid::Uuid::new_v4().to_string(),
            bearer: None,
            login: login.cloned(),
            last_query: None,
        };
        client.sign_in().await?;
        Ok(client)
    }

    /// The Flight handshake with HTTP Basic credentials; keeps the bearer
    /// token the coordinator answers with.
    async fn sign_in(&mut self) -> Result<(), ClientError> {
        use base64::Engine;
        let Some(login) = self.login.clone() else {
            return Ok(());
        };
        self.bearer = None;
        let credentials = base64::engine::general_purpose::STANDARD
            .encode(format!("{}:{}", login.user, login.password));
        let mut request = self.request(futures::stream::iter([HandshakeRequest::default()]));
        let basic = format!("Basic {credentials}")
            .parse()
            .map_err(|_| ClientError::Protocol("user name is not a valid header".into()))?;
        request.metadata_mut().insert("authorization", basic);
        let response = self
            .inner
            .handshake(request)
            .await
            .map_err(ClientError::Server)?;
        let bearer = response
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .filter(|v| v.starts_with("Bearer "))
            .map(str::to_string);
        let _: Vec<_> = response
            .into_inner()
            .try_collect()
            .await
            .map_err(ClientError::Server)?;
        self.bearer = bearer;
        Ok(())
    }

    fn request<T>(&self, body: T) -> Request<T> {
        let mut request = Request::new(body);
        if let Ok(v) = self.session.parse() {
            request.metadata_mut().insert(SESSION_HEADER, v);
        }
        if let Some(Ok(v)) = self.bearer.as_ref().map(|b| b.parse()) {
            request.metadata_mut().insert("authorization", v);
        }
        request
    }

    /// Runs one statement and streams its batches.
    pub async fn query(
        &mut self,
        sql: &str,
    ) -> Result<impl futures::Stream<Item = Result<RecordBatch, ClientError>> + use<>, ClientError>
    {
        let command = CommandStatementQuery {
            query: sql.to_string(),
            transaction_id: None,
        };
        let descriptor = FlightDescriptor::new_cmd(command.as_any().encode_to_vec());
        let info = match self
            .inner
            .get_flight_info(self.request(descriptor.clone()))
            .await
        {
            // A long session outlives its token: sign in again, once.
            Err(status) if status.code() == Code::Unauthenticated && self.login.is_some() => {
                self.sign_in().await?;
                self.inner.get_flight_info(self.request(descriptor)).await
            }
            other => other,
        }
        .map_err(ClientError::Server)?
        .into_inner();
        let mut streams = Vec::new();
        self.last_query = None;
        for endpoint in info.endpoint {
            let ticket = endpoint
                .ticket
                .ok_or_else(|| ClientError::Protocol("endpoint without ticket".into()))?;
            self.last_query = statement_handle(&ticket.ticket);
            let data = self
                .inner
                .do_get(self.request(ticket))
                .await
                .map_err(ClientError::Server)?
                .into_inner()
                .map_err(|s| FlightError::Tonic(Box::new(s)));
            streams.push(FlightRecordBatchStream::new_from_flight_data(data).map_err(
                |e| match e {
                    FlightError::Tonic(s) => ClientError::Server(*s),
                    other => ClientError::Protocol(other.to_string()),
                },
            ));
        }
        Ok(futures::stream::iter(streams).flatten())
    }

    /// What the last statement did (object-store requests, bytes, pruning,
    /// cache hits), once the coordinator has its workers' reports.
    pub async fn last_stats(&mut self) -> Result<Option<QueryStats>, ClientError> {
        let Some(query) = self.last_query_ref() else {
            return Ok(None);
        };
        let request = self.request(query);
        let stats = self.insight.stats(request).await;
        stats
            .map(|r| Some(r.into_inner()))
            .map_err(ClientError::Server)
    }

    /// Where the last statement is now (stages, tasks, rows and bytes so
    /// far), answered at once.
    pub async fn last_progress(&mut self) -> Result<Option<QueryProgress>, ClientError> {
        let Some(query) = self.last_query_ref() else {
            return Ok(None);
        };
        let request = self.request(query);
        let progress = self.insight.progress(request).await;
        progress
            .map(|r| Some(r.into_inner()))
            .map_err(ClientError::Server)
    }

    fn last_query_ref(&self) -> Option<QueryRef> {
        let query_id = self.last_query.clone()?;
        Some(QueryRef { query_id })
    }

    /// Runs one statement to the end and returns all its batches.
    pub async fn collect(&mut self, sql: &str) -> Result<Vec<RecordBatch>, ClientError> {
        self.query(sql).await?.try_collect().await
    }
}
