//! The stage graph: a query's physical plan cut into fragments (stages) that
//! each run as N identical tasks, joined by exchanges.

use std::sync::Arc;

use datafusion::physical_plan::ExecutionPlan;

use crate::exchange::ExchangeKind;

/// Where a stage runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// On workers, as `tasks` tasks.
    Workers,
    /// In the coordinator: the root stage when it only merges what workers
    /// produce, or a query with no file input at all (`SELECT 1`, `VALUES`).
    Coordinator,
}

/// One fragment of the physical plan.
#[derive(Debug, Clone)]
pub struct Stage {
    pub id: usize,
    /// The fragment as planned. Its leaves are file scans, in-memory sources,
    /// or [`crate::ExchangeReaderExec`]s that name their input stage.
    pub plan: Arc<dyn ExecutionPlan>,
    /// How this stage's output reaches its consumer; `None` for the root.
    pub output: Option<ExchangeKind>,
    /// The stage that reads this one's output; `None` for the root.
    pub consumer: Option<usize>,
    /// Input stages, with the kind of exchange each arrives through.
    pub inputs: Vec<(usize, ExchangeKind)>,
    pub tasks: usize,
    pub placement: Placement,
    /// Why the stage cannot be split over several tasks, if it cannot.
    pub single_task_reason: Option<String>,
    /// Bytes of file input the stage scans (from listing sizes).
    pub scan_bytes: u64,
    /// Files (or ordered file groups) the stage's largest scan can be split by.
    pub scan_units: usize,
}

/// A query's stages. Ids are assigned bottom-up, so every stage's inputs have
/// smaller ids than the stage itself and the root has the largest.
#[derive(Debug, Clone)]
pub struct StageGraph {
    pub stages: Vec<Stage>,
}

impl StageGraph {
    pub fn root(&self) -> &Stage {
        self.stages
            .last()
            .expect("a stage graph always has a root stage")
    }

    pub fn stage(&self, id: usize) -> &Stage {
        &self.stages[id]
    }

    /// Stages that run on workers, inputs before consumers.
    pub fn worker_stages(&self) -> impl Iterator<Item = &Stage> {
        self.stages
            .iter()
            .filter(|s| s.placement == Placement::Workers)
    }

    /// The number of tasks summed over all worker stages.
    pub fn worker_task_count(&self) -> usize {
        self.worker_stages().map(|s| s.tasks).sum()
    }
}
