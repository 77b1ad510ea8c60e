//! Text searches over logs on the S3 server, with and without the search
//! index: every answer equal to single-node DataFusion reading the same
//! objects (sidecars included, which neither must take for data), a rare
//! request id found by reading a small part of what a full scan reads, and
//! the answer unchanged when a data file changed under its index, or an
//! index is damaged or gone.

use datafusion::arrow::array::AsArray;
use datafusion::prelude::SessionContext;
use futures::TryStreamExt;
use hayate_logs::LogSpec;
use hayate_protocol::QueryStats;
use hayate_search_index::{IndexSpec, IndexedColumn, index_location, sidecar_path};
use hayate_storage::io_summary;
use hayate_testkit::S3Server;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};

use crate::support::{Client, logs_on_s3, logs_reference, long_listing_storage, total};

/// Runs `sql` on Hayate and DataFusion; panics unless the answers are equal.
async fn checked(client: &mut Client, reference: &SessionContext, sql: &str) -> QueryStats {
    let expected = reference
        .sql(sql)
        .await
        .unwrap_or_else(|e| panic!("DataFusion plans {sql}: {e}"))
        .collect()
        .await
        .unwrap_or_else(|e| panic!("DataFusion runs {sql}: {e}"));
    let (actual, stats) = client
        .query_with_stats(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    if let Err(diff) = hayate_tpch::compare_results(&expected, &actual, true) {
        panic!("{sql}\n{diff}");
    }
    stats
}

fn one_string(batches: &[datafusion::arrow::record_batch::RecordBatch]) -> String {
    let column = datafusion::arrow::compute::cast(
        batches[0].column(0),
        &datafusion::arrow::datatypes::DataType::Utf8,
    )
    .expect("cast");
    column.as_string::<i32>().value(0).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn searches_skip_row_groups_by_index_and_stay_correct_without_it() {
    let server = S3Server::start("search").await;
    // A day of logs: one file an hour, ten row groups a file.
    let spec = LogSpec {
        rows: 60_000,
        days: 1,
        rows_per_group: 250,
        ..Default::default()
    };
    let store = server.store();
    let (cluster, mut client, location) =
        logs_on_s3(&server, &spec, 2, long_listing_storage(&server)).await;
    client
        .update("SET hayate.bytes_per_task = 1")
        .await
        .expect("set");
    let reference = logs_reference(&server, &location).await;

    // A request id from the middle of the day, and the hour it is in.
    let picked = reference
        .sql(
            "SELECT json_get_str(attributes, 'request', 'id'), dt, hour FROM logs \
             ORDER BY ts LIMIT 1 OFFSET 31000",
        )
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    let id = one_string(&picked);
    let hex = id.trim_start_matches("req-").to_string();
    let column = |i: usize| {
        let c = datafusion::arrow::compute::cast(
            picked[0].column(i),
            &datafusion::arrow::datatypes::DataType::Utf8,
        )
        .unwrap();
        c.as_string::<i32>().value(0).to_string()
    };
    let (dt, hour) = (column(1), column(2));
    let by_id = format!(
        "SELECT ts, service, status, message FROM logs WHERE attributes LIKE '%{id}%' ORDER BY ts"
    );
    let searches = [
        by_id.clone(),
        format!("SELECT ts, host FROM logs WHERE contains(attributes, '{hex}') ORDER BY ts"),
        format!(
            "SELECT ts, host FROM logs WHERE strpos(attributes, '{}') > 0 ORDER BY ts",
            &hex[3..13]
        ),
        format!(
            "SELECT ts, host FROM logs WHERE attributes ILIKE '%{}%' ORDER BY ts",
            id.to_uppercase()
        ),
        format!("SELECT ts, host FROM logs WHERE matches(attributes, '{id}') ORDER BY ts"),
        "SELECT count(*) FROM logs WHERE matches(message, 'upstream AND timeout')".to_string(),
        "SELECT service, count(*) FROM logs WHERE matches(message, 'timeout OR unavailable') \
         GROUP BY service ORDER BY service"
            .to_string(),
        format!(
            "SELECT count(*) FROM logs WHERE message LIKE '%bad gateway from payments-0%' \
             OR attributes LIKE '%{id}%'"
        ),
        "SELECT count(*) FROM logs WHERE message LIKE '%GET /api/v1/users/9999%'".to_string(),
        "SELECT count(*) FROM logs".to_string(),
    ];

    // Without an index, the search reads every row group's attributes.
    let unindexed = checked(&mut client, &reference, &by_id).await;
    eprintln!("without index: {}", io_summary(&unindexed.total));
    assert_eq!(total(&unindexed, "index_row_groups_skipped"), 0);

    // Row groups of 250 lines are small enough for n-grams of hex ids to
    // skip some (with 16,384 lines nearly every 4-gram of hex is in each).
    let spec = IndexSpec::new(vec![
        IndexedColumn {
            name: "message".into(),
            ngram: 4,
        },
        IndexedColumn {
            name: "attributes".into(),
            ngram: 4,
        },
    ]);
    let built = index_location(store.clone(), &Path::from("web"), &spec)
        .await
        .expect("index built");
    eprintln!("{built:?}");
    assert_eq!((built.files, built.built), (24, 24));
    let row_groups = total(&unindexed, "row_groups_total");
    assert_eq!(built.row_groups as u64, row_groups);
    client.update("REFRESH TABLE logs").await.expect("refresh");

    let mut first = Vec::new();
    for sql in &searches {
        first.push(checked(&mut client, &reference, sql).await);
    }
    let indexed = &first[0];
    eprintln!("with index: {}", io_summary(&indexed.total));
    // The id is in one row group; a false positive may add a few.
    assert!(
        total(indexed, "index_row_groups_skipped") >= row_groups - 10,
        "{}",
        io_summary(&indexed.total)
    );
    // Cold, the sidecars are read too (with 250-line row groups their
    // n-grams are a large part of the data).
    assert!(
        total(indexed, "bytes_fetched") < total(&unindexed, "bytes_fetched"),
        "indexed {} bytes, unindexed {}",
        total(indexed, "bytes_fetched"),
        total(&unindexed, "bytes_fetched")
    );
    // A search inside the id (by n-grams), ILIKE and `matches` skip too.
    for (i, s) in first.iter().enumerate().take(5).skip(1) {
        assert!(
            total(s, "index_row_groups_skipped") >= row_groups * 9 / 10,
            "{}: {}",
            searches[i],
            io_summary(&s.total)
        );
    }
    // Again: the sidecars come from memory, and only data is fetched.
    let again = checked(&mut client, &reference, &by_id).await;
    eprintln!("with index, cached: {}", io_summary(&again.total));
    assert!(
        total(&again, "bytes_fetched") * 10 < total(&unindexed, "bytes_fetched"),
        "{}",
        io_summary(&again.total)
    );

    // The id's file, and another hour's file overwritten with its bytes:
    // that file's index is now stale and must not hide the copy.
    let listed: Vec<_> = store
        .list(Some(&Path::from("web")))
        .try_collect()
        .await
        .unwrap();
    let data: Vec<Path> = listed
        .iter()
        .map(|m| m.location.clone())
        .filter(|p| p.as_ref().ends_with(".parquet") && !hayate_search_index::is_sidecar(p))
        .collect();
    let home = data
        .iter()
        .find(|p| p.as_ref().contains(&format!("dt={dt}/hour={hour}/")))
        .expect("the id's file")
        .clone();
    let other = data
        .iter()
        .find(|p| **p != home)
        .expect("another file")
        .clone();
    let bytes = store.get(&home).await.unwrap().bytes().await.unwrap();
    store.put(&other, PutPayload::from(bytes)).await.unwrap();
    client.update("REFRESH TABLE logs").await.unwrap();
    // (DataFusion caches listings too: a new session sees the new file.)
    let reference = logs_reference(&server, &location).await;
    let stale = checked(&mut client, &reference, &by_id).await;
    eprintln!("one stale index: {}", io_summary(&stale.total));

    // A damaged index: its file is read whole.
    store
        .put(
            &sidecar_path(&home, "attributes"),
            PutPayload::from(b"HYTIDX01 not an index".to_vec()),
        )
        .await
        .unwrap();
    client.update("REFRESH TABLE logs").await.unwrap();
    checked(&mut client, &reference, &by_id).await;
    // A missing one: the same.
    store
        .delete(&sidecar_path(&home, "attributes"))
        .await
        .unwrap();
    client.update("REFRESH TABLE logs").await.unwrap();
    let missing = checked(&mut client, &reference, &by_id).await;
    assert!(total(&missing, "index_row_groups_skipped") >= row_groups * 8 / 10);
    for sql in &searches {
        checked(&mut client, &reference, sql).await;
    }

    // Building again redoes just the two.
    let rebuilt = index_location(store.clone(), &Path::from("web"), &spec)
        .await
        .expect("index rebuilt");
    assert_eq!((rebuilt.built, rebuilt.fresh), (2, 22), "{rebuilt:?}");
    cluster.stop().await;
}
