//! Exchanges: the edges between stages, and the operator that stands for an
//! exchange inside a consumer's plan fragment.
//!
//! A producer stage's root operator decides how its output is cut into
//! partitions (a hash `RepartitionExec` for a shuffle, anything else for a
//! gather or broadcast). The consumer side is always an [`ExchangeReaderExec`]:
//! a leaf whose output partitions are each a merge of one or more remote
//! partition streams. The reader holds no network code itself: it asks the
//! [`PartitionFetcher`] installed in the session config for each stream, so
//! the planner stays pure and the same operator runs on workers and on the
//! coordinator.

use std::fmt;
use std::sync::Arc;

use datafusion::arrow::datatypes::SchemaRef;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DataFusionError, Result};
use datafusion::execution::memory_pool::MemoryConsumer;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::metrics::{
    BaselineMetrics, ExecutionPlanMetricsSet, MetricBuilder, MetricsSet,
};
use datafusion::physical_plan::sorts::streaming_merge::StreamingMergeBuilder;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties, Partitioning,
    PlanProperties,
};
use futures::StreamExt;
use hayate_protocol::PartitionTicket;

/// How a stage's output reaches the tasks of the stage that reads it.
/// The metric in which an exchange reader counts the bytes of the rows it
/// read.
pub const BYTES_RECEIVED: &str = "exchange_bytes_received";

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ExchangeKind {
    /// Hash-partitioned: consumer task `t` reads its own slice of hash
    /// partitions from every producer task.
    Shuffle,
    /// Every partition of every producer task goes to one consumer task
    /// (optionally merge-sorted by a `SortPreservingMergeExec` above it).
    Gather,
    /// Every consumer task reads every partition of every producer task: the
    /// build side of a join whose probe side is split over several tasks.
    Broadcast,
}

impl ExchangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ExchangeKind::Shuffle => "shuffle",
            ExchangeKind::Gather => "gather",
            ExchangeKind::Broadcast => "broadcast",
        }
    }

    /// Whether a reader of this exchange is hash-partitioned as its
    /// producer's output is. A shuffle reader's partition `i` of consumer
    /// task `t` holds exactly the rows of hash partition `t * P + i` of
    /// every producer task, so equal keys meet in the same partition in
    /// every reader of the stage (the inputs of a stage are all widened to
    /// the same `tasks * P`). Operators that need co-partitioned children
    /// (`InterleaveExec`, partitioned joins) see that promise. A gather or
    /// broadcast reader's partitions are the producer tasks' partitions
    /// side by side: no key is confined to one.
    pub fn keeps_hash_partitioning(self) -> bool {
        self == ExchangeKind::Shuffle
    }

    pub(crate) fn to_wire(self) -> i32 {
        match self {
            ExchangeKind::Shuffle => 0,
            ExchangeKind::Gather => 1,
            ExchangeKind::Broadcast => 2,
        }
    }

    pub(crate) fn from_wire(v: i32) -> Result<Self> {
        match v {
            0 => Ok(ExchangeKind::Shuffle),
            1 => Ok(ExchangeKind::Gather),
            2 => Ok(ExchangeKind::Broadcast),
            other => Err(DataFusionError::Internal(format!(
                "unknown exchange kind {other}"
            ))),
        }
    }
}

/// One remote partition stream: the worker that holds it and the ticket
/// that reads it there (which task produced it, which of its partitions,
/// and for a broadcast which consumer's copy).
#[derive(Clone, PartialEq, Eq, Hash, prost::Message)]
pub struct PartitionSource {
    #[prost(string, tag = "1")]
    pub address: String,
    #[prost(message, required, tag = "2")]
    pub ticket: PartitionTicket,
}

/// Opens the stream of one remote partition. Workers and the coordinator
/// install an implementation (Arrow Flight `DoGet`) in the session config.
pub trait PartitionFetcher: Send + Sync + fmt::Debug {
    fn fetch(
        &self,
        source: &PartitionSource,
        schema: SchemaRef,
    ) -> Result<SendableRecordBatchStream>;
}

/// The session-config extension through which an [`ExchangeReaderExec`]
/// finds its [`PartitionFetcher`].
#[derive(Debug, Clone)]
pub struct FetcherExtension(pub Arc<dyn PartitionFetcher>);

/// Reads the output of an upstream stage. Each output partition merges the
/// remote streams listed for it: in whatever order batches arrive, or, when
/// the upstream output is sorted (an order-preserving shuffle under a
/// sorted aggregate or a merge), merge-sorted, so that the order the plan
/// above relies on holds across producers too.
#[derive(Debug)]
pub struct ExchangeReaderExec {
    kind: ExchangeKind,
    input_stage: usize,
    schema: SchemaRef,
    /// Per output partition, the remote streams it merges. Empty lists until
    /// the scheduler resolves the reader for one concrete task.
    sources: Vec<Vec<PartitionSource>>,
    properties: Arc<PlanProperties>,
    /// Rows, batches and Arrow bytes read from the exchange, per partition
    /// (what `EXPLAIN ANALYZE` shows as a task's exchange input).
    metrics: ExecutionPlanMetricsSet,
}

impl ExchangeReaderExec {
    /// A reader of `producer`'s output, as stage `input_stage`, whose
    /// sources are not yet known (a stage template): as many partitions as
    /// the producer has, its ordering, and for a shuffle its hash keys.
    pub fn unresolved(
        kind: ExchangeKind,
        input_stage: usize,
        producer: &Arc<dyn ExecutionPlan>,
    ) -> Self {
        let partitioning = producer.output_partitioning();
        let reader = Self::new(
            kind,
            input_stage,
            producer.schema(),
            vec![Vec::new(); partitioning.partition_count()],
            Some(crate::reader_properties::carried(
                kind,
                producer.equivalence_properties(),
            )),
        );
        match partitioning {
            Partitioning::Hash(keys, _) if kind.keeps_hash_partitioning() => {
                reader.with_hash_keys(keys.clone())
            }
            _ => reader,
        }
    }

    pub fn new(
        kind: ExchangeKind,
        input_stage: usize,
        schema: SchemaRef,
        sources: Vec<Vec<PartitionSource>>,
        eq: Option<EquivalenceProperties>,
    ) -> Self {
        let eq = eq.unwrap_or_else(|| EquivalenceProperties::new(Arc::clone(&schema)));
        let properties = Arc::new(PlanProperties::new(
            eq,
            Partitioning::UnknownPartitioning(sources.len()),
            EmissionType::Incremental,
            Boundedness::Bounded,
        ));
        Self {
            kind,
            input_stage,
            schema,
            sources,
            properties,
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }

    /// This reader, declaring its output hash-partitioned by `keys` (the
    /// producer's repartition keys, in this reader's schema). Only a
    /// shuffle reader may: see [`ExchangeKind::keeps_hash_partitioning`].
    pub fn with_hash_keys(mut self, keys: Vec<Arc<dyn PhysicalExpr>>) -> Self {
        if keys.is_empty() || !self.kind.keeps_hash_partitioning() {
            return self;
        }
        let partitioning = Partitioning::Hash(keys, self.sources.len());
        self.properties = Arc::new(
            self.properties
                .as_ref()
                .clone()
                .with_partitioning(partitioning),
        );
        self
    }

    /// The producer's hash keys this reader's partitions follow; empty
    /// unless it reads a shuffle.
    pub fn hash_keys(&self) -> &[Arc<dyn PhysicalExpr>] {
        match &self.properties.partitioning {
            Partitioning::Hash(keys, _) => keys,
            _ => &[],
        }
    }

    pub fn kind(&self) -> ExchangeKind {
        self.kind
    }

    pub fn input_stage(&self) -> usize {
        self.input_stage
    }

    pub fn sources(&self) -> &[Vec<PartitionSource>] {
        &self.sources
    }

    /// This reader, reading from stage `id` instead.
    pub fn with_input_stage(&self, id: usize) -> Self {
        Self {
            kind: self.kind,
            input_stage: id,
            schema: Arc::clone(&self.schema),
            sources: self.sources.clone(),
            properties: Arc::clone(&self.properties),
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }

    /// This reader with concrete sources, keeping kind and ordering (each
    /// partition's sources are merge-sorted when the upstream is sorted).
    pub fn resolved(&self, sources: Vec<Vec<PartitionSource>>) -> Self {
        Self::new(
            self.kind,
            self.input_stage,
            Arc::clone(&self.schema),
            sources,
            Some(self.properties.eq_properties.clone()),
        )
        .with_hash_keys(self.hash_keys().to_vec())
    }
}

impl DisplayAs for ExchangeReaderExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "ExchangeReaderExec: {} from stage {}, partitions={}",
            self.kind.as_str(),
            self.input_stage,
            self.sources.len()
        )
    }
}

impl ExecutionPlan for ExchangeReaderExec {
    fn name(&self) -> &str {
        "ExchangeReaderExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if children.is_empty() {
            Ok(self)
        } else {
            Err(DataFusionError::Internal(
                "ExchangeReaderExec is a leaf and takes no children".into(),
            ))
        }
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let sources = self.sources.get(partition).ok_or_else(|| {
            DataFusionError::Internal(format!(
                "ExchangeReaderExec has no partition {partition} (of {})",
                self.sources.len()
            ))
        })?;
        if sources.is_empty() {
            return Err(DataFusionError::Internal(format!(
                "exchange from stage {} was never resolved to concrete tasks",
                self.input_stage
            )));
        }
        let fetcher = context
            .session_config()
            .get_extension::<FetcherExtension>()
            .ok_or_else(|| {
                DataFusionError::Internal("no partition fetcher installed in the session".into())
            })?;
        let mut streams = sources
            .iter()
            .map(|s| fetcher.0.fetch(s, Arc::clone(&self.schema)))
            .collect::<Result<Vec<_>>>()?;
        let merged: SendableRecordBatchStream =
            match self.properties.eq_properties.output_ordering() {
                // Each upstream stream is sorted; so is their merge.
                Some(ordering) if streams.len() > 1 => {
                    let reservation =
                        MemoryConsumer::new(format!("ExchangeReaderExec[{partition}] merge"))
                            .register(context.memory_pool());
                    StreamingMergeBuilder::new()
                        .with_streams(streams)
                        .with_schema(Arc::clone(&self.schema))
                        .with_expressions(&ordering)
                        .with_metrics(BaselineMetrics::new(
                            &ExecutionPlanMetricsSet::new(),
                            partition,
                        ))
                        .with_batch_size(context.session_config().batch_size())
                        .with_reservation(reservation)
                        .build()?
                }
                _ if streams.len() == 1 => streams.remove(0),
                // Poll every upstream stream concurrently so that a slow
                // producer does not hold back batches others already have.
                _ => Box::pin(RecordBatchStreamAdapter::new(
                    Arc::clone(&self.schema),
                    futures::stream::select_all(streams),
                )),
            };
        let baseline = BaselineMetrics::new(&self.metrics, partition);
        let received = MetricBuilder::new(&self.metrics).counter(BYTES_RECEIVED, partition);
        let counted = merged.map(move |batch| {
            batch.inspect(|batch| {
                // The bytes the rows hold (not the capacity of the buffers
                // they were decoded into).
                let bytes: usize = batch
                    .columns()
                    .iter()
                    .map(|c| c.to_data().get_slice_memory_size().unwrap_or(0))
                    .sum();
                received.add(bytes);
                baseline.record_output(batch.num_rows());
            })
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            Arc::clone(&self.schema),
            counted,
        )))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}
