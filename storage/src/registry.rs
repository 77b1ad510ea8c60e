//! The stores a process reads: one per scheme and bucket, built from the
//! options the coordinator was started with, a table's `OPTIONS`, or what a
//! task carried. A store is built once and kept, so its connection pool (and
//! its credentials cache) outlives queries.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::error::{DataFusionError, Result};
use datafusion::execution::object_store::ObjectStoreRegistry;
use object_store::ObjectStore;
use object_store::local::LocalFileSystem;
use parking_lot::RwLock;
use url::Url;

use crate::error::StorageError;
use crate::options::StoreOptions;
use crate::s3::build_s3;

struct Registered {
    store: Arc<dyn ObjectStore>,
    options: StoreOptions,
}

/// The store a table's options displaced.
pub struct Replaced {
    key: String,
    previous: Option<Registered>,
}

/// Stores by `scheme://bucket`.
pub struct StoreRegistry {
    /// Options every S3 store starts from (the coordinator's flags); a
    /// table's options override them key by key.
    defaults: StoreOptions,
    stores: RwLock<HashMap<String, Registered>>,
}

impl std::fmt::Debug for StoreRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Options may hold secrets: only the store names are shown.
        let names: Vec<String> = self.stores.read().keys().cloned().collect();
        f.debug_struct("StoreRegistry")
            .field("stores", &names)
            .finish()
    }
}

/// The registry key of a location: `scheme://authority`.
pub fn store_key(url: &Url) -> String {
    format!(
        "{}://{}",
        url.scheme(),
        &url[url::Position::BeforeHost..url::Position::AfterPort]
    )
}

impl StoreRegistry {
    pub fn new(defaults: StoreOptions) -> Self {
        Self {
            defaults,
            stores: RwLock::new(HashMap::new()),
        }
    }

    /// Builds the store for `url` from the defaults overridden by `table`,
    /// and uses it from now on for every location in the same bucket (a
    /// store is per bucket, as in DataFusion's registry). Returns what it
    /// replaced, for [`StoreRegistry::restore`] if the table is not created.
    pub fn configure(&self, url: &Url, table: &StoreOptions) -> Result<Replaced, StorageError> {
        let mut options = self.defaults.clone();
        options.extend(table.iter().map(|(k, v)| (k.clone(), v.clone())));
        Ok(Replaced {
            key: store_key(url),
            previous: self.install(url, options)?,
        })
    }

    /// Puts back the store a [`StoreRegistry::configure`] replaced.
    pub fn restore(&self, replaced: Replaced) {
        let mut stores = self.stores.write();
        match replaced.previous {
            Some(previous) => stores.insert(replaced.key, previous),
            None => stores.remove(&replaced.key),
        };
    }

    /// Makes sure the store for `url` was built with exactly `options`
    /// (a worker, for each store a task reads). Cheap when it was.
    pub fn ensure(&self, url: &Url, options: &StoreOptions) -> Result<(), StorageError> {
        let key = store_key(url);
        if self
            .stores
            .read()
            .get(&key)
            .is_some_and(|r| &r.options == options)
        {
            return Ok(());
        }
        self.install(url, options.clone()).map(|_| ())
    }

    /// The options the store for `url` was built with, if it is an S3
    /// store (local files need none).
    pub fn options_for(&self, url: &Url) -> Option<StoreOptions> {
        if url.scheme() != "s3" {
            return None;
        }
        if let Some(r) = self.stores.read().get(&store_key(url)) {
            return Some(r.options.clone());
        }
        Some(self.defaults.clone())
    }

    /// Builds and registers the store for `url`; returns the one it replaced.
    fn install(
        &self,
        url: &Url,
        options: StoreOptions,
    ) -> Result<Option<Registered>, StorageError> {
        let store = build(url, &options)?;
        Ok(self
            .stores
            .write()
            .insert(store_key(url), Registered { store, options }))
    }
}

fn build(url: &Url, options: &StoreOptions) -> Result<Arc<dyn ObjectStore>, StorageError> {
    match url.scheme() {
        "file" => Ok(Arc::new(LocalFileSystem::new())),
        "s3" | "s3a" => {
            let bucket = url.host_str().ok_or_else(|| StorageError::Build {
                url: url.to_string(),
                reason: "the URL names no bucket".into(),
            })?;
            Ok(Arc::new(build_s3(bucket, options)?))
        }
        other => Err(StorageError::UnsupportedScheme(format!("{other}://"))),
    }
}

impl ObjectStoreRegistry for StoreRegistry {
    fn register_store(
        &self,
        url: &Url,
        store: Arc<dyn ObjectStore>,
    ) -> Option<Arc<dyn ObjectStore>> {
        self.stores
            .write()
            .insert(
                store_key(url),
                Registered {
                    store,
                    options: StoreOptions::new(),
                },
            )
            .map(|r| r.store)
    }

    fn deregister_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        self.stores
            .write()
            .remove(&store_key(url))
            .map(|r| r.store)
            .ok_or_else(|| DataFusionError::Execution(format!("no object store for {url}")))
    }

    /// Unknown buckets get a store built from the defaults on first use, so
    /// `LOCATION 's3://any-bucket/...'` works without registering anything.
    fn get_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        let key = store_key(url);
        if let Some(r) = self.stores.read().get(&key) {
            return Ok(Arc::clone(&r.store));
        }
        self.install(url, self.defaults.clone())?;
        Ok(Arc::clone(&self.stores.read()[&key].store))
    }
}
