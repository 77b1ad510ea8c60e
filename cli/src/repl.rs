//! Running statements from `-e`, `-f` or an interactive prompt.

use std::time::Instant;

use futures::TryStreamExt;
use rustyline::DefaultEditor;
use rustyline::error::ReadlineError;

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
        let run = async {
            let stream = client.query(sql).await?;
            stream.try_collect::<Vec<_>>().await
        };
        tokio::select! {
            result = run => match result {
                Ok(batches) => print_result(&batches, started.elapsed()),
                Err(e) => {
                    eprintln!("{e}");
                    ok = false;
                }
            },
            _ = tokio::signal::ctrl_c() => {
                eprintln!("Cancelled after {:.3}s", started.elapsed().as_secs_f64());
                ok = false;
            }
        }
    }
    ok
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
