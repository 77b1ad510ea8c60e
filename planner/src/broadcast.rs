//! Broadcasting small join build sides instead of shuffling both inputs.
//!
//! DataFusion picks a partitioned hash join whenever the build side is
//! larger than about a megabyte: both inputs are hash-repartitioned on the
//! join keys. On one machine that repartition is a cheap hand-over between
//! threads; in Hayate each becomes a network shuffle, and the probe side is
//! usually the large one (TPC-H q5 shuffled 139 MiB of lineitem at SF1 to
//! join it with a few MiB of orders). Broadcasting the build side instead
//! (a `CollectLeft` join, which `split.rs` turns into a broadcast exchange)
//! leaves the probe side where it was scanned, and moves only the build
//! side, once to each probe task.
//!
//! The rule runs right after DataFusion's join selection, before the
//! distribution requirements are enforced, and changes a partitioned join
//! to `CollectLeft` only when that is cheap and correct:
//! - its build side is estimated at most `hayate.broadcast_join_bytes`;
//! - its join type does not emit unmatched or matched-once build-side rows
//!   (LEFT, FULL, LEFT SEMI/ANTI/MARK): a broadcast build side seen by
//!   several probe tasks would emit them once per task, so such joins keep
//!   their hash partitioning and stay distributable. If swapping the inputs
//!   gives a type that may be broadcast, with the smaller side as the
//!   build side, the inputs are swapped.

use std::sync::Arc;

use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::common::{JoinType, Result};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::joins::{HashJoinExec, PartitionMode};
use datafusion::physical_plan::statistics::{StatisticsArgs, StatisticsContext};

use crate::options::HayateOptions;

/// See the module documentation.
#[derive(Debug, Default)]
pub struct BroadcastJoins;

/// Whether a `CollectLeft` join of this type gives the same rows when its
/// probe side is split over several tasks that each see the whole build
/// side.
pub fn broadcast_safe(join_type: JoinType) -> bool {
    !matches!(
        join_type,
        JoinType::Left
            | JoinType::Full
            | JoinType::LeftSemi
            | JoinType::LeftAnti
            | JoinType::LeftMark
    )
}

/// Estimated bytes of `plan`'s output, from its statistics.
fn estimated_bytes(plan: &Arc<dyn ExecutionPlan>) -> Option<usize> {
    let stats = StatisticsContext::new()
        .compute(plan.as_ref(), &StatisticsArgs::new())
        .ok()?;
    if let Some(bytes) = stats.total_byte_size.get_value() {
        return Some(*bytes);
    }
    // Without a byte estimate, assume 8 bytes per column per row.
    let rows = stats.num_rows.get_value()?;
    Some(rows.saturating_mul(8 * plan.schema().fields().len().max(1)))
}

impl BroadcastJoins {
    fn rewrite(join: &HashJoinExec, max_bytes: usize) -> Result<Option<Arc<dyn ExecutionPlan>>> {
        if *join.partition_mode() != PartitionMode::Partitioned || join.null_aware {
            return Ok(None);
        }
        let left = estimated_bytes(join.left());
        let right = estimated_bytes(join.right());
        let fits = |side: Option<usize>| side.is_some_and(|b| b <= max_bytes);
        // The build side should be the smaller one, where both are known.
        let no_larger = |a: Option<usize>, b: Option<usize>| match (a, b) {
            (Some(a), Some(b)) => a <= b,
            _ => true,
        };
        let join_type = *join.join_type();
        if fits(left) && broadcast_safe(join_type) && no_larger(left, right) {
            let collect_left = join
                .builder()
                .with_partition_mode(PartitionMode::CollectLeft)
                .build()?;
            return Ok(Some(Arc::new(collect_left)));
        }
        if fits(right)
            && join_type.supports_swap()
            && broadcast_safe(join_type.swap())
            && no_larger(right, left)
        {
            return Ok(Some(join.swap_inputs(PartitionMode::CollectLeft)?));
        }
        Ok(None)
    }
}

impl PhysicalOptimizerRule for BroadcastJoins {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let max_bytes = config
            .extensions
            .get::<HayateOptions>()
            .map_or(0, |o| o.broadcast_join_bytes) as usize;
        if max_bytes == 0 {
            return Ok(plan);
        }
        plan.transform_up(|node| {
            let Some(join) = node.downcast_ref::<HashJoinExec>() else {
                return Ok(Transformed::no(node));
            };
            Ok(match Self::rewrite(join, max_bytes)? {
                Some(broadcast) => Transformed::yes(broadcast),
                None => Transformed::no(node),
            })
        })
        .data()
    }

    fn name(&self) -> &str {
        "hayate_broadcast_joins"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// DataFusion's physical optimizer rules with [`BroadcastJoins`] right
/// after its join selection.
pub fn physical_optimizer_rules() -> Vec<Arc<dyn PhysicalOptimizerRule + Send + Sync>> {
    let mut rules = datafusion::physical_optimizer::optimizer::PhysicalOptimizer::new().rules;
    let at = rules
        .iter()
        .position(|r| r.name() == "join_selection")
        .map_or(0, |i| i + 1);
    rules.insert(at, Arc::new(BroadcastJoins));
    rules
}
