//! Hayate as users run it: separate `hayate coordinator` and `hayate worker`
//! processes on loopback ports, or one `hayate local` process (coordinator
//! and workers in one process). Workers may be pinned to cores with
//! `taskset`, or run as the nodes of the scale model (a CPU quota each, and
//! a network namespace each), so that a worker stands for a machine of its
//! own.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hayate_testkit::{SqlClient, spawn_announced, try_http_get};

use crate::process::{Meter, Proc};
use crate::scale::cgroup::CpuGroup;
use crate::scale::network::{HOST_ADDRESS, node_address, node_namespace};

/// The cluster secret the benchmark's processes share (they listen on
/// loopback only); the exchange benchmark launches tasks with it.
pub const SECRET: &str = "hayate-bench-secret";

/// How a Hayate under test is laid out.
#[derive(Clone, Debug)]
pub enum Layout {
    /// A coordinator process and `workers` worker processes; with `pin`,
    /// worker `i` runs on core `i mod cores` only.
    Processes { workers: usize, pin: bool },
    /// `hayate local --workers N`: everything in one process.
    Local { workers: usize },
    /// The scale model: the coordinator and each worker in a CPU group of
    /// `cores` cores; with `network`, each worker in the namespace of model
    /// node `i` and the coordinator on the host's side of the model network.
    Model {
        workers: usize,
        cores: f64,
        network: bool,
    },
}

impl Layout {
    /// The name the reports use: `hayate-2w`, `hayate-2w-pinned`, `hayate-local`.
    pub fn name(&self) -> String {
        match self {
            Layout::Processes {
                workers,
                pin: false,
            } => format!("hayate-{workers}w"),
            Layout::Processes { workers, pin: true } => format!("hayate-{workers}w-pinned"),
            Layout::Local { .. } => "hayate-local".to_string(),
            Layout::Model { workers, .. } => format!("hayate-model-{workers}n"),
        }
    }

    fn workers(&self) -> usize {
        match self {
            Layout::Processes { workers, .. }
            | Layout::Local { workers }
            | Layout::Model { workers, .. } => *workers,
        }
    }

    /// The address the coordinator (`node` None) or worker `node` binds:
    /// loopback, or on the scale model's network.
    fn host(&self, node: Option<usize>) -> String {
        match (self, node) {
            (Layout::Model { network: true, .. }, Some(i)) => node_address(i),
            (Layout::Model { network: true, .. }, None) => HOST_ADDRESS.to_string(),
            _ => "127.0.0.1".to_string(),
        }
    }

    /// Where process `role` (the coordinator, or worker `node`) of the
    /// Hayate named `name` runs, and the CPU group that must outlive it.
    fn confine(
        &self,
        name: &str,
        role: &str,
        node: Option<usize>,
    ) -> anyhow::Result<(Confine, Option<Arc<CpuGroup>>)> {
        Ok(match (self, node) {
            (Layout::Processes { pin: true, .. }, Some(i)) => (Confine::Core(i % cores()), None),
            (Layout::Model { cores, network, .. }, _) => {
                let group = Arc::new(CpuGroup::new(&format!("{name}-{role}"), *cores)?);
                let confine = Confine::Node {
                    procs_file: group.procs_file(),
                    namespace: node.filter(|_| *network).map(node_namespace),
                };
                (confine, Some(group))
            }
            _ => (Confine::Free, None),
        })
    }
}

/// A running Hayate.
pub struct Hayate {
    pub layout: Layout,
    /// The engine's name in reports: the layout's, or `baseline-2w` for an
    /// earlier build run beside it.
    pub name: String,
    /// The coordinator's Flight SQL URL.
    pub address: String,
    /// The workers' Flight URLs (empty for `hayate local`).
    pub workers: Vec<String>,
    status: Option<String>,
    procs: Vec<Proc>,
    /// The scale model's CPU groups, removed after the processes in them
    /// have been killed (fields drop in order).
    _groups: Vec<Arc<CpuGroup>>,
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Where one process of a Hayate runs.
enum Confine {
    Free,
    /// On one core (`taskset`).
    Core(usize),
    /// In a CPU group, and in a network namespace if given. The process
    /// enters the group before it execs `hayate`, so that no thread of it
    /// ever runs outside the quota.
    Node {
        procs_file: PathBuf,
        namespace: Option<String>,
    },
}

fn hayate(bin: &Path, confine: Confine) -> Command {
    let mut cmd = match confine {
        Confine::Core(core) => {
            let mut c = Command::new("taskset");
            c.arg("-c").arg(core.to_string()).arg(bin);
            c
        }
        Confine::Free => Command::new(bin),
        Confine::Node {
            procs_file,
            namespace,
        } => {
            let mut c = Command::new("sh");
            c.args(["-c", r#"echo $$ > "$0" && exec "$@""#])
                .arg(procs_file);
            if let Some(ns) = namespace {
                c.args(["ip", "netns", "exec", &ns]);
            }
            c.arg(bin);
            c
        }
    };
    cmd.env("HAYATE_CLUSTER_SECRET", SECRET)
        .env(
            "HAYATE_LOG",
            std::env::var("HAYATE_BENCH_LOG").unwrap_or("warn".into()),
        )
        .stderr(std::process::Stdio::inherit());
    cmd
}

impl Hayate {
    /// Starts `layout` from binary `bin`; `coordinator_args` go to the
    /// coordinator (e.g. `--s3-endpoint`).
    pub async fn start(bin: &Path, layout: Layout) -> anyhow::Result<Self> {
        let name = layout.name();
        Self::start_named(bin, layout, name).await
    }

    /// Starts `layout` from binary `bin`, named `name` in reports.
    pub async fn start_named(bin: &Path, layout: Layout, name: String) -> anyhow::Result<Self> {
        let started = Instant::now();
        let hayate = match &layout {
            Layout::Local { workers } => {
                let mut cmd = hayate(bin, Confine::Free);
                cmd.args(["local", "--no-sample", "--serve", "--port", "0"])
                    .args(["--workers", &workers.to_string()]);
                let (child, urls) = spawn_announced(
                    &mut cmd,
                    &["coordinator listening"],
                    Duration::from_secs(60),
                )
                .map_err(anyhow::Error::msg)?;
                Self {
                    layout: layout.clone(),
                    name,
                    address: urls[0].clone(),
                    workers: Vec::new(),
                    status: None,
                    procs: vec![Proc {
                        child,
                        role: "local".into(),
                    }],
                    _groups: Vec::new(),
                }
            }
            Layout::Processes { .. } | Layout::Model { .. } => {
                let mut groups = Vec::new();
                let mut confine = |role: &str, node: Option<usize>| {
                    let (confine, group) = layout.confine(&name, role, node)?;
                    groups.extend(group);
                    anyhow::Ok(confine)
                };
                let mut cmd = hayate(bin, confine("coordinator", None)?);
                cmd.args(["coordinator", "--bind", &layout.host(None), "--port", "0"])
                    .args(["--status-port", "0"]);
                let (child, urls) = spawn_announced(
                    &mut cmd,
                    &["coordinator listening", "status"],
                    Duration::from_secs(60),
                )
                .map_err(anyhow::Error::msg)?;
                let mut procs = vec![Proc {
                    child,
                    role: "coordinator".into(),
                }];
                let (address, status) = (urls[0].clone(), urls[1].clone());
                let mut worker_urls = Vec::new();
                for i in 0..layout.workers() {
                    let mut cmd = hayate(bin, confine(&format!("node{i}"), Some(i))?);
                    cmd.args(["worker", "--coordinator", &address]).args([
                        "--bind",
                        &layout.host(Some(i)),
                        "--port",
                        "0",
                        "--status-port",
                        "0",
                    ]);
                    let (child, urls) =
                        spawn_announced(&mut cmd, &["worker listening"], Duration::from_secs(60))
                            .map_err(anyhow::Error::msg)?;
                    worker_urls.push(urls[0].clone());
                    procs.push(Proc {
                        child,
                        role: format!("worker {}", i + 1),
                    });
                }
                Self {
                    layout: layout.clone(),
                    name,
                    address,
                    workers: worker_urls,
                    status: Some(status),
                    procs,
                    _groups: groups,
                }
            }
        };
        hayate.wait_until_ready().await?;
        eprintln!(
            "started {} at {} in {:.1}s",
            hayate.name,
            hayate.address,
            started.elapsed().as_secs_f64()
        );
        Ok(hayate)
    }

    /// Waits until every worker has registered with the coordinator.
    async fn wait_until_ready(&self) -> anyhow::Result<()> {
        let Some(status) = &self.status else {
            return Ok(());
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some((200, page)) = try_http_get(&format!("{status}/metrics")).await {
                let live = hayate_testkit::metric(&page, "hayate_workers_live", "");
                if live as usize >= self.workers.len() {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                bail!("{}: workers did not register within 30 s", self.name);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A client with a session of its own, its tables created and its
    /// target partitions set like the other engines'.
    pub async fn client(&self, setup: &[String]) -> anyhow::Result<SqlClient> {
        let mut client = SqlClient::connect(&self.address)
            .await
            .map_err(anyhow::Error::msg)?;
        for sql in setup {
            client
                .update(sql)
                .await
                .map_err(anyhow::Error::msg)
                .with_context(|| format!("{}: {sql}", self.name))?;
        }
        Ok(client)
    }

    /// Every process of this Hayate, for CPU and memory readings.
    pub fn meter(&self) -> Meter {
        Meter::new(
            self.procs
                .iter()
                .map(|p| (p.role.clone(), p.pid()))
                .collect(),
        )
    }

    /// The coordinator's process alone.
    pub fn coordinator_meter(&self) -> Meter {
        Meter::new(
            self.procs
                .iter()
                .take(1)
                .map(|p| (p.role.clone(), p.pid()))
                .collect(),
        )
    }
}
