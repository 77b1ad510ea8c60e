//! gRPC metadata keys Hayate reads and writes.

/// Names a client's session (`SET` persists across its statements); the
/// coordinator also accepts the `hayate_session` cookie it sets.
pub const SESSION_HEADER: &str = "x-hayate-session";

/// Carries the cluster's shared secret on every call between Hayate
/// processes, so that workers run tasks only for their coordinator.
pub const CLUSTER_SECRET_HEADER: &str = "x-hayate-cluster-secret";
