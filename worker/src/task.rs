//! One task running on this worker: its decoded plan, the context it runs
//! in, and how many of its output streams are still to be read.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use datafusion::error::{DataFusionError, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_plan::{ExecutionPlan, ExecutionPlanProperties};

/// Identifies a task within the worker.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TaskKey {
    pub query_id: String,
    pub stage_id: u32,
    pub task_id: u32,
}

impl std::fmt::Display for TaskKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "query {} stage {} task {}", self.query_id, self.stage_id, self.task_id)
    }
}

/// A launched task. Its output partitions run when consumers ask for them
/// (pull-based): nothing executes until a downstream `DoGet` arrives, and a
/// dropped stream stops the work that fed it.
#[derive(Debug)]
pub struct RunningTask {
    pub key: TaskKey,
    /// One plan instance per consumer copy. A shuffle or gather has one; a
    /// broadcast decodes one per consumer task, since each reads every
    /// partition and DataFusion streams a partition only once per instance.
    plans: Vec<Arc<dyn ExecutionPlan>>,
    context: Arc<TaskContext>,
    /// Output streams not yet finished; the task is forgotten at zero.
    open_streams: AtomicUsize,
    pub started: Instant,
}

impl RunningTask {
    pub fn new(key: TaskKey, plans: Vec<Arc<dyn ExecutionPlan>>, context: Arc<TaskContext>) -> Self {
        let streams = plans
            .iter()
            .map(|p| p.output_partitioning().partition_count())
            .sum();
        Self {
            key,
            plans,
            context,
            open_streams: AtomicUsize::new(streams),
            started: Instant::now(),
        }
    }

    pub fn output_partitions(&self) -> usize {
        self.plans
            .first()
            .map(|p| p.output_partitioning().partition_count())
            .unwrap_or(0)
    }

    /// Starts streaming output partition `partition` for consumer `consumer`.
    pub fn execute(&self, partition: usize, consumer: usize) -> Result<SendableRecordBatchStream> {
        let plan = self.plans.get(consumer).ok_or_else(|| {
            DataFusionError::Execution(format!("{} has no consumer {consumer}", self.key))
        })?;
        if partition >= plan.output_partitioning().partition_count() {
            return Err(DataFusionError::Execution(format!(
                "{} has no output partition {partition}",
                self.key
            )));
        }
        plan.execute(partition, Arc::clone(&self.context))
    }

    /// Marks one output stream finished; true when it was the last.
    pub fn finish_stream(&self) -> bool {
        self.open_streams.fetch_sub(1, Ordering::AcqRel) == 1
    }
}
