//! The per-query floor: how long the shortest statements take end to end
//! through Flight SQL, p50 and p99 over many runs, and where the time goes:
//! on the client's clock (`GetFlightInfo`, `DoGet` to the first batch, to the
//! end) and on the coordinator's (the phases of [`QueryTimings`]).

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use arrow_flight::sql::{Any, TicketStatementQuery};
use futures::TryStreamExt;
use hayate_protocol::QueryTimings;
use hayate_testkit::SqlClient;
use prost::Message;
use serde::Serialize;

use crate::engine::DataFusion;
use crate::stats::{median, ms, percentile};

/// A short statement to time.
pub struct FloorQuery {
    pub name: String,
    pub sql: String,
}

#[derive(Serialize, Clone, Debug, Default)]
pub struct Latency {
    pub runs: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
}

impl Latency {
    fn of(times: Vec<Duration>) -> Self {
        Self {
            runs: times.len(),
            p50_ms: ms(percentile(times.clone(), 50.0)),
            p99_ms: ms(percentile(times, 99.0)),
        }
    }
}

/// Medians of each part of the time, in milliseconds.
#[derive(Serialize, Clone, Debug, Default)]
pub struct Split {
    /// On the client: `GetFlightInfo` (planning), `DoGet` until the first
    /// batch, and until the end of the stream.
    pub client_get_flight_info_ms: f64,
    pub client_first_batch_ms: f64,
    pub client_stream_end_ms: f64,
    /// On the coordinator (see `QueryTimings`).
    pub plan_ms: f64,
    pub split_ms: f64,
    pub queued_ms: f64,
    pub launch_ms: f64,
    pub first_batch_ms: f64,
    pub stream_ms: f64,
    /// After the client has its answer.
    pub cleanup_ms: f64,
}

#[derive(Serialize, Clone, Debug)]
pub struct FloorResult {
    pub query: String,
    pub sql: String,
    /// Hayate through the Rust Flight SQL client.
    pub hayate: Latency,
    pub split: Split,
    /// Hayate through the ADBC Flight SQL driver (Python), where installed.
    pub hayate_adbc: Option<Latency>,
    /// Single-node DataFusion in this process (no network at all).
    pub datafusion: Latency,
}

/// Times `queries` `runs` times each on the coordinator at `address` (whose
/// client has the tables) and on DataFusion.
pub async fn measure(
    client: &mut SqlClient,
    address: &str,
    datafusion: &DataFusion,
    queries: &[FloorQuery],
    runs: usize,
    python: Option<&Path>,
) -> anyhow::Result<Vec<FloorResult>> {
    let mut results = Vec::new();
    for q in queries {
        for _ in 0..runs.min(50) {
            timed_run(client, &q.sql).await?;
        }
        let mut totals = Vec::new();
        let mut parts: Vec<[Duration; 3]> = Vec::new();
        let mut handles = Vec::new();
        for i in 0..runs {
            let (total, part, handle) = timed_run(client, &q.sql).await?;
            totals.push(total);
            parts.push(part);
            // The coordinator's split of every tenth run: asking is a call
            // of its own, kept out of the timed runs' way.
            if i % 10 == 0 {
                handles.push(handle);
            }
        }
        let mut timings = Vec::new();
        for handle in handles {
            if let Some(t) = client
                .stats(&handle)
                .await
                .map_err(anyhow::Error::msg)?
                .timings
            {
                timings.push(t);
            }
        }
        let part = |i: usize| ms(median(parts.iter().map(|p| p[i]).collect()));
        let phase = |f: fn(&QueryTimings) -> u64| {
            ms(median(
                timings
                    .iter()
                    .map(|t| Duration::from_micros(f(t)))
                    .collect(),
            ))
        };
        let split = Split {
            client_get_flight_info_ms: part(0),
            client_first_batch_ms: part(1),
            client_stream_end_ms: part(2),
            plan_ms: phase(|t| t.plan_us),
            split_ms: phase(|t| t.split_us),
            queued_ms: phase(|t| t.queued_us),
            launch_ms: phase(|t| t.launch_us),
            first_batch_ms: phase(|t| t.first_batch_us),
            stream_ms: phase(|t| t.stream_us),
            cleanup_ms: phase(|t| t.cleanup_us),
        };
        let mut df_times = Vec::new();
        for i in 0..runs.min(200) + 10 {
            let t = Instant::now();
            datafusion.ctx.sql(&q.sql).await?.collect().await?;
            if i >= 10 {
                df_times.push(t.elapsed());
            }
        }
        let hayate_adbc = match python {
            Some(python) => adbc_latency(python, address, &q.sql, runs)?,
            None => None,
        };
        let result = FloorResult {
            query: q.name.clone(),
            sql: q.sql.clone(),
            hayate: Latency::of(totals),
            split,
            hayate_adbc,
            datafusion: Latency::of(df_times),
        };
        eprintln!(
            "floor {}: hayate p50 {:.2} ms p99 {:.2} ms (adbc {}), datafusion p50 {:.2} ms",
            result.query,
            result.hayate.p50_ms,
            result.hayate.p99_ms,
            result
                .hayate_adbc
                .as_ref()
                .map_or("-".to_string(), |l| format!(
                    "p50 {:.2} ms p99 {:.2} ms",
                    l.p50_ms, l.p99_ms
                )),
            result.datafusion.p50_ms
        );
        results.push(result);
    }
    Ok(results)
}

/// One run: the total, the client's split of it (`GetFlightInfo`, first
/// batch, end) and the query id.
async fn timed_run(
    client: &mut SqlClient,
    sql: &str,
) -> anyhow::Result<(Duration, [Duration; 3], String)> {
    let start = Instant::now();
    let info = client.inner.execute(sql.to_string(), None).await?;
    let planned = start.elapsed();
    let mut first = None;
    let mut handle = String::new();
    for endpoint in info.endpoint {
        let ticket = endpoint
            .ticket
            .ok_or_else(|| anyhow::anyhow!("endpoint without ticket"))?;
        let statement: Option<TicketStatementQuery> =
            Any::decode(ticket.ticket.as_ref())?.unpack()?;
        handle = statement
            .and_then(|s| hayate_protocol::StatementTicket::from_handle(&s.statement_handle))
            .map(|t| t.query_id)
            .unwrap_or_default();
        let mut stream = client.inner.do_get(ticket).await?;
        while stream.try_next().await?.is_some() {
            first.get_or_insert_with(|| start.elapsed());
        }
    }
    let total = start.elapsed();
    Ok((total, [planned, first.unwrap_or(total), total], handle))
}

#[derive(serde::Deserialize)]
struct AdbcAnswer {
    p50_ms: f64,
    p99_ms: f64,
    runs: usize,
}

/// The same statement through the ADBC driver, as a Python user runs it;
/// `None` when that Python has no ADBC Flight SQL driver.
fn adbc_latency(
    python: &Path,
    address: &str,
    sql: &str,
    runs: usize,
) -> anyhow::Result<Option<Latency>> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/adbc_floor.py");
    let uri = address.replacen("http://", "grpc://", 1);
    let output = Command::new(python)
        .arg(script)
        .arg(&uri)
        .arg(runs.to_string())
        .arg(sql)
        .output()?;
    if !output.status.success() {
        let err = String::from_utf8_lossy(&output.stderr);
        if err.contains("ModuleNotFoundError") {
            return Ok(None);
        }
        anyhow::bail!("ADBC floor run failed: {err}");
    }
    let answer: AdbcAnswer = serde_json::from_slice(&output.stdout)?;
    Ok(Some(Latency {
        runs: answer.runs,
        p50_ms: answer.p50_ms,
        p99_ms: answer.p99_ms,
    }))
}
