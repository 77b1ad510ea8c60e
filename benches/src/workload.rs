//! The workloads: TPC-H (all 22 queries) at a scale factor, and the log
//! suite on local files or in S3. A workload says what its queries are and
//! how each engine sees its tables.

use std::path::Path;
use std::sync::Arc;

use object_store::ObjectStore;

/// One query of a workload.
#[derive(Clone, Debug)]
pub struct Query {
    pub name: String,
    pub sql: String,
    /// Whether row order is part of the answer.
    pub ordered: bool,
    /// DuckDB's spelling, where its functions differ (JSON, token search).
    pub duckdb_sql: Option<String>,
}

impl Query {
    pub fn sql_for(&self, engine: &crate::engine::Engine) -> &str {
        match (engine, &self.duckdb_sql) {
            (crate::engine::Engine::DuckDb(_), Some(sql)) => sql,
            _ => &self.sql,
        }
    }
}

/// Logs in an S3 server: where, the store DataFusion reads them through, and
/// the table options (endpoint, keys) Hayate reads them with.
pub struct S3Logs {
    pub url: url::Url,
    pub store: Arc<dyn ObjectStore>,
    pub table_options: Vec<(String, String)>,
}

/// Queries and the statements that make their tables visible to each engine.
#[derive(Clone)]
pub struct Workload {
    /// e.g. `tpch-sf1`, `logs-10M-local`, `logs-10M-s3`.
    pub name: String,
    pub queries: Vec<Query>,
    /// For single-node DataFusion and for Hayate: `CREATE EXTERNAL TABLE`.
    pub datafusion_tables: Vec<String>,
    pub hayate_tables: Vec<String>,
    /// For DuckDB, where it can read the data (local files only).
    pub duckdb_tables: Option<Vec<String>>,
    /// Object stores single-node DataFusion must have registered.
    pub stores: Vec<(url::Url, Arc<dyn ObjectStore>)>,
}

impl Workload {
    /// TPC-H at `sf` under `data` (generated once, `data/tpch-sf<sf>`).
    pub fn tpch(data: &Path, sf: f64) -> anyhow::Result<Self> {
        Self::tpch_split(data, sf, hayate_tpch::MIN_FILES)
    }

    /// TPC-H at `sf`, each large table in at least `min_files` files, so
    /// that `min_files` nodes all get a part of every scan.
    pub fn tpch_split(data: &Path, sf: f64, min_files: usize) -> anyhow::Result<Self> {
        let base = hayate_tpch::generate_split_dir(data, sf, min_files)?;
        let tables = hayate_tpch::create_table_statements(&base);
        // Hayate's catalog is shared by its sessions: another scale
        // factor's tables of the same names go first.
        let hayate_tables = hayate_tpch::TABLES
            .iter()
            .map(|t| format!("DROP TABLE IF EXISTS {t}"))
            .chain(tables.iter().cloned())
            .collect();
        Ok(Self {
            name: format!("tpch-sf{sf}"),
            queries: (1..=22)
                .map(|n| Query {
                    name: format!("q{n}"),
                    sql: hayate_tpch::query(n).to_string(),
                    ordered: hayate_tpch::is_ordered(n),
                    duckdb_sql: None,
                })
                .collect(),
            datafusion_tables: tables,
            hayate_tables,
            duckdb_tables: Some(crate::duckdb::tpch_setup(&base)),
            stores: Vec::new(),
        })
    }

    /// TPC-DS at `sf` under `data` (prepared once, `data/tpcds-sf<sf>-<parts>f`, by
    /// `tpcds/prepare.py`), each table in `parts` files.
    pub fn tpcds(data: &Path, sf: f64, parts: usize) -> anyhow::Result<Self> {
        let dir = data.join(format!("tpcds-sf{sf}-{parts}f"));
        let prepared = hayate_tpcds::prepare(&dir, sf, parts)?;
        let tables = hayate_tpcds::create_table_statements(&prepared.tables_base());
        let hayate_tables = hayate_tpcds::TABLES
            .iter()
            .map(|t| format!("DROP TABLE IF EXISTS {t}"))
            .chain(tables.iter().cloned())
            .collect();
        Ok(Self {
            name: format!("tpcds-sf{sf}"),
            queries: hayate_tpcds::QUERIES
                .map(|n| Query {
                    name: format!("q{n}"),
                    sql: prepared.query(n).to_string(),
                    ordered: prepared.is_ordered(n),
                    duckdb_sql: None,
                })
                .collect(),
            datafusion_tables: tables,
            hayate_tables,
            duckdb_tables: None,
            stores: Vec::new(),
        })
    }

    /// The log suite over the logs at `location` (a local directory or
    /// `s3://bucket/prefix`); `s3` gives the server's store and the table
    /// options Hayate reads it with.
    pub fn logs(name: String, location: &str, s3: Option<S3Logs>) -> Self {
        let queries = hayate_logs::SUITE
            .iter()
            .map(|q| Query {
                name: q.name.to_string(),
                sql: q.sql.to_string(),
                ordered: q.ordered,
                duckdb_sql: None,
            })
            .collect();
        let mut options: Vec<(&str, &str)> = vec![hayate_logs::TIME_COLUMN];
        let (stores, duckdb_tables) = match &s3 {
            Some(s3) => {
                options.extend(
                    s3.table_options
                        .iter()
                        .map(|(k, v)| (k.as_str(), v.as_str())),
                );
                (vec![(s3.url.clone(), Arc::clone(&s3.store))], None)
            }
            None => (Vec::new(), Some(crate::duckdb::logs_setup(location))),
        };
        Self {
            name,
            queries,
            datafusion_tables: vec![hayate_logs::create_table_sql("logs", location, &[])],
            hayate_tables: vec![
                "DROP TABLE IF EXISTS logs".to_string(),
                hayate_logs::create_table_sql("logs", location, &options),
            ],
            duckdb_tables,
            stores,
        }
    }
}
