//! Credentials in the shared catalog, sealed. A table whose options hold a
//! credential is written to the catalog log encrypted (AES-256-GCM, a fresh
//! nonce per definition) with a key every coordinator reads from a file
//! (`--catalog-key-file`, a Kubernetes Secret): whoever can read the bucket
//! but not the Secret learns nothing. Without a key such a definition is
//! refused, never written in plain text.

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// How a sealed definition starts, so that it is told from plain SQL.
const SEALED: &str = "sealed:v1:";
const NONCE_BYTES: usize = 12;

/// The key definitions are sealed with.
#[derive(Clone)]
pub struct CatalogKey(Aes256Gcm);

impl std::fmt::Debug for CatalogKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CatalogKey(..)")
    }
}

impl CatalogKey {
    /// From a key file's text: 32 bytes, as 64 hex digits or as base64
    /// (`openssl rand -hex 32`, `openssl rand -base64 32`).
    pub fn from_text(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let bytes = hex(text)
            .or_else(|| STANDARD.decode(text).ok())
            .filter(|b| b.len() == 32)
            .ok_or("a catalog key is 32 bytes, written as 64 hex digits or in base64")?;
        Ok(Self(Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&bytes))))
    }

    /// `sql` sealed for the catalog.
    pub fn seal(&self, sql: &str) -> Result<String, String> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let sealed = self
            .0
            .encrypt(&nonce, sql.as_bytes())
            .map_err(|_| "cannot seal a catalog definition".to_string())?;
        let mut bytes = nonce.to_vec();
        bytes.extend(sealed);
        Ok(format!("{SEALED}{}", STANDARD.encode(bytes)))
    }

    /// The SQL of a definition as the catalog keeps it, opened if sealed.
    pub fn open(key: Option<&Self>, stored: &str) -> Result<String, String> {
        let Some(sealed) = stored.strip_prefix(SEALED) else {
            return Ok(stored.to_string());
        };
        let key = key.ok_or("it is sealed, and this coordinator has no --catalog-key-file")?;
        let bytes = STANDARD
            .decode(sealed)
            .map_err(|_| "its sealed text is not base64".to_string())?;
        if bytes.len() <= NONCE_BYTES {
            return Err("its sealed text is too short".into());
        }
        let (nonce, sealed) = bytes.split_at(NONCE_BYTES);
        let plain = key
            .0
            .decrypt(Nonce::from_slice(nonce), sealed)
            .map_err(|_| "it was sealed with another key".to_string())?;
        String::from_utf8(plain).map_err(|_| "its sealed text is not UTF-8".to_string())
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
}
