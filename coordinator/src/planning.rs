//! From SQL text to something the coordinator can run: a stage graph for a
//! query, or the finished rows of a statement that needs no workers (DDL,
//! `SET`, `EXPLAIN`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::file_table::{FileTable, without_statistics};
use crate::membership::Capacity;
use crate::parameters::{bind, number_placeholders, parameter_schema};
use crate::schema_sample::sample_schema;
use crate::time_partitions::TIME_COLUMN_OPTION;
use datafusion::arrow::array::StringArray;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::TableProvider;
use datafusion::common::ScalarValue;
use datafusion::datasource::listing::ListingTable;
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::cache::TableScopedPath;
use datafusion::execution::cache::cache_manager::CachedFileList;
use datafusion::execution::session_state::{SessionState, SessionStateBuilder};
use datafusion::logical_expr::{CreateExternalTable, DdlStatement, LogicalPlan};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::prelude::SessionContext;
use hayate_planner::{HayateOptions, SplitOptions, StageGraph, explain_stages, split_into_stages};
use hayate_search_index::SearchIndexOff;
use hayate_storage::{
    IoCounters, Replaced, StoreRegistry, counting_runtime, listing_cache_key, split_store_options,
};

/// What a statement turned into.
pub enum Planned {
    /// A query to run over stages.
    Stages(StageGraph),
    /// Rows already known (the answer of `EXPLAIN`).
    Rows(Vec<RecordBatch>),
    /// `EXPLAIN ANALYZE`: run the stages, then describe what they did.
    Analyze(StageGraph),
    /// A write that has run already, and its answer (the rows written).
    Written(Vec<RecordBatch>),
}

/// A planned statement with the schema of its answer.
pub struct PlannedStatement {
    pub schema: SchemaRef,
    pub planned: Planned,
    /// Time spent cutting the plan into stages (part of planning).
    pub split_time: Duration,
}

/// Plans one SQL statement in `ctx` for the workers of `capacity`. DDL and `SET`
/// take effect here, as in DataFusion (the statement has run when planning
/// returns); a query's planning I/O (listing, footers read for statistics)
/// counts into `io`.
pub async fn plan_statement(
    ctx: &SessionContext,
    stores: &StoreRegistry,
    sql: &str,
    parameters: Option<Vec<ScalarValue>>,
    capacity: Capacity,
    io: &Arc<IoCounters>,
) -> Result<PlannedStatement> {
    let workers = capacity.workers;
    if let Some(table) = refresh_target(sql) {
        return refresh_table(ctx, &table).await;
    }
    // One copy of the session for the whole statement: a copy holds every
    // function registry, and a short query should pay for it once.
    let state = ctx.state();
    let logical = logical_plan(&state, sql).await?;
    let logical = match parameters {
        Some(values) => bind(logical, values)?,
        None => logical,
    };
    let options = hayate_options(&state);
    let search_index = options.search_index;
    // A query plans in a view of the session whose stores count its I/O
    // (built only for statements that read tables, not for `SET` or DDL).
    // With one worker every stage is one task and nothing is shuffled over
    // the network: the plan is DataFusion's own, without extra broadcasts.
    let counting_state = move || -> Result<SessionState> {
        let runtime = counting_runtime(state.runtime_env(), io)?;
        let mut state = SessionStateBuilder::new_from_existing(state)
            .with_runtime_env(runtime)
            .build();
        // Table scans count what the search index saved into the same
        // counters.
        state.config_mut().set_extension(Arc::clone(io));
        if !search_index {
            state.config_mut().set_extension(Arc::new(SearchIndexOff));
        }
        if workers <= 1
            && let Some(options) = state
                .config_mut()
                .options_mut()
                .extensions
                .get_mut::<HayateOptions>()
        {
            options.broadcast_join_bytes = 0;
        }
        Ok(state)
    };
    let cut = |plan| split(plan, capacity, &options);
    match logical {
        LogicalPlan::Explain(explain) => {
            let state = counting_state()?;
            let optimized = state.optimize(&explain.plan)?;
            let physical = state.create_physical_plan(&explain.plan).await?;
            let (graph, _) = cut(physical)?;
            let rows = vec![
                ("logical_plan", optimized.display_indent().to_string()),
                ("distributed_plan", explain_stages(&graph)),
            ];
            explain_rows(rows)
        }
        LogicalPlan::Analyze(analyze) => {
            let physical = counting_state()?
                .create_physical_plan(&analyze.input)
                .await?;
            let (graph, split_time) = cut(physical)?;
            Ok(PlannedStatement {
                schema: explain_schema(),
                planned: Planned::Analyze(graph),
                split_time,
            })
        }
        LogicalPlan::Ddl(DdlStatement::CreateExternalTable(mut create)) => {
            let time_column = create.options.remove(TIME_COLUMN_OPTION);
            let replaced = configure_table_store(stores, &mut create)?;
            let name = create.name.clone();
            let exists = create.if_not_exists && ctx.table_exist(name.clone())?;
            let files = match exists {
                true => 0,
                false => match sample_schema(&ctx.state(), &mut create).await {
                    Ok(files) => files,
                    Err(e) => {
                        replaced.into_iter().for_each(|r| stores.restore(r));
                        return Err(e);
                    }
                },
            };
            let plan = LogicalPlan::Ddl(DdlStatement::CreateExternalTable(create));
            // DataFusion reads every file's footer at CREATE to warm its
            // statistics cache; a table too large for statistics is created
            // without (the same catalog, through a copy of the session).
            let created = match without_statistics(&ctx.state(), files) {
                Some(quiet) => {
                    SessionContext::new_with_state(quiet)
                        .execute_logical_plan(plan)
                        .await
                }
                None => ctx.execute_logical_plan(plan).await,
            };
            if let Err(e) = created {
                // A table that is not created leaves the bucket's store as it was.
                replaced.into_iter().for_each(|r| stores.restore(r));
                return Err(e);
            }
            let table = ctx.table_provider(name.clone()).await?;
            // `IF NOT EXISTS` of a table defined before leaves it as it is,
            // its cached listing included.
            if table.downcast_ref::<FileTable>().is_none() {
                // What CREATE listed, which dropping the table forgets: a
                // table of 100,000 files is not listed again at once.
                let listed = cached_listings(ctx, table.as_ref());
                let wrapped = wrap_file_table(table, time_column.as_deref());
                // Replaced by a file table, or dropped if an option is wrong.
                ctx.deregister_table(name.clone())?;
                ctx.register_table(name, wrapped?)?;
                if let Some(cache) = ctx.runtime_env().cache_manager.get_list_files_cache() {
                    for (key, listing) in listed {
                        cache.put(&key, listing);
                    }
                }
            }
            empty_result()
        }
        ddl @ (LogicalPlan::Ddl(_) | LogicalPlan::Statement(_)) => {
            ctx.execute_logical_plan(ddl).await?;
            empty_result()
        }
        other => {
            let physical = counting_state()?.create_physical_plan(&other).await?;
            let schema = physical.schema();
            let (graph, split_time) = cut(physical)?;
            Ok(PlannedStatement {
                schema,
                planned: Planned::Stages(graph),
                split_time,
            })
        }
    }
}

/// What preparing a statement announces, without running it (its DDL must
/// wait until it is executed): the schema of its answer and of the
/// parameters it takes.
pub async fn statement_schemas(ctx: &SessionContext, sql: &str) -> Result<(SchemaRef, SchemaRef)> {
    let none = || Arc::new(Schema::empty());
    if refresh_target(sql).is_some() {
        return Ok((none(), none()));
    }
    let state = ctx.state();
    let logical = logical_plan(&state, sql).await?;
    let parameters = parameter_schema(&logical)?;
    let answer = match logical {
        LogicalPlan::Explain(_) | LogicalPlan::Analyze(_) => explain_schema(),
        // DDL and `SET` answer with no columns when they run.
        LogicalPlan::Ddl(_) | LogicalPlan::Statement(_) => none(),
        // Until its parameters are bound, the logical plan is all there is.
        query if !parameters.fields().is_empty() => Arc::new(query.schema().as_arrow().clone()),
        // The schema the rows will carry: the physical plan's, which can be
        // more exact than the logical one (a decimal's precision).
        query => state.create_physical_plan(&query).await?.schema(),
    };
    Ok((answer, parameters))
}

/// The logical plan of `sql`, its `?` placeholders numbered.
async fn logical_plan(state: &SessionState, sql: &str) -> Result<LogicalPlan> {
    let dialect = &state.config_options().sql_parser.dialect;
    let sql = number_placeholders(sql, dialect.as_ref())?;
    state.create_logical_plan(&sql).await
}

/// Hayate's settings in `state`.
fn hayate_options(state: &SessionState) -> HayateOptions {
    state
        .config_options()
        .extensions
        .get::<HayateOptions>()
        .cloned()
        .unwrap_or_default()
}

/// Hayate's settings in session `ctx`, read without copying the session.
pub fn session_options(ctx: &SessionContext) -> HayateOptions {
    hayate_options(&ctx.state_ref().read())
}

/// The stage graph of `plan`, and how long cutting it took.
fn split(
    plan: Arc<dyn ExecutionPlan>,
    capacity: Capacity,
    options: &HayateOptions,
) -> Result<(StageGraph, Duration)> {
    let started = Instant::now();
    let graph = split_into_stages(
        plan,
        SplitOptions {
            workers: capacity.workers.max(1),
            bytes_per_task: options.task_bytes(capacity.smallest_cores),
            max_tasks_per_stage: options.max_tasks_per_stage,
        },
    )?;
    Ok((graph, started.elapsed()))
}

/// A table's `aws.*` options configure the store of its bucket (over the
/// coordinator's defaults); DataFusion sees only the format options.
fn configure_table_store(
    stores: &StoreRegistry,
    create: &mut CreateExternalTable,
) -> Result<Vec<Replaced>> {
    let options = split_store_options(&mut create.options)?;
    let mut replaced = Vec::new();
    if options.is_empty() {
        return Ok(replaced);
    }
    for location in &create.locations {
        let not_s3 = || {
            DataFusionError::Plan(format!(
                "aws.* options need an s3:// location, not {location}"
            ))
        };
        let url = url::Url::parse(location).map_err(|_| not_s3())?;
        if url.scheme() != "s3" {
            return Err(not_s3());
        }
        replaced.push(stores.configure(&url, &options)?);
    }
    Ok(replaced)
}

/// A new table as Hayate serves it: a file table ([`FileTable`]) with its
/// time column, if it names one.
fn wrap_file_table(
    table: Arc<dyn TableProvider>,
    time_column: Option<&str>,
) -> Result<Arc<dyn TableProvider>> {
    let any: Arc<dyn std::any::Any + Send + Sync> = table.clone();
    match any.downcast::<ListingTable>() {
        Ok(listing) => Ok(Arc::new(FileTable::try_new(listing, time_column)?)),
        Err(_) if time_column.is_some() => Err(DataFusionError::Plan(format!(
            "{TIME_COLUMN_OPTION} needs a table of files"
        ))),
        Err(_) => Ok(table),
    }
}

/// The cached listings of a table's locations.
fn cached_listings(
    ctx: &SessionContext,
    table: &dyn TableProvider,
) -> Vec<(TableScopedPath, CachedFileList)> {
    let (Some(listing), Some(cache)) = (
        listing_table(table),
        ctx.runtime_env().cache_manager.get_list_files_cache(),
    ) else {
        return Vec::new();
    };
    listing
        .table_paths()
        .iter()
        .map(listing_cache_key)
        .filter_map(|key| cache.get(&key).map(|listing| (key, listing)))
        .collect()
}

/// The listing table under a file table.
pub fn listing_table(table: &dyn TableProvider) -> Option<&ListingTable> {
    match table.downcast_ref::<FileTable>() {
        Some(file) => Some(file.listing()),
        None => table.downcast_ref::<ListingTable>(),
    }
}

/// `REFRESH TABLE name`: the table's next query lists its files again and
/// rereads their statistics instead of using the cached ones.
fn refresh_target(sql: &str) -> Option<String> {
    let words: Vec<&str> = sql
        .trim()
        .trim_end_matches(';')
        .split_whitespace()
        .collect();
    match words.as_slice() {
        [refresh, table, name]
            if refresh.eq_ignore_ascii_case("refresh") && table.eq_ignore_ascii_case("table") =>
        {
            Some(name.to_string())
        }
        _ => None,
    }
}

async fn refresh_table(ctx: &SessionContext, name: &str) -> Result<PlannedStatement> {
    let provider = ctx.table_provider(name).await?;
    let caches = &ctx.runtime_env().cache_manager;
    if let Some(listing) = listing_table(provider.as_ref()) {
        for path in listing.table_paths() {
            if let Some(table) = path.get_table_ref() {
                if let Some(cache) = caches.get_list_files_cache() {
                    cache.drop_table_entries(table)?;
                }
                if let Some(cache) = caches.get_file_statistic_cache() {
                    cache.drop_table_entries(table)?;
                }
            }
        }
    }
    empty_result()
}

fn empty_result() -> Result<PlannedStatement> {
    let schema: SchemaRef = Arc::new(Schema::empty());
    Ok(PlannedStatement {
        schema: Arc::clone(&schema),
        planned: Planned::Rows(vec![]),
        split_time: Duration::ZERO,
    })
}

pub fn explain_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("plan_type", DataType::Utf8, false),
        Field::new("plan", DataType::Utf8, false),
    ]))
}

/// Rows of `(plan_type, plan)`, as DataFusion's EXPLAIN answers.
pub fn explain_result(rows: Vec<(&str, String)>) -> Result<Vec<RecordBatch>> {
    let batch = RecordBatch::try_new(
        explain_schema(),
        vec![
            Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.0))),
            Arc::new(StringArray::from_iter_values(
                rows.iter().map(|r| r.1.as_str()),
            )),
        ],
    )?;
    Ok(vec![batch])
}

fn explain_rows(rows: Vec<(&str, String)>) -> Result<PlannedStatement> {
    Ok(PlannedStatement {
        schema: explain_schema(),
        planned: Planned::Rows(explain_result(rows)?),
        split_time: Duration::ZERO,
    })
}
