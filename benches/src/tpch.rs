//! TPC-H through Hayate (an in-process coordinator and N workers talking
//! Flight over loopback) against single-node DataFusion on the same files,
//! in the same run: median of several warm runs per query, and the ratio.
//!
//! `cargo run --release -p hayate-benches --bin tpch-bench -- --sf 1 --workers 2`

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use arrow_flight::sql::client::FlightSqlServiceClient;
use clap::Parser;
use datafusion::prelude::{SessionConfig, SessionContext};
use futures::TryStreamExt;
use hayate_benches::{RunArgs, median};
use hayate_coordinator::{CoordinatorConfig, EmbeddedCluster, SESSION_HEADER};
use tonic::transport::Channel;

#[derive(Parser)]
struct Args {
    /// Scale factor (data is generated once under --data).
    #[arg(long, default_value_t = 1.0)]
    sf: f64,
    #[arg(long, default_value = "data")]
    data: PathBuf,
    #[command(flatten)]
    run: RunArgs,
    /// Only these queries (default: all 22).
    #[arg(long, value_delimiter = ',')]
    queries: Vec<usize>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Ok(filter) = std::env::var("HAYATE_LOG") {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(std::io::stderr)
            .init();
    }
    let base = hayate_tpch::generate_dir(&args.data, args.sf)?;
    let queries: Vec<usize> = if args.queries.is_empty() {
        (1..=22).collect()
    } else {
        args.queries.clone()
    };

    // Single-node DataFusion.
    let ctx = SessionContext::new_with_config(
        SessionConfig::new().with_target_partitions(args.run.partitions),
    );
    for ddl in hayate_tpch::create_table_statements(&base) {
        ctx.sql(&ddl).await?.collect().await?;
    }

    // Hayate.
    let config = CoordinatorConfig {
        bind: SocketAddr::from(([127, 0, 0, 1], 0)),
        ..Default::default()
    };
    let cluster = EmbeddedCluster::start(config, args.run.workers).await?;
    let coordinator = &cluster.coordinator;
    let channel = Channel::from_shared(coordinator.address.clone())?
        .connect()
        .await?;
    let mut client = FlightSqlServiceClient::new(channel);
    client.set_header(SESSION_HEADER, uuid::Uuid::new_v4().to_string());
    for ddl in hayate_tpch::create_table_statements(&base) {
        client.execute_update(ddl, None).await?;
    }
    client
        .execute_update(
            format!(
                "SET datafusion.execution.target_partitions = {}",
                args.run.partitions
            ),
            None,
        )
        .await?;

    println!(
        "TPC-H SF{} | Hayate {} workers vs DataFusion single node | target_partitions {} | median of {} runs",
        args.sf, args.run.workers, args.run.partitions, args.run.runs
    );
    println!(
        "{:>5} {:>12} {:>12} {:>7}  check",
        "query", "datafusion", "hayate", "ratio"
    );
    let (mut total_df, mut total_h) = (Duration::ZERO, Duration::ZERO);
    for &q in &queries {
        let sql = hayate_tpch::query(q);
        let mut df_times = Vec::new();
        let mut expected = Vec::new();
        for run in 0..=args.run.runs {
            let start = Instant::now();
            expected = ctx.sql(sql).await?.collect().await?;
            if run > 0 {
                df_times.push(start.elapsed());
            }
        }
        let mut h_times = Vec::new();
        let mut actual = Vec::new();
        for run in 0..=args.run.runs {
            let start = Instant::now();
            let info = client.execute(sql.to_string(), None).await?;
            actual.clear();
            for endpoint in info.endpoint {
                let ticket = endpoint
                    .ticket
                    .ok_or_else(|| anyhow::anyhow!("endpoint without ticket"))?;
                let stream = client.do_get(ticket).await?;
                actual.extend(stream.try_collect::<Vec<_>>().await?);
            }
            if run > 0 {
                h_times.push(start.elapsed());
            }
        }
        let check =
            match hayate_tpch::compare_results(&expected, &actual, hayate_tpch::is_ordered(q)) {
                Ok(()) => "same".to_string(),
                Err(e) => format!("DIFFERS: {e}"),
            };
        let (d, h) = (median(df_times), median(h_times));
        total_df += d;
        total_h += h;
        println!(
            "{:>5} {:>11.3}s {:>11.3}s {:>6.2}x  {check}",
            format!("q{q}"),
            d.as_secs_f64(),
            h.as_secs_f64(),
            h.as_secs_f64() / d.as_secs_f64()
        );
    }
    println!(
        "{:>5} {:>11.3}s {:>11.3}s {:>6.2}x",
        "total",
        total_df.as_secs_f64(),
        total_h.as_secs_f64(),
        total_h.as_secs_f64() / total_df.as_secs_f64()
    );
    Ok(())
}
