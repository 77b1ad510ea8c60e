//! What the scale model's runs of a workload add up to: per node count,
//! the total time, speedup and efficiency against one node, CPU-seconds
//! against one node, exchange bytes and skew; and the queries that scale
//! worst.

use serde::Serialize;

use crate::suite::{EngineResult, WorkloadResult};

/// One node count.
#[derive(Serialize, Clone, Debug)]
pub struct ScalePoint {
    pub nodes: usize,
    /// Summed medians over the queries every size answered.
    pub total_s: f64,
    /// T(1) / T(N).
    pub speedup: f64,
    /// speedup / N: 1.0 is perfect scaling.
    pub efficiency: f64,
    /// CPU-seconds per run of every process (workers and coordinator).
    pub cpu_s: f64,
    /// cpu_s / cpu_s at one node: what distribution costs in work.
    pub cpu_vs_one_node: f64,
    pub exchange_bytes: u64,
    /// The busiest worker's share of the workers' CPU-seconds, summed over
    /// the workload: 1/N is perfectly even.
    pub busiest_node_share: f64,
    /// Queries slower at N nodes than at one.
    pub slower_than_one_node: Vec<String>,
}

#[derive(Serialize, Clone, Debug)]
pub struct ScaleSummary {
    pub workload: String,
    pub cores_per_node: f64,
    /// How the links were shaped ("none": loopback).
    pub link: String,
    pub points: Vec<ScalePoint>,
    /// Single-node DataFusion with one node's quota, and with the largest
    /// model's cores (summed medians over the same queries).
    pub datafusion_one_node_s: Option<f64>,
    pub datafusion_all_cores_s: Option<f64>,
    /// The queries with the lowest speedup at the largest size, worst first.
    pub worst_queries: Vec<(String, f64)>,
    /// Queries left out of the totals because some size failed them.
    pub left_out: Vec<String>,
}

fn model_name(nodes: usize) -> String {
    format!("hayate-model-{nodes}n")
}

fn worker_cpu(e: &EngineResult) -> Vec<f64> {
    e.cpu_by_process
        .iter()
        .filter(|(role, _)| role.starts_with("worker"))
        .map(|(_, s)| *s)
        .collect()
}

/// Sums `w`'s results per model size in `nodes`; `link` names the shaping.
pub fn summarize(
    w: &WorkloadResult,
    nodes: &[usize],
    cores: f64,
    link: String,
) -> Option<ScaleSummary> {
    let one = *nodes.iter().min()?;
    let largest = *nodes.iter().max()?;
    // Only queries every size and baseline answered count, so totals compare.
    let mut names: Vec<String> = model_names(nodes);
    names.push("datafusion-1n".into());
    names.push(format!("datafusion-{largest}n"));
    let (kept, left_out): (Vec<_>, Vec<_>) = w.queries.iter().partition(|q| {
        names.iter().all(|n| {
            q.engines
                .get(n)
                .is_some_and(|e| e.median_s.is_some() && !e.check.starts_with("DIFFERS"))
        })
    });
    let sum = |engine: &str, f: &dyn Fn(&EngineResult) -> f64| -> f64 {
        kept.iter().map(|q| f(&q.engines[engine])).sum()
    };
    let median = |e: &EngineResult| e.median_s.unwrap_or(0.0);
    let base = model_name(one);
    let t1 = sum(&base, &median);
    let cpu1 = sum(&base, &|e| e.cpu_s);
    let points = nodes
        .iter()
        .map(|&n| {
            let name = model_name(n);
            let total_s = sum(&name, &median);
            let speedup = t1 / total_s.max(1e-9);
            let mut per_worker = vec![0.0; n];
            for q in &kept {
                for (i, s) in worker_cpu(&q.engines[&name]).iter().enumerate() {
                    if let Some(slot) = per_worker.get_mut(i) {
                        *slot += s;
                    }
                }
            }
            let workers_total: f64 = per_worker.iter().sum();
            let busiest = per_worker.iter().copied().fold(0.0, f64::max);
            let cpu_s = sum(&name, &|e| e.cpu_s);
            ScalePoint {
                nodes: n,
                total_s,
                speedup,
                efficiency: speedup * one as f64 / n as f64,
                cpu_s,
                cpu_vs_one_node: cpu_s / cpu1.max(1e-9),
                exchange_bytes: kept
                    .iter()
                    .map(|q| q.engines[&name].exchange_bytes.unwrap_or(0))
                    .sum(),
                busiest_node_share: busiest / workers_total.max(1e-9),
                slower_than_one_node: kept
                    .iter()
                    .filter(|q| median(&q.engines[&name]) > median(&q.engines[&base]))
                    .map(|q| q.query.clone())
                    .collect(),
            }
        })
        .collect();
    let mut worst: Vec<(String, f64)> = kept
        .iter()
        .map(|q| {
            let s = median(&q.engines[&base]) / median(&q.engines[&model_name(largest)]).max(1e-9);
            (q.query.clone(), s)
        })
        .collect();
    worst.sort_by(|a, b| a.1.total_cmp(&b.1));
    worst.truncate(8);
    Some(ScaleSummary {
        workload: w.workload.clone(),
        cores_per_node: cores,
        link,
        points,
        datafusion_one_node_s: Some(sum("datafusion-1n", &median)),
        datafusion_all_cores_s: Some(sum(&format!("datafusion-{largest}n"), &median)),
        worst_queries: worst,
        left_out: left_out.iter().map(|q| q.query.clone()).collect(),
    })
}

fn model_names(nodes: &[usize]) -> Vec<String> {
    nodes.iter().map(|&n| model_name(n)).collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::summarize;
    use crate::suite::{EngineResult, QueryResult, WorkloadResult};

    fn run(seconds: f64, workers: &[f64]) -> EngineResult {
        let mut cpu_by_process = vec![("coordinator".to_string(), 0.1)];
        cpu_by_process.extend(
            workers
                .iter()
                .enumerate()
                .map(|(i, s)| (format!("worker {}", i + 1), *s)),
        );
        EngineResult {
            median_s: Some(seconds),
            cpu_s: cpu_by_process.iter().map(|(_, s)| s).sum(),
            cpu_by_process,
            exchange_bytes: Some(1000),
            check: "same".into(),
            ..Default::default()
        }
    }

    fn query(name: &str, engines: Vec<(&str, EngineResult)>) -> QueryResult {
        QueryResult {
            query: name.into(),
            engines: engines
                .into_iter()
                .map(|(n, e)| (n.to_string(), e))
                .collect::<BTreeMap<_, _>>(),
        }
    }

    #[test]
    fn speedup_efficiency_cpu_and_skew_add_up_over_the_queries_every_size_answered() {
        let baselines = || {
            vec![
                ("datafusion-1n", run(4.0, &[])),
                ("datafusion-2n", run(2.0, &[])),
            ]
        };
        let mut q1 = baselines();
        q1.push(("hayate-model-1n", run(4.0, &[4.0])));
        q1.push(("hayate-model-2n", run(2.5, &[3.0, 1.0])));
        let mut q2 = baselines();
        q2.push(("hayate-model-1n", run(1.0, &[1.0])));
        q2.push(("hayate-model-2n", run(1.5, &[1.0, 1.0])));
        // Failed at one size: left out of every total.
        let mut q3 = baselines();
        q3.push(("hayate-model-1n", run(9.0, &[9.0])));
        q3.push((
            "hayate-model-2n",
            EngineResult {
                check: "error: lost".into(),
                ..Default::default()
            },
        ));
        let w = WorkloadResult {
            workload: "w".into(),
            engines: Vec::new(),
            setup_s: BTreeMap::new(),
            queries: vec![query("q1", q1), query("q2", q2), query("q3", q3)],
        };
        let s = summarize(&w, &[1, 2], 0.2, "none".into()).expect("a summary");
        assert_eq!(s.left_out, ["q3"]);
        let (one, two) = (&s.points[0], &s.points[1]);
        assert!((one.total_s - 5.0).abs() < 1e-9 && (two.total_s - 4.0).abs() < 1e-9);
        assert!((two.speedup - 1.25).abs() < 1e-9, "{}", two.speedup);
        assert!((two.efficiency - 0.625).abs() < 1e-9);
        // CPU: (4 + 1 + 2 * 0.1) at one node, (3 + 1 + 1 + 1 + 2 * 0.1) at two.
        assert!((two.cpu_vs_one_node - 6.2 / 5.2).abs() < 1e-9);
        // Worker 1 did 4 of the 6 worker CPU-seconds.
        assert!((two.busiest_node_share - 4.0 / 6.0).abs() < 1e-9);
        assert_eq!(two.slower_than_one_node, ["q2"]);
        assert_eq!(two.exchange_bytes, 2000);
        assert_eq!(s.worst_queries[0].0, "q2");
        assert_eq!(s.datafusion_one_node_s, Some(8.0));
    }
}
