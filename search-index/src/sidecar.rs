//! The index of one column of one Parquet file, as stored in its sidecar
//! object: a bloom filter per row group, with what the data file was when
//! the index was built (size and ETag), so a changed file is never pruned
//! by an old index. One sidecar per column, so a search reads only the
//! filters of the column it searches.
//!
//! Layout: the magic bytes, a little-endian u32 length and a JSON header,
//! then each row group's filter as a u32 length and a Parquet split-block
//! bloom filter (header and bitset, xxHash64 as the Parquet spec fixes it,
//! so every machine hashes alike), and last a CRC-32 of everything before.

use bytes_ext::{get_u32, put_u32};
use std::sync::Arc;

use object_store::ObjectMeta;
use object_store::path::{Path, PathPart};
use parquet::bloom_filter::Sbbf;
use serde::{Deserialize, Serialize};

use crate::IndexError;

const MAGIC: &[u8; 8] = b"HYTIDX01";

/// The directory, beside a data file, that holds its sidecar. DataFusion's
/// listings skip it: it is a subdirectory without `=`, and its files do not
/// end in `.parquet`.
pub const SIDECAR_DIR: &str = "_hayate_index";
const SIDECAR_SUFFIX: &str = ".hidx";

/// Where the index of `column` of `data` lives:
/// `dir/_hayate_index/<file>.<column>.hidx`.
pub fn sidecar_path(data: &Path, column: &str) -> Path {
    let mut parts: Vec<PathPart<'static>> = data
        .parts()
        .map(|p| PathPart::from(p.as_ref().to_string()))
        .collect();
    let file = parts
        .pop()
        .map(|p| p.as_ref().to_string())
        .unwrap_or_default();
    parts.push(PathPart::from(SIDECAR_DIR));
    parts.push(PathPart::from(format!("{file}.{column}{SIDECAR_SUFFIX}")));
    Path::from_iter(parts)
}

pub fn is_sidecar(path: &Path) -> bool {
    path.as_ref().ends_with(SIDECAR_SUFFIX) && path.parts().any(|p| p.as_ref() == SIDECAR_DIR)
}

/// The data file an index was built from.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DataVersion {
    pub size: u64,
    pub e_tag: Option<String>,
}

impl DataVersion {
    pub fn of(meta: &ObjectMeta) -> Self {
        Self {
            size: meta.size,
            e_tag: meta.e_tag.clone(),
        }
    }

    /// Whether `meta` is the same object: same size, and same ETag where
    /// the store gives one.
    pub fn is(&self, meta: &ObjectMeta) -> bool {
        self.size == meta.size && self.e_tag == meta.e_tag
    }
}

/// A row group as the index knows it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RowGroupEntry {
    /// Where its first column's first page starts: a file range holding
    /// this offset makes DataFusion read this row group and no other.
    pub offset: u64,
    pub rows: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Header {
    data: DataVersion,
    column: String,
    ngram: usize,
    row_groups: Vec<RowGroupEntry>,
}

/// One column's index in one data file: a filter per row group.
#[derive(Clone, Debug)]
pub struct ColumnIndex {
    pub data: DataVersion,
    pub column: String,
    /// Length of the n-grams kept (0: words only).
    pub ngram: usize,
    pub row_groups: Vec<RowGroupEntry>,
    pub filters: Vec<Sbbf>,
}

impl ColumnIndex {
    pub fn encode(&self) -> Result<Vec<u8>, IndexError> {
        let header = serde_json::to_vec(&Header {
            data: self.data.clone(),
            column: self.column.clone(),
            ngram: self.ngram,
            row_groups: self.row_groups.clone(),
        })
        .map_err(|e| IndexError::Corrupt(e.to_string()))?;
        let mut out = MAGIC.to_vec();
        put_u32(&mut out, header.len())?;
        out.extend_from_slice(&header);
        for filter in &self.filters {
            let mut bytes = Vec::new();
            filter.write(&mut bytes)?;
            put_u32(&mut out, bytes.len())?;
            out.extend_from_slice(&bytes);
        }
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        Ok(out)
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, IndexError> {
        let corrupt = |why: &str| IndexError::Corrupt(why.to_string());
        let body_len = bytes
            .len()
            .checked_sub(4)
            .filter(|n| *n >= MAGIC.len())
            .ok_or_else(|| corrupt("too short"))?;
        let (body, crc) = bytes.split_at(body_len);
        if crc32fast::hash(body).to_le_bytes() != crc {
            return Err(corrupt("checksum mismatch"));
        }
        let rest = body
            .strip_prefix(MAGIC)
            .ok_or_else(|| corrupt("not a Hayate index"))?;
        let (header_len, mut rest) = get_u32(rest)?;
        if rest.len() < header_len {
            return Err(corrupt("header cut short"));
        }
        let header: Header = serde_json::from_slice(&rest[..header_len])
            .map_err(|e| IndexError::Corrupt(e.to_string()))?;
        rest = &rest[header_len..];
        let mut filters = Vec::with_capacity(header.row_groups.len());
        for _ in &header.row_groups {
            let (len, after) = get_u32(rest)?;
            if after.len() < len {
                return Err(corrupt("filter cut short"));
            }
            filters.push(Sbbf::from_bytes(&after[..len])?);
            rest = &after[len..];
        }
        if !rest.is_empty() {
            return Err(corrupt("trailing bytes"));
        }
        Ok(Self {
            data: header.data,
            column: header.column,
            ngram: header.ngram,
            row_groups: header.row_groups,
            filters,
        })
    }

    /// Bytes the index holds in memory (its filters).
    pub fn memory_size(&self) -> usize {
        self.filters
            .iter()
            .map(|f| f.num_blocks() * 32)
            .sum::<usize>()
            + 64 * self.row_groups.len()
    }
}

/// The current indexes of one data file's columns: those a search needs
/// and the file has, all built from this version of the file.
#[derive(Clone, Debug)]
pub struct FileIndexes {
    row_groups: Vec<RowGroupEntry>,
    columns: Vec<Arc<ColumnIndex>>,
}

impl FileIndexes {
    /// `None` without indexes, or if they disagree on the row groups (a
    /// file rewritten between two builds to the same size and ETag).
    pub fn new(columns: Vec<Arc<ColumnIndex>>) -> Option<Self> {
        let first = columns.first()?;
        let offsets = |c: &ColumnIndex| {
            c.row_groups
                .iter()
                .map(|r| (r.offset, r.rows))
                .collect::<Vec<_>>()
        };
        if columns
            .iter()
            .any(|c| offsets(c) != offsets(first) || c.filters.len() != c.row_groups.len())
        {
            return None;
        }
        Some(Self {
            row_groups: first.row_groups.clone(),
            columns,
        })
    }

    pub fn row_groups(&self) -> &[RowGroupEntry] {
        &self.row_groups
    }

    /// The filter of `column` for `row_group`, and its n-gram length.
    pub fn filter(&self, column: &str, row_group: usize) -> Option<(&Sbbf, usize)> {
        let index = self.columns.iter().find(|c| c.column == column)?;
        Some((index.filters.get(row_group)?, index.ngram))
    }
}

mod bytes_ext {
    use crate::IndexError;

    pub fn put_u32(out: &mut Vec<u8>, n: usize) -> Result<(), IndexError> {
        let n = u32::try_from(n).map_err(|_| IndexError::Corrupt("part over 4 GiB".into()))?;
        out.extend_from_slice(&n.to_le_bytes());
        Ok(())
    }

    pub fn get_u32(bytes: &[u8]) -> Result<(usize, &[u8]), IndexError> {
        let (n, rest) = bytes
            .split_first_chunk::<4>()
            .ok_or_else(|| IndexError::Corrupt("length cut short".into()))?;
        Ok((u32::from_le_bytes(*n) as usize, rest))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ColumnIndex {
        let mut filter = Sbbf::new_with_ndv_fpp(10, 0.01).expect("filter");
        filter.insert(b"Tabc".as_slice());
        ColumnIndex {
            data: DataVersion {
                size: 10,
                e_tag: Some("e1".into()),
            },
            column: "message".into(),
            ngram: 4,
            row_groups: vec![RowGroupEntry { offset: 4, rows: 3 }],
            filters: vec![filter],
        }
    }

    #[test]
    fn an_index_reads_back_and_any_damage_is_caught() {
        let bytes = sample().encode().expect("encode");
        let back = ColumnIndex::decode(&bytes).expect("decode");
        assert!(back.filters[0].check(b"Tabc".as_slice()));
        assert_eq!(back.column, "message");
        for i in [0, 9, bytes.len() / 2, bytes.len() - 1] {
            let mut damaged = bytes.clone();
            damaged[i] ^= 0x40;
            assert!(ColumnIndex::decode(&damaged).is_err(), "byte {i}");
        }
        assert!(ColumnIndex::decode(&bytes[..bytes.len() - 7]).is_err());
        assert!(ColumnIndex::decode(b"").is_err());
    }

    #[test]
    fn sidecars_sit_in_a_directory_listings_skip() {
        let data = Path::from("logs/dt=2026-11-01/hour=03/part-0.parquet");
        let side = sidecar_path(&data, "message");
        assert_eq!(
            side.as_ref(),
            "logs/dt=2026-11-01/hour=03/_hayate_index/part-0.parquet.message.hidx"
        );
        assert!(is_sidecar(&side));
        assert!(!is_sidecar(&data));
    }
}
