//! `EXPLAIN ANALYZE`: the stage plan, then what each stage did.

use std::fmt::Write;
use std::time::Duration;

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::error::Result;
use hayate_planner::{StageGraph, explain_stages};
use hayate_protocol::{QueryStats, StageStats};
use hayate_storage::{human_bytes, io_metric, io_summary, scan_metric};

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
            "Stage {}: {} task{}, {} rows out in {} batches, cpu {:.1} ms, wall {:.1} ms (slowest task), {} rows scanned\n  exchange: {} rows / {} in, {} out; spilled {} times, {}\n  {}",
            stage.id,
            s.tasks,
            if s.tasks == 1 { "" } else { "s" },
            get(scan_metric::OUTPUT_ROWS),
            get(scan_metric::OUTPUT_BATCHES),
            get(scan_metric::CPU_NANOS) as f64 / 1e6,
            s.spread.get(scan_metric::WALL_NANOS).map_or(0, |w| w.max) as f64 / 1e6,
            get(scan_metric::ROWS_SCANNED),
            get(scan_metric::EXCHANGE_ROWS_IN),
            human_bytes(get(scan_metric::EXCHANGE_BYTES_IN)),
            human_bytes(get(scan_metric::EXCHANGE_BYTES)),
            get(scan_metric::SPILL_COUNT),
            human_bytes(get(scan_metric::SPILLED_BYTES)),
            io_summary(&s.metrics)
        );
        if s.tasks > 1 {
            let _ = writeln!(
                per_stage,
                "  across tasks (min / median / max): {}",
                skew(s)
            );
        }
        let mut tasks: Vec<_> = s.task_reports.iter().collect();
        tasks.sort_by_key(|t| (t.task.attempt, t.task.task));
        for task in tasks {
            let get = |k: &str| task.metrics.get(k).copied().unwrap_or(0);
            let _ = writeln!(
                per_stage,
                "  task {}{} on {}: {} rows out, cpu {:.1} ms, wall {:.1} ms, {} rows scanned, {} fetched, exchange {} in / {} out",
                task.task.task,
                match task.task.attempt {
                    1 => String::new(),
                    n => format!(" (run {n})"),
                },
                if task.worker.is_empty() {
                    "?"
                } else {
                    &task.worker
                },
                get(scan_metric::OUTPUT_ROWS),
                get(scan_metric::CPU_NANOS) as f64 / 1e6,
                get(scan_metric::WALL_NANOS) as f64 / 1e6,
                get(scan_metric::ROWS_SCANNED),
                human_bytes(get(io_metric::BYTES_FETCHED)),
                human_bytes(get(scan_metric::EXCHANGE_BYTES_IN)),
                human_bytes(get(scan_metric::EXCHANGE_BYTES)),
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
        ("wall_nanos", "wall", 1e6, " ms"),
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
