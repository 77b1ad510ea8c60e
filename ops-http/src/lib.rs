//! The HTTP endpoint of every Hayate process, for orchestrators and
//! monitoring rather than for queries: `/healthz` (the process answers:
//! restart it if not), `/readyz` (it should get work now: a draining or
//! unregistered worker says no) and `/metrics` (Prometheus text format).
//! It is plain HTTP on its own port so probes and scrapers need neither
//! Flight nor the cluster secret; the probes expose no data and take no
//! commands. A role may add pages of its own (the coordinator's web UI),
//! which then guard themselves.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

mod io_totals;

pub use io_totals::register_io_totals;
pub use prometheus_client;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

/// Whether a process should be sent work now, with a line saying why.
pub enum Readiness {
    Ready(String),
    NotReady(String),
}

/// What the endpoint reports; each role implements it over its own state.
pub trait StatusSource: Send + Sync + 'static {
    fn readiness(&self) -> Readiness;
    /// The process's metrics in the OpenMetrics text format.
    fn metrics(&self) -> String;
}

/// Serves the endpoint on `bind` until `shutdown`; returns the bound
/// address (port 0 picks a free one).
pub async fn serve(
    bind: SocketAddr,
    source: Arc<dyn StatusSource>,
    shutdown: CancellationToken,
) -> std::io::Result<SocketAddr> {
    serve_with(bind, source, Router::new(), shutdown).await
}

/// As [`serve`], with more routes beside the probes (the coordinator's web
/// UI, which guards itself).
pub async fn serve_with(
    bind: SocketAddr,
    source: Arc<dyn StatusSource>,
    pages: Router,
    shutdown: CancellationToken,
) -> std::io::Result<SocketAddr> {
    let named = |e: std::io::Error| {
        std::io::Error::new(e.kind(), format!("status endpoint on {bind}: {e}"))
    };
    let listener = TcpListener::bind(bind).await.map_err(named)?;
    let address = listener.local_addr().map_err(named)?;
    let app = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(source)
        .merge(pages);
    tracing::info!("status endpoint at http://{address} (/healthz /readyz /metrics)");
    tokio::spawn(async move {
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown.cancelled_owned())
            .await;
        if let Err(e) = served {
            tracing::warn!(error = %e, "status endpoint stopped");
        }
    });
    Ok(address)
}

async fn readyz(State(source): State<Arc<dyn StatusSource>>) -> impl IntoResponse {
    match source.readiness() {
        Readiness::Ready(why) => (StatusCode::OK, format!("{why}\n")),
        Readiness::NotReady(why) => (StatusCode::SERVICE_UNAVAILABLE, format!("{why}\n")),
    }
}

async fn metrics(State(source): State<Arc<dyn StatusSource>>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        source.metrics(),
    )
}

/// A registry's metrics as OpenMetrics text.
pub fn encode(registry: &Registry) -> String {
    let mut out = String::new();
    if let Err(e) = prometheus_client::encoding::text::encode(&mut out, registry) {
        tracing::warn!(error = %e, "cannot encode metrics");
    }
    out
}

/// Registers a gauge read now.
pub fn gauge(registry: &mut Registry, name: &str, help: &str, value: u64) {
    let g = Gauge::<i64>::default();
    g.set(value as i64);
    registry.register(name, help, g);
}

/// Registers a counter whose running total is kept elsewhere.
pub fn counter(registry: &mut Registry, name: &str, help: &str, value: u64) {
    let c = Counter::<u64>::default();
    c.inc_by(value);
    registry.register(name, help, c);
}

/// Registers a counter with one label, a sample per label value.
pub fn labelled_counter(
    registry: &mut Registry,
    name: &str,
    help: &str,
    label: &str,
    values: impl IntoIterator<Item = (String, u64)>,
) {
    let family = Family::<Vec<(String, String)>, Counter>::default();
    for (value, total) in values {
        family
            .get_or_create(&vec![(label.to_string(), value)])
            .inc_by(total);
    }
    registry.register(name, help, family);
}
