//! What this worker knows of each coordinator it serves: which coordinator
//! process answers at an address, whether it knows this worker, and whether
//! it has heard that this worker drains. One membership loop per
//! coordinator writes its link; readiness, metrics and the drain read them
//! all.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

/// The worker's links to its coordinators, by coordinator address. Cheap to
/// clone.
#[derive(Clone)]
pub struct CoordinatorLinks {
    links: Arc<watch::Sender<BTreeMap<String, Link>>>,
}

/// One coordinator, as its membership loop last heard from it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Link {
    /// The coordinator process that answered (empty before it has): the
    /// launches of its queries carry the same id.
    pub coordinator_id: String,
    /// It knows this worker: it may place tasks here.
    pub registered: bool,
    /// It has acknowledged that this worker drains, so it places no new
    /// query here.
    pub drain_known: bool,
}

impl Default for CoordinatorLinks {
    fn default() -> Self {
        Self {
            links: Arc::new(watch::Sender::new(BTreeMap::new())),
        }
    }
}

impl CoordinatorLinks {
    pub fn update(&self, address: &str, link: Link) {
        self.links.send_if_modified(|links| {
            let old = links.insert(address.to_string(), link.clone());
            old.as_ref() != Some(&link)
        });
    }

    /// The coordinator at `address` is no longer served.
    pub fn remove(&self, address: &str) {
        self.links
            .send_if_modified(|links| links.remove(address).is_some());
    }

    /// How many coordinators know this worker now.
    pub fn registered(&self) -> usize {
        self.links
            .borrow()
            .values()
            .filter(|l| l.registered)
            .count()
    }

    /// Waits until every coordinator that knows this worker has heard that
    /// it drains, or `timeout`; false on timeout.
    pub async fn wait_drain_known(&self, timeout: Duration) -> bool {
        let mut links = self.links.subscribe();
        let all_know =
            |links: &BTreeMap<String, Link>| links.values().all(|l| !l.registered || l.drain_known);
        tokio::time::timeout(timeout, links.wait_for(all_know))
            .await
            .is_ok_and(|r| r.is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_drain_is_known_once_every_coordinator_that_knows_the_worker_heard_it() {
        let links = CoordinatorLinks::default();
        let registered = |drain_known| Link {
            coordinator_id: "c".into(),
            registered: true,
            drain_known,
        };
        links.update("http://a", registered(false));
        links.update("http://b", registered(false));
        // A coordinator that does not know this worker places nothing here.
        links.update("http://c", Link::default());
        assert_eq!(links.registered(), 2);
        let short = Duration::from_millis(50);
        assert!(!links.wait_drain_known(short).await);
        links.update("http://a", registered(true));
        assert!(!links.wait_drain_known(short).await);
        let waiting = tokio::spawn({
            let links = links.clone();
            async move { links.wait_drain_known(Duration::from_secs(5)).await }
        });
        links.update("http://b", registered(true));
        assert!(waiting.await.unwrap());
        links.remove("http://b");
        assert_eq!(links.registered(), 1);
    }
}
