//! Splitting SQL text into statements at `;`, outside quotes and comments.

/// The complete statements in `text` and the unfinished rest (text after
/// the last `;`, which a REPL keeps reading more lines into).
pub fn split_statements(text: &str) -> (Vec<String>, String) {
    let mut statements = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars().peekable();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                current.push(c);
                if c == q {
                    quote = None;
                }
            }
            None => match c {
                '\'' | '"' => {
                    quote = Some(c);
                    current.push(c);
                }
                '-' if chars.peek() == Some(&'-') => {
                    // A line comment: drop it up to the end of the line.
                    for c in chars.by_ref() {
                        if c == '\n' {
                            current.push('\n');
                            break;
                        }
                    }
                }
                ';' => {
                    let s = current.trim();
                    if !s.is_empty() {
                        statements.push(s.to_string());
                    }
                    current.clear();
                }
                _ => current.push(c),
            },
        }
    }
    (statements, current.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::split_statements;

    #[test]
    fn splits_outside_quotes_and_comments() {
        let (s, rest) = split_statements("select 'a;b'; -- x; y\nselect 2;\nselect");
        assert_eq!(s, vec!["select 'a;b'".to_string(), "select 2".to_string()]);
        assert_eq!(rest, "select");
    }
}
