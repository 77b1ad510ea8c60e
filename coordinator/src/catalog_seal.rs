//! Credentials in the shared catalog, sealed. A table whose options hold a
//! credential is written to the catalog log encrypted (AES-256-GCM, a fresh
//! nonce per definition) with a key every coordinator reads from a file
//! (`--catalog-key-file`, a Kubernetes Secret): whoever can read the bucket
//! but not the Secret learns nothing. Without a key such a definition is
//! refused, never written in plain text.
//!
//! Rotation: the key file holds one key per line. The first seals; every
//! one opens. Put a new key first and keep the old one below it: the first
//! coordinator to start with that file seals every definition again with
//! the new key, after which the old line can go.

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// How a sealed definition starts, so that it is told from plain SQL.
const SEALED: &str = "sealed:v1:";
const NONCE_BYTES: usize = 12;

/// The keys definitions are sealed with: the first seals, each opens.
#[derive(Clone)]
pub struct CatalogKey(Vec<Aes256Gcm>);

/// A definition as the catalog keeps it, opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    pub sql: String,
    /// Sealed with a key other than the first: to be sealed again.
    pub stale: bool,
}

impl std::fmt::Debug for CatalogKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CatalogKey(..)")
    }
}

impl CatalogKey {
    /// From a key file's text: one key per line, each 32 bytes, as 64 hex
    /// digits or as base64 (`openssl rand -hex 32`, `openssl rand -base64
    /// 32`); the first seals. Blank lines and `#` comments are skipped.
    pub fn from_text(text: &str) -> Result<Self, String> {
        let mut keys = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bytes = hex(line)
                .or_else(|| STANDARD.decode(line).ok())
                .filter(|b| b.len() == 32)
                .ok_or_else(|| {
                    format!(
                        "line {}: a catalog key is 32 bytes, written as 64 hex digits or in base64",
                        n + 1
                    )
                })?;
            keys.push(Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&bytes)));
        }
        if keys.is_empty() {
            return Err("no catalog key: one per line, 64 hex digits or base64".into());
        }
        Ok(Self(keys))
    }

    /// `sql` sealed for the catalog.
    pub fn seal(&self, sql: &str) -> Result<String, String> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let sealed = self.0[0]
            .encrypt(&nonce, sql.as_bytes())
            .map_err(|_| "cannot seal a catalog definition".to_string())?;
        let mut bytes = nonce.to_vec();
        bytes.extend(sealed);
        Ok(format!("{SEALED}{}", STANDARD.encode(bytes)))
    }

    /// The SQL of a definition as the catalog keeps it, opened if sealed.
    pub fn open(key: Option<&Self>, stored: &str) -> Result<String, String> {
        Self::open_stored(key, stored).map(|opened| opened.sql)
    }

    /// As [`Self::open`], saying whether an older key sealed it.
    pub fn open_stored(key: Option<&Self>, stored: &str) -> Result<Opened, String> {
        let Some(sealed) = stored.strip_prefix(SEALED) else {
            return Ok(Opened {
                sql: stored.to_string(),
                stale: false,
            });
        };
        let key = key.ok_or("it is sealed, and this coordinator has no --catalog-key-file")?;
        let bytes = STANDARD
            .decode(sealed)
            .map_err(|_| "its sealed text is not base64".to_string())?;
        if bytes.len() <= NONCE_BYTES {
            return Err("its sealed text is too short".into());
        }
        let (nonce, sealed) = bytes.split_at(NONCE_BYTES);
        let (index, plain) = key
            .0
            .iter()
            .enumerate()
            .find_map(|(i, k)| Some((i, k.decrypt(Nonce::from_slice(nonce), sealed).ok()?)))
            .ok_or("it was sealed with another key")?;
        let sql = String::from_utf8(plain).map_err(|_| "its sealed text is not UTF-8")?;
        Ok(Opened {
            sql,
            stale: index > 0,
        })
    }
}

fn hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_definitions_open_only_with_their_key() {
        let key = CatalogKey::from_text(&"ab".repeat(32)).unwrap();
        let sql = "CREATE EXTERNAL TABLE t LOCATION 's3://b/' OPTIONS ('aws.secret_access_key' 'hunter2')";
        let sealed = key.seal(sql).unwrap();
        assert!(!sealed.contains("hunter2"));
        assert_ne!(sealed, key.seal(sql).unwrap(), "a fresh nonce each time");
        assert_eq!(CatalogKey::open(Some(&key), &sealed).unwrap(), sql);
        let other = CatalogKey::from_text(&STANDARD.encode([7u8; 32])).unwrap();
        assert!(CatalogKey::open(Some(&other), &sealed).is_err());
        assert!(CatalogKey::open(None, &sealed).is_err());
        assert_eq!(CatalogKey::open(None, "SELECT 1").unwrap(), "SELECT 1");
        assert!(CatalogKey::from_text("too short").is_err());
    }

    #[test]
    fn a_new_key_seals_and_the_old_one_still_opens_until_resealed() {
        let (old, new) = ("ab".repeat(32), "cd".repeat(32));
        let before = CatalogKey::from_text(&old).unwrap();
        let sql =
            "CREATE EXTERNAL TABLE t LOCATION 's3://b/' OPTIONS ('aws.secret_access_key' 'x')";
        let sealed_before = before.seal(sql).unwrap();
        let rotating = CatalogKey::from_text(&format!("# new first\n{new}\n\n{old}\n")).unwrap();
        let opened = CatalogKey::open_stored(Some(&rotating), &sealed_before).unwrap();
        assert_eq!(opened.sql, sql);
        assert!(opened.stale, "sealed with the old key");
        let resealed = rotating.seal(sql).unwrap();
        assert!(
            !CatalogKey::open_stored(Some(&rotating), &resealed)
                .unwrap()
                .stale
        );
        // Once resealed, the new key alone opens it and the old one no longer.
        let after = CatalogKey::from_text(&new).unwrap();
        assert_eq!(CatalogKey::open(Some(&after), &resealed).unwrap(), sql);
        assert!(CatalogKey::open(Some(&before), &resealed).is_err());
        let bad = CatalogKey::from_text(&format!("{new}\nnot a key"))
            .err()
            .unwrap();
        assert!(bad.starts_with("line 2"), "{bad}");
        assert!(CatalogKey::from_text("\n# only a comment\n").is_err());
    }
}
