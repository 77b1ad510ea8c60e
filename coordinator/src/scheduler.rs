//! Placing a query's tasks on workers and starting them.
//!
//! Every stage of a query starts together (the exchange is pipelined: a
//! consumer reads batches while its producers still run), so a query never
//! waits for a slot held by one of its own blocked producers. All tasks are
//! launched in one concurrent round before the root stage starts reading,
//! so a consumer's `DoGet` always finds its producer.
//! If a worker cannot be reached while launching, whatever was launched is
//! cancelled and the error names the worker as lost, so that the query is
//! placed again without it (`attempts.rs`; nothing has reached the client
//! yet, so this is invisible).

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::common::config::{ConfigExtension, ExtensionOptions};
use datafusion::error::DataFusionError;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::physical_plan::{ExecutionPlan, ExecutionPlanProperties, execute_stream};
use datafusion::prelude::SessionContext;
use futures::future::try_join_all;
use hayate_planner::{
    HayateOptions, ProducerLayout, StageGraph, encode_plan, reader_sources, task_plan,
};

use hayate_protocol::{LaunchTask, QueryRun, Setting, StoreConfig, TaskReport};
use hayate_rpc::{Channels, call_failed, from_status};
use hayate_storage::StoreRegistry;
use tonic::Status;

use crate::error::CoordinatorError;
use crate::load::{PlacedTasks, TaskLoad};
use crate::membership::Membership;

/// A query whose tasks run on workers; the root stream feeds the client.
pub struct RunningQuery {
    pub stream: SendableRecordBatchStream,
    /// The run's tasks, counted against their workers until it has ended;
    /// their workers are the ones to cancel it on.
    pub placed: PlacedTasks,
}

#[derive(Clone)]
pub struct Scheduler {
    membership: Arc<Membership>,
    channels: Channels,
    /// Where the options of the stores a task reads come from.
    stores: Arc<StoreRegistry>,
    load: TaskLoad,
}

impl Scheduler {
    pub fn new(
        membership: Arc<Membership>,
        stores: Arc<StoreRegistry>,
        channels: Channels,
    ) -> Self {
        Self {
            membership,
            channels,
            stores,
            load: TaskLoad::default(),
        }
    }

    pub fn channels(&self) -> &Channels {
        &self.channels
    }

    /// Starts every worker stage of `graph` on live workers other than
    /// `excluded` and returns the root stage's output, computed here from
    /// the workers' streams.
    pub async fn start(
        &self,
        run: &QueryRun,
        graph: &StageGraph,
        ctx: &SessionContext,
        excluded: &[String],
    ) -> Result<RunningQuery, CoordinatorError> {
        let settings = if graph.worker_task_count() > 0 {
            worker_settings(ctx)
        } else {
            Vec::new()
        };
        let workers: Vec<String> = self
            .membership
            .live()
            .into_iter()
            .map(|w| w.address)
            .filter(|a| !excluded.contains(a))
            .collect();
        if workers.is_empty() && graph.worker_task_count() > 0 {
            return Err(CoordinatorError::NoWorkers);
        }
        let launch_started = std::time::Instant::now();
        let mut placed = self.load.track();
        let layouts = match self
            .launch_all(run, graph, &workers, &settings, &mut placed)
            .await
        {
            Ok(layouts) => layouts,
            Err(LaunchFailure { error, launched }) => {
                // In the background: a worker that cannot be reached would
                // hold up the rerun until its cancel timed out.
                let (channels, run) = (self.channels.clone(), run.clone());
                tokio::spawn(async move { cancel_on(&channels, &run, &launched).await });
                return Err(CoordinatorError::DataFusion(error));
            }
        };
        tracing::debug!(
            %run,
            stages = graph.stages.len(),
            tasks = graph.worker_task_count(),
            elapsed_ms = launch_started.elapsed().as_secs_f64() * 1000.0,
            "tasks launched"
        );
        let root = graph.root();
        let plan = task_plan(root, 0, 1, &|reader| {
            layouts
                .get(&reader.input_stage())
                .map(|layout| reader_sources(reader, layout, 0))
                .ok_or_else(|| DataFusionError::Internal("root reads an unknown stage".into()))
        })?;
        let stream = execute_stream(plan, ctx.task_ctx())?;
        Ok(RunningQuery { stream, placed })
    }

    async fn launch_all(
        &self,
        run: &QueryRun,
        graph: &StageGraph,
        workers: &[String],
        settings: &[Setting],
        placed: &mut PlacedTasks,
    ) -> Result<HashMap<usize, ProducerLayout>, LaunchFailure> {
        let mut layouts: HashMap<usize, ProducerLayout> = HashMap::new();
        let mut launched: Vec<String> = Vec::new();
        let fail = |error: DataFusionError, launched: &[String]| LaunchFailure {
            error,
            launched: launched.to_vec(),
        };
        // Build every task's plan first (inputs before consumers, since a
        // consumer's readers name its producers' workers), then launch them
        // all at once: tasks run only when read, and nothing reads before
        // the root stage starts, so one round trip launches the whole query.
        let mut launches = Vec::new();
        for stage in graph.worker_stages() {
            let consumer_tasks = stage.consumer.map(|c| graph.stage(c).tasks).unwrap_or(1);
            let mut layout = ProducerLayout {
                run: run.clone(),
                stage_id: stage.id,
                ..Default::default()
            };
            let addresses = self.load.place(workers, stage.tasks, placed);
            for (task, address) in addresses.into_iter().enumerate() {
                let plan = task_plan(stage, task, consumer_tasks, &|reader| {
                    layouts
                        .get(&reader.input_stage())
                        .map(|l| reader_sources(reader, l, task))
                        .ok_or_else(|| {
                            DataFusionError::Internal("stage reads an unknown stage".into())
                        })
                })
                .map_err(|e| fail(e, &launched))?;
                layout.addresses.push(address.clone());
                layout
                    .partitions
                    .push(plan.output_partitioning().partition_count());
                let broadcast = stage.output == Some(hayate_planner::ExchangeKind::Broadcast);
                let launch = LaunchTask {
                    task: run.task(stage.id as u32, task as u32),
                    plan: encode(Arc::clone(&plan)).map_err(|e| fail(e, &launched))?,
                    settings: settings.to_vec(),
                    consumers: if broadcast { consumer_tasks as u32 } else { 1 },
                    stores: store_configs(&plan, &self.stores),
                    coordinator_id: self.membership.coordinator_id.clone(),
                };
                if !launched.contains(&address) {
                    launched.push(address.clone());
                }
                launches.push(launch_task(&self.channels, address, launch));
            }
            layouts.insert(stage.id, layout);
        }
        try_join_all(launches)
            .await
            .map_err(|e| fail(e, &launched))?;
        Ok(layouts)
    }
}

struct LaunchFailure {
    /// A [`hayate_rpc::WorkerLost`] when a worker could not be reached.
    error: DataFusionError,
    launched: Vec<String>,
}

fn encode(plan: Arc<dyn ExecutionPlan>) -> Result<Vec<u8>, DataFusionError> {
    encode_plan(plan).map_err(|e| e.context("cannot encode plan fragment"))
}

/// The stores `plan`'s scans read, with the options to build them.
fn store_configs(plan: &Arc<dyn ExecutionPlan>, stores: &StoreRegistry) -> Vec<StoreConfig> {
    let mut configs: Vec<StoreConfig> = Vec::new();
    for scan in hayate_planner::file_scans(plan) {
        let url: &url::Url = scan.object_store_url.as_ref();
        let Some(options) = stores.options_for(url) else {
            continue;
        };
        let key = hayate_storage::store_key(url);
        if !configs.iter().any(|c| c.url == key) {
            configs.push(StoreConfig { url: key, options });
        }
    }
    configs
}

/// The session settings workers need to run fragments as planned:
/// DataFusion's, and Hayate's own (`hayate.*`, such as the memory limit).
fn worker_settings(ctx: &SessionContext) -> Vec<Setting> {
    let state = ctx.state_ref();
    let state = state.read();
    let options = state.config_options();
    let mut settings: Vec<Setting> = options
        .entries()
        .into_iter()
        .filter(|e| e.key.starts_with("datafusion."))
        .filter_map(|e| e.value.map(|value| Setting { key: e.key, value }))
        .collect();
    if let Some(hayate) = options.extensions.get::<HayateOptions>() {
        settings.extend(hayate.entries().into_iter().filter_map(|e| {
            e.value.map(|value| Setting {
                key: format!("{}.{}", HayateOptions::PREFIX, e.key),
                value,
            })
        }));
    }
    settings
}

async fn launch_task(
    channels: &Channels,
    address: String,
    launch: LaunchTask,
) -> Result<(), DataFusionError> {
    let mut client = channels.control(&address).map_err(from_status)?;
    let mut request = tonic::Request::new(launch);
    // The task's span on the worker becomes a child of this query's.
    hayate_telemetry::inject(request.metadata_mut());
    match client.launch_task(request).await {
        Ok(_) => Ok(()),
        Err(status) => Err(call_failed(status, &address)),
    }
}

/// Tells every worker in `workers` to stop and forget the run's tasks,
/// and returns what those tasks reported.
pub async fn cancel_on(channels: &Channels, run: &QueryRun, workers: &[String]) -> Vec<TaskReport> {
    let calls = workers.iter().map(|address| async move {
        let Ok(mut client) = channels.control(address) else {
            return Vec::new();
        };
        let call = async {
            let report = client.cancel_run(run.clone()).await?.into_inner();
            let tasks = report.tasks.into_iter().map(|mut task| {
                task.worker = address.clone();
                task
            });
            Ok::<_, Status>(tasks.collect::<Vec<_>>())
        };
        match tokio::time::timeout(std::time::Duration::from_secs(5), call).await {
            Ok(Ok(tasks)) => tasks,
            Ok(Err(e)) => {
                tracing::debug!(address, error = %e, "cancel not delivered");
                Vec::new()
            }
            Err(_) => {
                tracing::debug!(address, "cancel timed out");
                Vec::new()
            }
        }
    });
    futures::future::join_all(calls)
        .await
        .into_iter()
        .flatten()
        .collect()
}
