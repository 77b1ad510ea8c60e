//! A real cluster on loopback ports (coordinator and workers in this process,
//! talking Flight over TCP) and a real Flight SQL client to query it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use arrow_flight::Action;
use arrow_flight::sql::TicketStatementQuery;
use arrow_flight::sql::client::FlightSqlServiceClient;
use datafusion::arrow::record_batch::RecordBatch;
use futures::TryStreamExt;
use hayate_coordinator::{
    CoordinatorConfig, CoordinatorHandle, EmbeddedCluster, QueryLimits, SESSION_HEADER,
    StorageConfig,
};
use hayate_protocol::{QueryRef, QueryStats, actions};
use hayate_testkit::S3Server;
use hayate_worker::WorkerHandle;
use prost::Message;
use tonic::transport::Channel;

pub const SCALE_FACTOR: f64 = 0.01;

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
        let config = CoordinatorConfig {
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            heartbeat_interval: Duration::from_millis(200),
            worker_timeout: Duration::from_secs(2),
            storage,
            limits,
        };
        let cluster = EmbeddedCluster::start(config, workers)
            .await
            .expect("cluster starts");
        Self {
            coordinator: cluster.coordinator,
            workers: cluster.workers,
        }
    }

    /// A cluster whose S3 stores point at `server` (with its keys, or with
    /// none so that tables must bring them).
    pub async fn start_on_s3(workers: usize, server: &S3Server, with_keys: bool) -> Self {
        let mut defaults = BTreeMap::from([
            ("aws.endpoint".to_string(), server.endpoint.clone()),
            ("aws.region".to_string(), "us-east-1".to_string()),
        ]);
        if with_keys {
            defaults.insert("aws.access_key_id".into(), server.access_key.clone());
            defaults.insert("aws.secret_access_key".into(), server.secret_key.clone());
        }
        let storage = StorageConfig {
            defaults,
            ..Default::default()
        };
        Self::start_with_storage(workers, storage).await
    }

    /// A Flight SQL client with its own session.
    pub async fn client(&self) -> Client {
        Client::connect(&self.coordinator.address).await
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

pub struct Client {
    pub inner: FlightSqlServiceClient<Channel>,
}

impl Client {
    pub async fn connect(address: &str) -> Self {
        let channel = Channel::from_shared(address.to_string())
            .expect("valid address")
            .connect()
            .await
            .expect("connect to coordinator");
        let mut inner = FlightSqlServiceClient::new(channel);
        inner.set_header(SESSION_HEADER, uuid::Uuid::new_v4().to_string());
        Self { inner }
    }

    /// Runs a query (GetFlightInfo + DoGet on every endpoint).
    pub async fn query(&mut self, sql: &str) -> Result<Vec<RecordBatch>, String> {
        Ok(self.run(sql).await?.0)
    }

    /// Runs a query; returns its rows and its statement handle (the query id).
    async fn run(&mut self, sql: &str) -> Result<(Vec<RecordBatch>, Option<String>), String> {
        let info = self
            .inner
            .execute(sql.to_string(), None)
            .await
            .map_err(|e| e.to_string())?;
        let mut batches = Vec::new();
        let mut handle = None;
        for endpoint in info.endpoint {
            let ticket = endpoint.ticket.ok_or("endpoint without ticket")?;
            let any = arrow_flight::sql::Any::decode(ticket.ticket.as_ref())
                .map_err(|e| e.to_string())?;
            let statement: Option<TicketStatementQuery> =
                any.unpack().map_err(|e| e.to_string())?;
            handle = statement.map(|s| String::from_utf8_lossy(&s.statement_handle).to_string());
            let stream = self.inner.do_get(ticket).await.map_err(|e| e.to_string())?;
            let mut part: Vec<RecordBatch> =
                stream.try_collect().await.map_err(|e| e.to_string())?;
            batches.append(&mut part);
        }
        Ok((batches, handle))
    }

    /// Runs a query and returns its rows and what it did (I/O, pruning,
    /// cache hits), as the CLI shows after each query.
    pub async fn query_with_stats(
        &mut self,
        sql: &str,
    ) -> Result<(Vec<RecordBatch>, QueryStats), String> {
        let (batches, handle) = self.run(sql).await?;
        let query_id = handle.ok_or("no endpoint")?;
        let action = Action {
            r#type: actions::QUERY_STATS.to_string(),
            body: QueryRef { query_id }.encode_to_vec().into(),
        };
        let mut results = self
            .inner
            .do_action(action)
            .await
            .map_err(|e| e.to_string())?;
        let body = results
            .try_next()
            .await
            .map_err(|e| e.to_string())?
            .ok_or("no stats")?
            .body;
        let stats = QueryStats::decode(body.as_ref()).map_err(|e| e.to_string())?;
        Ok((batches, stats))
    }

    /// Runs a statement through `CommandStatementUpdate`.
    pub async fn update(&mut self, sql: &str) -> Result<i64, String> {
        self.inner
            .execute_update(sql.to_string(), None)
            .await
            .map_err(|e| e.to_string())
    }
}

/// A counter of a query's totals (0 when absent).
pub fn total(stats: &QueryStats, name: &str) -> u64 {
    stats.total.get(name).copied().unwrap_or(0)
}

/// Waits up to `limit` for every worker to hold no task; panics naming
/// what is left.
pub async fn assert_workers_idle(cluster: &TestCluster, limit: Duration, after: &str) {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let left: usize = cluster
            .workers
            .iter()
            .map(|w| w.registry.running_tasks())
            .sum();
        if left == 0 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{left} tasks still running {limit:?} after {after}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub fn row_count(batches: &[RecordBatch]) -> usize {
    batches.iter().map(|b| b.num_rows()).sum()
}
