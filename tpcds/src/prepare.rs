//! Preparing TPC-DS data and queries on disk, once per directory, through
//! `tpcds/prepare.py` in the project's Python environment.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::QUERIES;

#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    #[error(
        "cannot run {python}: {source}. Run scripts/test once (it installs .venv), \
         or set HAYATE_PYTHON to a Python with tests/python/requirements.txt installed"
    )]
    NoPython {
        python: String,
        source: std::io::Error,
    },
    #[error("tpcds/prepare.py failed for {dir}: {status}")]
    Script {
        dir: String,
        status: std::process::ExitStatus,
    },
    #[error("TPC-DS query {number} is missing under {dir}: {source}")]
    MissingQuery {
        number: usize,
        dir: String,
        source: std::io::Error,
    },
}

/// TPC-DS data and its 99 queries in one directory.
#[derive(Debug, Clone)]
pub struct TpcdsData {
    dir: PathBuf,
    queries: Vec<String>,
}

impl TpcdsData {
    /// The directory that holds one folder per table.
    pub fn tables_base(&self) -> String {
        self.dir.display().to_string()
    }

    /// Query `n` (1 to 99), without its trailing semicolon.
    pub fn query(&self, n: usize) -> &str {
        self.queries[n - 1].trim().trim_end_matches(';')
    }

    /// Whether query `n` has a defined row order; the others are compared
    /// as multisets.
    pub fn is_ordered(&self, n: usize) -> bool {
        self.query(n).to_lowercase().contains("order by")
    }
}

/// The Python that runs `prepare.py`: `$HAYATE_PYTHON`, or the project's
/// `.venv` (which `scripts/test` installs).
fn python() -> PathBuf {
    if let Some(path) = std::env::var_os("HAYATE_PYTHON") {
        return PathBuf::from(path);
    }
    workspace().join(".venv/bin/python")
}

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Data at scale factor `sf`, each table cut into `parts` files, and the
/// queries, under `dir`; generated only if `dir` is not complete yet.
pub fn prepare(dir: &Path, sf: f64, parts: usize) -> Result<TpcdsData, PrepareError> {
    if !dir.join("READY").exists() {
        let python = python();
        let status = Command::new(&python)
            .arg(workspace().join("tpcds/prepare.py"))
            .arg(dir)
            .args(["--sf", &sf.to_string(), "--parts", &parts.to_string()])
            .status()
            .map_err(|source| PrepareError::NoPython {
                python: python.display().to_string(),
                source,
            })?;
        if !status.success() {
            return Err(PrepareError::Script {
                dir: dir.display().to_string(),
                status,
            });
        }
    }
    let dir = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let queries = QUERIES
        .map(|number| {
            std::fs::read_to_string(dir.join(format!("queries/q{number}.sql"))).map_err(|source| {
                PrepareError::MissingQuery {
                    number,
                    dir: dir.display().to_string(),
                    source,
                }
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(TpcdsData { dir, queries })
}
