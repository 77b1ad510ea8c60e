//! Flags for the cluster secret, TLS and sign-in. Secrets are read from
//! files or the environment, never from a flag's value, so that they do not
//! show in `ps` or shell history.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use hayate_coordinator::AuthConfig;
use hayate_coordinator::auth::Users;
use hayate_protocol::ClusterSecret;
use hayate_protocol::transport::{Tls, TlsFiles};

use crate::client::Login;

/// What coordinator and workers share: the cluster secret and TLS files.
#[derive(Args)]
pub struct ClusterArgs {
    /// File holding the cluster's shared secret; the `HAYATE_CLUSTER_SECRET`
    /// variable may hold it instead. Coordinator and workers must agree.
    #[arg(long, env = "HAYATE_CLUSTER_SECRET_FILE")]
    cluster_secret_file: Option<PathBuf>,
    /// PEM certificate (chain) this process serves TLS with.
    #[arg(long, env = "HAYATE_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, env = "HAYATE_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// PEM CA certificate that signed the other processes' certificates.
    #[arg(long, env = "HAYATE_TLS_CA")]
    tls_ca: Option<PathBuf>,
}

impl ClusterArgs {
    pub fn secret(&self) -> anyhow::Result<ClusterSecret> {
        if let Some(path) = &self.cluster_secret_file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read cluster secret file {}", path.display()))?;
            anyhow::ensure!(
                !text.trim().is_empty(),
                "cluster secret file {} is empty",
                path.display()
            );
            return Ok(ClusterSecret::new(&text));
        }
        Ok(ClusterSecret::new(
            &std::env::var("HAYATE_CLUSTER_SECRET").unwrap_or_default(),
        ))
    }

    pub fn tls(&self) -> anyhow::Result<Tls> {
        Ok(Tls::load(&TlsFiles {
            cert: self.tls_cert.clone(),
            key: self.tls_key.clone(),
            ca: self.tls_ca.clone(),
        })?)
    }
}

/// Who may sign in to the coordinator.
#[derive(Args)]
pub struct AuthArgs {
    /// File of `user:<argon2 hash>` lines (see `hayate hash-password`);
    /// `HAYATE_USERS` may hold the same lines instead. With users, every
    /// client must sign in.
    #[arg(long, env = "HAYATE_USERS_FILE")]
    users_file: Option<PathBuf>,
    /// How long a sign-in's token lasts.
    #[arg(long, env = "HAYATE_TOKEN_TTL_SECS", default_value_t = 3600)]
    token_ttl_secs: u64,
}

impl AuthArgs {
    pub fn config(&self) -> anyhow::Result<Option<AuthConfig>> {
        let users = match (&self.users_file, std::env::var("HAYATE_USERS")) {
            (Some(path), _) => Users::load(path)?,
            (None, Ok(text)) if !text.trim().is_empty() => Users::parse(&text)?,
            _ => return Ok(None),
        };
        Ok(Some(AuthConfig {
            users,
            token_ttl: Duration::from_secs(self.token_ttl_secs),
        }))
    }
}

/// How the SQL client reaches and signs in to a coordinator.
#[derive(Args)]
pub struct ClientArgs {
    /// User to sign in as; the password comes from `HAYATE_PASSWORD` or a
    /// prompt.
    #[arg(long, short = 'u', env = "HAYATE_USER")]
    user: Option<String>,
    /// PEM CA certificate to verify an https:// coordinator with (default:
    /// the public roots).
    #[arg(long, env = "HAYATE_TLS_CA")]
    tls_ca: Option<PathBuf>,
}

impl ClientArgs {
    pub fn login(&self) -> anyhow::Result<Option<Login>> {
        let Some(user) = &self.user else {
            return Ok(None);
        };
        let password = match std::env::var("HAYATE_PASSWORD") {
            Ok(p) => p,
            Err(_) => rpassword::prompt_password(format!("Password for {user}: "))
                .context("cannot read the password (set HAYATE_PASSWORD when not on a terminal)")?,
        };
        Ok(Some(Login {
            user: user.clone(),
            password,
        }))
    }

    pub fn tls(&self) -> anyhow::Result<Tls> {
        Ok(Tls::load(&TlsFiles {
            ca: self.tls_ca.clone(),
            ..Default::default()
        })?)
    }
}

/// Reads a password (prompt on a terminal, else a line of stdin) and prints
/// its Argon2id hash for a users file.
pub fn hash_password() -> anyhow::Result<()> {
    use std::io::IsTerminal;
    let password = if std::io::stdin().is_terminal() {
        let first = rpassword::prompt_password("Password: ")?;
        let again = rpassword::prompt_password("Again: ")?;
        anyhow::ensure!(first == again, "the passwords differ");
        first
    } else {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line)?;
        line.trim_end_matches(['\r', '\n']).to_string()
    };
    anyhow::ensure!(!password.is_empty(), "empty password");
    let hash = hayate_coordinator::auth::hash_password(&password).map_err(anyhow::Error::msg)?;
    println!("{hash}");
    Ok(())
}
