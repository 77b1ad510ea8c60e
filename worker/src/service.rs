//! The worker's Flight service: the data plane. It serves the output
//! partitions of the tasks it holds (`DoGet`); tasks arrive on the control
//! service ([`crate::control`]), and are built here.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;

use parking_lot::Mutex;

use arrow_flight::flight_service_server::FlightService;
use arrow_flight::{
    Action, ActionType, Criteria, Empty, FlightData, FlightDescriptor, FlightInfo,
    HandshakeRequest, HandshakeResponse, PollInfo, PutResult, SchemaResult, Ticket,
};
use datafusion::error::Result as DfResult;
use datafusion::execution::TaskContext;
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::prelude::SessionConfig;

use futures::{Stream, TryStreamExt};
use hayate_planner::{FetcherExtension, HayateOptions, decode_plan};
use hayate_protocol::{LaunchTask, PartitionTicket, Setting};
use hayate_storage::{IoCounters, StoreRegistry, counting_runtime_with_memory};

use crate::memory::MemoryLimits;
use prost::Message;
use tonic::{Request, Response, Status, Streaming};

use crate::lifecycle::Lifecycle;
use crate::partitions::{OpenPartition, PartitionServer};
use crate::registry::TaskRegistry;
use crate::task::RunningTask;
use hayate_rpc::{FlightPartitionFetcher, flight_encode, to_status};

type BoxedStream<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send + 'static>>;

/// The worker's Flight endpoint. Holds no query state beyond the tasks it is
/// running; everything a task needs arrives with it.
#[derive(Clone)]
pub struct WorkerService {
    registry: TaskRegistry,
    lifecycle: Lifecycle,
    runtime: Arc<RuntimeEnv>,
    /// The stores in `runtime`, built from what tasks carry.
    stores: Arc<StoreRegistry>,
    memory: MemoryLimits,
    fetcher: FlightPartitionFetcher,
    partitions: Arc<PartitionServer>,
    /// Task contexts by settings: building one registers every function
    /// DataFusion has, and the tasks of a query (and most queries) share
    /// their settings.
    contexts: Arc<Mutex<HashMap<Vec<Setting>, Arc<TaskContext>>>>,
}

/// Distinct settings whose contexts are kept.
const CACHED_CONTEXTS: usize = 64;

impl WorkerService {
    pub fn new(
        registry: TaskRegistry,
        lifecycle: Lifecycle,
        runtime: Arc<RuntimeEnv>,
        stores: Arc<StoreRegistry>,
        memory: MemoryLimits,
        fetcher: FlightPartitionFetcher,
        partitions: Arc<PartitionServer>,
    ) -> Self {
        Self {
            registry,
            lifecycle,
            runtime,
            stores,
            memory,
            fetcher,
            partitions,
            contexts: Arc::default(),
        }
    }

    /// The context a task's plan is decoded and run in: the query's settings,
    /// this worker's shared runtime (object stores, caches, memory pool) and
    /// the Flight fetcher its exchange readers use.
    fn task_context(&self, settings: &[Setting]) -> DfResult<Arc<TaskContext>> {
        if let Some(ctx) = self.contexts.lock().get(settings) {
            return Ok(Arc::clone(ctx));
        }
        let map: HashMap<String, String> = settings
            .iter()
            .map(|s| (s.key.clone(), s.value.clone()))
            .collect();
        // Hayate's own settings (`hayate.*`) travel too: some shape how a
        // task runs (its memory limit).
        let mut config = SessionConfig::new();
        config
            .options_mut()
            .extensions
            .insert(HayateOptions::default());
        for (key, value) in &map {
            config.options_mut().set(key, value)?;
        }
        let config =
            config.with_extension(Arc::new(FetcherExtension(Arc::new(self.fetcher.clone()))));
        let state = hayate_planner::with_hayate_functions(
            SessionStateBuilder::new()
                .with_config(config)
                .with_runtime_env(Arc::clone(&self.runtime))
                .with_default_features()
                .build(),
        )?;
        let ctx = state.task_ctx();
        let mut contexts = self.contexts.lock();
        if contexts.len() >= CACHED_CONTEXTS {
            contexts.clear();
        }
        contexts.insert(settings.to_vec(), Arc::clone(&ctx));
        Ok(ctx)
    }

    /// The registry of the tasks held here.
    pub(crate) fn registry(&self) -> &TaskRegistry {
        &self.registry
    }

    pub(crate) fn lifecycle(&self) -> &Lifecycle {
        &self.lifecycle
    }

    /// Builds a task from its launch and holds it until its output is read.
    pub(crate) fn launch(&self, launch: LaunchTask, span: tracing::Span) -> Result<(), Status> {
        // A draining worker still completes the queries it is part of (their
        // tasks are launched in one concurrent round); once it refuses new
        // queries, one gets Unavailable and the coordinator places it
        // elsewhere.
        let id = launch.task;
        if self.lifecycle.refuses_new_queries() && !self.registry.holds_run(&id.run()) {
            return Err(Status::unavailable(
                "worker is shutting down and takes no new queries",
            ));
        }
        let started = std::time::Instant::now();
        for store in &launch.stores {
            let url = url::Url::parse(&store.url).map_err(|e| {
                Status::invalid_argument(format!("bad store URL {}: {e}", store.url))
            })?;
            self.stores
                .ensure(&url, &store.options)
                .map_err(|e| Status::invalid_argument(e.to_string()))?;
        }
        let shared = self
            .task_context(&launch.settings)
            .map_err(|e| to_status(&e))?;
        // The task reads through its own counting view of the shared stores
        // and caches, so its I/O is reported as its own.
        let io = Arc::new(IoCounters::default());
        let memory = self
            .memory
            .limit_for(&shared)
            .map(|limit| self.registry.query_memory(id.run(), limit));
        let runtime =
            counting_runtime_with_memory(&self.runtime, &io, memory).map_err(|e| to_status(&e))?;
        let context = Arc::new(TaskContext::new(
            Some(id.to_string()),
            shared.session_id(),
            shared.session_config().clone(),
            shared.scalar_functions().clone(),
            shared.higher_order_functions().clone(),
            shared.aggregate_functions().clone(),
            shared.window_functions().clone(),
            runtime,
        ));
        let plan = decode_plan(&launch.plan, &context)
            .map_err(|e| Status::invalid_argument(format!("cannot decode plan of {id}: {e}")))?;
        tracing::debug!(
            task = %id,
            consumers = launch.consumers,
            elapsed_ms = started.elapsed().as_secs_f64() * 1000.0,
            "task launched"
        );
        self.registry.insert(
            RunningTask::new(id, plan, context, launch.consumers as usize, io, span),
            &launch.coordinator_id,
        );
        Ok(())
    }

    fn serve_partition(&self, ticket: PartitionTicket) -> Result<BoxedStream<FlightData>, Status> {
        let OpenPartition { batches, task } = self.partitions.open(&ticket)?;
        let schema = batches.schema();
        let span = task
            .upgrade()
            .map(|task| task.span.clone())
            .unwrap_or_else(tracing::Span::none);
        let batches = hayate_telemetry::in_span(span, batches);
        let encoded = flight_encode(schema, batches).inspect_ok(move |data| {
            if let Some(task) = task.upgrade() {
                task.count_sent(data.data_header.len() + data.data_body.len());
            }
        });
        // Encoding is CPU work too: only the messages reach the serving
        // runtime.
        Ok(Box::pin(self.partitions.cpu().poll_here(encoded)))
    }
}

fn decode<M: Message + Default>(bytes: &[u8], what: &str) -> Result<M, Status> {
    M::decode(bytes).map_err(|e| Status::invalid_argument(format!("malformed {what}: {e}")))
}

#[tonic::async_trait]
impl FlightService for WorkerService {
    type HandshakeStream = BoxedStream<HandshakeResponse>;
    type ListFlightsStream = BoxedStream<FlightInfo>;
    type DoGetStream = BoxedStream<FlightData>;
    type DoPutStream = BoxedStream<PutResult>;
    type DoActionStream = BoxedStream<arrow_flight::Result>;
    type ListActionsStream = BoxedStream<ActionType>;
    type DoExchangeStream = BoxedStream<FlightData>;

    async fn handshake(
        &self,
        _request: Request<Streaming<HandshakeRequest>>,
    ) -> Result<Response<Self::HandshakeStream>, Status> {
        Err(Status::unimplemented("workers take no handshake"))
    }

    async fn list_flights(
        &self,
        _request: Request<Criteria>,
    ) -> Result<Response<Self::ListFlightsStream>, Status> {
        Err(Status::unimplemented("workers list no flights"))
    }

    async fn get_flight_info(
        &self,
        _request: Request<FlightDescriptor>,
    ) -> Result<Response<FlightInfo>, Status> {
        Err(Status::unimplemented(
            "workers serve tasks, not queries: connect to the coordinator",
        ))
    }

    async fn poll_flight_info(
        &self,
        _request: Request<FlightDescriptor>,
    ) -> Result<Response<PollInfo>, Status> {
        Err(Status::unimplemented(
            "workers serve tasks, not queries: connect to the coordinator",
        ))
    }

    async fn get_schema(
        &self,
        _request: Request<FlightDescriptor>,
    ) -> Result<Response<SchemaResult>, Status> {
        Err(Status::unimplemented(
            "workers serve tasks, not queries: connect to the coordinator",
        ))
    }

    async fn do_get(
        &self,
        request: Request<Ticket>,
    ) -> Result<Response<Self::DoGetStream>, Status> {
        let ticket: PartitionTicket = decode(&request.into_inner().ticket, "partition ticket")?;
        Ok(Response::new(self.serve_partition(ticket)?))
    }

    async fn do_put(
        &self,
        _request: Request<Streaming<FlightData>>,
    ) -> Result<Response<Self::DoPutStream>, Status> {
        Err(Status::unimplemented("workers accept no uploads"))
    }

    async fn do_exchange(
        &self,
        _request: Request<Streaming<FlightData>>,
    ) -> Result<Response<Self::DoExchangeStream>, Status> {
        Err(Status::unimplemented("workers do not exchange"))
    }

    async fn do_action(
        &self,
        _request: Request<Action>,
    ) -> Result<Response<Self::DoActionStream>, Status> {
        Err(Status::unimplemented(
            "workers take control calls on the hayate.WorkerControl service",
        ))
    }

    async fn list_actions(
        &self,
        _request: Request<Empty>,
    ) -> Result<Response<Self::ListActionsStream>, Status> {
        Ok(Response::new(Box::pin(futures::stream::empty())))
    }
}
