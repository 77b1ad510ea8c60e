//! Single-node DataFusion as a sqllogictest connection: the engine whose
//! answers the files record, and which Hayate's answers are compared with.

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::physical_plan::collect;
use datafusion::prelude::SessionContext;
use sqllogictest::{AsyncDB, DBOutput};

use crate::sqllogic::rows::{ColumnKind, output};

/// A statement failed (the runner matches `statement error` records against
/// this text).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct StatementError(pub String);

/// One engine's answer: its schema and rows, or its error.
pub type Answer = Result<(SchemaRef, Vec<RecordBatch>), String>;

/// The variable a file names its output directory by.
pub const DIR_VARIABLE: &str = "$HAYATE_DIR";

/// A fresh DataFusion session with DataFusion's defaults and the JSON
/// functions of `datafusion-functions-json` (as a DataFusion user adds them).
pub struct ReferenceDb {
    ctx: SessionContext,
    /// Where this engine writes what a file writes to [`DIR_VARIABLE`].
    dir: String,
}

impl ReferenceDb {
    pub fn new(dir: String) -> Self {
        let mut ctx = SessionContext::new();
        datafusion_functions_json::register_all(&mut ctx)
            .expect("the JSON functions register in a fresh session");
        Self { ctx, dir }
    }

    pub async fn answer(&self, sql: &str) -> Answer {
        let sql = sql.replace(DIR_VARIABLE, &self.dir);
        let frame = self.ctx.sql(&sql).await.map_err(|e| e.to_string())?;
        // The schema of the batches a DataFusion user receives: the
        // physical plan's, which can be more exact than the logical one.
        let plan = frame
            .create_physical_plan()
            .await
            .map_err(|e| e.to_string())?;
        let schema = plan.schema();
        let batches = collect(plan, self.ctx.task_ctx())
            .await
            .map_err(|e| e.to_string())?;
        Ok((schema, batches))
    }
}

#[async_trait]
impl AsyncDB for ReferenceDb {
    type Error = StatementError;
    type ColumnType = ColumnKind;

    async fn run(&mut self, sql: &str) -> Result<DBOutput<ColumnKind>, StatementError> {
        if configures_hayate_only(sql) {
            return Ok(DBOutput::StatementComplete(0));
        }
        let (schema, batches) = self.answer(sql).await.map_err(StatementError)?;
        output(&schema, &batches).map_err(|e| StatementError(e.to_string()))
    }

    async fn shutdown(&mut self) {}

    fn engine_name(&self) -> &str {
        "datafusion"
    }

    async fn sleep(dur: std::time::Duration) {
        tokio::time::sleep(dur).await;
    }
}

/// `SET hayate.…`: a setting DataFusion does not have (how Hayate cuts a
/// plan into tasks), so DataFusion skips it.
pub fn configures_hayate_only(sql: &str) -> bool {
    let words: Vec<String> = sql
        .split_whitespace()
        .take(2)
        .map(str::to_ascii_lowercase)
        .collect();
    matches!(words.as_slice(), [set, name] if set == "set" && name.starts_with("hayate."))
}
