//! Statement parameters. A prepared statement's handle carries its SQL and
//! the parameter rows a client bound to it, so the coordinator keeps nothing
//! per prepared statement (a handle survives any call order and works on
//! whichever call brings it). `?` placeholders are numbered `$1`, `$2`, ...
//! in the order they appear, which is how DataFusion binds positional
//! values.

use std::borrow::Cow;
use std::io::Cursor;
use std::sync::Arc;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::ipc::reader::StreamReader;
use datafusion::arrow::ipc::writer::StreamWriter;
use datafusion::common::{ParamValues, ScalarValue};
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::LogicalPlan;
use datafusion::sql::sqlparser::dialect::dialect_from_str;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};
use prost::Message;

/// What a prepared statement's handle holds.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PreparedHandle {
    #[prost(string, tag = "1")]
    pub sql: String,
    /// The bound parameter rows as an Arrow IPC stream; empty when none
    /// were bound.
    #[prost(bytes = "vec", tag = "2")]
    parameters: Vec<u8>,
}

impl PreparedHandle {
    /// A handle for `sql` with nothing bound.
    pub fn new(sql: String) -> Self {
        Self {
            sql,
            parameters: Vec::new(),
        }
    }

    pub fn decode_from(bytes: &[u8]) -> Result<Self> {
        Self::decode(bytes)
            .map_err(|e| DataFusionError::Plan(format!("malformed prepared statement handle: {e}")))
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        self.encode_to_vec()
    }

    /// This handle with `rows` bound (replacing what was bound before);
    /// binding no rows unbinds.
    pub fn bind(mut self, rows: &[RecordBatch]) -> Result<Self> {
        self.parameters.clear();
        let Some(first) = rows.first() else {
            return Ok(self);
        };
        let mut writer = StreamWriter::try_new(&mut self.parameters, &first.schema())?;
        for batch in rows {
            writer.write(batch)?;
        }
        writer.finish()?;
        drop(writer);
        Ok(self)
    }

    /// One list of values per bound row, in column order (`$1` is the first
    /// column); no lists when nothing is bound.
    pub fn rows(&self) -> Result<Vec<Vec<ScalarValue>>> {
        if self.parameters.is_empty() {
            return Ok(Vec::new());
        }
        let batches = StreamReader::try_new(Cursor::new(&self.parameters), None)?
            .collect::<std::result::Result<Vec<_>, _>>()?;
        parameter_rows(&batches)
    }
}

/// One list of values per row of `batches`, in column order (`$1` is the
/// first column).
pub fn parameter_rows(batches: &[RecordBatch]) -> Result<Vec<Vec<ScalarValue>>> {
    let mut rows = Vec::new();
    for batch in batches {
        for row in 0..batch.num_rows() {
            let values = batch
                .columns()
                .iter()
                .map(|column| ScalarValue::try_from_array(column, row))
                .collect::<Result<Vec<_>>>()?;
            rows.push(values);
        }
    }
    Ok(rows)
}

/// `plan` with `values` in place of its placeholders (`$1` is the first
/// value). A value takes the type DataFusion inferred for its placeholder
/// (a client binds a string as Utf8 where the column is Utf8View, an integer
/// as Int64 where it is Int32), as a database casts a bound parameter; a
/// value that would change on the way (1.5 for an integer, 300 for an Int8)
/// is an error, not a silently different value.
pub fn bind(plan: LogicalPlan, values: Vec<ScalarValue>) -> Result<LogicalPlan> {
    let types = plan.get_parameter_types()?;
    let values = values
        .into_iter()
        .enumerate()
        .map(|(i, value)| match types.get(&format!("${}", i + 1)) {
            Some(Some(data_type)) if value.data_type() != *data_type && !value.is_null() => {
                let cast = value.cast_to(data_type)?;
                if cast.cast_to(&value.data_type())? != value {
                    return Err(DataFusionError::Plan(format!(
                        "parameter ${} is {value} ({}), which does not fit {data_type}",
                        i + 1,
                        value.data_type()
                    )));
                }
                Ok(cast)
            }
            _ => Ok(value),
        })
        .collect::<Result<Vec<_>>>()?;
    plan.with_param_values(ParamValues::from(values))
}

/// `sql` with each `?` placeholder numbered in order (`$1`, `$2`, ...),
/// read with the session's SQL dialect; the text is otherwise unchanged.
pub fn number_placeholders<'a>(sql: &'a str, dialect: &str) -> Result<Cow<'a, str>> {
    if !sql.contains('?') {
        return Ok(Cow::Borrowed(sql));
    }
    let dialect = dialect_from_str(dialect)
        .ok_or_else(|| DataFusionError::Plan(format!("unknown SQL dialect {dialect}")))?;
    let tokens = Tokenizer::new(dialect.as_ref(), sql)
        .tokenize_with_location()
        .map_err(|e| DataFusionError::SQL(Box::new(e.into()), None))?;
    let line_starts: Vec<usize> = std::iter::once(0)
        .chain(sql.match_indices('\n').map(|(i, _)| i + 1))
        .collect();
    // Byte offset of a 1-based line and character column.
    let offset = |line: u64, column: u64| -> Option<usize> {
        let start = *line_starts.get(usize::try_from(line).ok()?.checked_sub(1)?)?;
        let column = usize::try_from(column).ok()?.checked_sub(1)?;
        sql[start..]
            .char_indices()
            .nth(column)
            .map(|(i, _)| start + i)
    };
    let mut numbered = String::with_capacity(sql.len() + 8);
    let (mut copied, mut next) = (0, 1);
    for token in tokens {
        if token.token != Token::Placeholder("?".to_string()) {
            continue;
        }
        let at = offset(token.span.start.line, token.span.start.column).ok_or_else(|| {
            DataFusionError::Internal("placeholder outside the statement".to_string())
        })?;
        numbered.push_str(&sql[copied..at]);
        numbered.push_str(&format!("${next}"));
        copied = at + 1;
        next += 1;
    }
    numbered.push_str(&sql[copied..]);
    Ok(Cow::Owned(numbered))
}

/// The schema of the parameters `plan` takes (`$1`, `$2`, ...), with the
/// types DataFusion inferred for them (`Null` where it could not).
pub fn parameter_schema(plan: &LogicalPlan) -> Result<SchemaRef> {
    let mut fields: Vec<(usize, Field)> = plan
        .get_parameter_fields()?
        .into_iter()
        .map(|(id, field)| {
            let position = id
                .strip_prefix('$')
                .and_then(|n| n.parse::<usize>().ok())
                .unwrap_or(usize::MAX);
            let data_type = field
                .map(|f| f.data_type().clone())
                .unwrap_or(DataType::Null);
            (position, Field::new(id, data_type, true))
        })
        .collect();
    fields.sort_by(|a, b| (a.0, a.1.name()).cmp(&(b.0, b.1.name())));
    Ok(Arc::new(Schema::new(
        fields.into_iter().map(|(_, f)| f).collect::<Vec<_>>(),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn question_marks_are_numbered_outside_strings_and_comments() {
        let sql = "SELECT '?', x FROM t -- why?\nWHERE a = ? AND b IN (?, $9) AND c = 'é?'";
        assert_eq!(
            number_placeholders(sql, "generic").unwrap(),
            "SELECT '?', x FROM t -- why?\nWHERE a = $1 AND b IN ($2, $9) AND c = 'é?'"
        );
        assert!(matches!(
            number_placeholders("SELECT 1", "generic").unwrap(),
            Cow::Borrowed(_)
        ));
    }

    #[test]
    fn a_handle_carries_its_rows() {
        let batch = RecordBatch::try_from_iter([(
            "a",
            Arc::new(datafusion::arrow::array::Int64Array::from(vec![3, 4])) as _,
        )])
        .unwrap();
        let handle = PreparedHandle::new("SELECT $1".into())
            .bind(&[batch])
            .unwrap();
        let again = PreparedHandle::decode_from(&handle.to_bytes()).unwrap();
        assert_eq!(again.sql, "SELECT $1");
        assert_eq!(again.rows().unwrap().len(), 2);
        assert!(PreparedHandle::new("x".into()).rows().unwrap().is_empty());
    }
}
