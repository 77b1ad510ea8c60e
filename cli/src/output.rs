//! Printing answers: as a table for people, or as CSV, a JSON array or
//! newline-delimited JSON for programs. In the machine formats stdout holds
//! nothing but the data (the row count, time and I/O lines go to stderr),
//! so `hayate sql -e ... --format csv > out.csv` writes a clean file.

use std::io::Write;
use std::time::Duration;

use clap::ValueEnum;
use datafusion::arrow::csv::WriterBuilder;
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::json::{ArrayWriter, LineDelimitedWriter};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::arrow::util::pretty::pretty_format_batches;

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum OutputFormat {
    /// A table with borders.
    Table,
    /// CSV with a header line.
    Csv,
    /// One JSON array of row objects.
    Json,
    /// One JSON object per line.
    Ndjson,
}

impl OutputFormat {
    /// Whether programs read this format (and nothing else may reach
    /// stdout).
    fn for_programs(self) -> bool {
        self != OutputFormat::Table
    }
}

/// How answers are printed, changed by `--format`/`--no-timing` or at the
/// prompt by `\format` and `\timing`.
#[derive(Clone, Copy, Debug)]
pub struct Output {
    pub format: OutputFormat,
    /// Print "N rows in T" after each statement.
    pub timing: bool,
    /// When a running statement's progress line is shown.
    pub progress: crate::progress::ProgressMode,
}

impl Output {
    /// Prints `batches` in the format, then "N rows in T" if timing is on.
    pub fn print(&self, batches: &[RecordBatch], elapsed: Duration) {
        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        let has_columns = batches.first().is_some_and(|b| b.num_columns() > 0);
        if has_columns
            && (rows > 0 || self.format.for_programs())
            && let Err(e) = self.write(batches, &mut std::io::stdout().lock())
        {
            eprintln!("cannot format result: {e}");
        }
        if self.timing {
            let noun = if rows == 1 { "row" } else { "rows" };
            self.note(&format!("{rows} {noun} in {:.3}s", elapsed.as_secs_f64()));
        }
    }

    /// A line about the answer (its count, time, I/O): on stdout beside a
    /// table, on stderr beside data for programs.
    pub fn note(&self, line: &str) {
        if self.format.for_programs() {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    }

    fn write(&self, batches: &[RecordBatch], out: &mut impl Write) -> Result<(), ArrowError> {
        match self.format {
            OutputFormat::Table => writeln!(out, "{}", pretty_format_batches(batches)?)?,
            OutputFormat::Csv => {
                let mut writer = WriterBuilder::new().with_header(true).build(&mut *out);
                for batch in batches {
                    writer.write(batch)?;
                }
            }
            OutputFormat::Json => {
                let mut writer = ArrayWriter::new(&mut *out);
                writer.write_batches(&batches.iter().collect::<Vec<_>>())?;
                writer.finish()?;
                writeln!(out)?;
            }
            OutputFormat::Ndjson => {
                let mut writer = LineDelimitedWriter::new(&mut *out);
                writer.write_batches(&batches.iter().collect::<Vec<_>>())?;
                writer.finish()?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{Int64Array, StringArray};

    use super::*;

    fn written(format: OutputFormat) -> String {
        let batch = RecordBatch::try_from_iter([
            ("id", Arc::new(Int64Array::from(vec![1, 2])) as _),
            (
                "name",
                Arc::new(StringArray::from(vec![Some("a,b"), None])) as _,
            ),
        ])
        .unwrap();
        let mut out = Vec::new();
        let output = Output {
            format,
            timing: true,
            progress: crate::progress::ProgressMode::Never,
        };
        output.write(&[batch], &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn each_format_writes_what_its_readers_parse() {
        assert_eq!(written(OutputFormat::Csv), "id,name\n1,\"a,b\"\n2,\n");
        assert_eq!(
            written(OutputFormat::Json),
            "[{\"id\":1,\"name\":\"a,b\"},{\"id\":2}]\n"
        );
        assert_eq!(
            written(OutputFormat::Ndjson),
            "{\"id\":1,\"name\":\"a,b\"}\n{\"id\":2}\n"
        );
        assert!(written(OutputFormat::Table).contains("| a,b  |"));
    }
}
