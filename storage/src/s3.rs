//! Building an S3 client for one bucket from `aws.*` options.
//!
//! Precedence, highest first: the options (a table's `OPTIONS`, then the
//! coordinator's defaults), a profile named by `aws.profile`, the `AWS_*`
//! environment variables, the `AWS_PROFILE` (or default) profile, and then
//! `object_store`'s own chain: web identity (IRSA on Kubernetes), container
//! credentials and instance metadata.

use std::str::FromStr;

use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey};

use crate::error::StorageError;
use crate::options::{StoreOptions, flag};
use crate::profile::{Profile, load_profile};

pub fn build_s3(bucket: &str, options: &StoreOptions) -> Result<AmazonS3, StorageError> {
    let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);

    let named = options.get("aws.profile");
    let env_has_keys = std::env::var_os("AWS_ACCESS_KEY_ID").is_some();
    let profile_name = named
        .cloned()
        .or_else(|| std::env::var("AWS_PROFILE").ok())
        .unwrap_or_else(|| "default".to_string());
    match load_profile(&profile_name) {
        Some(profile) if named.is_some() || !env_has_keys => {
            builder = apply_profile(builder, profile);
        }
        Some(_) => {}
        None if named.is_some() => {
            return Err(StorageError::Build {
                url: format!("s3://{bucket}"),
                reason: format!("AWS profile '{profile_name}' is not in the shared config files"),
            });
        }
        None => {}
    }

    for (key, value) in options {
        let Some(name) = key.strip_prefix("aws.") else {
            continue;
        };
        match name {
            "profile" => {}
            "allow_http" | "virtual_hosted_style_request" | "skip_signature" => {
                let on = flag(options, key)?.unwrap_or(false);
                let config = AmazonS3ConfigKey::from_str(name)
                    .map_err(|_| StorageError::UnknownOption(key.clone()))?;
                builder = builder.with_config(config, on.to_string());
            }
            _ => {
                let config = AmazonS3ConfigKey::from_str(name)
                    .map_err(|_| StorageError::UnknownOption(key.clone()))?;
                builder = builder.with_config(config, value);
            }
        }
    }
    // A plain-HTTP endpoint (a local S3-compatible server) says what it
    // wants; requiring a second option to allow it only trips people up.
    if flag(options, "aws.allow_http")?.is_none()
        && builder
            .get_config_value(&AmazonS3ConfigKey::Endpoint)
            .is_some_and(|e| e.starts_with("http://"))
    {
        builder = builder.with_allow_http(true);
    }
    builder.build().map_err(|e| StorageError::Build {
        url: format!("s3://{bucket}"),
        reason: e.to_string(),
    })
}

fn apply_profile(mut builder: AmazonS3Builder, profile: Profile) -> AmazonS3Builder {
    if let (Some(key), Some(secret)) = (profile.access_key_id, profile.secret_access_key) {
        builder = builder
            .with_access_key_id(key)
            .with_secret_access_key(secret);
        if let Some(token) = profile.session_token {
            builder = builder.with_token(token);
        }
    }
    if let Some(region) = profile.region
        && std::env::var_os("AWS_REGION").is_none()
        && std::env::var_os("AWS_DEFAULT_REGION").is_none()
    {
        builder = builder.with_region(region);
    }
    if let Some(endpoint) = profile.endpoint_url
        && std::env::var_os("AWS_ENDPOINT").is_none()
        && std::env::var_os("AWS_ENDPOINT_URL").is_none()
    {
        builder = builder.with_endpoint(endpoint);
    }
    builder
}
