//! The shared catalog log in object storage: two coordinators' logs on one
//! location, on local disk and on the real S3 server, appending at once.
//! No change is lost or overwritten, both end with the same catalog, and
//! of two creations of one name exactly one wins.

use std::collections::BTreeSet;
use std::sync::Arc;

use hayate_coordinator::catalog_log::{CatalogChange, CatalogLog, CatalogLogError};
use hayate_testkit::S3Server;
use object_store::ObjectStore;
use object_store::local::LocalFileSystem;
use object_store::path::Path;

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
