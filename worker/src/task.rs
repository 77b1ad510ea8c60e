//! One task running on this worker: its decoded plan, the context it runs
//! in, and how many of its output streams are still to be read.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

use datafusion::error::{DataFusionError, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{ExecutionPlan, ExecutionPlanProperties};
use tokio_util::sync::CancellationToken;

use hayate_protocol::{TaskId, TaskReport};
use hayate_storage::{IoCounters, scan_metric};

use crate::replay::ReplayPartition;
use crate::report::task_metrics;

/// A launched task. Its output partitions run when consumers ask for them
/// (pull-based): nothing executes until a downstream `DoGet` arrives, and a
/// dropped stream stops the work that fed it.
pub struct RunningTask {
    pub id: TaskId,
    plan: Arc<dyn ExecutionPlan>,
    context: Arc<TaskContext>,
    /// How many consumer tasks read each output partition.
    consumers: usize,
    /// For a broadcast (more than one consumer): each partition's batches,
    /// produced once and replayed to every consumer.
    replays: Vec<Arc<ReplayPartition>>,
    /// Output streams not yet finished; the task is forgotten at zero.
    open_streams: AtomicUsize,
    pub started: Instant,
    /// The task's object-store requests, bytes and cache hits.
    io: Arc<IoCounters>,
    /// Bytes of Flight messages its output streams sent.
    sent_bytes: AtomicU64,
    /// The task's span (a child of its query's trace): entered while its
    /// output is produced, closed when the task is forgotten.
    pub span: tracing::Span,
}

impl RunningTask {
    pub fn new(
        id: TaskId,
        plan: Arc<dyn ExecutionPlan>,
        context: Arc<TaskContext>,
        consumers: usize,
        io: Arc<IoCounters>,
        span: tracing::Span,
    ) -> Self {
        let partitions = plan.output_partitioning().partition_count();
        let consumers = consumers.max(1);
        let replays = if consumers > 1 {
            (0..partitions)
                .map(|_| Arc::new(ReplayPartition::default()))
                .collect()
        } else {
            Vec::new()
        };
        Self {
            id,
            plan,
            context,
            consumers,
            replays,
            open_streams: AtomicUsize::new(partitions * consumers),
            started: Instant::now(),
            io,
            sent_bytes: AtomicU64::new(0),
            span,
        }
    }

    pub fn output_partitions(&self) -> usize {
        self.plan.output_partitioning().partition_count()
    }

    /// Starts streaming output partition `partition` for consumer `consumer`.
    pub fn execute(
        &self,
        partition: usize,
        consumer: usize,
        cancel: CancellationToken,
    ) -> Result<SendableRecordBatchStream> {
        if partition >= self.output_partitions() || consumer >= self.consumers {
            return Err(DataFusionError::Execution(format!(
                "{} has no output partition {partition} for consumer {consumer}",
                self.id
            )));
        }
        let Some(replay) = self.replays.get(partition) else {
            return self.plan.execute(partition, Arc::clone(&self.context));
        };
        let plan = Arc::clone(&self.plan);
        let context = Arc::clone(&self.context);
        let stream = replay.reader(move || plan.execute(partition, context), cancel);
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.plan.schema(),
            stream,
        )))
    }

    /// What the task has done so far; `running` says whether it is still
    /// at work (its numbers are not final).
    pub fn report(&self, running: bool) -> TaskReport {
        TaskReport {
            task: self.id.clone(),
            worker: String::new(),
            running,
            metrics: {
                let mut metrics = task_metrics(self.plan.as_ref(), &self.io);
                metrics.insert(
                    scan_metric::EXCHANGE_BYTES.to_string(),
                    self.sent_bytes.load(Ordering::Relaxed),
                );
                metrics.insert(
                    scan_metric::WALL_NANOS.to_string(),
                    self.started.elapsed().as_nanos() as u64,
                );
                metrics
            },
        }
    }

    /// Counts a Flight message one of its output streams sent.
    pub fn count_sent(&self, bytes: usize) {
        self.sent_bytes.fetch_add(bytes as u64, Ordering::Relaxed);
    }

    /// Marks one output stream finished; true when it was the last.
    pub fn finish_stream(&self) -> bool {
        self.open_streams.fetch_sub(1, Ordering::AcqRel) == 1
    }
}
