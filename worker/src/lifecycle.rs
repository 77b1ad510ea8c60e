//! A worker's life, apart from the tasks it holds: the coordinators it has
//! joined ([`CoordinatorLinks`]) and its drain, from taking tasks, through
//! telling every coordinator it drains, to refusing new queries once they
//! all know, to waiting for its running tasks before it exits.

use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::watch;

use crate::coordinator_links::CoordinatorLinks;
use crate::registry::TaskRegistry;

/// How long launches a coordinator sent before it heard of a drain may
/// take to arrive (a launch round is one concurrent set of calls).
const LAUNCHES_IN_FLIGHT: Duration = Duration::from_millis(500);

/// Where the worker is in its life. Cheap to clone.
#[derive(Clone, Default)]
pub struct Lifecycle {
    /// When the worker began draining, if it has.
    drain_started: Arc<OnceLock<Instant>>,
    /// Set when draining begins: wakes every membership loop, so each
    /// coordinator hears of it at once.
    drain_begun: Arc<watch::Sender<bool>>,
    /// Set once launches of new queries are refused (after every
    /// coordinator has heard of the drain and launches already on their way
    /// arrived).
    refusing: Arc<AtomicBool>,
    /// The coordinators this worker serves.
    pub links: CoordinatorLinks,
}

impl Lifecycle {
    pub fn is_draining(&self) -> bool {
        self.drain_started.get().is_some()
    }

    /// Resolves once draining has begun (for the membership loops).
    pub async fn drain_begun(&self) {
        let _ = self.drain_begun.subscribe().wait_for(|begun| *begun).await;
    }

    /// Whether a task of a query this worker is not already part of is
    /// refused (the coordinator then places it elsewhere).
    pub fn refuses_new_queries(&self) -> bool {
        self.refusing.load(Ordering::Relaxed)
    }

    /// Starts draining; returns when draining began (the first call), so
    /// a SIGTERM after a preStop drain keeps its deadline.
    fn start_draining(&self) -> Instant {
        let mut first = false;
        let started = *self.drain_started.get_or_init(|| {
            first = true;
            Instant::now()
        });
        if first {
            self.drain_begun.send_replace(true);
        }
        started
    }

    /// Stops taking tasks and waits until none of `registry`'s runs, or
    /// until `grace` after draining began (a second call, SIGTERM after a
    /// preStop drain, waits no longer than the first).
    pub async fn drain(&self, registry: &TaskRegistry, grace: Duration) {
        let started = self.start_draining();
        tracing::info!(running = registry.running_tasks(), "draining");
        // Every coordinator hears of the drain first, and picks this worker
        // for no new query from then on; launches they sent just before are
        // still taken (and finished), so a drain makes no query run twice.
        // Only then are new queries refused, and the worker can never exit
        // under a task placed on it.
        if self.links.registered() > 0 {
            if self.links.wait_drain_known(Duration::from_secs(3)).await {
                tokio::time::sleep(LAUNCHES_IN_FLIGHT).await;
            } else {
                tracing::warn!("not every coordinator acknowledged the drain");
            }
        }
        self.refusing.store(true, Ordering::Relaxed);
        while registry.running_tasks() > 0 && started.elapsed() < grace {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        tracing::info!(
            left = registry.running_tasks(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            "drained"
        );
    }
}
