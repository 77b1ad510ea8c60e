//! The shared catalog log in object storage: two coordinators' logs on one
//! location, on local disk and on the real S3 server, appending at once.
//! No change is lost or overwritten, both end with the same catalog, and
//! of two creations of one name exactly one wins. The query history kept
//! beside the catalog is read from any coordinator.

use std::collections::BTreeSet;
use std::sync::Arc;

use hayate_coordinator::catalog_log::{CatalogChange, CatalogLog, CatalogLogError};
use hayate_coordinator::catalog_seal::CatalogKey;
use hayate_testkit::S3Server;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};

fn define(name: &str) -> CatalogChange {
    CatalogChange::Define {
        name: name.to_string(),
        sql: format!("CREATE VIEW {name} AS SELECT 1"),
    }
}

/// Refuses a change whose name is already defined (a plain CREATE).
fn must_be_new(
    name: String,
) -> impl Fn(&std::collections::BTreeMap<String, String>) -> Result<(), String> {
    move |defined| match defined.contains_key(&name) {
        true => Err(format!("table {name} already exists")),
        false => Ok(()),
    }
}

/// Two coordinators each append `per_side` changes at once (8 in flight
/// each), then both catch up.
async fn both_append_at_once(store: Arc<dyn ObjectStore>, per_side: usize) {
    let prefix = Path::from("hayate/catalog");
    let a = Arc::new(CatalogLog::new(Arc::clone(&store), &prefix, "a"));
    let b = Arc::new(CatalogLog::new(Arc::clone(&store), &prefix, "b"));
    let mut calls = Vec::new();
    for i in 0..per_side {
        for (log, side) in [(&a, "a"), (&b, "b")] {
            let log = Arc::clone(log);
            let name = format!("{side}_{i}");
            calls.push(tokio::spawn(async move {
                log.append(define(&name), must_be_new(name.clone())).await
            }));
        }
    }
    let mut seqs = BTreeSet::new();
    for call in calls {
        let appended = call.await.unwrap().expect("every change is appended");
        assert!(
            seqs.insert(appended.seq),
            "number {} given twice",
            appended.seq
        );
    }
    let total = 2 * per_side as u64;
    assert_eq!(seqs, (1..=total).collect(), "the numbers run without a gap");
    a.catch_up().await.unwrap();
    b.catch_up().await.unwrap();
    assert_eq!(a.version(), total);
    assert_eq!(b.version(), total);
    let defined = a.definitions();
    assert_eq!(defined.len(), 2 * per_side, "no change was lost");
    assert_eq!(defined, b.definitions(), "both see the same catalog");

    // A third coordinator, started later, reads the whole catalog.
    let late = CatalogLog::new(Arc::clone(&store), &prefix, "c");
    let changes = late.catch_up().await.unwrap();
    assert_eq!(changes.len() as u64, total);
    assert_eq!(late.definitions(), defined);

    // Both create one name at once: one wins, the other is refused.
    let (first, second) = tokio::join!(
        a.append(define("same"), must_be_new("same".into())),
        b.append(define("same"), must_be_new("same".into())),
    );
    let refused = match (first, second) {
        (Ok(_), Err(e)) | (Err(e), Ok(_)) => e,
        other => panic!("exactly one creation wins: {other:?}"),
    };
    assert!(
        matches!(&refused, CatalogLogError::Refused(why) if why.contains("already exists")),
        "{refused}"
    );
    // A drop is seen by the other side.
    a.append(CatalogChange::Drop { name: "a_0".into() }, |_| Ok(()))
        .await
        .unwrap();
    let seen = b.catch_up().await.unwrap();
    assert!(
        seen.iter()
            .any(|(_, c)| c == &CatalogChange::Drop { name: "a_0".into() })
    );
    assert!(!b.definitions().contains_key("a_0"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_coordinators_change_a_catalog_on_local_disk_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(LocalFileSystem::new_with_prefix(dir.path()).unwrap());
    both_append_at_once(store, 50).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_coordinators_change_a_catalog_on_s3_at_once() {
    let server = S3Server::start("catalog").await;
    both_append_at_once(server.store(), 50).await;
}

/// A client of `cluster`'s coordinator.
async fn client_of(cluster: &hayate_embedded::EmbeddedCluster) -> hayate_testkit::SqlClient {
    hayate_testkit::SqlClient::connect(&cluster.coordinator.address)
        .await
        .expect("connect")
}

/// A coordinator and one worker keeping its catalog at `catalog`.
async fn cluster_on(catalog: &url::Url) -> hayate_embedded::EmbeddedCluster {
    cluster_with(catalog, Default::default(), None).await
}

async fn cluster_with(
    catalog: &url::Url,
    storage: hayate_coordinator::StorageConfig,
    key: Option<CatalogKey>,
) -> hayate_embedded::EmbeddedCluster {
    let config = hayate_coordinator::CoordinatorConfig {
        bind: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
        catalog: Some(catalog.clone()),
        catalog_key: key,
        storage,
        ..Default::default()
    };
    hayate_embedded::EmbeddedCluster::start(config, 1)
        .await
        .expect("cluster starts")
}

async fn nation_count(client: &mut hayate_testkit::SqlClient) -> Result<u64, String> {
    let (batches, _) = client.run("SELECT count(*) FROM nation").await?;
    let counts = batches[0]
        .column(0)
        .as_any()
        .downcast_ref::<datafusion::arrow::array::Int64Array>()
        .ok_or("count is not Int64")?;
    Ok(counts.value(0) as u64)
}

/// Waits up to 3 s for `check` to hold.
async fn within_seconds(mut check: impl AsyncFnMut() -> bool) -> bool {
    for _ in 0..30 {
        if check().await {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn coordinators_sharing_a_catalog_see_each_others_tables_and_keep_them() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = url::Url::from_directory_path(dir.path()).unwrap();
    let a = cluster_on(&catalog).await;
    let b = cluster_on(&catalog).await;
    let mut on_a = client_of(&a).await;
    let mut on_b = client_of(&b).await;
    let create = format!(
        "CREATE EXTERNAL TABLE nation STORED AS PARQUET LOCATION '{}/nation/'",
        crate::support::tpch_dir()
    );
    on_a.update(&create).await.expect("created through a");
    assert_eq!(nation_count(&mut on_a).await.unwrap(), 25);
    assert!(
        within_seconds(async || nation_count(&mut on_b).await == Ok(25)).await,
        "b sees the table a created"
    );
    // The same name again, through b: refused, and nothing changes.
    let again = on_b.update(&create).await.expect_err("created twice");
    assert!(again.contains("already exists"), "{again}");
    // IF NOT EXISTS of a name defined elsewhere changes nothing.
    let version = std::fs::read_dir(dir.path().join("log")).unwrap().count();
    on_b.update(&create.replace("TABLE nation", "TABLE IF NOT EXISTS nation"))
        .await
        .expect("IF NOT EXISTS of a defined table");
    assert_eq!(
        std::fs::read_dir(dir.path().join("log")).unwrap().count(),
        version,
        "nothing was appended"
    );
    // A definition holding a credential is never written down.
    let secret = on_a
        .update(
            "CREATE EXTERNAL TABLE leaky STORED AS PARQUET LOCATION 's3://b/t/' \
             OPTIONS ('aws.secret_access_key' 'hunter2')",
        )
        .await
        .expect_err("a credential in the shared catalog");
    assert!(secret.contains("credential"), "{secret}");
    let mut written = String::new();
    for entry in walk(&dir.path().join("log")) {
        written.push_str(&std::fs::read_to_string(entry).unwrap());
    }
    assert!(!written.contains("hunter2"));
    assert!(
        written.contains("CREATE EXTERNAL TABLE nation"),
        "{written}"
    );

    // A coordinator started later comes up with the table; a drop through
    // b reaches a.
    a.stop().await;
    let c = cluster_on(&catalog).await;
    let mut on_c = client_of(&c).await;
    assert_eq!(nation_count(&mut on_c).await.unwrap(), 25);
    on_b.update("DROP TABLE nation")
        .await
        .expect("dropped through b");
    assert!(
        within_seconds(async || nation_count(&mut on_c).await.is_err()).await,
        "c no longer has the dropped table"
    );
    b.stop().await;
    c.stop().await;
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(walk(&path));
        } else {
            files.push(path);
        }
    }
    files
}

/// The same through the S3 server: the catalog's store is built like a
/// table's, from the coordinator's S3 options.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn coordinators_share_a_catalog_on_s3() {
    let server = S3Server::start("shared").await;
    let storage = hayate_coordinator::StorageConfig {
        defaults: std::collections::BTreeMap::from([
            ("aws.endpoint".to_string(), server.endpoint.clone()),
            ("aws.region".to_string(), "us-east-1".to_string()),
            ("aws.access_key_id".to_string(), server.access_key.clone()),
            (
                "aws.secret_access_key".to_string(),
                server.secret_key.clone(),
            ),
        ]),
        ..Default::default()
    };
    let catalog = url::Url::parse("s3://shared/hayate/catalog/").unwrap();
    let key = CatalogKey::from_text(&"5e".repeat(32)).unwrap();
    let a = cluster_with(&catalog, storage.clone(), Some(key.clone())).await;
    let b = cluster_with(&catalog, storage.clone(), Some(key)).await;
    let mut on_a = client_of(&a).await;
    let mut on_b = client_of(&b).await;
    on_a.update("CREATE VIEW answer AS SELECT 42 AS x")
        .await
        .unwrap();
    let answered = async |client: &mut hayate_testkit::SqlClient| {
        client.run("SELECT x FROM answer").await.is_ok()
    };
    assert!(
        within_seconds(async || answered(&mut on_b).await).await,
        "b sees the view a created"
    );
    // A table whose options hold the S3 keys is kept sealed: b opens it
    // with the shared key, the bucket never holds the secret in plain text.
    on_a.update("COPY (SELECT 42 AS x) TO 's3://shared/data/answer.parquet' STORED AS PARQUET")
        .await
        .unwrap();
    on_a.update(&format!(
        "CREATE EXTERNAL TABLE sealed STORED AS PARQUET LOCATION 's3://shared/data/' OPTIONS (\
         'aws.access_key_id' '{}', 'aws.secret_access_key' '{}', 'aws.endpoint' '{}', \
         'aws.region' 'us-east-1')",
        server.access_key, server.secret_key, server.endpoint
    ))
    .await
    .expect("a table with credentials, sealed");
    let sealed_answer = async |client: &mut hayate_testkit::SqlClient| {
        client
            .run("SELECT x FROM sealed")
            .await
            .map(|(b, _)| b.len())
    };
    assert!(
        within_seconds(async || sealed_answer(&mut on_b).await == Ok(1)).await,
        "b opens the sealed table"
    );
    let store = server.store();
    let mut written = String::new();
    let logged: Vec<_> =
        futures::TryStreamExt::try_collect(store.list(Some(&Path::from("hayate/catalog"))))
            .await
            .unwrap();
    for meta in logged {
        let bytes = store
            .get(&meta.location)
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        written.push_str(&String::from_utf8_lossy(&bytes));
    }
    assert!(written.contains("sealed:v1:"), "{written}");
    assert!(!written.contains(&server.secret_key), "{written}");
    a.stop().await;
    b.stop().await;
    // A coordinator started later has the view; without the key it leaves
    // the sealed table out and serves the rest.
    let c = cluster_with(&catalog, storage.clone(), None).await;
    let mut on_c = client_of(&c).await;
    assert!(
        answered(&mut on_c).await,
        "a coordinator started later has it"
    );
    assert!(sealed_answer(&mut on_c).await.is_err());
    // The history a and b wrote holds the statement, its credentials masked.
    let history = async |client: &mut hayate_testkit::SqlClient, like: &str| {
        let sql = format!(
            "SELECT sql FROM system.query_history WHERE sql LIKE '%{like}%' \
             AND sql NOT LIKE '%query_history%'"
        );
        client.run(&sql).await.map(|(b, _)| row_count(&b))
    };
    assert_eq!(
        history(&mut on_c, "CREATE EXTERNAL TABLE sealed").await,
        Ok(1)
    );
    assert_eq!(history(&mut on_c, &server.secret_key).await, Ok(0));
    c.stop().await;

    // Key rotation: a coordinator given the new key first and the old one
    // after seals the table again with the new key; from then on the new
    // key alone opens it.
    let new = "a7".repeat(32);
    let rotating = CatalogKey::from_text(&format!("{new}\n{}", "5e".repeat(32))).unwrap();
    let d = cluster_with(&catalog, storage.clone(), Some(rotating)).await;
    let mut on_d = client_of(&d).await;
    assert_eq!(sealed_answer(&mut on_d).await, Ok(1));
    d.stop().await;
    let e = cluster_with(
        &catalog,
        storage,
        Some(CatalogKey::from_text(&new).unwrap()),
    )
    .await;
    let mut on_e = client_of(&e).await;
    assert_eq!(
        sealed_answer(&mut on_e).await,
        Ok(1),
        "the new key alone opens the table once it was sealed again"
    );
    e.stop().await;
}

fn row_count(batches: &[datafusion::arrow::record_batch::RecordBatch]) -> usize {
    batches.iter().map(|b| b.num_rows()).sum()
}

/// The history rows `client` sees of the queries whose SQL contains
/// `marker`: (sql, state, coordinator).
async fn history_of(
    client: &mut hayate_testkit::SqlClient,
    marker: &str,
) -> Result<Vec<(String, String, String)>, String> {
    let sql = format!(
        "SELECT sql, state, coordinator FROM system.query_history \
         WHERE sql LIKE '%{marker}%' AND sql NOT LIKE '%query_history%' ORDER BY sql"
    );
    let (batches, _) = client.run(&sql).await?;
    let mut rows = Vec::new();
    for batch in batches {
        let text = |i: usize| -> Result<datafusion::arrow::array::StringArray, String> {
            let utf8 = datafusion::arrow::compute::cast(
                batch.column(i),
                &datafusion::arrow::datatypes::DataType::Utf8,
            )
            .map_err(|e| e.to_string())?;
            Ok(utf8
                .as_any()
                .downcast_ref::<datafusion::arrow::array::StringArray>()
                .ok_or("not text")?
                .clone())
        };
        let (sql, state, coordinator) = (text(0)?, text(1)?, text(2)?);
        for row in 0..batch.num_rows() {
            rows.push((
                sql.value(row).to_string(),
                state.value(row).to_string(),
                coordinator.value(row).to_string(),
            ));
        }
    }
    Ok(rows)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn query_history_outlives_its_coordinator_and_is_read_from_any_other() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = url::Url::from_directory_path(dir.path()).unwrap();
    let a = cluster_on(&catalog).await;
    let b = cluster_on(&catalog).await;
    let a_id = a.coordinator.membership.coordinator_id.clone();
    let mut on_a = client_of(&a).await;
    let mut on_b = client_of(&b).await;
    on_a.run("SELECT 'history-1' AS marker").await.unwrap();
    on_a.run("SELECT 'history-2' AS marker").await.unwrap();
    on_a.run("SELECT no_such_column_history_3")
        .await
        .expect_err("bad SQL");
    // Written within a few seconds, while a runs.
    let mut seen = Vec::new();
    for _ in 0..100 {
        seen = history_of(&mut on_b, "history-").await.unwrap();
        if seen.len() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(
        seen,
        vec![
            (
                "SELECT 'history-1' AS marker".to_string(),
                "finished".to_string(),
                a_id.clone()
            ),
            (
                "SELECT 'history-2' AS marker".to_string(),
                "finished".to_string(),
                a_id.clone()
            ),
        ]
    );
    // A query that ends just before its coordinator stops is kept too:
    // the last write happens on the way out.
    on_a.run("SELECT 'history-4' AS marker").await.unwrap();
    a.stop().await;
    let seen = history_of(&mut on_b, "history-4").await.unwrap();
    assert_eq!(seen.len(), 1, "{seen:?}");
    // And it outlives a: a coordinator started later reads all of it.
    let c = cluster_on(&catalog).await;
    let mut on_c = client_of(&c).await;
    assert_eq!(history_of(&mut on_c, "history-").await.unwrap().len(), 3);

    // Files past the retention are deleted: none is younger than no time.
    let store: Arc<dyn ObjectStore> = Arc::new(LocalFileSystem::new());
    let history = hayate_coordinator::query_history::QueryHistory::new(
        store,
        &catalog,
        &Path::from_url_path(catalog.path()).unwrap(),
        "test",
        std::time::Duration::ZERO,
    )
    .unwrap();
    assert!(history.expire().await.unwrap() >= 2);
    assert_eq!(history_of(&mut on_c, "history-").await.unwrap().len(), 0);
    b.stop().await;
    c.stop().await;
}

/// Both coordinators replace one view again and again at once: when they
/// stop, both answer with the definition the log ended with, never one
/// that another coordinator's change overtook here unseen.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn coordinators_replacing_one_view_at_once_end_with_the_same_definition() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = url::Url::from_directory_path(dir.path()).unwrap();
    let a = cluster_on(&catalog).await;
    let b = cluster_on(&catalog).await;
    let mut replacing = Vec::new();
    for (side, cluster) in [("a", &a), ("b", &b)] {
        let mut client = client_of(cluster).await;
        replacing.push(tokio::spawn(async move {
            for i in 0..25 {
                client
                    .update(&format!(
                        "CREATE OR REPLACE VIEW latest AS SELECT '{side}{i}' AS version"
                    ))
                    .await
                    .unwrap();
            }
        }));
    }
    for r in replacing {
        r.await.unwrap();
    }
    let version = async |cluster: &hayate_embedded::EmbeddedCluster| {
        let batches = client_of(cluster)
            .await
            .query("SELECT version FROM latest")
            .await
            .unwrap();
        datafusion::arrow::util::pretty::pretty_format_batches(&batches)
            .unwrap()
            .to_string()
    };
    let mut same = false;
    for _ in 0..30 {
        if version(&a).await == version(&b).await {
            same = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(same, "a: {}\nb: {}", version(&a).await, version(&b).await);
    // And it is the log's last definition.
    let last = std::fs::read_dir(dir.path().join("log"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .max()
        .unwrap();
    let last = std::fs::read_to_string(last).unwrap();
    let answer = version(&a).await;
    let shown = answer
        .lines()
        .nth(3)
        .unwrap()
        .trim_matches(|c| c == '|' || c == ' ')
        .to_string();
    assert!(last.contains(&format!("'{shown}'")), "{shown} vs {last}");
    a.stop().await;
    b.stop().await;
}
