//! `hayate-bench`: Hayate's speed in one run, always as a ratio against
//! single-node DataFusion on the same files with the same cores (and DuckDB
//! where installed), every answer checked against DataFusion's.
//!
//! Engines: DataFusion in this process; Hayate as separate processes with 1
//! and 2 workers, and as `hayate local`; DuckDB in a Python process.
//! Workloads: TPC-H (all 22) at each `--sf`, the log suite on local files
//! and from an S3 server (SeaweedFS on loopback), and the log searches
//! before and after the search index is built. Then the per-query floor,
//! exchange throughput between two workers, and queries per second under
//! concurrency at 1, 2 and 3 pinned workers. Writes `results.json`,
//! `summary.md` and `ratios.png` to `--out`.
//!
//! `benches/run` builds the release binaries and runs this with its defaults.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::Parser;
use hayate_benches::cluster::{Hayate, Layout, SECRET};
use hayate_benches::duckdb::DuckDb;
use hayate_benches::engine::{DataFusion, Engine};
use hayate_benches::floor::FloorQuery;
use hayate_benches::report::{Report, Target, cpu_totals, totals, worst_ratio};
use hayate_benches::suite::run_workload;
use hayate_benches::workload::{S3Logs, Workload};
use hayate_benches::{concurrency, exchange, floor, freshness, search, small_files};
use hayate_logs::LogSpec;
use hayate_testkit::S3Server;
use object_store::ObjectStore;
use object_store::local::LocalFileSystem;

#[derive(Parser, Debug)]
struct Args {
    /// The `hayate` binary the servers run.
    #[arg(long, default_value = "target/release/hayate")]
    hayate: PathBuf,
    /// Where generated data is kept between runs.
    #[arg(long, default_value = "data")]
    data: PathBuf,
    /// Where the results go.
    #[arg(long, default_value = "benches/results")]
    out: PathBuf,
    /// The Python with `duckdb` (and, for the floor, `adbc_driver_flightsql`;
    /// for the plot, `matplotlib`); whatever it lacks is left out.
    #[arg(long, default_value = ".venv/bin/python")]
    python: PathBuf,
    /// TPC-H scale factors.
    #[arg(long, value_delimiter = ',', default_value = "1,10")]
    sf: Vec<f64>,
    /// Log lines for the log suite (local and S3).
    #[arg(long, default_value_t = 10_000_000)]
    log_rows: u64,
    /// Timed runs per query and engine, after one warm-up.
    #[arg(long, default_value_t = 3)]
    runs: usize,
    /// DataFusion target partitions for every engine (and DuckDB threads).
    #[arg(long, default_value_t = 2)]
    partitions: usize,
    /// Runs of each floor statement.
    #[arg(long, default_value_t = 1000)]
    floor_runs: usize,
    /// Rows moved per exchange run.
    #[arg(long, default_value_t = 40_000_000)]
    exchange_rows: u64,
    /// Concurrent clients, and seconds per worker count.
    #[arg(long, default_value_t = 8)]
    clients: usize,
    #[arg(long, default_value_t = 20)]
    concurrency_secs: u64,
    /// TPC-H scale factor and log lines of the concurrency mix.
    #[arg(long, default_value_t = 0.1)]
    mix_sf: f64,
    #[arg(long, default_value_t = 1_000_000)]
    mix_log_rows: u64,
    /// Lines of the shipper's day of small files, and lines per file
    /// (3,000,000 at 30 a file is 100,000 files of about 8 KiB).
    #[arg(long, default_value_t = 3_000_000)]
    small_file_rows: u64,
    #[arg(long, default_value_t = 30)]
    rows_per_file: usize,
    /// Only these queries of each workload (by name: q1, one_trace, ...).
    #[arg(long, value_delimiter = ',')]
    queries: Vec<String>,
    /// Settings every engine gets (DataFusion and Hayate alike), as
    /// `key=value`; `datafusion.execution.target_partitions` is always set
    /// from `--partitions`.
    #[arg(long = "set")]
    settings: Vec<String>,
    /// An earlier `hayate` build, run as a 2-worker cluster named
    /// `baseline-2w` beside the others, to measure a change in one run.
    #[arg(long)]
    baseline: Option<PathBuf>,
    /// Which parts to run (`scale`, the scale model, only when named: it
    /// runs for an hour or more, and needs root for cgroups and namespaces).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "tpch,logs,search,smallfiles,floor,exchange,concurrency"
    )]
    parts: Vec<String>,
    /// The scale model: the node counts measured.
    #[arg(long, value_delimiter = ',', default_value = "1,2,4,8")]
    scale_nodes: Vec<usize>,
    /// Cores of CPU time each model node (and the coordinator) gets.
    #[arg(long, default_value_t = 0.2)]
    node_cores: f64,
    /// Each node's link rate per core it has, in Mbit/s (a cloud machine
    /// has about 1 to 3 Gbit/s per vCPU).
    #[arg(long, default_value_t = 2000)]
    link_mbit_per_core: u64,
    /// Delay added to each node's link, each way (where the kernel has
    /// sch_netem).
    #[arg(long, default_value_t = 0.2)]
    link_delay_ms: f64,
    /// Run the model's nodes on the host's loopback instead of in network
    /// namespaces of their own.
    #[arg(long)]
    no_network: bool,
    /// Untimed runs of each query before the timed ones, in the scale
    /// model (0 measures cold runs: the slowest nodes make it long).
    #[arg(long, default_value_t = 1)]
    scale_warmups: usize,
    /// The scale model's workloads: tpch-sf<N>, tpcds-sf<N>, logs.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "tpch-sf1,tpch-sf10,tpcds-sf1,logs"
    )]
    scale_workloads: Vec<String>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    // The benchmark process runs single-node DataFusion: give it the cores
    // the others get.
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.partitions)
        .enable_all()
        .build()?
        .block_on(run(args))
}

/// Logs of `rows` lines under `dir`, generated once.
async fn local_logs(data: &Path, rows: u64) -> anyhow::Result<String> {
    let dir = data.join(format!("logs-{rows}"));
    if !dir.join("dt=2026-11-07").exists() {
        std::fs::create_dir_all(&dir)?;
        eprintln!("generating {rows} log lines in {}", dir.display());
        let spec = LogSpec {
            rows,
            ..Default::default()
        };
        hayate_logs::generate(&spec, Arc::new(LocalFileSystem::new_with_prefix(&dir)?), "").await?;
    }
    Ok(dir.canonicalize()?.display().to_string())
}

fn wants(args: &Args, part: &str) -> bool {
    args.parts.iter().any(|p| p == part)
}

async fn run(args: Args) -> anyhow::Result<()> {
    std::fs::create_dir_all(&args.out)?;
    std::fs::create_dir_all(&args.data)?;
    let python = args.python.exists().then_some(args.python.as_path());
    let mut report = Report {
        date: command_output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]),
        commit: command_output("git", &["rev-parse", "--short", "HEAD"]),
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        memory_gib: memory_gib(),
        partitions: args.partitions,
        runs: args.runs,
        ..Default::default()
    };

    if wants(&args, "scale") {
        scale_part(&args, &mut report, python).await?;
        if args.parts.len() == 1 {
            println!("{}", report.markdown());
            return Ok(());
        }
    }

    let mut workloads = Vec::new();
    if wants(&args, "tpch") {
        for sf in &args.sf {
            workloads.push(Workload::tpch(&args.data, *sf)?);
        }
    }
    let log_dir = local_logs(&args.data, args.log_rows).await?;
    // Kept alive while the S3 workloads run.
    let s3 = if ["logs", "search", "smallfiles"]
        .iter()
        .any(|part| wants(&args, part))
    {
        Some(S3Server::start("bench").await)
    } else {
        None
    };
    // The log set on local files and in the S3 server, for the log suite
    // and the search workload.
    let mut log_sets: Vec<LogSet> = Vec::new();
    if let Some(server) = s3
        .as_ref()
        .filter(|_| wants(&args, "logs") || wants(&args, "search"))
    {
        let rows_name = short_count(args.log_rows);
        log_sets.push((
            Workload::logs(format!("logs-{rows_name}-local"), &log_dir, None),
            Arc::new(LocalFileSystem::new_with_prefix(&log_dir)?),
            String::new(),
        ));
        let spec = LogSpec {
            rows: args.log_rows,
            ..Default::default()
        };
        eprintln!("writing {} log lines to S3", args.log_rows);
        hayate_logs::generate(&spec, server.store(), "logs").await?;
        log_sets.push(s3_logs(server, "logs", format!("logs-{rows_name}-s3"))?);
    }
    if wants(&args, "logs") {
        workloads.extend(log_sets.iter().map(|(logs, _, _)| logs.clone()));
    }

    if !args.queries.is_empty() {
        for w in &mut workloads {
            w.queries.retain(|q| args.queries.contains(&q.name));
        }
    }
    let layouts = [
        Layout::Processes {
            workers: 1,
            pin: false,
        },
        Layout::Processes {
            workers: 2,
            pin: false,
        },
        Layout::Local { workers: 2 },
    ];
    let mut clusters = Vec::new();
    for layout in layouts {
        clusters.push(Arc::new(Hayate::start(&args.hayate, layout).await?));
    }
    if let Some(baseline) = &args.baseline {
        let layout = Layout::Processes {
            workers: 2,
            pin: false,
        };
        clusters.push(Arc::new(
            Hayate::start_named(baseline, layout, "baseline-2w".into()).await?,
        ));
    }
    let settings = session_settings(&args)?;
    let mut engines = vec![Engine::DataFusion(
        DataFusion::new(&settings, &[], &[]).await?,
    )];
    for hayate in &clusters {
        engines.push(Engine::Hayate {
            hayate: Arc::clone(hayate),
            client: hayate.client(&settings).await?,
        });
    }
    match python
        .map(|p| DuckDb::start(p, args.partitions))
        .transpose()?
        .flatten()
    {
        Some(duck) => engines.push(Engine::DuckDb(duck)),
        None => eprintln!(
            "DuckDB is not installed for {}: left out",
            args.python.display()
        ),
    }
    for workload in &workloads {
        let result = run_workload(workload, &mut engines, &settings, 1, args.runs).await?;
        report.workloads.push(result);
        write_report(&args, &report, python)?;
    }
    if wants(&args, "search") {
        // The same searches read in full, then by the index built between.
        let id = search::rare_request_id(&log_sets[0].0).await?;
        eprintln!("searching for request id {id}");
        for indexed in [false, true] {
            if indexed {
                for (logs, store, prefix) in &log_sets {
                    let build = search::build(&logs.name, Arc::clone(store), prefix).await?;
                    eprintln!("index of {}: {build:?}", logs.name);
                    report.search_index.push(build);
                }
            }
            for (logs, _, _) in &log_sets {
                let w = search::workload(logs, &id, indexed);
                report
                    .workloads
                    .push(run_workload(&w, &mut engines, &settings, 1, args.runs).await?);
            }
        }
        write_report(&args, &report, python)?;
    }
    if let Some(server) = s3.as_ref().filter(|_| wants(&args, "smallfiles")) {
        small_files_part(&args, server, &mut engines, &settings, &mut report, python).await?;
    }
    drop(engines);

    let two_workers = clusters
        .iter()
        .find(|c| matches!(c.layout, Layout::Processes { workers: 2, .. }))
        .context("the 2-worker cluster")?;
    if wants(&args, "floor") {
        let tpch = Workload::tpch(&args.data, args.sf.first().copied().unwrap_or(1.0))?;
        let logs = Workload::logs("floor".into(), &log_dir, None);
        let mut setup = settings.clone();
        setup.extend(tpch.hayate_tables.iter().cloned());
        setup.extend(logs.hayate_tables.iter().cloned());
        let mut client = two_workers.client(&setup).await?;
        let mut df_tables = tpch.datafusion_tables.clone();
        df_tables.extend(logs.datafusion_tables.iter().cloned());
        let df = DataFusion::new(&settings, &[], &df_tables).await?;
        let one_hour = hayate_logs::SUITE
            .iter()
            .find(|q| q.name == "one_hour_summary")
            .context("the one-hour log query")?;
        let queries = [
            FloorQuery {
                name: "select_1".into(),
                sql: "SELECT 1".into(),
            },
            FloorQuery {
                name: "point_lookup_nation".into(),
                sql: "SELECT n_name FROM nation WHERE n_nationkey = 7".into(),
            },
            FloorQuery {
                name: "one_hour_logs".into(),
                sql: one_hour.sql.into(),
            },
        ];
        report.floor = floor::measure(
            &mut client,
            &two_workers.address,
            &df,
            &queries,
            args.floor_runs,
            python,
        )
        .await?;
        write_report(&args, &report, python)?;
    }
    if wants(&args, "exchange") {
        for streams in [1, 2] {
            report.exchange.push(
                exchange::measure(
                    &two_workers.workers[0],
                    &two_workers.workers[1],
                    SECRET,
                    args.exchange_rows,
                    streams,
                    args.runs,
                )
                .await?,
            );
        }
        write_report(&args, &report, python)?;
    }
    drop(clusters);
    if wants(&args, "concurrency") {
        let tpch = Workload::tpch(&args.data, args.mix_sf)?;
        let mix_logs = local_logs(&args.data, args.mix_log_rows).await?;
        let logs = Workload::logs("mix".into(), &mix_logs, None);
        report.concurrency = concurrency::measure(
            &args.hayate,
            &[&tpch, &logs],
            &settings,
            &[1, 2, 3],
            args.clients,
            args.concurrency_secs,
        )
        .await?;
    }
    report.targets = targets(&report);
    write_report(&args, &report, python)?;
    println!("{}", report.markdown());
    let failed: Vec<&str> = report
        .workloads
        .iter()
        .filter(|w| !w.hayate_correct())
        .map(|w| w.workload.as_str())
        .collect();
    if !failed.is_empty() {
        anyhow::bail!("Hayate's answers differ from DataFusion's in {failed:?}");
    }
    Ok(())
}

/// The scale model over `--scale-workloads`: Hayate at each node count of
/// `--scale-nodes` beside single-node DataFusion confined to one node and
/// to all of them. Every answer is checked against DataFusion's.
async fn scale_part(args: &Args, report: &mut Report, python: Option<&Path>) -> anyhow::Result<()> {
    let largest = args.scale_nodes.iter().copied().max().unwrap_or(1);
    // Enough files that every node scans a part of each large table, twice
    // over so that tasks can balance.
    let files = (2 * largest).max(hayate_tpch::MIN_FILES);
    let mut workloads = Vec::new();
    for name in &args.scale_workloads {
        let sf = |prefix: &str| -> anyhow::Result<Option<f64>> {
            name.strip_prefix(prefix)
                .map(|sf| {
                    sf.parse::<f64>()
                        .with_context(|| format!("--scale-workloads {name}"))
                })
                .transpose()
        };
        if let Some(sf) = sf("tpch-sf")? {
            workloads.push(Workload::tpch_split(&args.data, sf, files)?);
        } else if let Some(sf) = sf("tpcds-sf")? {
            workloads.push(Workload::tpcds(&args.data, sf, files)?);
        } else if name == "logs" {
            let dir = local_logs(&args.data, args.log_rows).await?;
            let rows = short_count(args.log_rows);
            workloads.push(Workload::logs(format!("logs-{rows}-local"), &dir, None));
        } else {
            anyhow::bail!("--scale-workloads {name}: expected tpch-sf<N>, tpcds-sf<N> or logs");
        }
    }
    if !args.queries.is_empty() {
        for w in &mut workloads {
            w.queries.retain(|q| args.queries.contains(&q.name));
        }
    }
    let spec = hayate_benches::scale::ModelSpec {
        nodes: args.scale_nodes.clone(),
        cores: args.node_cores,
        link: (!args.no_network).then(|| hayate_benches::scale::network::LinkShape {
            delay_ms: args.link_delay_ms,
            rate_mbit: ((args.link_mbit_per_core as f64 * args.node_cores).round() as u64).max(1),
        }),
    };
    let settings = session_settings(args)?;
    hayate_benches::scale::measure(
        &args.hayate,
        spec,
        &workloads,
        &settings,
        (args.scale_warmups, args.runs),
        |result, summary| {
            if let Some(summary) = summary {
                report.scale.push(summary);
            }
            report.workloads.push(result);
            write_report(args, report, python)
        },
    )
    .await
}

/// The settings every engine gets: `--partitions` as DataFusion's target
/// partitions, then each `--set key=value`.
fn session_settings(args: &Args) -> anyhow::Result<Vec<String>> {
    let mut settings = vec![format!(
        "SET datafusion.execution.target_partitions = {}",
        args.partitions
    )];
    for kv in &args.settings {
        let (k, v) = kv
            .split_once('=')
            .with_context(|| format!("--set {kv}: expected key=value"))?;
        settings.push(format!("SET {} = {}", k.trim(), v.trim()));
    }
    Ok(settings)
}

/// A log set: the workload, the store its files are in, and their prefix.
type LogSet = (Workload, Arc<dyn ObjectStore>, String);

/// The logs under `prefix` in the S3 server, as workload `name`.
fn s3_logs(server: &S3Server, prefix: &str, name: String) -> anyhow::Result<LogSet> {
    let url = url::Url::parse(&format!("s3://{}", server.bucket))?;
    let keys = vec![
        ("aws.endpoint".to_string(), server.endpoint.clone()),
        ("aws.region".to_string(), "us-east-1".to_string()),
        ("aws.access_key_id".to_string(), server.access_key.clone()),
        (
            "aws.secret_access_key".to_string(),
            server.secret_key.clone(),
        ),
    ];
    let logs = Workload::logs(
        name,
        &format!("s3://{}/{prefix}/", server.bucket),
        Some(S3Logs {
            url,
            store: server.store() as _,
            table_options: keys,
        }),
    );
    Ok((logs, server.store() as _, prefix.to_string()))
}

/// A shipper's day of small files, locally and in the S3 server: the
/// newest hours' questions and how soon a new file is seen, then the same
/// questions after `hayate compact`. Written afresh each run (the run
/// compacts them).
async fn small_files_part(
    args: &Args,
    server: &S3Server,
    engines: &mut [Engine],
    settings: &[String],
    report: &mut Report,
    python: Option<&Path>,
) -> anyhow::Result<()> {
    let spec = small_files::spec(args.small_file_rows, args.rows_per_file);
    let files = args
        .small_file_rows
        .div_ceil(args.rows_per_file.max(1) as u64);
    let name = format!("smallfiles-{}", short_count(files));
    let dir = args.data.join(&name);
    if dir.exists() {
        std::fs::remove_dir_all(&dir)?;
    }
    std::fs::create_dir_all(&dir)?;
    let local: Arc<dyn ObjectStore> = Arc::new(LocalFileSystem::new_with_prefix(&dir)?);
    let started = std::time::Instant::now();
    let written = hayate_logs::generate(&spec, Arc::clone(&local), "").await?;
    eprintln!(
        "{name}: {} files written locally in {:.0} s",
        written.files,
        started.elapsed().as_secs_f64()
    );
    let started = std::time::Instant::now();
    hayate_logs::generate(&spec, server.store(), &name).await?;
    eprintln!(
        "{name}: written to S3 in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    let location = dir.canonicalize()?.display().to_string();
    let sets: Vec<LogSet> = vec![
        (
            small_files::workload(
                &Workload::logs(String::new(), &location, None),
                format!("{name}-local"),
            ),
            local,
            String::new(),
        ),
        {
            let (logs, store, prefix) = s3_logs(server, &name, String::new())?;
            (
                small_files::workload(&logs, format!("{name}-s3")),
                store,
                prefix,
            )
        },
    ];
    for (workload, store, prefix) in &sets {
        let result = run_workload(workload, engines, settings, 1, args.runs).await?;
        let probe = freshness::probe(store, prefix, small_files::DAY).await?;
        for engine in engines.iter_mut() {
            if result.engines.contains(&engine.name()) {
                let fresh = freshness::measure(engine, workload, store, &probe).await?;
                eprintln!("{fresh:?}");
                report.freshness.push(fresh);
            }
        }
        report.workloads.push(result);
        write_report(args, report, python)?;
    }
    for (workload, store, prefix) in &sets {
        let run = small_files::compact(&workload.name, Arc::clone(store), prefix).await?;
        eprintln!("{run:?}");
        report.compaction.push(run);
        let compacted = Workload {
            name: format!("{}-compacted", workload.name),
            ..workload.clone()
        };
        report
            .workloads
            .push(run_workload(&compacted, engines, settings, 1, args.runs).await?);
        write_report(args, report, python)?;
    }
    Ok(())
}

/// The targets of the performance work, each with the measured number.
fn targets(report: &Report) -> Vec<Target> {
    let mut out = Vec::new();
    for w in report
        .workloads
        .iter()
        .filter(|w| w.workload.starts_with("tpch"))
    {
        for (engine, goal) in [("hayate-2w", 1.15), ("hayate-1w", 1.05)] {
            if let Some((a, b)) = totals(w, engine, "datafusion") {
                out.push(Target {
                    name: format!("{} {engine} total time", w.workload),
                    goal: format!("<= {goal:.2}x DataFusion"),
                    measured: format!("{:.2}x ({a:.2} s vs {b:.2} s)", a / b),
                    met: a / b <= goal,
                });
            }
        }
        if let Some((q, r)) = worst_ratio(w, "hayate-2w", "datafusion") {
            out.push(Target {
                name: format!("{} hayate-2w slowest query", w.workload),
                goal: "<= 1.40x DataFusion".into(),
                measured: format!("{q} {r:.2}x"),
                met: r <= 1.4,
            });
        }
        for engine in ["hayate-2w", "hayate-1w"] {
            if let Some((a, b)) = cpu_totals(w, engine, "datafusion") {
                out.push(Target {
                    name: format!("{} {engine} CPU-seconds", w.workload),
                    goal: "<= 1.10x DataFusion".into(),
                    measured: format!("{:.2}x ({a:.2} s vs {b:.2} s)", a / b.max(1e-9)),
                    met: a / b.max(1e-9) <= 1.1,
                });
            }
        }
    }
    if let Some(f) = report.floor.iter().find(|f| f.query == "select_1") {
        out.push(Target {
            name: "SELECT 1 through Flight SQL".into(),
            goal: "p50 < 3 ms, p99 < 10 ms".into(),
            measured: format!(
                "p50 {:.2} ms, p99 {:.2} ms",
                f.hayate.p50_ms, f.hayate.p99_ms
            ),
            met: f.hayate.p50_ms < 3.0 && f.hayate.p99_ms < 10.0,
        });
    }
    if let Some(f) = report.floor.iter().find(|f| f.query == "one_hour_logs") {
        out.push(Target {
            name: "one-hour log query, local files".into(),
            goal: "< 20 ms end to end".into(),
            measured: format!(
                "p50 {:.2} ms, p99 {:.2} ms",
                f.hayate.p50_ms, f.hayate.p99_ms
            ),
            met: f.hayate.p50_ms < 20.0,
        });
    }
    if let Some(best) = report
        .exchange
        .iter()
        .map(|e| e.gb_per_s)
        .max_by(f64::total_cmp)
    {
        out.push(Target {
            name: "exchange between two workers".into(),
            goal: "> 1 GB/s".into(),
            measured: format!("{best:.2} GB/s"),
            met: best > 1.0,
        });
    }
    let run = |n: usize| report.concurrency.iter().find(|c| c.workers == n);
    if let (Some(one), Some(two)) = (run(1), run(2)) {
        let per_query = |c: &concurrency::ConcurrencyResult| {
            1000.0 * c.coordinator_cpu_s() / c.queries.max(1) as f64
        };
        out.push(Target {
            name: "queries/s, 2 pinned workers vs 1".into(),
            goal: ">= 1.8x".into(),
            measured: format!(
                "{:.2}x ({:.1} vs {:.1}; the unpinned coordinator spends {:.1} ms of CPU per query)",
                two.qps / one.qps,
                two.qps,
                one.qps,
                per_query(two)
            ),
            met: two.qps / one.qps >= 1.8,
        });
        if let (Some(one_bound), Some(two_bound)) = (one.worker_bound_qps(), two.worker_bound_qps())
        {
            out.push(Target {
                name: "worker-bound queries/s, 2 pinned workers vs 1".into(),
                goal: ">= 1.8x".into(),
                measured: format!(
                    "{:.2}x ({two_bound:.1} vs {one_bound:.1})",
                    two_bound / one_bound
                ),
                met: two_bound / one_bound >= 1.8,
            });
        }
    }
    out
}

fn write_report(args: &Args, report: &Report, python: Option<&Path>) -> anyhow::Result<()> {
    let json = args.out.join("results.json");
    std::fs::write(&json, serde_json::to_string_pretty(report)?)?;
    std::fs::write(args.out.join("summary.md"), report.markdown())?;
    if let Some(python) = python {
        let mut plots = vec![("plot.py", "ratios.png")];
        if !report.scale.is_empty() {
            plots.push(("scale_plot.py", "scale.png"));
        }
        for (script, png) in plots {
            let plotted = std::process::Command::new(python)
                .arg(
                    Path::new(env!("CARGO_MANIFEST_DIR"))
                        .join("python")
                        .join(script),
                )
                .arg(&json)
                .arg(args.out.join(png))
                .status();
            if !plotted.is_ok_and(|s| s.success()) {
                eprintln!("no {png}: {} has no matplotlib", python.display());
            }
        }
    }
    Ok(())
}

fn command_output(program: &str, args: &[&str]) -> String {
    std::process::Command::new(program)
        .args(args)
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default()
}

fn memory_gib() -> f64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / (1024.0 * 1024.0))
}

/// 10000000 as `10M`, 100000 as `100k`.
fn short_count(n: u64) -> String {
    match n {
        n if n >= 1_000_000 && n % 1_000_000 == 0 => format!("{}M", n / 1_000_000),
        n if n >= 1_000 && n % 1_000 == 0 => format!("{}k", n / 1_000),
        n => n.to_string(),
    }
}
