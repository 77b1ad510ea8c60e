//! Exchange throughput: how fast Arrow moves from one worker process to
//! another over loopback Flight. A producer task on one worker generates
//! rows (`generate_series`, four 64-bit columns: cheap to make, so the
//! exchange is what is measured); a consumer task on the other worker reads
//! them through an exchange reader and aggregates them; the benchmark only
//! starts the consumer and reads its one-row answer. Bytes are the Arrow IPC
//! bytes the producer reports sending.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use arrow_flight::Ticket;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::datasource::MemTable;
use datafusion::datasource::source::DataSourceExec;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::{SessionConfig, SessionContext};
use futures::TryStreamExt;
use hayate_planner::{ExchangeKind, ExchangeReaderExec, PartitionSource, encode_plan};
use hayate_protocol::transport::InternalTransport;
use hayate_protocol::{ClusterSecret, LaunchTask, PartitionTicket, QueryRun, TaskId};
use hayate_rpc::Channels;
use hayate_storage::scan_metric;
use prost::Message;
use serde::Serialize;

#[derive(Serialize, Clone, Debug)]
pub struct ExchangeResult {
    /// Producer tasks, each streaming to its own consumer partition.
    pub streams: usize,
    pub rows: u64,
    pub bytes: u64,
    pub seconds: f64,
    pub gb_per_s: f64,
}

const COLUMNS: &str = "value AS a, value * 2 AS b, value + 7 AS c, value % 1000 AS d";

/// Moves `rows` rows in `streams` parallel streams from worker `from` to
/// worker `to`, `runs` times; the median run.
pub async fn measure(
    from: &str,
    to: &str,
    secret: &str,
    rows: u64,
    streams: usize,
    runs: usize,
) -> anyhow::Result<ExchangeResult> {
    let channels = Channels::new(InternalTransport {
        secret: ClusterSecret::new(secret),
        tls: None,
    });
    // Each producer task makes one partition; the consumer reads one
    // partition per producer.
    let one = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(1));
    let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(streams));
    let per_stream = rows / streams as u64;
    let producer = one
        .sql(&format!(
            "SELECT {COLUMNS} FROM generate_series(1, {per_stream})"
        ))
        .await?
        .create_physical_plan()
        .await?;
    let schema = producer.schema();
    let producer = encode_plan(producer)?;
    let mut results = Vec::new();
    for run in 0..=runs {
        let query = QueryRun::new(format!("exchange-bench-{}", uuid::Uuid::new_v4()), 1);
        for task in 0..streams as u32 {
            launch(&channels, from, query.task(0, task), producer.clone()).await?;
        }
        let sources = (0..streams as u32)
            .map(|task| {
                vec![PartitionSource {
                    address: from.to_string(),
                    ticket: PartitionTicket {
                        task: query.task(0, task),
                        partition: 0,
                        consumer: 0,
                    },
                }]
            })
            .collect();
        let consumer = consumer_plan(&ctx, &schema, sources).await?;
        launch(&channels, to, query.task(1, 0), encode_plan(consumer)?).await?;
        let started = Instant::now();
        let mut client = channels.client(to)?;
        let ticket = PartitionTicket {
            task: query.task(1, 0),
            partition: 0,
            consumer: 0,
        };
        let answer: Vec<_> = client
            .do_get(Ticket {
                ticket: ticket.encode_to_vec().into(),
            })
            .await?
            .into_inner()
            .try_collect()
            .await?;
        let seconds = started.elapsed().as_secs_f64();
        if answer.is_empty() {
            bail!("the consumer answered nothing");
        }
        let reports = cancel(&channels, from, &query).await?;
        cancel(&channels, to, &query).await?;
        let bytes: u64 = reports
            .iter()
            .filter_map(|r| r.metrics.get(scan_metric::EXCHANGE_BYTES))
            .sum();
        if run > 0 {
            results.push(ExchangeResult {
                streams,
                rows: per_stream * streams as u64,
                bytes,
                seconds,
                gb_per_s: bytes as f64 / seconds / 1e9,
            });
        }
    }
    results.sort_by(|a, b| a.seconds.total_cmp(&b.seconds));
    let median = results
        .get(results.len() / 2)
        .cloned()
        .context("no exchange run")?;
    eprintln!(
        "exchange: {} stream(s), {:.2} GB in {:.3} s = {:.2} GB/s",
        streams,
        median.bytes as f64 / 1e9,
        median.seconds,
        median.gb_per_s
    );
    Ok(median)
}

/// `SELECT count(a), sum(b), sum(c), max(d)` over an exchange reader with one
/// partition per source list.
async fn consumer_plan(
    ctx: &SessionContext,
    schema: &SchemaRef,
    sources: Vec<Vec<PartitionSource>>,
) -> anyhow::Result<Arc<dyn ExecutionPlan>> {
    let partitions = vec![Vec::new(); sources.len()];
    ctx.deregister_table("exchanged")?;
    ctx.register_table(
        "exchanged",
        Arc::new(MemTable::try_new(Arc::clone(schema), partitions)?),
    )?;
    let plan = ctx
        .sql("SELECT count(a), sum(b), sum(c), max(d) FROM exchanged")
        .await?
        .create_physical_plan()
        .await?;
    let reader = Arc::new(ExchangeReaderExec::new(
        ExchangeKind::Gather,
        0,
        Arc::clone(schema),
        sources,
        None,
    ));
    let swapped = plan.transform_up(|node| {
        if node.is::<DataSourceExec>() {
            if node.schema() != *schema {
                return Err(datafusion::error::DataFusionError::Plan(
                    "the scan reads other columns than the producer makes".into(),
                ));
            }
            return Ok(Transformed::yes(
                Arc::clone(&reader) as Arc<dyn ExecutionPlan>
            ));
        }
        Ok(Transformed::no(node))
    })?;
    Ok(swapped.data)
}

async fn launch(
    channels: &Channels,
    worker: &str,
    task: TaskId,
    plan: Vec<u8>,
) -> anyhow::Result<()> {
    let launch = LaunchTask::of_plan(task, plan);
    channels.control(worker)?.launch_task(launch).await?;
    Ok(())
}

async fn cancel(
    channels: &Channels,
    worker: &str,
    run: &QueryRun,
) -> anyhow::Result<Vec<hayate_protocol::TaskReport>> {
    let report = channels.control(worker)?.cancel_run(run.clone()).await?;
    Ok(report.into_inner().tasks)
}
