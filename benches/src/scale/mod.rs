//! The scale model: does a query get faster when machines are added?
//!
//! This machine has two cores, where N workers can at best tie one
//! process. The model makes N small machines out of it instead: every
//! worker (a model node) runs in a CPU group of its own limited to `cores`
//! cores (0.2 by default), optionally in a network namespace of its own
//! whose link to the others is shaped by `tc`, and the coordinator gets a
//! group of its own too. Eight nodes of 0.2 cores then fit the two cores
//! with room for the coordinator and this process, so adding a node adds
//! compute that nothing else competes for, as adding a machine does.
//!
//! It is a model, not a cluster: the nodes share one memory bus, one page
//! cache and one kernel, and the quota is enforced per 100 ms period, so a
//! short burst can run at full speed. What it shows is how Hayate's work
//! divides over nodes: speedup T(1)/T(N), efficiency speedup/N,
//! CPU-seconds against one node (the overhead of distribution), exchange
//! bytes, and the busiest node's share of the work (skew).
//!
//! Baselines in the same run: single-node DataFusion with one node's quota,
//! and with all the largest model's cores.

pub mod cgroup;
pub mod network;
mod summary;

pub use summary::{ScalePoint, ScaleSummary, summarize};

use std::path::Path;
use std::sync::Arc;

use crate::cluster::{Hayate, Layout};
use crate::engine::{DataFusion, Engine};
use cgroup::CpuGroup;
use network::{AppliedShape, LinkShape, ModelNetwork};

/// What the model is made of.
#[derive(Debug, Clone)]
pub struct ModelSpec {
    /// The node counts to measure, e.g. 1, 2, 4, 8.
    pub nodes: Vec<usize>,
    /// Cores of CPU time each node (and the coordinator) gets.
    pub cores: f64,
    /// Each node in a network namespace with its link shaped so; `None`
    /// runs every process on the host's loopback.
    pub link: Option<LinkShape>,
}

/// The running model: its network, and a Hayate of each size.
pub struct ScaleModel {
    pub spec: ModelSpec,
    pub clusters: Vec<Arc<Hayate>>,
    /// The CPU groups of the DataFusion baselines.
    groups: Vec<Arc<CpuGroup>>,
    /// Removed after the clusters (fields drop in order).
    network: Option<ModelNetwork>,
}

impl ScaleModel {
    /// Builds the network and starts a Hayate of every size in `spec`. They
    /// all stay up, idle but for heartbeats, while one at a time is
    /// measured.
    pub async fn start(bin: &Path, spec: ModelSpec) -> anyhow::Result<Self> {
        let largest = spec.nodes.iter().copied().max().unwrap_or(1);
        let network = spec
            .link
            .map(|link| ModelNetwork::create(largest, link))
            .transpose()?;
        if let Some(net) = &network
            && !net.applied.delay_applied
        {
            eprintln!(
                "scale model: this kernel has no sch_netem, so links are rate-shaped \
                 ({}) without added delay",
                net.applied.qdisc
            );
        }
        let mut clusters = Vec::new();
        for &workers in &spec.nodes {
            let layout = Layout::Model {
                workers,
                cores: spec.cores,
                network: spec.link.is_some(),
            };
            clusters.push(Arc::new(Hayate::start(bin, layout).await?));
        }
        let groups = vec![
            Arc::new(CpuGroup::new("datafusion-1n", spec.cores)?),
            Arc::new(CpuGroup::new(
                &format!("datafusion-{largest}n"),
                spec.cores * largest as f64,
            )?),
        ];
        Ok(Self {
            spec,
            clusters,
            groups,
            network,
        })
    }

    /// How the links were shaped, if there is a network.
    pub fn link(&self) -> Option<AppliedShape> {
        self.network.as_ref().map(|n| n.applied.clone())
    }

    /// The engines of the model: the reference (DataFusion with the whole
    /// machine) first, then DataFusion confined to one node and to the
    /// largest model's cores, then Hayate at each size.
    pub async fn engines(&self, settings: &[String]) -> anyhow::Result<Vec<Engine>> {
        let mut engines = vec![Engine::DataFusion(
            DataFusion::new(settings, &[], &[]).await?,
        )];
        for group in &self.groups {
            engines.push(Engine::DataFusion(
                DataFusion::new(settings, &[], &[])
                    .await?
                    .confined(Arc::clone(group)),
            ));
        }
        for hayate in &self.clusters {
            engines.push(Engine::Hayate {
                hayate: Arc::clone(hayate),
                client: hayate.client(settings).await?,
            });
        }
        Ok(engines)
    }
}

/// Runs every workload on the model (Hayate at each size and the
/// DataFusion baselines, interleaved query by query, so only one engine
/// works at a time) and sums each up.
pub async fn measure(
    bin: &Path,
    spec: ModelSpec,
    workloads: &[crate::workload::Workload],
    settings: &[String],
    (warmups, runs): (usize, usize),
    mut on_result: impl FnMut(crate::suite::WorkloadResult, Option<ScaleSummary>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let model = ScaleModel::start(bin, spec).await?;
    let link = match model.link() {
        Some(a) if a.delay_applied => format!(
            "{} Mbit/s and {} ms each way ({})",
            a.shape.rate_mbit, a.shape.delay_ms, a.qdisc
        ),
        Some(a) => format!(
            "{} Mbit/s each way ({}; no delay: the kernel has no sch_netem)",
            a.shape.rate_mbit, a.qdisc
        ),
        None => "none (loopback)".into(),
    };
    let mut engines = model.engines(settings).await?;
    for workload in workloads {
        let result =
            crate::suite::run_workload(workload, &mut engines, settings, warmups, runs).await?;
        let summary = summarize(&result, &model.spec.nodes, model.spec.cores, link.clone());
        on_result(result, summary)?;
    }
    Ok(())
}
