//! Client sessions. A Flight SQL client names its session with the
//! `x-hayate-session` header or the `hayate_session` cookie (which the
//! coordinator sets on its answers, so cookie-aware clients keep it). A
//! request with neither belongs to the session of its connection, as in
//! every SQL database: a client that keeps no cookies (ADBC's default) still
//! has its `SET` apply to the statements it sends next on the same
//! connection, and a new connection starts from the defaults. Behind a proxy
//! that carries several clients over one connection, clients must name
//! their sessions; a connection's session is never shared between users.
//! A request from nowhere (no header, cookie or connection) gets a fresh
//! session. Sessions live for hours while a client comes back, minutes if it
//! never does.

use std::collections::HashMap;
use std::net::SocketAddr;
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

/// A client connection, and the user signed in on it (if users are
/// configured): the session of requests that name none.
type Connection = (SocketAddr, Option<String>);

struct State {
    sessions: HashMap<String, Entry>,
    /// The session each connection's unnamed requests use.
    connections: HashMap<Connection, String>,
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
                connections: HashMap::new(),
                last_sweep: Instant::now(),
            }),
        }
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// Forgets session `id` (a client's `CloseSession`): its next request
    /// starts from the defaults.
    pub fn close(&self, id: &str) {
        let mut state = self.state.lock();
        state.sessions.remove(id);
        state.connections.retain(|_, session| session != id);
    }

    /// The session a request belongs to, and its id: the one it names, or
    /// else its connection's (`connection` is the peer address and the user
    /// signed in, if any).
    pub fn for_request(
        &self,
        metadata: &MetadataMap,
        connection: Option<Connection>,
    ) -> (String, SessionContext) {
        let named = session_id(metadata);
        let mut state = self.state.lock();
        if state.last_sweep.elapsed() > SWEEP_EVERY {
            let State {
                sessions,
                connections,
                ..
            } = &mut *state;
            sessions.retain(|_, e| !e.expired());
            connections.retain(|_, id| sessions.contains_key(id));
            state.last_sweep = Instant::now();
        }
        // A request that names no session uses its connection's.
        let connection = connection.filter(|_| named.is_none());
        let by_connection = connection
            .as_ref()
            .and_then(|c| state.connections.get(c).cloned());
        let came_back = named.is_some() || by_connection.is_some();
        let id = named
            .or(by_connection)
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        if let Some(connection) = connection {
            state
                .connections
                .entry(connection)
                .or_insert_with(|| id.clone());
        }
        let entry = state.sessions.entry(id.clone()).or_insert_with(|| Entry {
            ctx: self.catalog.new_session(),
            last_used: Instant::now(),
            named: false,
        });
        entry.last_used = Instant::now();
        // A client that comes back, by name or on its connection, keeps its
        // session for hours.
        entry.named |= came_back;
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
