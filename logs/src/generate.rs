//! Writing generated logs: one Parquet file per hour (more when an hour
//! holds more than `rows_per_file`), under `dt=YYYY-MM-DD/hour=HH/`, sorted
//! by time, small row groups and pages with statistics so that a time
//! range or a trace id skips most of the data, and bloom filters on the
//! high-cardinality lookup columns. Each hour comes from its own seeded
//! generator: the same spec gives the same bytes.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, Float64Builder, Int32Builder, Int64Builder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow::record_batch::RecordBatch;
use chrono::{Datelike, Duration as ChronoDuration, NaiveDate, Timelike};
use futures::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::SortingColumn;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::model::{self, HOSTS_PER_SERVICE, PROBE_TRACE_ID, SERVICES};
use crate::schema::log_schema;

#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("cannot write Parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    #[error("cannot build a batch: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    #[error("cannot store {path}: {source}")]
    Store {
        path: String,
        source: object_store::Error,
    },
    #[error("generator task failed: {0}")]
    Join(String),
}

/// PUTs of one hour's files in flight at once.
const PUTS_AT_ONCE: usize = 16;

/// What to generate.
#[derive(Clone, Debug)]
pub struct LogSpec {
    pub rows: u64,
    /// First day (UTC).
    pub start: NaiveDate,
    pub days: u32,
    pub seed: u64,
    /// Rows per row group: small enough that a few minutes of logs can be
    /// skipped by their statistics.
    pub rows_per_group: usize,
    pub rows_per_file: usize,
}

impl Default for LogSpec {
    fn default() -> Self {
        Self {
            rows: 1_000_000,
            start: NaiveDate::from_ymd_opt(2026, 11, 1).expect("valid date"),
            days: 7,
            seed: 42,
            rows_per_group: 16 * 1024,
            rows_per_file: 1_000_000,
        }
    }
}

/// What was written.
#[derive(Debug, Default, Clone, Copy)]
pub struct Written {
    pub files: usize,
    pub rows: u64,
    pub bytes: u64,
}

/// Writes the logs of `spec` under `prefix` in `store`.
pub async fn generate(
    spec: &LogSpec,
    store: Arc<dyn ObjectStore>,
    prefix: &str,
) -> Result<Written, GenerateError> {
    let hours = spec.days as usize * 24;
    let counts = rows_per_hour(spec, hours);
    let incidents = Arc::new(incidents(spec));
    let parallel = std::thread::available_parallelism().map_or(2, |n| n.get());
    let jobs = (0..hours).filter(|h| counts[*h] > 0).map(|hour| {
        let (spec, store, incidents) = (spec.clone(), Arc::clone(&store), Arc::clone(&incidents));
        let rows = counts[hour];
        let prefix = prefix.trim_matches('/').to_string();
        async move {
            let files =
                tokio::task::spawn_blocking(move || hour_files(&spec, hour, rows, &incidents))
                    .await
                    .map_err(|e| GenerateError::Join(e.to_string()))??;
            let mut written = Written::default();
            for (_, bytes) in &files {
                written.files += 1;
                written.bytes += bytes.len() as u64;
            }
            // Small files (a shipper's) are written several at once: one
            // at a time, a hundred thousand PUTs take many minutes.
            futures::stream::iter(files)
                .map(|(name, bytes)| {
                    let store = Arc::clone(&store);
                    let path = Path::from(format!("{prefix}/{name}"));
                    async move {
                        store.put(&path, bytes.into()).await.map_err(|source| {
                            GenerateError::Store {
                                path: path.to_string(),
                                source,
                            }
                        })
                    }
                })
                .buffer_unordered(PUTS_AT_ONCE)
                .try_collect::<Vec<_>>()
                .await?;
            written.rows += rows;
            Ok::<_, GenerateError>(written)
        }
    });
    let mut total = Written::default();
    let mut results = futures::stream::iter(jobs).buffer_unordered(parallel);
    while let Some(w) = results.next().await {
        let w = w?;
        total.files += w.files;
        total.rows += w.rows;
        total.bytes += w.bytes;
    }
    Ok(total)
}

/// Rows per hour following a daily cycle (a peak in the UTC afternoon, a
/// trough at night) and quieter weekends; they add up to `spec.rows`.
fn rows_per_hour(spec: &LogSpec, hours: usize) -> Vec<u64> {
    let weights: Vec<f64> = (0..hours)
        .map(|h| {
            let day = spec.start + ChronoDuration::days((h / 24) as i64);
            let hour_of_day = (h % 24) as f64;
            let cycle = 0.35
                + 0.65 * ((((hour_of_day - 9.0) / 24.0) * std::f64::consts::TAU).sin() + 1.0) / 2.0;
            let weekend = matches!(day.weekday(), chrono::Weekday::Sat | chrono::Weekday::Sun);
            cycle * if weekend { 0.7 } else { 1.0 }
        })
        .collect();
    let total: f64 = weights.iter().sum();
    let mut out = Vec::with_capacity(hours);
    let (mut cumulative, mut assigned) = (0.0, 0u64);
    for w in weights {
        cumulative += w;
        let upto = ((cumulative / total) * spec.rows as f64).round() as u64;
        out.push(upto - assigned);
        assigned = upto;
    }
    out
}

/// A window in which one service fails and slows down.
struct Incident {
    service: usize,
    start_us: i64,
    end_us: i64,
}

/// Two incidents a day, 10 to 40 minutes each.
fn incidents(spec: &LogSpec) -> Vec<Incident> {
    let mut rng = ChaCha8Rng::seed_from_u64(spec.seed ^ 0x1ac1_de47);
    let day_us = 86_400_000_000i64;
    (0..spec.days as i64)
        .flat_map(|d| {
            (0..2)
                .map(|_| {
                    let start = d * day_us + rng.random_range(0..day_us);
                    let minutes = rng.random_range(10..40i64);
                    Incident {
                        service: rng.random_range(0..SERVICES.len()),
                        start_us: start,
                        end_us: start + minutes * 60_000_000,
                    }
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// The hour that holds the probe trace: 2026-11-05 14:00 for the default
/// start (day 4, hour 14), else the first hour.
fn probe_hour(spec: &LogSpec) -> usize {
    let hour = 4 * 24 + 14;
    if hour < spec.days as usize * 24 {
        hour
    } else {
        0
    }
}

fn hour_files(
    spec: &LogSpec,
    hour: usize,
    rows: u64,
    incidents: &[Incident],
) -> Result<Vec<(String, Vec<u8>)>, GenerateError> {
    let mut rng =
        ChaCha8Rng::seed_from_u64(spec.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ hour as u64);
    // The attributes draw from a stream of their own, so that the other
    // columns are the same with or without them.
    let mut attributes_rng = ChaCha8Rng::seed_from_u64(
        spec.seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ hour as u64 ^ 0xa771_b0e5_0000_0000,
    );
    let start = spec.start.and_hms_opt(0, 0, 0).expect("midnight").and_utc()
        + ChronoDuration::hours(hour as i64);
    let epoch_us = start.timestamp_micros();
    let since_start_us = hour as i64 * 3_600_000_000;
    let mut offsets: Vec<i64> = (0..rows)
        .map(|_| rng.random_range(0..3_600_000_000i64))
        .collect();
    offsets.sort_unstable();
    let probe_from =
        (hour == probe_hour(spec)).then(|| offsets.partition_point(|o| *o < 23 * 60_000_000));

    let dir = format!("dt={}/hour={:02}", start.format("%Y-%m-%d"), start.hour());
    let mut files = Vec::new();
    for (part, chunk) in offsets.chunks(spec.rows_per_file.max(1)).enumerate() {
        let first_row = part * spec.rows_per_file.max(1);
        let mut b = Builders::new(chunk.len());
        let mut trace = model::trace_id(&mut rng);
        for (i, offset) in chunk.iter().enumerate() {
            let row = first_row + i;
            let mut service = model::service(&mut rng);
            let mut host = rng.random_range(0..HOSTS_PER_SERVICE);
            let at = since_start_us + offset;
            let incident = incidents
                .iter()
                .any(|x| x.service == service && x.start_us <= at && at < x.end_us);
            // A request fans out: a quarter of lines continue the previous
            // line's trace.
            if !rng.random_bool(0.25) {
                trace = model::trace_id(&mut rng);
            }
            let mut trace_id = trace.clone();
            if let Some(from) = probe_from
                && row >= from
                && row < from + 5
            {
                service = row - from;
                host = (row - from) as u32;
                trace_id = PROBE_TRACE_ID.to_string();
            }
            let method = model::method(&mut rng);
            let path_index = model::path_index(&mut rng);
            let path = model::path(&mut rng, path_index);
            let status = model::status(&mut rng, incident);
            let latency = model::latency_ms(&mut rng, path_index, incident);
            let service_name = SERVICES[service].0;
            b.ts.append_value(epoch_us + offset);
            b.host.append_value(format!("{service_name}-{host:02}"));
            b.service.append_value(service_name);
            b.level.append_value(model::level(&mut rng, status));
            b.method.append_value(method);
            b.path.append_value(&path);
            b.status.append_value(status);
            b.latency.append_value(latency);
            b.bytes.append_value(model::bytes(&mut rng, status));
            b.client_ip.append_value(model::client_ip(&mut rng));
            b.user_agent.append_value(model::user_agent(&mut rng));
            b.message.append_value(model::message(
                &mut rng,
                method,
                &path,
                status,
                latency,
                service_name,
            ));
            b.attributes.append_value(model::attributes(
                &mut attributes_rng,
                method,
                path_index,
                status,
                service_name,
            ));
            b.trace_id.append_value(trace_id);
        }
        let batch = b.finish()?;
        files.push((
            format!("{dir}/part-{part:05}.parquet"),
            write_parquet(spec, &batch)?,
        ));
    }
    Ok(files)
}

struct Builders {
    ts: TimestampMicrosecondBuilder,
    host: StringBuilder,
    service: StringBuilder,
    level: StringBuilder,
    method: StringBuilder,
    path: StringBuilder,
    status: Int32Builder,
    latency: Float64Builder,
    bytes: Int64Builder,
    client_ip: StringBuilder,
    user_agent: StringBuilder,
    trace_id: StringBuilder,
    message: StringBuilder,
    attributes: StringBuilder,
}

impl Builders {
    fn new(rows: usize) -> Self {
        let s = || StringBuilder::with_capacity(rows, rows * 16);
        Self {
            ts: TimestampMicrosecondBuilder::with_capacity(rows).with_timezone("UTC"),
            host: s(),
            service: s(),
            level: s(),
            method: s(),
            path: s(),
            status: Int32Builder::with_capacity(rows),
            latency: Float64Builder::with_capacity(rows),
            bytes: Int64Builder::with_capacity(rows),
            client_ip: s(),
            user_agent: s(),
            trace_id: s(),
            message: s(),
            attributes: StringBuilder::with_capacity(rows, rows * 160),
        }
    }

    fn finish(mut self) -> Result<RecordBatch, arrow::error::ArrowError> {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.ts.finish()),
            Arc::new(self.host.finish()),
            Arc::new(self.service.finish()),
            Arc::new(self.level.finish()),
            Arc::new(self.method.finish()),
            Arc::new(self.path.finish()),
            Arc::new(self.status.finish()),
            Arc::new(self.latency.finish()),
            Arc::new(self.bytes.finish()),
            Arc::new(self.client_ip.finish()),
            Arc::new(self.user_agent.finish()),
            Arc::new(self.trace_id.finish()),
            Arc::new(self.message.finish()),
            Arc::new(self.attributes.finish()),
        ];
        RecordBatch::try_new(log_schema(), columns)
    }
}

fn write_parquet(spec: &LogSpec, batch: &RecordBatch) -> Result<Vec<u8>, GenerateError> {
    let bloom = |p: WriterPropertiesBuilderAlias, col: &str| {
        p.set_column_bloom_filter_enabled(ColumnPath::from(col), true)
    };
    let mut props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1)?))
        .set_max_row_group_row_count(Some(spec.rows_per_group.max(1)))
        .set_data_page_row_count_limit((spec.rows_per_group / 8).max(64))
        .set_write_batch_size((spec.rows_per_group / 8).clamp(64, 1024))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_sorting_columns(Some(vec![SortingColumn {
            column_idx: 0,
            descending: false,
            nulls_first: false,
        }]));
    props = bloom(props, "trace_id");
    props = bloom(props, "client_ip");
    let mut out = Vec::new();
    let mut writer = ArrowWriter::try_new(&mut out, batch.schema(), Some(props.build()))?;
    writer.write(batch)?;
    writer.close()?;
    Ok(out)
}

type WriterPropertiesBuilderAlias = parquet::file::properties::WriterPropertiesBuilder;
