//! The coordinator's front door: every call passes here before its handler.
//!
//! - A call carrying the cluster secret comes from a worker (membership);
//!   a wrong secret is refused.
//! - The Flight handshake is where users sign in, so it is always let in.
//! - With authentication on, every other call needs a valid bearer token.

use std::sync::Arc;

use hayate_protocol::ClusterSecret;
use hayate_protocol::cluster_secret::InternalCaller;
use tonic::codegen::http;
use tonic::{Request, Status};

use crate::auth::Authenticator;

/// The gRPC method of a call, kept for the gate (tonic's request type drops
/// the URI).
#[derive(Clone, Debug)]
struct CallPath(String);

/// The user a call was authenticated as.
#[derive(Clone, Debug)]
pub struct SignedIn(pub String);

const HANDSHAKE: &str = "/arrow.flight.protocol.FlightService/Handshake";

/// Remembers a call's path for [`Gate::check`].
pub fn record_path<B>(mut request: http::Request<B>) -> http::Request<B> {
    let path = CallPath(request.uri().path().to_string());
    request.extensions_mut().insert(path);
    request
}

#[derive(Clone)]
pub struct Gate {
    pub secret: ClusterSecret,
    pub auth: Option<Arc<Authenticator>>,
}

impl Gate {
    pub fn check(&self, mut request: Request<()>) -> Result<Request<()>, Status> {
        self.secret.check(&mut request, false)?;
        let internal =
            self.secret.is_set() && request.extensions().get::<InternalCaller>().is_some();
        let Some(auth) = &self.auth else {
            return Ok(request);
        };
        let is_handshake = request
            .extensions()
            .get::<CallPath>()
            .is_some_and(|p| p.0 == HANDSHAKE);
        if internal || is_handshake {
            return Ok(request);
        }
        let header = request
            .metadata()
            .get("authorization")
            .and_then(|v| v.to_str().ok());
        let user = auth.user_for(header)?;
        request.extensions_mut().insert(SignedIn(user));
        Ok(request)
    }
}
