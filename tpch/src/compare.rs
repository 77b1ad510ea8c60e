//! Comparing two query answers: same rows, floats to a relative tolerance,
//! row order only where the query defines one.

use arrow::array::{Array, ArrayRef, Float32Array, Float64Array};
use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};

/// Relative tolerance for floating point values: partial sums meet in a
/// different order when work is split differently.
const REL_TOLERANCE: f64 = 1e-9;

#[derive(Debug, Clone, PartialEq)]
enum Cell {
    Null,
    Float(f64),
    Text(String),
}

impl Cell {
    fn sort_key(&self) -> String {
        match self {
            Cell::Null => "\u{0}".to_string(),
            Cell::Float(f) => format!("{f:.6e}"),
            Cell::Text(s) => s.clone(),
        }
    }

    fn matches(&self, other: &Cell) -> bool {
        match (self, other) {
            // NaN is a value an answer can hold (0.0 / 0.0 in TPC-DS q12):
            // two NaNs in the same cell agree.
            (Cell::Float(a), Cell::Float(b)) => {
                a == b
                    || (a.is_nan() && b.is_nan())
                    || (a - b).abs() <= REL_TOLERANCE * a.abs().max(b.abs()).max(1e-12)
            }
            (a, b) => a == b,
        }
    }
}

fn cells(column: &ArrayRef) -> Result<Vec<Cell>, String> {
    let n = column.len();
    match column.data_type() {
        DataType::Float64 => {
            let a = column
                .as_any()
                .downcast_ref::<Float64Array>()
                .ok_or("bad f64 column")?;
            Ok((0..n)
                .map(|i| {
                    if a.is_null(i) {
                        Cell::Null
                    } else {
                        Cell::Float(a.value(i))
                    }
                })
                .collect())
        }
        DataType::Float32 => {
            let a = column
                .as_any()
                .downcast_ref::<Float32Array>()
                .ok_or("bad f32 column")?;
            Ok((0..n)
                .map(|i| {
                    if a.is_null(i) {
                        Cell::Null
                    } else {
                        Cell::Float(a.value(i) as f64)
                    }
                })
                .collect())
        }
        _ => {
            let options = FormatOptions::default();
            let f =
                ArrayFormatter::try_new(column.as_ref(), &options).map_err(|e| e.to_string())?;
            Ok((0..n)
                .map(|i| {
                    if column.is_null(i) {
                        Cell::Null
                    } else {
                        Cell::Text(f.value(i).to_string())
                    }
                })
                .collect())
        }
    }
}

fn rows(batches: &[RecordBatch]) -> Result<Vec<Vec<Cell>>, String> {
    let mut out = Vec::new();
    for batch in batches {
        let columns = batch
            .columns()
            .iter()
            .map(cells)
            .collect::<Result<Vec<_>, _>>()?;
        for r in 0..batch.num_rows() {
            out.push(columns.iter().map(|c| c[r].clone()).collect());
        }
    }
    Ok(out)
}

/// `Ok` when `actual` holds the same rows as `expected` (in the same order if
/// `ordered`); otherwise a description of the first difference.
pub fn compare_results(
    expected: &[RecordBatch],
    actual: &[RecordBatch],
    ordered: bool,
) -> Result<(), String> {
    let mut want = rows(expected)?;
    let mut got = rows(actual)?;
    if want.len() != got.len() {
        return Err(format!("expected {} rows, got {}", want.len(), got.len()));
    }
    if let (Some(w), Some(g)) = (expected.first(), actual.first())
        && w.num_columns() != g.num_columns()
    {
        return Err(format!(
            "expected {} columns, got {}",
            w.num_columns(),
            g.num_columns()
        ));
    }
    if !ordered {
        let key = |r: &Vec<Cell>| r.iter().map(Cell::sort_key).collect::<Vec<_>>();
        want.sort_by_key(key);
        got.sort_by_key(key);
    }
    for (i, (w, g)) in want.iter().zip(&got).enumerate() {
        if w.len() != g.len() || !w.iter().zip(g).all(|(a, b)| a.matches(b)) {
            return Err(format!(
                "row {i} differs:\n  expected {w:?}\n  got      {g:?}"
            ));
        }
    }
    Ok(())
}
