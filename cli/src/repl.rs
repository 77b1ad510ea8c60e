//! Running statements from `-e`, `-f` or an interactive prompt.

use std::time::Instant;

use std::io::IsTerminal;
use std::time::Duration;

use futures::TryStreamExt;
use indicatif::{ProgressBar, ProgressStyle};
use rustyline::DefaultEditor;
use rustyline::error::ReadlineError;

use hayate_storage::io_summary;

use crate::client::SqlClient;
use crate::output::print_result;
use crate::statements::split_statements;

/// Runs each statement in turn, printing results. Ctrl-C cancels the running
/// statement (the coordinator then stops its tasks on every worker).
/// Returns false if any statement failed.
pub async fn run_statements(client: &mut SqlClient, statements: &[String]) -> bool {
    let mut ok = true;
    for sql in statements {
        let started = Instant::now();
        let progress = progress_bar();
        let run = async {
            let mut stream = std::pin::pin!(client.query(sql).await?);
            let mut batches = Vec::new();
            let mut rows = 0usize;
            while let Some(batch) = stream.try_next().await? {
                rows += batch.num_rows();
                progress.set_message(format!("{rows} rows"));
                batches.push(batch);
            }
            Ok::<_, crate::client::ClientError>(batches)
        };
        // Dropping `run` on Ctrl-C drops the stream, which makes the
        // coordinator cancel the query on every worker.
        let outcome = tokio::select! {
            result = run => Some(result),
            _ = tokio::signal::ctrl_c() => None,
        };
        progress.finish_and_clear();
        match outcome {
            Some(Ok(batches)) => {
                print_result(&batches, started.elapsed());
                print_io(client).await;
            }
            Some(Err(e)) => {
                eprintln!("{e}");
                ok = false;
            }
            None => {
                eprintln!("Cancelled after {:.3}s", started.elapsed().as_secs_f64());
                ok = false;
            }
        }
    }
    ok
}

/// The I/O line after a query that read files (requests, bytes, pruning
/// and cache hits, summed over the query's planning and every task), and a
/// note when workers were lost under the query and it ran again.
async fn print_io(client: &mut SqlClient) {
    let Ok(Some(stats)) = client.last_stats().await else {
        return;
    };
    let touched = [
        "get_requests",
        "list_requests",
        "head_requests",
        "listing_cache_hits",
        "metadata_cache_hits",
    ]
    .iter()
    .any(|k| stats.total.get(*k).copied().unwrap_or(0) > 0);
    if touched {
        println!("I/O: {}", io_summary(&stats.total));
    }
    if stats.attempts > 1 {
        println!(
            "Ran {} times: lost worker(s) {}",
            stats.attempts,
            stats.lost_workers.join(", ")
        );
    }
}

/// A spinner with elapsed time and rows received while a statement runs,
/// on a terminal only (never in piped output); cleared when it ends.
fn progress_bar() -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} running {elapsed} {msg}  (Ctrl-C cancels)")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    bar
}

/// The interactive prompt: statements end with `;` and may span lines;
/// history is kept in `~/.hayate_history`.
pub async fn repl(client: &mut SqlClient) -> anyhow::Result<()> {
    let mut editor = DefaultEditor::new()?;
    let history =
        std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".hayate_history"));
    if let Some(h) = &history {
        let _ = editor.load_history(h);
    }
    println!("Hayate SQL. End statements with ';'. \\q quits.");
    let mut buffer = String::new();
    loop {
        let prompt = if buffer.is_empty() {
            "hayate> "
        } else {
            "   ...> "
        };
        // Reading a line blocks: keep it off the runtime's worker threads,
        // which the embedded cluster of `hayate local` needs.
        let (returned, line) = tokio::task::spawn_blocking(move || {
            let line = editor.readline(prompt);
            (editor, line)
        })
        .await?;
        editor = returned;
        match line {
            Ok(line) => {
                let trimmed = line.trim();
                if buffer.is_empty()
                    && matches!(trimmed, "\\q" | "quit" | "exit" | "quit;" | "exit;")
                {
                    break;
                }
                if !buffer.is_empty() {
                    buffer.push('\n');
                }
                buffer.push_str(&line);
                let (statements, rest) = split_statements(&buffer);
                if !statements.is_empty() {
                    let _ = editor.add_history_entry(buffer.trim());
                    run_statements(client, &statements).await;
                    buffer = rest;
                }
            }
            Err(ReadlineError::Interrupted) => buffer.clear(),
            Err(ReadlineError::Eof) => break,
            Err(e) => return Err(e.into()),
        }
    }
    if let Some(h) = &history {
        let _ = editor.save_history(h);
    }
    Ok(())
}
