//! Fresh data: how long after a shipper's file lands in the newest
//! partition an engine's answer includes it, asked again and again the way
//! a dashboard or `\watch` would, without `REFRESH TABLE`. The new file is
//! a copy of one of the newest files, so a query for one of its trace ids
//! answers twice as many rows once the copy is seen. The copy is deleted
//! afterwards, so every engine measures the same table.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::parquet::arrow::ProjectionMask;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use serde::Serialize;

use crate::engine::Engine;
use crate::stats::median;
use crate::workload::Workload;

/// How long an engine is given to see the new file.
const PATIENCE: Duration = Duration::from_secs(60);

#[derive(Serialize, Clone, Debug)]
pub struct Freshness {
    pub workload: String,
    pub engine: String,
    /// Seconds from the new file's PUT to the first answer that included
    /// it; `None` when no answer did within [`PATIENCE`].
    pub seen_after_s: Option<f64>,
    /// Queries run until then (the one that saw it included).
    pub queries: usize,
    /// The median time of those queries.
    pub median_query_s: f64,
}

/// The newest partition's first data file, and a trace id it holds.
pub struct Probe {
    pub source: Path,
    pub partition: Path,
    pub sql: String,
}

/// Finds the file to copy in `prefix/dt=<day>/hour=23/` and the query
/// that counts the rows of one of its traces.
pub async fn probe(store: &Arc<dyn ObjectStore>, prefix: &str, day: &str) -> anyhow::Result<Probe> {
    let partition = Path::from(format!("{}/dt={day}/hour=23", prefix.trim_matches('/')));
    let mut files: Vec<Path> = store
        .list(Some(&partition))
        .map_ok(|m| m.location)
        .try_filter(|p| futures::future::ready(p.as_ref().ends_with(".parquet")))
        .try_collect()
        .await?;
    files.sort();
    let source = files
        .into_iter()
        .next()
        .with_context(|| format!("no data file under {partition}"))?;
    // A shipper's file is small: read whole.
    let bytes = store.get(&source).await?.bytes().await?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes)?;
    let column = builder
        .schema()
        .index_of("trace_id")
        .context("the logs have no trace_id")?;
    let mask = ProjectionMask::roots(builder.parquet_schema(), [column]);
    let batch = builder
        .with_projection(mask)
        .with_limit(1)
        .build()?
        .next()
        .context("the newest file is empty")??;
    let ids = cast(batch.column(0), &DataType::Utf8)?;
    let ids = ids.as_string::<i32>();
    anyhow::ensure!(!ids.is_null(0), "the newest file's first trace id is null");
    let trace = ids.value(0);
    Ok(Probe {
        sql: format!(
            "SELECT ts FROM logs WHERE ts >= TIMESTAMP '{day}T23:00:00Z' AND trace_id = '{trace}'"
        ),
        source,
        partition,
    })
}

/// Lands a copy of the probe's file and asks `engine`, which has just run
/// `workload` (its tables are in place and its listings warm), until the
/// answer includes it.
pub async fn measure(
    engine: &mut Engine,
    workload: &Workload,
    store: &Arc<dyn ObjectStore>,
    probe: &Probe,
) -> anyhow::Result<Freshness> {
    let before = engine.rows(&probe.sql).await?;
    anyhow::ensure!(before > 0, "{}: the probe finds no rows", engine.name());
    let copy = Path::from(format!(
        "{}/fresh-{}.parquet",
        probe.partition,
        uuid::Uuid::new_v4().simple()
    ));
    store.copy(&probe.source, &copy).await?;
    let landed = Instant::now();
    let mut times = Vec::new();
    let mut seen_after = None;
    while landed.elapsed() < PATIENCE {
        let asked = Instant::now();
        let rows = engine.rows(&probe.sql).await;
        times.push(asked.elapsed());
        if rows? > before {
            seen_after = Some(landed.elapsed().as_secs_f64());
            break;
        }
    }
    store.delete(&copy).await?;
    Ok(Freshness {
        workload: workload.name.clone(),
        engine: engine.name(),
        seen_after_s: seen_after,
        queries: times.len(),
        median_query_s: median(times).as_secs_f64(),
    })
}
