//! One-line readings of a query's or stage's metrics, shared by the CLI's
//! after-query line and `EXPLAIN ANALYZE`.

use std::collections::BTreeMap;

/// `GET 12, LIST 1, HEAD 0, 3.4 MiB fetched, row groups 5/40 read, files
/// 3 read 0 pruned, footer cache 3/4 hits, listing cache 1/1 hits`: only
/// the parts that are not all zero.
pub fn io_summary(m: &BTreeMap<String, u64>) -> String {
    use crate::counting::io_metric::*;
    use crate::scan_metric::*;
    let get = |k: &str| m.get(k).copied().unwrap_or(0);
    let mut parts = vec![format!(
        "GET {}, LIST {}, HEAD {}, {} fetched",
        get(GET_REQUESTS),
        get(LIST_REQUESTS),
        get(HEAD_REQUESTS),
        human_bytes(get(BYTES_FETCHED))
    )];
    let (ranges_read, ranges_pruned) = (get(FILE_RANGES_READ), get(FILE_RANGES_PRUNED));
    if ranges_read + ranges_pruned > 0 {
        parts.push(format!(
            "file ranges {ranges_read} read, {ranges_pruned} pruned"
        ));
    }
    let total = get(ROW_GROUPS_TOTAL);
    if total > 0 {
        let read = total.saturating_sub(get(ROW_GROUPS_PRUNED));
        parts.push(format!("row groups {read}/{total} read"));
    }
    if get(PAGE_ROWS_PRUNED) > 0 {
        parts.push(format!(
            "{} rows pruned by page index",
            get(PAGE_ROWS_PRUNED)
        ));
    }
    let (index_files, index_groups) = (get(INDEX_FILES_SKIPPED), get(INDEX_ROW_GROUPS_SKIPPED));
    if index_files + index_groups > 0 {
        parts.push(format!(
            "search index skipped {index_groups} row groups ({index_files} whole files)"
        ));
    }
    for (name, label) in [
        ("metadata_cache", "footer cache"),
        ("listing_cache", "listing cache"),
        ("statistics_cache", "statistics cache"),
    ] {
        let (hits, misses) = (get(&format!("{name}_hits")), get(&format!("{name}_misses")));
        if hits + misses > 0 {
            parts.push(format!("{label} {hits}/{} hits", hits + misses));
        }
    }
    parts.join(", ")
}

pub fn human_bytes(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}
