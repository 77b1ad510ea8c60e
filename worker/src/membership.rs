//! The worker's side of membership: register with the coordinator, then
//! heartbeat; register again whenever the coordinator no longer knows us
//! (it restarted, or forgot us after missed heartbeats). A coordinator that
//! stops answering, or no longer knows us, has lost the runs it gave us:
//! they are stopped here within a few heartbeats rather than left running.

use std::time::{Duration, Instant};

use hayate_protocol::WorkerAnnouncement;
use hayate_protocol::control::membership::membership_client::MembershipClient;
use hayate_protocol::transport::{InternalTransport, channel};
use tokio_util::sync::CancellationToken;

use crate::registry::TaskRegistry;

/// Keeps this worker known to the coordinator until `shutdown` fires.
pub async fn keep_membership(
    coordinator: String,
    transport: InternalTransport,
    worker_id: String,
    address: String,
    registry: TaskRegistry,
    shutdown: CancellationToken,
) {
    let channel = match channel(&coordinator, transport.tls.as_ref()) {
        Ok(channel) => channel,
        Err(e) => {
            tracing::error!(%coordinator, error = %e, "bad coordinator address: this worker cannot join");
            return;
        }
    };
    let mut client = MembershipClient::with_interceptor(channel, transport.secret.clone());
    let mut interval = Duration::from_secs(1);
    let mut last_answer = Instant::now();
    let mut registered = false;
    let cpus = crate::server::cpus() as u32;
    loop {
        let draining = registry.is_draining();
        let announcement = WorkerAnnouncement {
            worker_id: worker_id.clone(),
            address: address.clone(),
            running_tasks: registry.running_tasks() as u32,
            cpus,
            draining,
            tasks_launched: registry.launched_total(),
            tasks: registry.progress(),
            memory_used: registry.query_memory_in_use() as u64,
        };
        let answer = if registered {
            client.heartbeat(announcement).await
        } else {
            client.register(announcement).await
        };
        match answer.map(tonic::Response::into_inner) {
            Ok(ack) => {
                last_answer = Instant::now();
                if registered && !ack.known {
                    abandon_runs(&registry, "the coordinator no longer knows this worker");
                }
                if draining {
                    registry.draining_announced();
                }
                if !registered {
                    tracing::info!(%coordinator, %address, "registered with coordinator");
                }
                // A heartbeat the coordinator did not recognise means it
                // forgot us (restart, missed heartbeats): register again.
                registered = !registered || ack.known;
                if ack.heartbeat_interval_ms > 0 {
                    interval = Duration::from_millis(ack.heartbeat_interval_ms);
                }
            }
            Err(e) => {
                if registered {
                    tracing::warn!(%coordinator, error = %e.message(), "heartbeat failed");
                } else {
                    tracing::debug!(%coordinator, error = %e.message(), "coordinator not reachable yet");
                }
                registered = false;
                let silent = last_answer.elapsed();
                if silent > gone_after(interval) {
                    abandon_runs(
                        &registry,
                        &format!("the coordinator has not answered for {silent:.1?}"),
                    );
                }
            }
        }
        registry.set_registered(registered);
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(interval) => {}
            // Draining began: tell the coordinator now, not a heartbeat later.
            _ = registry.drain_begun(), if !draining => {}
        }
    }
}

/// How long a coordinator may leave heartbeats unanswered before its runs
/// here are given up: five heartbeats, as long as it takes the coordinator
/// to give up a silent worker (and run the query again without it).
fn gone_after(interval: Duration) -> Duration {
    (interval * 5).max(Duration::from_secs(1))
}

/// Stops every run held here, because their coordinator is gone (killed,
/// cut off, or restarted and no longer knows them): nobody will read their
/// output, and left alone they would hold CPU and memory until they
/// expire.
fn abandon_runs(registry: &TaskRegistry, why: &str) {
    let stopped = registry.cancel_all();
    if stopped > 0 {
        tracing::warn!(
            tasks = stopped,
            "stopped the tasks of a lost coordinator: {why}"
        );
    }
}
