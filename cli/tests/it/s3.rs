//! Hayate on S3 as users run it: `hayate logs-gen` writes to a real S3
//! server, a coordinator started with `--s3-endpoint` and workers that know
//! nothing of S3 query it with credentials from the environment, the CLI
//! prints each query's I/O, and no secret reaches a log line.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hayate_testkit::S3Server;

use crate::cluster::{Process, start_coordinator};
use crate::processes::{HAYATE, sql, text};

fn hayate(server: &S3Server) -> Command {
    let mut cmd = Command::new(HAYATE);
    cmd.env("AWS_ACCESS_KEY_ID", &server.access_key)
        .env("AWS_SECRET_ACCESS_KEY", &server.secret_key)
        .env("AWS_REGION", "us-east-1")
        .env("HAYATE_LOG", "debug");
    cmd
}

#[test]
fn logs_in_s3_through_processes_with_io_shown_and_secrets_kept() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let server = runtime.block_on(S3Server::start("cli"));
    let logs = tempfile::tempdir().expect("log dir");

    let out = hayate(&server)
        .args(["logs-gen", "--rows", "20000", "--rows-per-group", "256"])
        .args(["--out", "s3://cli/web", "--s3-endpoint", &server.endpoint])
        .output()
        .expect("logs-gen runs");
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("20000 log lines in 168 files"),
        "{}",
        text(&out)
    );

    let spawn = |cmd: &mut Command, log: &str| {
        Process(
            cmd.stdout(Stdio::null())
                .stderr(std::fs::File::create(logs.path().join(log)).expect("log file"))
                .spawn()
                .expect("hayate starts"),
        )
    };
    let (_coordinator, url) = start_coordinator(
        hayate(&server)
            .stderr(std::fs::File::create(logs.path().join("coordinator.log")).expect("log file")),
        &["--heartbeat-ms", "200", "--s3-endpoint", &server.endpoint],
    );
    let _workers: Vec<Process> = (0..2)
        .map(|i| {
            spawn(
                hayate(&server).args(["worker", "--coordinator", &url, "--bind", "127.0.0.1"]),
                &format!("worker{i}.log"),
            )
        })
        .collect();

    let create = "CREATE EXTERNAL TABLE IF NOT EXISTS logs STORED AS PARQUET PARTITIONED BY (dt, hour) LOCATION 's3://cli/web/'";
    let query = "SELECT level, count(*) AS n FROM logs WHERE ts >= TIMESTAMP '2026-11-07T23:00:00Z' GROUP BY level ORDER BY level";
    let deadline = Instant::now() + Duration::from_secs(30);
    let output = loop {
        let out = sql(&url, &["SET hayate.bytes_per_task = 1", create, query]);
        if out.status.success() {
            break text(&out);
        }
        assert!(Instant::now() < deadline, "never answered: {}", text(&out));
        std::thread::sleep(Duration::from_millis(300));
    };
    assert!(output.contains("| INFO "), "{output}");
    let io_line = output
        .lines()
        .find(|l| l.starts_with("I/O: "))
        .unwrap_or_else(|| panic!("no I/O line:\n{output}"));
    assert!(
        io_line.contains("GET ") && io_line.contains("167 pruned"),
        "{io_line}"
    );

    // A table whose keys come in OPTIONS: the key must not reach any log.
    let keyed = format!(
        "CREATE EXTERNAL TABLE keyed STORED AS PARQUET PARTITIONED BY (dt, hour) LOCATION 's3://cli/web/' \
         OPTIONS ('aws.access_key_id' '{}', 'aws.secret_access_key' '{}')",
        server.access_key, server.secret_key
    );
    let out = sql(
        &url,
        &[
            &keyed,
            "SELECT count(*) FROM keyed",
            "EXPLAIN ANALYZE SELECT count(*) FROM keyed WHERE status = 503",
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("20000"), "{}", text(&out));
    assert!(
        !text(&out).contains(&server.secret_key),
        "the secret shows in the CLI"
    );
    std::thread::sleep(Duration::from_millis(300));
    let mut logged = 0;
    for entry in std::fs::read_dir(logs.path()).expect("logs") {
        let log = std::fs::read_to_string(entry.expect("entry").path()).expect("read log");
        logged += log.len();
        assert!(
            !log.contains(&server.secret_key),
            "a log holds the secret:\n{log}"
        );
    }
    assert!(
        logged > 1000,
        "the processes logged almost nothing ({logged} bytes): the check is empty"
    );
}
