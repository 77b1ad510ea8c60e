//! A small Flight SQL client for the CLI: runs a statement and returns its
//! batches, keeping the server's error code and message intact. Given
//! several coordinators, it uses the first that answers; when the one it
//! uses is lost, the statement it was running fails (it may have half run)
//! and the next statements go to another.

use arrow_flight::decode::FlightRecordBatchStream;
use arrow_flight::error::FlightError;
use arrow_flight::flight_service_client::FlightServiceClient;
use arrow_flight::sql::{CommandStatementQuery, ProstMessageExt};
use arrow_flight::{FlightData, FlightDescriptor, HandshakeRequest};
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
/// stay for the life of the client, on one coordinator).
pub struct SqlClient {
    /// Every coordinator it may use, and the one it uses now.
    coordinators: Vec<String>,
    current: usize,
    tls: Option<ClientTlsConfig>,
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
    /// The `SET` statements this session ran, in order: sent again to a
    /// coordinator it moves to, so that the session keeps its settings.
    settings: Vec<String>,
    /// Moved to another coordinator that has not been given them yet.
    settings_owed: bool,
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
    /// The coordinator went away under the statement: it may have run in
    /// part, so it is not sent again by itself.
    #[error("Unavailable: lost the coordinator at {address} ({}); the statement did not finish", .status.message())]
    CoordinatorLost { address: String, status: Status },
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

/// Whether a failed call means the coordinator itself is gone: the
/// connection broke or could not be made (an error the transport made
/// here, which has a source; a status the coordinator sent has none).
fn coordinator_gone(status: &Status) -> bool {
    matches!(
        status.code(),
        Code::Unavailable | Code::Unknown | Code::Internal | Code::Cancelled
    ) && std::error::Error::source(status).is_some()
}

/// Whether the call never reached a coordinator (nothing listens at its
/// address, or its name does not resolve): it is safe to send it to
/// another.
fn never_reached(status: &Status) -> bool {
    let mut source = std::error::Error::source(status);
    while let Some(error) = source {
        if let Some(io) = error.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                std::io::ErrorKind::ConnectionRefused
                    | std::io::ErrorKind::HostUnreachable
                    | std::io::ErrorKind::NetworkUnreachable
            )
        {
            return true;
        }
        if error.to_string().contains("dns error") {
            return true;
        }
        source = error.source();
    }
    false
}

/// The error of a call to the coordinator at `address` that failed with
/// `status`: the coordinator lost, or its own answer.
fn call_failed(address: &str, status: Status) -> ClientError {
    if coordinator_gone(&status) {
        ClientError::CoordinatorLost {
            address: address.to_string(),
            status,
        }
    } else {
        ClientError::Server(status)
    }
}

/// `sql` as the descriptor of a Flight SQL statement.
fn statement_descriptor(sql: &str) -> FlightDescriptor {
    let command = CommandStatementQuery {
        query: sql.to_string(),
        transaction_id: None,
    };
    FlightDescriptor::new_cmd(command.as_any().encode_to_vec())
}

/// Whether `sql` changes a session setting (`SET name = value`).
fn is_setting(sql: &str) -> bool {
    sql.split_whitespace()
        .next()
        .is_some_and(|w| w.eq_ignore_ascii_case("set"))
}

impl SqlClient {
    /// Connects to the first of `addresses` (each may be a comma-separated
    /// list) that answers; `https://` is verified against `tls`, else the
    /// public roots. Signs in when given a login.
    pub async fn connect<S: AsRef<str>>(
        addresses: &[S],
        tls: Option<&ClientTlsConfig>,
        login: Option<&Login>,
    ) -> Result<Self, ClientError> {
        let coordinators: Vec<String> = addresses
            .iter()
            .flat_map(|a| a.as_ref().split(','))
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .map(str::to_string)
            .collect();
        let first = coordinators
            .first()
            .ok_or_else(|| ClientError::Connect(String::new(), "no coordinator given".into()))?;
        let (inner, insight) = Self::clients(first, tls)?;
        let mut client = Self {
            coordinators,
            current: 0,
            tls: tls.cloned(),
            inner,
            insight,
            session: uuid::Uuid::new_v4().to_string(),
            bearer: None,
            login: login.cloned(),
            last_query: None,
            settings: Vec::new(),
            settings_owed: false,
        };
        client.sign_in_anywhere().await?;
        Ok(client)
    }

    fn clients(
        address: &str,
        tls: Option<&ClientTlsConfig>,
    ) -> Result<(FlightServiceClient<Channel>, QueryInsightClient<Channel>), ClientError> {
        let channel = channel(address, tls)
            .map_err(|e| ClientError::Connect(address.to_string(), e.to_string()))?;
        let inner = FlightServiceClient::new(channel.clone())
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES);
        let insight = QueryInsightClient::new(channel).max_decoding_message_size(MAX_MESSAGE_BYTES);
        Ok((inner, insight))
    }

    /// The coordinator statements go to now.
    pub fn address(&self) -> &str {
        &self.coordinators[self.current]
    }

    /// Moves to the next coordinator, which is given the session's
    /// settings before its first statement; returns its address.
    pub fn fail_over(&mut self) -> Result<&str, ClientError> {
        self.current = (self.current + 1) % self.coordinators.len();
        let (inner, insight) = Self::clients(&self.coordinators[self.current], self.tls.as_ref())?;
        self.inner = inner;
        self.insight = insight;
        self.bearer = None;
        self.last_query = None;
        self.settings_owed = !self.settings.is_empty();
        Ok(self.address())
    }

    /// Gives the coordinator moved to the session's settings (signed in
    /// first, when the session has a login). One it refuses is left out:
    /// the statements after it say so if it matters.
    async fn send_settings(&mut self) {
        self.settings_owed = false;
        if self.bearer.is_none() {
            // A failed sign-in shows in the statement that follows.
            let _ = self.sign_in().await;
        }
        for setting in self.settings.clone() {
            let descriptor = statement_descriptor(&setting);
            let Ok(info) = self.inner.get_flight_info(self.request(descriptor)).await else {
                continue;
            };
            for ticket in info
                .into_inner()
                .endpoint
                .into_iter()
                .filter_map(|e| e.ticket)
            {
                if let Ok(stream) = self.inner.do_get(self.request(ticket)).await {
                    let _: Result<Vec<FlightData>, Status> =
                        stream.into_inner().try_collect().await;
                }
            }
        }
    }

    /// Signs in at the first coordinator that answers.
    async fn sign_in_anywhere(&mut self) -> Result<(), ClientError> {
        for _ in 1..self.coordinators.len() {
            match self.sign_in().await {
                Err(ClientError::Server(status)) if never_reached(&status) => {
                    self.fail_over()?;
                }
                other => return other,
            }
        }
        self.sign_in().await
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
        let descriptor = statement_descriptor(sql);
        let mut tries = self.coordinators.len();
        let info = loop {
            tries -= 1;
            if self.settings_owed {
                self.send_settings().await;
            }
            match self
                .inner
                .get_flight_info(self.request(descriptor.clone()))
                .await
            {
                // A long session outlives its token: sign in again, once.
                Err(status) if status.code() == Code::Unauthenticated && self.login.is_some() => {
                    self.sign_in().await?;
                    break self.inner.get_flight_info(self.request(descriptor)).await;
                }
                // Nothing was sent: another coordinator runs it.
                Err(status) if never_reached(&status) && tries > 0 => {
                    self.fail_over()?;
                    self.sign_in().await?;
                }
                other => break other,
            }
        }
        .map_err(|status| call_failed(self.address(), status))?
        .into_inner();
        if is_setting(sql) {
            self.settings.push(sql.to_string());
        }
        let address = self.address().to_string();
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
                .map_err(|status| call_failed(&address, status))?
                .into_inner()
                .map_err(|s| FlightError::Tonic(Box::new(s)));
            let address = address.clone();
            streams.push(
                FlightRecordBatchStream::new_from_flight_data(data).map_err(move |e| match e {
                    FlightError::Tonic(status) => call_failed(&address, *status),
                    other => ClientError::Protocol(other.to_string()),
                }),
            );
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
