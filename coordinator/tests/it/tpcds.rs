//! Every TPC-DS query through the full path, at 1 and 3 workers, equal to
//! single-node DataFusion on the same files. TPC-DS is where plans get
//! shapes TPC-H lacks (unions of aggregates that DataFusion interleaves,
//! rollups, window functions, many-way joins of fact tables), so it is the
//! check that every operator still gets the partitioning it needs once the
//! plan is cut into stages.

use std::collections::HashMap;
use std::path::PathBuf;

use datafusion::arrow::record_batch::RecordBatch;
use hayate_tpcds::{QUERIES, TpcdsData};
use tokio::sync::OnceCell;

use crate::support::{TestCluster, difference, finish_checked_run};

const SCALE_FACTOR: f64 = 0.01;
/// Files per table, so that even this small data splits over tasks.
const PARTS: usize = 3;

fn data() -> &'static TpcdsData {
    static DATA: std::sync::OnceLock<TpcdsData> = std::sync::OnceLock::new();
    DATA.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join(format!("tpcds-sf{SCALE_FACTOR}-{PARTS}"));
        hayate_tpcds::prepare(&dir, SCALE_FACTOR, PARTS)
            .unwrap_or_else(|e| panic!("TPC-DS data: {e}"))
    })
}

async fn reference(n: usize) -> &'static Vec<RecordBatch> {
    static ANSWERS: OnceCell<HashMap<usize, Vec<RecordBatch>>> = OnceCell::const_new();
    let answers = ANSWERS
        .get_or_init(|| async {
            let ctx = hayate_tpcds::reference_context(data(), 2)
                .await
                .expect("reference tables");
            let mut answers = HashMap::new();
            for q in QUERIES {
                let batches = hayate_tpcds::reference_answer(&ctx, data().query(q))
                    .await
                    .unwrap_or_else(|e| panic!("DataFusion fails TPC-DS q{q}: {e}"));
                answers.insert(q, batches);
            }
            answers
        })
        .await;
    &answers[&n]
}

async fn check_all_queries(cluster: TestCluster, settings: &[&str]) {
    let mut client = cluster.client().await;
    for ddl in hayate_tpcds::create_table_statements(&data().tables_base()) {
        client.update(&ddl).await.expect("create table");
    }
    // Scans split into as many tasks as there are files.
    client
        .update("SET hayate.bytes_per_task = 1")
        .await
        .expect("set");
    for s in settings {
        client.update(s).await.expect("setting applies");
    }
    let mut failures = Vec::new();
    for q in QUERIES {
        let answer = client.query(data().query(q)).await;
        failures.extend(difference(
            &format!("q{q}"),
            reference(q).await,
            &answer,
            data().is_ordered(q),
        ));
    }
    finish_checked_run(cluster, failures, "of 99 TPC-DS queries").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tpcds_on_one_worker() {
    check_all_queries(TestCluster::start(1).await, &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tpcds_on_three_workers() {
    check_all_queries(
        TestCluster::start(3).await,
        &["SET datafusion.execution.target_partitions = 3"],
    )
    .await;
}
