//! Writes TPC-H data as Parquet with `tpchgen`: `dir/<table>/part-N.parquet`,
//! several files for the large tables so that scans split over tasks.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use tpchgen::generators::{
    CustomerGenerator, LineItemGenerator, NationGenerator, OrderGenerator, PartGenerator,
    PartSuppGenerator, RegionGenerator, SupplierGenerator,
};
use tpchgen_arrow::{
    CustomerArrow, LineItemArrow, NationArrow, OrderArrow, PartArrow, PartSuppArrow, RegionArrow,
    SupplierArrow,
};

#[derive(Debug, thiserror::Error)]
pub enum GenerateError {
    #[error("cannot write {path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot write Parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
    #[error("cannot store a file: {0}")]
    Store(String),
    #[error("cannot generate data: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
}

/// How many files a table is written as at scale factor `sf`: about one per
/// 30 MB of Parquet, at least `min_files` (3 by default) for the large
/// tables, 1 for the small ones.
pub fn files_for(table: &str, sf: f64, min_files: usize) -> usize {
    let per_sf = match table {
        "lineitem" => 8.0,
        "orders" => 2.0,
        "partsupp" | "part" | "customer" => 1.0,
        _ => return 1,
    };
    ((per_sf * sf).ceil() as usize).max(min_files)
}

/// The fewest files a large table is written as by default.
pub const MIN_FILES: usize = 3;

/// Generates every table at scale factor `sf` into `dir`. Skips a table whose
/// directory already holds its files, so re-running is cheap.
pub fn generate(dir: &Path, sf: f64) -> Result<(), GenerateError> {
    generate_split(dir, sf, MIN_FILES)
}

/// [`generate`], each large table in at least `min_files` files: enough for
/// every node of a larger cluster to scan a part of it.
pub fn generate_split(dir: &Path, sf: f64, min_files: usize) -> Result<(), GenerateError> {
    for table in crate::TABLES {
        let parts = files_for(table, sf, min_files);
        let table_dir = dir.join(table);
        let complete = (1..=parts).all(|p| table_dir.join(format!("part-{p}.parquet")).exists());
        if complete {
            continue;
        }
        std::fs::create_dir_all(&table_dir).map_err(|source| GenerateError::Io {
            path: table_dir.display().to_string(),
            source,
        })?;
        for part in 1..=parts {
            let path = table_dir.join(format!("part-{part}.parquet"));
            let (schema, batches) = table_part(table, sf, part, parts);
            write_parquet(&path, schema, batches)?;
        }
    }
    Ok(())
}

type Batches = Box<dyn Iterator<Item = Result<RecordBatch, arrow::error::ArrowError>>>;

/// Part `part` of `parts` of `table` at scale factor `sf`, generated lazily.
fn table_part(table: &str, sf: f64, part: usize, parts: usize) -> (SchemaRef, Batches) {
    let (p, n) = (part as i32, parts as i32);
    match table {
        "nation" => (
            NationArrow::schema_ref(),
            Box::new(NationArrow::new(NationGenerator::new(sf, p, n))),
        ),
        "region" => (
            RegionArrow::schema_ref(),
            Box::new(RegionArrow::new(RegionGenerator::new(sf, p, n))),
        ),
        "part" => (
            PartArrow::schema_ref(),
            Box::new(PartArrow::new(PartGenerator::new(sf, p, n))),
        ),
        "supplier" => (
            SupplierArrow::schema_ref(),
            Box::new(SupplierArrow::new(SupplierGenerator::new(sf, p, n))),
        ),
        "partsupp" => (
            PartSuppArrow::schema_ref(),
            Box::new(PartSuppArrow::new(PartSuppGenerator::new(sf, p, n))),
        ),
        "customer" => (
            CustomerArrow::schema_ref(),
            Box::new(CustomerArrow::new(CustomerGenerator::new(sf, p, n))),
        ),
        "orders" => (
            OrderArrow::schema_ref(),
            Box::new(OrderArrow::new(OrderGenerator::new(sf, p, n))),
        ),
        _ => (
            LineItemArrow::schema_ref(),
            Box::new(LineItemArrow::new(LineItemGenerator::new(sf, p, n))),
        ),
    }
}

/// Generates every table at scale factor `sf` into an object store under
/// `prefix` (`prefix/<table>/part-N.parquet`), each file built in memory and
/// written with one put: for loading sample data into S3 from a process
/// with no local disk.
pub async fn generate_to_store(
    store: Arc<dyn ObjectStore>,
    prefix: &str,
    sf: f64,
) -> Result<usize, GenerateError> {
    let mut written = 0;
    for table in crate::TABLES {
        let parts = files_for(table, sf, MIN_FILES);
        for part in 1..=parts {
            let (schema, batches) = table_part(table, sf, part, parts);
            let mut bytes = Vec::new();
            encode_parquet(&mut bytes, schema, batches)?;
            written += bytes.len();
            let name = format!("{table}/part-{part}.parquet");
            let path = match prefix.trim_matches('/') {
                "" => ObjectPath::from(name),
                prefix => ObjectPath::from(format!("{prefix}/{name}")),
            };
            store
                .put(&path, bytes.into())
                .await
                .map_err(|e| GenerateError::Store(e.to_string()))?;
        }
    }
    Ok(written)
}

/// Generates scale factor `sf` into `base/tpch-sf<sf>` (once) and returns
/// that directory's absolute path, ready for `create_table_statements`.
pub fn generate_dir(base: &Path, sf: f64) -> Result<String, GenerateError> {
    generate_split_dir(base, sf, MIN_FILES)
}

/// [`generate_dir`] with each large table in at least `min_files` files,
/// into `base/tpch-sf<sf>` (`base/tpch-sf<sf>-<min_files>f` when that is
/// not the default).
pub fn generate_split_dir(base: &Path, sf: f64, min_files: usize) -> Result<String, GenerateError> {
    let dir = match min_files {
        MIN_FILES => base.join(format!("tpch-sf{sf}")),
        n => base.join(format!("tpch-sf{sf}-{n}f")),
    };
    generate_split(&dir, sf, min_files)?;
    let absolute = dir.canonicalize().map_err(|source| GenerateError::Io {
        path: dir.display().to_string(),
        source,
    })?;
    Ok(absolute.display().to_string())
}

fn encode_parquet<W: std::io::Write + Send>(
    out: W,
    schema: SchemaRef,
    batches: impl Iterator<Item = Result<RecordBatch, arrow::error::ArrowError>>,
) -> Result<(), GenerateError> {
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1)?))
        .set_max_row_group_row_count(Some(256 * 1024))
        .build();
    let mut writer = ArrowWriter::try_new(out, schema, Some(props))?;
    for batch in batches {
        writer.write(&batch?)?;
    }
    writer.close()?;
    Ok(())
}

fn write_parquet(
    path: &Path,
    schema: SchemaRef,
    batches: impl Iterator<Item = Result<RecordBatch, arrow::error::ArrowError>>,
) -> Result<(), GenerateError> {
    // Written to a temporary name and renamed, so a crash never leaves a
    // half-written file that looks complete.
    let tmp = path.with_extension(format!("parquet.tmp.{}", std::process::id()));
    let file = File::create(&tmp).map_err(|source| GenerateError::Io {
        path: tmp.display().to_string(),
        source,
    })?;
    encode_parquet(file, schema, batches)?;
    std::fs::rename(&tmp, path).map_err(|source| GenerateError::Io {
        path: path.display().to_string(),
        source,
    })
}
