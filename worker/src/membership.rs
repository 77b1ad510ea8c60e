//! The worker's side of membership: register with the coordinator, then
//! heartbeat; register again whenever the coordinator no longer knows us
//! (it restarted, or forgot us after missed heartbeats).

use std::time::Duration;

use arrow_flight::Action;
use futures::TryStreamExt;
use hayate_protocol::transport::{InternalTransport, channel};
use hayate_protocol::{MembershipAck, WorkerAnnouncement, actions};
use prost::Message;
use tokio_util::sync::CancellationToken;

use crate::exchange_client::flight_client;
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
    let mut interval = Duration::from_secs(1);
    let mut registered = false;
    let cpus = crate::server::cpus() as u32;
    loop {
        let announcement = WorkerAnnouncement {
            worker_id: worker_id.clone(),
            address: address.clone(),
            running_tasks: registry.running_tasks() as u32,
            cpus,
            draining: registry.is_draining(),
            tasks_launched: registry.launched_total(),
            tasks: registry.progress(),
            memory_used: registry.query_memory_in_use() as u64,
        };
        let action = if registered {
            actions::HEARTBEAT
        } else {
            actions::REGISTER
        };
        match call(&coordinator, &transport, action, &announcement).await {
            Ok(ack) => {
                if announcement.draining {
                    registry.draining_announced();
                }
                if !registered {
                    tracing::info!(%coordinator, %address, "registered with coordinator");
                }
                // A heartbeat the coordinator did not recognise means it
                // forgot us (restart, missed heartbeats): register again.
                registered = action == actions::REGISTER || ack.known;
                if ack.heartbeat_interval_ms > 0 {
                    interval = Duration::from_millis(ack.heartbeat_interval_ms);
                }
            }
            Err(e) => {
                if registered {
                    tracing::warn!(%coordinator, error = %e, "heartbeat failed");
                } else {
                    tracing::debug!(%coordinator, error = %e, "coordinator not reachable yet");
                }
                registered = false;
            }
        }
        registry.set_registered(registered);
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(interval) => {}
            // Draining began: tell the coordinator now, not a heartbeat later.
            _ = registry.drain_begun(), if !announcement.draining => {}
        }
    }
}

async fn call(
    coordinator: &str,
    transport: &InternalTransport,
    action: &str,
    body: &WorkerAnnouncement,
) -> Result<MembershipAck, String> {
    let channel = channel(coordinator, transport.tls.as_ref()).map_err(|e| e.to_string())?;
    let mut client = flight_client(channel, &transport.secret);
    let request = Action {
        r#type: action.to_string(),
        body: body.encode_to_vec().into(),
    };
    let mut stream = client
        .do_action(request)
        .await
        .map_err(|s| s.message().to_string())?
        .into_inner();
    let result = stream
        .try_next()
        .await
        .map_err(|s| s.message().to_string())?
        .ok_or("empty answer from coordinator")?;
    MembershipAck::decode(result.body.as_ref()).map_err(|e| e.to_string())
}
