//! The membership service workers call: register, then heartbeat. Each
//! heartbeat also carries the worker's task reports, the coordinator's live
//! view of what its queries are doing.

use std::sync::Arc;

use hayate_protocol::cluster_secret::InternalCaller;
use hayate_protocol::control::membership::membership_server::Membership as MembershipCalls;
use hayate_protocol::{MembershipAck, WorkerAnnouncement};
use tonic::{Request, Response, Status};

use crate::membership::Membership;
use crate::registry::QueryRegistry;

pub struct MembershipService {
    membership: Arc<Membership>,
    queries: Arc<QueryRegistry>,
    /// Whether announcements must carry the cluster secret.
    secret_required: bool,
}

impl MembershipService {
    pub fn new(
        membership: Arc<Membership>,
        queries: Arc<QueryRegistry>,
        secret_required: bool,
    ) -> Self {
        Self {
            membership,
            queries,
            secret_required,
        }
    }

    /// The announcement, once it is known to come from a worker of this
    /// cluster and to say who and where the worker is.
    fn checked(&self, request: Request<WorkerAnnouncement>) -> Result<WorkerAnnouncement, Status> {
        let internal = request.extensions().get::<InternalCaller>().is_some();
        if self.secret_required && !internal {
            return Err(Status::permission_denied(
                "worker announcements need the cluster secret",
            ));
        }
        let w = request.into_inner();
        // A worker must say who it is and where it is reached; anything
        // else would be placed tasks it can never run.
        let reachable = w.address.parse::<tonic::transport::Uri>().is_ok_and(|uri| {
            matches!(uri.scheme_str(), Some("http" | "https")) && uri.authority().is_some()
        });
        if w.worker_id.is_empty() || !reachable {
            return Err(Status::invalid_argument(format!(
                "worker announcement needs an id and an http(s)://host:port address, got id {:?} address {:?}",
                w.worker_id, w.address
            )));
        }
        Ok(w)
    }

    fn ack(&self, worker: WorkerAnnouncement, known: bool) -> Response<MembershipAck> {
        self.queries.heartbeat(&worker.address, worker.tasks);
        Response::new(MembershipAck {
            heartbeat_interval_ms: self.membership.heartbeat_interval.as_millis() as u64,
            known,
            coordinator_id: self.membership.coordinator_id.clone(),
        })
    }
}

#[tonic::async_trait]
impl MembershipCalls for MembershipService {
    async fn register(
        &self,
        request: Request<WorkerAnnouncement>,
    ) -> Result<Response<MembershipAck>, Status> {
        let worker = self.checked(request)?;
        self.membership.register(&worker);
        Ok(self.ack(worker, true))
    }

    /// `known` is false when this coordinator does not know the worker (it
    /// restarted, or forgot the worker after missed heartbeats): the worker
    /// registers again.
    async fn heartbeat(
        &self,
        request: Request<WorkerAnnouncement>,
    ) -> Result<Response<MembershipAck>, Status> {
        let worker = self.checked(request)?;
        let known = self.membership.heartbeat(&worker);
        Ok(self.ack(worker, known))
    }
}
