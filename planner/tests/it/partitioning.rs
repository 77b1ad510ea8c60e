//! Cutting a plan into stages keeps what every operator requires of its
//! inputs. DataFusion planned each operator over its children's
//! partitioning and ordering; after the cut, exchange readers stand where
//! the repartitions and merges were, and each task's fragment is built
//! again from bytes on a worker. Every fragment of every task must then
//! still satisfy DataFusion's own sanity check, and the operators that
//! check their children while they are built (`InterleaveExec`, window
//! aggregates) must build.

use std::sync::Arc;

use datafusion::physical_plan::{ExecutionPlan, ExecutionPlanProperties};
use datafusion::prelude::SessionContext;
use hayate_planner::{
    ExchangeReaderExec, PartitionSource, ProducerLayout, StageGraph, check_fragment, decode_plan,
    encode_plan, explain_stages, reader_sources, task_plan,
};

use crate::split::{physical_plan, split};

/// The sources a reader of consumer task `task` gets when every producer
/// task runs on a worker of its own.
fn resolve(
    graph: &StageGraph,
    reader: &ExchangeReaderExec,
    task: usize,
) -> datafusion::common::Result<Vec<Vec<PartitionSource>>> {
    let producer = graph.stage(reader.input_stage());
    let consumer_tasks = graph.stage(producer.consumer.expect("a consumer")).tasks;
    let width = task_plan(producer, 0, consumer_tasks, &|r| resolve(graph, r, 0))?
        .output_partitioning()
        .partition_count();
    let layout = ProducerLayout {
        run: hayate_protocol::QueryRun::new("q", 1),
        stage_id: producer.id,
        addresses: (0..producer.tasks)
            .map(|t| format!("http://w{t}:1"))
            .collect(),
        partitions: vec![width; producer.tasks],
    };
    Ok(reader_sources(reader, &layout, task))
}

fn names(plan: &Arc<dyn ExecutionPlan>, out: &mut Vec<String>) {
    out.push(plan.name().to_string());
    for c in plan.children() {
        names(c, out);
    }
}

/// Splits `sql` over `workers`, builds, ships and decodes every task's
/// fragment, and checks each; returns the operators the decoded fragments
/// hold.
async fn every_fragment_holds(sql: &str, settings: &[&str], workers: usize) -> Vec<String> {
    let graph = split(sql, workers, 1, settings).await;
    let task_ctx = SessionContext::new().task_ctx();
    let mut operators = Vec::new();
    for stage in &graph.stages {
        let consumer_tasks = stage.consumer.map_or(1, |c| graph.stage(c).tasks);
        for task in 0..stage.tasks {
            let fragment = task_plan(stage, task, consumer_tasks, &|r| resolve(&graph, r, task))
                .unwrap_or_else(|e| {
                    panic!(
                        "{sql}: stage {} task {task}: {e}\n{}",
                        stage.id,
                        explain_stages(&graph)
                    )
                });
            check_fragment(&fragment).unwrap_or_else(|e| {
                panic!(
                    "{sql}: stage {} task {task}: {e}\n{}",
                    stage.id,
                    explain_stages(&graph)
                )
            });
            let bytes = encode_plan(Arc::clone(&fragment)).unwrap();
            let decoded = decode_plan(&bytes, &task_ctx).unwrap_or_else(|e| {
                panic!(
                    "{sql}: stage {} task {task} does not decode: {e}\n{}",
                    stage.id,
                    explain_stages(&graph)
                )
            });
            check_fragment(&decoded)
                .unwrap_or_else(|e| panic!("{sql}: stage {} task {task} decoded: {e}", stage.id));
            names(&decoded, &mut operators);
        }
    }
    assert!(
        graph.stages.iter().any(|s| s.tasks > 1),
        "{sql}: nothing was split, so nothing was tested:\n{}",
        explain_stages(&graph)
    );
    operators
}

/// Each case: the operator that must survive the cut, a query that makes
/// DataFusion plan it, and the settings that steer it there.
const CASES: &[(&str, &str, &[&str])] = &[
    (
        // A union of two aggregates on one key under an aggregate on that
        // key: DataFusion interleaves the union's inputs partition by
        // partition, and asserts on construction that they are hashed alike.
        "InterleaveExec",
        "SELECT k, sum(c) FROM (
             SELECT l_suppkey AS k, count(*) AS c FROM lineitem GROUP BY l_suppkey
             UNION ALL
             SELECT l_suppkey AS k, count(*) AS c FROM lineitem WHERE l_quantity > 10 GROUP BY l_suppkey
         ) GROUP BY k",
        &[],
    ),
    (
        "UnionExec",
        "SELECT k, count(*) FROM (
             SELECT o_custkey AS k FROM orders UNION ALL SELECT c_custkey AS k FROM customer
         ) GROUP BY k",
        &[],
    ),
    (
        // Both sides of a partitioned hash join are shuffle readers: their
        // partitions must be hashed alike, index by index.
        "HashJoinExec",
        "SELECT o_orderpriority, count(*) FROM orders JOIN lineitem ON o_orderkey = l_orderkey
         GROUP BY o_orderpriority",
        &[
            "SET datafusion.optimizer.hash_join_single_partition_threshold = 0",
            "SET datafusion.optimizer.hash_join_single_partition_threshold_rows = 0",
        ],
    ),
    (
        "SortMergeJoinExec",
        "SELECT o_orderpriority, count(*) FROM orders JOIN lineitem ON o_orderkey = l_orderkey
         GROUP BY o_orderpriority",
        &["SET datafusion.optimizer.prefer_hash_join = false"],
    ),
    (
        // A window partitioned by a column a filter fixed: DataFusion sorts
        // only by the other column, and the window asserts when it is built
        // that the constant stands in for the rest (TPC-DS q47 and q57).
        "WindowAggExec",
        "SELECT l_returnflag, l_linestatus,
                sum(l_quantity) OVER (PARTITION BY l_returnflag, l_linestatus)
         FROM lineitem WHERE l_returnflag = 'R'",
        &[],
    ),
];

#[tokio::test]
async fn every_operator_keeps_its_inputs_partitioning_after_the_cut() {
    for (operator, sql, settings) in CASES {
        let mut settings = settings.to_vec();
        settings.push("SET datafusion.execution.target_partitions = 3");
        let mut before = Vec::new();
        names(&physical_plan(sql, &settings).await, &mut before);
        assert!(
            before.iter().any(|n| n == operator),
            "DataFusion no longer plans {operator} for this case: {before:?}"
        );
        for workers in [2, 3] {
            let after = every_fragment_holds(sql, &settings, workers).await;
            assert!(
                after.iter().any(|n| n == operator),
                "{operator} is gone from the fragments at {workers} workers: {after:?}"
            );
        }
    }
}

#[tokio::test]
async fn every_fragment_of_every_tpch_query_keeps_its_inputs_partitioning() {
    for q in 1..=22 {
        every_fragment_holds(
            hayate_tpch::query(q),
            &["SET datafusion.execution.target_partitions = 3"],
            3,
        )
        .await;
    }
}
