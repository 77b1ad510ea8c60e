//! The invariant that cutting a plan into stages must keep: every operator
//! of a task's fragment still gets the distribution and ordering it
//! requires of its children, as DataFusion's sanity checker defines them.
//!
//! DataFusion planned the whole plan so that each operator's requirements
//! hold (a partitioned join's sides hashed alike, a window's input sorted
//! on its partition columns). Cutting puts exchange readers where the
//! repartitions and merges were, and the fragment is built again from
//! bytes on a worker: a reader that promised less than its producer did
//! would leave an operator planned on a promise nobody keeps. Some
//! operators assert that while they are decoded (`InterleaveExec`, window
//! aggregates); the others would silently compute per-partition answers
//! over the wrong partitions. Checked on every fragment a worker decodes in
//! debug builds (so every test checks it), and by the planner's tests for
//! every stage of every TPC-H query.

use std::sync::Arc;

use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::common::{DataFusionError, Result};
use datafusion::config::OptimizerOptions;
use datafusion::physical_optimizer::sanity_checker::check_plan_sanity;
use datafusion::physical_plan::ExecutionPlan;

/// `Ok` when every operator of `plan` has its children's distribution and
/// ordering as it requires them.
pub fn check_fragment(plan: &Arc<dyn ExecutionPlan>) -> Result<()> {
    let options = OptimizerOptions::default();
    plan.apply(|node| {
        check_plan_sanity(node, &options).map_err(|e| {
            DataFusionError::Internal(format!(
                "a plan fragment lost what {} requires of its inputs: {e}",
                node.name()
            ))
        })?;
        Ok(TreeNodeRecursion::Continue)
    })
    .map(|_| ())
}
