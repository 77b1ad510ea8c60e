//! The log query suite on generated logs, in one run: single-node
//! DataFusion on local files, Hayate on the same local files, and Hayate on
//! the same objects in a real S3-compatible server (SeaweedFS on loopback).
//! Per query: median times, the S3/local ratio, and from Hayate's own
//! counters the bytes and requests of the first (cold) run and the cache
//! hit rates of the warm runs.
//!
//! `cargo run --release -p hayate-benches --bin logs-bench -- --rows 10000000 --workers 2`

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow_flight::Action;
use arrow_flight::sql::client::FlightSqlServiceClient;
use arrow_flight::sql::{Any, TicketStatementQuery};
use clap::Parser;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::prelude::{SessionConfig, SessionContext};
use futures::TryStreamExt;
use hayate_benches::{RunArgs, median};
use hayate_coordinator::{CoordinatorConfig, EmbeddedCluster, SESSION_HEADER, StorageConfig};
use hayate_logs::{LogSpec, SUITE, TIME_COLUMN, create_table_sql, generate};
use hayate_protocol::{QueryRef, QueryStats, actions};
use hayate_storage::human_bytes;
use hayate_testkit::S3Server;
use object_store::local::LocalFileSystem;
use prost::Message;
use tonic::transport::Channel;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = 10_000_000)]
    rows: u64,
    #[arg(long, default_value = "data")]
    data: PathBuf,
    #[command(flatten)]
    run: RunArgs,
}

type Client = FlightSqlServiceClient<Channel>;

/// Runs `sql` and returns its rows and, from the coordinator, its stats.
async fn run(client: &mut Client, sql: &str) -> anyhow::Result<(Vec<RecordBatch>, QueryStats)> {
    let info = client.execute(sql.to_string(), None).await?;
    let mut batches = Vec::new();
    let mut query_id = String::new();
    for endpoint in info.endpoint {
        let ticket = endpoint
            .ticket
            .ok_or_else(|| anyhow::anyhow!("no ticket"))?;
        let handle: Option<TicketStatementQuery> = Any::decode(ticket.ticket.as_ref())?.unpack()?;
        query_id = handle
            .map(|h| String::from_utf8_lossy(&h.statement_handle).to_string())
            .unwrap_or_default();
        batches.extend(client.do_get(ticket).await?.try_collect::<Vec<_>>().await?);
    }
    let action = Action {
        r#type: actions::QUERY_STATS.to_string(),
        body: QueryRef { query_id }.encode_to_vec().into(),
    };
    let body = client
        .do_action(action)
        .await?
        .try_next()
        .await?
        .ok_or_else(|| anyhow::anyhow!("no stats"))?
        .body;
    Ok((batches, QueryStats::decode(body.as_ref())?))
}

async fn hayate_client(
    cluster: &EmbeddedCluster,
    location: &str,
    partitions: usize,
) -> anyhow::Result<Client> {
    let channel = Channel::from_shared(cluster.coordinator.address.clone())?
        .connect()
        .await?;
    let mut client = FlightSqlServiceClient::new(channel);
    client.set_header(SESSION_HEADER, uuid::Uuid::new_v4().to_string());
    client
        .execute_update(create_table_sql("logs", location, &[TIME_COLUMN]), None)
        .await?;
    client
        .execute_update(
            format!("SET datafusion.execution.target_partitions = {partitions}"),
            None,
        )
        .await?;
    Ok(client)
}

async fn start_cluster(workers: usize, storage: StorageConfig) -> anyhow::Result<EmbeddedCluster> {
    let config = CoordinatorConfig {
        bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        storage,
        ..Default::default()
    };
    Ok(EmbeddedCluster::start(config, workers).await?)
}

fn get(stats: &QueryStats, k: &str) -> u64 {
    stats.total.get(k).copied().unwrap_or(0)
}

fn hit_rate(stats: &[QueryStats], cache: &str) -> String {
    let (hits, misses) = stats.iter().fold((0, 0), |(h, m), s| {
        (
            h + get(s, &format!("{cache}_hits")),
            m + get(s, &format!("{cache}_misses")),
        )
    });
    if hits + misses == 0 {
        "-".into()
    } else {
        format!("{:.0}%", 100.0 * hits as f64 / (hits + misses) as f64)
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let spec = LogSpec {
        rows: args.rows,
        ..Default::default()
    };

    // The same logs on local disk and in S3 (the generator is deterministic).
    let local = args.data.join(format!("logs-{}", args.rows));
    if !local.join("dt=2026-11-07").exists() {
        std::fs::create_dir_all(&local)?;
        let written = generate(
            &spec,
            Arc::new(LocalFileSystem::new_with_prefix(&local)?),
            "",
        )
        .await?;
        eprintln!(
            "generated {} rows, {} files, {}",
            written.rows,
            written.files,
            human_bytes(written.bytes)
        );
    }
    let local_location = local.canonicalize()?.display().to_string();
    let server = S3Server::start("bench").await;
    let started = Instant::now();
    let written = generate(&spec, server.store(), "logs").await?;
    eprintln!(
        "wrote {} files ({}) to S3 in {:.1}s",
        written.files,
        human_bytes(written.bytes),
        started.elapsed().as_secs_f64()
    );
    let s3_location = format!("s3://{}/logs/", server.bucket);

    let ctx = SessionContext::new_with_config(
        SessionConfig::new().with_target_partitions(args.run.partitions),
    );
    ctx.sql(&create_table_sql("logs", &local_location, &[]))
        .await?
        .collect()
        .await?;

    let s3_storage = StorageConfig {
        defaults: BTreeMap::from([
            ("aws.endpoint".to_string(), server.endpoint.clone()),
            ("aws.region".to_string(), "us-east-1".to_string()),
            ("aws.access_key_id".to_string(), server.access_key.clone()),
            (
                "aws.secret_access_key".to_string(),
                server.secret_key.clone(),
            ),
        ]),
        ..Default::default()
    };
    let local_cluster = start_cluster(args.run.workers, StorageConfig::default()).await?;
    let s3_cluster = start_cluster(args.run.workers, s3_storage).await?;
    let mut local_client =
        hayate_client(&local_cluster, &local_location, args.run.partitions).await?;
    let mut s3_client = hayate_client(&s3_cluster, &s3_location, args.run.partitions).await?;

    println!(
        "Log suite: {} rows, {} | Hayate {} workers | target_partitions {} | median of {} warm runs",
        written.rows,
        human_bytes(written.bytes),
        args.run.workers,
        args.run.partitions,
        args.run.runs
    );
    println!(
        "{:<32} {:>9} {:>9} {:>9} {:>7} {:>7} {:>10} {:>6} {:>5} {:>9} {:>7}  check",
        "query",
        "df local",
        "h local",
        "h s3",
        "s3/loc",
        "h/df",
        "cold bytes",
        "GETs",
        "LIST",
        "rg read",
        "footer$"
    );
    let (mut t_df, mut t_local, mut t_s3) = (Duration::ZERO, Duration::ZERO, Duration::ZERO);
    let mut warm_stats = Vec::new();
    for q in SUITE {
        // Cold: the first run against S3, with nothing cached.
        let (cold_rows, cold) = run(&mut s3_client, q.sql).await?;
        let expected = ctx.sql(q.sql).await?.collect().await?;
        let check = match hayate_tpch::compare_results(&expected, &cold_rows, q.ordered) {
            Ok(()) => "same".to_string(),
            Err(e) => format!("DIFFERS: {e}"),
        };
        let _ = run(&mut local_client, q.sql).await?;
        let (mut df, mut hl, mut hs) = (Vec::new(), Vec::new(), Vec::new());
        let mut warm = None;
        for _ in 0..args.run.runs {
            let t = Instant::now();
            ctx.sql(q.sql).await?.collect().await?;
            df.push(t.elapsed());
            let t = Instant::now();
            run(&mut local_client, q.sql).await?;
            hl.push(t.elapsed());
            let t = Instant::now();
            let (_, s) = run(&mut s3_client, q.sql).await?;
            hs.push(t.elapsed());
            warm = Some(s);
        }
        let warm = warm.ok_or_else(|| anyhow::anyhow!("no warm run"))?;
        let (df, hl, hs) = (median(df), median(hl), median(hs));
        t_df += df;
        t_local += hl;
        t_s3 += hs;
        let rg_total = get(&cold, "row_groups_total");
        println!(
            "{:<32} {:>8.3}s {:>8.3}s {:>8.3}s {:>6.2}x {:>6.2}x {:>10} {:>6} {:>5} {:>9} {:>7}  {check}",
            q.name,
            df.as_secs_f64(),
            hl.as_secs_f64(),
            hs.as_secs_f64(),
            hs.as_secs_f64() / hl.as_secs_f64(),
            hl.as_secs_f64() / df.as_secs_f64(),
            human_bytes(get(&cold, "bytes_fetched")),
            get(&cold, "get_requests"),
            get(&cold, "list_requests"),
            format!(
                "{}/{}",
                rg_total.saturating_sub(get(&cold, "row_groups_pruned")),
                rg_total
            ),
            hit_rate(std::slice::from_ref(&warm), "metadata_cache"),
        );
        warm_stats.push(warm);
    }
    println!(
        "{:<32} {:>8.3}s {:>8.3}s {:>8.3}s {:>6.2}x {:>6.2}x",
        "total",
        t_df.as_secs_f64(),
        t_local.as_secs_f64(),
        t_s3.as_secs_f64(),
        t_s3.as_secs_f64() / t_local.as_secs_f64(),
        t_local.as_secs_f64() / t_df.as_secs_f64()
    );
    println!(
        "warm-run cache hit rates over the suite: footers {}, listings {}",
        hit_rate(&warm_stats, "metadata_cache"),
        hit_rate(&warm_stats, "listing_cache")
    );
    local_cluster.stop().await;
    s3_cluster.stop().await;
    Ok(())
}
