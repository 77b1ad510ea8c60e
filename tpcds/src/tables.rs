//! The TPC-DS tables and how to register them.

pub const TABLES: [&str; 24] = [
    "call_center",
    "catalog_page",
    "catalog_returns",
    "catalog_sales",
    "customer",
    "customer_address",
    "customer_demographics",
    "date_dim",
    "household_demographics",
    "income_band",
    "inventory",
    "item",
    "promotion",
    "reason",
    "ship_mode",
    "store",
    "store_returns",
    "store_sales",
    "time_dim",
    "warehouse",
    "web_page",
    "web_returns",
    "web_sales",
    "web_site",
];

/// `CREATE EXTERNAL TABLE` statements for data under `base` (a directory
/// path or an object store URL) laid out as `base/<table>/*.parquet`.
pub fn create_table_statements(base: &str) -> Vec<String> {
    hayate_tpch::parquet_table_statements(base, &TABLES)
}
