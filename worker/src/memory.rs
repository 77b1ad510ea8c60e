//! How much memory one query may hold on this worker: the session's
//! `hayate.query_memory_limit`, else the worker's default, never above the
//! worker's maximum. Past it, operators that can spill (sort, aggregation,
//! some joins) spill to the temp directory and the rest fail with
//! "Resources exhausted", alone: other queries and the worker go on.

use datafusion::execution::TaskContext;
use hayate_planner::HayateOptions;

#[derive(Clone, Copy, Debug, Default)]
pub struct MemoryLimits {
    /// Bytes a query gets when its session sets no limit (None: no limit).
    pub default_per_query: Option<usize>,
    /// The most a session may ask for (None: no cap).
    pub max_per_query: Option<usize>,
}

impl MemoryLimits {
    /// The limit for a task decoded in `ctx` (its session's settings).
    pub fn limit_for(&self, ctx: &TaskContext) -> Option<usize> {
        let asked = ctx
            .session_config()
            .options()
            .extensions
            .get::<HayateOptions>()
            .map(|o| o.query_memory_limit as usize)
            .filter(|l| *l > 0);
        let limit = asked.or(self.default_per_query)?;
        Some(match self.max_per_query {
            Some(max) => limit.min(max),
            None => limit,
        })
    }
}
