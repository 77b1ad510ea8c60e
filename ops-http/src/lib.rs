//! The HTTP endpoint of every Hayate process, for orchestrators and
//! monitoring rather than for queries: `/healthz` (the process answers:
//! restart it if not), `/readyz` (it should get work now: a draining or
//! unregistered worker says no) and `/metrics` (Prometheus text format).
//! It is plain HTTP on its own port so probes and scrapers need neither
//! Flight nor the cluster secret; it exposes no data and takes no commands.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use prometheus_client;

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
    let listener = TcpListener::bind(bind).await?;
    let address = listener.local_addr()?;
    let app = Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(source);
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
pub fn encode(registry: &prometheus_client::registry::Registry) -> String {
    let mut out = String::new();
    if let Err(e) = prometheus_client::encoding::text::encode(&mut out, registry) {
        tracing::warn!(error = %e, "cannot encode metrics");
    }
    out
}
