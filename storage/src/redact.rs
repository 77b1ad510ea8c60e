//! Keeping credentials out of logs and errors: a statement is logged with
//! the values of secret options replaced.

use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer};

/// Whether an option of this name holds a credential.
pub fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    ["secret", "password", "token", "access_key_id", "credential"]
        .iter()
        .any(|s| k.contains(s))
}

const MASK: &str = "'***'";

/// `sql` with the value after every secret option name replaced by `***`
/// (`OPTIONS ('aws.secret_access_key' 'abc')` and `SET x.token = 'abc'`).
/// A statement that cannot be tokenized has every quoted string masked.
pub fn redact_sql(sql: &str) -> String {
    let Ok(tokens) = Tokenizer::new(&GenericDialect {}, sql).tokenize() else {
        return mask_all_strings(sql);
    };
    let mut out = String::with_capacity(sql.len());
    let mut secret_next = false;
    for token in tokens {
        let text = match &token {
            Token::SingleQuotedString(s) | Token::DoubleQuotedString(s) => Some(s.as_str()),
            Token::Word(w) => Some(w.value.as_str()),
            _ => None,
        };
        match (&token, text) {
            (Token::Whitespace(_) | Token::Eq | Token::Colon, _) => {
                out.push_str(&token.to_string());
            }
            (Token::SingleQuotedString(_) | Token::DoubleQuotedString(_), _) if secret_next => {
                out.push_str(MASK);
                secret_next = false;
            }
            (_, Some(name)) => {
                secret_next = is_secret_key(name);
                out.push_str(&token.to_string());
            }
            _ => {
                secret_next = false;
                out.push_str(&token.to_string());
            }
        }
    }
    out
}

fn mask_all_strings(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut in_string = false;
    for c in sql.chars() {
        match (c, in_string) {
            ('\'', false) => {
                in_string = true;
                out.push_str(MASK);
            }
            ('\'', true) => in_string = false,
            (_, true) => {}
            (c, false) => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::redact_sql;

    #[test]
    fn secrets_are_masked_and_the_rest_kept() {
        let sql = "CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION 's3://b/p/' \
                   OPTIONS ('aws.access_key_id' 'AKIA123', 'aws.secret_access_key' 'hunter2', 'aws.region' 'eu-west-1')";
        let redacted = redact_sql(sql);
        assert!(
            !redacted.contains("AKIA123") && !redacted.contains("hunter2"),
            "{redacted}"
        );
        assert!(
            redacted.contains("eu-west-1") && redacted.contains("s3://b/p/"),
            "{redacted}"
        );
        let unterminated = redact_sql("SELECT 'abc");
        assert!(!unterminated.contains("abc"), "{unterminated}");
    }
}
