//! Client sessions. A Flight SQL client names its session with the
//! `x-hayate-session` header or the `hayate_session` cookie (which the
//! coordinator sets on its answers, so cookie-aware clients keep it). A
//! request with neither gets a fresh session that lives for that statement.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use datafusion::prelude::SessionContext;
use parking_lot::Mutex;
use tonic::metadata::MetadataMap;

use crate::catalog::Catalog;

pub use hayate_protocol::headers::SESSION_HEADER;
pub const SESSION_COOKIE: &str = "hayate_session";

/// Sessions idle for longer than this are forgotten.
const SESSION_IDLE: Duration = Duration::from_secs(8 * 3600);

struct Entry {
    ctx: SessionContext,
    last_used: Instant,
}

pub struct Sessions {
    catalog: Catalog,
    sessions: Mutex<HashMap<String, Entry>>,
}

impl Sessions {
    pub fn new(catalog: Catalog) -> Self {
        Self {
            catalog,
            sessions: Mutex::new(HashMap::new()),
        }
    }

    /// The session a request belongs to, and its id.
    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    pub fn for_request(&self, metadata: &MetadataMap) -> (String, SessionContext) {
        let id = session_id(metadata).unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let mut sessions = self.sessions.lock();
        sessions.retain(|_, e| e.last_used.elapsed() < SESSION_IDLE);
        let entry = sessions.entry(id.clone()).or_insert_with(|| Entry {
            ctx: self.catalog.new_session(),
            last_used: Instant::now(),
        });
        entry.last_used = Instant::now();
        (id, entry.ctx.clone())
    }
}

fn session_id(metadata: &MetadataMap) -> Option<String> {
    if let Some(v) = metadata.get(SESSION_HEADER).and_then(|v| v.to_str().ok())
        && !v.is_empty()
    {
        return Some(v.to_string());
    }
    metadata
        .get_all("cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == SESSION_COOKIE)
        .map(|(_, v)| v.to_string())
}
