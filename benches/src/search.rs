//! The log search workload: a rare request id found by `LIKE`, `contains`
//! and `matches`, a token search, and JSON fields of the line found, run
//! before and after `hayate index` builds the search index, so the report
//! shows bytes and GETs of the same search read in full and by index, and
//! the time and size of the index. DataFusion and DuckDB read the same
//! files without an index (DuckDB spells the JSON and token functions its
//! own way).

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use datafusion::arrow::array::AsArray;
use datafusion::prelude::SessionContext;
use hayate_search_index::{IndexSpec, IndexedColumn, index_location};
use object_store::ObjectStore;
use object_store::path::Path;
use serde::Serialize;

use crate::workload::{Query, Workload};

/// What building the index of one location took.
#[derive(Serialize, Clone, Debug)]
pub struct IndexBuild {
    pub location: String,
    pub files: usize,
    pub row_groups: usize,
    pub data_bytes: u64,
    pub index_bytes: u64,
    pub seconds: f64,
}

/// The columns indexed: the free text with 4-grams, the JSON attributes
/// by words only (their random hex ids put nearly every short n-gram in
/// every row group: n-grams would cost much and skip nothing).
pub fn index_spec() -> IndexSpec {
    IndexSpec::new(vec![
        IndexedColumn {
            name: "message".into(),
            ngram: 4,
        },
        IndexedColumn {
            name: "attributes".into(),
            ngram: 0,
        },
    ])
}

/// Builds the index of every file under `prefix` in `store`.
pub async fn build(
    location: &str,
    store: Arc<dyn ObjectStore>,
    prefix: &str,
) -> anyhow::Result<IndexBuild> {
    let started = Instant::now();
    let report = index_location(store, &Path::from(prefix), &index_spec()).await?;
    Ok(IndexBuild {
        location: location.to_string(),
        files: report.files,
        row_groups: report.row_groups,
        data_bytes: report.data_bytes,
        index_bytes: report.index_bytes,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// A request id that occurs once, from the afternoon of 2026-11-05.
pub async fn rare_request_id(logs: &Workload) -> anyhow::Result<String> {
    let ctx = SessionContext::new();
    for (url, store) in &logs.stores {
        ctx.register_object_store(url, Arc::clone(store));
    }
    for sql in &logs.datafusion_tables {
        ctx.sql(sql).await?.collect().await?;
    }
    let batches = ctx
        .sql("SELECT attributes FROM logs WHERE dt = '2026-11-05' AND hour = '14' LIMIT 1")
        .await?
        .collect()
        .await?;
    let text = datafusion::arrow::compute::cast(
        batches
            .first()
            .context("no log line at 2026-11-05 14:00")?
            .column(0),
        &datafusion::arrow::datatypes::DataType::Utf8,
    )?;
    let text = text.as_string::<i32>().value(0);
    let start = text.find("req-").context("no request id")?;
    Ok(text[start..start + 20].to_string())
}

/// The search queries for request id `id` (`req-` and 16 hex digits).
pub fn queries(id: &str) -> Vec<Query> {
    let hex = id.trim_start_matches("req-");
    // (`contains` with the `req-` prefix: the id starts a word there.)
    let query = |name: &str, sql: String, duckdb: Option<String>| Query {
        name: name.to_string(),
        sql,
        ordered: true,
        duckdb_sql: duckdb,
    };
    vec![
        query(
            "rare_id_like",
            format!("SELECT ts, service, status, path FROM logs WHERE attributes LIKE '%{id}%' ORDER BY ts"),
            None,
        ),
        query(
            "rare_id_contains",
            format!("SELECT ts, service, status, path FROM logs WHERE contains(attributes, '{id}') ORDER BY ts"),
            None,
        ),
        query(
            "rare_id_matches",
            format!("SELECT ts, service, status, path FROM logs WHERE matches(attributes, '{hex}') ORDER BY ts"),
            Some(format!(
                "SELECT ts, service, status, path FROM logs WHERE regexp_matches(attributes, '(?i)\\b{hex}\\b') ORDER BY ts"
            )),
        ),
        query(
            "rare_id_json_fields",
            format!(
                "SELECT json_get_str(attributes, 'deploy', 'release') AS release, \
                 json_get_int(attributes, 'request', 'status') AS status FROM logs \
                 WHERE attributes LIKE '%{id}%' ORDER BY 1"
            ),
            Some(format!(
                "SELECT json_extract_string(attributes, '$.deploy.release') AS release, \
                 CAST(json_extract(attributes, '$.request.status') AS BIGINT) AS status FROM logs \
                 WHERE attributes LIKE '%{id}%' ORDER BY 1"
            )),
        ),
        query(
            "tokens_upstream_timeout",
            "SELECT service, count(*) AS lines FROM logs WHERE matches(message, 'upstream AND timeout') \
             GROUP BY service ORDER BY service"
                .to_string(),
            Some(
                "SELECT service, count(*) AS lines FROM logs \
                 WHERE regexp_matches(message, '(?i)\\bupstream\\b') AND regexp_matches(message, '(?i)\\btimeout\\b') \
                 GROUP BY service ORDER BY service"
                    .to_string(),
            ),
        ),
        query(
            "json_error_codes_one_day",
            "SELECT json_get_str(attributes, 'error', 'code') AS code, count(*) AS lines FROM logs \
             WHERE ts >= TIMESTAMP '2026-11-06T00:00:00Z' AND ts < TIMESTAMP '2026-11-07T00:00:00Z' \
               AND json_contains(attributes, 'error') GROUP BY 1 ORDER BY 1"
                .to_string(),
            Some(
                "SELECT json_extract_string(attributes, '$.error.code') AS code, count(*) AS lines FROM logs \
                 WHERE ts >= TIMESTAMPTZ '2026-11-06 00:00:00+00' AND ts < TIMESTAMPTZ '2026-11-07 00:00:00+00' \
                   AND json_exists(attributes, '$.error') GROUP BY 1 ORDER BY 1"
                    .to_string(),
            ),
        ),
    ]
}

/// `logs` with the search queries for `id`, named for the log set and
/// whether it is `indexed` (which relists the table in Hayate so the new
/// sidecars are seen).
pub fn workload(logs: &Workload, id: &str, indexed: bool) -> Workload {
    let name = format!(
        "{}-{}",
        logs.name.replacen("logs", "search", 1),
        if indexed { "indexed" } else { "unindexed" }
    );
    let mut hayate_tables = logs.hayate_tables.clone();
    if indexed {
        hayate_tables.push("REFRESH TABLE logs".into());
    }
    Workload {
        name,
        queries: queries(id),
        datafusion_tables: logs.datafusion_tables.clone(),
        hayate_tables,
        duckdb_tables: logs.duckdb_tables.clone(),
        stores: logs.stores.clone(),
    }
}
