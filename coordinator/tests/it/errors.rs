//! Bad input gets a clear error and the cluster keeps answering.

use std::time::Duration;

use crate::support::{TestCluster, row_count};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_sql_and_unknown_names_are_clear_errors() {
    let cluster = TestCluster::start(1).await;
    let mut client = cluster.tpch_client().await;

    let err = client.query("SELEC 1").await.unwrap_err();
    assert!(
        err.contains("invalid argument") && err.contains("SELEC") && err.contains("Column: 1"),
        "{err}"
    );

    let err = client
        .query("SELECT * FROM no_such_table")
        .await
        .unwrap_err();
    assert!(
        err.contains("invalid argument") && err.contains("no_such_table"),
        "{err}"
    );

    let err = client
        .query("SELECT no_such_column FROM nation")
        .await
        .unwrap_err();
    assert!(err.contains("no_such_column"), "{err}");

    // Values the data cannot take are the statement's fault, whether the
    // coordinator finds them while planning or a worker while running.
    let err = client.query("SELECT CAST('abc' AS INT)").await.unwrap_err();
    assert!(
        err.contains("invalid argument") && err.contains("abc"),
        "{err}"
    );
    let err = client
        .query("SELECT 1 / (n_nationkey - n_nationkey) FROM nation")
        .await
        .unwrap_err();
    assert!(
        err.contains("invalid argument") && err.contains("Divide by zero"),
        "{err}"
    );

    // So are wrong arguments and missing tables that DataFusion reports as
    // execution errors while the statement is planned.
    let err = client.query("SELECT named_struct('a')").await.unwrap_err();
    assert!(
        err.contains("invalid argument") && err.contains("even number of arguments"),
        "{err}"
    );
    let err = client.update("DROP TABLE no_such_table").await.unwrap_err();
    assert!(
        err.contains("invalid argument") && err.contains("doesn't exist"),
        "{err}"
    );

    // The server is still fine.
    let rows = client.query("SELECT count(*) FROM nation").await.unwrap();
    assert_eq!(row_count(&rows), 1);
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn missing_and_corrupt_files_are_clear_errors() {
    let cluster = TestCluster::start(2).await;
    let mut client = cluster.client().await;
    let dir = tempfile::tempdir().unwrap();

    // A location with nothing in it.
    let missing = dir.path().join("nothing-here");
    let err = client
        .update(&format!(
            "CREATE EXTERNAL TABLE gone STORED AS PARQUET LOCATION '{}/'",
            missing.display()
        ))
        .await
        .unwrap_err();
    assert!(
        err.contains("No files found") && err.contains("nothing-here"),
        "{err}"
    );

    // A file that vanishes after the table was listed: the error names it.
    let table_dir = dir.path().join("t");
    std::fs::create_dir_all(&table_dir).unwrap();
    let mut setup = cluster.client().await;
    setup
        .update(&format!(
            "COPY (SELECT * FROM (VALUES (1, 'a'), (2, 'b')) AS v(id, name)) TO '{}/a.parquet' STORED AS PARQUET",
            table_dir.display()
        ))
        .await
        .expect("copy to parquet");
    client
        .update(&format!(
            "CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION '{}/'",
            table_dir.display()
        ))
        .await
        .unwrap();
    client
        .query("SELECT * FROM t")
        .await
        .expect("listed and read");
    std::fs::remove_file(table_dir.join("a.parquet")).unwrap();
    let err = client.query("SELECT * FROM t").await.unwrap_err();
    assert!(err.contains("a.parquet"), "error names the file: {err}");

    // A corrupt file: clear error naming the problem, server keeps serving.
    let bad_dir = dir.path().join("bad");
    std::fs::create_dir_all(&bad_dir).unwrap();
    std::fs::write(
        bad_dir.join("x.parquet"),
        b"this is not parquet at all, just bytes",
    )
    .unwrap();
    let err = match client
        .update(&format!(
            "CREATE EXTERNAL TABLE bad STORED AS PARQUET LOCATION '{}/'",
            bad_dir.display()
        ))
        .await
    {
        Err(e) => e,
        Ok(_) => client.query("SELECT * FROM bad").await.unwrap_err(),
    };
    assert!(err.to_lowercase().contains("parquet"), "{err}");

    let rows = client.query("SELECT 1 + 1").await.unwrap();
    assert_eq!(row_count(&rows), 1);
    cluster.stop().await;
}

/// A worker that goes away before a query: the query runs on the ones left,
/// even before the coordinator has noticed the missed heartbeats.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_worker_gone_before_the_query_is_routed_around() {
    let mut cluster = TestCluster::start(3).await;
    let mut client = cluster.tpch_client().await;
    let before = client.query(hayate_tpch::query(3)).await.unwrap();

    let gone = cluster.workers.remove(1);
    let gone_address = gone.address.clone();
    gone.stop().await;
    assert_eq!(
        cluster.coordinator.membership.live().len(),
        3,
        "not yet noticed"
    );

    let after = client.query(hayate_tpch::query(3)).await.unwrap();
    hayate_tpch::compare_results(&before, &after, true).unwrap();
    let live = cluster.coordinator.membership.live();
    assert_eq!(live.len(), 2);
    assert!(live.iter().all(|w| w.address != gone_address));

    // With every worker gone, a query that needs one says so.
    for w in cluster.workers.drain(..) {
        w.stop().await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let err = client
        .query("SELECT count(*) FROM lineitem WHERE l_quantity > 10")
        .await
        .unwrap_err();
    assert!(err.contains("no live workers"), "{err}");
    // Queries that need no worker still answer.
    assert_eq!(row_count(&client.query("SELECT 42").await.unwrap()), 1);
    cluster.coordinator.stop().await;
}

/// Files of one table whose schemas drifted apart: an added column reads as
/// nulls from the older files; a column whose type changed is a clear error
/// naming the column. The cluster keeps answering either way.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn schema_drift_across_files_is_merged_or_named() {
    let cluster = TestCluster::start(2).await;
    let mut client = cluster.client().await;
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, select: &str, client_dir: &std::path::Path| {
        format!(
            "COPY ({select}) TO '{}/{name}' STORED AS PARQUET",
            client_dir.display()
        )
    };

    let added = dir.path().join("added");
    std::fs::create_dir_all(&added).unwrap();
    for (name, select) in [
        (
            "old.parquet",
            "SELECT * FROM (VALUES (1, 'a'), (2, 'b')) AS v(id, name)",
        ),
        (
            "new.parquet",
            "SELECT * FROM (VALUES (3, 'c', 'eu'), (4, 'd', 'us')) AS v(id, name, region)",
        ),
    ] {
        client
            .update(&write(name, select, &added))
            .await
            .expect("copy");
    }
    client
        .update(&format!(
            "CREATE EXTERNAL TABLE added STORED AS PARQUET LOCATION '{}/'",
            added.display()
        ))
        .await
        .expect("a table over files with an added column");
    client
        .update("SET hayate.bytes_per_task = 1")
        .await
        .unwrap();
    let rows = client
        .query("SELECT count(*) AS n, count(region) AS with_region FROM added")
        .await
        .expect("the added column reads as nulls from the old file");
    let batch = &rows[0];
    let n = datafusion::arrow::array::cast::as_primitive_array::<
        datafusion::arrow::datatypes::Int64Type,
    >(batch.column(0))
    .value(0);
    let with_region = datafusion::arrow::array::cast::as_primitive_array::<
        datafusion::arrow::datatypes::Int64Type,
    >(batch.column(1))
    .value(0);
    assert_eq!((n, with_region), (4, 2));

    let changed = dir.path().join("changed");
    std::fs::create_dir_all(&changed).unwrap();
    for (name, select) in [
        (
            "a.parquet",
            "SELECT * FROM (VALUES (1, 10)) AS v(id, amount)",
        ),
        (
            "b.parquet",
            "SELECT * FROM (VALUES (2, 'ten')) AS v(id, amount)",
        ),
    ] {
        client
            .update(&write(name, select, &changed))
            .await
            .expect("copy");
    }
    let err = match client
        .update(&format!(
            "CREATE EXTERNAL TABLE changed STORED AS PARQUET LOCATION '{}/'",
            changed.display()
        ))
        .await
    {
        Err(e) => e,
        Ok(_) => client
            .query("SELECT sum(amount) FROM changed")
            .await
            .expect_err("a column that changed type cannot be summed"),
    };
    assert!(err.contains("amount"), "the error names the column: {err}");

    let rows = client.query("SELECT count(*) FROM added").await.unwrap();
    assert_eq!(row_count(&rows), 1);
    cluster.stop().await;
}
