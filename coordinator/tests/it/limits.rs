//! Stopping queries from outside their stream and keeping the server
//! responsive: a client's `CancelFlightInfo`, a session's timeout, and
//! "server busy" beyond the concurrency limit and its queue. In each case
//! the query's tasks stop on every worker and the server keeps serving.

use std::time::{Duration, Instant};

use arrow_flight::{Action, CancelFlightInfoRequest, CancelFlightInfoResult, CancelStatus};
use futures::StreamExt;
use hayate_coordinator::{QueryLimits, StorageConfig};
use prost::Message;

use crate::support::{TestCluster, assert_workers_idle, row_count};

/// A query that runs for a long while: a self-join of lineitem on its
/// supplier (36 million pairs) whose every pair is tested and dropped.
/// (A nested-loop join would be slower still, but DataFusion's nested-loop
/// join computes for seconds without yielding, so a stopped one keeps a
/// core busy until its batch is done.)
const SLOW: &str = "SELECT count(*) FROM lineitem a JOIN lineitem b \
                    ON a.l_suppkey = b.l_suppkey AND a.l_orderkey + b.l_partkey < 0";

/// What a `CancelFlightInfo` answered.
async fn cancel_status(client: &mut crate::support::Client, action: Action) -> CancelStatus {
    let body = client
        .inner
        .do_action(action)
        .await
        .expect("answer")
        .next()
        .await
        .expect("an answer")
        .expect("ok")
        .body;
    CancelFlightInfoResult::decode(body.as_ref())
        .expect("result")
        .status()
}

/// A session for `SLOW`: small batches, so that a stopped task notices
/// within milliseconds.
async fn slow_session(cluster: &TestCluster) -> crate::support::Client {
    let mut client = cluster.tpch_client().await;
    client
        .update("SET datafusion.execution.batch_size = 64")
        .await
        .expect("set");
    client
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn cancel_flight_info_stops_a_running_query_everywhere() {
    let cluster = TestCluster::start(2).await;
    let mut client = slow_session(&cluster).await;
    let info = client
        .inner
        .execute(SLOW.into(), None)
        .await
        .expect("planned");
    let ticket = info.endpoint[0].ticket.clone().expect("ticket");
    let mut stream = client.inner.do_get(ticket).await.expect("started");
    let reader = tokio::spawn(async move { stream.next().await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let busy: usize = cluster
        .workers
        .iter()
        .map(|w| w.registry.running_tasks())
        .sum();
    assert!(busy > 0, "the slow query runs on the workers");

    let started = Instant::now();
    let mut canceller = cluster.client().await;
    let action = Action::new(
        "CancelFlightInfo",
        CancelFlightInfoRequest::new(info.clone()).encode_to_vec(),
    );
    let body = canceller
        .inner
        .do_action(action)
        .await
        .expect("cancel accepted")
        .next()
        .await
        .expect("an answer")
        .expect("no error")
        .body;
    let result = CancelFlightInfoResult::decode(body.as_ref()).expect("a CancelFlightInfoResult");
    assert_eq!(result.status(), CancelStatus::Cancelled);
    let ended = tokio::time::timeout(Duration::from_secs(5), reader)
        .await
        .expect("the stream ends")
        .expect("reader task");
    let error = ended
        .expect("an item")
        .expect_err("the stream ends with an error");
    assert!(error.to_string().contains("cancelled"), "{error}");
    assert_workers_idle(&cluster, Duration::from_secs(1), "CancelFlightInfo").await;
    eprintln!("cancel to idle workers: {:?}", started.elapsed());
    // Cancelling a query that is over says so.
    let over = Action::new(
        "CancelFlightInfo",
        CancelFlightInfoRequest::new(info).encode_to_vec(),
    );
    assert_eq!(
        cancel_status(&mut canceller, over).await,
        CancelStatus::NotCancellable
    );
    // A statement cancelled before its DoGet is not run by it.
    let unfetched = client
        .inner
        .execute("SELECT 1".into(), None)
        .await
        .expect("planned");
    let ticket = unfetched.endpoint[0].ticket.clone().expect("ticket");
    let early = Action::new(
        "CancelFlightInfo",
        CancelFlightInfoRequest::new(unfetched).encode_to_vec(),
    );
    assert_eq!(
        cancel_status(&mut canceller, early).await,
        CancelStatus::Cancelled
    );
    let refused = match client.inner.do_get(ticket).await {
        Ok(mut stream) => stream
            .next()
            .await
            .expect("an item")
            .expect_err("refused")
            .to_string(),
        Err(e) => e.to_string(),
    };
    assert!(refused.contains("cancelled"), "{refused}");
    assert_eq!(
        row_count(&client.query("SELECT 1").await.expect("still serving")),
        1
    );
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_session_timeout_stops_the_query_with_a_clear_error() {
    let cluster = TestCluster::start(2).await;
    let mut client = slow_session(&cluster).await;
    client
        .update("SET hayate.query_timeout_secs = 1")
        .await
        .expect("set");
    let started = Instant::now();
    let error = client.query(SLOW).await.expect_err("the query times out");
    assert!(error.contains("timed out after 1s"), "{error}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    assert_workers_idle(&cluster, Duration::from_secs(1), "the timeout").await;
    // Other sessions have no timeout; this one still answers quick queries.
    assert_eq!(
        row_count(
            &client
                .query("SELECT count(*) FROM nation")
                .await
                .expect("quick query")
        ),
        1
    );
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn beyond_the_slots_and_the_queue_a_query_is_told_the_server_is_busy() {
    let limits = QueryLimits {
        max_running: 1,
        max_queued: 1,
        timeout: None,
    };
    let cluster = TestCluster::start_with(2, StorageConfig::default(), limits).await;
    let mut slow = slow_session(&cluster).await;
    let info = slow
        .inner
        .execute(SLOW.into(), None)
        .await
        .expect("planned");
    let ticket = info.endpoint[0].ticket.clone().expect("ticket");
    let running = slow.inner.do_get(ticket).await.expect("takes the one slot");

    // The second query waits in the queue...
    let mut queued_client = cluster.tpch_client().await;
    let queued =
        tokio::spawn(async move { queued_client.query("SELECT count(*) FROM region").await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!queued.is_finished(), "the second query waits for the slot");
    // ...and a third finds the queue full.
    let mut third = cluster.tpch_client().await;
    let busy = third
        .query("SELECT count(*) FROM nation")
        .await
        .expect_err("server busy");
    assert!(busy.contains("server busy"), "{busy}");

    // When the slow query goes, the queued one runs.
    drop(running);
    let answer = tokio::time::timeout(Duration::from_secs(10), queued)
        .await
        .expect("the queued query ran")
        .expect("task")
        .expect("answer");
    assert_eq!(row_count(&answer), 1);
    // The slot came back at once (the queued query ran); the tasks may
    // take a little longer on a machine busy with other tests.
    assert_workers_idle(
        &cluster,
        Duration::from_secs(3),
        "the slow query was dropped",
    )
    .await;
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_query_over_its_memory_limit_spills_or_fails_alone() {
    let cluster = TestCluster::start(2).await;
    let mut small = cluster.tpch_client().await;
    small
        .update("SET hayate.query_memory_limit = 3000000")
        .await
        .expect("set");
    // What a sort keeps back for merging its spill files, and a batch,
    // must fit too; one sorter per task, so that two do not race for the
    // same few megabytes.
    for setting in [
        "SET datafusion.execution.batch_size = 1024",
        "SET datafusion.execution.target_partitions = 1",
    ] {
        small.update(setting).await.expect("set");
    }
    small
        .update("SET datafusion.execution.sort_spill_reservation_bytes = 262144")
        .await
        .expect("set");
    // A sort spills to disk under the limit and still answers correctly.
    let sorted = "SELECT l_orderkey, l_linenumber, l_comment FROM lineitem \
                  ORDER BY l_comment, l_orderkey, l_linenumber";
    let expected = {
        let ctx = datafusion::prelude::SessionContext::new();
        for ddl in hayate_tpch::create_table_statements(crate::support::tpch_dir()) {
            ctx.sql(&ddl)
                .await
                .expect("ddl")
                .collect()
                .await
                .expect("ddl");
        }
        ctx.sql(sorted)
            .await
            .expect("plan")
            .collect()
            .await
            .expect("run")
    };
    let (actual, stats) = small
        .query_with_stats(sorted)
        .await
        .expect("the sort spills and answers");
    hayate_tpch::compare_results(&expected, &actual, true).expect("same rows in the same order");
    assert!(stats.total.get("output_rows").copied().unwrap_or(0) > 0);
    // A hash join cannot spill: its build side does not fit, so it fails
    // with a clear error...
    let join = "SELECT count(*) FROM lineitem a JOIN lineitem b ON a.l_comment = b.l_comment \
                AND a.l_shipinstruct = b.l_shipinstruct AND a.l_shipmode = b.l_shipmode";
    let error = small.query(join).await.expect_err("over the limit");
    assert!(error.contains("Resources exhausted"), "{error}");
    // ...while the same join in a session without the limit answers, and the
    // limited session goes on with small queries.
    let mut free = cluster.tpch_client().await;
    assert_eq!(
        row_count(&free.query(join).await.expect("unlimited session")),
        1
    );
    assert_eq!(
        row_count(
            &small
                .query("SELECT count(*) FROM nation")
                .await
                .expect("small query")
        ),
        1
    );
    assert_workers_idle(&cluster, Duration::from_secs(1), "the failed query").await;
    cluster.stop().await;
}
