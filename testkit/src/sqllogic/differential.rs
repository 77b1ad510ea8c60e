//! One sqllogictest connection that runs every statement twice: on Hayate,
//! through its Flight SQL server as a client would, and on single-node
//! DataFusion in this process. The runner checks Hayate's answer against the
//! file; every way Hayate's answer differs from DataFusion's (a column's
//! name or type, a value, an error on one side only, an error's text, a
//! schema the stream carries or preparing announced that `GetFlightInfo`
//! did not) is kept
//! as a [`Difference`], so a file that matches neither engine's answer and a
//! statement whose expected answer was written wrong both show.

use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use parking_lot::Mutex;
use sqllogictest::{AsyncDB, DBOutput};

use crate::SqlClient;
use crate::sqllogic::reference::{
    Answer, DIR_VARIABLE, ReferenceDb, StatementError, configures_hayate_only,
};
use crate::sqllogic::rows::{ColumnKind, output, rows};

/// How Hayate's answer to one statement differed from DataFusion's.
#[derive(Debug, Clone)]
pub struct Difference {
    pub sql: String,
    pub what: String,
}

pub struct DifferentialDb {
    hayate: SqlClient,
    /// Where Hayate writes what a file writes to [`DIR_VARIABLE`].
    hayate_dir: String,
    reference: ReferenceDb,
    differences: Arc<Mutex<Vec<Difference>>>,
}

impl DifferentialDb {
    /// Hayate through `hayate`, writing to `hayate_dir`; DataFusion
    /// writing to `reference_dir`. Differences are added to `differences`.
    pub fn new(
        hayate: SqlClient,
        hayate_dir: String,
        reference_dir: String,
        differences: Arc<Mutex<Vec<Difference>>>,
    ) -> Self {
        Self {
            hayate,
            hayate_dir,
            reference: ReferenceDb::new(reference_dir),
            differences,
        }
    }

    async fn hayate_answer(&mut self, sql: &str) -> (Answer, Vec<String>) {
        let sql = sql.replace(DIR_VARIABLE, &self.hayate_dir);
        let described = match self.hayate.run_described(&sql).await {
            Ok(d) => d,
            Err(e) => return (Err(e), vec![]),
        };
        let mut differences = Vec::new();
        if let Some(what) = field_differences(&described.declared, &described.prepared) {
            differences.push(format!(
                "the prepared statement's schema differs from GetFlightInfo's: {what}"
            ));
        }
        for streamed in &described.streamed {
            if let Some(what) = field_differences(&described.declared, streamed) {
                differences.push(format!(
                    "the DoGet stream's schema differs from GetFlightInfo's: {what}"
                ));
            }
        }
        (Ok((described.declared, described.batches)), differences)
    }

    fn note(&self, sql: &str, what: String) {
        self.differences.lock().push(Difference {
            sql: sql.to_string(),
            what,
        });
    }
}

#[async_trait]
impl AsyncDB for DifferentialDb {
    type Error = StatementError;
    type ColumnType = ColumnKind;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<ColumnKind>, StatementError> {
        if configures_hayate_only(sql) {
            let (hayate, _) = self.hayate_answer(sql).await;
            let (schema, batches) = hayate.map_err(StatementError)?;
            return output(&schema, &batches).map_err(|e| StatementError(e.to_string()));
        }
        let reference = self.reference.answer(sql).await;
        let (hayate, wire_differences) = self.hayate_answer(sql).await;
        for what in wire_differences {
            self.note(sql, what);
        }
        match (&hayate, &reference) {
            (Ok((schema, batches)), Ok((expected_schema, expected))) => {
                if let Some(what) = field_differences(expected_schema, schema) {
                    self.note(sql, format!("columns differ: {what}"));
                }
                let (mut got, mut want) = (format_rows(batches), format_rows(expected));
                // Row order is compared by the file (`rowsort` where a query
                // has no ORDER BY), not here.
                got.sort();
                want.sort();
                if got != want {
                    self.note(
                        sql,
                        format!("rows differ:\nHayate:     {got:?}\nDataFusion: {want:?}"),
                    );
                }
            }
            (Err(got), Err(want)) => {
                if !normalize(got).contains(&normalize(want)) {
                    self.note(
                        sql,
                        format!("errors differ:\nHayate:     {got}\nDataFusion: {want}"),
                    );
                }
            }
            (Ok(_), Err(want)) => self.note(sql, format!("only DataFusion failed: {want}")),
            (Err(got), Ok(_)) => self.note(sql, format!("only Hayate failed: {got}")),
        }
        let (schema, batches) = hayate.map_err(StatementError)?;
        output(&schema, &batches).map_err(|e| StatementError(e.to_string()))
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "hayate"
    }

    async fn sleep(dur: std::time::Duration) {
        tokio::time::sleep(dur).await;
    }
}

fn format_rows(batches: &[RecordBatch]) -> Vec<Vec<String>> {
    rows(batches).unwrap_or_else(|e| vec![vec![format!("unprintable: {e}")]])
}

/// Column names and types that differ between two schemas (nullability is
/// not compared: a planner may know more than a wire format says).
fn field_differences(expected: &Schema, got: &Schema) -> Option<String> {
    let describe = |fields: &[Arc<Field>]| -> Vec<String> {
        fields
            .iter()
            .map(|f| format!("{}: {}", f.name(), f.data_type()))
            .collect()
    };
    let (want, have) = (describe(expected.fields()), describe(got.fields()));
    (want != have).then(|| format!("expected {want:?}, got {have:?}"))
}

/// An error's text with its whitespace folded.
fn normalize(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}
