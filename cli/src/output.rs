//! Printing answers as tables, with row count and elapsed time.

use std::time::Duration;

use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::pretty::pretty_format_batches;

/// Prints `batches` as a table followed by "N rows in T".
pub fn print_result(batches: &[RecordBatch], elapsed: Duration) {
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    let has_columns = batches
        .first()
        .map(|b| b.num_columns() > 0)
        .unwrap_or(false);
    if rows > 0 && has_columns {
        match pretty_format_batches(batches) {
            Ok(table) => println!("{table}"),
            Err(e) => eprintln!("cannot format result: {e}"),
        }
    }
    let noun = if rows == 1 { "row" } else { "rows" };
    println!("{rows} {noun} in {:.3}s", elapsed.as_secs_f64());
}
