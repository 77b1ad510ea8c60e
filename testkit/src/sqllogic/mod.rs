//! DataFusion's sqllogictest format run through Hayate's Flight SQL server
//! and, statement by statement, through single-node DataFusion. A file
//! passes when single-node DataFusion gives exactly the answers it records,
//! Hayate gives them too, and not one statement answers differently on
//! Hayate than on DataFusion (columns, types, values, errors).
//!
//! `$HAYATE_DIR` in a file names a directory to write files to: each engine
//! gets a directory of its own, so each reads only what it wrote.

mod differential;
mod reference;
mod rows;

use std::path::Path;
use std::sync::Arc;

use parking_lot::Mutex;
use sqllogictest::{Runner, default_normalizer, default_validator, strict_column_validator};

pub use differential::{Difference, DifferentialDb};
pub use reference::{Answer, ReferenceDb, StatementError};
pub use rows::{ColumnKind, column_kinds, output, rows};

use crate::SqlClient;

/// Runs the file at `path` against the coordinator at `coordinator`, on one
/// connection that names no session (as a new ADBC user does: the session
/// is the connection's) and, beside it, against a fresh single-node
/// DataFusion session. Returns what the runner found wrong with Hayate's
/// answers, or else every statement whose answer differed from DataFusion's.
pub async fn run_on_hayate(path: &Path, coordinator: &str) -> Result<Vec<Difference>, String> {
    let hayate_dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let reference_dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let differences = Arc::new(Mutex::new(Vec::new()));
    let db = DifferentialDb::new(
        SqlClient::connect_unnamed(coordinator).await?,
        hayate_dir.path().display().to_string(),
        reference_dir.path().display().to_string(),
        Arc::clone(&differences),
    );
    one_connection_runner(db)
        .run_file_async(path)
        .await
        .map_err(|e| e.display(false).to_string())?;
    let found = differences.lock().clone();
    Ok(found)
}

/// Runs the file at `path` on single-node DataFusion alone: its recorded
/// answers, row order included, must be DataFusion's.
pub async fn run_on_datafusion(path: &Path) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    one_connection_runner(ReferenceDb::new(dir.path().display().to_string()))
        .run_file_async(path)
        .await
        .map_err(|e| e.display(false).to_string())
}

/// Rewrites the answers the file at `path` records with single-node
/// DataFusion's, as DataFusion's own `--complete` does. What it writes is
/// reviewed by hand before it is committed.
pub async fn complete_from_datafusion(path: &Path) -> Result<(), String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    one_connection_runner(ReferenceDb::new(dir.path().display().to_string()))
        .update_test_file(
            path,
            " ",
            default_validator,
            default_normalizer,
            strict_column_validator,
        )
        .await
        .map_err(|e| e.to_string())
}

/// A runner whose every `connection` record gets the same session (the
/// files test one client's view) and that checks column types.
fn one_connection_runner<D>(
    db: D,
) -> Runner<D, impl FnMut() -> std::future::Ready<Result<D, D::Error>>>
where
    D: sqllogictest::AsyncDB<Error = StatementError>,
{
    let mut db = Some(db);
    let mut runner = Runner::new(move || {
        std::future::ready(
            db.take()
                .ok_or_else(|| StatementError("a file has one connection".into())),
        )
    });
    // A column's type letter is part of the answer.
    runner.with_column_validator(strict_column_validator);
    runner
}

/// Runs every statement of the file at `path` on Hayate and on DataFusion,
/// ignoring the answers the file records (they may be another DataFusion
/// version's, as in DataFusion's own test files), and returns how many
/// statements ran and every one that answered differently. For measuring
/// parity on files that are not ours.
pub async fn differences_in(
    path: &Path,
    coordinator: &str,
) -> Result<(usize, Vec<Difference>), String> {
    use sqllogictest::{AsyncDB, Record};
    let records = sqllogictest::parse_file::<ColumnKind>(path).map_err(|e| e.to_string())?;
    let hayate_dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let reference_dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let differences = Arc::new(Mutex::new(Vec::new()));
    let mut db = DifferentialDb::new(
        SqlClient::connect_unnamed(coordinator).await?,
        hayate_dir.path().display().to_string(),
        reference_dir.path().display().to_string(),
        Arc::clone(&differences),
    );
    let mut statements = 0;
    for record in records {
        let sql = match record {
            Record::Statement { sql, .. } | Record::Query { sql, .. } => sql,
            _ => continue,
        };
        statements += 1;
        // Errors were compared with DataFusion's inside.
        let _ = db.run(&sql).await;
    }
    let found = differences.lock().clone();
    Ok((statements, found))
}
