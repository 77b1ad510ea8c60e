//! The stage DAG as readable text, for `EXPLAIN`.

use std::fmt::Write;

use datafusion::physical_plan::displayable;

use crate::stage::{Placement, StageGraph};

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
