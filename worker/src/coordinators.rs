//! Finding the coordinators a worker serves. The worker is given a list of
//! coordinator URLs; a host name in it may stand for several coordinators
//! (a Kubernetes headless Service resolves to every coordinator pod), so
//! names are resolved again every few seconds and the worker keeps one
//! membership per address: a coordinator added later is joined, and one
//! that left is let go once it stops answering.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use hayate_protocol::transport::{InternalTransport, channel};
use tokio_util::sync::CancellationToken;
use tonic::transport::ClientTlsConfig;

use crate::lifecycle::Lifecycle;
use crate::membership::{WorkerIdentity, keep_membership};
use crate::registry::TaskRegistry;

/// How often coordinator names are resolved again.
const RESOLVE_EVERY: Duration = Duration::from_secs(3);

/// The coordinator URLs a worker was given (`--coordinator`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoordinatorTargets {
    urls: Vec<url::Url>,
}

/// One coordinator's address, with the name its TLS certificate is checked
/// against when the address was resolved from a name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct CoordinatorEndpoint {
    /// `http(s)://ip:port` or the URL as given.
    pub address: String,
    tls_name: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("coordinator address {given:?}: {why}")]
pub struct BadCoordinator {
    given: String,
    why: String,
}

impl CoordinatorTargets {
    /// Parses URLs such as `http://coordinator:50051`; each may be a
    /// comma-separated list.
    pub fn parse<S: AsRef<str>>(given: &[S]) -> Result<Self, BadCoordinator> {
        let mut urls = Vec::new();
        for item in given.iter().flat_map(|g| g.as_ref().split(',')) {
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            let bad = |why: &str| BadCoordinator {
                given: item.to_string(),
                why: why.to_string(),
            };
            let url = url::Url::parse(item).map_err(|e| bad(&e.to_string()))?;
            if !matches!(url.scheme(), "http" | "https") {
                return Err(bad("expected http://host:port or https://host:port"));
            }
            if url.host_str().is_none() || url.port_or_known_default().is_none() {
                return Err(bad("expected a host and a port"));
            }
            urls.push(url);
        }
        Ok(Self { urls })
    }

    pub fn is_empty(&self) -> bool {
        self.urls.is_empty()
    }

    /// The first coordinator URL, for finding the local address that routes
    /// to the coordinators.
    pub fn first(&self) -> Option<&url::Url> {
        self.urls.first()
    }

    /// Every coordinator address now. A name that does not resolve is left
    /// out (it is tried again at the next resolution); an IP address is
    /// taken as it is.
    async fn resolve(&self) -> Vec<CoordinatorEndpoint> {
        let mut endpoints = Vec::new();
        for url in &self.urls {
            let (Some(host), Some(port)) = (url.host(), url.port_or_known_default()) else {
                continue;
            };
            let name = match host {
                url::Host::Domain(name) => name.to_string(),
                url::Host::Ipv4(_) | url::Host::Ipv6(_) => {
                    endpoints.push(CoordinatorEndpoint {
                        address: url.as_str().trim_end_matches('/').to_string(),
                        tls_name: None,
                    });
                    continue;
                }
            };
            match tokio::net::lookup_host((name.as_str(), port)).await {
                Ok(addresses) => {
                    for socket in addresses {
                        endpoints.push(CoordinatorEndpoint {
                            address: format!("{}://{socket}", url.scheme()),
                            tls_name: Some(name.clone()),
                        });
                    }
                }
                Err(e) => {
                    tracing::debug!(%name, error = %e, "coordinator name does not resolve yet")
                }
            }
        }
        endpoints.sort();
        endpoints.dedup();
        endpoints
    }
}

impl CoordinatorEndpoint {
    /// A channel to this coordinator; over TLS its certificate is checked
    /// against the name the address was resolved from.
    pub fn channel(
        &self,
        tls: Option<&ClientTlsConfig>,
    ) -> Result<tonic::transport::Channel, tonic::transport::Error> {
        let named = match (&self.tls_name, self.address.starts_with("https://")) {
            (Some(name), true) => Some(
                tls.cloned()
                    .unwrap_or_else(|| ClientTlsConfig::new().with_webpki_roots())
                    .domain_name(name.clone()),
            ),
            _ => None,
        };
        channel(&self.address, named.as_ref().or(tls))
    }
}

/// Keeps this worker a member of every coordinator `targets` resolves to,
/// until `shutdown` fires.
pub async fn serve_coordinators(
    targets: CoordinatorTargets,
    transport: InternalTransport,
    me: WorkerIdentity,
    registry: TaskRegistry,
    lifecycle: Lifecycle,
    shutdown: CancellationToken,
) {
    // Each membership's `listed` flag: cleared while its address is missing
    // from the latest resolution.
    let mut members: BTreeMap<CoordinatorEndpoint, (Arc<AtomicBool>, tokio::task::JoinHandle<()>)> =
        BTreeMap::new();
    loop {
        let endpoints = targets.resolve().await;
        // A name that resolves to nothing for a moment (DNS hiccup, every
        // coordinator restarting) keeps the memberships it had.
        if !endpoints.is_empty() {
            members.retain(|_, (_, member)| !member.is_finished());
            for (endpoint, (listed, _)) in &members {
                listed.store(endpoints.contains(endpoint), Ordering::Relaxed);
            }
            for endpoint in endpoints {
                if members.contains_key(&endpoint) {
                    continue;
                }
                let listed = Arc::new(AtomicBool::new(true));
                let member = tokio::spawn(keep_membership(
                    endpoint.clone(),
                    transport.clone(),
                    me.clone(),
                    registry.clone(),
                    lifecycle.clone(),
                    Arc::clone(&listed),
                    shutdown.child_token(),
                ));
                members.insert(endpoint, (listed, member));
            }
        }
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(RESOLVE_EVERY) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_of_coordinators_is_parsed_and_a_bad_one_is_named() {
        let targets =
            CoordinatorTargets::parse(&["http://a:50051, http://10.0.0.2:50051", "https://b:1"])
                .unwrap();
        assert_eq!(targets.urls.len(), 3);
        let err = CoordinatorTargets::parse(&["http://a:1,ftp://b:2"]).unwrap_err();
        assert!(err.to_string().contains("ftp://b:2"), "{err}");
        assert!(CoordinatorTargets::parse(&["a:1"]).is_err());
    }

    #[tokio::test]
    async fn a_name_stands_for_every_address_it_resolves_to_and_an_ip_for_itself() {
        let targets =
            CoordinatorTargets::parse(&["http://localhost:50051,http://127.0.0.2:7"]).unwrap();
        let endpoints = targets.resolve().await;
        let addresses: Vec<&str> = endpoints.iter().map(|e| e.address.as_str()).collect();
        assert!(
            addresses.contains(&"http://127.0.0.1:50051"),
            "{addresses:?}"
        );
        assert!(addresses.contains(&"http://127.0.0.2:7"), "{addresses:?}");
        let named = endpoints
            .iter()
            .find(|e| e.address == "http://127.0.0.1:50051");
        assert_eq!(named.unwrap().tls_name.as_deref(), Some("localhost"));
    }
}
