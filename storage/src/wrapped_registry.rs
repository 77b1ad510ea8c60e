//! A registry that hands out another registry's stores wrapped: a query's
//! or task's own view of the process's stores (its requests counted, its
//! small files kept whole).

use std::sync::Arc;

use datafusion::error::Result;
use datafusion::execution::object_store::ObjectStoreRegistry;
use object_store::ObjectStore;
use url::Url;

type Wrap = dyn Fn(&Url, Arc<dyn ObjectStore>) -> Arc<dyn ObjectStore> + Send + Sync;

pub struct WrappedRegistry {
    inner: Arc<dyn ObjectStoreRegistry>,
    wrap: Box<Wrap>,
}

impl WrappedRegistry {
    /// `inner`'s stores, each given out as `wrap` makes it (with its URL).
    pub fn new(
        inner: Arc<dyn ObjectStoreRegistry>,
        wrap: impl Fn(&Url, Arc<dyn ObjectStore>) -> Arc<dyn ObjectStore> + Send + Sync + 'static,
    ) -> Self {
        Self {
            inner,
            wrap: Box::new(wrap),
        }
    }
}

impl std::fmt::Debug for WrappedRegistry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WrappedRegistry({:?})", self.inner)
    }
}

impl ObjectStoreRegistry for WrappedRegistry {
    fn register_store(
        &self,
        url: &Url,
        store: Arc<dyn ObjectStore>,
    ) -> Option<Arc<dyn ObjectStore>> {
        self.inner.register_store(url, store)
    }

    fn deregister_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        self.inner.deregister_store(url)
    }

    fn get_store(&self, url: &Url) -> Result<Arc<dyn ObjectStore>> {
        Ok((self.wrap)(url, self.inner.get_store(url)?))
    }
}
