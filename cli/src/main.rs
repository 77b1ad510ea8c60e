//! The `hayate` binary: every role in one executable.

mod client;
mod compact;
mod completion;
mod drain;
mod index;
mod local;
mod logs_gen;
mod output;
mod progress;
mod repl;
mod sample_data;
mod security_args;
mod statements;
mod storage_args;

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use hayate_coordinator::catalog_seal::CatalogKey;
use hayate_coordinator::{CoordinatorConfig, QueryLimits, start_coordinator};
use hayate_worker::server::CpuThreads;
use hayate_worker::{CoordinatorTargets, MemoryLimits, WorkerConfig, start_worker};

use crate::client::SqlClient;
use crate::output::{Output, OutputFormat};
use crate::progress::ProgressMode;
use crate::security_args::{AuthArgs, ClientArgs, ClusterArgs};
use crate::storage_args::StorageArgs;

#[derive(Parser)]
#[command(
    name = "hayate",
    version,
    about = "Distributed SQL over Parquet in object storage"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log lines as readable text or as JSON objects (with the query and
    /// task ids of the spans they are in), on stderr.
    #[arg(long, global = true, value_enum, env = "HAYATE_LOG_FORMAT", default_value_t = LogFormatArg::Text)]
    log_format: LogFormatArg,
    /// Send OpenTelemetry traces over OTLP/HTTP to this collector
    /// (`http://host:4318`); a query's trace spans the coordinator and
    /// every worker that ran a task of it.
    #[arg(long, global = true, env = "OTEL_EXPORTER_OTLP_ENDPOINT")]
    otlp_endpoint: Option<String>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum LogFormatArg {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the coordinator: the Flight SQL endpoint clients connect to.
    Coordinator(CoordinatorArgs),
    /// Run a worker that joins a coordinator.
    Worker(WorkerArgs),
    /// Open a SQL prompt (or run -e / -f) against a coordinator.
    Sql(SqlArgs),
    /// Start a coordinator and workers in this process and open a prompt.
    Local(LocalArgs),
    /// Generate TPC-H data as Parquet files.
    TpchGen(TpchGenArgs),
    /// Generate web/application logs as Hive-partitioned Parquet, to a
    /// local directory or an s3:// location.
    LogsGen(LogsGenArgs),
    /// Build the search index of a table's Parquet files (sidecar files
    /// beside them), so text searches skip row groups that cannot match.
    Index(index::IndexArgs),
    /// Rewrite each time partition's many small files into a few large
    /// sorted ones; readers switch at once, never seeing rows twice.
    Compact(compact::CompactArgs),
    /// Write the sample data (TPC-H and a week of logs) to a directory or
    /// an s3:// location, e.g. to load an S3 bucket for a new cluster.
    SampleData(SampleDataArgs),
    /// Ask a worker to stop taking tasks and wait until its running tasks
    /// finish (a Kubernetes preStop hook); SIGTERM then stops it at once.
    Drain(DrainArgs),
    /// Exit 0 if a status URL answers 2xx (e.g. /readyz): a container
    /// health check for images that have no curl.
    Probe(ProbeArgs),
    /// Print the Argon2 hash of a password (read from the terminal or
    /// stdin), for the coordinator's users file.
    HashPassword,
}

#[derive(Args)]
struct CoordinatorArgs {
    #[arg(long, env = "HAYATE_BIND", default_value = "0.0.0.0")]
    bind: IpAddr,
    #[arg(long, env = "HAYATE_PORT", default_value_t = 50051)]
    port: u16,
    /// How often workers send heartbeats.
    #[arg(long, env = "HAYATE_HEARTBEAT_MS", default_value_t = 1000)]
    heartbeat_ms: u64,
    /// A worker silent for this long is forgotten.
    #[arg(long, env = "HAYATE_WORKER_TIMEOUT_MS", default_value_t = 5000)]
    worker_timeout_ms: u64,
    /// Queries that run at once; more wait in the queue.
    #[arg(long, env = "HAYATE_MAX_CONCURRENT_QUERIES", default_value_t = 32)]
    max_concurrent_queries: usize,
    /// Queries that may wait for a slot; beyond them a query is refused
    /// with "server busy".
    #[arg(long, env = "HAYATE_MAX_QUEUED_QUERIES", default_value_t = 256)]
    max_queued_queries: usize,
    /// Default query timeout in seconds (0: none); a session may set
    /// `hayate.query_timeout_secs`.
    #[arg(long, env = "HAYATE_QUERY_TIMEOUT_SECS", default_value_t = 0)]
    query_timeout_secs: u64,
    /// Port of the HTTP status endpoint: /healthz, /readyz, /metrics
    /// (0 picks a free one).
    #[arg(long, env = "HAYATE_STATUS_PORT", default_value_t = 8080)]
    status_port: u16,
    /// SQL run at startup (e.g. CREATE EXTERNAL TABLE statements), so a
    /// replaced coordinator comes back with its tables.
    #[arg(long, env = "HAYATE_INIT_SQL")]
    init_sql: Option<PathBuf>,
    /// Where table and view definitions are kept, shared by every
    /// coordinator given the same place: `s3://bucket/prefix/` or a
    /// directory. Without it they live as long as this process.
    #[arg(long, env = "HAYATE_CATALOG")]
    catalog: Option<String>,
    /// A file holding the key (32 bytes, hex or base64; a Kubernetes
    /// Secret) that seals catalog definitions holding credentials. Every
    /// coordinator of the catalog needs the same one. To rotate it, put the
    /// new key on the first line and the old one on the next: the first
    /// coordinator started so seals everything again with the new key.
    #[arg(long, env = "HAYATE_CATALOG_KEY_FILE")]
    catalog_key_file: Option<PathBuf>,
    /// Days the query history kept beside the catalog
    /// (`system.query_history`) is kept.
    #[arg(long, env = "HAYATE_QUERY_HISTORY_DAYS", default_value_t = 7.0)]
    query_history_days: f64,
    #[command(flatten)]
    storage: StorageArgs,
    #[command(flatten)]
    cluster: ClusterArgs,
    #[command(flatten)]
    auth: AuthArgs,
}

#[derive(Args)]
struct WorkerArgs {
    /// The coordinators to serve: a URL such as http://127.0.0.1:50051, or
    /// several separated by commas. A name that resolves to several
    /// addresses (a headless Service) is every coordinator behind it, and is
    /// resolved again every few seconds: coordinators added later are
    /// joined.
    #[arg(long, env = "HAYATE_COORDINATOR")]
    coordinator: String,
    #[arg(long, env = "HAYATE_BIND", default_value = "0.0.0.0")]
    bind: IpAddr,
    /// Flight port; 0 picks a free one, so many workers share a host.
    #[arg(long, env = "HAYATE_PORT", default_value_t = 0)]
    port: u16,
    /// Host name or IP other processes reach this worker at (default: the
    /// bind address; when binding all interfaces, the local IP address
    /// that routes to the coordinator, which is the container's or pod's).
    #[arg(long, env = "HAYATE_ADVERTISE_HOST")]
    advertise_host: Option<String>,
    /// Port other processes reach this worker at, when a proxy or port
    /// mapping sits in front of it (defaults to the port it listens on).
    #[arg(long, env = "HAYATE_ADVERTISE_PORT")]
    advertise_port: Option<u16>,
    /// Memory one query may hold on this worker unless its session sets
    /// `hayate.query_memory_limit` (default: half of the worker's memory,
    /// its container's limit if it has one).
    #[arg(long, env = "HAYATE_QUERY_MEMORY_MB")]
    query_memory_mb: Option<usize>,
    /// The most a session may ask for (default: four fifths of the
    /// worker's memory).
    #[arg(long, env = "HAYATE_MAX_QUERY_MEMORY_MB")]
    max_query_memory_mb: Option<usize>,
    /// On SIGTERM, how long running tasks get to finish before the worker
    /// exits (keep it under Kubernetes' terminationGracePeriodSeconds).
    #[arg(long, env = "HAYATE_DRAIN_GRACE_SECS", default_value_t = 30)]
    drain_grace_secs: u64,
    /// Port of the HTTP status endpoint: /healthz, /readyz, /metrics
    /// (0 picks a free one, so many workers share a host).
    #[arg(long, env = "HAYATE_STATUS_PORT", default_value_t = 0)]
    status_port: u16,
    /// Threads that run plan fragments (0: one per core this process may
    /// use, which follows its CPU affinity and container CPU limit).
    #[arg(long, env = "HAYATE_CPU_THREADS", default_value_t = 0)]
    cpu_threads: usize,
    #[command(flatten)]
    cluster: ClusterArgs,
}

#[derive(Args)]
struct SampleDataArgs {
    /// A directory or s3://bucket/prefix.
    #[arg(long, env = "HAYATE_SAMPLE_OUT")]
    out: String,
    /// TPC-H scale factor.
    #[arg(long, default_value_t = 0.01)]
    sf: f64,
    /// Log lines (0: none).
    #[arg(long, default_value_t = 100_000)]
    logs: u64,
    /// Write the data even where a complete set is already found (by
    /// default a second run changes nothing).
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    storage: StorageArgs,
}

#[derive(Args)]
struct ProbeArgs {
    /// e.g. http://127.0.0.1:8080/readyz
    url: String,
    #[arg(long, default_value_t = 2)]
    timeout_secs: u64,
}

#[derive(Args)]
struct DrainArgs {
    /// The worker's Flight URL.
    #[arg(long, default_value = "http://127.0.0.1:50052")]
    worker: String,
    /// How long its running tasks get to finish.
    #[arg(long, env = "HAYATE_DRAIN_GRACE_SECS", default_value_t = 30)]
    grace_secs: u64,
    #[command(flatten)]
    cluster: ClusterArgs,
}

#[derive(Args)]
struct StatementArgs {
    /// Run these statements and exit.
    #[arg(short = 'e', long = "execute")]
    execute: Vec<String>,
    /// Run the statements in this file and exit.
    #[arg(short = 'f', long = "file")]
    file: Vec<PathBuf>,
    /// How answers are printed: a table, or CSV, JSON or NDJSON on stdout
    /// alone (counts and times then go to stderr).
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,
    /// Leave out the "N rows in T" line after each statement.
    #[arg(long)]
    no_timing: bool,
    /// When to show a running statement's progress (stages, tasks, rows
    /// and bytes scanned): on a terminal, always (plain lines on stderr
    /// without one), or never.
    #[arg(long, value_enum, default_value_t = ProgressMode::Auto)]
    progress: ProgressMode,
    /// Run the `-e`/`-f` statements again every this many seconds until
    /// Ctrl-C (or a statement fails), each run headed by its time on
    /// stderr: a live view of a table that keeps growing.
    #[arg(long, value_name = "SECONDS")]
    watch: Option<f64>,
}

impl StatementArgs {
    fn output(&self) -> Output {
        Output {
            format: self.format,
            timing: !self.no_timing,
            progress: self.progress,
        }
    }
}

#[derive(Args)]
struct SqlArgs {
    /// The coordinator's URL, or several separated by commas: the first
    /// that answers is used, and when it is lost the next statements go to
    /// another (a statement it was running fails and is not sent again).
    #[arg(
        long,
        env = "HAYATE_COORDINATOR",
        default_value = "http://127.0.0.1:50051"
    )]
    coordinator: String,
    #[command(flatten)]
    client: ClientArgs,
    #[command(flatten)]
    statements: StatementArgs,
}

#[derive(Args)]
struct LocalArgs {
    #[arg(long, default_value_t = 2)]
    workers: usize,
    /// Coordinator port; 0 picks a free one.
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Skip the TPC-H sample tables.
    #[arg(long)]
    no_sample: bool,
    /// Scale factor of the sample.
    #[arg(long, default_value_t = 0.1)]
    sf: f64,
    /// Also generate this many log lines (a week, see `logs-gen`) and
    /// register them as table `logs`.
    #[arg(long, default_value_t = 0)]
    logs: u64,
    /// Serve the web UI (and /metrics) on this loopback port; 0 picks a
    /// free one.
    #[arg(long)]
    ui_port: Option<u16>,
    /// Serve Flight SQL (for other clients) until interrupted, instead
    /// of opening a prompt; prints where it listens, like `coordinator`.
    #[arg(long, conflicts_with_all = ["execute", "file"])]
    serve: bool,
    /// Keep table and view definitions here (a directory, or
    /// `s3://bucket/prefix/`), so they outlive this process and are shared
    /// with coordinators given the same place.
    #[arg(long, env = "HAYATE_CATALOG")]
    catalog: Option<String>,
    #[command(flatten)]
    storage: StorageArgs,
    #[command(flatten)]
    statements: StatementArgs,
}

#[derive(Args)]
struct TpchGenArgs {
    #[arg(long, default_value_t = 1.0)]
    sf: f64,
    #[arg(long)]
    out: PathBuf,
}

#[derive(Args)]
struct LogsGenArgs {
    /// Number of log lines.
    #[arg(long, default_value_t = 1_000_000)]
    rows: u64,
    /// A directory or s3://bucket/prefix.
    #[arg(long)]
    out: String,
    /// Days of logs from 2026-11-01 (the query suite expects 7).
    #[arg(long, default_value_t = 7)]
    days: u32,
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Rows per Parquet row group.
    #[arg(long, default_value_t = 16 * 1024)]
    rows_per_group: usize,
    /// Rows per file: a few hundred writes the many small files of a log
    /// shipper (a file per flush), for `hayate compact`.
    #[arg(long, default_value_t = 1_000_000)]
    rows_per_file: usize,
    #[command(flatten)]
    storage: StorageArgs,
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let role = match cli.command {
        Command::Coordinator(_) => "coordinator",
        Command::Worker(_) => "worker",
        Command::Local(_) => "local",
        _ => "cli",
    };
    // Dropped last: sends the spans not yet exported.
    let _telemetry = hayate_telemetry::init(hayate_telemetry::TelemetryConfig {
        service: format!("hayate-{role}"),
        format: match cli.log_format {
            LogFormatArg::Text => hayate_telemetry::LogFormat::Text,
            LogFormatArg::Json => hayate_telemetry::LogFormat::Json,
        },
        default_level: match cli.command {
            Command::Coordinator(_) | Command::Worker(_) => "info",
            _ => "warn",
        },
        otlp_endpoint: cli.otlp_endpoint.clone(),
    })?;
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    // A worker computes on a runtime of its own (one thread per core); this
    // one serves gRPC, heartbeats and object-store I/O, and moves finished
    // messages, for which one thread is enough and leaves the cores to the
    // fragments.
    if matches!(cli.command, Command::Worker(_)) {
        runtime.worker_threads(1);
    }
    runtime.enable_all().build()?.block_on(run(cli))
}

/// Prints where a server listens on standard output: ports given as 0 are
/// picked by the system, and whoever started the process reads them here.
fn announce(role: &str, address: &str, status: Option<SocketAddr>) {
    println!("{role} listening at {address}");
    if let Some(status) = status {
        println!("status at http://{status}");
        if role == "coordinator" {
            println!("web UI at http://{status}/");
        }
    }
}

/// The catalog's location as a URL: `s3://...` as it is, a directory
/// (made if missing) as a `file://` URL.
fn catalog_url(location: &str) -> anyhow::Result<url::Url> {
    if let Ok(url) = url::Url::parse(location)
        && url.scheme().len() > 1
    {
        return Ok(url);
    }
    std::fs::create_dir_all(location)?;
    let dir = std::fs::canonicalize(location)?;
    url::Url::from_directory_path(&dir)
        .map_err(|()| anyhow::anyhow!("catalog directory {} is not absolute", dir.display()))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Coordinator(args) => {
            let handle = start_coordinator(CoordinatorConfig {
                bind: SocketAddr::new(args.bind, args.port),
                heartbeat_interval: Duration::from_millis(args.heartbeat_ms),
                worker_timeout: Duration::from_millis(args.worker_timeout_ms),
                storage: args.storage.config(),
                limits: QueryLimits {
                    max_running: args.max_concurrent_queries,
                    max_queued: args.max_queued_queries,
                    timeout: (args.query_timeout_secs > 0)
                        .then(|| Duration::from_secs(args.query_timeout_secs)),
                },
                secret: args.cluster.secret()?,
                tls: args.cluster.tls()?,
                auth: args.auth.config()?,
                status: Some(SocketAddr::new(args.bind, args.status_port)),
                init_sql: match &args.init_sql {
                    Some(path) => read_statements(path)?,
                    None => Vec::new(),
                },
                catalog: args.catalog.as_deref().map(catalog_url).transpose()?,
                query_history_retention: Duration::try_from_secs_f64(
                    args.query_history_days * 86_400.0,
                )
                .map_err(|e| anyhow::anyhow!("--query-history-days: {e}"))?,
                catalog_key: match &args.catalog_key_file {
                    Some(path) => Some(
                        CatalogKey::from_text(&std::fs::read_to_string(path)?)
                            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?,
                    ),
                    None => None,
                },
                local_peers: Default::default(),
            })
            .await?;
            announce("coordinator", &handle.address, handle.status_address);
            let token = handle.shutdown_token();
            tokio::spawn(async move {
                shutdown_signal().await;
                token.cancel();
            });
            handle.wait().await?;
        }
        Command::Worker(args) => {
            let handle = start_worker(WorkerConfig {
                bind: SocketAddr::new(args.bind, args.port),
                advertise_host: args.advertise_host,
                advertise_port: args.advertise_port,
                coordinators: CoordinatorTargets::parse(&[&args.coordinator])?,
                memory: {
                    let sized = MemoryLimits::for_this_process().unwrap_or_default();
                    MemoryLimits {
                        default_per_query: args
                            .query_memory_mb
                            .map(|mb| mb << 20)
                            .or(sized.default_per_query),
                        max_per_query: args
                            .max_query_memory_mb
                            .map(|mb| mb << 20)
                            .or(sized.max_per_query),
                    }
                },
                secret: args.cluster.secret()?,
                tls: args.cluster.tls()?,
                status: Some(SocketAddr::new(args.bind, args.status_port)),
                local_peers: Default::default(),
                cpu: match args.cpu_threads {
                    0 => CpuThreads::PerCore,
                    n => CpuThreads::Count(n),
                },
            })
            .await?;
            announce("worker", &handle.address, handle.status_address);
            // SIGTERM (a pod being stopped) drains: no new tasks, the
            // running ones finish within the grace period, then exit.
            let token = handle.shutdown_token();
            let (registry, lifecycle) = (handle.registry.clone(), handle.lifecycle.clone());
            let grace = Duration::from_secs(args.drain_grace_secs);
            tokio::spawn(async move {
                shutdown_signal().await;
                lifecycle.drain(&registry, grace).await;
                token.cancel();
            });
            handle.wait().await?;
        }
        Command::Sql(args) => {
            let tls = args.client.tls()?;
            let login = args.client.login()?;
            let mut client =
                SqlClient::connect(&[&args.coordinator], tls.client.as_ref(), login.as_ref())
                    .await?;
            if !statements_or_repl(&mut client, &args.statements).await? {
                std::process::exit(1);
            }
        }
        Command::Local(args) => {
            let cluster = local::start(
                args.workers,
                args.port,
                args.ui_port,
                args.storage.config(),
                args.catalog.as_deref().map(catalog_url).transpose()?,
            )
            .await?;
            let mut client =
                SqlClient::connect(&[&cluster.coordinator.address], None, None).await?;
            if !args.no_sample {
                local::load_sample(&mut client, args.sf).await?;
            }
            if args.logs > 0 {
                local::load_logs(&mut client, args.logs).await?;
            }
            if let Some(ui) = cluster.coordinator.status_address {
                eprintln!("Web UI at http://{ui}/");
            }
            if args.serve {
                announce(
                    "coordinator",
                    &cluster.coordinator.address,
                    cluster.coordinator.status_address,
                );
                shutdown_signal().await;
                cluster.stop().await;
                return Ok(());
            }
            if args.statements.execute.is_empty() && args.statements.file.is_empty() {
                eprintln!(
                    "Local cluster: coordinator at {} with {} workers.",
                    cluster.coordinator.address, args.workers
                );
            }
            let ok = statements_or_repl(&mut client, &args.statements).await?;
            cluster.stop().await;
            if !ok {
                std::process::exit(1);
            }
        }
        Command::HashPassword => security_args::hash_password()?,
        Command::SampleData(args) => {
            let sample = sample_data::SampleData {
                out: &args.out,
                sf: args.sf,
                log_rows: args.logs,
                force: args.force,
            };
            sample_data::run(sample, &args.storage).await?
        }
        Command::Probe(args) => {
            let answer = reqwest::Client::builder()
                .timeout(Duration::from_secs(args.timeout_secs))
                .build()?
                .get(&args.url)
                .send()
                .await;
            match answer {
                Ok(r) if r.status().is_success() => {}
                Ok(r) => {
                    let status = r.status();
                    anyhow::bail!(
                        "{}: {status} {}",
                        args.url,
                        r.text().await.unwrap_or_default().trim()
                    )
                }
                Err(e) => {
                    return Err(
                        anyhow::Error::new(e).context(format!("{} did not answer", args.url))
                    );
                }
            }
        }
        Command::Drain(args) => {
            let left = drain::drain_worker(
                &args.worker,
                &args.cluster.secret()?,
                args.cluster.tls()?.client.as_ref(),
                args.grace_secs,
            )
            .await?;
            println!("{} drained; {left} tasks still running", args.worker);
        }
        Command::LogsGen(args) => logs_gen::run(args.to_spec(), &args.out, &args.storage).await?,
        Command::Index(args) => index::run(&args).await?,
        Command::Compact(args) => compact::run(&args).await?,
        Command::TpchGen(args) => {
            hayate_tpch::generate(&args.out, args.sf)?;
            println!(
                "TPC-H scale factor {} written to {}",
                args.sf,
                args.out.display()
            );
        }
    }
    Ok(())
}

/// Runs `-e`/`-f` statements if given, else the interactive prompt.
async fn statements_or_repl(client: &mut SqlClient, args: &StatementArgs) -> anyhow::Result<bool> {
    if args.execute.is_empty() && args.file.is_empty() {
        repl::repl(client, args.output()).await?;
        return Ok(true);
    }
    let mut statements = Vec::new();
    for e in &args.execute {
        let (mut s, rest) = statements::split_statements(e);
        statements.append(&mut s);
        if !rest.is_empty() {
            statements.push(rest);
        }
    }
    for f in &args.file {
        statements.append(&mut read_statements(f)?);
    }
    match args.watch {
        Some(seconds) => {
            let every = Duration::try_from_secs_f64(seconds)
                .ok()
                .filter(|d| !d.is_zero())
                .ok_or_else(|| anyhow::anyhow!("--watch takes a positive number of seconds"))?;
            Ok(repl::watch(client, &statements, &args.output(), every).await)
        }
        None => Ok(repl::run_statements(client, &statements, &args.output()).await),
    }
}

/// The statements of a SQL file, split at semicolons.
fn read_statements(path: &std::path::Path) -> anyhow::Result<Vec<String>> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    let (mut statements, rest) = statements::split_statements(&text);
    if !rest.trim().is_empty() {
        statements.push(rest);
    }
    Ok(statements)
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("can install a SIGTERM handler");
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

impl LogsGenArgs {
    fn to_spec(&self) -> hayate_logs::LogSpec {
        hayate_logs::LogSpec {
            rows: self.rows,
            days: self.days,
            seed: self.seed,
            rows_per_group: self.rows_per_group,
            rows_per_file: self.rows_per_file,
            ..Default::default()
        }
    }
}
