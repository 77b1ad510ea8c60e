//! One pass over a DataFusion physical plan that decides where exchanges go,
//! then a second that decides how many tasks each stage gets.
//!
//! Cuts:
//! - a hash `RepartitionExec` becomes a network **shuffle**: the repartition
//!   stays at the root of the producer stage (its partition count is widened
//!   per consumer task when tasks are built), the consumer reads a reader;
//! - the input of `CoalescePartitionsExec` / `SortPreservingMergeExec` becomes
//!   a **gather**: the merge stays in the consumer, over a reader whose
//!   partitions are the producer tasks' partitions (so a sort-preserving
//!   merge still merges sorted streams);
//! - the build side of a `CollectLeft` hash join, a cross join or a nested
//!   loop join becomes a **broadcast**: every task of the probe side reads
//!   the whole build side.
//!
//! Then a stage is split over several tasks only when that is provably
//! correct: its inputs are file scans (split by files) or shuffle slices, and
//! no operator in it needs to see all rows at once (see [`single_task_reason`]).

use std::sync::Arc;

use datafusion::common::{DataFusionError, JoinType, Result};
use datafusion::datasource::physical_plan::FileScanConfig;
use datafusion::datasource::sink::DataSinkExec;
use datafusion::datasource::source::DataSourceExec;
use datafusion::physical_expr::Distribution;
use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use datafusion::physical_plan::joins::{
    CrossJoinExec, HashJoinExec, NestedLoopJoinExec, PartitionMode,
};
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::scalar_subquery::ScalarSubqueryExec;
use datafusion::physical_plan::sorts::sort_preserving_merge::SortPreservingMergeExec;
use datafusion::physical_plan::{
    ExecutionPlan, ExecutionPlanProperties, Partitioning, replace_children_if_necessary,
};

use crate::exchange::{ExchangeKind, ExchangeReaderExec};
use crate::slice::{file_bytes, split_units};
use crate::stage::{Placement, Stage, StageGraph};

/// What the task-count decision needs to know about the cluster and session.
#[derive(Debug, Clone, Copy)]
pub struct SplitOptions {
    /// Live workers; no stage gets more tasks than this.
    pub workers: usize,
    pub bytes_per_task: u64,
    /// 0 means no bound beyond `workers`.
    pub max_tasks_per_stage: usize,
}

/// Cuts `plan` into a stage graph.
pub fn split_into_stages(
    plan: Arc<dyn ExecutionPlan>,
    options: SplitOptions,
) -> Result<StageGraph> {
    reject_unshippable(&plan)?;
    let mut cutter = Cutter::default();
    if !contains_file_scan(&plan) {
        // Nothing to read from storage (VALUES, in-memory and system tables
        // such as information_schema, which live here): the coordinator runs
        // the whole plan, exchanges and all, and no worker is involved.
        cutter.add(plan, None);
        let mut stages = cutter.stages;
        stages[0].placement = Placement::Coordinator;
        return Ok(StageGraph { stages });
    }
    let mut root = cutter.cut(plan)?;
    let reads_shuffle = readers_of(&root)
        .iter()
        .any(|r| r.kind() == ExchangeKind::Shuffle);
    if contains_file_scan(&root) || reads_shuffle {
        // The coordinator only merges what workers produce: scans, and the
        // per-key work that follows a shuffle, run on workers under a gather.
        root = cutter.gather_root(root)?;
    }
    let root_id = cutter.stages.len();
    cutter.add(root, None);
    let mut stages = cutter.stages;
    stages[root_id].placement = Placement::Coordinator;
    assign_tasks(&mut stages, options);
    let stages = crate::fuse::fuse_single_task_exchanges(stages)?;
    Ok(StageGraph { stages })
}

#[derive(Default)]
struct Cutter {
    stages: Vec<Stage>,
}

impl Cutter {
    fn add(&mut self, plan: Arc<dyn ExecutionPlan>, output: Option<ExchangeKind>) -> usize {
        let id = self.stages.len();
        let inputs = readers_of(&plan)
            .iter()
            .map(|r| (r.input_stage(), r.kind()))
            .collect::<Vec<_>>();
        for (input, _) in &inputs {
            self.stages[*input].consumer = Some(id);
        }
        let (scan_bytes, scan_units) = scan_size(&plan);
        self.stages.push(Stage {
            id,
            plan,
            output,
            consumer: None,
            inputs,
            tasks: 1,
            placement: Placement::Workers,
            single_task_reason: None,
            scan_bytes,
            scan_units,
        });
        id
    }

    fn reader(
        &mut self,
        producer: Arc<dyn ExecutionPlan>,
        kind: ExchangeKind,
    ) -> Arc<ExchangeReaderExec> {
        let reader = ExchangeReaderExec::unresolved(kind, self.stages.len(), &producer);
        let id = self.add(producer, Some(kind));
        debug_assert_eq!(id, reader.input_stage());
        Arc::new(reader)
    }

    fn gather_root(&mut self, root: Arc<dyn ExecutionPlan>) -> Result<Arc<dyn ExecutionPlan>> {
        if let Some(sink) = root.downcast_ref::<DataSinkExec>() {
            // An INSERT writes into the coordinator's catalog: keep the sink
            // here and gather only its input.
            let input = Arc::clone(sink.input());
            let gathered = self.gather_root(input)?;
            return replace_children_if_necessary(Arc::clone(&root), vec![gathered]);
        }
        let partitions = root.output_partitioning().partition_count();
        let reader: Arc<dyn ExecutionPlan> = self.reader(root, ExchangeKind::Gather);
        Ok(if partitions > 1 {
            Arc::new(CoalescePartitionsExec::new(reader))
        } else {
            reader
        })
    }

    fn cut(&mut self, plan: Arc<dyn ExecutionPlan>) -> Result<Arc<dyn ExecutionPlan>> {
        if let Some(rep) = plan.downcast_ref::<RepartitionExec>()
            && matches!(rep.partitioning(), Partitioning::Hash(..))
        {
            let child = self.cut(Arc::clone(rep.input()))?;
            let producer = replace_children_if_necessary(Arc::clone(&plan), vec![child])?;
            return Ok(self.reader(producer, ExchangeKind::Shuffle));
        }
        if let Some(coalesce) = plan.downcast_ref::<CoalescePartitionsExec>() {
            let child = self.cut(Arc::clone(coalesce.input()))?;
            let reader = self.reader(child, ExchangeKind::Gather);
            return Ok(Arc::new(
                CoalescePartitionsExec::new(reader).with_fetch(coalesce.fetch()),
            ));
        }
        if let Some(merge) = plan.downcast_ref::<SortPreservingMergeExec>() {
            let child = self.cut(Arc::clone(merge.input()))?;
            let reader = self.reader(child, ExchangeKind::Gather);
            return Ok(Arc::new(
                SortPreservingMergeExec::new(merge.expr().clone(), reader)
                    .with_fetch(merge.fetch()),
            ));
        }
        if collects_left_side(&plan) {
            let children = plan.children();
            let left = self.broadcast(Arc::clone(children[0]))?;
            let right = self.cut(Arc::clone(children[1]))?;
            return replace_children_if_necessary(plan, vec![left, right]);
        }
        let children = plan.children();
        if children.is_empty() {
            return Ok(plan);
        }
        let new_children = children
            .into_iter()
            .map(|c| self.cut(Arc::clone(c)))
            .collect::<Result<Vec<_>>>()?;
        replace_children_if_necessary(plan, new_children)
    }

    /// Makes the whole of a join's build side available to every probe task.
    fn broadcast(&mut self, build: Arc<dyn ExecutionPlan>) -> Result<Arc<dyn ExecutionPlan>> {
        let inner = match build.downcast_ref::<CoalescePartitionsExec>() {
            Some(c) => Arc::clone(c.input()),
            None => build,
        };
        let producer = self.cut(inner)?;
        let reader = self.reader(producer, ExchangeKind::Broadcast);
        Ok(Arc::new(CoalescePartitionsExec::new(reader)))
    }
}

/// Operators that share state with other parts of the plan through memory
/// cannot be cut into stages on different machines.
fn reject_unshippable(plan: &Arc<dyn ExecutionPlan>) -> Result<()> {
    if plan.is::<ScalarSubqueryExec>() {
        return Err(DataFusionError::NotImplemented(
            "ScalarSubqueryExec cannot be distributed; keep \
             datafusion.optimizer.enable_physical_uncorrelated_scalar_subquery = false"
                .into(),
        ));
    }
    plan.children().into_iter().try_for_each(reject_unshippable)
}

/// True for joins that load their whole left input before probing.
fn collects_left_side(plan: &Arc<dyn ExecutionPlan>) -> bool {
    if let Some(join) = plan.downcast_ref::<HashJoinExec>() {
        return join.mode == PartitionMode::CollectLeft;
    }
    plan.is::<CrossJoinExec>() || plan.is::<NestedLoopJoinExec>()
}

/// Joins whose output depends on which build rows matched across *all* probe
/// rows (unmatched or matched-once build rows are emitted at the end). Split
/// over several tasks, each task would emit its own view of them: wrong rows.
fn emits_build_side_rows(join_type: JoinType) -> bool {
    !crate::broadcast::broadcast_safe(join_type)
}

/// The exchange readers that are leaves of a fragment.
pub(crate) fn readers_of(plan: &Arc<dyn ExecutionPlan>) -> Vec<&ExchangeReaderExec> {
    let mut out = Vec::new();
    fn walk<'a>(p: &'a Arc<dyn ExecutionPlan>, out: &mut Vec<&'a ExchangeReaderExec>) {
        if let Some(r) = p.downcast_ref::<ExchangeReaderExec>() {
            out.push(r);
        }
        for c in p.children() {
            walk(c, out);
        }
    }
    walk(plan, &mut out);
    out
}

pub(crate) fn file_scan_config(plan: &Arc<dyn ExecutionPlan>) -> Option<&FileScanConfig> {
    plan.downcast_ref::<DataSourceExec>()?
        .data_source()
        .downcast_ref::<FileScanConfig>()
}

fn contains_file_scan(plan: &Arc<dyn ExecutionPlan>) -> bool {
    file_scan_config(plan).is_some() || plan.children().into_iter().any(contains_file_scan)
}

/// The file scans of a fragment.
pub fn file_scans(plan: &Arc<dyn ExecutionPlan>) -> Vec<&FileScanConfig> {
    let mut out: Vec<&FileScanConfig> = file_scan_config(plan).into_iter().collect();
    for c in plan.children() {
        out.extend(file_scans(c));
    }
    out
}

/// Total bytes of the fragment's file scans, and the largest number of units
/// (files, or file groups where order must be kept) one scan splits into.
pub(crate) fn scan_size(plan: &Arc<dyn ExecutionPlan>) -> (u64, usize) {
    let scans = file_scans(plan);
    let bytes = scans
        .iter()
        .flat_map(|c| c.file_groups.iter().flat_map(|g| g.iter()))
        .map(file_bytes)
        .sum();
    let units = scans.iter().map(|c| split_units(c)).max().unwrap_or(0);
    (bytes, units)
}

/// Why a fragment must run as one task, or `None` if splitting it is safe.
pub fn single_task_reason(plan: &Arc<dyn ExecutionPlan>) -> Option<String> {
    if let Some(r) = plan.downcast_ref::<ExchangeReaderExec>() {
        return (r.kind() == ExchangeKind::Gather)
            .then(|| format!("reads a gather from stage {}", r.input_stage()));
    }
    let children = plan.children();
    if children.is_empty() {
        return match file_scan_config(plan) {
            Some(_) => None,
            None => Some(format!("its input {} cannot be split", plan.name())),
        };
    }
    if let Some(join) = plan.downcast_ref::<HashJoinExec>()
        && join.mode == PartitionMode::CollectLeft
        && emits_build_side_rows(join.join_type)
    {
        return Some(format!("{} join emits build-side rows", join.join_type));
    }
    if let Some(join) = plan.downcast_ref::<NestedLoopJoinExec>()
        && emits_build_side_rows(*join.join_type())
    {
        return Some(format!(
            "{} nested-loop join emits build-side rows",
            join.join_type()
        ));
    }
    let broadcast_left = collects_left_side(plan);
    let requirements = plan.input_distribution_requirements();
    for (i, child) in children.iter().enumerate() {
        if broadcast_left && i == 0 {
            continue;
        }
        // An operator that needs all rows, or all rows of a key, in one
        // partition is satisfied inside one task only. Keys from a shuffle
        // reader are already sliced by task; keys straight from a file scan
        // are not.
        let needs_whole = match requirements.child_distribution(i) {
            Some(Distribution::SinglePartition) => true,
            Some(Distribution::KeyPartitioned(_)) => contains_file_scan(child),
            #[allow(deprecated)]
            Some(Distribution::HashPartitioned(_)) => contains_file_scan(child),
            _ => false,
        };
        if needs_whole {
            return Some(format!(
                "{} needs all of its input in one place",
                plan.name()
            ));
        }
    }
    children.into_iter().find_map(single_task_reason)
}

/// Decides each stage's task count, inputs first.
fn assign_tasks(stages: &mut [Stage], options: SplitOptions) {
    let cap = match options.max_tasks_per_stage {
        0 => options.workers.max(1),
        n => n.min(options.workers.max(1)),
    };
    for id in 0..stages.len() {
        if stages[id].placement == Placement::Coordinator {
            stages[id].tasks = 1;
            continue;
        }
        let reason = single_task_reason(&stages[id].plan);
        let tasks = if reason.is_some() {
            1
        } else {
            let by_bytes = if stages[id].scan_units == 0 {
                1
            } else {
                let per_task = options.bytes_per_task.max(1);
                let wanted = stages[id].scan_bytes.div_ceil(per_task).max(1) as usize;
                wanted.min(stages[id].scan_units)
            };
            let by_inputs = stages[id]
                .inputs
                .iter()
                .filter(|(_, kind)| *kind == ExchangeKind::Shuffle)
                .map(|(input, _)| stages[*input].tasks)
                .max()
                .unwrap_or(1);
            by_bytes.max(by_inputs).clamp(1, cap)
        };
        stages[id].tasks = tasks;
        stages[id].single_task_reason = reason;
    }
}
