//! The eight TPC-H tables and how to register them.

pub const TABLES: [&str; 8] = [
    "nation", "region", "part", "supplier", "partsupp", "customer", "orders", "lineitem",
];

/// `CREATE EXTERNAL TABLE` statements for data under `base` (a directory
/// path or an object store URL) laid out as `base/<table>/*.parquet`.
pub fn create_table_statements(base: &str) -> Vec<String> {
    parquet_table_statements(base, &TABLES)
}

/// `CREATE EXTERNAL TABLE` statements for `tables` under `base`, each a
/// folder of Parquet files (`base/<table>/*.parquet`).
pub fn parquet_table_statements(base: &str, tables: &[&str]) -> Vec<String> {
    let base = base.trim_end_matches('/');
    tables
        .iter()
        .map(|t| {
            format!(
                "CREATE EXTERNAL TABLE IF NOT EXISTS {t} STORED AS PARQUET LOCATION '{base}/{t}/'"
            )
        })
        .collect()
}
