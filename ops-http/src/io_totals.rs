//! The I/O counters a coordinator and a worker both export, from the
//! summed metrics of queries or tasks.

use std::collections::BTreeMap;

use hayate_storage::{io_metric, scan_metric};
use prometheus_client::registry::Registry;

use crate::{counter, labelled_counter};

/// Registers the I/O counters summed in `totals` (task and query metric
/// names): bytes scanned, exchange bytes (as `exchange_name`), bytes
/// fetched and requests by kind. `whose` ends each help text.
pub fn register_io_totals(
    registry: &mut Registry,
    totals: &BTreeMap<String, u64>,
    exchange_name: &str,
    whose: &str,
) {
    let total = |key: &str| totals.get(key).copied().unwrap_or(0);
    counter(
        registry,
        "bytes_scanned",
        &format!("Parquet bytes read by scans {whose}"),
        total(scan_metric::BYTES_SCANNED),
    );
    counter(
        registry,
        exchange_name,
        &format!("Bytes of Flight messages sent to workers and the coordinator {whose}"),
        total(scan_metric::EXCHANGE_BYTES),
    );
    counter(
        registry,
        "object_store_bytes_fetched",
        &format!("Bytes fetched from object storage {whose}"),
        total(io_metric::BYTES_FETCHED),
    );
    labelled_counter(
        registry,
        "object_store_requests",
        &format!("Requests to object storage {whose}"),
        "kind",
        io_metric::REQUEST_KINDS.map(|(kind, key)| (kind.to_string(), total(key))),
    );
}
