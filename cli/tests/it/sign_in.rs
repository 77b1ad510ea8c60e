//! `hayate sql --user` against a coordinator that requires sign-in: the
//! password from `HAYATE_PASSWORD`, users from `HAYATE_USERS` (hashed by
//! `hayate hash-password`), workers joined with the cluster secret.

use std::io::Write;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use crate::cluster::{Process, start_coordinator, tpch_dir};
use crate::processes::{HAYATE, text};

const SECRET: &str = "cli-test-cluster-secret";

fn hash(password: &str) -> String {
    let mut child = Command::new(HAYATE)
        .arg("hash-password")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    writeln!(child.stdin.take().unwrap(), "{password}").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn spawn_with_secret(args: &[&str]) -> Process {
    let mut cmd = Command::new(HAYATE);
    cmd.args(args)
        .env("HAYATE_CLUSTER_SECRET", SECRET)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    Process(cmd.spawn().unwrap())
}

fn sql_as(url: &str, user: &str, password: &str, statements: &[&str]) -> Output {
    let mut cmd = Command::new(HAYATE);
    cmd.args(["sql", "--coordinator", url, "--user", user])
        .env("HAYATE_PASSWORD", password);
    for s in statements {
        cmd.args(["-e", s]);
    }
    cmd.output().unwrap()
}

#[test]
fn the_sql_cli_signs_in_with_a_password() {
    let users = format!("analyst:{}", hash("s3cret pass"));
    let mut coordinator = Command::new(HAYATE);
    coordinator
        .env("HAYATE_CLUSTER_SECRET", SECRET)
        .env("HAYATE_USERS", &users)
        .stderr(Stdio::null());
    let (_coordinator, url) = start_coordinator(&mut coordinator, &["--heartbeat-ms", "200"]);
    let _worker = spawn_with_secret(&[
        "worker",
        "--coordinator",
        &url,
        "--bind",
        "127.0.0.1",
        "--port",
        "0",
    ]);
    let create = format!(
        "CREATE EXTERNAL TABLE IF NOT EXISTS nation STORED AS PARQUET LOCATION '{}/nation/'",
        tpch_dir()
    );
    let count = "SELECT count(*) AS nations FROM nation WHERE n_nationkey >= 0";
    let deadline = Instant::now() + Duration::from_secs(30);
    let out = loop {
        let out = sql_as(&url, "analyst", "s3cret pass", &[&create, count]);
        if out.status.success() || Instant::now() > deadline {
            break out;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("| 25 "), "{}", text(&out));

    let out = sql_as(&url, "analyst", "guess", &[count]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("wrong user name or password"),
        "{}",
        text(&out)
    );

    let out = crate::processes::sql(&url, &[count]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("authentication required"),
        "{}",
        text(&out)
    );
}
