//! Hayate as users run it: separate `hayate coordinator` and `hayate worker`
//! processes on loopback ports, or one `hayate local` process (coordinator
//! and workers in one process). Workers may be pinned to cores with
//! `taskset`, so that a worker stands for a machine of its own.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use hayate_testkit::{SqlClient, spawn_announced, try_http_get};

use crate::process::{Meter, Proc};

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
        }
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
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn hayate(bin: &Path, pin_to: Option<usize>) -> Command {
    let mut cmd = match pin_to {
        Some(core) => {
            let mut c = Command::new("taskset");
            c.arg("-c").arg(core.to_string()).arg(bin);
            c
        }
        None => Command::new(bin),
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
                let mut cmd = hayate(bin, None);
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
                }
            }
            Layout::Processes { workers, pin } => {
                let mut cmd = hayate(bin, None);
                cmd.args(["coordinator", "--bind", "127.0.0.1", "--port", "0"])
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
                for i in 0..*workers {
                    let mut cmd = hayate(bin, pin.then(|| i % cores()));
                    cmd.args(["worker", "--coordinator", &address]).args([
                        "--bind",
                        "127.0.0.1",
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
