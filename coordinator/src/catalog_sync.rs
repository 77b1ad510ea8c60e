//! Keeping this coordinator's tables in step with the shared catalog log
//! ([`crate::catalog_log`]): at start it applies every definition, then it
//! reads the log every second and applies what other coordinators changed;
//! a `CREATE EXTERNAL TABLE`, `CREATE VIEW` or `DROP` run here is appended
//! to the log, and undone here if the log refuses it (another coordinator
//! created the name first). A definition holding a credential is sealed
//! ([`crate::catalog_seal`]) or refused.

use std::sync::Arc;
use std::time::Duration;

use datafusion::error::DataFusionError;
use datafusion::sql::parser::{DFParser, Statement as DfStatement};
use datafusion::sql::sqlparser::ast::{ObjectType, Statement};
use hayate_storage::redact_sql;
use tokio_util::sync::CancellationToken;

use crate::catalog::Catalog;
use crate::catalog_log::{CatalogChange, CatalogLog, CatalogLogError};
use crate::catalog_seal::CatalogKey;
use crate::membership::Capacity;
use crate::planning::plan_statement;

/// How often the log is read for other coordinators' changes.
const POLL: Duration = Duration::from_secs(1);

/// Other coordinators' changes are not applied here while this is held:
/// taken before a catalog-changing statement runs, given to
/// [`CatalogSync::record`].
pub struct HeldCatalog {
    _held: tokio::sync::OwnedMutexGuard<()>,
}

/// A statement's change to the shared catalog.
#[derive(Debug, Clone)]
pub struct CatalogDdl {
    change: CatalogChange,
    when: Condition,
    /// The statement as it ran here (the change may hold it sealed).
    sql: String,
}

/// When a change holds against the catalog as it is when it takes its
/// place in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Condition {
    /// `CREATE OR REPLACE`, `DROP`.
    Always,
    /// A plain `CREATE`: refused if the name is defined.
    MustBeNew,
    /// `CREATE ... IF NOT EXISTS`: nothing happens if the name is defined.
    UnlessDefined,
}

impl Condition {
    fn of_create(or_replace: bool, if_not_exists: bool) -> Self {
        match (or_replace, if_not_exists) {
            (true, _) => Condition::Always,
            (false, true) => Condition::UnlessDefined,
            (false, false) => Condition::MustBeNew,
        }
    }
}

pub struct CatalogSync {
    log: Arc<CatalogLog>,
    catalog: Catalog,
    /// Seals and opens definitions that hold credentials.
    key: Option<CatalogKey>,
    /// Held while changes are taken from the log and applied here, by the
    /// follower or by an append: changes are applied in the log's order
    /// even when both take some at once.
    applying: Arc<tokio::sync::Mutex<()>>,
}

impl CatalogSync {
    /// Applies every definition in `log` to `catalog`, then follows the log
    /// until `shutdown`.
    pub async fn start(
        log: Arc<CatalogLog>,
        catalog: Catalog,
        key: Option<CatalogKey>,
        shutdown: CancellationToken,
    ) -> Result<Arc<Self>, CatalogLogError> {
        let sync = Arc::new(Self {
            log,
            catalog,
            key,
            applying: Arc::default(),
        });
        let changes = sync.log.catch_up().await?;
        tracing::info!(
            changes = changes.len(),
            tables = sync.log.definitions().len(),
            "catalog read from the shared log"
        );
        sync.apply_all().await;
        sync.reseal().await;
        let follower = Arc::clone(&sync);
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = shutdown.cancelled() => return,
                    _ = tokio::time::sleep(POLL) => {}
                }
                let _applying = follower.applying.lock().await;
                match follower.log.catch_up().await {
                    Ok(changes) => {
                        for (_, change) in changes {
                            follower.apply(&change).await;
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot read the catalog log"),
                }
            }
        });
        Ok(sync)
    }

    /// Seals again with the first key every definition an older key of the
    /// key file sealed (the key is being rotated). Coordinators starting at
    /// once race for each: a reseal is taken only while the definition is
    /// still the one read, so one wins and the others let it be.
    async fn reseal(&self) {
        let Some(key) = &self.key else { return };
        let _applying = self.applying.lock().await;
        let mut resealed = 0;
        for (name, stored) in self.log.definitions() {
            let Ok(opened) = CatalogKey::open_stored(Some(key), &stored) else {
                continue;
            };
            if !opened.stale {
                continue;
            }
            let Ok(sql) = key.seal(&opened.sql) else {
                continue;
            };
            let change = CatalogChange::Define {
                name: name.clone(),
                sql,
            };
            let still = move |defined: &std::collections::BTreeMap<String, String>| match defined
                .get(&name)
                == Some(&stored)
            {
                true => Ok(()),
                false => Err("changed meanwhile".to_string()),
            };
            match self.log.append(change, still).await {
                Ok(appended) => {
                    resealed += 1;
                    for (_, change) in appended.missed {
                        self.apply(&change).await;
                    }
                }
                Err(CatalogLogError::Refused(_)) => {}
                Err(e) => tracing::warn!(error = %e, "cannot seal a definition with the new key"),
            }
        }
        if resealed > 0 {
            tracing::info!(
                definitions = resealed,
                "sealed again with the first catalog key: the older keys may now be removed"
            );
        }
    }

    /// Holds off other coordinators' changes until the returned guard is
    /// dropped or given to [`Self::record`].
    pub async fn hold(&self) -> HeldCatalog {
        HeldCatalog {
            _held: Arc::clone(&self.applying).lock_owned().await,
        }
    }

    /// Makes this coordinator's catalog hold `change`. A definition that no
    /// longer plans (its files are gone) is logged and left out.
    async fn apply(&self, change: &CatalogChange) {
        if let Err(why) = self.try_apply(change).await {
            let name = change.name();
            tracing::warn!(%name, "a table of the catalog log is left out here: {why}");
        }
    }

    /// As [`Self::apply`], saying why a definition could not be made.
    async fn try_apply(&self, change: &CatalogChange) -> Result<(), String> {
        let ctx = self.catalog.new_session();
        let name = change.name();
        if let Err(e) = ctx.deregister_table(name) {
            tracing::warn!(%name, error = %e, "cannot replace a table from the catalog log");
        }
        let CatalogChange::Define { sql: stored, .. } = change else {
            return Ok(());
        };
        let sql = CatalogKey::open(self.key.as_ref(), stored)?;
        plan_statement(
            &ctx,
            self.catalog.stores(),
            &sql,
            None,
            Capacity::SINGLE,
            &Arc::default(),
        )
        .await
        .map(|_| ())
        .map_err(|e| e.to_string())
    }

    /// Defines every table and view of the log. A view is made after the
    /// tables it reads, whatever their names: definitions that fail are
    /// tried again while others succeed.
    async fn apply_all(&self) {
        let mut pending: Vec<CatalogChange> = self
            .log
            .definitions()
            .into_iter()
            .map(|(name, sql)| CatalogChange::Define { name, sql })
            .collect();
        loop {
            let mut failed = Vec::new();
            for change in &pending {
                if let Err(why) = self.try_apply(change).await {
                    failed.push((change.clone(), why));
                }
            }
            if failed.is_empty() || failed.len() == pending.len() {
                for (change, why) in failed {
                    let name = change.name();
                    tracing::warn!(%name, "a table of the catalog log is left out here: {why}");
                }
                return;
            }
            pending = failed.into_iter().map(|(change, _)| change).collect();
        }
    }

    /// The change `sql` makes to the shared catalog, if any: table and view
    /// definitions and drops. A definition holding credentials is sealed
    /// with the catalog key, or refused without one: the log is never given
    /// a secret in plain text.
    pub fn change_of(&self, sql: &str) -> Result<Option<CatalogDdl>, DataFusionError> {
        let Ok(mut statements) = DFParser::parse_sql(sql) else {
            return Ok(None);
        };
        let Some(statement) = statements.pop_front().filter(|_| statements.is_empty()) else {
            return Ok(None);
        };
        let define =
            |name: String, when: Condition| -> Result<Option<CatalogDdl>, DataFusionError> {
                let stored = match (redact_sql(sql) != sql, &self.key) {
                    (false, _) => sql.to_string(),
                    (true, Some(key)) => key.seal(sql).map_err(DataFusionError::Execution)?,
                    (true, None) => {
                        return Err(DataFusionError::Plan(format!(
                            "{name} names credentials in its options, and the shared catalog \
                             never keeps them in plain text: give the coordinators a \
                             --catalog-key-file to keep them sealed, or let the stores use the \
                             credential chain (environment, instance or pod role)"
                        )));
                    }
                };
                Ok(Some(CatalogDdl {
                    change: CatalogChange::Define { name, sql: stored },
                    when,
                    sql: sql.to_string(),
                }))
            };
        match statement {
            DfStatement::CreateExternalTable(create) => define(
                create.name.to_string(),
                Condition::of_create(create.or_replace, create.if_not_exists),
            ),
            DfStatement::Statement(statement) => match *statement {
                Statement::CreateView(view) => define(
                    view.name.to_string(),
                    Condition::of_create(view.or_replace, view.if_not_exists),
                ),
                Statement::Drop {
                    object_type: ObjectType::Table | ObjectType::View,
                    names,
                    ..
                } if names.len() == 1 => Ok(Some(CatalogDdl {
                    change: CatalogChange::Drop {
                        name: names[0].to_string(),
                    },
                    when: Condition::Always,
                    sql: sql.to_string(),
                })),
                _ => Ok(None),
            },
            _ => Ok(None),
        }
    }

    /// Appends a change that has just taken effect here. Others' changes
    /// that came first are applied before it (a definition of the same
    /// name among them is overtaken by this one); if the log refuses it,
    /// it is undone here and the error says why.
    ///
    /// `held` keeps other coordinators' changes from being applied here
    /// between the statement running and its change taking its place in
    /// the log, which could leave this coordinator with another's
    /// definition of the name while the log ends with this one.
    pub async fn record(&self, ddl: CatalogDdl, held: HeldCatalog) -> Result<(), CatalogLogError> {
        let name = ddl.change.name().to_string();
        let _applying = held;
        let before = self.log.definitions().get(&name).cloned();
        // `IF NOT EXISTS` of a defined name (run at every start, say), or a
        // definition the name already has, changes nothing.
        let unchanged = match (&ddl.change, &before) {
            (CatalogChange::Define { .. }, Some(stored)) => {
                CatalogKey::open(self.key.as_ref(), stored).as_ref() == Ok(&ddl.sql)
            }
            _ => false,
        };
        if unchanged || (ddl.when == Condition::UnlessDefined && before.is_some()) {
            return Ok(());
        }
        let when = ddl.when;
        let checked = name.clone();
        let appended = self
            .log
            .append(ddl.change, move |defined| {
                match when != Condition::Always && defined.contains_key(&checked) {
                    true => Err(format!(
                        "table {checked} was created meanwhile by another coordinator"
                    )),
                    false => Ok(()),
                }
            })
            .await;
        match appended {
            Ok(appended) => {
                for (_, change) in appended.missed {
                    if change.name() != name {
                        self.apply(&change).await;
                    }
                }
                Ok(())
            }
            Err(e) => {
                // As the log has it; others' changes to other names are
                // applied by the follower.
                let restore = match self.log.definitions().get(&name) {
                    Some(sql) => CatalogChange::Define {
                        name: name.clone(),
                        sql: sql.clone(),
                    },
                    None => CatalogChange::Drop { name: name.clone() },
                };
                self.apply(&restore).await;
                match (&e, when) {
                    // Created meanwhile by another coordinator: as if it had
                    // existed all along.
                    (CatalogLogError::Refused(_), Condition::UnlessDefined) => Ok(()),
                    _ => Err(e),
                }
            }
        }
    }
}
