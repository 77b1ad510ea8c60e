//! Storage configuration errors. They never carry option values: a value
//! may be a secret.

use datafusion::error::DataFusionError;

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("unknown object store option '{0}' (S3 options: {known})", known = crate::options::KNOWN_S3_KEYS.join(", "))]
    UnknownOption(String),
    #[error("invalid value for object store option '{0}'")]
    InvalidValue(String),
    #[error("no object store for '{0}': Hayate reads file:// and s3:// locations")]
    UnsupportedScheme(String),
    #[error("cannot configure the object store for '{url}': {reason}")]
    Build { url: String, reason: String },
}

impl From<StorageError> for DataFusionError {
    fn from(e: StorageError) -> Self {
        DataFusionError::Configuration(e.to_string())
    }
}
