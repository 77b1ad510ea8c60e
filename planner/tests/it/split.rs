use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use datafusion::datasource::physical_plan::FileScanConfig;
use datafusion::datasource::source::DataSourceExec;
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::{
    ExecutionPlan, ExecutionPlanProperties, Partitioning, displayable,
};
use datafusion::prelude::{SessionConfig, SessionContext};
use hayate_planner::{
    ExchangeKind, Placement, ProducerLayout, SplitOptions, StageGraph, decode_plan, encode_plan,
    explain_stages, reader_sources, single_task_reason, split_into_stages, task_plan,
};

fn data_dir() -> &'static str {
    static DIR: OnceLock<String> = OnceLock::new();
    DIR.get_or_init(|| {
        hayate_tpch::generate_dir(&PathBuf::from(env!("CARGO_TARGET_TMPDIR")), 0.01).unwrap()
    })
}

async fn context(settings: &[&str]) -> SessionContext {
    let mut config = SessionConfig::new().with_target_partitions(2);
    config
        .options_mut()
        .optimizer
        .enable_physical_uncorrelated_scalar_subquery = false;
    let ctx = SessionContext::new_with_config(config);
    for ddl in hayate_tpch::create_table_statements(data_dir()) {
        ctx.sql(&ddl).await.unwrap();
    }
    for s in settings {
        ctx.sql(s).await.unwrap();
    }
    ctx
}

/// DataFusion's physical plan of `sql` over the TPC-H tables.
pub(crate) async fn physical_plan(sql: &str, settings: &[&str]) -> Arc<dyn ExecutionPlan> {
    context(settings)
        .await
        .sql(sql)
        .await
        .unwrap()
        .create_physical_plan()
        .await
        .unwrap()
}

pub(crate) async fn split(
    sql: &str,
    workers: usize,
    bytes_per_task: u64,
    settings: &[&str],
) -> StageGraph {
    let plan = physical_plan(sql, settings).await;
    split_into_stages(
        plan,
        SplitOptions {
            workers,
            bytes_per_task,
            max_tasks_per_stage: 0,
        },
    )
    .unwrap()
}

fn outputs(graph: &StageGraph) -> Vec<Option<ExchangeKind>> {
    graph.stages.iter().map(|s| s.output).collect()
}

#[tokio::test]
async fn aggregation_gets_a_shuffle_and_a_sorted_gather() {
    let g = split(
        "SELECT l_returnflag, count(*) FROM lineitem GROUP BY 1 ORDER BY 1",
        2,
        1,
        &[],
    )
    .await;
    assert_eq!(
        outputs(&g),
        vec![
            Some(ExchangeKind::Shuffle),
            Some(ExchangeKind::Gather),
            None
        ],
        "{}",
        explain_stages(&g)
    );
    assert_eq!(g.root().placement, Placement::Coordinator);
    assert!(
        g.root().plan.name() == "SortPreservingMergeExec",
        "{}",
        explain_stages(&g)
    );
    assert_eq!(g.stages[0].tasks, 2);
    assert_eq!(
        g.stages[1].tasks, 2,
        "the shuffle consumer follows its producers"
    );
}

#[tokio::test]
async fn small_inputs_stay_on_one_task() {
    let g = split(
        "SELECT l_returnflag, count(*) FROM lineitem GROUP BY 1",
        3,
        64 << 20,
        &[],
    )
    .await;
    assert!(
        g.worker_stages().all(|s| s.tasks == 1),
        "{}",
        explain_stages(&g)
    );
}

#[tokio::test]
async fn tasks_are_bounded_by_workers_and_files() {
    let g = split(
        "SELECT count(*) FROM lineitem WHERE l_quantity > 1",
        8,
        1,
        &[],
    )
    .await;
    // A task reads whole file slices: more workers than slices cannot make
    // more tasks.
    let mut slices = Vec::new();
    files_of(&g.stages[0].plan, &mut slices);
    assert!(slices.len() < 8);
    assert_eq!(g.stages[0].tasks, slices.len(), "{}", explain_stages(&g));
    let g = split(
        "SELECT count(*) FROM lineitem WHERE l_quantity > 1",
        2,
        1,
        &[],
    )
    .await;
    assert_eq!(g.stages[0].tasks, 2);
}

#[tokio::test]
async fn a_small_build_side_is_broadcast() {
    let g = split(
        "SELECT s_name, count(*) FROM lineitem JOIN supplier ON l_suppkey = s_suppkey GROUP BY s_name",
        3,
        1,
        &[],
    )
    .await;
    let text = explain_stages(&g);
    assert!(
        outputs(&g).contains(&Some(ExchangeKind::Broadcast)),
        "{text}"
    );
}

#[tokio::test]
async fn outer_joins_that_emit_build_rows_run_as_one_task() {
    let g = split(
        "SELECT n_name, count(s_suppkey) FROM nation LEFT JOIN supplier ON n_nationkey = s_nationkey GROUP BY n_name",
        3,
        1,
        &[
            "SET datafusion.optimizer.hash_join_single_partition_threshold = 1000000000",
            "SET datafusion.optimizer.hash_join_single_partition_threshold_rows = 1000000000",
        ],
    )
    .await;
    let text = explain_stages(&g);
    let (stage, join) = g
        .stages
        .iter()
        .find_map(|s| find(&s.plan, "HashJoinExec").map(|j| (s, j)))
        .expect("a join stage");
    let join_text = displayable(join.as_ref()).one_line().to_string();
    if join_text.contains("join_type=Left") || join_text.contains("join_type=Full") {
        assert_eq!(stage.tasks, 1, "{text}");
        let reason = single_task_reason(&join).unwrap_or_default();
        assert!(reason.contains("build-side"), "{reason}\n{text}");
    } else {
        // DataFusion swapped the inputs so the outer side probes: splitting is safe.
        assert!(join_text.contains("join_type=Right"), "{text}");
    }
}

fn find(plan: &Arc<dyn ExecutionPlan>, name: &str) -> Option<Arc<dyn ExecutionPlan>> {
    if plan.name() == name {
        return Some(Arc::clone(plan));
    }
    plan.children().into_iter().find_map(|c| find(c, name))
}

#[tokio::test]
async fn queries_without_files_run_in_the_coordinator() {
    let g = split("SELECT 1 + 1", 3, 1, &[]).await;
    assert_eq!(g.stages.len(), 1);
    assert_eq!(g.root().placement, Placement::Coordinator);
    // A plain scan gets a gather on top, so that workers read the files.
    let g = split("SELECT * FROM nation LIMIT 3", 3, 1, &[]).await;
    assert!(g.stages.len() >= 2, "{}", explain_stages(&g));
    assert!(g.worker_task_count() >= 1);
}

fn files_of(plan: &Arc<dyn ExecutionPlan>, out: &mut Vec<String>) {
    if let Some(ds) = plan.downcast_ref::<DataSourceExec>()
        && let Some(config) = ds.data_source().downcast_ref::<FileScanConfig>()
    {
        for g in &config.file_groups {
            for f in g.iter() {
                let range = f.range.as_ref().map(|r| (r.start, r.end));
                out.push(format!("{}{range:?}", f.object_meta.location));
            }
        }
    }
    for c in plan.children() {
        files_of(c, out);
    }
}

#[tokio::test]
async fn tasks_read_disjoint_slices_and_shuffles_widen_per_consumer() {
    let g = split(
        "SELECT l_returnflag, count(*) FROM lineitem GROUP BY 1",
        3,
        1,
        &[],
    )
    .await;
    let scan = &g.stages[0];
    let consumer_tasks = g.stage(scan.consumer.unwrap()).tasks;
    let mut all = Vec::new();
    files_of(&scan.plan, &mut all);
    let mut seen = Vec::new();
    for t in 0..scan.tasks {
        let plan = task_plan(scan, t, consumer_tasks, &|_| {
            unreachable!("a scan stage has no readers")
        })
        .unwrap();
        let mut mine = Vec::new();
        files_of(&plan, &mut mine);
        assert!(!mine.is_empty(), "task {t} reads something");
        seen.extend(mine);
        let rep = plan
            .downcast_ref::<RepartitionExec>()
            .expect("shuffle producer");
        let Partitioning::Hash(_, width) = rep.partitioning() else {
            panic!("hash")
        };
        assert_eq!(
            *width,
            2 * consumer_tasks,
            "P partitions for each consumer task"
        );
    }
    let unique: HashSet<_> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no file slice read twice");
    let mut seen_sorted = seen.clone();
    seen_sorted.sort();
    all.sort();
    assert_eq!(seen_sorted, all, "every file slice read once");
}

#[tokio::test]
async fn task_plans_survive_the_wire() {
    let g = split(
        "SELECT l_returnflag, count(*) FROM lineitem GROUP BY 1 ORDER BY 1",
        2,
        1,
        &[],
    )
    .await;
    let producer = &g.stages[0];
    let layout = ProducerLayout {
        run: hayate_protocol::QueryRun::new("q", 1),
        stage_id: 0,
        addresses: vec!["http://a:1".into(), "http://b:2".into()],
        partitions: vec![4, 4],
    };
    let consumer = &g.stages[1];
    let plan = task_plan(consumer, 1, 1, &|reader| {
        Ok(reader_sources(reader, &layout, 1))
    })
    .unwrap();
    let bytes = encode_plan(Arc::clone(&plan)).unwrap();
    let ctx = SessionContext::new();
    let decoded = decode_plan(&bytes, &ctx.task_ctx()).unwrap();
    assert_eq!(
        displayable(plan.as_ref()).indent(true).to_string(),
        displayable(decoded.as_ref()).indent(true).to_string()
    );
    let _ = producer;
    // Consumer task 1 of a 2-wide shuffle reads partitions 2 and 3 of every producer.
    let text = format!("{decoded:?}");
    assert!(
        text.contains("partition: 2") && text.contains("partition: 3"),
        "{text}"
    );
    assert!(!text.contains("partition: 0,"), "{text}");
    assert_eq!(decoded.output_partitioning().partition_count(), 2);
}
