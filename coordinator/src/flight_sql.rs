//! The Flight SQL surface that clients (ADBC, JDBC, the `hayate` CLI) use.

use std::pin::Pin;
use std::sync::Arc;

use arrow_flight::decode::FlightRecordBatchStream;
use arrow_flight::error::FlightError;
use arrow_flight::flight_service_server::FlightService;
use arrow_flight::sql::metadata::{SqlInfoData, XdbcTypeInfoData};
use arrow_flight::sql::server::{FlightSqlService, PeekableFlightDataStream};
use arrow_flight::sql::{
    ActionClosePreparedStatementRequest, ActionCreatePreparedStatementRequest,
    ActionCreatePreparedStatementResult, Any, CommandGetCatalogs, CommandGetCrossReference,
    CommandGetDbSchemas, CommandGetExportedKeys, CommandGetImportedKeys, CommandGetPrimaryKeys,
    CommandGetSqlInfo, CommandGetTableTypes, CommandGetTables, CommandGetXdbcTypeInfo,
    CommandPreparedStatementQuery, CommandPreparedStatementUpdate, CommandStatementQuery,
    CommandStatementUpdate, DoPutPreparedStatementResult, ProstMessageExt, SqlInfo,
    TicketStatementQuery,
};
use arrow_flight::{
    Action, FlightData, FlightDescriptor, FlightEndpoint, FlightInfo, HandshakeRequest,
    HandshakeResponse, IpcMessage, SchemaAsIpc, Ticket,
};
use arrow_flight::{CancelFlightInfoRequest, CancelFlightInfoResult, CancelStatus};
use datafusion::arrow::array::{RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::ipc::writer::IpcWriteOptions;
use datafusion::common::ScalarValue;
use datafusion::datasource::TableType;
use datafusion::prelude::SessionContext;
use futures::{Stream, TryStreamExt};
use hayate_protocol::{QueryRef, StatementTicket, actions};
use hayate_rpc::flight_encode;
use prost::Message;
use tonic::metadata::MetadataValue;
use tonic::{Request, Response, Status};

use crate::auth::Authenticator;
use crate::engine::QueryEngine;
use crate::error::CoordinatorError;
use crate::parameters::{PreparedHandle, parameter_rows};
use crate::planning::statement_schemas;
use crate::query::Submitter;
use crate::session::{SESSION_COOKIE, Sessions};
use crate::session_options::{
    CLOSE_SESSION, CloseSessionResult, CloseSessionStatus, GET_SESSION_OPTIONS,
    SET_SESSION_OPTIONS, SetSessionOptionsRequest, get_options, set_options,
};
use crate::sql_metadata::{foreign_keys_schema, primary_keys_schema, sql_info, xdbc_types};

type DoGetStream = Pin<Box<dyn Stream<Item = Result<FlightData, Status>> + Send + 'static>>;

/// The coordinator's Flight SQL service.
pub struct CoordinatorService {
    sessions: Sessions,
    engine: Arc<QueryEngine>,
    sql_info: SqlInfoData,
    xdbc_types: XdbcTypeInfoData,
    /// Signs users in; `None` when the coordinator is open.
    auth: Option<Arc<Authenticator>>,
}

impl CoordinatorService {
    pub fn new(
        sessions: Sessions,
        engine: Arc<QueryEngine>,
        auth: Option<Arc<Authenticator>>,
    ) -> Self {
        Self {
            sessions,
            engine,
            sql_info: sql_info(),
            xdbc_types: xdbc_types(),
            auth,
        }
    }

    /// Who sends `request`, and the session it runs in.
    fn session<T>(&self, request: &Request<T>) -> (Submitter, SessionContext) {
        let user = self.auth.as_ref().and_then(|auth| {
            let authorization = request.metadata().get("authorization");
            auth.user_for(authorization.and_then(|v| v.to_str().ok()))
                .ok()
        });
        let connection = request.remote_addr().map(|peer| (peer, user.clone()));
        let (session, ctx) = self.sessions.for_request(request.metadata(), connection);
        let submitter = Submitter {
            user: user.unwrap_or_default(),
            session,
        };
        (submitter, ctx)
    }

    /// Plans a statement and answers with one endpoint whose ticket runs
    /// it; the ticket also carries the `statement` (its SQL and bound rows),
    /// so that it can be answered again without this plan.
    async fn plan_to_info<T>(
        &self,
        statement: &PreparedHandle,
        parameters: Option<Vec<ScalarValue>>,
        request: &Request<T>,
    ) -> Result<Response<FlightInfo>, Status> {
        let sql = statement.sql.as_str();
        let (submitter, ctx) = self.session(request);
        let submitted = self
            .engine
            .submit(&ctx, &submitter, sql, parameters)
            .await?;
        let schema = submitted.schema;
        let ticket = TicketStatementQuery {
            statement_handle: StatementTicket {
                query_id: submitted.id,
                statement: statement.to_bytes(),
                replayable: submitted.replayable,
            }
            .to_handle()
            .into(),
        };
        let info = FlightInfo::new()
            .try_with_schema(&schema)
            .map_err(|e| Status::internal(format!("cannot encode schema: {e}")))?
            .with_endpoint(
                FlightEndpoint::new().with_ticket(Ticket::new(ticket.as_any().encode_to_vec())),
            )
            .with_descriptor(FlightDescriptor::new_cmd(sql.as_bytes().to_vec()))
            .with_ordered(true);
        Ok(with_session_cookie(Response::new(info), &submitter.session))
    }
}

fn with_session_cookie<T>(mut response: Response<T>, session_id: &str) -> Response<T> {
    if let Ok(v) = MetadataValue::try_from(format!("{SESSION_COOKIE}={session_id}; Path=/")) {
        response.metadata_mut().insert("set-cookie", v);
    }
    response
}

fn batches_response(schema: SchemaRef, batches: Vec<RecordBatch>) -> Response<DoGetStream> {
    let batches = futures::stream::iter(batches.into_iter().map(Ok));
    Response::new(flight_encode(schema, batches))
}

fn prepared_handle(handle: &[u8]) -> Result<PreparedHandle, Status> {
    PreparedHandle::decode_from(handle).map_err(|e| Status::invalid_argument(e.to_string()))
}

/// The parameter rows a `DoPut` carries (none when it brings only its
/// command).
async fn bound_rows(
    request: Request<PeekableFlightDataStream>,
) -> Result<Vec<RecordBatch>, Status> {
    let messages = request
        .into_inner()
        .try_filter(|data| futures::future::ready(!data.data_header.is_empty()))
        .map_err(|status| FlightError::Tonic(Box::new(status)));
    FlightRecordBatchStream::new_from_flight_data(messages)
        .try_collect()
        .await
        .map_err(Status::from)
}

#[tonic::async_trait]
impl FlightSqlService for CoordinatorService {
    type FlightService = CoordinatorService;

    /// Signs a user in: HTTP Basic credentials in, a bearer token out (in
    /// the `authorization` header and as the payload). An open coordinator
    /// answers every handshake, for clients that always send one.
    async fn do_handshake(
        &self,
        request: Request<tonic::Streaming<HandshakeRequest>>,
    ) -> Result<
        Response<Pin<Box<dyn Stream<Item = Result<HandshakeResponse, Status>> + Send>>>,
        Status,
    > {
        let Some(auth) = &self.auth else {
            let open = HandshakeResponse::default();
            return Ok(Response::new(Box::pin(futures::stream::once(async {
                Ok(open)
            }))));
        };
        let header = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        let token = auth.sign_in(header)?;
        let bearer = MetadataValue::try_from(format!("Bearer {token}"))
            .map_err(|_| Status::internal("token is not a valid header value"))?;
        let answer = HandshakeResponse {
            protocol_version: 0,
            payload: token.into_bytes().into(),
        };
        let mut response: Response<Pin<Box<dyn Stream<Item = _> + Send>>> =
            Response::new(Box::pin(futures::stream::once(async { Ok(answer) })));
        response.metadata_mut().insert("authorization", bearer);
        Ok(response)
    }

    async fn get_flight_info_statement(
        &self,
        query: CommandStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        self.plan_to_info(&PreparedHandle::new(query.query), None, &request)
            .await
    }

    async fn get_flight_info_prepared_statement(
        &self,
        query: CommandPreparedStatementQuery,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let handle = prepared_handle(&query.prepared_statement_handle)?;
        let mut rows = handle
            .rows()
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        if rows.len() > 1 {
            return Err(Status::invalid_argument(format!(
                "a query takes one row of parameters, and {} were bound",
                rows.len()
            )));
        }
        self.plan_to_info(&handle, rows.pop(), &request).await
    }

    async fn do_get_statement(
        &self,
        ticket: TicketStatementQuery,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let ticket = StatementTicket::from_handle(&ticket.statement_handle)
            .ok_or_else(|| Status::invalid_argument("malformed statement ticket"))?;
        let stream = match self.engine.execute(&ticket.query_id).await {
            Err(CoordinatorError::UnknownStatement(_)) if ticket.replayable => {
                // Not planned here (another coordinator, or redeemed
                // again): plan it again from the ticket.
                let statement = prepared_handle(&ticket.statement)?;
                let mut rows = statement
                    .rows()
                    .map_err(|e| Status::invalid_argument(e.to_string()))?;
                let (submitter, ctx) = self.session(&request);
                let (id, _) = self
                    .engine
                    .plan(&ctx, &submitter, &statement.sql, rows.pop())
                    .await?;
                self.engine.execute(&id).await?
            }
            Err(CoordinatorError::UnknownStatement(id)) => {
                return Err(Status::not_found(format!(
                    "statement {id} is not held here and is not run again: it took effect \
                     when it was planned (a write, DDL or SET) and its answer went to the client \
                     that sent it"
                )));
            }
            other => other?,
        };
        let schema = stream.schema();
        Ok(Response::new(flight_encode(schema, stream)))
    }

    async fn do_put_statement_update(
        &self,
        command: CommandStatementUpdate,
        request: Request<PeekableFlightDataStream>,
    ) -> Result<i64, Status> {
        let (submitter, ctx) = self.session(&request);
        Ok(self
            .engine
            .run_update(&ctx, &submitter, &command.query, None)
            .await?)
    }

    async fn do_put_prepared_statement_update(
        &self,
        command: CommandPreparedStatementUpdate,
        request: Request<PeekableFlightDataStream>,
    ) -> Result<i64, Status> {
        let handle = prepared_handle(&command.prepared_statement_handle)?;
        let (submitter, ctx) = self.session(&request);
        // Rows sent with the update replace rows bound before it.
        let sent = bound_rows(request).await?;
        let rows = if sent.is_empty() {
            handle.rows()
        } else {
            parameter_rows(&sent)
        }
        .map_err(|e| Status::invalid_argument(e.to_string()))?;
        if rows.is_empty() {
            return Ok(self
                .engine
                .run_update(&ctx, &submitter, &handle.sql, None)
                .await?);
        }
        // Each bound row runs the statement once, as a batch insert does.
        let mut count = 0;
        for row in rows {
            count += self
                .engine
                .run_update(&ctx, &submitter, &handle.sql, Some(row))
                .await?;
        }
        Ok(count)
    }

    async fn do_put_prepared_statement_query(
        &self,
        query: CommandPreparedStatementQuery,
        request: Request<PeekableFlightDataStream>,
    ) -> Result<DoPutPreparedStatementResult, Status> {
        // The bound rows travel in the handle the client uses from now on.
        let handle = prepared_handle(&query.prepared_statement_handle)?
            .bind(&bound_rows(request).await?)
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        Ok(DoPutPreparedStatementResult {
            prepared_statement_handle: Some(handle.to_bytes().into()),
        })
    }

    async fn do_action_create_prepared_statement(
        &self,
        query: ActionCreatePreparedStatementRequest,
        request: Request<Action>,
    ) -> Result<ActionCreatePreparedStatementResult, Status> {
        // The handle is the statement itself (and later its bound rows):
        // the coordinator keeps nothing per prepared statement, so handles
        // survive anything but a restart of the catalog they refer to.
        let (_, ctx) = self.session(&request);
        let (schema, parameters) = statement_schemas(&ctx, &query.query)
            .await
            .map_err(CoordinatorError::Planning)?;
        let options = IpcWriteOptions::default();
        let IpcMessage(schema_bytes) = SchemaAsIpc::new(&schema, &options)
            .try_into()
            .map_err(|e: datafusion::arrow::error::ArrowError| Status::internal(e.to_string()))?;
        let IpcMessage(params) = SchemaAsIpc::new(&parameters, &options)
            .try_into()
            .map_err(|e: datafusion::arrow::error::ArrowError| Status::internal(e.to_string()))?;
        Ok(ActionCreatePreparedStatementResult {
            prepared_statement_handle: PreparedHandle::new(query.query).to_bytes().into(),
            dataset_schema: schema_bytes,
            parameter_schema: params,
        })
    }

    async fn do_action_close_prepared_statement(
        &self,
        _query: ActionClosePreparedStatementRequest,
        _request: Request<Action>,
    ) -> Result<(), Status> {
        Ok(())
    }

    async fn get_flight_info_catalogs(
        &self,
        query: CommandGetCatalogs,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        metadata_info(&query.into_builder().schema(), query.as_any(), request)
    }

    async fn do_get_catalogs(
        &self,
        query: CommandGetCatalogs,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let (_, ctx) = self.session(&request);
        let mut builder = query.into_builder();
        for name in ctx.catalog_names() {
            builder.append(name);
        }
        let schema = builder.schema();
        Ok(batches_response(schema, vec![builder.build()?]))
    }

    async fn get_flight_info_schemas(
        &self,
        query: CommandGetDbSchemas,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        metadata_info(
            &query.clone().into_builder().schema(),
            query.as_any(),
            request,
        )
    }

    async fn do_get_schemas(
        &self,
        query: CommandGetDbSchemas,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let (_, ctx) = self.session(&request);
        let mut builder = query.into_builder();
        for catalog_name in ctx.catalog_names() {
            if let Some(catalog) = ctx.catalog(&catalog_name) {
                for schema_name in catalog.schema_names() {
                    builder.append(&catalog_name, schema_name);
                }
            }
        }
        let schema = builder.schema();
        Ok(batches_response(schema, vec![builder.build()?]))
    }

    async fn get_flight_info_tables(
        &self,
        query: CommandGetTables,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        metadata_info(
            &query.clone().into_builder().schema(),
            query.as_any(),
            request,
        )
    }

    async fn do_get_tables(
        &self,
        query: CommandGetTables,
        request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let (_, ctx) = self.session(&request);
        let mut builder = query.into_builder();
        for catalog_name in ctx.catalog_names() {
            let Some(catalog) = ctx.catalog(&catalog_name) else {
                continue;
            };
            for schema_name in catalog.schema_names() {
                let Some(schema) = catalog.schema(&schema_name) else {
                    continue;
                };
                for table_name in schema.table_names() {
                    let Ok(Some(table)) = schema.table(&table_name).await else {
                        continue;
                    };
                    let kind = match table.table_type() {
                        TableType::Base => "TABLE",
                        TableType::View => "VIEW",
                        TableType::Temporary => "LOCAL TEMPORARY",
                    };
                    builder
                        .append(
                            &catalog_name,
                            &schema_name,
                            &table_name,
                            kind,
                            table.schema().as_ref(),
                        )
                        .map_err(Status::from)?;
                }
            }
        }
        let schema = builder.schema();
        Ok(batches_response(schema, vec![builder.build()?]))
    }

    async fn get_flight_info_table_types(
        &self,
        query: CommandGetTableTypes,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        metadata_info(&table_types_schema(), query.as_any(), request)
    }

    async fn do_get_table_types(
        &self,
        _query: CommandGetTableTypes,
        _request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let schema = table_types_schema();
        let batch = RecordBatch::try_new(
            Arc::clone(&schema),
            vec![Arc::new(StringArray::from(vec![
                "LOCAL TEMPORARY",
                "TABLE",
                "VIEW",
            ]))],
        )
        .map_err(|e| Status::internal(e.to_string()))?;
        Ok(batches_response(schema, vec![batch]))
    }

    async fn get_flight_info_sql_info(
        &self,
        query: CommandGetSqlInfo,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        let schema = query.clone().into_builder(&self.sql_info).schema();
        metadata_info(&schema, query.as_any(), request)
    }

    async fn do_get_sql_info(
        &self,
        query: CommandGetSqlInfo,
        _request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let builder = query.into_builder(&self.sql_info);
        let schema = builder.schema();
        Ok(batches_response(schema, vec![builder.build()?]))
    }

    async fn do_action_fallback(
        &self,
        request: Request<Action>,
    ) -> Result<Response<<Self as FlightService>::DoActionStream>, Status> {
        let session = || self.session(&request);
        let answer = |body: Vec<u8>| -> Response<<Self as FlightService>::DoActionStream> {
            Response::new(Box::pin(futures::stream::once(async move {
                Ok(arrow_flight::Result { body: body.into() })
            })))
        };
        match request.get_ref().r#type.as_str() {
            SET_SESSION_OPTIONS => {
                let options = SetSessionOptionsRequest::decode(request.get_ref().body.as_ref())
                    .map_err(|e| {
                        Status::invalid_argument(format!(
                            "malformed SetSessionOptions request: {e}"
                        ))
                    })?;
                let (_, ctx) = session();
                return Ok(answer(set_options(&ctx, options).await.encode_to_vec()));
            }
            GET_SESSION_OPTIONS => {
                let (_, ctx) = session();
                return Ok(answer(get_options(&ctx).encode_to_vec()));
            }
            CLOSE_SESSION => {
                let (submitter, _) = session();
                self.sessions.close(&submitter.session);
                let closed = CloseSessionResult {
                    status: CloseSessionStatus::Closed as i32,
                };
                return Ok(answer(closed.encode_to_vec()));
            }
            _ => {}
        }
        let action = request.into_inner();
        match action.r#type.as_str() {
            // The Flight RPC way to stop a query: the request names the
            // FlightInfo whose ticket runs it.
            "CancelFlightInfo" => {
                let request =
                    CancelFlightInfoRequest::decode(action.body.as_ref()).map_err(|e| {
                        Status::invalid_argument(format!("malformed CancelFlightInfo request: {e}"))
                    })?;
                let handles: Vec<String> = request
                    .info
                    .iter()
                    .flat_map(|info| info.endpoint.iter())
                    .filter_map(|e| e.ticket.as_ref())
                    .filter_map(|t| statement_handle(&t.ticket))
                    .collect();
                let cancelled = handles
                    .iter()
                    .filter(|h| self.engine.cancel(h, "the client"))
                    .count();
                let status = match (handles.is_empty(), cancelled) {
                    (true, _) => CancelStatus::NotCancellable,
                    (false, 0) => CancelStatus::NotCancellable,
                    _ => CancelStatus::Cancelled,
                };
                let body = CancelFlightInfoResult::new(status).encode_to_vec();
                Ok(Response::new(Box::pin(futures::stream::once(async move {
                    Ok(arrow_flight::Result { body: body.into() })
                }))))
            }
            actions::QUERY_PROGRESS => {
                let query = QueryRef::decode(action.body.as_ref()).map_err(|e| {
                    Status::invalid_argument(format!("malformed query reference: {e}"))
                })?;
                let progress = self.engine.progress(&query.query_id).ok_or_else(|| {
                    Status::not_found(format!("no record of query {}", query.query_id))
                })?;
                Ok(answer(progress.encode_to_vec()))
            }
            actions::QUERY_STATS => {
                let query = QueryRef::decode(action.body.as_ref()).map_err(|e| {
                    Status::invalid_argument(format!("malformed query reference: {e}"))
                })?;
                let stats = self.engine.stats(&query.query_id).await.ok_or_else(|| {
                    Status::not_found(format!("no record of query {}", query.query_id))
                })?;
                let body = stats.encode_to_vec();
                Ok(Response::new(Box::pin(futures::stream::once(async move {
                    Ok(arrow_flight::Result { body: body.into() })
                }))))
            }
            other => Err(Status::invalid_argument(format!(
                "unknown action {other:?}"
            ))),
        }
    }

    async fn get_flight_info_xdbc_type_info(
        &self,
        query: CommandGetXdbcTypeInfo,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        metadata_info(&self.xdbc_types.schema(), query.as_any(), request)
    }

    async fn do_get_xdbc_type_info(
        &self,
        query: CommandGetXdbcTypeInfo,
        _request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        let batch = query.into_builder(&self.xdbc_types).build()?;
        Ok(batches_response(batch.schema(), vec![batch]))
    }

    async fn get_flight_info_primary_keys(
        &self,
        query: CommandGetPrimaryKeys,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        metadata_info(&primary_keys_schema(), query.as_any(), request)
    }

    async fn do_get_primary_keys(
        &self,
        _query: CommandGetPrimaryKeys,
        _request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        Ok(batches_response(primary_keys_schema(), vec![]))
    }

    async fn get_flight_info_exported_keys(
        &self,
        query: CommandGetExportedKeys,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        metadata_info(&foreign_keys_schema(), query.as_any(), request)
    }

    async fn do_get_exported_keys(
        &self,
        _query: CommandGetExportedKeys,
        _request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        Ok(batches_response(foreign_keys_schema(), vec![]))
    }

    async fn get_flight_info_imported_keys(
        &self,
        query: CommandGetImportedKeys,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        metadata_info(&foreign_keys_schema(), query.as_any(), request)
    }

    async fn do_get_imported_keys(
        &self,
        _query: CommandGetImportedKeys,
        _request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        Ok(batches_response(foreign_keys_schema(), vec![]))
    }

    async fn get_flight_info_cross_reference(
        &self,
        query: CommandGetCrossReference,
        request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        metadata_info(&foreign_keys_schema(), query.as_any(), request)
    }

    async fn do_get_cross_reference(
        &self,
        _query: CommandGetCrossReference,
        _request: Request<Ticket>,
    ) -> Result<Response<DoGetStream>, Status> {
        Ok(batches_response(foreign_keys_schema(), vec![]))
    }

    async fn register_sql_info(&self, _id: i32, _result: &SqlInfo) {}
}

fn table_types_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new(
        "table_type",
        DataType::Utf8,
        false,
    )]))
}

/// A `FlightInfo` for a metadata command: its ticket is the command itself.
fn metadata_info(
    schema: &Schema,
    command: Any,
    request: Request<FlightDescriptor>,
) -> Result<Response<FlightInfo>, Status> {
    let info = FlightInfo::new()
        .try_with_schema(schema)
        .map_err(|e| Status::internal(format!("cannot encode schema: {e}")))?
        .with_endpoint(FlightEndpoint::new().with_ticket(Ticket::new(command.encode_to_vec())))
        .with_descriptor(request.into_inner());
    Ok(Response::new(info))
}

/// The query a Flight SQL ticket runs, if it is one of ours.
pub fn statement_handle(ticket: &[u8]) -> Option<String> {
    let any = arrow_flight::sql::Any::decode(ticket).ok()?;
    let ticket: TicketStatementQuery = any.unpack().ok()??;
    StatementTicket::from_handle(&ticket.statement_handle).map(|t| t.query_id)
}
