//! Tables partitioned by the time of a timestamp column
//! (`dt=YYYY-MM-DD/hour=HH/`, UTC), declared with
//! `OPTIONS ('hayate.time_column' 'ts')`: a filter on the timestamp alone
//! (`ts >= TIMESTAMP '2026-11-07T23:00:00Z'`) also selects partitions, so
//! the files of other days and hours never enter the plan. Users write the
//! time range they mean and need not repeat it as `dt`/`hour` filters.

use chrono::{DateTime, Timelike};
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::common::ScalarValue;
use datafusion::error::{DataFusionError, Result};
use datafusion::logical_expr::{Between, BinaryExpr, Expr, Operator, col, lit};

/// The table option that names the time column.
pub const TIME_COLUMN_OPTION: &str = "hayate.time_column";

/// A table's time column and the partition columns that hold its UTC date
/// and, if any, its UTC hour (two digits).
#[derive(Debug)]
pub struct TimePartitions {
    time_column: String,
    day_column: String,
    hour_column: Option<String>,
}

impl TimePartitions {
    pub fn try_new(
        schema: &SchemaRef,
        time_column: &str,
        partition_columns: &[String],
    ) -> Result<Self> {
        let field = schema.field_with_name(time_column).map_err(|_| {
            DataFusionError::Plan(format!("{TIME_COLUMN_OPTION}: no column {time_column}"))
        })?;
        if !matches!(field.data_type(), DataType::Timestamp(_, _)) {
            return Err(DataFusionError::Plan(format!(
                "{TIME_COLUMN_OPTION}: {time_column} is {}, not a timestamp",
                field.data_type()
            )));
        }
        let Some(day_column) = partition_columns.first() else {
            return Err(DataFusionError::Plan(format!(
                "{TIME_COLUMN_OPTION} needs PARTITIONED BY (<date column>[, <hour column>])"
            )));
        };
        Ok(Self {
            time_column: time_column.to_string(),
            day_column: day_column.clone(),
            hour_column: partition_columns.get(1).cloned(),
        })
    }

    /// Partition filters implied by the time range of `filters`.
    pub fn partition_filters(&self, filters: &[Expr]) -> Vec<Expr> {
        let mut range = TimeRange::default();
        for f in filters {
            range.narrow(f, &self.time_column);
        }
        let mut out = Vec::new();
        let (day, hour) = (col(&self.day_column), self.hour_column.as_deref().map(col));
        if let Some(from) = range.from.and_then(DateTime::from_timestamp_micros) {
            let from_day = lit(from.format("%Y-%m-%d").to_string());
            out.push(day.clone().gt_eq(from_day.clone()));
            if let Some(hour) = &hour {
                let from_hour = lit(format!("{:02}", from.hour()));
                out.push(day.clone().gt(from_day).or(hour.clone().gt_eq(from_hour)));
            }
        }
        // `until` is exclusive: the last instant in range is one µs before.
        if let Some(last) = range
            .until
            .and_then(|u| DateTime::from_timestamp_micros(u - 1))
        {
            let last_day = lit(last.format("%Y-%m-%d").to_string());
            out.push(day.clone().lt_eq(last_day.clone()));
            if let Some(hour) = &hour {
                let last_hour = lit(format!("{:02}", last.hour()));
                out.push(day.lt(last_day).or(hour.clone().lt_eq(last_hour)));
            }
        }
        out
    }
}

/// `[from, until)` in microseconds since the epoch, as far as known.
#[derive(Default, Debug)]
struct TimeRange {
    from: Option<i64>,
    until: Option<i64>,
}

impl TimeRange {
    fn narrow(&mut self, filter: &Expr, column: &str) {
        match filter {
            Expr::BinaryExpr(BinaryExpr { left, op, right }) => {
                if *op == Operator::And {
                    self.narrow(left, column);
                    self.narrow(right, column);
                    return;
                }
                let (op, value) = match (is_column(left, column), is_column(right, column)) {
                    (true, false) => (*op, micros(right)),
                    (false, true) => match op.swap() {
                        Some(swapped) => (swapped, micros(left)),
                        None => return,
                    },
                    _ => return,
                };
                let Some(v) = value else { return };
                match op {
                    Operator::GtEq => self.start_no_earlier_than(v),
                    Operator::Gt => self.start_no_earlier_than(v + 1),
                    Operator::Lt => self.end_no_later_than(v),
                    Operator::LtEq => self.end_no_later_than(v + 1),
                    Operator::Eq => {
                        self.start_no_earlier_than(v);
                        self.end_no_later_than(v + 1);
                    }
                    _ => {}
                }
            }
            Expr::Between(Between {
                expr,
                negated: false,
                low,
                high,
            }) if is_column(expr, column) => {
                if let Some(v) = micros(low) {
                    self.start_no_earlier_than(v);
                }
                if let Some(v) = micros(high) {
                    self.end_no_later_than(v + 1);
                }
            }
            _ => {}
        }
    }

    fn start_no_earlier_than(&mut self, v: i64) {
        self.from = Some(self.from.map_or(v, |f| f.max(v)));
    }

    fn end_no_later_than(&mut self, v: i64) {
        self.until = Some(self.until.map_or(v, |u| u.min(v)));
    }
}

fn is_column(expr: &Expr, column: &str) -> bool {
    matches!(expr, Expr::Column(c) if c.name == column)
}

/// A timestamp literal in microseconds (rounded down for finer units).
fn micros(expr: &Expr) -> Option<i64> {
    let Expr::Literal(value, _) = expr else {
        return None;
    };
    match value {
        ScalarValue::TimestampSecond(Some(v), _) => v.checked_mul(1_000_000),
        ScalarValue::TimestampMillisecond(Some(v), _) => v.checked_mul(1_000),
        ScalarValue::TimestampMicrosecond(Some(v), _) => Some(*v),
        ScalarValue::TimestampNanosecond(Some(v), _) => Some(v.div_euclid(1_000)),
        _ => None,
    }
}
