//! What Hayate tells Flight SQL clients about itself: its capabilities
//! (`GetSqlInfo`), the SQL types it has (`GetXdbcTypeInfo`, which JDBC's
//! `getTypeInfo` and tools like DBeaver read), and key constraints. Hayate's
//! tables declare no primary or foreign keys, so the key calls answer with
//! the right columns and no rows instead of an error a tool would show.

use std::sync::Arc;

use arrow_flight::sql::metadata::{
    SqlInfoData, SqlInfoDataBuilder, XdbcTypeInfo, XdbcTypeInfoData, XdbcTypeInfoDataBuilder,
};
use arrow_flight::sql::{
    Nullable, Searchable, SqlInfo, SqlSupportedTransaction, XdbcDataType, XdbcDatetimeSubcode,
};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};

/// Hayate's answers to `GetSqlInfo`.
pub fn sql_info() -> SqlInfoData {
    let mut info = SqlInfoDataBuilder::new();
    info.append(SqlInfo::FlightSqlServerName, "Hayate");
    info.append(SqlInfo::FlightSqlServerVersion, env!("CARGO_PKG_VERSION"));
    info.append(SqlInfo::FlightSqlServerArrowVersion, "59");
    info.append(SqlInfo::FlightSqlServerReadOnly, false);
    info.append(SqlInfo::FlightSqlServerSql, true);
    info.append(SqlInfo::FlightSqlServerSubstrait, false);
    info.append(
        SqlInfo::FlightSqlServerTransaction,
        SqlSupportedTransaction::None as i32,
    );
    // `CancelFlightInfo` stops a query on every worker.
    info.append(SqlInfo::FlightSqlServerCancel, true);
    info.append(SqlInfo::SqlIdentifierQuoteChar, "\"");
    info.append(SqlInfo::SqlDdlCatalog, false);
    info.append(SqlInfo::SqlDdlSchema, true);
    info.append(SqlInfo::SqlDdlTable, true);
    info.append(SqlInfo::SqlTransactionsSupported, false);
    info.append(SqlInfo::SqlSupportsColumnAliasing, true);
    info.append(SqlInfo::SqlNullPlusNullIsNull, true);
    info.build().expect("static SQL info is well-formed")
}

/// The SQL types a statement can name, as `GetXdbcTypeInfo` lists them.
pub fn xdbc_types() -> XdbcTypeInfoData {
    use XdbcDataType::*;
    let mut types = XdbcTypeInfoDataBuilder::new();
    for (name, data_type, size, quoted, subcode) in [
        ("BOOLEAN", XdbcBit, Some(1), false, None),
        ("TINYINT", XdbcTinyint, Some(3), false, None),
        ("SMALLINT", XdbcSmallint, Some(5), false, None),
        ("INTEGER", XdbcInteger, Some(10), false, None),
        ("BIGINT", XdbcBigint, Some(19), false, None),
        ("REAL", XdbcReal, Some(7), false, None),
        ("DOUBLE", XdbcDouble, Some(15), false, None),
        ("DECIMAL", XdbcDecimal, Some(38), false, None),
        ("VARCHAR", XdbcVarchar, None, true, None),
        ("BYTEA", XdbcVarbinary, None, true, None),
        ("DATE", XdbcDate, Some(10), true, None),
        (
            "TIME",
            XdbcTime,
            Some(18),
            true,
            Some(XdbcDatetimeSubcode::XdbcSubcodeTime),
        ),
        (
            "TIMESTAMP",
            XdbcTimestamp,
            Some(29),
            true,
            Some(XdbcDatetimeSubcode::XdbcSubcodeTimestamp),
        ),
        ("INTERVAL", XdbcInterval, None, true, None),
    ] {
        let numeric = matches!(
            data_type,
            XdbcTinyint
                | XdbcSmallint
                | XdbcInteger
                | XdbcBigint
                | XdbcReal
                | XdbcDouble
                | XdbcDecimal
        );
        // Literals of these types are written as quoted strings.
        let quote = quoted.then(|| "'".to_string());
        types.append(XdbcTypeInfo {
            type_name: name.to_string(),
            data_type,
            column_size: size,
            literal_prefix: quote.clone(),
            literal_suffix: quote,
            create_params: (name == "DECIMAL")
                .then(|| vec!["precision".to_string(), "scale".to_string()]),
            nullable: Nullable::NullabilityNullable,
            case_sensitive: name == "VARCHAR",
            searchable: if name == "VARCHAR" {
                Searchable::Full
            } else {
                Searchable::Basic
            },
            unsigned_attribute: numeric.then_some(false),
            fixed_prec_scale: false,
            auto_increment: numeric.then_some(false),
            local_type_name: Some(name.to_string()),
            minimum_scale: (name == "DECIMAL").then_some(0),
            maximum_scale: (name == "DECIMAL").then_some(38),
            sql_data_type: data_type,
            datetime_subcode: subcode,
            num_prec_radix: numeric.then_some(10),
            interval_precision: None,
        });
    }
    types.build().expect("static type info is well-formed")
}

/// The columns of a `GetPrimaryKeys` answer.
pub fn primary_keys_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("catalog_name", DataType::Utf8, true),
        Field::new("db_schema_name", DataType::Utf8, true),
        Field::new("table_name", DataType::Utf8, false),
        Field::new("column_name", DataType::Utf8, false),
        Field::new("key_name", DataType::Utf8, true),
        Field::new("key_sequence", DataType::Int32, false),
    ]))
}

/// The columns of a `GetExportedKeys`, `GetImportedKeys` or
/// `GetCrossReference` answer.
pub fn foreign_keys_schema() -> SchemaRef {
    let text = |name: &str, nullable| Field::new(name, DataType::Utf8, nullable);
    Arc::new(Schema::new(vec![
        text("pk_catalog_name", true),
        text("pk_db_schema_name", true),
        text("pk_table_name", false),
        text("pk_column_name", false),
        text("fk_catalog_name", true),
        text("fk_db_schema_name", true),
        text("fk_table_name", false),
        text("fk_column_name", false),
        Field::new("key_sequence", DataType::Int32, false),
        text("fk_key_name", true),
        text("pk_key_name", true),
        Field::new("update_rule", DataType::UInt8, false),
        Field::new("delete_rule", DataType::UInt8, false),
    ]))
}
