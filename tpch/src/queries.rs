//! The 22 TPC-H queries with the specification's validation parameters.
//! Where a `LIMIT` cuts through ties, a tie-breaking key is added to the
//! `ORDER BY` so that every correct engine returns the same rows.

const QUERIES: [&str; 22] = [
    include_str!("../queries/q1.sql"),
    include_str!("../queries/q2.sql"),
    include_str!("../queries/q3.sql"),
    include_str!("../queries/q4.sql"),
    include_str!("../queries/q5.sql"),
    include_str!("../queries/q6.sql"),
    include_str!("../queries/q7.sql"),
    include_str!("../queries/q8.sql"),
    include_str!("../queries/q9.sql"),
    include_str!("../queries/q10.sql"),
    include_str!("../queries/q11.sql"),
    include_str!("../queries/q12.sql"),
    include_str!("../queries/q13.sql"),
    include_str!("../queries/q14.sql"),
    include_str!("../queries/q15.sql"),
    include_str!("../queries/q16.sql"),
    include_str!("../queries/q17.sql"),
    include_str!("../queries/q18.sql"),
    include_str!("../queries/q19.sql"),
    include_str!("../queries/q20.sql"),
    include_str!("../queries/q21.sql"),
    include_str!("../queries/q22.sql"),
];

/// Query `n` (1 to 22), without its trailing semicolon.
pub fn query(n: usize) -> &'static str {
    QUERIES[n - 1].trim().trim_end_matches(';')
}

/// Whether the query's answer has a defined row order (it ends in an
/// `ORDER BY`); those are compared row by row, the others as multisets.
pub fn is_ordered(n: usize) -> bool {
    query(n).to_lowercase().contains("order by")
}
