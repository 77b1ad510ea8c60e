//! Hayate's broadcast rule: a partitioned join whose build side is small
//! broadcasts it (the probe side is not shuffled), unless its join type
//! emits build-side rows; those keep their hash partitioning, so they still
//! spread over tasks.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::physical_plan::joins::{HashJoinExec, PartitionMode};
use datafusion::physical_plan::{ExecutionPlan, displayable};
use datafusion::prelude::{SessionConfig, SessionContext};
use hayate_planner::{
    ExchangeKind, HayateOptions, SplitOptions, StageGraph, explain_stages,
    physical_optimizer_rules, split_into_stages,
};

fn data_dir() -> &'static str {
    static DIR: OnceLock<String> = OnceLock::new();
    DIR.get_or_init(|| {
        hayate_tpch::generate_dir(&PathBuf::from(env!("CARGO_TARGET_TMPDIR")), 0.01).unwrap()
    })
}

/// A session with Hayate's optimizer rules, where DataFusion itself would
/// partition every hash join (its collect thresholds are zero), and
/// `broadcast_join_bytes` as given.
async fn context(broadcast_join_bytes: u64) -> SessionContext {
    let mut config = SessionConfig::new().with_target_partitions(2);
    let options = config.options_mut();
    options.optimizer.hash_join_single_partition_threshold = 0;
    options.optimizer.hash_join_single_partition_threshold_rows = 0;
    options
        .optimizer
        .enable_physical_uncorrelated_scalar_subquery = false;
    let mut hayate = HayateOptions::default();
    hayate.broadcast_join_bytes = broadcast_join_bytes;
    options.extensions.insert(hayate);
    let state = SessionStateBuilder::new()
        .with_config(config)
        .with_default_features()
        .with_physical_optimizer_rules(physical_optimizer_rules())
        .build();
    let ctx = SessionContext::new_with_state(state);
    for ddl in hayate_tpch::create_table_statements(data_dir()) {
        ctx.sql(&ddl).await.unwrap();
    }
    ctx
}

async fn split(sql: &str, broadcast_join_bytes: u64) -> StageGraph {
    let plan = context(broadcast_join_bytes)
        .await
        .sql(sql)
        .await
        .unwrap()
        .create_physical_plan()
        .await
        .unwrap();
    let options = SplitOptions {
        workers: 3,
        bytes_per_task: 1,
        max_tasks_per_stage: 0,
    };
    split_into_stages(plan, options).unwrap()
}

fn joins(plan: &Arc<dyn ExecutionPlan>, out: &mut Vec<(String, PartitionMode)>) {
    if let Some(j) = plan.downcast_ref::<HashJoinExec>() {
        out.push((format!("{:?}", j.join_type()), *j.partition_mode()));
    }
    for c in plan.children() {
        joins(c, out);
    }
}

fn all_joins(g: &StageGraph) -> Vec<(String, PartitionMode)> {
    let mut out = Vec::new();
    for s in &g.stages {
        joins(&s.plan, &mut out);
    }
    out
}

fn exchanges(g: &StageGraph) -> Vec<ExchangeKind> {
    g.stages.iter().filter_map(|s| s.output).collect()
}

const INNER: &str = "SELECT o_orderpriority, sum(l_extendedprice) FROM lineitem JOIN orders \
     ON l_orderkey = o_orderkey WHERE o_orderdate < DATE '1993-01-01' GROUP BY o_orderpriority";

#[tokio::test]
async fn a_small_build_side_is_broadcast_and_the_probe_side_stays_put() {
    let g = split(INNER, 32 << 20).await;
    let text = explain_stages(&g);
    assert_eq!(
        all_joins(&g),
        vec![("Inner".to_string(), PartitionMode::CollectLeft)],
        "{text}"
    );
    assert!(exchanges(&g).contains(&ExchangeKind::Broadcast), "{text}");
    // The only shuffle left is the aggregate's, after the join.
    let join_stage = g
        .stages
        .iter()
        .find(|s| {
            displayable(s.plan.as_ref())
                .indent(true)
                .to_string()
                .contains("HashJoinExec")
        })
        .unwrap();
    assert!(
        join_stage.tasks > 1,
        "the probe side spreads over tasks:\n{text}"
    );
    assert!(
        !displayable(join_stage.plan.as_ref())
            .indent(true)
            .to_string()
            .contains("RepartitionExec: partitioning=Hash([l_orderkey"),
        "lineitem is not shuffled by the join key:\n{text}"
    );
}

#[tokio::test]
async fn without_the_setting_both_sides_are_shuffled() {
    let g = split(INNER, 0).await;
    let text = explain_stages(&g);
    assert_eq!(
        all_joins(&g),
        vec![("Inner".to_string(), PartitionMode::Partitioned)],
        "{text}"
    );
    assert!(!exchanges(&g).contains(&ExchangeKind::Broadcast), "{text}");
}

#[tokio::test]
async fn joins_that_emit_build_side_rows_stay_partitioned_and_split() {
    // Customers without orders: the build side (customer, the smaller) must
    // see every probe row, which only hash partitioning gives over tasks.
    let sql = "SELECT c_custkey, count(o_orderkey) FROM customer LEFT JOIN orders \
               ON c_custkey = o_custkey GROUP BY c_custkey";
    let g = split(sql, 32 << 20).await;
    let text = explain_stages(&g);
    for (join_type, mode) in all_joins(&g) {
        if join_type == "Left" || join_type == "Full" {
            assert_eq!(mode, PartitionMode::Partitioned, "{text}");
        }
    }
    assert!(
        g.stages.iter().all(|s| s
            .single_task_reason
            .as_deref()
            .is_none_or(|r| !r.contains("build-side"))),
        "no stage is held to one task by its join:\n{text}"
    );
}
