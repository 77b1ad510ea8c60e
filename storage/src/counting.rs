//! Counting a query's object-store traffic: requests by kind, bytes
//! fetched, and cache hits. Each query (on the coordinator) and each task
//! (on a worker) reads through its own counting view of the shared stores,
//! so the numbers belong to that query alone.

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use bytes::Bytes;
use futures::StreamExt;
use futures::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult, Result,
};

/// The names of the I/O counters, as reported per task, stage and query.
pub mod io_metric {
    pub const LIST_REQUESTS: &str = "list_requests";
    pub const GET_REQUESTS: &str = "get_requests";
    pub const HEAD_REQUESTS: &str = "head_requests";
    pub const PUT_REQUESTS: &str = "put_requests";
    pub const BYTES_FETCHED: &str = "bytes_fetched";
    /// The request counters by the kind of request they count.
    pub const REQUEST_KINDS: [(&str, &str); 4] = [
        ("get", GET_REQUESTS),
        ("list", LIST_REQUESTS),
        ("head", HEAD_REQUESTS),
        ("put", PUT_REQUESTS),
    ];
    pub const METADATA_CACHE_HITS: &str = "metadata_cache_hits";
    pub const METADATA_CACHE_MISSES: &str = "metadata_cache_misses";
    pub const LISTING_CACHE_HITS: &str = "listing_cache_hits";
    pub const LISTING_CACHE_MISSES: &str = "listing_cache_misses";
    pub const STATISTICS_CACHE_HITS: &str = "statistics_cache_hits";
    pub const STATISTICS_CACHE_MISSES: &str = "statistics_cache_misses";
    pub const INDEX_FILES_SKIPPED: &str = "index_files_skipped";
    pub const INDEX_ROW_GROUPS_SKIPPED: &str = "index_row_groups_skipped";
}

/// Gaps up to this size between ranges read together are fetched in one
/// request, as `object_store` coalesces them.
const COALESCE_GAP: u64 = 1024 * 1024;

#[derive(Debug, Default)]
pub struct IoCounters {
    pub list_requests: AtomicU64,
    pub get_requests: AtomicU64,
    pub head_requests: AtomicU64,
    pub put_requests: AtomicU64,
    pub bytes_fetched: AtomicU64,
    pub metadata_cache_hits: AtomicU64,
    pub metadata_cache_misses: AtomicU64,
    pub listing_cache_hits: AtomicU64,
    pub listing_cache_misses: AtomicU64,
    pub statistics_cache_hits: AtomicU64,
    pub statistics_cache_misses: AtomicU64,
    /// Files and row groups the search index showed cannot match.
    pub index_files_skipped: AtomicU64,
    pub index_row_groups_skipped: AtomicU64,
}

impl IoCounters {
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Every counter by name, zeros included.
    pub fn snapshot(&self) -> Vec<(&'static str, u64)> {
        use io_metric::*;
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        vec![
            (LIST_REQUESTS, get(&self.list_requests)),
            (GET_REQUESTS, get(&self.get_requests)),
            (HEAD_REQUESTS, get(&self.head_requests)),
            (PUT_REQUESTS, get(&self.put_requests)),
            (BYTES_FETCHED, get(&self.bytes_fetched)),
            (METADATA_CACHE_HITS, get(&self.metadata_cache_hits)),
            (METADATA_CACHE_MISSES, get(&self.metadata_cache_misses)),
            (LISTING_CACHE_HITS, get(&self.listing_cache_hits)),
            (LISTING_CACHE_MISSES, get(&self.listing_cache_misses)),
            (STATISTICS_CACHE_HITS, get(&self.statistics_cache_hits)),
            (STATISTICS_CACHE_MISSES, get(&self.statistics_cache_misses)),
            (INDEX_FILES_SKIPPED, get(&self.index_files_skipped)),
            (
                INDEX_ROW_GROUPS_SKIPPED,
                get(&self.index_row_groups_skipped),
            ),
        ]
    }
}

/// A store that counts what passes through it.
#[derive(Debug)]
pub struct CountingStore {
    inner: Arc<dyn ObjectStore>,
    counters: Arc<IoCounters>,
}

impl CountingStore {
    pub fn new(inner: Arc<dyn ObjectStore>, counters: Arc<IoCounters>) -> Self {
        Self { inner, counters }
    }
}

impl std::fmt::Display for CountingStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Counting({})", self.inner)
    }
}

#[async_trait]
impl ObjectStore for CountingStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        IoCounters::add(&self.counters.put_requests, 1);
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        IoCounters::add(&self.counters.put_requests, 1);
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        let head = options.head;
        let result = self.inner.get_opts(location, options).await?;
        if head {
            IoCounters::add(&self.counters.head_requests, 1);
        } else {
            IoCounters::add(&self.counters.get_requests, 1);
            IoCounters::add(
                &self.counters.bytes_fetched,
                result.range.end.saturating_sub(result.range.start),
            );
        }
        Ok(result)
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        let (requests, bytes) = coalesced(ranges);
        let result = self.inner.get_ranges(location, ranges).await?;
        IoCounters::add(&self.counters.get_requests, requests);
        IoCounters::add(&self.counters.bytes_fetched, bytes);
        Ok(result)
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        pages_counted(self.inner.list(prefix), &self.counters)
    }

    /// Forwarded, not left to the trait's default, which lists from the
    /// start and drops what sorts before `offset`: every key again.
    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        pages_counted(self.inner.list_with_offset(prefix, offset), &self.counters)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        IoCounters::add(&self.counters.list_requests, 1);
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}

/// `listing`, counted as one LIST request per page of up to 1000 keys
/// (S3's page size).
fn pages_counted(
    listing: BoxStream<'static, Result<ObjectMeta>>,
    counters: &Arc<IoCounters>,
) -> BoxStream<'static, Result<ObjectMeta>> {
    let counters = Arc::clone(counters);
    IoCounters::add(&counters.list_requests, 1);
    let mut seen = 0u64;
    listing
        .inspect(move |_| {
            seen += 1;
            if seen % 1000 == 1 && seen > 1 {
                IoCounters::add(&counters.list_requests, 1);
            }
        })
        .boxed()
}

/// Requests and bytes for fetching `ranges` with nearby ranges merged.
fn coalesced(ranges: &[Range<u64>]) -> (u64, u64) {
    let mut sorted: Vec<Range<u64>> = ranges.to_vec();
    sorted.sort_by_key(|r| r.start);
    let mut merged: Vec<Range<u64>> = Vec::new();
    for r in sorted {
        match merged.last_mut() {
            Some(last) if r.start <= last.end + COALESCE_GAP => last.end = last.end.max(r.end),
            _ => merged.push(r),
        }
    }
    let bytes = merged.iter().map(|r| r.end - r.start).sum();
    (merged.len() as u64, bytes)
}

#[cfg(test)]
mod tests {
    use super::coalesced;

    #[test]
    fn nearby_ranges_are_one_request() {
        assert_eq!(coalesced(&[0..10, 20..30]), (1, 30));
        assert_eq!(coalesced(&[0..10, 5_000_000..5_000_010]), (2, 20));
        assert_eq!(coalesced(&[]), (0, 0));
    }
}
