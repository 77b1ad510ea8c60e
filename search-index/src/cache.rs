//! Sidecars already read, kept in memory by the coordinator: a sidecar
//! object never changes under the same ETag, so a repeated search reads no
//! index bytes at all. Unreadable sidecars are remembered too, so a corrupt
//! one costs one GET per version, not one per query.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use futures::StreamExt;
use object_store::path::Path;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt};
use parking_lot::Mutex;

use crate::sidecar::{ColumnIndex, DataVersion};

/// A sidecar object as listed: its path and version.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct SidecarVersion {
    path: Path,
    version: DataVersion,
}

impl SidecarVersion {
    fn of(meta: &ObjectMeta) -> Self {
        Self {
            path: meta.location.clone(),
            version: DataVersion::of(meta),
        }
    }
}

/// Sidecars fetched at once when a query needs many.
const FETCHES_AT_ONCE: usize = 32;

pub struct IndexCache {
    capacity_bytes: usize,
    state: Mutex<CacheState>,
}

#[derive(Default)]
struct CacheState {
    entries: HashMap<SidecarVersion, Option<Arc<ColumnIndex>>>,
    order: VecDeque<SidecarVersion>,
    bytes: usize,
}

impl IndexCache {
    pub fn new(capacity_bytes: usize) -> Self {
        Self {
            capacity_bytes,
            state: Mutex::default(),
        }
    }

    /// The indexes of the sidecars `wanted` lists, read from `store` where
    /// not cached; `None` for one that cannot be read or decoded.
    pub async fn indexes(
        &self,
        store: &Arc<dyn ObjectStore>,
        wanted: &[ObjectMeta],
    ) -> Vec<Option<Arc<ColumnIndex>>> {
        let versions: Vec<SidecarVersion> = wanted.iter().map(SidecarVersion::of).collect();
        let mut found: Vec<Option<Option<Arc<ColumnIndex>>>> = {
            let state = self.state.lock();
            versions
                .iter()
                .map(|v| state.entries.get(v).cloned())
                .collect()
        };
        let missing: Vec<usize> = (0..versions.len())
            .filter(|i| found[*i].is_none())
            .collect();
        let fetched: Vec<(usize, Option<Option<ColumnIndex>>)> = futures::stream::iter(missing)
            .map(|i| {
                let store = Arc::clone(store);
                let path = versions[i].path.clone();
                async move { (i, fetch(store.as_ref(), &path).await) }
            })
            .buffer_unordered(FETCHES_AT_ONCE)
            .collect()
            .await;
        for (i, index) in fetched {
            // A sidecar that could not be fetched may be read next time; one
            // that was fetched and is damaged stays damaged.
            let Some(index) = index else { continue };
            let index = index.map(Arc::new);
            self.insert(versions[i].clone(), index.clone());
            found[i] = Some(index);
        }
        found.into_iter().map(Option::flatten).collect()
    }

    fn insert(&self, version: SidecarVersion, index: Option<Arc<ColumnIndex>>) {
        let size = index.as_ref().map_or(64, |i| i.memory_size());
        let mut state = self.state.lock();
        if state.entries.insert(version.clone(), index).is_none() {
            state.order.push_back(version);
            state.bytes += size;
        }
        while state.bytes > self.capacity_bytes {
            let Some(oldest) = state.order.pop_front() else {
                break;
            };
            if let Some(gone) = state.entries.remove(&oldest) {
                state.bytes -= gone.as_ref().map_or(64, |i| i.memory_size());
            }
        }
    }
}

/// The sidecar's index; `Some(None)` if it is damaged, `None` if it could
/// not be fetched.
async fn fetch(store: &dyn ObjectStore, path: &Path) -> Option<Option<ColumnIndex>> {
    let read = async { store.get(path).await?.bytes().await };
    match read.await {
        Ok(bytes) => match ColumnIndex::decode(&bytes) {
            Ok(index) => Some(Some(index)),
            Err(e) => {
                tracing::warn!(sidecar = %path, error = %e, "search index damaged: its file is read whole");
                Some(None)
            }
        },
        Err(e) => {
            tracing::warn!(sidecar = %path, error = %e, "search index not fetched: its file is read whole");
            None
        }
    }
}
