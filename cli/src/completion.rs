//! Tab completion at the prompt: SQL keywords, and the names of the tables
//! and columns the coordinator has (read from `information_schema` when the
//! prompt opens and again after statements that change tables).

use std::sync::{Arc, RwLock};

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::datatypes::DataType;
use datafusion::sql::sqlparser::keywords::ALL_KEYWORDS;
use futures::TryStreamExt;
use rustyline::completion::{Completer, Pair};
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::validate::Validator;
use rustyline::{Context, Helper};

use crate::client::SqlClient;

/// What the prompt completes; cheap to clone (the names are shared, so the
/// prompt can refresh them while the editor holds a copy).
#[derive(Clone, Default)]
pub struct SqlCompletion {
    names: Arc<RwLock<Vec<String>>>,
}

impl SqlCompletion {
    /// Reads the table and column names from the coordinator; on failure
    /// keeps the ones it had (completion is a help, never an error).
    pub async fn refresh(&self, client: &mut SqlClient) {
        let sql = "SELECT table_name AS name FROM information_schema.tables \
                   UNION SELECT column_name FROM information_schema.columns";
        let Ok(stream) = client.query(sql).await else {
            return;
        };
        let Ok(batches) = stream.try_collect::<Vec<_>>().await else {
            return;
        };
        let mut names: Vec<String> = batches
            .iter()
            .filter_map(|b| {
                let column = b.column(0);
                let strings = datafusion::arrow::compute::cast(column, &DataType::Utf8).ok()?;
                let strings = strings.as_string::<i32>().clone();
                Some(
                    (0..strings.len())
                        .filter(|&i| strings.is_valid(i))
                        .map(|i| strings.value(i).to_string())
                        .collect::<Vec<_>>(),
                )
            })
            .flatten()
            .collect();
        names.sort();
        names.dedup();
        if let Ok(mut held) = self.names.write() {
            *held = names;
        }
    }

    /// The words that complete `prefix`: names as they are spelt, keywords
    /// in the case the prefix is typed in.
    pub fn candidates(&self, prefix: &str) -> Vec<String> {
        if prefix.is_empty() {
            return Vec::new();
        }
        let lower = prefix.to_ascii_lowercase();
        let mut found: Vec<String> = self
            .names
            .read()
            .map(|names| {
                names
                    .iter()
                    .filter(|n| n.to_ascii_lowercase().starts_with(&lower))
                    .cloned()
                    .collect()
            })
            .unwrap_or_default();
        let typed_lower = prefix.chars().all(|c| !c.is_ascii_uppercase());
        found.extend(
            ALL_KEYWORDS
                .iter()
                .filter(|k| k.to_ascii_lowercase().starts_with(&lower))
                .map(|k| {
                    if typed_lower {
                        k.to_ascii_lowercase()
                    } else {
                        k.to_string()
                    }
                }),
        );
        found.dedup();
        found
    }
}

impl Completer for SqlCompletion {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        _ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        let start = line[..pos]
            .rfind(|c: char| !(c.is_alphanumeric() || c == '_'))
            .map_or(0, |i| i + 1);
        let pairs = self
            .candidates(&line[start..pos])
            .into_iter()
            .map(|word| Pair {
                display: word.clone(),
                replacement: word,
            })
            .collect();
        Ok((start, pairs))
    }
}

impl Hinter for SqlCompletion {
    type Hint = String;
}

impl Highlighter for SqlCompletion {}

impl Validator for SqlCompletion {}

impl Helper for SqlCompletion {}

/// Whether `sql` may have changed which tables or columns exist.
pub fn changes_names(sql: &str) -> bool {
    let first = sql
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    matches!(first.as_str(), "create" | "drop" | "alter")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completes_names_and_keywords_in_the_case_typed() {
        let completion = SqlCompletion::default();
        *completion.names.write().unwrap() = vec!["lineitem".into(), "l_orderkey".into()];
        assert_eq!(completion.candidates("linei"), ["lineitem"]);
        assert!(completion.candidates("sel").contains(&"select".to_string()));
        assert!(completion.candidates("SEL").contains(&"SELECT".to_string()));
        assert!(
            completion
                .candidates("L_ORD")
                .contains(&"l_orderkey".to_string())
        );
        assert!(completion.candidates("").is_empty());
        assert!(changes_names("  CREATE TABLE t AS VALUES (1)"));
        assert!(!changes_names("SELECT 1"));
    }
}
