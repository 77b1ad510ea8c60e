//! `EXPLAIN ANALYZE`: the stage plan, then what each stage did.

use std::fmt::Write;
use std::time::Duration;

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::error::Result;
use hayate_planner::{StageGraph, explain_stages};
use hayate_protocol::{QueryStats, StageStats};
use hayate_storage::io_summary;

use crate::planning::explain_result;

pub fn analyze_rows(
    graph: &StageGraph,
    stats: &QueryStats,
    rows: usize,
    elapsed: Duration,
) -> Result<Vec<RecordBatch>> {
    let mut per_stage = String::new();
    for stage in graph.stages.iter().rev() {
        let Some(s) = stats
            .stages
            .iter()
            .find(|s| s.stage_id as usize == stage.id)
        else {
            let _ = writeln!(per_stage, "Stage {}: runs on the coordinator", stage.id);
            continue;
        };
        let get = |k: &str| s.metrics.get(k).copied().unwrap_or(0);
        let _ = writeln!(
            per_stage,
            "Stage {}: {} task{}, {} rows out, cpu {:.1} ms, {} rows scanned\n  {}",
            stage.id,
            s.tasks,
            if s.tasks == 1 { "" } else { "s" },
            get("output_rows"),
            get("cpu_nanos") as f64 / 1e6,
            get("rows_scanned"),
            io_summary(&s.metrics)
        );
        if s.tasks > 1 {
            let _ = writeln!(
                per_stage,
                "  across tasks (min / median / max): {}",
                skew(s)
            );
        }
    }
    let query = format!(
        "{rows} rows in {:.3} s\nplanning: {}\ntotal: {}",
        elapsed.as_secs_f64(),
        io_summary(&stats.planning),
        io_summary(&stats.total)
    );
    explain_result(vec![
        ("distributed_plan", explain_stages(graph)),
        ("stage_metrics", per_stage),
        ("query_metrics", query),
    ])
}

/// How the stage's work spread over its tasks: a max far above the median
/// is a skewed stage (one hot key, one large file).
fn skew(stage: &StageStats) -> String {
    let mut parts = Vec::new();
    for (name, label, scale, unit) in [
        ("output_rows", "rows out", 1.0, ""),
        ("cpu_nanos", "cpu", 1e6, " ms"),
        ("rows_scanned", "rows scanned", 1.0, ""),
        ("bytes_fetched", "fetched", 1.0, " B"),
    ] {
        if let Some(s) = stage.spread.get(name) {
            let show = |v: u64| {
                if scale == 1.0 {
                    v.to_string()
                } else {
                    format!("{:.1}", v as f64 / scale)
                }
            };
            parts.push(format!(
                "{label} {} / {} / {}{unit}",
                show(s.min),
                show(s.median),
                show(s.max)
            ));
        }
    }
    parts.join(", ")
}
