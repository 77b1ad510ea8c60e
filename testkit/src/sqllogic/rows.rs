//! Answers as sqllogictest compares them: one string a cell, written the way
//! DataFusion's own sqllogictest files write them (`NULL`, `(empty)` for an
//! empty string, structs as `{a: 1}`, lists as `[1, 2]`), and one letter a
//! column for its type.

use datafusion::arrow::array::{Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use sqllogictest::{ColumnType, DBOutput};

/// A column's type letter, as DataFusion's sqllogictest files use them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnKind {
    Boolean,
    Integer,
    Float,
    Text,
    Timestamp,
    DateTime,
    Other,
}

impl ColumnType for ColumnKind {
    fn from_char(value: char) -> Option<Self> {
        Some(match value {
            'B' => Self::Boolean,
            'I' => Self::Integer,
            'R' => Self::Float,
            'T' => Self::Text,
            'P' => Self::Timestamp,
            'D' => Self::DateTime,
            _ => Self::Other,
        })
    }

    fn to_char(&self) -> char {
        match self {
            Self::Boolean => 'B',
            Self::Integer => 'I',
            Self::Float => 'R',
            Self::Text => 'T',
            Self::Timestamp => 'P',
            Self::DateTime => 'D',
            Self::Other => '?',
        }
    }
}

impl ColumnKind {
    pub fn of(data_type: &DataType) -> Self {
        use DataType::*;
        match data_type {
            Boolean => Self::Boolean,
            Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 | UInt64 => Self::Integer,
            Float16 | Float32 | Float64 | Decimal32(..) | Decimal64(..) | Decimal128(..)
            | Decimal256(..) => Self::Float,
            Utf8 | LargeUtf8 | Utf8View => Self::Text,
            Dictionary(_, value) if matches!(**value, Utf8 | LargeUtf8 | Utf8View) => Self::Text,
            Timestamp(..) => Self::Timestamp,
            Date32 | Date64 | Time32(_) | Time64(_) => Self::DateTime,
            _ => Self::Other,
        }
    }
}

/// The type letters of `schema`'s columns.
pub fn column_kinds(schema: &Schema) -> Vec<ColumnKind> {
    schema
        .fields()
        .iter()
        .map(|f| ColumnKind::of(f.data_type()))
        .collect()
}

/// A statement's answer for the runner: rows for a query, completion for a
/// statement that answers with no columns (DDL, `SET`).
pub fn output(
    schema: &Schema,
    batches: &[RecordBatch],
) -> Result<DBOutput<ColumnKind>, ArrowError> {
    if schema.fields().is_empty() {
        return Ok(DBOutput::StatementComplete(0));
    }
    Ok(DBOutput::Rows {
        types: column_kinds(schema),
        rows: rows(batches)?,
    })
}

/// Every row of `batches` as strings.
pub fn rows(batches: &[RecordBatch]) -> Result<Vec<Vec<String>>, ArrowError> {
    let options = FormatOptions::default().with_null("NULL");
    let mut rows = Vec::new();
    for batch in batches {
        let formatters = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<Result<Vec<_>, _>>()?;
        for row in 0..batch.num_rows() {
            let cells = batch
                .columns()
                .iter()
                .zip(&formatters)
                .map(|(column, formatter)| cell(column.as_ref(), formatter, row))
                .collect();
            rows.push(cells);
        }
    }
    Ok(rows)
}

fn cell(column: &dyn Array, formatter: &ArrayFormatter, row: usize) -> String {
    let text = formatter.value(row).to_string();
    // An empty string would vanish in the file's whitespace-separated rows.
    if text.is_empty() && column.is_valid(row) {
        "(empty)".to_string()
    } else {
        text
    }
}
