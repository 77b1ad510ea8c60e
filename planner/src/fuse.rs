//! Keeping the single-task path cheap: an exchange between a one-task
//! producer and a one-task consumer on workers moves every row over the
//! network to gain nothing. Such producers are put back inside their
//! consumer, where the plan runs as DataFusion planned it (a shuffle's
//! repartition runs locally; a gather or broadcast reader is replaced by the
//! plan it read, under the same merge), so a small query makes as few
//! network hops as its data allows. The coordinator's root stage never
//! absorbs a producer: scans stay on workers.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::common::Result;
use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use datafusion::physical_plan::limit::{GlobalLimitExec, LocalLimitExec};
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::sorts::sort_preserving_merge::SortPreservingMergeExec;
use datafusion::physical_plan::{ExecutionPlan, replace_children_if_necessary};

use crate::exchange::{ExchangeKind, ExchangeReaderExec};
use crate::split::{readers_of, scan_size, single_task_reason};
use crate::stage::{Placement, Stage};

/// Fuses one-task exchanges and renumbers the stages that remain.
pub(crate) fn fuse_single_task_exchanges(mut stages: Vec<Stage>) -> Result<Vec<Stage>> {
    let mut absorbed = vec![false; stages.len()];
    for id in 0..stages.len() {
        let absorbs: fn(&Stage) -> bool = match stages[id].placement {
            Placement::Workers if stages[id].tasks == 1 => |_| true,
            Placement::Coordinator => only_merges,
            Placement::Workers => continue,
        };
        let plan = inline(&stages[id].plan, &stages, &mut absorbed, absorbs)?;
        stages[id].plan = plan;
    }
    let mut new_id = HashMap::new();
    for (old, _) in stages.iter().enumerate().filter(|(i, _)| !absorbed[*i]) {
        new_id.insert(old, new_id.len());
    }
    let kept: Vec<Stage> = stages
        .into_iter()
        .enumerate()
        .filter(|(i, _)| !absorbed[*i])
        .map(|(_, s)| s)
        .collect();
    let mut out: Vec<Stage> = Vec::with_capacity(kept.len());
    for mut stage in kept {
        stage.id = new_id[&stage.id];
        stage.plan = renumber(&stage.plan, &new_id)?;
        stage.inputs = readers_of(&stage.plan)
            .iter()
            .map(|r| (r.input_stage(), r.kind()))
            .collect();
        for (input, _) in &stage.inputs {
            out[*input].consumer = Some(stage.id);
        }
        (stage.scan_bytes, stage.scan_units) = scan_size(&stage.plan);
        if stage.placement == Placement::Workers {
            stage.single_task_reason = single_task_reason(&stage.plan);
        }
        out.push(stage);
    }
    Ok(out)
}

/// Whether a one-task stage only merges, limits and projects what it
/// gathers: the coordinator does that work anyway, so running it there
/// saves a task launch and a network hop (`ORDER BY ... LIMIT` over a
/// projection gathered twice in a row, for one). Anything that computes
/// (a join, a sort, an aggregate, a window) stays on a worker.
fn only_merges(stage: &Stage) -> bool {
    fn merges(plan: &Arc<dyn ExecutionPlan>) -> bool {
        let own = match plan.downcast_ref::<ExchangeReaderExec>() {
            Some(reader) => reader.kind() == ExchangeKind::Gather,
            None => {
                plan.downcast_ref::<ProjectionExec>().is_some()
                    || plan.downcast_ref::<SortPreservingMergeExec>().is_some()
                    || plan.downcast_ref::<CoalescePartitionsExec>().is_some()
                    || plan.downcast_ref::<GlobalLimitExec>().is_some()
                    || plan.downcast_ref::<LocalLimitExec>().is_some()
            }
        };
        own && plan.children().into_iter().all(merges)
    }
    stage.placement == Placement::Workers && stage.tasks == 1 && merges(&stage.plan)
}

/// Replaces readers of one-task worker stages that `absorbs` accepts by
/// those stages' plans.
fn inline(
    plan: &Arc<dyn ExecutionPlan>,
    stages: &[Stage],
    absorbed: &mut [bool],
    absorbs: fn(&Stage) -> bool,
) -> Result<Arc<dyn ExecutionPlan>> {
    if let Some(reader) = plan.downcast_ref::<ExchangeReaderExec>() {
        let producer = &stages[reader.input_stage()];
        if producer.tasks == 1 && producer.placement == Placement::Workers && absorbs(producer) {
            absorbed[producer.id] = true;
            return Ok(Arc::clone(&producer.plan));
        }
        return Ok(Arc::clone(plan));
    }
    let children = plan.children();
    if children.is_empty() {
        return Ok(Arc::clone(plan));
    }
    let new_children = children
        .into_iter()
        .map(|c| inline(c, stages, absorbed, absorbs))
        .collect::<Result<Vec<_>>>()?;
    replace_children_if_necessary(Arc::clone(plan), new_children)
}

fn renumber(
    plan: &Arc<dyn ExecutionPlan>,
    new_id: &HashMap<usize, usize>,
) -> Result<Arc<dyn ExecutionPlan>> {
    if let Some(reader) = plan.downcast_ref::<ExchangeReaderExec>() {
        return Ok(Arc::new(
            reader.with_input_stage(new_id[&reader.input_stage()]),
        ));
    }
    let children = plan.children();
    if children.is_empty() {
        return Ok(Arc::clone(plan));
    }
    let new_children = children
        .into_iter()
        .map(|c| renumber(c, new_id))
        .collect::<Result<Vec<_>>>()?;
    replace_children_if_necessary(Arc::clone(plan), new_children)
}
