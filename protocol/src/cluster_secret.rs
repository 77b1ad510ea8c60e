//! The cluster's shared secret: every call between Hayate processes carries
//! it, and workers (and the coordinator's membership actions) refuse calls
//! without it. Whoever can reach a worker's port but does not know the
//! secret cannot make it run a plan or hand out a partition.
//!
//! The secret travels as a header, so it is only as private as the channel:
//! use TLS on internal traffic wherever the network is not trusted.

use std::sync::Arc;

use tonic::metadata::MetadataValue;
use tonic::{Request, Status};

use crate::headers::CLUSTER_SECRET_HEADER;

/// The shared secret, or none (an open cluster, for local use).
#[derive(Clone, Default)]
pub struct ClusterSecret(Option<Arc<str>>);

/// Put in a request's extensions by [`ClusterSecret::check`] when the call
/// came from another Hayate process.
#[derive(Clone, Copy, Debug)]
pub struct InternalCaller;

impl ClusterSecret {
    /// An empty string means no secret.
    pub fn new(secret: &str) -> Self {
        let secret = secret.trim();
        Self((!secret.is_empty()).then(|| Arc::from(secret)))
    }

    pub fn is_set(&self) -> bool {
        self.0.is_some()
    }

    /// Checks a call's secret. A call that presents the right one is marked
    /// [`InternalCaller`]; a wrong one is refused. A call without one passes
    /// when `required` is false (the coordinator's client endpoint, where
    /// users authenticate instead).
    pub fn check<T>(&self, request: &mut Request<T>, required: bool) -> Result<(), Status> {
        let presented = request.metadata().get(CLUSTER_SECRET_HEADER);
        let Some(expected) = &self.0 else {
            request.extensions_mut().insert(InternalCaller);
            return Ok(());
        };
        match presented {
            Some(value) if constant_time_eq(value.as_bytes(), expected.as_bytes()) => {
                request.extensions_mut().insert(InternalCaller);
                Ok(())
            }
            Some(_) => Err(Status::unauthenticated("wrong cluster secret")),
            None if required => Err(Status::unauthenticated(
                "this endpoint serves only the Hayate cluster: the call lacks the cluster secret",
            )),
            None => Ok(()),
        }
    }
}

impl std::fmt::Debug for ClusterSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.is_set() {
            "ClusterSecret(set)"
        } else {
            "ClusterSecret(none)"
        })
    }
}

/// Adds the secret to every outgoing call.
impl tonic::service::Interceptor for ClusterSecret {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(secret) = &self.0 {
            let value = MetadataValue::try_from(&**secret)
                .map_err(|_| Status::internal("the cluster secret is not a valid header value"))?;
            request.metadata_mut().insert(CLUSTER_SECRET_HEADER, value);
        }
        Ok(request)
    }
}

/// Compares without an early exit, so timing does not reveal how much of a
/// guess was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use tonic::service::Interceptor;

    #[test]
    fn only_the_right_secret_passes() {
        let mut secret = ClusterSecret::new("s3cret");
        let mut ok = secret.call(Request::new(())).unwrap();
        assert!(secret.check(&mut ok, true).is_ok());
        assert!(ok.extensions().get::<InternalCaller>().is_some());

        let mut wrong = ClusterSecret::new("guess").call(Request::new(())).unwrap();
        assert!(secret.check(&mut wrong, false).is_err());

        let mut none = Request::new(());
        assert!(secret.check(&mut none, true).is_err());
        assert!(secret.check(&mut none, false).is_ok());
        assert!(none.extensions().get::<InternalCaller>().is_none());
    }
}
