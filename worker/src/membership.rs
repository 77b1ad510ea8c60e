//! The worker's side of membership with one coordinator: register, then
//! heartbeat; register again whenever the coordinator no longer knows us
//! (it restarted, or forgot us after missed heartbeats). A coordinator that
//! stops answering, restarts, or no longer knows us has lost the runs it
//! gave us: they are stopped here within a few heartbeats rather than left
//! running. The runs of the worker's other coordinators go on.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hayate_protocol::WorkerAnnouncement;
use hayate_protocol::control::membership::membership_client::MembershipClient;
use hayate_protocol::transport::InternalTransport;
use tokio_util::sync::CancellationToken;

use crate::coordinator_links::Link;
use crate::coordinators::CoordinatorEndpoint;
use crate::lifecycle::Lifecycle;
use crate::registry::TaskRegistry;

/// Who this worker is, as it announces itself.
#[derive(Clone, Debug)]
pub struct WorkerIdentity {
    pub worker_id: String,
    /// Where other processes reach it.
    pub address: String,
}

/// Keeps this worker known to the coordinator at `endpoint` until `stop`
/// fires, or until the coordinator has left the worker's list (`listed`
/// cleared) and stops answering.
pub async fn keep_membership(
    endpoint: CoordinatorEndpoint,
    transport: InternalTransport,
    me: WorkerIdentity,
    registry: TaskRegistry,
    lifecycle: Lifecycle,
    listed: Arc<AtomicBool>,
    stop: CancellationToken,
) {
    let coordinator = endpoint.address.clone();
    let channel = match endpoint.channel(transport.tls.as_ref()) {
        Ok(channel) => channel,
        Err(e) => {
            tracing::error!(%coordinator, error = %e, "bad coordinator address: this worker cannot join it");
            return;
        }
    };
    let mut client = MembershipClient::with_interceptor(channel, transport.secret.clone());
    let mut interval = Duration::from_secs(1);
    let mut last_answer = Instant::now();
    let mut link = Link::default();
    let cpus = crate::server::cpus() as u32;
    loop {
        let draining = lifecycle.is_draining();
        let announcement = WorkerAnnouncement {
            worker_id: me.worker_id.clone(),
            address: me.address.clone(),
            running_tasks: registry.running_tasks() as u32,
            cpus,
            draining,
            tasks_launched: registry.launched_total(),
            tasks: registry.progress_of(&link.coordinator_id),
            memory_used: registry.query_memory_in_use() as u64,
        };
        let answer = if link.registered {
            client.heartbeat(announcement).await
        } else {
            client.register(announcement).await
        };
        match answer.map(tonic::Response::into_inner) {
            Ok(ack) => {
                last_answer = Instant::now();
                if !link.coordinator_id.is_empty() && ack.coordinator_id != link.coordinator_id {
                    abandon_runs(&registry, &link.coordinator_id, "the coordinator restarted");
                } else if link.registered && !ack.known {
                    abandon_runs(
                        &registry,
                        &link.coordinator_id,
                        "the coordinator no longer knows this worker",
                    );
                }
                if !link.registered {
                    tracing::info!(%coordinator, address = %me.address, "registered with coordinator");
                }
                // A heartbeat the coordinator did not recognise means it
                // forgot us (restart, missed heartbeats): register again.
                link = Link {
                    registered: !link.registered || ack.known,
                    coordinator_id: ack.coordinator_id,
                    drain_known: draining,
                };
                if ack.heartbeat_interval_ms > 0 {
                    interval = Duration::from_millis(ack.heartbeat_interval_ms);
                }
            }
            Err(e) => {
                if link.registered {
                    tracing::warn!(%coordinator, error = %e.message(), "heartbeat failed");
                } else {
                    tracing::debug!(%coordinator, error = %e.message(), "coordinator not reachable yet");
                }
                link.registered = false;
                let silent = last_answer.elapsed();
                let gone = silent > gone_after(interval);
                if gone {
                    abandon_runs(
                        &registry,
                        &link.coordinator_id,
                        &format!("the coordinator has not answered for {silent:.1?}"),
                    );
                }
                if !listed.load(Ordering::Relaxed) && (gone || link.coordinator_id.is_empty()) {
                    // Gone from the list and no longer answering: it was
                    // replaced or removed.
                    tracing::info!(%coordinator, "left a coordinator that is no longer listed");
                    lifecycle.links.remove(&coordinator);
                    return;
                }
            }
        }
        lifecycle.links.update(&coordinator, link.clone());
        tokio::select! {
            _ = stop.cancelled() => {
                lifecycle.links.remove(&coordinator);
                return;
            }
            _ = tokio::time::sleep(interval) => {}
            // Draining began: tell the coordinator now, not a heartbeat later.
            _ = lifecycle.drain_begun(), if !draining => {}
        }
    }
}

/// How long a coordinator may leave heartbeats unanswered before its runs
/// here are given up: five heartbeats, as long as it takes the coordinator
/// to give up a silent worker (and run the query again without it).
fn gone_after(interval: Duration) -> Duration {
    (interval * 5).max(Duration::from_secs(1))
}

/// Stops every run of the coordinator `coordinator_id` held here, because
/// that coordinator is gone (killed, cut off, or restarted and no longer
/// knows them): nobody will read their output, and left alone they would
/// hold CPU and memory until they expire.
fn abandon_runs(registry: &TaskRegistry, coordinator_id: &str, why: &str) {
    if coordinator_id.is_empty() {
        return;
    }
    let stopped = registry.cancel_runs_of(coordinator_id);
    if stopped > 0 {
        tracing::warn!(
            tasks = stopped,
            %coordinator_id,
            "stopped the tasks of a lost coordinator: {why}"
        );
    }
}
