//! One-line readings of a query's or stage's metrics, shared by the CLI's
//! after-query line and `EXPLAIN ANALYZE`.

use std::collections::BTreeMap;

/// `GET 12, LIST 1, HEAD 0, 3.4 MiB fetched, row groups 5/40 read, files
/// 3 read 0 pruned, footer cache 3/4 hits, listing cache 1/1 hits`: only
/// the parts that are not all zero.
pub fn io_summary(m: &BTreeMap<String, u64>) -> String {
    let get = |k: &str| m.get(k).copied().unwrap_or(0);
    let mut parts = vec![format!(
        "GET {}, LIST {}, HEAD {}, {} fetched",
        get("get_requests"),
        get("list_requests"),
        get("head_requests"),
        human_bytes(get("bytes_fetched"))
    )];
    let (ranges_read, ranges_pruned) = (get("file_ranges_read"), get("file_ranges_pruned"));
    if ranges_read + ranges_pruned > 0 {
        parts.push(format!("file ranges {ranges_read} read, {ranges_pruned} pruned"));
    }
    let total = get("row_groups_total");
    if total > 0 {
        let read = total.saturating_sub(get("row_groups_pruned"));
        parts.push(format!("row groups {read}/{total} read"));
    }
    if get("page_index_rows_pruned") > 0 {
        parts.push(format!("{} rows pruned by page index", get("page_index_rows_pruned")));
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
