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

impl MemoryLimits {
    /// Limits sized to this process's memory (its cgroup limit, else the
    /// machine's): a query gets half by default and at most four fifths,
    /// so one query cannot get the worker OOM-killed. `None` when the
    /// memory cannot be read.
    pub fn for_this_process() -> Option<Self> {
        let total = process_memory()?;
        Some(Self {
            default_per_query: Some(total / 2),
            max_per_query: Some(total / 5 * 4),
        })
    }
}

/// Bytes this process may use: the cgroup (v2, then v1) limit when there is
/// one (a container's), else the machine's total memory.
pub fn process_memory() -> Option<usize> {
    let read = |path: &str| std::fs::read_to_string(path).ok();
    let cgroup = read("/sys/fs/cgroup/memory.max")
        .or_else(|| read("/sys/fs/cgroup/memory/memory.limit_in_bytes"))
        .and_then(|s| s.trim().parse::<u64>().ok());
    let machine = read("/proc/meminfo").and_then(|info| {
        let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
        let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    });
    // An unlimited cgroup reads "max" (v2) or a huge number (v1).
    let bytes = match (cgroup, machine) {
        (Some(c), Some(m)) => c.min(m),
        (c, m) => c.or(m)?,
    };
    usize::try_from(bytes).ok()
}

#[cfg(test)]
mod tests {
    #[test]
    fn this_machine_has_memory_and_queries_get_part_of_it() {
        let total = super::process_memory().expect("memory is readable on Linux");
        let limits = super::MemoryLimits::for_this_process().unwrap();
        assert!(limits.default_per_query.unwrap() < total);
        assert!(limits.max_per_query.unwrap() < total);
    }
}
