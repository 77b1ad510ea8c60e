//! What a task did, by metric name: the rows it produced, its compute time,
//! its object-store I/O and how much of its Parquet input it pruned. The
//! coordinator sums these per stage and per query.

use std::collections::BTreeMap;

use datafusion::datasource::source::DataSourceExec;
use datafusion::physical_plan::ExecutionPlan;
use datafusion::physical_plan::metrics::{MetricValue, MetricsSet};
use hayate_planner::ExchangeReaderExec;
use hayate_storage::{IoCounters, scan_metric};

pub fn task_metrics(plan: &dyn ExecutionPlan, io: &IoCounters) -> BTreeMap<String, u64> {
    use scan_metric::*;
    let mut out: BTreeMap<String, u64> = io
        .snapshot()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
    let mut add = |name: &str, v: usize| *out.entry(name.to_string()).or_default() += v as u64;
    if let Some(m) = plan.metrics() {
        add(OUTPUT_ROWS, m.output_rows().unwrap_or(0));
        add(
            OUTPUT_BATCHES,
            count_of(&m, |v| matches!(v, MetricValue::OutputBatches(_))),
        );
    }
    let mut stack: Vec<&dyn ExecutionPlan> = vec![plan];
    while let Some(node) = stack.pop() {
        stack.extend(node.children().into_iter().map(|c| c.as_ref()));
        let Some(metrics) = node.metrics() else {
            continue;
        };
        add(CPU_NANOS, metrics.elapsed_compute().unwrap_or(0));
        add(SPILL_COUNT, metrics.spill_count().unwrap_or(0));
        add(SPILLED_BYTES, metrics.spilled_bytes().unwrap_or(0));
        if node.is::<ExchangeReaderExec>() {
            add(EXCHANGE_ROWS_IN, metrics.output_rows().unwrap_or(0));
            add(
                EXCHANGE_BYTES_IN,
                count_of(
                    &metrics,
                    |v| matches!(v, MetricValue::Count { name, .. } if name == hayate_planner::exchange::BYTES_RECEIVED),
                ),
            );
        }
        if !node.is::<DataSourceExec>() {
            continue;
        }
        add(ROWS_SCANNED, metrics.output_rows().unwrap_or(0));
        for metric in metrics.iter() {
            match metric.value() {
                MetricValue::Count { name, count } => match name.as_ref() {
                    "bytes_scanned" => add(BYTES_SCANNED, count.value()),
                    "row_groups_pruned_dynamic_filter" => add(ROW_GROUPS_PRUNED, count.value()),
                    _ => {}
                },
                MetricValue::PruningMetrics {
                    name,
                    pruning_metrics: p,
                } => match name.as_ref() {
                    "files_ranges_pruned_statistics" => {
                        add(FILE_RANGES_READ, p.matched());
                        add(FILE_RANGES_PRUNED, p.pruned());
                    }
                    "row_groups_pruned_statistics" => {
                        add(ROW_GROUPS_TOTAL, p.matched() + p.pruned());
                        add(ROW_GROUPS_PRUNED, p.pruned());
                    }
                    "row_groups_pruned_bloom_filter" | "limit_pruned_row_groups" => {
                        add(ROW_GROUPS_PRUNED, p.pruned())
                    }
                    "page_index_rows_pruned" => add(PAGE_ROWS_PRUNED, p.pruned()),
                    _ => {}
                },
                _ => {}
            }
        }
    }
    out
}

/// The sum of the counts of `metrics` that `kind` picks.
fn count_of(metrics: &MetricsSet, kind: impl Fn(&MetricValue) -> bool) -> usize {
    metrics
        .iter()
        .map(|m| m.value())
        .filter(|v| kind(v))
        .map(|v| v.as_usize())
        .sum()
}
