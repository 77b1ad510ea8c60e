//! Client sessions. A Flight SQL client names its session with the
//! `x-hayate-session` header or the `hayate_session` cookie (which the
//! coordinator sets on its answers, so cookie-aware clients keep it). A
//! request with neither gets a fresh session: it lives for hours once the
//! client comes back with its name, and minutes if it never does (a client
//! that ignores cookies makes one per statement).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use datafusion::prelude::SessionContext;
use parking_lot::Mutex;
use tonic::metadata::MetadataMap;

use crate::catalog::Catalog;

pub use hayate_protocol::headers::SESSION_HEADER;
pub const SESSION_COOKIE: &str = "hayate_session";

/// Sessions a client has come back to are forgotten after this long idle.
const SESSION_IDLE: Duration = Duration::from_secs(8 * 3600);

/// Sessions no client has named yet are forgotten after this long: a
/// cookie-aware client names its session on its next statement.
const UNNAMED_IDLE: Duration = Duration::from_secs(5 * 60);

/// How often idle sessions are looked for.
const SWEEP_EVERY: Duration = Duration::from_secs(10);

struct Entry {
    ctx: SessionContext,
    last_used: Instant,
    /// A request has named this session (header or cookie).
    named: bool,
}

impl Entry {
    fn expired(&self) -> bool {
        let idle = if self.named {
            SESSION_IDLE
        } else {
            UNNAMED_IDLE
        };
        self.last_used.elapsed() > idle
    }
}

struct State {
    sessions: HashMap<String, Entry>,
    last_sweep: Instant,
}

pub struct Sessions {
    catalog: Catalog,
    state: Mutex<State>,
}

impl Sessions {
    pub fn new(catalog: Catalog) -> Self {
        Self {
            catalog,
            state: Mutex::new(State {
                sessions: HashMap::new(),
                last_sweep: Instant::now(),
            }),
        }
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The session a request belongs to, and its id.
    pub fn for_request(&self, metadata: &MetadataMap) -> (String, SessionContext) {
        let named = session_id(metadata);
        let mut state = self.state.lock();
        if state.last_sweep.elapsed() > SWEEP_EVERY {
            state.sessions.retain(|_, e| !e.expired());
            state.last_sweep = Instant::now();
        }
        let id = named
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let entry = state.sessions.entry(id.clone()).or_insert_with(|| Entry {
            ctx: self.catalog.new_session(),
            last_used: Instant::now(),
            named: false,
        });
        entry.last_used = Instant::now();
        entry.named |= named.is_some();
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
