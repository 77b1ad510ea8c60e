//! Object-storage flags shared by `hayate coordinator` and `hayate local`.
//! Credentials are never flags: they come from the standard AWS chain
//! (`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, `AWS_PROFILE`, web
//! identity, instance metadata) or a table's `OPTIONS`.

use std::sync::Arc;
use std::time::Duration;

use datafusion::execution::object_store::ObjectStoreRegistry;
use hayate_storage::StoreRegistry;
use object_store::ObjectStore;
use object_store::local::LocalFileSystem;

use clap::Args;
use hayate_coordinator::StorageConfig;
use hayate_storage::StoreOptions;

#[derive(Args, Clone)]
pub struct StorageArgs {
    /// S3 endpoint for S3-compatible servers, e.g. http://127.0.0.1:8333
    /// (default: AWS_ENDPOINT, else AWS itself).
    #[arg(long, env = "HAYATE_S3_ENDPOINT")]
    s3_endpoint: Option<String>,
    /// S3 region (default: AWS_REGION, else us-east-1).
    #[arg(long, env = "HAYATE_S3_REGION")]
    s3_region: Option<String>,
    /// Allow plain HTTP to the endpoint (implied by an http:// endpoint).
    #[arg(long, env = "HAYATE_S3_ALLOW_HTTP")]
    s3_allow_http: bool,
    /// Address buckets as bucket.endpoint (virtual-hosted style) instead of
    /// endpoint/bucket (path style, the default, which every S3-compatible
    /// server understands).
    #[arg(long, env = "HAYATE_S3_VIRTUAL_HOSTED_STYLE")]
    s3_virtual_hosted_style: bool,
    /// Seconds a table's file listing is reused before it is listed again
    /// (`REFRESH TABLE t` forgets it at once).
    #[arg(long, env = "HAYATE_LISTING_CACHE_TTL_SECS", default_value_t = 30)]
    listing_cache_ttl_secs: u64,
    /// Seconds after which a query lists a table's newest partition again
    /// (only it, with one LIST from where the last listing ended), so files
    /// a shipper adds show up without `REFRESH TABLE`; 0 looks every query.
    #[arg(long, env = "HAYATE_FRESH_LISTING_SECS", default_value_t = 2)]
    fresh_listing_secs: u64,
}

impl StorageArgs {
    pub fn config(&self) -> StorageConfig {
        let mut defaults = StoreOptions::new();
        if let Some(endpoint) = &self.s3_endpoint {
            defaults.insert("aws.endpoint".into(), endpoint.clone());
        }
        if let Some(region) = &self.s3_region {
            defaults.insert("aws.region".into(), region.clone());
        }
        if self.s3_allow_http {
            defaults.insert("aws.allow_http".into(), "true".into());
        }
        if self.s3_virtual_hosted_style {
            defaults.insert("aws.virtual_hosted_style_request".into(), "true".into());
        }
        StorageConfig {
            defaults,
            listing_cache_ttl: Duration::from_secs(self.listing_cache_ttl_secs),
            fresh_listing_interval: Duration::from_secs(self.fresh_listing_secs),
        }
    }
}

impl StorageArgs {
    /// The store and key prefix for an output location: an `s3://bucket/prefix`
    /// URL (with these flags and the AWS credential chain), else a local
    /// directory, created if missing.
    pub fn output_store(&self, out: &str) -> anyhow::Result<(Arc<dyn ObjectStore>, String)> {
        match url::Url::parse(out) {
            Ok(url) if url.scheme() == "s3" => {
                let stores = StoreRegistry::new(self.config().defaults);
                Ok((
                    stores.get_store(&url)?,
                    url.path().trim_matches('/').to_string(),
                ))
            }
            _ => {
                std::fs::create_dir_all(out)?;
                Ok((
                    Arc::new(LocalFileSystem::new_with_prefix(out)?),
                    String::new(),
                ))
            }
        }
    }
}
