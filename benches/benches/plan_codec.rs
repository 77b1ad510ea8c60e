//! Encoding plan fragments for workers and decoding them there: paid once
//! per task launch. The fragments are the worker stages of TPC-H queries
//! over Parquet files (SF 0.01, generated into a temporary directory), cut
//! for two workers as the coordinator cuts them.

use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::{SessionConfig, SessionContext};
use hayate_planner::{SplitOptions, decode_plan, encode_plan, split_into_stages};

fn fragments(
    q: usize,
    ctx: &SessionContext,
    runtime: &tokio::runtime::Runtime,
) -> Vec<Arc<dyn ExecutionPlan>> {
    let plan = runtime
        .block_on(async {
            ctx.sql(hayate_tpch::query(q))
                .await?
                .create_physical_plan()
                .await
        })
        .expect("plans");
    let options = SplitOptions {
        workers: 2,
        bytes_per_task: 1,
        max_tasks_per_stage: 0,
    };
    split_into_stages(plan, options)
        .expect("splits")
        .worker_stages()
        .map(|s| Arc::clone(&s.plan))
        .collect()
}

fn plan_codec(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let base = hayate_tpch::generate_dir(dir.path(), 0.01).expect("TPC-H data");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(2));
    runtime.block_on(async {
        for ddl in hayate_tpch::create_table_statements(&base) {
            ctx.sql(&ddl)
                .await
                .expect("ddl")
                .collect()
                .await
                .expect("ddl");
        }
    });
    let task = ctx.task_ctx();
    for q in [1, 9, 18] {
        let stages = fragments(q, &ctx, &runtime);
        let encoded: Vec<Vec<u8>> = stages
            .iter()
            .map(|p| encode_plan(Arc::clone(p)).expect("encodes"))
            .collect();
        c.bench_function(&format!("encode q{q} worker stages"), |b| {
            b.iter(|| {
                for p in &stages {
                    encode_plan(Arc::clone(p)).expect("encodes");
                }
            })
        });
        c.bench_function(&format!("decode q{q} worker stages"), |b| {
            b.iter(|| {
                for bytes in &encoded {
                    decode_plan(bytes, &task).expect("decodes");
                }
            })
        });
    }
}

criterion_group!(benches, plan_codec);
criterion_main!(benches);
