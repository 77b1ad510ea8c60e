//! The engines a workload runs on, behind one interface: single-node
//! DataFusion in this process, Hayate through its Flight SQL endpoint, and
//! DuckDB in a Python process. Each run is timed by the caller's clock, and
//! costed (CPU seconds, peak memory) on every process that does the work.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::prelude::{SessionConfig, SessionContext};
use hayate_protocol::QueryStats;
use hayate_testkit::SqlClient;
use object_store::ObjectStore;

use crate::cluster::Hayate;
use crate::duckdb::DuckDb;
use crate::process::{Cost, Meter};
use crate::scale::cgroup::CpuGroup;
use crate::workload::Workload;

/// What the timed runs of one query on one engine gave.
pub struct Runs {
    pub times: Vec<Duration>,
    /// The answer of the last run (empty for DuckDB, which reports a row
    /// count only).
    pub batches: Vec<RecordBatch>,
    pub rows: usize,
    /// Per run.
    pub cost: Cost,
    /// Hayate's account of the last run: exchange bytes, object-store I/O,
    /// the time split.
    pub stats: Option<QueryStats>,
    /// Hayate's account of the first (cold) run.
    pub first_stats: Option<QueryStats>,
}

/// Single-node DataFusion in this process, with all of the machine or, as
/// a baseline of the scale model, inside a CPU group (this process enters
/// it for each run and leaves it after).
pub struct DataFusion {
    pub ctx: SessionContext,
    pub confine: Option<Arc<CpuGroup>>,
}

impl DataFusion {
    /// A session with `stores` registered by URL, then `settings` and
    /// `tables` run (`SET ...`, `CREATE EXTERNAL TABLE ...`).
    pub async fn new(
        settings: &[String],
        stores: &[(url::Url, Arc<dyn ObjectStore>)],
        tables: &[String],
    ) -> anyhow::Result<Self> {
        // With Hayate's functions (JSON, `matches`), so that it answers the
        // same queries.
        // It also knows Hayate's settings (and ignores them), so that
        // `--set hayate.bytes_per_task=...` can go to every engine.
        let state = hayate_planner::with_hayate_functions(
            SessionStateBuilder::new()
                .with_config(
                    SessionConfig::new()
                        .with_option_extension(hayate_planner::HayateOptions::default()),
                )
                .with_default_features()
                .build(),
        )?;
        let ctx = SessionContext::new_with_state(state);
        for (url, store) in stores {
            ctx.register_object_store(url, Arc::clone(store));
        }
        for sql in settings.iter().chain(tables) {
            async { ctx.sql(sql).await?.collect().await }
                .await
                .with_context(|| format!("datafusion: {sql}"))?;
        }
        Ok(Self { ctx, confine: None })
    }

    /// This DataFusion, run inside `group`.
    pub fn confined(mut self, group: Arc<CpuGroup>) -> Self {
        self.confine = Some(group);
        self
    }
}

/// An engine under test.
pub enum Engine {
    DataFusion(DataFusion),
    Hayate {
        hayate: Arc<Hayate>,
        client: SqlClient,
    },
    DuckDb(DuckDb),
}

impl Engine {
    /// Applies `settings` (`SET ...`, the same for DataFusion and Hayate)
    /// and makes `workload`'s tables visible to this engine; false when it
    /// cannot read them (DuckDB has no S3 here) and sits the workload out.
    pub async fn prepare(
        &mut self,
        workload: &Workload,
        settings: &[String],
    ) -> anyhow::Result<bool> {
        match self {
            Engine::DataFusion(df) => {
                let confine = df.confine.take();
                *df = DataFusion::new(settings, &workload.stores, &workload.datafusion_tables)
                    .await?;
                df.confine = confine;
            }
            Engine::Hayate { client, hayate } => {
                for sql in settings.iter().chain(&workload.hayate_tables) {
                    client
                        .update(sql)
                        .await
                        .map_err(|e| anyhow::anyhow!("{}: {sql}: {e}", hayate.name))?;
                }
            }
            Engine::DuckDb(duck) => match &workload.duckdb_tables {
                Some(tables) => duck.setup(tables)?,
                None => return Ok(false),
            },
        }
        Ok(true)
    }

    pub fn name(&self) -> String {
        match self {
            Engine::DataFusion(DataFusion {
                confine: Some(group),
                ..
            }) => group.name.clone(),
            Engine::DataFusion(_) => "datafusion".into(),
            Engine::Hayate { hayate, .. } => hayate.name.clone(),
            Engine::DuckDb(_) => "duckdb".into(),
        }
    }

    fn meter(&self) -> Meter {
        match self {
            Engine::DataFusion(_) => Meter::this_process("datafusion"),
            Engine::Hayate { hayate, .. } => hayate.meter(),
            Engine::DuckDb(d) => d.meter(),
        }
    }

    /// Runs `sql` `warmups` times untimed, then `runs` times timed.
    pub async fn run(&mut self, sql: &str, warmups: usize, runs: usize) -> anyhow::Result<Runs> {
        if let Engine::DuckDb(duck) = self {
            duck.run(sql, warmups).await?;
            let meter = duck.meter();
            let started = meter.start();
            let (times, rows) = duck.run(sql, runs).await?;
            return Ok(Runs {
                times,
                batches: Vec::new(),
                rows,
                cost: meter.stop(started).per_run(runs),
                stats: None,
                first_stats: None,
            });
        }
        let mut first_stats = None;
        for _ in 0..warmups {
            let (_, stats) = self.once(sql).await?;
            first_stats = first_stats.or(stats);
        }
        let meter = self.meter();
        let started = meter.start();
        let mut times = Vec::new();
        let mut last = (Vec::new(), None);
        for _ in 0..runs {
            let t = Instant::now();
            last = self.once_untimed_stats(sql).await?;
            times.push(t.elapsed());
        }
        let cost = meter.stop(started).per_run(runs);
        let (batches, handle) = last;
        let stats = match (self, handle) {
            (Engine::Hayate { client, .. }, Some(id)) => {
                Some(client.stats(&id).await.map_err(anyhow::Error::msg)?)
            }
            _ => None,
        };
        let rows = batches.iter().map(|b| b.num_rows()).sum();
        Ok(Runs {
            times,
            batches,
            rows,
            cost,
            stats,
            first_stats,
        })
    }

    /// Runs `sql` once, untimed; the number of rows it answered.
    pub async fn rows(&mut self, sql: &str) -> anyhow::Result<usize> {
        if let Engine::DuckDb(duck) = self {
            return Ok(duck.run(sql, 1).await?.1);
        }
        let (batches, _) = self.once_untimed_stats(sql).await?;
        Ok(batches.iter().map(|b| b.num_rows()).sum())
    }

    /// One run with its Hayate stats (fetched after the answer).
    async fn once(&mut self, sql: &str) -> anyhow::Result<(Vec<RecordBatch>, Option<QueryStats>)> {
        let (batches, handle) = self.once_untimed_stats(sql).await?;
        let stats = match (self, handle) {
            (Engine::Hayate { client, .. }, Some(id)) => {
                Some(client.stats(&id).await.map_err(anyhow::Error::msg)?)
            }
            _ => None,
        };
        Ok((batches, stats))
    }

    /// One run: the answer and, for Hayate, the query id to ask about.
    async fn once_untimed_stats(
        &mut self,
        sql: &str,
    ) -> anyhow::Result<(Vec<RecordBatch>, Option<String>)> {
        match self {
            Engine::DataFusion(df) => {
                let _inside = df.confine.as_ref().map(|g| g.enter()).transpose()?;
                Ok((df.ctx.sql(sql).await?.collect().await?, None))
            }
            Engine::Hayate { client, hayate } => client
                .run(sql)
                .await
                .map_err(|e| anyhow::anyhow!("{}: {e}", hayate.name)),
            Engine::DuckDb(_) => unreachable!("DuckDB runs in its own process"),
        }
    }
}

/// A metric of Hayate's summed over the whole query.
pub fn total(stats: &QueryStats, key: &str) -> u64 {
    stats.total.get(key).copied().unwrap_or(0)
}
