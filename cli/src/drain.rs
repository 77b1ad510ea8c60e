//! `hayate drain`: the Kubernetes preStop hook of a worker pod. It asks the
//! worker (on its control service, with the cluster secret) to take no new
//! tasks and answers once the running ones have finished, so the SIGTERM
//! that follows stops an idle worker.

use hayate_protocol::control::worker_control::worker_control_client::WorkerControlClient;
use hayate_protocol::transport::channel;
use hayate_protocol::{ClusterSecret, Drain};
use tonic::transport::ClientTlsConfig;

/// Drains the worker at `worker`; returns how many tasks were still
/// running when the grace period ended.
pub async fn drain_worker(
    worker: &str,
    secret: &ClusterSecret,
    tls: Option<&ClientTlsConfig>,
    grace_secs: u64,
) -> anyhow::Result<u64> {
    let mut client = WorkerControlClient::with_interceptor(channel(worker, tls)?, secret.clone());
    let drained = client
        .drain(Drain { grace_secs })
        .await
        .map_err(|s| anyhow::anyhow!("cannot drain {worker}: {}", s.message()))?
        .into_inner();
    Ok(drained.running_tasks.into())
}
