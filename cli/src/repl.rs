//! Running statements from `-e`, `-f` or an interactive prompt.

use std::time::Instant;

use futures::TryStreamExt;
use rustyline::Editor;
use rustyline::error::ReadlineError;
use rustyline::history::DefaultHistory;

use hayate_storage::io_summary;

use crate::client::SqlClient;
use crate::completion::{SqlCompletion, changes_names};
use clap::ValueEnum;

use crate::output::{Output, OutputFormat};
use crate::progress::{ProgressLine, REFRESH};
use crate::statements::split_statements;

/// Runs each statement in turn, printing results. Ctrl-C cancels the running
/// statement (the coordinator then stops its tasks on every worker).
/// Returns false if any statement failed.
pub async fn run_statements(
    client: &mut SqlClient,
    statements: &[String],
    output: &Output,
) -> bool {
    let mut ok = true;
    for sql in statements {
        let started = Instant::now();
        let progress = ProgressLine::new(output.progress);
        let run = async {
            let stream = client.query(sql).await?;
            let mut stream = std::pin::pin!(stream);
            let mut batches = Vec::new();
            let mut rows = 0usize;
            let mut refresh = tokio::time::interval(REFRESH);
            refresh.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    batch = stream.try_next() => match batch? {
                        Some(batch) => {
                            rows += batch.num_rows();
                            batches.push(batch);
                        }
                        None => break,
                    },
                    _ = refresh.tick() => {
                        // Progress is a nicety: a failed ask changes nothing.
                        let now = client.last_progress().await.ok().flatten();
                        progress.show(now.as_ref(), rows, started.elapsed());
                    }
                }
            }
            Ok::<_, crate::client::ClientError>(batches)
        };
        // Dropping `run` on Ctrl-C drops the stream, which makes the
        // coordinator cancel the query on every worker.
        let outcome = tokio::select! {
            result = run => Some(result),
            _ = tokio::signal::ctrl_c() => None,
        };
        progress.clear();
        match outcome {
            Some(Ok(batches)) => {
                output.print(&batches, started.elapsed());
                print_io(client, output).await;
            }
            Some(Err(e)) => {
                eprintln!("{e}");
                ok = false;
                if matches!(e, crate::client::ClientError::CoordinatorLost { .. }) {
                    match client.fail_over() {
                        Ok(next) => eprintln!(
                            "Next statements go to the coordinator at {next}; run this one again there."
                        ),
                        Err(e) => eprintln!("{e}"),
                    }
                }
            }
            None => {
                eprintln!("Cancelled after {:.3}s", started.elapsed().as_secs_f64());
                ok = false;
            }
        }
    }
    ok
}

/// Runs `statements` again every `every` until Ctrl-C or a statement
/// fails (`\watch` at the prompt, `--watch` with `-e`/`-f`): a live view of
/// a table that keeps growing. Each run starts with its time on stderr.
/// Returns false if a statement failed.
pub async fn watch(
    client: &mut SqlClient,
    statements: &[String],
    output: &Output,
    every: std::time::Duration,
) -> bool {
    loop {
        eprintln!(
            "-- {} (every {:.3}s; Ctrl-C stops)",
            chrono::Utc::now().format("%Y-%m-%d %H:%M:%S UTC"),
            every.as_secs_f64()
        );
        if !run_statements(client, statements, output).await {
            return false;
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = tokio::signal::ctrl_c() => return true,
        }
    }
}

/// `\watch [seconds]`: how often, two seconds unless given.
fn watch_every(line: &str) -> Option<Result<std::time::Duration, String>> {
    let mut words = line.split_whitespace();
    if words.next() != Some("\\watch") {
        return None;
    }
    Some(match words.next() {
        None => Ok(std::time::Duration::from_secs(2)),
        Some(seconds) => seconds
            .parse::<f64>()
            .ok()
            .and_then(|s| std::time::Duration::try_from_secs_f64(s).ok())
            .filter(|d| !d.is_zero())
            .ok_or_else(|| format!("\\watch takes seconds, not {seconds:?}")),
    })
}

/// The I/O line after a query that read files (requests, bytes, pruning
/// and cache hits, summed over the query's planning and every task), and a
/// note when workers were lost under the query and it ran again.
async fn print_io(client: &mut SqlClient, output: &Output) {
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
        output.note(&format!("I/O: {}", io_summary(&stats.total)));
    }
    if stats.attempts > 1 {
        output.note(&format!(
            "Ran {} times: lost worker(s) {}",
            stats.attempts,
            stats.lost_workers.join(", ")
        ));
    }
}

/// The interactive prompt: statements end with `;` and may span lines;
/// history is kept in `~/.hayate_history`; Tab completes keywords, tables
/// and columns. Lines starting with a backslash
/// change how answers are printed (`\?` lists them).
pub async fn repl(client: &mut SqlClient, mut output: Output) -> anyhow::Result<()> {
    let mut editor: Editor<SqlCompletion, DefaultHistory> = Editor::new()?;
    let completion = SqlCompletion::default();
    completion.refresh(client).await;
    editor.set_helper(Some(completion.clone()));
    let history =
        std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".hayate_history"));
    if let Some(h) = &history {
        let _ = editor.load_history(h);
    }
    println!("Hayate SQL. End statements with ';'. \\? lists commands, \\q quits.");
    let mut buffer = String::new();
    // What `\watch` runs again.
    let mut last: Vec<String> = Vec::new();
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
                if buffer.is_empty()
                    && let Some(every) = watch_every(trimmed)
                {
                    let _ = editor.add_history_entry(trimmed);
                    match every {
                        Ok(_) if last.is_empty() => {
                            eprintln!("\\watch runs the last statement again: run one first")
                        }
                        Ok(every) => {
                            watch(client, &last, &output, every).await;
                        }
                        Err(e) => eprintln!("{e}"),
                    }
                    continue;
                }
                if buffer.is_empty() && trimmed.starts_with('\\') {
                    let _ = editor.add_history_entry(trimmed);
                    match meta_command(trimmed, &mut output) {
                        Ok(said) => println!("{said}"),
                        Err(e) => eprintln!("{e}"),
                    }
                    continue;
                }
                if !buffer.is_empty() {
                    buffer.push('\n');
                }
                buffer.push_str(&line);
                let (statements, rest) = split_statements(&buffer);
                if !statements.is_empty() {
                    let _ = editor.add_history_entry(buffer.trim());
                    run_statements(client, &statements, &output).await;
                    last = statements.clone();
                    if statements.iter().any(|s| changes_names(s)) {
                        completion.refresh(client).await;
                    }
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

/// A prompt command (`\format csv`, `\timing`, `\?`): what it changed, or
/// why it could not.
fn meta_command(line: &str, output: &mut Output) -> Result<String, String> {
    let mut words = line.split_whitespace();
    match (words.next(), words.next()) {
        (Some("\\format"), Some(name)) => {
            output.format = OutputFormat::from_str(name, true)
                .map_err(|_| format!("unknown format {name:?}: table, csv, json or ndjson"))?;
            Ok(format!("Output format is {name}."))
        }
        (Some("\\format"), None) => Ok(format!("Output format is {:?}.", output.format)),
        (Some("\\timing"), None) => {
            output.timing = !output.timing;
            Ok(format!(
                "Timing is {}.",
                if output.timing { "on" } else { "off" }
            ))
        }
        (Some("\\?"), None) => Ok([
            "\\format [table|csv|json|ndjson]  how answers are printed",
            "\\timing                          row count and time after each statement, on or off",
            "\\watch [seconds]                 run the last statement again every 2 (or N) seconds until Ctrl-C",
            "\\q                               quit",
        ]
        .join("\n")),
        _ => Err(format!("unknown command {line:?} (\\? lists them)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_commands_change_the_output() {
        let mut output = Output {
            format: OutputFormat::Table,
            timing: true,
            progress: crate::progress::ProgressMode::Never,
        };
        meta_command("\\format NDJSON", &mut output).unwrap();
        assert_eq!(output.format, OutputFormat::Ndjson);
        meta_command("\\timing", &mut output).unwrap();
        assert!(!output.timing);
        assert!(meta_command("\\format yaml", &mut output).is_err());
        assert!(meta_command("\\nope", &mut output).is_err());
        assert_eq!(output.format, OutputFormat::Ndjson);
    }

    #[test]
    fn watch_takes_seconds_or_two() {
        use std::time::Duration;
        assert_eq!(watch_every("\\watch"), Some(Ok(Duration::from_secs(2))));
        assert_eq!(
            watch_every("\\watch 0.5"),
            Some(Ok(Duration::from_millis(500)))
        );
        assert!(matches!(watch_every("\\watch soon"), Some(Err(_))));
        assert!(matches!(watch_every("\\watch 0"), Some(Err(_))));
        assert_eq!(watch_every("\\timing"), None);
    }
}
