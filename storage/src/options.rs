//! The options of one object store, as `aws.*` keys (the names
//! `datafusion-cli` uses), so that coordinator defaults, a table's
//! `OPTIONS (...)` and what a task carries to a worker are one shape.

use std::collections::{BTreeMap, HashMap};

use crate::error::StorageError;

/// Option keys, sorted: equal options give equal stores.
pub type StoreOptions = BTreeMap<String, String>;

/// The S3 options a table or the coordinator may set.
pub const KNOWN_S3_KEYS: &[&str] = &[
    "aws.access_key_id",
    "aws.secret_access_key",
    "aws.session_token",
    "aws.region",
    "aws.endpoint",
    "aws.allow_http",
    "aws.virtual_hosted_style_request",
    "aws.skip_signature",
    "aws.profile",
];

/// Moves the object-store options (`aws.*`) out of a table's `OPTIONS`,
/// leaving the format options for DataFusion. Unknown `aws.*` keys are an
/// error, not silently ignored.
pub fn split_store_options(
    options: &mut HashMap<String, String>,
) -> Result<StoreOptions, StorageError> {
    let keys: Vec<String> = options
        .keys()
        .filter(|k| k.to_ascii_lowercase().starts_with("aws."))
        .cloned()
        .collect();
    let mut store = StoreOptions::new();
    for key in keys {
        let value = options.remove(&key).unwrap_or_default();
        let lower = key.to_ascii_lowercase();
        if !KNOWN_S3_KEYS.contains(&lower.as_str()) {
            return Err(StorageError::UnknownOption(key));
        }
        store.insert(lower, value);
    }
    Ok(store)
}

pub(crate) fn flag(options: &StoreOptions, key: &str) -> Result<Option<bool>, StorageError> {
    match options.get(key).map(|v| v.to_ascii_lowercase()) {
        None => Ok(None),
        Some(v) if v == "true" || v == "1" => Ok(Some(true)),
        Some(v) if v == "false" || v == "0" => Ok(Some(false)),
        Some(_) => Err(StorageError::InvalidValue(key.to_string())),
    }
}
