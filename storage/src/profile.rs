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

/// Reads `name` from the shared files (`AWS_SHARED_CREDENTIALS_FILE` and
/// `AWS_CONFIG_FILE`, by default under `~/.aws`); `None` when neither file
/// names it.
pub fn load_profile(name: &str) -> Option<Profile> {
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let credentials = std::env::var_os("AWS_SHARED_CREDENTIALS_FILE")
        .map(PathBuf::from)
        .or_else(|| home.as_ref().map(|h| h.join(".aws/credentials")));
    let config = std::env::var_os("AWS_CONFIG_FILE")
        .map(PathBuf::from)
        .or_else(|| home.as_ref().map(|h| h.join(".aws/config")));
    load_profile_from(credentials, config, name)
}

fn load_profile_from(
    credentials: Option<PathBuf>,
    config: Option<PathBuf>,
    name: &str,
) -> Option<Profile> {
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

#[cfg(test)]
mod tests {
    use super::load_profile_from;

    #[test]
    fn keys_from_credentials_and_region_from_config() {
        let dir = tempfile::tempdir().expect("dir");
        let credentials = dir.path().join("credentials");
        let config = dir.path().join("config");
        std::fs::write(&credentials, "[default]\naws_access_key_id = A\naws_secret_access_key = B\n\n[ci]\naws_access_key_id = C\naws_secret_access_key = D\naws_session_token = T\n").expect("write");
        std::fs::write(
            &config,
            "[profile ci]\nregion = eu-west-1\nendpoint_url = http://127.0.0.1:9000\n",
        )
        .expect("write");
        let ci = load_profile_from(Some(credentials.clone()), Some(config.clone()), "ci")
            .expect("ci profile");
        assert_eq!(ci.access_key_id.as_deref(), Some("C"));
        assert_eq!(ci.secret_access_key.as_deref(), Some("D"));
        assert_eq!(ci.session_token.as_deref(), Some("T"));
        assert_eq!(ci.region.as_deref(), Some("eu-west-1"));
        assert_eq!(ci.endpoint_url.as_deref(), Some("http://127.0.0.1:9000"));
        let default = load_profile_from(Some(credentials.clone()), Some(config.clone()), "default")
            .expect("default");
        assert_eq!(default.access_key_id.as_deref(), Some("A"));
        assert!(load_profile_from(Some(credentials), Some(config), "missing").is_none());
    }
}
