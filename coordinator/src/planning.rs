//! From SQL text to something the coordinator can run: a stage graph for a
//! query, or the finished rows of a statement that needs no workers (DDL,
//! `SET`, `EXPLAIN`).

use std::sync::Arc;

use datafusion::arrow::array::StringArray;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionContext;
use hayate_planner::{HayateOptions, SplitOptions, StageGraph, explain_stages, split_into_stages};

/// What a statement turned into.
pub enum Planned {
    /// A query to run over stages.
    Stages(StageGraph),
    /// Rows already known (the answer of `EXPLAIN`).
    Rows(Vec<RecordBatch>),
}

/// A planned statement with the schema of its answer.
pub struct PlannedStatement {
    pub schema: SchemaRef,
    pub planned: Planned,
}

/// Plans one SQL statement in `ctx`. DDL and `SET` take effect here, as in
/// DataFusion (the statement has run when planning returns).
pub async fn plan_statement(
    ctx: &SessionContext,
    sql: &str,
    workers: usize,
) -> Result<PlannedStatement> {
    let state = ctx.state();
    let logical = state.create_logical_plan(sql).await?;
    match logical {
        LogicalPlan::Explain(explain) => {
            let optimized = state.optimize(&explain.plan)?;
            let physical = state.create_physical_plan(&explain.plan).await?;
            let graph = split(ctx, physical, workers)?;
            let rows = vec![
                ("logical_plan", optimized.display_indent().to_string()),
                ("distributed_plan", explain_stages(&graph)),
            ];
            explain_rows(rows)
        }
        LogicalPlan::Analyze(_) => Err(DataFusionError::NotImplemented(
            "EXPLAIN ANALYZE is not supported yet; EXPLAIN shows the stage plan".into(),
        )),
        other => {
            let df = ctx.execute_logical_plan(other).await?;
            let physical = df.create_physical_plan().await?;
            let schema = physical.schema();
            let graph = split(ctx, physical, workers)?;
            Ok(PlannedStatement {
                schema,
                planned: Planned::Stages(graph),
            })
        }
    }
}

/// The answer schema of a statement, without running it (for prepared
/// statements, whose DDL must wait until they are executed).
pub async fn statement_schema(ctx: &SessionContext, sql: &str) -> Result<SchemaRef> {
    let logical = ctx.state().create_logical_plan(sql).await?;
    if matches!(logical, LogicalPlan::Explain(_) | LogicalPlan::Analyze(_)) {
        return Ok(explain_schema());
    }
    Ok(Arc::new(logical.schema().as_arrow().clone()))
}

fn split(ctx: &SessionContext, plan: Arc<dyn ExecutionPlan>, workers: usize) -> Result<StageGraph> {
    let state = ctx.state();
    let options = state
        .config_options()
        .extensions
        .get::<HayateOptions>()
        .cloned()
        .unwrap_or_default();
    split_into_stages(
        plan,
        SplitOptions {
            workers: workers.max(1),
            bytes_per_task: options.bytes_per_task,
            max_tasks_per_stage: options.max_tasks_per_stage,
        },
    )
}

fn explain_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("plan_type", DataType::Utf8, false),
        Field::new("plan", DataType::Utf8, false),
    ]))
}

fn explain_rows(rows: Vec<(&str, String)>) -> Result<PlannedStatement> {
    let schema = explain_schema();
    let batch = RecordBatch::try_new(
        Arc::clone(&schema),
        vec![
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))),
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| r.1.as_str()),
            )),
        ],
    )?;
    Ok(PlannedStatement {
        schema,
        planned: Planned::Rows(vec![batch]),
    })
}
