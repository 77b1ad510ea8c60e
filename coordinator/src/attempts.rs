//! Running a query again when a worker is lost under it.
//!
//! Exchanges are streamed, so a lost task cannot be re-run alone: its
//! consumers have already read part of its output. Inputs are immutable
//! files and tasks are pure, so the whole query can be: the coordinator
//! abandons the run (cancelling its tasks everywhere), leaves out the lost
//! worker and places the query again on the workers that remain.
//!
//! That is safe only while no row has reached the client. So the first
//! `hayate.retry_buffer_bytes` of the result are held back: most
//! interactive answers fit, and for them a lost worker costs a rerun and
//! nothing else. A larger result is streamed once it outgrows the buffer;
//! a worker lost after that fails the query with an error that says so,
//! rather than send rows twice.
//!
//! A worker counts as lost when a call to it fails at the transport (killed,
//! restarted, unreachable, HTTP/2 keep-alive timed out because it is cut off
//! or stuck), when it no longer holds a task it was given, or when its
//! heartbeats stop. Any other error (bad data, out of memory, a cancel) would
//! happen again and fails the query at once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::arrow::array::RecordBatch;
use datafusion::error::DataFusionError;
use datafusion::prelude::SessionContext;
use futures::{Stream, StreamExt};
use hayate_planner::StageGraph;
use hayate_protocol::QueryRun;
use hayate_rpc::{WorkerLost, from_status, lost_worker, to_status};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Status;
use tracing::Instrument;

use crate::cleanup::CleanupGuard;
use crate::error::CoordinatorError;
use crate::membership::Membership;
use crate::query::Query;
use crate::registry::QueryRegistry;
use crate::scheduler::Scheduler;

/// How often a run checks that its workers still heartbeat.
const MEMBERSHIP_CHECK: Duration = Duration::from_millis(250);

/// How many attempts a query gets and how much of its result is held back.
#[derive(Clone, Copy, Debug)]
pub struct RetryPolicy {
    pub max_attempts: usize,
    pub hold_back_bytes: usize,
}

/// Everything a query's runs need.
pub struct Runs {
    pub query: Arc<Query>,
    pub graph: Arc<StageGraph>,
    pub ctx: SessionContext,
    pub scheduler: Scheduler,
    pub membership: Arc<Membership>,
    pub registry: Arc<QueryRegistry>,
    pub policy: RetryPolicy,
}

type Item = Result<RecordBatch, DataFusionError>;

/// The query's result; runs it again (up to the policy's attempts) when a
/// worker is lost before any row was sent. Dropping the stream ends the run
/// on every worker.
pub fn run_with_retries(run: Runs) -> impl Stream<Item = Item> + Send + 'static {
    let (tx, rx) = mpsc::channel(2);
    // In the query's span: its log lines carry its id, and the calls that
    // launch its tasks carry its trace to the workers.
    let span = run.query.span();
    tokio::spawn(drive(run, tx).instrument(span));
    ReceiverStream::new(rx)
}

enum RunEnd {
    Done,
    ClientGone,
    Failed(DataFusionError),
}

/// Result batches not yet sent to the client.
struct Output {
    tx: mpsc::Sender<Item>,
    held: Vec<RecordBatch>,
    held_bytes: usize,
    hold_back_bytes: usize,
    /// Rows sent to the client (once non-zero, a rerun would repeat them).
    sent_rows: usize,
    /// When the run's first batch arrived.
    first_batch: Option<Instant>,
}

impl Output {
    /// Holds `batch` back or sends it; false if the client is gone.
    async fn push(&mut self, batch: RecordBatch) -> bool {
        self.first_batch.get_or_insert_with(Instant::now);
        let bytes = batch.get_array_memory_size();
        if self.sent_rows == 0 && self.held_bytes + bytes <= self.hold_back_bytes {
            self.held_bytes += bytes;
            self.held.push(batch);
            return true;
        }
        self.flush().await && self.send(batch).await
    }

    async fn flush(&mut self) -> bool {
        for batch in std::mem::take(&mut self.held) {
            if !self.send(batch).await {
                return false;
            }
        }
        self.held_bytes = 0;
        true
    }

    async fn send(&mut self, batch: RecordBatch) -> bool {
        let rows = batch.num_rows();
        if self.tx.send(Ok(batch)).await.is_err() {
            return false;
        }
        self.sent_rows += rows;
        true
    }

    fn discard(&mut self) {
        self.held.clear();
        self.held_bytes = 0;
        self.first_batch = None;
    }
}

async fn drive(run: Runs, tx: mpsc::Sender<Item>) {
    let mut out = Output {
        tx,
        held: Vec::new(),
        held_bytes: 0,
        hold_back_bytes: run.policy.hold_back_bytes,
        sent_rows: 0,
        first_batch: None,
    };
    let mut excluded: Vec<String> = Vec::new();
    let mut attempt: u32 = 1;
    loop {
        let this_run = QueryRun::new(run.query.id.clone(), attempt);
        run.query.running(attempt);
        let launch = Instant::now();
        let started = run
            .scheduler
            .start(&this_run, &run.graph, &run.ctx, &excluded)
            .await;
        let launched = Instant::now();
        run.query.time(|t| &mut t.launch_us, launched - launch);
        tracing::debug!(
            attempt,
            launched = started.is_ok(),
            launch_ms = (launched - launch).as_secs_f64() * 1000.0,
            "run started"
        );
        let (error, guard) = match started {
            Ok(running) => {
                let workers = running.placed.workers();
                let guard = CleanupGuard::new(
                    run.scheduler.channels().clone(),
                    Arc::clone(&run.registry),
                    Arc::clone(&run.query),
                    this_run,
                    running.placed,
                );
                match pump(running.stream, &workers, &run.membership, &mut out).await {
                    RunEnd::Done => {
                        let first = out.first_batch.unwrap_or(launched);
                        run.query.time(|t| &mut t.first_batch_us, first - launched);
                        run.query.time(|t| &mut t.stream_us, first.elapsed());
                        if out.flush().await {
                            drop(out);
                            guard.finish_now().await;
                        }
                        return;
                    }
                    RunEnd::ClientGone => return,
                    RunEnd::Failed(error) => (error, Some(guard)),
                }
            }
            // Every worker was lost: say so rather than ask for a first one.
            Err(CoordinatorError::NoWorkers) if !excluded.is_empty() => (
                from_status(Status::unavailable(format!(
                    "no live workers left after losing {}",
                    excluded.join(", ")
                ))),
                None,
            ),
            // Launching failed: the scheduler already cancelled what it had
            // launched.
            Err(CoordinatorError::DataFusion(e)) => (e, None),
            Err(e) => (from_status(Status::from(e)), None),
        };
        let lost = lost_worker(&error).map(|l| l.worker.clone());
        match lost {
            Some(lost) if out.sent_rows == 0 && (attempt as usize) < run.policy.max_attempts => {
                tracing::warn!(
                    query_id = %run.query.id,
                    attempt,
                    worker = %lost,
                    error = %error,
                    "worker lost; running the query again without it"
                );
                out.discard();
                match guard {
                    Some(guard) => guard.abandon(&lost),
                    None => run.registry.retried(&run.query, &lost),
                }
                run.membership.forget_address(&lost);
                excluded.push(lost);
                attempt += 1;
            }
            lost => {
                // The query's state becomes failed when its stream delivers
                // the error; with no run on the workers nobody else reports.
                if guard.is_none() {
                    run.registry.file_reports(&run.query, Vec::new(), true);
                }
                let error =
                    explain_failure(error, lost.as_deref(), attempt as usize, out.sent_rows);
                let _ = out.tx.send(Err(error)).await;
                return;
            }
        }
    }
}

/// Reads one run's output into `out`, watching that its workers heartbeat.
async fn pump(
    mut stream: datafusion::execution::SendableRecordBatchStream,
    workers: &[String],
    membership: &Membership,
    out: &mut Output,
) -> RunEnd {
    let mut check = tokio::time::interval(MEMBERSHIP_CHECK);
    loop {
        tokio::select! {
            biased;
            _ = out.tx.closed() => return RunEnd::ClientGone,
            _ = check.tick() => {
                if let Some(silent) = workers.iter().find(|w| membership.went_silent(w)) {
                    let lost = WorkerLost::new(
                        silent.as_str(),
                        format!("worker {silent} stopped sending heartbeats"),
                    );
                    return RunEnd::Failed(lost.into());
                }
            }
            item = stream.next() => match item {
                None => return RunEnd::Done,
                Some(Ok(batch)) => {
                    if !out.push(batch).await {
                        return RunEnd::ClientGone;
                    }
                }
                Some(Err(e)) => return RunEnd::Failed(e),
            },
        }
    }
}

/// The error a client sees when a query fails for good: for a lost worker,
/// why it was not run again. The status code is kept.
fn explain_failure(
    error: DataFusionError,
    lost: Option<&str>,
    attempts: usize,
    sent_rows: usize,
) -> DataFusionError {
    let Some(lost) = lost else {
        return error;
    };
    let status = to_status(&error);
    let why = if sent_rows > 0 {
        format!(
            "worker {lost} was lost after {sent_rows} rows had been sent, so the query \
             cannot be run again without repeating them (raise hayate.retry_buffer_bytes \
             to hold back more of a result)"
        )
    } else {
        format!("query failed after {attempts} attempt(s); the last lost worker {lost}")
    };
    from_status(Status::with_metadata(
        status.code(),
        format!("{why}: {}", status.message()),
        status.metadata().clone(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::Int64Array;
    use datafusion::arrow::datatypes::{DataType, Field, Schema};

    fn batch(rows: i64) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
        RecordBatch::try_new(
            schema,
            vec![Arc::new(Int64Array::from_iter_values(0..rows))],
        )
        .unwrap()
    }

    fn output(hold_back_bytes: usize) -> (Output, mpsc::Receiver<Item>) {
        let (tx, rx) = mpsc::channel(16);
        let out = Output {
            tx,
            held: Vec::new(),
            held_bytes: 0,
            hold_back_bytes,
            sent_rows: 0,
            first_batch: None,
        };
        (out, rx)
    }

    #[tokio::test]
    async fn results_within_the_buffer_stay_back_until_the_end() {
        let (mut out, mut rx) = output(1 << 20);
        assert!(out.push(batch(10)).await);
        assert!(out.push(batch(10)).await);
        assert_eq!(
            out.sent_rows, 0,
            "nothing reached the client: a rerun is safe"
        );
        assert!(rx.try_recv().is_err());
        out.discard();
        assert!(out.push(batch(5)).await);
        assert!(out.flush().await);
        assert_eq!(out.sent_rows, 5, "only the rerun's rows were sent");
    }

    #[tokio::test]
    async fn a_result_past_the_buffer_streams_and_cannot_be_rerun() {
        let small = batch(10).get_array_memory_size();
        let (mut out, mut rx) = output(small + small / 2);
        assert!(out.push(batch(10)).await);
        assert_eq!(out.sent_rows, 0);
        assert!(out.push(batch(10)).await);
        assert_eq!(
            out.sent_rows, 20,
            "the held batch went out first, then this one"
        );
        assert_eq!(rx.recv().await.unwrap().unwrap().num_rows(), 10);
        let lost = explain_failure(
            from_status(Status::unavailable("reset")),
            Some("http://w:1"),
            1,
            out.sent_rows,
        );
        assert!(
            lost.to_string().contains("after 20 rows had been sent"),
            "{lost}"
        );
    }
}
