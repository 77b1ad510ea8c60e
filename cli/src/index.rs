//! `hayate index LOCATION`: builds the search index of every Parquet file
//! under a table's location whose index is missing or stale, so that text
//! searches (`LIKE '%...%'`, `contains`, `strpos`, `matches`) skip the row
//! groups that cannot match. Run it again after new files land: files with
//! a current index are left alone.

use clap::Args;
use hayate_search_index::{IndexSpec, IndexedColumn, index_location};
use object_store::path::Path;

use crate::storage_args::StorageArgs;

#[derive(Args)]
pub struct IndexArgs {
    /// The table's location: a directory or s3://bucket/prefix.
    location: String,
    /// String columns to index, comma-separated; `name:N` sets the n-gram
    /// length of one column (e.g. `message,attributes:0`).
    #[arg(long, value_delimiter = ',', default_value = "message")]
    columns: Vec<String>,
    /// Length of the n-grams kept for searches inside words, for columns
    /// without their own. 0 keeps words, word prefixes and suffixes only: a
    /// much smaller index where text holds random ids (hex, UUIDs), whose
    /// short n-grams are in every row group anyway.
    #[arg(long, default_value_t = 4)]
    ngram: usize,
    /// False-positive rate of each row group's filter: the share of row
    /// groups without a word that a search for it still reads.
    #[arg(long, default_value_t = 0.02)]
    false_positive_rate: f64,
    #[command(flatten)]
    storage: StorageArgs,
}

pub async fn run(args: &IndexArgs) -> anyhow::Result<()> {
    if !(0.0..1.0).contains(&args.false_positive_rate) || args.false_positive_rate == 0.0 {
        anyhow::bail!("--false-positive-rate must be between 0 and 1");
    }
    let (store, prefix) = args.storage.output_store(&args.location)?;
    let mut columns = Vec::new();
    for column in &args.columns {
        let (name, ngram) = match column.split_once(':') {
            Some((name, n)) => (
                name,
                n.parse().map_err(|_| {
                    anyhow::anyhow!("--columns {column}: {n} is not an n-gram length")
                })?,
            ),
            None => (column.as_str(), args.ngram),
        };
        columns.push(IndexedColumn {
            name: name.to_string(),
            ngram,
        });
    }
    let spec = IndexSpec {
        false_positive_rate: args.false_positive_rate,
        ..IndexSpec::new(columns)
    };
    let report = index_location(store, &Path::from(prefix), &spec).await?;
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    println!(
        "indexed {} of {} files ({} already current): {} sidecars, {} row groups, {:.1} MiB of data, {:.2} MiB of index ({:.1}%) in {:.1}s",
        report.built,
        report.files,
        report.fresh,
        report.sidecars,
        report.row_groups,
        mib(report.data_bytes),
        mib(report.index_bytes),
        100.0 * report.index_bytes as f64 / report.data_bytes.max(1) as f64,
        report.elapsed.as_secs_f64()
    );
    Ok(())
}
