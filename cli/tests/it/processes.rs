use std::process::{Command, Output};

use crate::cluster::{ProcessCluster, tpch_dir};

pub(crate) const HAYATE: &str = env!("CARGO_BIN_EXE_hayate");

pub(crate) fn sql(coordinator: &str, statements: &[&str]) -> Output {
    let mut cmd = Command::new(HAYATE);
    cmd.args(["sql", "--coordinator", coordinator]);
    for s in statements {
        cmd.args(["-e", s]);
    }
    cmd.output().expect("hayate sql runs")
}

pub(crate) fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn expected_returnflag_counts() -> Vec<(String, i64)> {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let ctx = datafusion::prelude::SessionContext::new();
        for ddl in hayate_tpch::create_table_statements(tpch_dir()) {
            ctx.sql(&ddl).await.unwrap();
        }
        let batches = ctx
            .sql("SELECT l_returnflag, count(*) AS n FROM lineitem GROUP BY 1 ORDER BY 1")
            .await
            .unwrap()
            .collect()
            .await
            .unwrap();
        let mut out = Vec::new();
        for b in batches {
            let flags = datafusion::arrow::compute::cast(
                b.column(0),
                &datafusion::arrow::datatypes::DataType::Utf8,
            )
            .unwrap();
            let flags = flags
                .as_any()
                .downcast_ref::<datafusion::arrow::array::StringArray>()
                .unwrap();
            let counts = b
                .column(1)
                .as_any()
                .downcast_ref::<datafusion::arrow::array::Int64Array>()
                .unwrap();
            for i in 0..b.num_rows() {
                out.push((flags.value(i).to_string(), counts.value(i)));
            }
        }
        out
    })
}

#[test]
fn coordinator_and_worker_processes_answer_the_sql_cli() {
    let mut cluster = ProcessCluster::start(2);
    let create: Vec<String> = hayate_tpch::create_table_statements(tpch_dir());
    let create: Vec<&str> = create.iter().map(String::as_str).collect();
    let out = sql(&cluster.url, &create);
    assert!(out.status.success(), "{}", text(&out));

    let out = sql(
        &cluster.url,
        &[
            "SET hayate.bytes_per_task = 1",
            "SELECT l_returnflag, count(*) AS n FROM lineitem GROUP BY 1 ORDER BY 1",
            "EXPLAIN SELECT l_returnflag, count(*) FROM lineitem GROUP BY 1",
        ],
    );
    let output = text(&out);
    assert!(out.status.success(), "{output}");
    for (flag, count) in expected_returnflag_counts() {
        assert!(
            output
                .lines()
                .any(|l| l.contains(&format!("| {flag} ")) && l.contains(&format!("| {count} "))),
            "{flag} = {count} missing from:\n{output}"
        );
    }
    assert!(output.contains("3 rows in"), "{output}");
    assert!(
        output.contains("Stage") && output.contains("2 tasks") && output.contains("shuffle"),
        "{output}"
    );

    // -f runs a file of statements, with a session that keeps settings.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("q.sql");
    std::fs::write(
        &file,
        "SET datafusion.execution.batch_size = 77;\n-- a comment; with a semicolon\nSHOW datafusion.execution.batch_size;\nSELECT count(*)\nFROM orders\nWHERE o_orderkey > 0;\n",
    )
    .unwrap();
    let out = Command::new(HAYATE)
        .args([
            "sql",
            "--coordinator",
            &cluster.url,
            "-f",
            file.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let output = text(&out);
    assert!(out.status.success(), "{output}");
    assert!(output.contains("| 77 "), "{output}");
    assert!(output.contains("15000"), "{output}");

    // Answers for programs: stdout holds the data alone, in each format.
    let query = "SELECT n_nationkey, n_name FROM nation ORDER BY 1 LIMIT 2";
    for (format, expected) in [
        ("csv", "n_nationkey,n_name\n0,ALGERIA\n1,ARGENTINA\n"),
        (
            "ndjson",
            "{\"n_nationkey\":0,\"n_name\":\"ALGERIA\"}\n{\"n_nationkey\":1,\"n_name\":\"ARGENTINA\"}\n",
        ),
        (
            "json",
            "[{\"n_nationkey\":0,\"n_name\":\"ALGERIA\"},{\"n_nationkey\":1,\"n_name\":\"ARGENTINA\"}]\n",
        ),
    ] {
        let out = Command::new(HAYATE)
            .args(["sql", "--coordinator", &cluster.url, "--format", format])
            .args(["-e", query])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
        assert_eq!(String::from_utf8_lossy(&out.stdout), expected, "{format}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("2 rows in"),
            "{}",
            text(&out)
        );
    }
    let out = Command::new(HAYATE)
        .args(["sql", "--coordinator", &cluster.url, "--no-timing"])
        .args(["-e", query])
        .output()
        .unwrap();
    assert!(!text(&out).contains("rows in"), "{}", text(&out));
    assert!(text(&out).contains("ARGENTINA"), "{}", text(&out));

    // A bad statement: a clear error and a failing exit code; the cluster
    // keeps answering.
    let out = sql(&cluster.url, &["SELEC 1"]);
    assert!(!out.status.success());
    assert!(text(&out).contains("SELEC"), "{}", text(&out));

    // A worker killed before the next query: the query uses the one left.
    let mut killed = cluster.workers.remove(0);
    killed.0.kill().unwrap();
    killed.0.wait().unwrap();
    let out = sql(
        &cluster.url,
        &[
            "SET hayate.bytes_per_task = 1",
            "SELECT l_returnflag, count(*) AS n FROM lineitem GROUP BY 1 ORDER BY 1",
        ],
    );
    let output = text(&out);
    assert!(out.status.success(), "{output}");
    for (flag, count) in expected_returnflag_counts() {
        assert!(
            output.contains(&format!("| {count} ")),
            "{flag} = {count} missing from:\n{output}"
        );
    }
}

#[test]
fn local_runs_a_whole_cluster_in_one_process() {
    let out = Command::new(HAYATE)
        .args(["local", "--no-sample", "-e", "SELECT 40 + 2 AS answer"])
        .output()
        .unwrap();
    let output = text(&out);
    assert!(out.status.success(), "{output}");
    assert!(output.contains("| 42 "), "{output}");

    let out = Command::new(HAYATE)
        .args(["local", "--no-sample", "-e", "SELECT * FROM nowhere"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(text(&out).contains("nowhere"), "{}", text(&out));
}

#[test]
fn local_offers_the_tpch_sample() {
    let data = tempfile::tempdir().unwrap();
    let out = Command::new(HAYATE)
        .env("HAYATE_DATA_DIR", data.path())
        .args([
            "local",
            "--sf",
            "0.01",
            "-e",
            "SELECT l_returnflag, count(*) FROM lineitem GROUP BY 1 ORDER BY 1",
        ])
        .output()
        .unwrap();
    let output = text(&out);
    assert!(out.status.success(), "{output}");
    assert!(output.contains("3 rows in"), "{output}");
}

/// `hayate sample-data` (the compose loader, which `docker compose up`
/// starts again each time) writes the set once: a second run finds it
/// complete and touches no file that queries may be reading; other
/// settings over a complete set are refused unless forced.
#[test]
fn sample_data_is_written_once() {
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path().to_str().unwrap();
    let load = |extra: &[&str]| {
        Command::new(HAYATE)
            .args(["sample-data", "--out", out, "--sf", "0.001"])
            .args(extra)
            .output()
            .unwrap()
    };
    let modified = || {
        let path = out_dir.path().join("tpch/nation");
        let file = std::fs::read_dir(&path).unwrap().next().unwrap().unwrap();
        file.metadata().unwrap().modified().unwrap()
    };
    let first = load(&["--logs", "200"]);
    assert!(first.status.success(), "{}", text(&first));
    assert!(
        text(&first).contains("Sample data ready"),
        "{}",
        text(&first)
    );
    let written = modified();

    let again = load(&["--logs", "200"]);
    assert!(again.status.success(), "{}", text(&again));
    assert!(
        text(&again).contains("already complete"),
        "{}",
        text(&again)
    );
    assert_eq!(modified(), written, "a second run rewrote the data");

    let other = load(&["--logs", "300"]);
    assert!(!other.status.success());
    assert!(
        text(&other).contains("holds other sample data"),
        "{}",
        text(&other)
    );

    let forced = load(&["--logs", "300", "--force"]);
    assert!(forced.status.success(), "{}", text(&forced));
    assert!(
        text(&forced).contains("Sample data ready"),
        "{}",
        text(&forced)
    );
}

/// Ctrl-C in `hayate sql` cancels the running statement and goes on with
/// the next one: the cluster is free for it at once. While the statement
/// runs, its progress line shows its stages and tasks; afterwards
/// `system.queries` lists it as cancelled.
#[test]
fn ctrl_c_cancels_the_running_statement() {
    use std::io::BufRead;
    let cluster = ProcessCluster::start(2);
    let create: Vec<String> = hayate_tpch::create_table_statements(tpch_dir());
    let create: Vec<&str> = create.iter().map(String::as_str).collect();
    assert!(sql(&cluster.url, &create).status.success());
    // Every pair of lineitem rows with the same supplier, each tested and
    // dropped: far longer than this test waits.
    let slow = "SELECT count(*) FROM lineitem a JOIN lineitem b \
                ON a.l_suppkey = b.l_suppkey AND a.l_orderkey + b.l_partkey < 0";
    let mut child = Command::new(HAYATE)
        .args(["sql", "--coordinator", &cluster.url, "--progress", "always"])
        .args(["-e", "SET datafusion.execution.batch_size = 64"])
        .args(["-e", slow])
        .args([
            "-e",
            "SELECT count(*) AS nations FROM nation WHERE n_nationkey >= 0",
        ])
        .args([
            "-e",
            "SELECT state, error FROM system.queries WHERE sql LIKE '%a.l_orderkey + b.l_partkey%' \
             AND sql NOT LIKE '%system.queries%'",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Read stderr as it comes, to interrupt once progress shows tasks at
    // work.
    let stderr = child.stderr.take().unwrap();
    let (lines, progress) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            let _ = lines.send(line.clone());
            all.push_str(&line);
            all.push('\n');
        }
        all
    });
    let working = loop {
        let line = progress
            .recv_timeout(std::time::Duration::from_secs(30))
            .expect("a progress line within 30 s");
        if line.starts_with("progress: stages") && !line.contains("tasks 0 running") {
            break line;
        }
    };
    assert!(working.contains("rows received"), "{working}");
    let interrupted = std::time::Instant::now();
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = child.wait_with_output().unwrap();
    let errors = reader.join().unwrap();
    let output = String::from_utf8_lossy(&out.stdout);
    assert!(errors.contains("Cancelled after"), "{errors}");
    assert!(
        output.contains("| 25 "),
        "the next statement answered: {output}"
    );
    assert!(
        output.contains("| cancelled | the client closed the stream before the end |"),
        "system.queries lists the query as cancelled: {output}"
    );
    assert!(
        interrupted.elapsed() < std::time::Duration::from_secs(10),
        "took {:?} after Ctrl-C",
        interrupted.elapsed()
    );
    eprintln!("progress before Ctrl-C: {working}");
    eprintln!(
        "Ctrl-C to the next answer and exit: {:?}",
        interrupted.elapsed()
    );
}

/// `hayate sql --watch`: the statements run again every half second until
/// Ctrl-C, and a run after a new file lands in the table's directory (and a
/// `REFRESH TABLE` among the statements) counts its rows.
#[test]
fn watch_runs_the_statements_again_until_ctrl_c() {
    let cluster = ProcessCluster::start(1);
    let dir = tempfile::tempdir().unwrap();
    let table = dir.path().join("events");
    std::fs::create_dir_all(&table).unwrap();
    let copy = |name: &str, rows: u32| {
        let out = sql(
            &cluster.url,
            &[&format!(
                "COPY (SELECT value FROM generate_series(1, {rows})) TO '{}/{name}.parquet' STORED AS PARQUET",
                table.display()
            )],
        );
        assert!(out.status.success(), "{}", text(&out));
    };
    copy("a", 10);
    let create = format!(
        "CREATE EXTERNAL TABLE IF NOT EXISTS watched STORED AS PARQUET LOCATION '{}/'",
        table.display()
    );
    assert!(sql(&cluster.url, &[&create]).status.success());
    let mut child = Command::new(HAYATE)
        .args(["sql", "--coordinator", &cluster.url, "--watch", "0.5"])
        .args(["--format", "csv"])
        .args(["-e", "REFRESH TABLE watched"])
        .args(["-e", "SELECT count(*) AS n FROM watched"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1500));
    copy("b", 5);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let interrupted = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let started = std::time::Instant::now();
    let out = loop {
        if let Some(_status) = child.try_wait().unwrap() {
            break child.wait_with_output().unwrap();
        }
        assert!(
            started.elapsed() < std::time::Duration::from_secs(10),
            "--watch did not stop at Ctrl-C"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let counts: Vec<&str> = stdout.lines().filter(|l| *l != "n").collect();
    let runs = String::from_utf8_lossy(&out.stderr)
        .lines()
        .filter(|l| l.starts_with("-- ") && l.contains("Ctrl-C stops"))
        .count();
    assert!(runs >= 4, "{runs} runs: {}", text(&out));
    assert_eq!(counts.first(), Some(&"10"), "{stdout}");
    assert_eq!(counts.last(), Some(&"15"), "{stdout}");
}

/// `hayate index` over logs from `hayate logs-gen`: every file indexed
/// once, nothing redone on a second run, and a search that `EXPLAIN
/// ANALYZE` shows skipping row groups by the index.
#[test]
fn index_builds_sidecars_that_searches_use() {
    let data = tempfile::tempdir().unwrap();
    let logs = data.path().join("logs");
    let logs = logs.to_str().unwrap();
    let out = Command::new(HAYATE)
        .args([
            "logs-gen",
            "--rows",
            "6000",
            "--days",
            "1",
            "--rows-per-group",
            "100",
        ])
        .args(["--out", logs])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let index = || {
        Command::new(HAYATE)
            .args(["index", logs, "--columns", "message,attributes"])
            .output()
            .unwrap()
    };
    let out = index();
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        text(&out).contains("indexed 24 of 24 files"),
        "{}",
        text(&out)
    );
    let out = index();
    assert!(
        text(&out).contains("indexed 0 of 24 files (24 already current)"),
        "{}",
        text(&out)
    );
    let out = Command::new(HAYATE)
        .args(["index", "/nonexistent/place", "--false-positive-rate", "2"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        text(&out).contains("--false-positive-rate"),
        "{}",
        text(&out)
    );

    let create = hayate_logs::create_table_sql("logs", logs, &[]);
    let out = Command::new(HAYATE)
        .args(["local", "--no-sample", "-e"])
        .arg(format!(
            "{create}; SELECT count(*) AS lines FROM logs; \
             EXPLAIN ANALYZE SELECT ts FROM logs WHERE matches(message, 'circuit AND open')"
        ))
        .output()
        .unwrap();
    let output = text(&out);
    assert!(out.status.success(), "{output}");
    assert!(
        output.contains("| 6000 "),
        "sidecars read as data?\n{output}"
    );
    assert!(output.contains("search index skipped"), "{output}");
}

/// The Parquet files directly in each hour's directory under `logs`.
fn files_per_hour(logs: &std::path::Path) -> Vec<usize> {
    let mut counts = Vec::new();
    for hour in std::fs::read_dir(logs.join("dt=2026-11-01")).unwrap() {
        let files = std::fs::read_dir(hour.unwrap().path())
            .unwrap()
            .filter(|f| {
                f.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .ends_with(".parquet")
            })
            .count();
        counts.push(files);
    }
    counts
}

#[test]
fn compact_rewrites_small_files_into_one_per_hour_with_the_same_answers() {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().join("logs");
    let logs = dir.to_str().unwrap();
    let out = Command::new(HAYATE)
        .args(["logs-gen", "--rows", "6000", "--days", "1"])
        .args(["--rows-per-file", "50", "--out", logs])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let out = Command::new(HAYATE)
        .args(["index", logs, "--columns", "message"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let small = files_per_hour(&dir);
    assert_eq!(small.len(), 24);
    assert!(small.iter().all(|n| *n >= 3), "{small:?}");
    let create = hayate_logs::create_table_sql("logs", logs, &[]);
    let answer = || {
        let out = Command::new(HAYATE)
            .args(["local", "--no-sample", "-e"])
            .arg(format!(
                "{create}; SELECT count(*) AS n, sum(bytes) AS b, count(DISTINCT trace_id) AS t FROM logs; \
                 SELECT hour, count(*) AS n, min(ts) AS first FROM logs GROUP BY hour ORDER BY hour"
            ))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out));
        // The tables, without the timings and I/O lines.
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.starts_with(['|', '+']))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let before = answer();
    assert!(before.contains("| 6000 "), "{before}");

    let compact = |extra: &[&str]| {
        Command::new(HAYATE)
            .args(["compact", logs, "--sort-by", "ts", "--settle-secs", "0"])
            .args(extra)
            .output()
            .unwrap()
    };
    let out = compact(&[]);
    let output = text(&out);
    assert!(out.status.success(), "{output}");
    let files: usize = small.iter().sum();
    assert!(
        output.contains(&format!(
            "compacted 24 of 24 partitions: {files} files -> 24"
        )),
        "{output}"
    );
    // Both sets are on disk until the grace period ends; queries use one.
    assert_eq!(answer(), before);
    let out = compact(&[]);
    assert!(
        text(&out).contains("compacted 0 of 24 partitions"),
        "{}",
        text(&out)
    );
    let out = compact(&["--grace-secs", "0"]);
    let output = text(&out);
    assert!(
        output.contains(&format!("deleted {files} replaced files")),
        "{output}"
    );
    assert!(
        output.contains(&format!("and {files} sidecars")),
        "{output}"
    );
    assert_eq!(files_per_hour(&dir), vec![1; 24]);
    assert_eq!(answer(), before);

    let out = compact(&["--partition", "dt=2026-11-09/hour=00"]);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("no partition dt=2026-11-09/hour=00"),
        "{}",
        text(&out)
    );
}
