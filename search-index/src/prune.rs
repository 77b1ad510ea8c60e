//! Which parts of one file a scan still reads, once its index has ruled
//! out row groups: all of it, none, or byte ranges that hold exactly the
//! row groups left. Ranges are how a scan names part of a file everywhere
//! (planning, the plan shipped to workers, DataFusion's reader, which reads
//! the row groups whose first page starts inside the range).

use datafusion::datasource::listing::{FileRange, PartitionedFile};

use crate::needs::Need;
use crate::sidecar::FileIndexes;

#[derive(Debug, PartialEq)]
pub enum Selection {
    Whole,
    Nothing,
    Ranges(Vec<FileRange>),
}

/// What of `file` (or of its range) may hold rows passing `need`, and how
/// many of its row groups the index ruled out.
pub fn select(file: &PartitionedFile, index: &FileIndexes, need: &Need) -> (Selection, usize) {
    let groups = index.row_groups();
    // Offsets must rise with the row group, as every writer lays them out;
    // otherwise ranges could not name row groups, and the file is read.
    if groups.windows(2).any(|w| w[0].offset >= w[1].offset) {
        return (Selection::Whole, 0);
    }
    let in_scope = |offset: u64| {
        file.range
            .as_ref()
            .is_none_or(|r| r.start as u64 <= offset && offset < r.end as u64)
    };
    let mut runs: Vec<(usize, usize)> = Vec::new();
    let (mut scoped, mut kept) = (0, 0);
    for (i, group) in groups.iter().enumerate() {
        if !in_scope(group.offset) {
            continue;
        }
        scoped += 1;
        if !need.may_match(index, i) {
            continue;
        }
        kept += 1;
        match runs.last_mut() {
            Some((_, last)) if *last + 1 == i => *last = i,
            _ => runs.push((i, i)),
        }
    }
    let skipped = scoped - kept;
    let selection = if skipped == 0 {
        Selection::Whole
    } else if kept == 0 {
        Selection::Nothing
    } else {
        Selection::Ranges(
            runs.into_iter()
                .map(|(first, last)| FileRange {
                    start: groups[first].offset as i64,
                    end: groups[last].offset as i64 + 1,
                })
                .collect(),
        )
    };
    (selection, skipped)
}
