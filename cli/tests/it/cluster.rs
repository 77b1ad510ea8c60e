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

pub(crate) fn spawn(args: &[&str]) -> Process {
    spawn_logging(args, None)
}

/// Starts `hayate` with `args`; with `log`, its worker debug log goes there.
fn spawn_logging(args: &[&str], log: Option<&Path>) -> Process {
    let mut cmd = Command::new(HAYATE);
    cmd.args(args).stdout(Stdio::null()).stderr(Stdio::null());
    if let Some(log) = log {
        cmd.env("HAYATE_LOG", "hayate_worker=debug")
            .stderr(std::fs::File::create(log).expect("log file"));
    }
    Process(cmd.spawn().expect("hayate starts"))
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
    _coordinator: Process,
    pub(crate) workers: Vec<Process>,
}

impl ProcessCluster {
    pub(crate) fn start(workers: usize) -> Self {
        let port = free_port();
        let url = format!("http://127.0.0.1:{port}");
        let coordinator = spawn(&[
            "coordinator",
            "--bind",
            "127.0.0.1",
            "--status-port",
            "0",
            "--port",
            &port.to_string(),
            "--heartbeat-ms",
            "200",
            "--worker-timeout-ms",
            "2000",
        ]);
        let workers = (0..workers)
            .map(|_| spawn_worker(&url, &[], None))
            .collect();
        let cluster = Self {
            url,
            _coordinator: coordinator,
            workers,
        };
        // Ready when a distributed query over every worker answers.
        let deadline = Instant::now() + Duration::from_secs(30);
        let ddl = format!(
            "CREATE EXTERNAL TABLE IF NOT EXISTS nation STORED AS PARQUET LOCATION '{}/nation/'",
            tpch_dir()
        );
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
                "cluster never became ready: {}",
                text(&out)
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        // Give every worker time to register.
        std::thread::sleep(Duration::from_millis(600));
        cluster
    }

    /// Starts one more worker (with extra flags); it registers within a
    /// heartbeat.
    pub(crate) fn add_worker(&mut self, extra: &[&str]) {
        self.workers.push(spawn_worker(&self.url, extra, None));
    }

    /// Starts one more worker whose debug log goes to `log`.
    pub(crate) fn add_logging_worker(&mut self, log: &Path) {
        self.workers.push(spawn_worker(&self.url, &[], Some(log)));
    }
}

/// A worker process on a free port, with `extra` flags.
fn spawn_worker(coordinator: &str, extra: &[&str], log: Option<&Path>) -> Process {
    let mut args = vec![
        "worker",
        "--coordinator",
        coordinator,
        "--bind",
        "127.0.0.1",
    ];
    if !extra.contains(&"--port") {
        args.extend(["--port", "0"]);
    }
    args.extend_from_slice(extra);
    spawn_logging(&args, log)
}
