//! Real `hayate` processes on loopback ports: a coordinator and workers,
//! started and killed as a test needs.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::processes::{HAYATE, sql, text};

/// A child process killed when the test ends, however it ends.
pub(crate) struct Process(pub(crate) Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Process {
    /// Asks the process to stop, as a container runtime or kubelet does.
    pub(crate) fn sigterm(&self) {
        let sent = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(sent.success());
    }
}

pub(crate) use hayate_testkit::free_port;

/// Starts `cmd` (a `hayate coordinator` or `hayate worker` given
/// `--port 0 --status-port 0`) and returns it once it has said where it
/// listens: the process, its address and its status URL.
pub(crate) fn start_server(cmd: &mut Command, role: &str) -> (Process, String, String) {
    let listening = format!("{role} listening");
    let (child, urls) =
        hayate_testkit::spawn_announced(cmd, &[&listening, "status"], Duration::from_secs(60))
            .unwrap_or_else(|e| panic!("{e}"));
    let [address, status] = <[String; 2]>::try_from(urls).expect("two URLs");
    (Process(child), address, status)
}

/// `hayate coordinator` on loopback ports the system picks, with `extra`
/// flags; returns it with its Flight SQL URL.
pub(crate) fn start_coordinator(cmd: &mut Command, extra: &[&str]) -> (Process, String) {
    cmd.args(["coordinator", "--bind", "127.0.0.1", "--port", "0"])
        .args(["--status-port", "0"])
        .args(extra);
    let (process, url, _) = start_server(cmd, "coordinator");
    (process, url)
}

pub(crate) fn tpch_dir() -> &'static str {
    static DIR: OnceLock<String> = OnceLock::new();
    DIR.get_or_init(|| {
        hayate_tpch::generate_dir(&PathBuf::from(env!("CARGO_TARGET_TMPDIR")), 0.01).unwrap()
    })
}

/// A coordinator and `workers` worker processes; returns once a query that
/// needs every worker's registration has been answered.
pub(crate) struct ProcessCluster {
    pub(crate) url: String,
    pub(crate) coordinator: Process,
    pub(crate) workers: Vec<Process>,
    /// The coordinator's log, shown when the cluster does not start.
    logs: tempfile::TempDir,
    /// Set for every process of the cluster.
    env: Vec<(String, String)>,
}

impl ProcessCluster {
    pub(crate) fn start(workers: usize) -> Self {
        Self::start_with_env(workers, &[])
    }

    /// As [`Self::start`], with `env` set for the coordinator and every
    /// worker.
    pub(crate) fn start_with_env(workers: usize, env: &[(&str, &str)]) -> Self {
        let logs = tempfile::tempdir().expect("log dir");
        let log = std::fs::File::create(logs.path().join("coordinator.log")).expect("log file");
        let mut command = Command::new(HAYATE);
        command.stderr(log).envs(env.iter().copied());
        let (coordinator, url) = start_coordinator(
            &mut command,
            &["--heartbeat-ms", "200", "--worker-timeout-ms", "2000"],
        );
        let workers = (0..workers)
            .map(|_| spawn_worker(&url, &[], None, env).0)
            .collect();
        let cluster = Self {
            url,
            coordinator,
            workers,
            logs,
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        };
        // Ready when a distributed query over every worker answers.
        let ddl = format!(
            "CREATE EXTERNAL TABLE IF NOT EXISTS nation STORED AS PARQUET LOCATION '{}/nation/'",
            tpch_dir()
        );
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let out = sql(
                &cluster.url,
                &[&ddl, "SELECT count(*) FROM nation WHERE n_nationkey >= 0"],
            );
            if out.status.success() && text(&out).contains("25") {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "cluster never became ready: {}\ncoordinator log:\n{}",
                text(&out),
                cluster.coordinator_log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        // Give every worker time to register.
        std::thread::sleep(Duration::from_millis(600));
        cluster
    }

    /// Starts one more worker (with extra flags); returns its address and
    /// status URL once it listens. It registers within a heartbeat.
    pub(crate) fn add_worker(&mut self, extra: &[&str]) -> (String, String) {
        let (process, address, status) = spawn_worker(&self.url, extra, None, &self.env());
        self.workers.push(process);
        (address, status)
    }

    /// Everything the coordinator logged so far.
    pub(crate) fn coordinator_log_text(&self) -> String {
        std::fs::read_to_string(self.logs.path().join("coordinator.log")).unwrap_or_default()
    }

    /// Stops the coordinator as its orchestrator would (SIGTERM) and waits
    /// for it to exit.
    pub(crate) fn stop_coordinator(&mut self) {
        self.coordinator.sigterm();
        let _ = self.coordinator.0.wait();
    }

    /// The last lines the coordinator logged.
    fn coordinator_log(&self) -> String {
        let log =
            std::fs::read_to_string(self.logs.path().join("coordinator.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Starts one more worker whose debug log goes to `log`.
    pub(crate) fn add_logging_worker(&mut self, log: &Path) {
        let env = self.env();
        self.workers
            .push(spawn_worker(&self.url, &[], Some(log), &env).0);
    }

    fn env(&self) -> Vec<(&str, &str)> {
        self.env
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect()
    }
}

/// A worker on ports the system picks (unless `extra` gives `--port`), with
/// `extra` flags; with `log`, its debug log goes there. Returns once it
/// listens: the process, its address and its status URL.
pub(crate) fn spawn_worker(
    coordinator: &str,
    extra: &[&str],
    log: Option<&Path>,
    env: &[(&str, &str)],
) -> (Process, String, String) {
    let mut cmd = Command::new(HAYATE);
    cmd.envs(env.iter().copied());
    cmd.args([
        "worker",
        "--coordinator",
        coordinator,
        "--bind",
        "127.0.0.1",
    ])
    .args(["--status-port", "0"]);
    if !extra.contains(&"--port") {
        cmd.args(["--port", "0"]);
    }
    cmd.args(extra).stderr(Stdio::null());
    if let Some(log) = log {
        cmd.env("HAYATE_LOG", "hayate_worker=debug")
            .stderr(std::fs::File::create(log).expect("log file"));
    }
    start_server(&mut cmd, "worker")
}
