//! The coordinator's state as SQL tables (`system.queries`, `system.tasks`,
//! `system.workers`, `system.tables`) and the live progress of a running
//! query: what a person asks "what is the cluster doing?" with.

use std::time::Duration;

use arrow_flight::{Action, CancelFlightInfoRequest};
use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::datatypes::UInt64Type;
use futures::StreamExt;
use prost::Message;

use crate::support::{TestCluster, row_count, tpch_dir};

/// Column `name` of every row, as text.
fn column(batches: &[RecordBatch], name: &str) -> Vec<String> {
    batches
        .iter()
        .flat_map(|b| {
            let col = b.column_by_name(name).expect("column");
            let col = datafusion::arrow::compute::cast(
                col,
                &datafusion::arrow::datatypes::DataType::Utf8,
            )
            .expect("as text");
            let col = col.as_string::<i32>().clone();
            // A null reads as empty text.
            col.iter()
                .map(|v| v.unwrap_or_default().to_string())
                .collect::<Vec<_>>()
        })
        .collect()
}

fn one_u64(batches: &[RecordBatch]) -> u64 {
    batches[0].column(0).as_primitive::<UInt64Type>().value(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn system_tables_show_queries_tasks_workers_and_tables() {
    let cluster = TestCluster::start(2).await;
    let mut client = cluster.tpch_client().await;
    let (rows, id) = client
        .run("SELECT l_returnflag, count(*) FROM lineitem GROUP BY l_returnflag")
        .await
        .unwrap();
    let id = id.unwrap();
    assert_eq!(row_count(&rows), 3);
    let failed = client.query("SELECT 1 / 0").await.unwrap_err();
    assert!(failed.contains("Divide by zero"), "{failed}");
    // The reports of a finished query are in once its stats are.
    client.stats(&id).await.unwrap();

    let queries = client
        .query(&format!(
            "SELECT state, rows, attempts, bytes_scanned, error, finished >= started AS ordered \
             FROM system.queries WHERE query_id = '{id}'"
        ))
        .await
        .unwrap();
    assert_eq!(column(&queries, "state"), ["finished"]);
    assert_eq!(column(&queries, "rows"), ["3"]);
    assert_eq!(column(&queries, "attempts"), ["1"]);
    assert!(column(&queries, "bytes_scanned")[0].parse::<u64>().unwrap() > 0);
    assert_eq!(column(&queries, "error"), [""]);
    assert_eq!(column(&queries, "ordered"), ["true"]);
    let failures = client
        .query("SELECT sql, error FROM system.queries WHERE state = 'failed'")
        .await
        .unwrap();
    assert_eq!(column(&failures, "sql"), ["SELECT 1 / 0"]);
    assert!(column(&failures, "error")[0].contains("Divide by zero"));

    // Every task of the query, placed on the cluster's workers, its scan
    // rows adding up to the table.
    let tasks = client
        .query(&format!(
            "SELECT worker, state, rows_scanned, cpu_ms FROM system.tasks WHERE query_id = '{id}'"
        ))
        .await
        .unwrap();
    assert!(row_count(&tasks) >= 2, "{tasks:?}");
    let addresses: Vec<String> = cluster.workers.iter().map(|w| w.address.clone()).collect();
    for worker in column(&tasks, "worker") {
        assert!(addresses.contains(&worker), "{worker} not in {addresses:?}");
    }
    assert!(column(&tasks, "state").iter().all(|s| s == "finished"));
    let scanned: u64 = column(&tasks, "rows_scanned")
        .iter()
        .map(|r| r.parse::<u64>().unwrap())
        .sum();
    let lineitem = one_u64(
        &client
            .query("SELECT CAST(count(*) AS BIGINT UNSIGNED) FROM lineitem")
            .await
            .unwrap(),
    );
    assert_eq!(scanned, lineitem);

    let workers = client
        .query("SELECT address, state, slots FROM system.workers ORDER BY address")
        .await
        .unwrap();
    let mut expected = addresses.clone();
    expected.sort();
    assert_eq!(column(&workers, "address"), expected);
    assert!(column(&workers, "state").iter().all(|s| s == "active"));

    let tables = client
        .query("SELECT location, format, files FROM system.tables WHERE \"table\" = 'lineitem'")
        .await
        .unwrap();
    let dir = format!("{}/lineitem/", tpch_dir());
    let files = std::fs::read_dir(&dir)
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "parquet")
        })
        .count();
    assert!(column(&tables, "location")[0].ends_with("/lineitem/"));
    assert_eq!(column(&tables, "format"), ["parquet"]);
    assert_eq!(column(&tables, "files"), [files.to_string()]);
    cluster.stop().await;
}

/// A system table joined with a Parquet table on workers: the system rows
/// are the coordinator's, shipped in the plan, and the answer equals the
/// same count asked of the Parquet table alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_system_table_joins_a_parquet_table() {
    let cluster = TestCluster::start(2).await;
    let mut client = cluster.tpch_client().await;
    let join = "SELECT CAST(count(*) AS BIGINT UNSIGNED) FROM lineitem l \
                JOIN system.workers w ON l.l_linenumber = w.slots";
    let plan = client.query(&format!("EXPLAIN {join}")).await.unwrap();
    let text = datafusion::arrow::util::pretty::pretty_format_batches(&plan)
        .unwrap()
        .to_string();
    assert!(text.contains("Stage 1"), "the join is distributed: {text}");
    let slots = one_u64(
        &client
            .query("SELECT CAST(min(slots) AS BIGINT UNSIGNED) FROM system.workers")
            .await
            .unwrap(),
    );
    let alone = one_u64(
        &client
            .query(&format!(
                "SELECT CAST(count(*) * 2 AS BIGINT UNSIGNED) FROM lineitem WHERE l_linenumber = {slots}"
            ))
            .await
            .unwrap(),
    );
    let joined = one_u64(&client.query(join).await.unwrap());
    // Two workers with the same slot count: every matching row twice.
    assert_eq!(joined, alone);
    assert!(joined > 0);
    cluster.stop().await;
}

/// While a long query runs, its progress shows stages, running tasks and
/// rows scanned; cancelled, it is listed as cancelled with the reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_running_query_shows_progress_then_is_listed_as_cancelled() {
    let cluster = TestCluster::start(2).await;
    let mut client = cluster.tpch_client().await;
    client
        .update("SET datafusion.execution.batch_size = 64")
        .await
        .unwrap();
    let slow = "SELECT count(*) FROM lineitem a JOIN lineitem b \
                ON a.l_suppkey = b.l_suppkey AND a.l_orderkey + b.l_partkey < 0";
    let info = client.inner.execute(slow.into(), None).await.unwrap();
    let ticket = info.endpoint[0].ticket.clone().unwrap();
    let id = hayate_coordinator::flight_sql::statement_handle(&ticket.ticket).unwrap();
    let mut watcher = cluster.client().await;
    assert_eq!(watcher.progress(&id).await.unwrap().state, "planned");
    let mut stream = client.inner.do_get(ticket).await.unwrap();
    let reader = tokio::spawn(async move { stream.next().await });

    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    let progress = loop {
        let p = watcher.progress(&id).await.unwrap();
        if p.tasks_running > 0 && p.rows_scanned > 0 {
            break p;
        }
        assert!(tokio::time::Instant::now() < deadline, "no progress: {p:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(progress.state, "running");
    assert!(progress.stages_total >= 2, "{progress:?}");
    assert!(progress.stages_done < progress.stages_total);
    assert!(progress.tasks_total >= progress.tasks_running);

    let running = watcher
        .query(&format!(
            "SELECT state FROM system.queries WHERE query_id = '{id}'"
        ))
        .await
        .unwrap();
    assert_eq!(column(&running, "state"), ["running"]);
    let live_tasks = watcher
        .query(&format!(
            "SELECT count(*) AS n FROM system.tasks WHERE query_id = '{id}' AND state = 'running'"
        ))
        .await
        .unwrap();
    assert_ne!(column(&live_tasks, "n"), ["0"]);

    let cancel = Action::new(
        "CancelFlightInfo",
        CancelFlightInfoRequest::new(info).encode_to_vec(),
    );
    watcher.inner.do_action(cancel).await.unwrap();
    let ended = tokio::time::timeout(Duration::from_secs(10), reader)
        .await
        .expect("the stream ends")
        .unwrap();
    assert!(ended.unwrap().is_err());
    let listed = watcher
        .query(&format!(
            "SELECT state, error FROM system.queries WHERE query_id = '{id}'"
        ))
        .await
        .unwrap();
    assert_eq!(column(&listed, "state"), ["cancelled"]);
    assert_eq!(column(&listed, "error"), ["query cancelled by the client"]);
    assert_eq!(watcher.progress(&id).await.unwrap().state, "cancelled");
    cluster.stop().await;
}
