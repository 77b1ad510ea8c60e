//! Counting hits and misses of DataFusion's shared caches (Parquet footers
//! on workers; listings and file statistics on the coordinator) for one
//! query, without giving the query a cache of its own.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;

use datafusion::common::{HashMap, TableReference};
use datafusion::datasource::listing::ListingTableUrl;
use datafusion::execution::cache::{Cache, CacheEntryInfo, CacheKey, CacheValue, TableScopedPath};

use crate::counting::IoCounters;

/// The key under which DataFusion caches the listing of a table location:
/// the whole listing of its prefix, scoped to its table. Hayate reads and
/// updates that entry (sidecars, fresh listing) under the same key.
pub fn listing_cache_key(url: &ListingTableUrl) -> TableScopedPath {
    TableScopedPath {
        table: url.get_table_ref().clone(),
        path: url.prefix().clone(),
    }
}

/// Which counters a cache's lookups go to.
#[derive(Clone, Copy, Debug)]
pub enum CacheKind {
    Metadata,
    Listing,
    Statistics,
}

pub struct CountingCache<K: CacheKey, V: CacheValue> {
    inner: Arc<dyn Cache<K, V>>,
    counters: Arc<IoCounters>,
    kind: CacheKind,
}

impl<K: CacheKey, V: CacheValue> CountingCache<K, V> {
    pub fn new(inner: Arc<dyn Cache<K, V>>, counters: Arc<IoCounters>, kind: CacheKind) -> Self {
        Self {
            inner,
            counters,
            kind,
        }
    }

    fn counters(&self) -> (&AtomicU64, &AtomicU64) {
        let c = &self.counters;
        match self.kind {
            CacheKind::Metadata => (&c.metadata_cache_hits, &c.metadata_cache_misses),
            CacheKind::Listing => (&c.listing_cache_hits, &c.listing_cache_misses),
            CacheKind::Statistics => (&c.statistics_cache_hits, &c.statistics_cache_misses),
        }
    }
}

impl<K: CacheKey, V: CacheValue> Cache<K, V> for CountingCache<K, V> {
    fn get(&self, key: &K) -> Option<V> {
        let found = self.inner.get(key);
        let (hits, misses) = self.counters();
        IoCounters::add(if found.is_some() { hits } else { misses }, 1);
        found
    }

    fn put(&self, key: &K, value: V) -> Option<V> {
        self.inner.put(key, value)
    }

    fn remove(&self, k: &K) -> Option<V> {
        self.inner.remove(k)
    }

    fn contains_key(&self, k: &K) -> bool {
        self.inner.contains_key(k)
    }

    fn len(&self) -> usize {
        self.inner.len()
    }

    fn clear(&self) {
        self.inner.clear()
    }

    fn name(&self) -> String {
        self.inner.name()
    }

    fn cache_limit(&self) -> usize {
        self.inner.cache_limit()
    }

    fn update_cache_limit(&self, limit: usize) {
        self.inner.update_cache_limit(limit)
    }

    fn cache_ttl(&self) -> Option<Duration> {
        self.inner.cache_ttl()
    }

    fn update_cache_ttl(&self, ttl: Option<Duration>) {
        self.inner.update_cache_ttl(ttl)
    }

    fn drop_table_entries(&self, table_ref: &TableReference) -> datafusion::common::Result<()> {
        self.inner.drop_table_entries(table_ref)
    }

    fn list_entries(&self) -> HashMap<K, CacheEntryInfo<V>> {
        self.inner.list_entries()
    }
}
