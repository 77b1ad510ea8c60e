//! A query's (or task's) view of a process's runtime: the same memory pool,
//! temp files, stores and caches, seen through counters, and small files
//! kept whole once read ([`SmallObjects`]).

use std::sync::Arc;

use datafusion::error::Result;
use datafusion::execution::cache::cache_manager::{CacheManager, CacheManagerConfig};
use datafusion::execution::memory_pool::MemoryPool;
use datafusion::execution::runtime_env::RuntimeEnv;

use crate::cache::{CacheKind, CountingCache};
use crate::counting::{CountingStore, IoCounters};
use crate::small_objects::SmallObjects;
use crate::wrapped_registry::WrappedRegistry;

pub fn counting_runtime(base: &RuntimeEnv, counters: &Arc<IoCounters>) -> Result<Arc<RuntimeEnv>> {
    counting_runtime_with_memory(base, counters, None)
}

/// The same, with the query's own memory pool in place of the process's.
pub fn counting_runtime_with_memory(
    base: &RuntimeEnv,
    counters: &Arc<IoCounters>,
    memory: Option<Arc<dyn MemoryPool>>,
) -> Result<Arc<RuntimeEnv>> {
    let caches = &base.cache_manager;
    let metadata = caches.get_file_metadata_cache();
    let mut config = CacheManagerConfig::default()
        .with_file_metadata_cache(Some(Arc::new(CountingCache::new(
            metadata,
            Arc::clone(counters),
            CacheKind::Metadata,
        ))))
        .with_metadata_cache_limit(caches.get_metadata_cache_limit())
        .with_list_files_cache_limit(caches.get_list_files_cache_limit())
        .with_file_statistics_cache_limit(caches.get_file_statistic_cache_limit());
    config.list_files_cache_ttl = None;
    if let Some(listing) = caches.get_list_files_cache() {
        config = config.with_list_files_cache(Some(Arc::new(CountingCache::new(
            listing,
            Arc::clone(counters),
            CacheKind::Listing,
        ))));
    }
    if let Some(statistics) = caches.get_file_statistic_cache() {
        config = config.with_file_statistics_cache(Some(Arc::new(CountingCache::new(
            statistics,
            Arc::clone(counters),
            CacheKind::Statistics,
        ))));
    }
    let mut runtime = base.clone();
    if let Some(pool) = memory {
        runtime.memory_pool = pool;
    }
    runtime.cache_manager = CacheManager::try_new(&config)?;
    // Small objects kept over the counted stores: what they answer from
    // memory is no request.
    let counters = Arc::clone(counters);
    let counted = WrappedRegistry::new(Arc::clone(&base.object_store_registry), move |_, store| {
        Arc::new(CountingStore::new(store, Arc::clone(&counters)))
    });
    let small = SmallObjects::default();
    runtime.object_store_registry = Arc::new(WrappedRegistry::new(
        Arc::new(counted),
        move |url, store| small.store(url, store),
    ));
    Ok(Arc::new(runtime))
}
