//! AWS shared config and credentials files (`~/.aws/credentials`,
//! `~/.aws/config`), the one link of the standard credential chain that
//! `object_store` does not read itself. Environment variables, web identity
//! (IRSA), container credentials and instance metadata come from
//! `object_store`'s own chain.

use std::path::PathBuf;

use ini::Ini;

/// What a named profile sets.
#[derive(Default, Debug)]
pub struct Profile {
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub session_token: Option<String>,
    pub region: Option<String>,
    pub endpoint_url: Option<String>,
}

/// Reads `name` from the shared files; `None` when neither file names it.
pub fn load_profile(name: &str) -> Option<Profile> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let credentials = std::env::var_os("AWS_SHARED_CREDENTIALS_FILE")
        .map(PathBuf::from)
        .or_else(|| home.as_ref().map(|h| h.join(".aws/credentials")));
    let config = std::env::var_os("AWS_CONFIG_FILE")
        .map(PathBuf::from)
        .or_else(|| home.as_ref().map(|h| h.join(".aws/config")));
    let mut profile = Profile::default();
    let mut found = false;
    if let Some(ini) = credentials.and_then(|p| Ini::load_from_file(p).ok())
        && let Some(section) = ini.section(Some(name))
    {
        found = true;
        profile.access_key_id = section.get("aws_access_key_id").map(str::to_string);
        profile.secret_access_key = section.get("aws_secret_access_key").map(str::to_string);
        profile.session_token = section.get("aws_session_token").map(str::to_string);
    }
    // In the config file every profile but "default" is "[profile name]".
    let config_section = if name == "default" {
        name.to_string()
    } else {
        format!("profile {name}")
    };
    if let Some(ini) = config.and_then(|p| Ini::load_from_file(p).ok())
        && let Some(section) = ini.section(Some(config_section))
    {
        found = true;
        profile.region = section.get("region").map(str::to_string);
        profile.endpoint_url = section.get("endpoint_url").map(str::to_string);
        if profile.access_key_id.is_none() {
            profile.access_key_id = section.get("aws_access_key_id").map(str::to_string);
            profile.secret_access_key = section.get("aws_secret_access_key").map(str::to_string);
            profile.session_token = section.get("aws_session_token").map(str::to_string);
        }
    }
    found.then_some(profile)
}
