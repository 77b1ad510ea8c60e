//! Starting a coordinator: its Flight SQL port, membership bookkeeping and
//! the shared catalog.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use arrow_flight::flight_service_server::FlightServiceServer;
use hayate_protocol::ClusterSecret;
use hayate_protocol::control::membership::membership_server::MembershipServer;
use hayate_protocol::control::query_insight::query_insight_server::QueryInsightServer;
use hayate_protocol::transport::{
    InternalTransport, MAX_MESSAGE_BYTES, Tls, incoming, server_builder,
};
use hayate_rpc::{Channels, LocalPeers};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tonic::service::InterceptorLayer;

use hayate_storage::StoreOptions;

use crate::auth::{Authenticator, Users};
use crate::catalog::Catalog;
use crate::catalog_log::CatalogLog;
use crate::catalog_sync::CatalogSync;
use crate::engine::{QueryEngine, QueryLimits};
use crate::error::CoordinatorError;
use crate::flight_sql::CoordinatorService;
use crate::gate::{Gate, record_path};
use crate::membership::Membership;
use crate::membership_service::MembershipService;
use crate::query::Submitter;
use crate::query_history::QueryHistory;
use crate::query_insight::QueryInsightService;
use crate::session::Sessions;
use crate::status::CoordinatorStatus;
use futures::StreamExt;

#[derive(Debug, Clone)]
pub struct CoordinatorConfig {
    pub bind: SocketAddr,
    pub heartbeat_interval: Duration,
    /// A worker silent for this long is forgotten.
    pub worker_timeout: Duration,
    pub storage: StorageConfig,
    /// Concurrent and queued queries, and the default query timeout.
    pub limits: QueryLimits,
    /// Shared with the workers: carried on every call to them, required on
    /// their announcements.
    pub secret: ClusterSecret,
    /// TLS for the client endpoint, and how workers' `https://` endpoints
    /// are verified.
    pub tls: Tls,
    /// Users who may sign in; `None` leaves the coordinator open.
    pub auth: Option<AuthConfig>,
    /// Where to serve `/healthz`, `/readyz` and `/metrics` over HTTP.
    pub status: Option<SocketAddr>,
    /// Statements run before serving (table definitions), so a coordinator
    /// that is replaced comes back with the same tables.
    pub init_sql: Vec<String>,
    /// Where the shared catalog log is kept (`s3://bucket/prefix/`,
    /// `file:///dir/`): table and view definitions outlive this process and
    /// are shared with every coordinator given the same location.
    pub catalog: Option<url::Url>,
    /// Seals the catalog's definitions that hold credentials.
    pub catalog_key: Option<crate::catalog_seal::CatalogKey>,
    /// How long the query history kept beside the catalog is kept.
    pub query_history_retention: Duration,
    /// Workers in this process whose partitions the coordinator reads in
    /// memory (an embedded cluster's); empty for a coordinator of its own.
    pub local_peers: LocalPeers,
}

/// Who may sign in, and for how long a sign-in lasts.
#[derive(Clone, Debug)]
pub struct AuthConfig {
    pub users: Users,
    pub token_ttl: Duration,
}

/// How the coordinator reaches object storage.
#[derive(Clone)]
pub struct StorageConfig {
    /// `aws.*` options every S3 store starts from (endpoint, region, ...);
    /// a table's `OPTIONS` override them.
    pub defaults: StoreOptions,
    /// How long a table's file listing is reused before listing again
    /// (`REFRESH TABLE` forgets it at once).
    pub listing_cache_ttl: Duration,
    /// How stale a table's newest partition may be: a scan planned later
    /// than this after the last look lists it again (only it), so new
    /// files show up without `REFRESH TABLE`.
    pub fresh_listing_interval: Duration,
}

impl Default for StorageConfig {
    fn default() -> Self {
        Self {
            defaults: StoreOptions::new(),
            listing_cache_ttl: Duration::from_secs(30),
            fresh_listing_interval: Duration::from_secs(2),
        }
    }
}

impl std::fmt::Debug for StorageConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys: Vec<&String> = self.defaults.keys().collect();
        f.debug_struct("StorageConfig")
            .field("default_option_keys", &keys)
            .field("listing_cache_ttl", &self.listing_cache_ttl)
            .field("fresh_listing_interval", &self.fresh_listing_interval)
            .finish()
    }
}

impl Default for CoordinatorConfig {
    fn default() -> Self {
        Self {
            bind: SocketAddr::from(([127, 0, 0, 1], 50051)),
            heartbeat_interval: Duration::from_secs(1),
            worker_timeout: Duration::from_secs(5),
            storage: StorageConfig::default(),
            limits: QueryLimits::default(),
            secret: ClusterSecret::default(),
            tls: Tls::default(),
            auth: None,
            status: None,
            init_sql: Vec::new(),
            catalog: None,
            catalog_key: None,
            query_history_retention: Duration::from_secs(7 * 24 * 3600),
            local_peers: LocalPeers::default(),
        }
    }
}

pub struct CoordinatorHandle {
    /// `http://host:port` of the Flight SQL endpoint.
    pub address: String,
    /// The HTTP status endpoint, if one was asked for.
    pub status_address: Option<SocketAddr>,
    pub membership: Arc<Membership>,
    pub catalog: Catalog,
    shutdown: CancellationToken,
    server: tokio::task::JoinHandle<Result<(), tonic::transport::Error>>,
    /// Writes the query history until told to stop, then once more.
    history: Option<(CancellationToken, tokio::task::JoinHandle<()>)>,
}

impl CoordinatorHandle {
    pub async fn stop(self) {
        self.shutdown.cancel();
        let _ = self.wait().await;
    }

    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// Waits until the server has ended (after [`Self::stop`], a shutdown
    /// or a fatal error) and the last queries are in the history.
    pub async fn wait(self) -> Result<(), tonic::transport::Error> {
        let served = self.server.await.unwrap_or(Ok(()));
        if let Some((stop, writer)) = self.history {
            stop.cancel();
            let _ = writer.await;
        }
        served
    }

    /// Waits until at least `n` workers are live, or the timeout passes.
    pub async fn wait_for_workers(&self, n: usize, timeout: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + timeout;
        while tokio::time::Instant::now() < deadline {
            if self.membership.live().len() >= n {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.membership.live().len() >= n
    }
}

pub async fn start_coordinator(config: CoordinatorConfig) -> std::io::Result<CoordinatorHandle> {
    if config.auth.is_some() && !config.secret.is_set() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "authentication needs a cluster secret (HAYATE_CLUSTER_SECRET or --cluster-secret-file): \
             without one, anyone who reaches a worker could run plans and read data around it",
        ));
    }
    let channels = Channels::new(InternalTransport {
        secret: config.secret.clone(),
        tls: config.tls.client.clone(),
    });
    let catalog = Catalog::new(
        Catalog::default_config(),
        &config.storage,
        channels.clone(),
        config.local_peers.clone(),
    )
    .map_err(|e| std::io::Error::other(e.to_string()))?;
    if !config.bind.ip().is_loopback() {
        if config.auth.is_none() {
            tracing::warn!(
                "no users configured: anyone who reaches this port can run queries (see --users-file)"
            );
        }
        if !config.secret.is_set() {
            tracing::warn!(
                "no cluster secret: anyone who reaches this port can join as a worker (see HAYATE_CLUSTER_SECRET)"
            );
        }
    }
    let listener = TcpListener::bind(config.bind).await.map_err(|e| {
        std::io::Error::new(e.kind(), format!("Flight SQL on {}: {e}", config.bind))
    })?;
    let local = listener.local_addr()?;
    let host = if local.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else {
        local.ip().to_string()
    };
    let address = format!("{}://{host}:{}", config.tls.scheme(), local.port());
    let membership = Arc::new(Membership::new(
        config.heartbeat_interval,
        config.worker_timeout,
    ));
    let authenticator = config
        .auth
        .as_ref()
        .map(|a| Arc::new(Authenticator::new(a.users.clone(), a.token_ttl)));
    let engine = Arc::new(QueryEngine::new(
        Arc::clone(&membership),
        Arc::clone(catalog.stores()),
        config.limits.clone(),
        channels,
    ));
    let shutdown = CancellationToken::new();
    // The shared catalog and, beside it, the query history.
    let history = match &config.catalog {
        Some(url) => {
            let (store, prefix) = catalog_store(&catalog, url)?;
            let log = Arc::new(CatalogLog::new(Arc::clone(&store), &prefix, &address));
            let key = config.catalog_key.clone();
            let sync = CatalogSync::start(log, catalog.clone(), key, shutdown.clone())
                .await
                .map_err(|e| std::io::Error::other(format!("catalog {url}: {e}")))?;
            engine.follow_catalog(sync);
            let history = QueryHistory::new(
                store,
                url,
                &prefix,
                &membership.coordinator_id,
                config.query_history_retention,
            )
            .map_err(std::io::Error::other)?;
            Some(Arc::new(history))
        }
        None => None,
    };
    catalog
        .add_system_tables(
            Arc::clone(engine.registry()),
            Arc::clone(&membership),
            history.clone(),
        )
        .map_err(|e| std::io::Error::other(e.to_string()))?;
    // Written until the server has ended, then once more: a stopped
    // coordinator's last queries are kept too.
    let history_stop = CancellationToken::new();
    let history_writer = history.map(|history| {
        tokio::spawn(history.keep(Arc::clone(engine.registry()), history_stop.clone()))
    });
    run_init_sql(&engine, &catalog, &config.init_sql).await?;
    let service = CoordinatorService::new(
        Sessions::new(catalog.clone()),
        Arc::clone(&engine),
        authenticator.clone(),
    );
    let membership_calls = MembershipService::new(
        Arc::clone(&membership),
        Arc::clone(engine.registry()),
        config.secret.is_set(),
    );
    let gate = Gate {
        secret: config.secret.clone(),
        auth: authenticator.clone(),
    };
    let front_door = tower::ServiceBuilder::new()
        .map_request(record_path)
        .layer(InterceptorLayer::new(move |request| gate.check(request)));
    let server = server_builder(config.tls.server.as_ref())
        .map_err(|e| std::io::Error::other(format!("TLS: {e}")))?
        .layer(front_door)
        .add_service(
            FlightServiceServer::new(service)
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
        )
        .add_service(
            MembershipServer::new(membership_calls)
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
        )
        .add_service(
            QueryInsightServer::new(QueryInsightService::new(Arc::clone(&engine)))
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
        )
        .serve_with_incoming_shutdown(incoming(listener), shutdown.clone().cancelled_owned());
    let server = tokio::spawn(server);
    tracing::info!(%address, "coordinator listening on {local}");
    let status_address = match config.status {
        Some(bind) => {
            let pages = crate::web_ui::routes(Arc::clone(&engine), authenticator);
            let status = Arc::new(CoordinatorStatus {
                engine,
                membership: Arc::clone(&membership),
            });
            Some(hayate_ops_http::serve_with(bind, status, pages, shutdown.clone()).await?)
        }
        None => None,
    };
    Ok(CoordinatorHandle {
        address,
        status_address,
        membership,
        catalog,
        shutdown,
        server,
        history: history_writer.map(|writer| (history_stop, writer)),
    })
}

/// The store the shared catalog at `url` is kept in, the one the
/// coordinator's tables would read it from (with the same default options
/// and credentials), and its prefix there.
fn catalog_store(
    catalog: &Catalog,
    url: &url::Url,
) -> std::io::Result<(Arc<dyn object_store::ObjectStore>, object_store::path::Path)> {
    use datafusion::execution::object_store::ObjectStoreRegistry;
    let store = catalog
        .stores()
        .get_store(url)
        .map_err(|e| std::io::Error::other(format!("catalog {url}: {e}")))?;
    let prefix = object_store::path::Path::from_url_path(url.path())
        .map_err(|e| std::io::Error::other(format!("catalog {url}: {e}")))?;
    Ok((store, prefix))
}

/// Runs the startup statements through the same planner and engine as a
/// client's; the first failure stops the coordinator with its statement.
async fn run_init_sql(
    engine: &QueryEngine,
    catalog: &Catalog,
    statements: &[String],
) -> std::io::Result<()> {
    if statements.is_empty() {
        return Ok(());
    }
    let ctx = catalog.new_session();
    let submitter = Submitter {
        user: "--init-sql".to_string(),
        session: ctx.session_id(),
    };
    for sql in statements {
        let run = async {
            let (id, _) = engine.plan(&ctx, &submitter, sql, None).await?;
            let mut stream = engine.execute(&id).await?;
            while let Some(batch) = stream.next().await {
                batch?;
            }
            Ok::<_, CoordinatorError>(())
        };
        run.await.map_err(|e| {
            std::io::Error::other(format!(
                "startup statement failed: {e}\n  {}",
                hayate_storage::redact_sql(sql)
            ))
        })?;
    }
    tracing::info!(statements = statements.len(), "ran startup SQL");
    Ok(())
}
