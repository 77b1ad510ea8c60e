//! The benchmark's results: everything as JSON, a Markdown summary with
//! ratios against single-node DataFusion (and DuckDB), and the targets the
//! performance work is held to, each met or missed by a measured number.

use std::fmt::Write;

use serde::Serialize;

use crate::concurrency::ConcurrencyResult;
use crate::exchange::ExchangeResult;
use crate::floor::FloorResult;
use crate::suite::WorkloadResult;

#[derive(Serialize, Clone, Debug, Default)]
pub struct Report {
    /// When and where it ran.
    pub date: String,
    pub commit: String,
    pub cores: usize,
    pub memory_gib: f64,
    pub partitions: usize,
    pub runs: usize,
    pub workloads: Vec<WorkloadResult>,
    /// Building the search index of the log set, per location.
    pub search_index: Vec<crate::search::IndexBuild>,
    /// `hayate compact` of the shipper's small files, per location.
    pub compaction: Vec<crate::small_files::CompactionRun>,
    /// How soon a file landing in the newest partition is seen.
    pub freshness: Vec<crate::freshness::Freshness>,
    pub floor: Vec<FloorResult>,
    pub exchange: Vec<ExchangeResult>,
    pub concurrency: Vec<ConcurrencyResult>,
    /// The scale model, per workload.
    pub scale: Vec<crate::scale::ScaleSummary>,
    pub targets: Vec<Target>,
}

#[derive(Serialize, Clone, Debug)]
pub struct Target {
    pub name: String,
    pub goal: String,
    pub measured: String,
    pub met: bool,
}

/// Summed medians of `engine` and `reference` over the queries both
/// answered.
pub fn totals(w: &WorkloadResult, engine: &str, reference: &str) -> Option<(f64, f64)> {
    let mut sums = (0.0, 0.0);
    let mut any = false;
    for q in &w.queries {
        let (Some(a), Some(b)) = (
            q.engines.get(engine).and_then(|e| e.median_s),
            q.engines.get(reference).and_then(|e| e.median_s),
        ) else {
            continue;
        };
        sums.0 += a;
        sums.1 += b;
        any = true;
    }
    any.then_some(sums)
}

/// Summed CPU seconds per run of `engine` and `reference` over the
/// queries both answered.
pub fn cpu_totals(w: &WorkloadResult, engine: &str, reference: &str) -> Option<(f64, f64)> {
    let mut sums = (0.0, 0.0);
    let mut any = false;
    for q in &w.queries {
        let (Some(a), Some(b)) = (q.engines.get(engine), q.engines.get(reference)) else {
            continue;
        };
        if a.median_s.is_none() || b.median_s.is_none() {
            continue;
        }
        sums.0 += a.cpu_s;
        sums.1 += b.cpu_s;
        any = true;
    }
    any.then_some(sums)
}

/// The largest per-query time ratio of `engine` against `reference`.
pub fn worst_ratio(w: &WorkloadResult, engine: &str, reference: &str) -> Option<(String, f64)> {
    w.queries
        .iter()
        .filter_map(|q| {
            let a = q.engines.get(engine)?.median_s?;
            let b = q.engines.get(reference)?.median_s?;
            Some((q.query.clone(), a / b))
        })
        .max_by(|a, b| a.1.total_cmp(&b.1))
}

fn ratio(a: Option<f64>, b: Option<f64>) -> String {
    match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => format!("{:.2}x", a / b),
        _ => "-".into(),
    }
}

fn secs(s: Option<f64>) -> String {
    s.map_or("-".into(), |s| format!("{s:.3}"))
}

fn mib(bytes: u64) -> String {
    format!("{:.1}", bytes as f64 / (1024.0 * 1024.0))
}

impl Report {
    pub fn markdown(&self) -> String {
        let mut md = String::new();
        let _ = writeln!(
            md,
            "# Hayate benchmark\n\n{} · commit {} · {} cores, {:.0} GiB · target_partitions {} · median of {} warm runs after a warm-up\n",
            self.date, self.commit, self.cores, self.memory_gib, self.partitions, self.runs
        );
        md.push_str("## Targets\n\n| target | goal | measured | |\n|---|---|---|---|\n");
        for t in &self.targets {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} |",
                t.name,
                t.goal,
                t.measured,
                if t.met { "met" } else { "**missed**" }
            );
        }
        for summary in &self.scale {
            scale_markdown(&mut md, summary);
        }
        for w in &self.workloads {
            self.workload_markdown(&mut md, w);
        }
        if !self.search_index.is_empty() {
            md.push_str("\n## Search index build (`hayate index`, message and attributes)\n\n| location | files | row groups | data MiB | index MiB | index/data | seconds |\n|---|---|---|---|---|---|---|\n");
            for b in &self.search_index {
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {} | {} | {:.1}% | {:.1} |",
                    b.location,
                    b.files,
                    b.row_groups,
                    mib(b.data_bytes),
                    mib(b.index_bytes),
                    100.0 * b.index_bytes as f64 / b.data_bytes.max(1) as f64,
                    b.seconds
                );
            }
        }
        if !self.compaction.is_empty() {
            md.push_str("\n## Compaction of the shipper's small files (sorted by ts; then the replaced files deleted)\n\n| location | partitions | files before | files after | MiB before | MiB after | rows | seconds | cleanup seconds |\n|---|---|---|---|---|---|---|---|---|\n");
            for c in &self.compaction {
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {} | {} | {} | {} | {:.1} | {:.1} |",
                    c.location,
                    c.partitions,
                    c.files_before,
                    c.files_after,
                    mib(c.bytes_before),
                    mib(c.bytes_after),
                    c.rows,
                    c.seconds,
                    c.cleanup_seconds
                );
            }
        }
        if !self.freshness.is_empty() {
            md.push_str("\n## Fresh data: a file lands in the newest partition; the same query is asked until its answer includes it\n\n| workload | engine | seen after | queries | median query |\n|---|---|---|---|---|\n");
            for f in &self.freshness {
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {} | {:.3} s |",
                    f.workload,
                    f.engine,
                    f.seen_after_s
                        .map_or("not within 60 s".into(), |s| format!("{s:.2} s")),
                    f.queries,
                    f.median_query_s
                );
            }
        }
        if !self.floor.is_empty() {
            md.push_str("\n## Per-query floor (Flight SQL, end to end)\n\n");
            md.push_str("| query | Hayate p50 | p99 | ADBC p50 | ADBC p99 | DataFusion in-process p50 |\n|---|---|---|---|---|---|\n");
            for f in &self.floor {
                let adbc = |v: fn(&crate::floor::Latency) -> f64| {
                    f.hayate_adbc
                        .as_ref()
                        .map_or("-".into(), |l| format!("{:.2} ms", v(l)))
                };
                let _ = writeln!(
                    md,
                    "| {} | {:.2} ms | {:.2} ms | {} | {} | {:.2} ms |",
                    f.query,
                    f.hayate.p50_ms,
                    f.hayate.p99_ms,
                    adbc(|l| l.p50_ms),
                    adbc(|l| l.p99_ms),
                    f.datafusion.p50_ms
                );
            }
            md.push_str("\nWhere the time goes (medians, ms): the client's clock, then the coordinator's phases.\n\n");
            md.push_str("| query | GetFlightInfo | DoGet first batch | stream end | plan | split | queued | launch | first batch | stream | cleanup (after the answer) |\n|---|---|---|---|---|---|---|---|---|---|---|\n");
            for f in &self.floor {
                let s = &f.split;
                let _ = writeln!(
                    md,
                    "| {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |",
                    f.query,
                    s.client_get_flight_info_ms,
                    s.client_first_batch_ms,
                    s.client_stream_end_ms,
                    s.plan_ms,
                    s.split_ms,
                    s.queued_ms,
                    s.launch_ms,
                    s.first_batch_ms,
                    s.stream_ms,
                    s.cleanup_ms
                );
            }
        }
        if !self.exchange.is_empty() {
            md.push_str("\n## Exchange between two worker processes (loopback Flight)\n\n| streams | rows | bytes | seconds | GB/s |\n|---|---|---|---|---|\n");
            for e in &self.exchange {
                let _ = writeln!(
                    md,
                    "| {} | {} | {} MiB | {:.3} | {:.2} |",
                    e.streams,
                    e.rows,
                    mib(e.bytes),
                    e.seconds,
                    e.gb_per_s
                );
            }
        }
        if !self.concurrency.is_empty() {
            md.push_str("\n## Throughput under concurrency (workers pinned to one core each)\n\nThe coordinator and the clients are not pinned: they take their CPU from the workers' cores. *Worker-bound* is queries over the busiest worker's CPU-seconds, the rate with that worker alone on its core.\n\n| workers | clients | queries/s | worker-bound queries/s | median latency | wrong | errors | CPU s per process | clients' CPU s |\n|---|---|---|---|---|---|---|---|---|\n");
            for c in &self.concurrency {
                let cpu: Vec<String> = c
                    .cpu_by_process
                    .iter()
                    .map(|(r, s)| format!("{r} {s:.1}"))
                    .collect();
                let _ = writeln!(
                    md,
                    "| {} | {} | {:.1} | {:.1} | {:.0} ms | {} | {} | {} | {:.1} |",
                    c.workers,
                    c.clients,
                    c.qps,
                    c.worker_bound_qps().unwrap_or(f64::NAN),
                    c.median_latency_ms,
                    c.wrong.len(),
                    c.errors.len(),
                    cpu.join(", "),
                    c.clients_cpu_s
                );
            }
        }
        md
    }

    fn workload_markdown(&self, md: &mut String, w: &WorkloadResult) {
        let _ = writeln!(md, "\n## {}\n", w.workload);
        let others: Vec<&String> = w.engines.iter().filter(|e| *e != "datafusion").collect();
        md.push_str("| query | datafusion s |");
        for e in &others {
            let _ = write!(md, " {e} s | ratio |");
        }
        md.push_str(" CPU ratio (2w) | exchange MiB (2w) | cold fetch (2w) | plan (2w, warm) | check |\n|---|---|");
        for _ in &others {
            md.push_str("---|---|");
        }
        md.push_str("---|---|---|---|---|\n");
        let main = others
            .iter()
            .find(|e| e.as_str() == "hayate-2w")
            .or(others.first())
            .map(|e| e.as_str())
            .unwrap_or("datafusion");
        for q in &w.queries {
            let df = q.engines.get("datafusion");
            let df_s = df.and_then(|e| e.median_s);
            let _ = write!(md, "| {} | {} |", q.query, secs(df_s));
            for e in &others {
                let s = q.engines.get(*e).and_then(|r| r.median_s);
                let _ = write!(md, " {} | {} |", secs(s), ratio(s, df_s));
            }
            let h = q.engines.get(main);
            let cpu = match (h, df) {
                (Some(h), Some(d)) if d.cpu_s > 0.0 => format!("{:.2}x", h.cpu_s / d.cpu_s),
                _ => "-".into(),
            };
            let exchange = h.and_then(|h| h.exchange_bytes).map_or("-".into(), mib);
            // Storage read by the first run: bytes and GET requests.
            let cold = match h.map(|h| (h.cold_bytes_fetched, h.cold_get_requests)) {
                Some((Some(bytes), Some(gets))) => format!("{} MiB, {gets} GETs", mib(bytes)),
                _ => "-".into(),
            };
            // Planning's share of a warm run, and the LISTs it made.
            let plan = match h.map(|h| (h.plan_ms, h.list_requests)) {
                Some((Some(ms), Some(lists))) => format!("{ms:.0} ms, {lists} LISTs"),
                _ => "-".into(),
            };
            let checks: Vec<String> = q
                .engines
                .iter()
                .filter(|(_, r)| r.check != "same")
                .map(|(e, r)| format!("{e}: {}", r.check.chars().take(80).collect::<String>()))
                .collect();
            let _ = writeln!(
                md,
                " {cpu} | {exchange} | {cold} | {plan} | {} |",
                if checks.is_empty() {
                    "same".to_string()
                } else {
                    checks.join("; ")
                }
            );
        }
        let _ = write!(md, "| **total** |");
        let df_total: f64 = w
            .queries
            .iter()
            .filter_map(|q| q.engines.get("datafusion")?.median_s)
            .sum();
        let _ = write!(md, " {df_total:.3} |");
        for e in &others {
            match totals(w, e, "datafusion") {
                Some((a, b)) => {
                    let _ = write!(md, " {a:.3} | {:.2}x |", a / b);
                }
                None => md.push_str(" - | - |"),
            }
        }
        let cpu = cpu_totals(w, main, "datafusion")
            .map_or("-".into(), |(a, b)| format!("{:.2}x", a / b.max(1e-9)));
        let _ = writeln!(md, " {cpu} | | | | |");
        let setup: Vec<String> = w
            .setup_s
            .iter()
            .map(|(e, s)| format!("{e} {s:.2} s"))
            .collect();
        let _ = writeln!(
            md,
            "\nMaking the tables visible (CREATE EXTERNAL TABLE): {}.",
            setup.join(", ")
        );
        md.push_str("\nPeak resident memory (MiB, highest over the workload):");
        for e in &w.engines {
            let mut peaks: Vec<(String, u64)> = Vec::new();
            for q in &w.queries {
                if let Some(r) = q.engines.get(e) {
                    for (role, bytes) in &r.peak_bytes {
                        match peaks.iter_mut().find(|(p, _)| p == role) {
                            Some((_, b)) => *b = (*b).max(*bytes),
                            None => peaks.push((role.clone(), *bytes)),
                        }
                    }
                }
            }
            let list: Vec<String> = peaks
                .iter()
                .map(|(r, b)| format!("{r} {}", mib(*b)))
                .collect();
            let _ = write!(md, " {e}: {};", list.join(", "));
        }
        md.push('\n');
    }
}

/// The scale model's table for one workload: what adding nodes buys.
fn scale_markdown(md: &mut String, s: &crate::scale::ScaleSummary) {
    let _ = writeln!(
        md,
        "\n## Scale model: {} (a model, not a cluster: nodes of {} cores in CPU groups on one machine; links: {})\n",
        s.workload, s.cores_per_node, s.link
    );
    md.push_str("| nodes | total s | speedup | efficiency | CPU-s | CPU vs 1 node | exchange MiB | busiest node's share | slower than 1 node |\n|---|---|---|---|---|---|---|---|---|\n");
    for p in &s.points {
        let _ = writeln!(
            md,
            "| {} | {:.2} | {:.2}x | {:.2} | {:.1} | {:.2}x | {} | {:.0}% (even: {:.0}%) | {} |",
            p.nodes,
            p.total_s,
            p.speedup,
            p.efficiency,
            p.cpu_s,
            p.cpu_vs_one_node,
            mib(p.exchange_bytes),
            100.0 * p.busiest_node_share,
            100.0 / p.nodes as f64,
            if p.slower_than_one_node.is_empty() {
                "none".to_string()
            } else {
                p.slower_than_one_node.join(" ")
            }
        );
    }
    let _ = writeln!(
        md,
        "\nSingle-node DataFusion on one node's quota: {} s; on all the largest model's cores: {} s.",
        secs(s.datafusion_one_node_s),
        secs(s.datafusion_all_cores_s)
    );
    if !s.worst_queries.is_empty() {
        let worst: Vec<String> = s
            .worst_queries
            .iter()
            .map(|(q, x)| format!("{q} {x:.2}x"))
            .collect();
        let _ = writeln!(
            md,
            "Lowest speedups at the largest size: {}.",
            worst.join(", ")
        );
    }
    if !s.left_out.is_empty() {
        let _ = writeln!(
            md,
            "Left out of the totals (failed or differed at some size): {}.",
            s.left_out.join(" ")
        );
    }
}
