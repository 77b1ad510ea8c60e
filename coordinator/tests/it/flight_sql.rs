//! The Flight SQL surface: metadata calls, DDL and DML through both query and
//! update commands, sessions and a catalog shared between them.

use std::sync::Arc;

use arrow_flight::sql::{
    CommandGetDbSchemas, CommandGetImportedKeys, CommandGetPrimaryKeys, CommandGetTables,
    CommandGetXdbcTypeInfo, SqlInfo, XdbcDataType,
};
use datafusion::arrow::array::{Array, ArrayRef, AsArray, Int64Array, StringArray};
use datafusion::arrow::datatypes::Int64Type;
use datafusion::arrow::record_batch::RecordBatch;
use futures::TryStreamExt;

use crate::support::{Client, TestCluster, row_count};

async fn fetch(client: &mut Client, info: arrow_flight::FlightInfo) -> Vec<RecordBatch> {
    let mut out = Vec::new();
    for endpoint in info.endpoint {
        let stream = client.inner.do_get(endpoint.ticket.unwrap()).await.unwrap();
        out.extend(stream.try_collect::<Vec<_>>().await.unwrap());
    }
    out
}

fn strings(batches: &[RecordBatch], column: &str) -> Vec<String> {
    let mut out = Vec::new();
    for b in batches {
        let col = b.column_by_name(column).unwrap();
        let col =
            datafusion::arrow::compute::cast(col, &datafusion::arrow::datatypes::DataType::Utf8)
                .unwrap();
        let col = col.as_any().downcast_ref::<StringArray>().unwrap();
        out.extend(col.iter().map(|v| v.unwrap_or("").to_string()));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn metadata_calls_describe_the_catalog() {
    let cluster = TestCluster::start(1).await;
    let mut client = cluster.tpch_client().await;

    let info = client.inner.get_catalogs().await.unwrap();
    let catalogs = strings(&fetch(&mut client, info).await, "catalog_name");
    assert!(catalogs.contains(&"datafusion".to_string()), "{catalogs:?}");

    let info = client
        .inner
        .get_db_schemas(CommandGetDbSchemas {
            catalog: Some("datafusion".into()),
            db_schema_filter_pattern: None,
        })
        .await
        .unwrap();
    let schemas = strings(&fetch(&mut client, info).await, "db_schema_name");
    assert!(schemas.contains(&"public".to_string()), "{schemas:?}");

    let info = client
        .inner
        .get_tables(CommandGetTables {
            catalog: None,
            db_schema_filter_pattern: Some("public".into()),
            table_name_filter_pattern: Some("line%".into()),
            table_types: vec![],
            include_schema: true,
        })
        .await
        .unwrap();
    let tables = fetch(&mut client, info).await;
    assert_eq!(strings(&tables, "table_name"), vec!["lineitem".to_string()]);
    assert!(tables[0].column_by_name("table_schema").is_some());

    let info = client
        .inner
        .get_sql_info(vec![SqlInfo::FlightSqlServerName])
        .await
        .unwrap();
    assert_eq!(row_count(&fetch(&mut client, info).await), 1);

    let info = client.inner.get_table_types().await.unwrap();
    assert!(strings(&fetch(&mut client, info).await, "table_type").contains(&"TABLE".to_string()));

    // What JDBC's getTypeInfo reads, and all of it or one type.
    let info = client
        .inner
        .get_xdbc_type_info(CommandGetXdbcTypeInfo { data_type: None })
        .await
        .unwrap();
    let types = strings(&fetch(&mut client, info).await, "type_name");
    for name in ["BIGINT", "VARCHAR", "TIMESTAMP", "DECIMAL"] {
        assert!(types.contains(&name.to_string()), "{types:?}");
    }
    let info = client
        .inner
        .get_xdbc_type_info(CommandGetXdbcTypeInfo {
            data_type: Some(XdbcDataType::XdbcVarchar as i32),
        })
        .await
        .unwrap();
    assert_eq!(
        strings(&fetch(&mut client, info).await, "type_name"),
        ["VARCHAR"]
    );

    // Hayate's tables declare no keys: the key calls answer, with no rows.
    let table = |name: &str| (None, Some("public".to_string()), name.to_string());
    let (catalog, db_schema, name) = table("lineitem");
    let info = client
        .inner
        .get_primary_keys(CommandGetPrimaryKeys {
            catalog,
            db_schema,
            table: name,
        })
        .await
        .unwrap();
    let keys = fetch(&mut client, info).await;
    assert_eq!(row_count(&keys), 0);
    let (catalog, db_schema, name) = table("lineitem");
    let info = client
        .inner
        .get_imported_keys(CommandGetImportedKeys {
            catalog,
            db_schema,
            table: name,
        })
        .await
        .unwrap();
    assert_eq!(row_count(&fetch(&mut client, info).await), 0);

    // Honest about cancelling: CancelFlightInfo stops queries.
    let info = client
        .inner
        .get_sql_info(vec![SqlInfo::FlightSqlServerCancel])
        .await
        .unwrap();
    let answer = fetch(&mut client, info).await;
    let value = answer[0].column_by_name("value").unwrap();
    let value = datafusion::arrow::util::display::array_value_to_string(value, 0).unwrap();
    assert!(value.contains("true"), "{value}");
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ddl_dml_views_and_settings_work_like_datafusion() {
    let cluster = TestCluster::start(2).await;
    let mut client = cluster.tpch_client().await;

    // CREATE TABLE AS, INSERT INTO: small in-memory tables.
    client
        .update("CREATE TABLE prio AS VALUES ('1-URGENT', 1), ('2-HIGH', 2)")
        .await
        .unwrap();
    let inserted = client
        .update("INSERT INTO prio VALUES ('3-MEDIUM', 3), ('4-NOT SPECIFIED', 4)")
        .await
        .unwrap();
    assert_eq!(inserted, 2);
    // Aggregates over system and in-memory tables alone run in the
    // coordinator, where those tables live (their scans cannot be shipped).
    let counted = client
        .query("SELECT count(*) AS n FROM information_schema.tables WHERE table_name = 'prio'")
        .await
        .expect("aggregate over information_schema");
    let text = datafusion::arrow::util::pretty::pretty_format_batches(&counted)
        .expect("format")
        .to_string();
    assert!(text.contains("| 1 "), "{text}");
    let grouped = client
        .query("SELECT column2 % 2 AS parity, count(*) FROM prio GROUP BY 1")
        .await
        .expect("aggregate over an in-memory table");
    assert_eq!(row_count(&grouped), 2);
    // ... which travel inside plan fragments when joined with Parquet data.
    let rows = client
        .query(
            "SELECT p.column2 AS rank, count(*) AS n FROM orders o JOIN prio p ON o.o_orderpriority = p.column1 \
             GROUP BY p.column2 ORDER BY rank",
        )
        .await
        .unwrap();
    assert_eq!(row_count(&rows), 4);

    // Views and CTEs and window functions.
    client
        .update("CREATE VIEW big_orders AS SELECT * FROM orders WHERE o_totalprice > 300000")
        .await
        .unwrap();
    let direct = client
        .query("SELECT count(*) FROM orders WHERE o_totalprice > 300000")
        .await
        .unwrap();
    let via_view = client
        .query("SELECT count(*) FROM big_orders")
        .await
        .unwrap();
    assert_eq!(
        direct[0].column(0).as_primitive::<Int64Type>().value(0),
        via_view[0].column(0).as_primitive::<Int64Type>().value(0)
    );
    let ranked = client
        .query(
            "WITH t AS (SELECT o_custkey, o_totalprice FROM orders) \
             SELECT o_custkey, rank() OVER (PARTITION BY o_custkey ORDER BY o_totalprice DESC) AS r FROM t",
        )
        .await
        .unwrap();
    assert!(row_count(&ranked) > 1000);

    // SET and SHOW stay within the session; the catalog is shared.
    client
        .update("SET datafusion.execution.batch_size = 123")
        .await
        .unwrap();
    let shown = client
        .query("SHOW datafusion.execution.batch_size")
        .await
        .unwrap();
    assert_eq!(strings(&shown, "value"), vec!["123".to_string()]);
    let mut other = cluster.client().await;
    let shown = other
        .query("SHOW datafusion.execution.batch_size")
        .await
        .unwrap();
    assert_eq!(strings(&shown, "value"), vec!["8192".to_string()]);
    let count = other.query("SELECT count(*) FROM prio").await.unwrap();
    let count = count[0]
        .column(0)
        .as_any()
        .downcast_ref::<Int64Array>()
        .unwrap()
        .value(0);
    assert_eq!(count, 4);

    // Flight's CloseSession ends a session: its next statement starts from
    // the defaults, and the tables stay.
    other
        .update("SET datafusion.execution.batch_size = 321")
        .await
        .unwrap();
    let closed = other
        .inner
        .do_action(arrow_flight::Action::new("CloseSession", ""))
        .await
        .unwrap()
        .try_collect::<Vec<_>>()
        .await
        .unwrap();
    assert_eq!(closed.len(), 1);
    let shown = other
        .query("SHOW datafusion.execution.batch_size")
        .await
        .unwrap();
    assert_eq!(strings(&shown, "value"), vec!["8192".to_string()]);
    assert_eq!(
        row_count(&other.query("SELECT * FROM prio").await.unwrap()),
        4
    );

    // DDL works through the query command too (as ADBC's execute does).
    let rows = client
        .query("CREATE TABLE empty_one (x INT)")
        .await
        .unwrap();
    assert_eq!(row_count(&rows), 0);
    let tables = client.query("SHOW TABLES").await.unwrap();
    assert!(strings(&tables, "table_name").contains(&"empty_one".to_string()));

    // EXPLAIN shows the stage DAG.
    let plan = client
        .query("EXPLAIN SELECT l_returnflag, count(*) FROM lineitem GROUP BY 1")
        .await
        .unwrap();
    let text = strings(&plan, "plan").join("\n");
    assert!(
        text.contains("Stage") && text.contains("shuffle") && text.contains("2 tasks"),
        "{text}"
    );
    let _ = plan[0].column(0).len();
    cluster.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn prepared_statements_run() {
    let cluster = TestCluster::start(1).await;
    let mut client = cluster.tpch_client().await;
    let mut prepared = client
        .inner
        .prepare(
            "SELECT n_name FROM nation WHERE n_regionkey = 1 ORDER BY n_name".into(),
            None,
        )
        .await
        .unwrap();
    assert_eq!(prepared.dataset_schema().unwrap().fields().len(), 1);
    let info = prepared.execute().await.unwrap();
    let rows = fetch(&mut client, info).await;
    assert_eq!(strings(&rows, "n_name")[0], "ARGENTINA");
    prepared.close().await.unwrap();

    // With parameters: the parameter schema says what the placeholder is,
    // and the bound row reaches the workers' scan as a filter.
    let mut prepared = client
        .inner
        .prepare(
            "SELECT n_name FROM nation WHERE n_regionkey = ? ORDER BY n_name".into(),
            None,
        )
        .await
        .unwrap();
    let parameters = prepared.parameter_schema().unwrap().clone();
    assert_eq!(parameters.fields().len(), 1, "{parameters:?}");
    assert_eq!(parameters.field(0).name(), "$1");
    for (region, first) in [(1i64, "ARGENTINA"), (3, "FRANCE")] {
        let bound = RecordBatch::try_from_iter([(
            "$1",
            Arc::new(Int64Array::from(vec![region])) as ArrayRef,
        )])
        .unwrap();
        prepared.set_parameters(bound).unwrap();
        let info = prepared.execute().await.unwrap();
        let rows = fetch(&mut client, info).await;
        assert_eq!(strings(&rows, "n_name")[0], first);
    }
    prepared.close().await.unwrap();
    cluster.stop().await;
}

/// A statement's ticket holds the statement: redeemed again, or on another
/// coordinator that never planned it (as behind a load balancer), it gives
/// the same answer, bound parameters included. A write's ticket is not run
/// twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn tickets_are_answered_again_and_by_another_coordinator() {
    let first = TestCluster::start(1).await;
    let second = TestCluster::start(1).await;
    let mut client = first.tpch_client().await;
    let mut other = second.tpch_client().await;

    let info = client
        .inner
        .execute(
            "SELECT n_name FROM nation WHERE n_regionkey = 1 ORDER BY n_name".into(),
            None,
        )
        .await
        .unwrap();
    let here = fetch(&mut client, info.clone()).await;
    assert_eq!(strings(&here, "n_name")[0], "ARGENTINA");
    let again = fetch(&mut client, info.clone()).await;
    assert_eq!(strings(&again, "n_name"), strings(&here, "n_name"));
    let elsewhere = fetch(&mut other, info).await;
    assert_eq!(strings(&elsewhere, "n_name"), strings(&here, "n_name"));

    let mut prepared = client
        .inner
        .prepare(
            "SELECT n_name FROM nation WHERE n_regionkey = ? ORDER BY n_name".into(),
            None,
        )
        .await
        .unwrap();
    let bound =
        RecordBatch::try_from_iter([("$1", Arc::new(Int64Array::from(vec![3i64])) as ArrayRef)])
            .unwrap();
    prepared.set_parameters(bound).unwrap();
    let info = prepared.execute().await.unwrap();
    let elsewhere = fetch(&mut other, info).await;
    assert_eq!(strings(&elsewhere, "n_name")[0], "FRANCE");

    // A write ran when it was planned; its ticket elsewhere says so.
    let dir = tempfile::tempdir().unwrap();
    client
        .update(&format!(
            "CREATE EXTERNAL TABLE written (n INT) STORED AS PARQUET LOCATION '{}/'",
            dir.path().display()
        ))
        .await
        .unwrap();
    let info = client
        .inner
        .execute("INSERT INTO written VALUES (1), (2)".into(), None)
        .await
        .unwrap();
    let ticket = info.endpoint[0].ticket.clone().unwrap();
    let refused = match other.inner.do_get(ticket).await {
        Ok(stream) => stream
            .try_collect::<Vec<_>>()
            .await
            .unwrap_err()
            .to_string(),
        Err(e) => e.to_string(),
    };
    assert!(refused.contains("not run again"), "{refused}");
    let count = client.query("SELECT count(*) FROM written").await.unwrap();
    assert_eq!(
        count[0].column(0).as_primitive::<Int64Type>().value(0),
        2,
        "the rows were written once"
    );
    first.stop().await;
    second.stop().await;
}
