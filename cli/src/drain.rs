//! `hayate drain`: the Kubernetes preStop hook of a worker pod. It asks the
//! worker (over its Flight port, with the cluster secret) to take no new
//! tasks and answers once the running ones have finished, so the SIGTERM
//! that follows stops an idle worker.

use arrow_flight::Action;
use futures::TryStreamExt;
use hayate_protocol::ClusterSecret;
use hayate_protocol::actions;
use hayate_protocol::transport::channel;
use hayate_worker::flight_client;
use tonic::transport::ClientTlsConfig;

/// Drains the worker at `worker`; returns how many tasks were still
/// running when the grace period ended.
pub async fn drain_worker(
    worker: &str,
    secret: &ClusterSecret,
    tls: Option<&ClientTlsConfig>,
    grace_secs: u64,
) -> anyhow::Result<u64> {
    let mut client = flight_client(channel(worker, tls)?, secret);
    let action = Action {
        r#type: actions::DRAIN.to_string(),
        body: grace_secs.to_string().into_bytes().into(),
    };
    let answer = client
        .do_action(action)
        .await
        .map_err(|s| anyhow::anyhow!("cannot drain {worker}: {}", s.message()))?
        .into_inner()
        .try_next()
        .await
        .map_err(|s| anyhow::anyhow!("cannot drain {worker}: {}", s.message()))?
        .ok_or_else(|| anyhow::anyhow!("{worker} gave no answer to drain"))?;
    Ok(std::str::from_utf8(&answer.body)?.trim().parse()?)
}
