//! The Flight actions a coordinator answers for clients that speak only
//! Flight (pyarrow's `do_action`). Hayate's own CLI asks the typed
//! [`crate::control::query_insight`] service for the same answers.

/// What a query did (body: [`crate::QueryRef`], the query id its ticket
/// carries); answers with a [`crate::QueryStats`] once the query's workers
/// have reported, or after a few seconds.
pub const QUERY_STATS: &str = "hayate.query_stats";
/// Where a running query is now (body: [`crate::QueryRef`]); answers at once
/// with a [`crate::QueryProgress`].
pub const QUERY_PROGRESS: &str = "hayate.query_progress";
