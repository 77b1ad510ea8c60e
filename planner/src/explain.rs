//! The stage DAG as readable text, for `EXPLAIN`.

use std::fmt::Write;

use datafusion::physical_plan::displayable;

use hayate_storage::human_bytes;

use crate::slice::file_bytes;
use crate::slice::task_plan;
use crate::split::file_scans;
use crate::stage::{Placement, Stage, StageGraph};

/// Renders every stage, root first: where it runs, how many tasks, what it
/// reads and where its output goes, then its plan fragment.
pub fn explain_stages(graph: &StageGraph) -> String {
    let mut out = String::new();
    for stage in graph.stages.iter().rev() {
        let place = match stage.placement {
            Placement::Coordinator => "coordinator".to_string(),
            Placement::Workers => format!(
                "{} task{}",
                stage.tasks,
                if stage.tasks == 1 { "" } else { "s" }
            ),
        };
        let output = match (stage.output, stage.consumer) {
            (Some(kind), Some(consumer)) => format!(" -> {} to stage {consumer}", kind.as_str()),
            _ => " -> client".to_string(),
        };
        let _ = write!(out, "Stage {} [{place}]{output}", stage.id);
        if let Some(reason) = &stage.single_task_reason {
            let _ = write!(out, " (one task: {reason})");
        }
        out.push('\n');
        if stage.placement == Placement::Workers && stage.scan_units > 0 {
            let _ = writeln!(out, "  input per task: {}", task_inputs(stage));
        }
        for line in displayable(stage.plan.as_ref())
            .indent(true)
            .to_string()
            .lines()
        {
            let _ = writeln!(out, "  {line}");
        }
    }
    out
}

/// What each task of a scanning stage reads: file slices and bytes.
fn task_inputs(stage: &Stage) -> String {
    let consumer_tasks = 1;
    (0..stage.tasks)
        .map(|t| {
            let Ok(plan) = task_plan(stage, t, consumer_tasks, &|r| Ok(r.sources().to_vec()))
            else {
                return format!("task {t}: ?");
            };
            let files: Vec<_> = file_scans(&plan)
                .into_iter()
                .flat_map(|c| c.file_groups.iter().flat_map(|g| g.iter()))
                .collect();
            let (slices, bytes) = (
                files.len(),
                files.iter().map(|f| file_bytes(f)).sum::<u64>(),
            );
            format!(
                "task {t}: {slices} file slice{} ({})",
                if slices == 1 { "" } else { "s" },
                human_bytes(bytes)
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}
