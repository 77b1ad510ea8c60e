//! The shared catalog's history, kept in object storage so that every
//! coordinator sees the same tables and none of them owns them.
//!
//! The catalog is an append-only log of changes: change `n` is the object
//! `<prefix>/log/<n, 20 digits>.json`, written with a conditional create
//! (`PutMode::Create`: `If-None-Match: *` on S3, a no-clobber link on local
//! disk). Two coordinators that append at once race for the same number;
//! the store lets exactly one win, and the other reads what it missed,
//! checks its change again against the catalog as it now is, and tries the
//! next number. So no change is ever lost or overwritten, and every
//! coordinator folds the same changes in the same order. Catching up is a
//! listing that starts after the last change seen (S3's `start-after`),
//! cheap enough to poll every second.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use futures::TryStreamExt;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

/// How many times an append tries again after losing a race.
const MAX_ATTEMPTS: usize = 64;

/// One change to the catalog.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CatalogChange {
    /// `name` is defined by `sql` (the statement that creates it), in
    /// place of any earlier definition.
    Define { name: String, sql: String },
    /// `name` is no longer defined.
    Drop { name: String },
}

/// A change as it is stored: where it stands in the log, and who made it
/// when (for an operator reading the bucket).
#[derive(Debug, Serialize, Deserialize)]
struct Entry {
    seq: u64,
    coordinator: String,
    at_ms: u64,
    change: CatalogChange,
}

#[derive(Debug, thiserror::Error)]
pub enum CatalogLogError {
    #[error("catalog store: {0}")]
    Store(#[from] object_store::Error),
    #[error("catalog change {path} cannot be read: {reason}")]
    Corrupt { path: String, reason: String },
    /// The change does not hold against the catalog as it is (a table of
    /// that name was created meanwhile, say).
    #[error("{0}")]
    Refused(String),
    #[error("the catalog changed {0} times while this change was being made; try again")]
    Busy(usize),
}

#[derive(Default)]
struct Folded {
    /// The last change folded in (0: none).
    seq: u64,
    /// What each name is defined by.
    definitions: BTreeMap<String, String>,
    /// Changes by others folded in but not yet handed out: kept until a
    /// catch-up or an append takes them, so that none is missed when a
    /// read fails half way or an append is refused.
    unapplied: Vec<(u64, CatalogChange)>,
}

impl CatalogChange {
    /// The table or view the change is about.
    pub fn name(&self) -> &str {
        match self {
            CatalogChange::Define { name, .. } | CatalogChange::Drop { name } => name,
        }
    }
}

impl Folded {
    fn fold(&mut self, seq: u64, change: &CatalogChange) {
        self.seq = seq;
        match change {
            CatalogChange::Define { name, sql } => {
                self.definitions.insert(name.clone(), sql.clone());
            }
            CatalogChange::Drop { name } => {
                self.definitions.remove(name);
            }
        }
    }
}

/// A coordinator's view of the shared catalog log.
pub struct CatalogLog {
    store: Arc<dyn ObjectStore>,
    log: Path,
    /// Who appends (written into each change).
    coordinator: String,
    folded: Mutex<Folded>,
    /// One append at a time from this process (they would only race each
    /// other), and one catch-up at a time.
    writer: tokio::sync::Mutex<()>,
}

impl CatalogLog {
    /// The log under `prefix` in `store`, appended to as `coordinator`.
    pub fn new(store: Arc<dyn ObjectStore>, prefix: &Path, coordinator: &str) -> Self {
        Self {
            store,
            log: prefix.clone().join("log"),
            coordinator: coordinator.to_string(),
            folded: Mutex::default(),
            writer: tokio::sync::Mutex::new(()),
        }
    }

    fn path_of(&self, seq: u64) -> Path {
        self.log.clone().join(format!("{seq:020}.json"))
    }

    /// The changes made by others since they were last handed out, in
    /// order, with their numbers; they are folded into
    /// [`Self::definitions`] already.
    pub async fn catch_up(&self) -> Result<Vec<(u64, CatalogChange)>, CatalogLogError> {
        let _one = self.writer.lock().await;
        self.read_new().await?;
        Ok(std::mem::take(&mut self.folded.lock().unapplied))
    }

    async fn read_new(&self) -> Result<(), CatalogLogError> {
        let seen = self.folded.lock().seq;
        let listing = match seen {
            0 => self.store.list(Some(&self.log)),
            n => self
                .store
                .list_with_offset(Some(&self.log), &self.path_of(n)),
        };
        let mut seqs: Vec<u64> = listing
            .try_collect::<Vec<_>>()
            .await?
            .into_iter()
            .filter_map(|meta| {
                meta.location
                    .filename()?
                    .strip_suffix(".json")?
                    .parse()
                    .ok()
            })
            .filter(|seq| *seq > seen)
            .collect();
        seqs.sort_unstable();
        for seq in seqs {
            // Changes are folded in order; one not yet visible ends the
            // catch-up (the next one picks it up).
            if seq != self.folded.lock().seq + 1 {
                break;
            }
            let path = self.path_of(seq);
            let bytes = self.store.get(&path).await?.bytes().await?;
            let entry: Entry =
                serde_json::from_slice(&bytes).map_err(|e| CatalogLogError::Corrupt {
                    path: path.to_string(),
                    reason: e.to_string(),
                })?;
            let mut folded = self.folded.lock();
            folded.fold(seq, &entry.change);
            folded.unapplied.push((seq, entry.change));
        }
        Ok(())
    }

    /// Appends `change` after every change made so far, once `check`
    /// accepts it against the definitions as they are at that point, and
    /// answers its number. The changes by others not yet handed out are
    /// answered too, to be applied before it; when the change is refused
    /// they wait for the next catch-up.
    pub async fn append(
        &self,
        change: CatalogChange,
        check: impl Fn(&BTreeMap<String, String>) -> Result<(), String>,
    ) -> Result<Appended, CatalogLogError> {
        let _one = self.writer.lock().await;
        for _ in 0..MAX_ATTEMPTS {
            self.read_new().await?;
            let seq = {
                let folded = self.folded.lock();
                check(&folded.definitions).map_err(CatalogLogError::Refused)?;
                folded.seq + 1
            };
            let entry = Entry {
                seq,
                coordinator: self.coordinator.clone(),
                at_ms: SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as u64),
                change: change.clone(),
            };
            let body = serde_json::to_vec_pretty(&entry).map_err(|e| CatalogLogError::Corrupt {
                path: self.path_of(seq).to_string(),
                reason: e.to_string(),
            })?;
            let create = PutOptions::from(PutMode::Create);
            match self
                .store
                .put_opts(&self.path_of(seq), PutPayload::from(body), create)
                .await
            {
                Ok(_) => {
                    let mut folded = self.folded.lock();
                    folded.fold(seq, &change);
                    let missed = std::mem::take(&mut folded.unapplied);
                    return Ok(Appended { seq, missed });
                }
                // Another coordinator took this number: read its change
                // and try the next.
                Err(object_store::Error::AlreadyExists { .. })
                | Err(object_store::Error::Precondition { .. }) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(CatalogLogError::Busy(MAX_ATTEMPTS))
    }

    /// What each name is defined by, as of the last change folded in.
    pub fn definitions(&self) -> BTreeMap<String, String> {
        self.folded.lock().definitions.clone()
    }

    /// The number of the last change folded in.
    pub fn version(&self) -> u64 {
        self.folded.lock().seq
    }
}

/// An appended change.
#[derive(Debug)]
pub struct Appended {
    pub seq: u64,
    /// Changes by others that came before it, not handed out before.
    pub missed: Vec<(u64, CatalogChange)>,
}
