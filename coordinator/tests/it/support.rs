//! A real cluster on loopback ports (coordinator and workers in this process,
//! talking Flight over TCP as separate processes do) and a real Flight SQL
//! client to query it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::prelude::SessionContext;
use hayate_coordinator::{CoordinatorConfig, CoordinatorHandle, QueryLimits, StorageConfig};
use hayate_embedded::EmbeddedCluster;
use hayate_logs::{LogSpec, TIME_COLUMN, create_table_sql, generate};
use hayate_protocol::{ClusterSecret, QueryStats};
use hayate_testkit::S3Server;
use hayate_worker::WorkerHandle;

pub const SCALE_FACTOR: f64 = 0.01;

/// The cluster secret of every test cluster.
pub const TEST_SECRET: &str = "test-cluster-secret";

/// TPC-H data shared by every test of this binary (generated once, kept in
/// the target directory across runs).
pub fn tpch_dir() -> &'static str {
    static DIR: OnceLock<String> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("tpch-sf{SCALE_FACTOR}"));
        hayate_tpch::generate(&dir, SCALE_FACTOR).expect("generate TPC-H data");
        dir.canonicalize()
            .expect("data dir exists")
            .display()
            .to_string()
    })
}

/// Stores that reach `server` at `endpoint` (itself, or a proxy), with its
/// keys or with none so that tables must bring them.
pub fn s3_storage(server: &S3Server, endpoint: &str, with_keys: bool) -> StorageConfig {
    let mut defaults = BTreeMap::from([
        ("aws.endpoint".to_string(), endpoint.to_string()),
        ("aws.region".to_string(), "us-east-1".to_string()),
    ]);
    if with_keys {
        defaults.insert("aws.access_key_id".into(), server.access_key.clone());
        defaults.insert("aws.secret_access_key".into(), server.secret_key.clone());
    }
    StorageConfig {
        defaults,
        ..Default::default()
    }
}

/// [`s3_storage`] with its keys, whose listings are trusted for ten
/// minutes: a test's second run is then served from the listing cache
/// however long its first took on a loaded machine, and only the newest
/// partition is ever listed again.
pub fn long_listing_storage(server: &S3Server) -> StorageConfig {
    StorageConfig {
        listing_cache_ttl: Duration::from_secs(600),
        ..s3_storage(server, &server.endpoint, true)
    }
}

/// The logs of `spec` written to `server` under `web/`, and a cluster of
/// `workers` with `storage` and its client, with the table `logs` over
/// them, partitioned by its time column; and the table's location.
pub async fn logs_on_s3(
    server: &S3Server,
    spec: &LogSpec,
    workers: usize,
    storage: StorageConfig,
) -> (TestCluster, Client, String) {
    generate(spec, server.store(), "web")
        .await
        .expect("logs written to S3");
    let location = format!("s3://{}/web/", server.bucket);
    let cluster = TestCluster::start_with_storage(workers, storage).await;
    let mut client = cluster.client().await;
    client
        .update(&create_table_sql("logs", &location, &[TIME_COLUMN]))
        .await
        .expect("create table");
    (cluster, client, location)
}

/// Single-node DataFusion with the functions Hayate adds (JSON, `matches`)
/// and the table `logs` over the logs at `location` on `server`: where the
/// expected answers come from.
pub async fn logs_reference(server: &S3Server, location: &str) -> SessionContext {
    let state = hayate_planner::with_hayate_functions(
        SessionStateBuilder::new().with_default_features().build(),
    )
    .expect("Hayate's functions");
    let ctx = SessionContext::new_with_state(state);
    let url = url::Url::parse(&format!("s3://{}", server.bucket)).expect("bucket URL");
    ctx.register_object_store(&url, server.store());
    ctx.sql(&create_table_sql("logs", location, &[]))
        .await
        .expect("reference table")
        .collect()
        .await
        .expect("reference table");
    ctx
}

pub struct TestCluster {
    pub coordinator: CoordinatorHandle,
    pub workers: Vec<WorkerHandle>,
}

impl TestCluster {
    pub async fn start(workers: usize) -> Self {
        Self::start_with_storage(workers, StorageConfig::default()).await
    }

    pub async fn start_with_storage(workers: usize, storage: StorageConfig) -> Self {
        Self::start_with(workers, storage, QueryLimits::default()).await
    }

    pub async fn start_with(workers: usize, storage: StorageConfig, limits: QueryLimits) -> Self {
        Self::networked(Self::config(storage, limits), workers).await
    }

    /// A cluster whose coordinator serves its status port (probes, metrics
    /// and the web UI) on a free loopback port.
    pub async fn start_with_ui(workers: usize) -> Self {
        let config = CoordinatorConfig {
            status: Some(SocketAddr::from(([127, 0, 0, 1], 0))),
            ..Self::config(StorageConfig::default(), QueryLimits::default())
        };
        Self::networked(config, workers).await
    }

    async fn networked(config: CoordinatorConfig, workers: usize) -> Self {
        let cluster = EmbeddedCluster::start_networked(config, workers)
            .await
            .expect("cluster starts");
        Self {
            coordinator: cluster.coordinator,
            workers: cluster.workers,
        }
    }

    /// The web UI's address, `http://host:port`.
    pub fn ui(&self) -> String {
        let address = self.coordinator.status_address.expect("started with a UI");
        format!("http://{address}")
    }

    /// A cluster whose members read each other in memory, as in `hayate
    /// local`.
    pub async fn start_in_memory(workers: usize) -> Self {
        let config = Self::config(StorageConfig::default(), QueryLimits::default());
        let cluster = EmbeddedCluster::start(config, workers)
            .await
            .expect("cluster starts");
        Self {
            coordinator: cluster.coordinator,
            workers: cluster.workers,
        }
    }

    fn config(storage: StorageConfig, limits: QueryLimits) -> CoordinatorConfig {
        CoordinatorConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            heartbeat_interval: Duration::from_millis(200),
            worker_timeout: Duration::from_secs(2),
            storage,
            limits,
            secret: ClusterSecret::new(TEST_SECRET),
            ..Default::default()
        }
    }

    /// A cluster whose S3 stores point at `server` (with its keys, or with
    /// none so that tables must bring them).
    pub async fn start_on_s3(workers: usize, server: &S3Server, with_keys: bool) -> Self {
        Self::start_on_s3_via(workers, server, &server.endpoint, with_keys).await
    }

    /// As [`Self::start_on_s3`], reaching the server at `endpoint` (a proxy).
    pub async fn start_on_s3_via(
        workers: usize,
        server: &S3Server,
        endpoint: &str,
        with_keys: bool,
    ) -> Self {
        Self::start_with_storage(workers, s3_storage(server, endpoint, with_keys)).await
    }

    /// A Flight SQL client with its own session.
    pub async fn client(&self) -> Client {
        Client::connect(&self.coordinator.address)
            .await
            .expect("connect to coordinator")
    }

    /// A client with the TPC-H tables registered and scans split into as
    /// many tasks as there are files (so small data still spreads out).
    pub async fn tpch_client(&self) -> Client {
        let mut client = self.client().await;
        for ddl in hayate_tpch::create_table_statements(tpch_dir()) {
            client.update(&ddl).await.expect("create table");
        }
        client
            .update("SET hayate.bytes_per_task = 1")
            .await
            .expect("set");
        client
    }

    pub async fn stop(self) {
        for w in self.workers {
            w.stop().await;
        }
        self.coordinator.stop().await;
    }
}

pub use hayate_testkit::SqlClient as Client;

/// A counter of a query's totals (0 when absent).
pub fn total(stats: &QueryStats, name: &str) -> u64 {
    stats.total.get(name).copied().unwrap_or(0)
}

/// How much longer than its tasks a stopped query's memory may take to come
/// back. An operator in the middle of a synchronous step lets go only when
/// the step ends: DataFusion builds a join's hash table in one poll, which
/// in an unoptimized build on a loaded machine takes seconds (measured
/// here: 1.4 s alone, over 3 s beside other tests). The check is that the
/// memory does come back, not how fast.
const MEMORY_GRACE: Duration = Duration::from_secs(10);

/// Waits up to `limit` for every worker to hold no task, and up to
/// `limit + MEMORY_GRACE` for their query memory to be back to zero; panics
/// naming what is left.
pub async fn assert_workers_idle(cluster: &TestCluster, limit: Duration, after: &str) {
    let started = tokio::time::Instant::now();
    loop {
        let left: usize = cluster
            .workers
            .iter()
            .map(|w| w.registry.running_tasks())
            .sum();
        let memory: usize = cluster
            .workers
            .iter()
            .map(|w| w.registry.query_memory_in_use())
            .sum();
        if left == 0 && memory == 0 {
            return;
        }
        let waited = started.elapsed();
        assert!(
            left == 0 || waited < limit,
            "{left} tasks still running {limit:?} after {after}"
        );
        assert!(
            waited < limit + MEMORY_GRACE,
            "{memory} bytes of query memory still held {:?} after {after}",
            limit + MEMORY_GRACE
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub fn row_count(batches: &[RecordBatch]) -> usize {
    batches.iter().map(|b| b.num_rows()).sum()
}

/// `Some` description of how `actual` (an answer, or the error the query
/// failed with) differs from `expected`; `None` when they are equal.
pub fn difference(
    name: &str,
    expected: &[RecordBatch],
    actual: &Result<Vec<RecordBatch>, String>,
    ordered: bool,
) -> Option<String> {
    match actual {
        Ok(actual) => hayate_tpch::compare_results(expected, actual, ordered)
            .err()
            .map(|diff| format!("{name}: {diff}")),
        Err(e) => Some(format!("{name} failed: {e}")),
    }
}

/// The end of a run of checked queries: every task has finished or was
/// cancelled (workers hold nothing), the cluster stops, and no answer
/// differed (`failures` of `queries`, named in the message as `what`).
pub async fn finish_checked_run(cluster: TestCluster, failures: Vec<String>, what: &str) {
    let workers = cluster.workers.len();
    tokio::time::sleep(Duration::from_millis(300)).await;
    for w in &cluster.workers {
        assert_eq!(
            w.registry.running_tasks(),
            0,
            "worker {} still holds tasks",
            w.address
        );
    }
    cluster.stop().await;
    assert!(
        failures.is_empty(),
        "{} {what} differ at {workers} workers:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
