//! What a query's filters require of a row group's text, in terms an index
//! can check: `message LIKE '%abc123%'`, `contains`, `strpos(..) > 0`,
//! `starts_with`, `ends_with` and `matches`, combined with AND and OR.
//! Filters the index cannot read are left to the scan: under an AND they
//! are dropped (the rest still must hold), under an OR they make the whole
//! OR unknown.

use datafusion::common::ScalarValue;
use datafusion::logical_expr::expr::{Like, ScalarFunction};
use datafusion::logical_expr::{BinaryExpr, Expr, Operator};

use crate::matches::{MATCHES, parse_query};
use crate::sidecar::FileIndexes;
use crate::terms::{Fragment, KeyKind, key, like_fragments};

/// A condition on the indexed text of one row group: if it fails, no row
/// of the row group can pass the query's filters.
#[derive(Clone, Debug, PartialEq)]
pub enum Need {
    /// The column contains every fragment.
    Text {
        column: String,
        fragments: Vec<Fragment>,
        case_sensitive: bool,
    },
    /// The column's tokens include every token of at least one group.
    Tokens {
        column: String,
        groups: Vec<Vec<Vec<u8>>>,
    },
    All(Vec<Need>),
    Any(Vec<Need>),
}

impl Need {
    /// What all of `filters` (a conjunction) need, if anything.
    pub fn of_filters(filters: &[Expr]) -> Option<Need> {
        all(filters.iter().filter_map(Need::of).collect())
    }

    fn of(expr: &Expr) -> Option<Need> {
        match expr {
            Expr::BinaryExpr(BinaryExpr { left, op, right }) => match op {
                Operator::And => all([Need::of(left), Need::of(right)]
                    .into_iter()
                    .flatten()
                    .collect()),
                Operator::Or => Some(Need::Any(vec![Need::of(left)?, Need::of(right)?])),
                _ => strpos_found(left, *op, right),
            },
            Expr::Like(Like {
                negated: false,
                expr,
                pattern,
                escape_char,
                case_insensitive,
            }) => {
                let column = column_name(expr)?;
                let pattern = string_literal(pattern)?;
                if escape_char.is_some_and(|c| pattern.contains(c)) {
                    return None;
                }
                Some(Need::Text {
                    column,
                    fragments: like_fragments(&pattern)?,
                    case_sensitive: !case_insensitive,
                })
            }
            Expr::ScalarFunction(ScalarFunction { func, args }) => {
                let [text, literal] = args.as_slice() else {
                    return None;
                };
                let column = column_name(text)?;
                let literal = string_literal(literal)?;
                match func.name() {
                    "contains" => Some(Need::substring(column, &literal, false, false)),
                    "starts_with" => Some(Need::substring(column, &literal, true, false)),
                    "ends_with" => Some(Need::substring(column, &literal, false, true)),
                    MATCHES => Some(Need::Tokens {
                        column,
                        groups: parse_query(&literal),
                    }),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    /// `column` contains `text` (case kept), at the start of the value or
    /// of a word if `starts_token`, at the end of one if `ends_token`.
    fn substring(column: String, text: &str, starts_token: bool, ends_token: bool) -> Need {
        Need::Text {
            column,
            fragments: vec![Fragment {
                text: text.as_bytes().to_vec(),
                starts_token,
                ends_token,
            }],
            case_sensitive: true,
        }
    }

    /// The columns it looks at.
    pub fn columns(&self) -> Vec<&str> {
        match self {
            Need::Text { column, .. } | Need::Tokens { column, .. } => vec![column.as_str()],
            Need::All(needs) | Need::Any(needs) => {
                let mut all: Vec<&str> = needs.iter().flat_map(Need::columns).collect();
                all.sort_unstable();
                all.dedup();
                all
            }
        }
    }

    /// Whether row group `row_group` of the file `file` describes may hold
    /// a row that passes (true where a column has no index).
    pub fn may_match(&self, file: &FileIndexes, row_group: usize) -> bool {
        match self {
            Need::Text {
                column,
                fragments,
                case_sensitive,
            } => {
                let Some((filter, ngram)) = file.filter(column, row_group) else {
                    return true;
                };
                fragments.iter().all(|f| {
                    f.required_keys(ngram, *case_sensitive)
                        .iter()
                        .all(|k| filter.check(k.as_slice()))
                })
            }
            Need::Tokens { column, groups } => {
                let Some((filter, _)) = file.filter(column, row_group) else {
                    return true;
                };
                groups.iter().any(|group| {
                    group
                        .iter()
                        .all(|t| filter.check(key(KeyKind::Token, t).as_slice()))
                })
            }
            Need::All(needs) => needs.iter().all(|n| n.may_match(file, row_group)),
            Need::Any(needs) => needs.iter().any(|n| n.may_match(file, row_group)),
        }
    }
}

fn all(mut needs: Vec<Need>) -> Option<Need> {
    match needs.len() {
        0 => None,
        1 => needs.pop(),
        _ => Some(Need::All(needs)),
    }
}

/// `strpos(column, 'text') > 0` and its spellings (`!= 0`, `>= 1`).
fn strpos_found(left: &Expr, op: Operator, right: &Expr) -> Option<Need> {
    let Expr::ScalarFunction(ScalarFunction { func, args }) = left else {
        return None;
    };
    if func.name() != "strpos" {
        return None;
    }
    let bound = match right {
        Expr::Literal(v, _) => v
            .clone()
            .cast_to(&datafusion::arrow::datatypes::DataType::Int64)
            .ok()?,
        _ => return None,
    };
    let ScalarValue::Int64(Some(n)) = bound else {
        return None;
    };
    let found = matches!(
        (op, n),
        (Operator::Gt, 0) | (Operator::NotEq, 0) | (Operator::GtEq, 1)
    );
    let [text, literal] = args.as_slice() else {
        return None;
    };
    if !found {
        return None;
    }
    Some(Need::substring(
        column_name(text)?,
        &string_literal(literal)?,
        false,
        false,
    ))
}

/// The column an expression reads, looking through casts between string
/// types (DataFusion casts Parquet strings to views and back).
fn column_name(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Column(c) => Some(c.name.clone()),
        Expr::Cast(cast) if is_string(cast.field.data_type()) => column_name(&cast.expr),
        Expr::TryCast(cast) if is_string(cast.field.data_type()) => column_name(&cast.expr),
        _ => None,
    }
}

fn is_string(t: &datafusion::arrow::datatypes::DataType) -> bool {
    use datafusion::arrow::datatypes::DataType::*;
    matches!(t, Utf8 | LargeUtf8 | Utf8View)
}

fn string_literal(expr: &Expr) -> Option<String> {
    match expr {
        Expr::Literal(
            ScalarValue::Utf8(Some(s))
            | ScalarValue::LargeUtf8(Some(s))
            | ScalarValue::Utf8View(Some(s)),
            _,
        ) => Some(s.clone()),
        Expr::Cast(cast) => string_literal(&cast.expr),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::prelude::{col, lit};

    #[test]
    fn filters_become_needs_and_unknown_parts_are_handled_safely() {
        let like = col("message").like(lit("%req-3f9a2c1b0e4d5a67%"));
        let other = col("status").gt(lit(500));
        let need = Need::of_filters(&[like.clone(), other.clone()]).expect("need");
        assert!(matches!(need, Need::Text { ref column, .. } if column == "message"));
        // An OR with a part the index cannot read needs nothing.
        assert_eq!(Need::of_filters(&[like.clone().or(other.clone())]), None);
        assert!(matches!(
            Need::of_filters(&[like.clone().or(col("message").like(lit("%x%")))]),
            Some(Need::Any(_))
        ));
        // NOT LIKE needs nothing.
        assert_eq!(
            Need::of_filters(&[col("message").not_like(lit("%a%"))]),
            None
        );
    }
}
