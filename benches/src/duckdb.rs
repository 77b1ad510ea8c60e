//! DuckDB as an engine: `python/duckdb_runner.py` in a child process, driven
//! by JSON lines. Used where `import duckdb` works in the chosen Python.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{ChildStdin, ChildStdout, Command, Stdio};
use std::time::Duration;

use anyhow::{Context, bail};

use crate::process::{Meter, Proc};

pub struct DuckDb {
    proc: Proc,
    input: ChildStdin,
    output: BufReader<ChildStdout>,
}

#[derive(serde::Deserialize)]
struct Answer {
    #[serde(default)]
    times: Vec<f64>,
    #[serde(default)]
    rows: usize,
    error: Option<String>,
}

impl DuckDb {
    /// Starts the runner with `python` and `threads` threads; `None` when
    /// that Python has no `duckdb` package.
    pub fn start(python: &Path, threads: usize) -> anyhow::Result<Option<Self>> {
        let has_duckdb = Command::new(python)
            .args(["-c", "import duckdb"])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !has_duckdb {
            return Ok(None);
        }
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("python/duckdb_runner.py");
        let mut child = Command::new(python)
            .arg(script)
            .arg(threads.to_string())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .context("start the DuckDB runner")?;
        let input = child.stdin.take().context("runner stdin")?;
        let output = BufReader::new(child.stdout.take().context("runner stdout")?);
        Ok(Some(Self {
            proc: Proc {
                child,
                role: "duckdb".into(),
            },
            input,
            output,
        }))
    }

    pub fn meter(&self) -> Meter {
        Meter::new(vec![(self.proc.role.clone(), self.proc.pid())])
    }

    fn ask(&mut self, request: serde_json::Value) -> anyhow::Result<Answer> {
        writeln!(self.input, "{request}")?;
        self.input.flush()?;
        let mut line = String::new();
        if self.output.read_line(&mut line)? == 0 {
            bail!("the DuckDB runner exited");
        }
        let answer: Answer = serde_json::from_str(&line)?;
        match answer.error {
            Some(e) => bail!("duckdb: {e}"),
            None => Ok(answer),
        }
    }

    pub fn setup(&mut self, statements: &[String]) -> anyhow::Result<()> {
        self.ask(serde_json::json!({ "setup": statements }))
            .map(|_| ())
    }

    /// Runs `sql` `runs` times; the times and the row count.
    pub async fn run(&mut self, sql: &str, runs: usize) -> anyhow::Result<(Vec<Duration>, usize)> {
        if runs == 0 {
            return Ok((Vec::new(), 0));
        }
        let answer = tokio::task::block_in_place(|| {
            self.ask(serde_json::json!({ "sql": sql, "runs": runs }))
        })?;
        Ok((
            answer
                .times
                .into_iter()
                .map(Duration::from_secs_f64)
                .collect(),
            answer.rows,
        ))
    }
}

/// DuckDB views over the TPC-H tables under `base` (`base/<table>/*.parquet`).
pub fn tpch_setup(base: &str) -> Vec<String> {
    hayate_tpch::TABLES
        .iter()
        .map(|t| {
            format!(
                "CREATE OR REPLACE VIEW {t} AS SELECT * FROM read_parquet('{base}/{t}/*.parquet')"
            )
        })
        .collect()
}

/// A DuckDB view over the logs under `dir`, with the `dt`/`hour`
/// partition columns read from the paths as text, as Hayate reads them.
pub fn logs_setup(dir: &str) -> Vec<String> {
    vec![format!(
        "CREATE OR REPLACE VIEW logs AS SELECT * FROM read_parquet('{dir}/*/*/*.parquet', \
         hive_partitioning = true, hive_types = {{'dt': VARCHAR, 'hour': VARCHAR}})"
    )]
}
