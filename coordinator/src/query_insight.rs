//! The query insight service: a query's progress while it runs and its
//! stats once it ran, for Hayate's own clients (the CLI, the test client).
//! Clients that speak only Flight get the same answers from the
//! `hayate.query_progress` and `hayate.query_stats` actions.

use std::sync::Arc;

use hayate_protocol::control::query_insight::query_insight_server::QueryInsight;
use hayate_protocol::{QueryProgress, QueryRef, QueryStats};
use tonic::{Request, Response, Status};

use crate::engine::QueryEngine;

pub struct QueryInsightService {
    engine: Arc<QueryEngine>,
}

impl QueryInsightService {
    pub fn new(engine: Arc<QueryEngine>) -> Self {
        Self { engine }
    }
}

fn unknown(query: &QueryRef) -> Status {
    Status::not_found(format!("no record of query {}", query.query_id))
}

#[tonic::async_trait]
impl QueryInsight for QueryInsightService {
    /// Answers at once.
    async fn progress(
        &self,
        request: Request<QueryRef>,
    ) -> Result<Response<QueryProgress>, Status> {
        let query = request.into_inner();
        let progress = self.engine.progress(&query.query_id);
        progress.map(Response::new).ok_or_else(|| unknown(&query))
    }

    /// Answers once the query's workers have reported, or after a few
    /// seconds.
    async fn stats(&self, request: Request<QueryRef>) -> Result<Response<QueryStats>, Status> {
        let query = request.into_inner();
        let stats = self.engine.stats(&query.query_id).await;
        stats.map(Response::new).ok_or_else(|| unknown(&query))
    }
}
