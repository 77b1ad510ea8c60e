//! `EXPLAIN ANALYZE` of a distributed query shows every task: the worker
//! that ran it, its rows, CPU and wall time, and what crossed the exchange
//! into and out of it; the rows a stage read from its exchange are the
//! rows its producers sent.

use crate::support::TestCluster;

/// The number after `label` in `line` ("12 rows out" → 12 for "rows out").
fn number_before(line: &str, label: &str) -> u64 {
    let at = line
        .find(label)
        .unwrap_or_else(|| panic!("no {label:?} in {line}"));
    line[..at]
        .split_whitespace()
        .last()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number before {label:?} in {line}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn explain_analyze_shows_each_task_its_worker_and_its_exchange() {
    let cluster = TestCluster::start(2).await;
    let mut client = cluster.tpch_client().await;
    let analyzed = client
        .query(
            "EXPLAIN ANALYZE SELECT l_suppkey, count(*) FROM lineitem \
             GROUP BY l_suppkey ORDER BY 2 DESC LIMIT 5",
        )
        .await
        .unwrap();
    let text = datafusion::arrow::util::pretty::pretty_format_batches(&analyzed)
        .unwrap()
        .to_string();
    let task_lines: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("  task ") && l.contains(" on "))
        .collect();
    assert!(task_lines.len() >= 3, "a line per task:\n{text}");
    let workers: Vec<&str> = cluster.workers.iter().map(|w| w.address.as_str()).collect();
    let mut used = std::collections::BTreeSet::new();
    for line in &task_lines {
        let worker = workers
            .iter()
            .find(|w| line.contains(&format!(" on {w}:")))
            .unwrap_or_else(|| panic!("no worker of the cluster in {line}"));
        used.insert(*worker);
        assert!(line.contains("wall") && line.contains("cpu"), "{line}");
    }
    assert_eq!(used.len(), 2, "tasks ran on both workers:\n{text}");

    // The stage after the shuffle read, over the exchange, every row its
    // producers sent out.
    let stages: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("Stage ") && l.contains("rows out in"))
        .collect();
    let exchanges: Vec<&str> = text.lines().filter(|l| l.contains("exchange: ")).collect();
    assert_eq!(stages.len(), exchanges.len(), "{text}");
    let received: Vec<u64> = exchanges
        .iter()
        .map(|l| number_before(l, "rows /"))
        .collect();
    let sent: Vec<u64> = stages
        .iter()
        .map(|l| number_before(l, "rows out"))
        .collect();
    // Stages are listed from the root down: a consumer before its producer.
    let shuffled = received
        .iter()
        .zip(sent.iter().skip(1))
        .any(|(got, produced)| *got > 0 && got == produced);
    assert!(
        shuffled,
        "a stage reads exactly the rows its producer sent: in {received:?}, out {sent:?}\n{text}"
    );
    assert!(text.contains("spilled 0 times"), "{text}");
    cluster.stop().await;
}
