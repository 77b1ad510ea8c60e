//! Who may query the coordinator.
//!
//! Users and their Argon2 password hashes (PHC strings, as `hayate
//! hash-password` prints them) come from a file or the environment, never
//! from the command line. A client signs in with the Flight handshake and
//! HTTP Basic credentials and gets a bearer token back, which it sends on
//! every later call; a token expires after a configured time and the client
//! signs in again. Passwords are checked once per sign-in, not per call.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordVerifier};
use base64::Engine;
use parking_lot::Mutex;
use tonic::Status;

#[derive(Debug, thiserror::Error)]
pub enum AuthConfigError {
    #[error(
        "users line {line}: expected `name:<argon2 PHC hash>` (make one with `hayate hash-password`)"
    )]
    Malformed { line: usize },
    #[error("users line {line}: the hash for {user:?} is not an Argon2 PHC string: {reason}")]
    BadHash {
        line: usize,
        user: String,
        reason: String,
    },
    #[error("no users defined: authentication would let nobody in")]
    Empty,
    #[error("cannot read users file {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
}

/// User names and their password hashes.
#[derive(Clone)]
pub struct Users {
    hashes: HashMap<String, String>,
}

impl std::fmt::Debug for Users {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.hashes.keys().collect();
        names.sort();
        f.debug_struct("Users").field("names", &names).finish()
    }
}

impl Users {
    /// Parses `name:hash` entries, one per line (or separated by spaces);
    /// blank lines and `#` comments are skipped.
    pub fn parse(text: &str) -> Result<Self, AuthConfigError> {
        let mut hashes = HashMap::new();
        let entries = text.lines().enumerate().flat_map(|(i, line)| {
            let line = line.split('#').next().unwrap_or("");
            line.split_whitespace().map(move |entry| (i + 1, entry))
        });
        for (line, entry) in entries {
            let (user, hash) = entry
                .split_once(':')
                .filter(|(u, h)| !u.is_empty() && !h.is_empty())
                .ok_or(AuthConfigError::Malformed { line })?;
            PasswordHash::new(hash).map_err(|e| AuthConfigError::BadHash {
                line,
                user: user.to_string(),
                reason: e.to_string(),
            })?;
            hashes.insert(user.to_string(), hash.to_string());
        }
        if hashes.is_empty() {
            return Err(AuthConfigError::Empty);
        }
        Ok(Self { hashes })
    }

    pub fn load(path: &std::path::Path) -> Result<Self, AuthConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| AuthConfigError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text)
    }

    fn verify(&self, user: &str, password: &str) -> bool {
        let Some(hash) = self.hashes.get(user) else {
            return false;
        };
        PasswordHash::new(hash).is_ok_and(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
    }
}

/// Signs users in and checks their tokens.
pub struct Authenticator {
    users: Users,
    token_ttl: Duration,
    /// Token → (user, when it expires).
    tokens: Mutex<HashMap<String, (String, Instant)>>,
}

impl Authenticator {
    pub fn new(users: Users, token_ttl: Duration) -> Self {
        Self {
            users,
            token_ttl,
            tokens: Mutex::new(HashMap::new()),
        }
    }

    /// Checks HTTP Basic credentials (the value of an `authorization`
    /// header) and returns a new bearer token.
    pub fn sign_in(&self, authorization: Option<&str>) -> Result<String, Status> {
        let encoded = authorization
            .and_then(|v| v.strip_prefix("Basic "))
            .ok_or_else(|| {
                Status::unauthenticated("sign in with a user name and password (HTTP Basic)")
            })?;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| Status::unauthenticated("malformed Basic credentials"))?;
        let (user, password) = decoded
            .split_once(':')
            .ok_or_else(|| Status::unauthenticated("malformed Basic credentials"))?;
        if !self.users.verify(user, password) {
            tracing::warn!(user, "sign-in refused");
            return Err(Status::unauthenticated("wrong user name or password"));
        }
        let token = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let mut tokens = self.tokens.lock();
        let now = Instant::now();
        tokens.retain(|_, (_, expires)| *expires > now);
        tokens.insert(token.clone(), (user.to_string(), now + self.token_ttl));
        tracing::info!(user, "signed in");
        Ok(token)
    }

    /// The user a call's `authorization: Bearer` header belongs to.
    pub fn user_for(&self, authorization: Option<&str>) -> Result<String, Status> {
        let token = authorization
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| {
                Status::unauthenticated(
                    "authentication required: sign in with the Flight handshake (user name and password)",
                )
            })?;
        let tokens = self.tokens.lock();
        match tokens.get(token.trim()) {
            Some((user, expires)) if *expires > Instant::now() => Ok(user.clone()),
            Some(_) => Err(Status::unauthenticated("token expired: sign in again")),
            None => Err(Status::unauthenticated("unknown token: sign in again")),
        }
    }
}

/// An Argon2id PHC hash of `password`, for a users file.
pub fn hash_password(password: &str) -> Result<String, String> {
    use argon2::password_hash::{PasswordHasher, SaltString, rand_core::OsRng};
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(user: &str, password: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"))
        )
    }

    #[test]
    fn tokens_are_issued_for_the_right_password_and_expire() {
        let users = Users::parse(&format!(
            "# analysts\nalice:{}\n",
            hash_password("wonderland").unwrap()
        ))
        .unwrap();
        let auth = Authenticator::new(users, Duration::from_millis(200));
        assert!(auth.sign_in(Some(&basic("alice", "guess"))).is_err());
        assert!(auth.sign_in(Some(&basic("mallory", "wonderland"))).is_err());
        let token = auth.sign_in(Some(&basic("alice", "wonderland"))).unwrap();
        let bearer = format!("Bearer {token}");
        assert_eq!(auth.user_for(Some(&bearer)).unwrap(), "alice");
        assert!(auth.user_for(Some("Bearer forged")).is_err());
        std::thread::sleep(Duration::from_millis(250));
        let expired = auth.user_for(Some(&bearer)).unwrap_err();
        assert!(expired.message().contains("expired"), "{expired}");
    }

    #[test]
    fn malformed_users_are_refused_with_the_line() {
        let err = Users::parse("alice\n").err().unwrap().to_string();
        assert!(err.contains("line 1"), "{err}");
        let err = Users::parse("bob:plaintext").err().unwrap().to_string();
        assert!(err.contains("bob"), "{err}");
        assert!(Users::parse("# nobody\n").is_err());
    }
}
