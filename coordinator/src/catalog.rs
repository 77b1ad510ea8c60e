//! Tables and the sessions that see them. The catalog is shared by every
//! client session and lives as long as the coordinator; each session has its
//! own settings (`SET ...`).

use std::sync::Arc;

use datafusion::catalog::{
    CatalogProvider, CatalogProviderList, MemoryCatalogProvider, MemoryCatalogProviderList,
    MemorySchemaProvider,
};
use datafusion::execution::cache::cache_manager::CacheManagerConfig;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::session_state::{SessionState, SessionStateBuilder};
use datafusion::prelude::{SessionConfig, SessionContext};
use hayate_planner::{FetcherExtension, HayateOptions};
use hayate_rpc::{Channels, FlightPartitionFetcher, LocalPeers};
use hayate_search_index::IndexCache;
use hayate_storage::StoreRegistry;

use crate::fresh_listing::ListingIntervals;
use crate::server::StorageConfig;
use crate::system_tables::{SYSTEM_SCHEMA, SystemSchema, SystemState};

/// Memory for search indexes read from sidecars (about 5% of the indexed
/// text columns they cover).
const SEARCH_INDEX_CACHE_BYTES: usize = 256 * 1024 * 1024;

/// Memory for cached listings: about 100,000 files.
const LISTING_CACHE_BYTES: usize = 64 * 1024 * 1024;

/// The coordinator's tables, object stores and default settings.
#[derive(Clone)]
pub struct Catalog {
    /// The stores sessions read, with the options tasks carry to workers.
    stores: Arc<StoreRegistry>,
    /// What every new session starts as: the shared tables, the object
    /// stores and caches for planning (listing files, reading footers for
    /// statistics; workers have their own), default settings. Building a
    /// session registers every function DataFusion has, which takes longer
    /// than planning a short query; copying this one does not.
    template: SessionState,
}

impl Catalog {
    /// `storage` gives the default options of S3 stores and how long a
    /// table's file listing is trusted before it is listed again.
    pub fn new(
        defaults: SessionConfig,
        storage: &StorageConfig,
        channels: Channels,
        local_peers: LocalPeers,
    ) -> datafusion::error::Result<Self> {
        let stores = Arc::new(StoreRegistry::new(storage.defaults.clone()));
        let caches = CacheManagerConfig::default()
            .with_list_files_cache_limit(LISTING_CACHE_BYTES)
            .with_list_files_cache_ttl(Some(storage.listing_cache_ttl));
        let runtime = RuntimeEnvBuilder::new()
            .with_object_store_registry(Arc::clone(&stores) as _)
            .with_cache_manager(caches)
            .build_arc()?;
        let catalogs = Arc::new(MemoryCatalogProviderList::new());
        let catalog = Arc::new(MemoryCatalogProvider::new());
        catalog.register_schema("public", Arc::new(MemorySchemaProvider::new()))?;
        catalogs.register_catalog("datafusion".to_string(), catalog);
        let fetcher = FlightPartitionFetcher::new(channels, local_peers);
        let config = defaults
            // The shared catalog already has its default catalog and schema;
            // creating them again would replace every table for everyone.
            .with_create_default_catalog_and_schema(false)
            .with_extension(Arc::new(FetcherExtension(Arc::new(fetcher))))
            .with_extension(Arc::new(IndexCache::new(SEARCH_INDEX_CACHE_BYTES)))
            .with_extension(Arc::new(ListingIntervals {
                fresh: storage.fresh_listing_interval,
                whole: storage.listing_cache_ttl,
            }));
        let template = hayate_planner::with_hayate_functions(
            SessionStateBuilder::new()
                .with_config(config)
                .with_runtime_env(runtime)
                .with_catalog_list(catalogs)
                .with_default_features()
                .with_physical_optimizer_rules(hayate_planner::physical_optimizer_rules())
                .build(),
        )?;
        Ok(Self { stores, template })
    }

    /// The settings every new session starts from: DataFusion's defaults,
    /// `information_schema` on (for `SHOW TABLES` and metadata calls), and
    /// Hayate's own options.
    pub fn stores(&self) -> &Arc<StoreRegistry> {
        &self.stores
    }

    pub fn default_config() -> SessionConfig {
        let mut config = SessionConfig::new()
            .with_information_schema(true)
            .with_default_catalog_and_schema("datafusion", "public");
        config
            .options_mut()
            .extensions
            .insert(HayateOptions::default());
        // Uncorrelated scalar subqueries as joins, not as `ScalarSubqueryExec`:
        // that operator shares its results with expressions elsewhere in the
        // plan through memory, which cannot cross a stage boundary.
        config
            .options_mut()
            .optimizer
            .enable_physical_uncorrelated_scalar_subquery = false;
        config
    }

    /// Adds the `system` schema (queries, tasks, workers, tables, query
    /// history) to the default catalog, reading `queries`, `membership` and
    /// the shared `history` if there is one.
    pub fn add_system_tables(
        &self,
        queries: Arc<crate::registry::QueryRegistry>,
        membership: Arc<crate::membership::Membership>,
        history: Option<Arc<crate::query_history::QueryHistory>>,
    ) -> datafusion::error::Result<()> {
        let catalogs = Arc::clone(self.template.catalog_list());
        let Some(catalog) = catalogs.catalog("datafusion") else {
            return Ok(());
        };
        let state = SystemState {
            queries,
            membership,
            catalogs,
            history,
        };
        catalog.register_schema(SYSTEM_SCHEMA, Arc::new(SystemSchema::new(state)))?;
        Ok(())
    }

    /// A new session over the shared catalog.
    pub fn new_session(&self) -> SessionContext {
        let state = SessionStateBuilder::new_from_existing(self.template.clone())
            .with_session_id(uuid::Uuid::new_v4().to_string())
            .build();
        SessionContext::new_with_state(state)
    }
}
