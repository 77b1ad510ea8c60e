//! The line that shows a running statement: stages done of all, tasks
//! running and done, rows and bytes scanned so far, rows received and the
//! time, refreshed from the coordinator twice a second. On a terminal it is
//! a spinner line cleared at the end; `--progress always` prints it as plain
//! lines on stderr when there is no terminal (logs, tests).

use std::io::IsTerminal;
use std::time::Duration;

use clap::ValueEnum;
use hayate_protocol::QueryProgress;
use hayate_storage::human_bytes;
use indicatif::{ProgressBar, ProgressStyle};

/// How often the coordinator is asked where a statement is.
pub const REFRESH: Duration = Duration::from_millis(500);

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ProgressMode {
    /// On a terminal only.
    Auto,
    /// On a terminal, or as plain lines on stderr.
    Always,
    /// Never.
    Never,
}

/// The progress display of one statement.
pub struct ProgressLine {
    bar: ProgressBar,
    /// Plain lines on stderr instead of a spinner.
    plain: bool,
}

impl ProgressLine {
    pub fn new(mode: ProgressMode) -> Self {
        let terminal = std::io::stderr().is_terminal();
        let hidden = || Self {
            bar: ProgressBar::hidden(),
            plain: false,
        };
        match (mode, terminal) {
            (ProgressMode::Never, _) | (ProgressMode::Auto, false) => hidden(),
            (ProgressMode::Always, false) => Self {
                bar: ProgressBar::hidden(),
                plain: true,
            },
            (_, true) => {
                let bar = ProgressBar::new_spinner();
                bar.set_style(
                    ProgressStyle::with_template("{spinner} {msg}  (Ctrl-C cancels)")
                        .unwrap_or_else(|_| ProgressStyle::default_spinner()),
                );
                bar.enable_steady_tick(Duration::from_millis(200));
                Self { bar, plain: false }
            }
        }
    }

    /// Shows where the statement is, with `received` rows already here.
    pub fn show(&self, progress: Option<&QueryProgress>, received: usize, elapsed: Duration) {
        let line = describe(progress, received, elapsed);
        if self.plain {
            eprintln!("progress: {line}");
        } else {
            self.bar.set_message(line);
        }
    }

    pub fn clear(&self) {
        self.bar.finish_and_clear();
    }
}

/// "stages 1/3 · tasks 2 running, 4/6 done · 1.2M rows, 45.0 MiB scanned · 10 rows received · 3.1s"
pub fn describe(progress: Option<&QueryProgress>, received: usize, elapsed: Duration) -> String {
    let time = format!("{:.1}s", elapsed.as_secs_f64());
    let received = format!("{received} rows received");
    let Some(p) = progress else {
        return format!("running · {received} · {time}");
    };
    let mut parts = vec![format!("stages {}/{}", p.stages_done, p.stages_total)];
    if p.tasks_total > 0 {
        parts.push(format!(
            "tasks {} running, {}/{} done",
            p.tasks_running, p.tasks_done, p.tasks_total
        ));
    }
    if p.rows_scanned > 0 || p.bytes_scanned > 0 {
        parts.push(format!(
            "{} rows, {} scanned",
            p.rows_scanned,
            human_bytes(p.bytes_scanned)
        ));
    }
    if p.attempt > 1 {
        parts.push(format!("run {}", p.attempt));
    }
    parts.push(received);
    parts.push(time);
    parts.join(" · ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_names_stages_tasks_and_bytes() {
        let p = QueryProgress {
            stages_total: 3,
            stages_done: 1,
            tasks_total: 6,
            tasks_running: 2,
            tasks_done: 4,
            rows_scanned: 1200,
            bytes_scanned: 2048,
            ..Default::default()
        };
        let line = describe(Some(&p), 10, Duration::from_millis(3100));
        assert_eq!(
            line,
            "stages 1/3 · tasks 2 running, 4/6 done · 1200 rows, 2.0 KiB scanned · 10 rows received · 3.1s"
        );
    }
}
