//! `matches(text, 'timeout AND db OR refused')`: a token search, as log
//! stores offer it. The query is words joined by `AND` (also implied
//! between words) and `OR` (binding looser); a row matches when its text
//! has every token of at least one OR-branch. Tokens are compared with
//! ASCII letters lowercased, whole tokens only (`time` does not match
//! `timeout`), and a word like `req-3f9a` stands for its tokens `req` and
//! `3f9a`. Because it looks up whole tokens, the search index can always
//! answer it.

use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray, BooleanArray, StringArrayType};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Result, ScalarValue, exec_err, plan_err};
use datafusion::logical_expr::{
    ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, TypeSignature,
    Volatility,
};

use crate::terms::{normalized, tokens};

pub const MATCHES: &str = "matches";

/// The query's OR-branches, each the normalized tokens it needs.
pub fn parse_query(query: &str) -> Vec<Vec<Vec<u8>>> {
    let mut groups = vec![Vec::new()];
    for word in query.split_whitespace() {
        match word {
            "AND" => {}
            "OR" => groups.push(Vec::new()),
            word => {
                let group = groups.last_mut().expect("at least one group");
                group.extend(tokens(word.as_bytes()).map(normalized));
            }
        }
    }
    groups
}

/// A parsed query: its distinct words, and each OR-branch as the indexes
/// of the words it needs. Matching a row allocates nothing: each of the
/// row's words is compared with the query's few words in place.
struct TokenQuery {
    words: Vec<Vec<u8>>,
    branches: Vec<Vec<usize>>,
}

impl TokenQuery {
    fn new(groups: &[Vec<Vec<u8>>]) -> Self {
        let mut words: Vec<Vec<u8>> = Vec::new();
        let branches = groups
            .iter()
            .map(|group| {
                group
                    .iter()
                    .map(|w| match words.iter().position(|x| x == w) {
                        Some(i) => i,
                        None => {
                            words.push(w.clone());
                            words.len() - 1
                        }
                    })
                    .collect()
            })
            .collect();
        Self { words, branches }
    }

    fn matches(&self, text: &str, found: &mut [bool]) -> bool {
        found.iter_mut().for_each(|f| *f = false);
        for token in tokens(text.as_bytes()) {
            for (i, word) in self.words.iter().enumerate() {
                if !found[i] && token.eq_ignore_ascii_case(word) {
                    found[i] = true;
                }
            }
        }
        self.branches.iter().any(|b| b.iter().all(|i| found[*i]))
    }
}

fn text_matches(text: &str, groups: &[Vec<Vec<u8>>]) -> bool {
    let query = TokenQuery::new(groups);
    let mut found = vec![false; query.words.len()];
    query.matches(text, &mut found)
}

#[derive(Debug, PartialEq, Eq, Hash)]
pub struct MatchesFunc {
    signature: Signature,
}

impl Default for MatchesFunc {
    fn default() -> Self {
        let strings = [DataType::Utf8, DataType::LargeUtf8, DataType::Utf8View];
        let mut exact = Vec::new();
        for text in &strings {
            for query in &strings {
                exact.push(TypeSignature::Exact(vec![text.clone(), query.clone()]));
            }
        }
        Self {
            signature: Signature::one_of(exact, Volatility::Immutable),
        }
    }
}

pub fn matches_udf() -> ScalarUDF {
    ScalarUDF::new_from_impl(MatchesFunc::default())
}

impl ScalarUDFImpl for MatchesFunc {
    fn name(&self) -> &str {
        MATCHES
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        if args.len() != 2 {
            return plan_err!("matches(text, query) takes two arguments");
        }
        Ok(DataType::Boolean)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let [text, query] = args.args.as_slice() else {
            return exec_err!("matches(text, query) takes two arguments");
        };
        let query = match query {
            ColumnarValue::Scalar(
                ScalarValue::Utf8(q) | ScalarValue::LargeUtf8(q) | ScalarValue::Utf8View(q),
            ) => q.clone(),
            _ => return exec_err!("matches: the query must be a constant string"),
        };
        let Some(query) = query else {
            return Ok(ColumnarValue::Scalar(ScalarValue::Boolean(None)));
        };
        let groups = parse_query(&query);
        match text {
            ColumnarValue::Scalar(s) => {
                let text = match s {
                    ScalarValue::Utf8(t) | ScalarValue::LargeUtf8(t) | ScalarValue::Utf8View(t) => {
                        t.as_deref()
                    }
                    other => return exec_err!("matches: text is {}", other.data_type()),
                };
                Ok(ColumnarValue::Scalar(ScalarValue::Boolean(
                    text.map(|t| text_matches(t, &groups)),
                )))
            }
            ColumnarValue::Array(array) => {
                let result = match array.data_type() {
                    DataType::Utf8 => each(array.as_string::<i32>(), &groups),
                    DataType::LargeUtf8 => each(array.as_string::<i64>(), &groups),
                    DataType::Utf8View => each(array.as_string_view(), &groups),
                    other => return exec_err!("matches: text is {other}"),
                };
                Ok(ColumnarValue::Array(Arc::new(result)))
            }
        }
    }
}

fn each<'a>(texts: impl StringArrayType<'a>, groups: &[Vec<Vec<u8>>]) -> BooleanArray {
    let query = TokenQuery::new(groups);
    let mut found = vec![false; query.words.len()];
    (0..texts.len())
        .map(|i| (!texts.is_null(i)).then(|| query.matches(texts.value(i), &mut found)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_or_of_and_over_whole_tokens() {
        let q = parse_query("timeout AND db OR Refused");
        assert!(text_matches("upstream timeout from db-03", &q));
        assert!(text_matches("connection refused", &q));
        assert!(!text_matches("upstream timeouts from db", &q));
        assert!(!text_matches("timeout in cache", &q));
        assert!(text_matches("x req-3F9A y", &parse_query("req-3f9a")));
        assert!(text_matches("anything", &parse_query("")));
    }
}
