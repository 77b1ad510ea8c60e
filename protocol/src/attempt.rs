//! A query's runs. A query that loses a worker before any row reached the
//! client runs again; each run has its own id on the workers so that the
//! abandoned run's tasks and the new run's never mix. The first run uses
//! the query's id, later ones add `.N`. Only this file knows that format.

/// The id of run `attempt` (from 1) of `query_id` on the workers.
pub fn attempt_id(query_id: &str, attempt: u32) -> String {
    match attempt {
        0 | 1 => query_id.to_string(),
        n => format!("{query_id}.{n}"),
    }
}

/// The query a run id belongs to, and which run it is.
pub fn parse_attempt_id(attempt_id: &str) -> (&str, u32) {
    match attempt_id.rsplit_once('.') {
        Some((query, n)) => match n.parse() {
            Ok(n) => (query, n),
            Err(_) => (attempt_id, 1),
        },
        None => (attempt_id, 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_ids_round_trip() {
        let q = "5c0f2a9e-1b7d-4c1e-9a57-3f6d2f0a1b2c";
        assert_eq!(attempt_id(q, 1), q);
        assert_eq!(parse_attempt_id(&attempt_id(q, 1)), (q, 1));
        assert_eq!(parse_attempt_id(&attempt_id(q, 3)), (q, 3));
    }
}
