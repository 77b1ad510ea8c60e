//! What the index stores for a string, and what a search looks up: the one
//! place that defines tokens and keys, so that building an index, pruning
//! with it and the `matches` function can never disagree.
//!
//! A **token** is a maximal run of ASCII letters and digits and non-ASCII
//! bytes; everything else (spaces, punctuation, `-`, `_`, quotes) separates
//! tokens. Tokens are compared with ASCII letters lowercased. For each
//! token the index keeps the token itself and, for tokens of at least
//! [`AFFIX`] bytes, its first and last [`AFFIX`] bytes: a search whose text
//! starts (or ends) a token, such as the id in `'%req-3f9a2c1b0e4d%'`, is then
//! looked up by that prefix even though the whole token is unknown. An
//! index may also keep every **n-gram** (n bytes, case kept) of the value,
//! for searches inside tokens.

/// Bytes of a token's prefix and suffix keys.
pub const AFFIX: usize = 8;

/// What kind of key: a whole token, a token's prefix or suffix, an n-gram.
/// The tag is the key's first byte, so the kinds never collide.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyKind {
    Token = b'T' as isize,
    Prefix = b'P' as isize,
    Suffix = b'S' as isize,
    Ngram = b'G' as isize,
}

pub fn key(kind: KeyKind, bytes: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(bytes.len() + 1);
    k.push(kind as u8);
    k.extend_from_slice(bytes);
    k
}

pub fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b >= 0x80
}

/// The tokens of `text`, as byte slices of it (case kept).
pub fn tokens(text: &[u8]) -> impl Iterator<Item = &[u8]> {
    text.split(|b| !is_token_byte(*b)).filter(|t| !t.is_empty())
}

/// A token as the index keeps it: ASCII letters lowercased.
pub fn normalized(token: &[u8]) -> Vec<u8> {
    token.to_ascii_lowercase()
}

/// Every key the index keeps for `value`, given its n-gram length (0: no
/// n-grams).
pub fn value_keys(value: &[u8], ngram: usize, mut add: impl FnMut(Vec<u8>)) {
    for token in tokens(value) {
        let token = normalized(token);
        if token.len() >= AFFIX {
            add(key(KeyKind::Prefix, &token[..AFFIX]));
            add(key(KeyKind::Suffix, &token[token.len() - AFFIX..]));
        }
        add(key(KeyKind::Token, &token));
    }
    if ngram > 0 {
        for window in value.windows(ngram) {
            add(key(KeyKind::Ngram, window));
        }
    }
}

/// A piece of literal text a matching value must contain, and whether the
/// value is known to have a token boundary (a separator, or its start or
/// end) right before and right after it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fragment {
    pub text: Vec<u8>,
    pub starts_token: bool,
    pub ends_token: bool,
}

impl Fragment {
    /// The keys every value containing this fragment has. `case_sensitive`
    /// is false for ILIKE, where only tokens (kept lowercased) can be used,
    /// and only pure ASCII ones: other letters may fold to other bytes.
    pub fn required_keys(&self, ngram: usize, case_sensitive: bool) -> Vec<Vec<u8>> {
        let mut keys = Vec::new();
        let text = &self.text;
        // Token runs of the fragment with their byte positions.
        let mut runs = Vec::new();
        let mut start = None;
        for (i, b) in text.iter().enumerate() {
            match (is_token_byte(*b), start) {
                (true, None) => start = Some(i),
                (false, Some(s)) => {
                    runs.push((s, i));
                    start = None;
                }
                _ => {}
            }
        }
        if let Some(s) = start {
            runs.push((s, text.len()));
        }
        for (s, e) in runs {
            let run = &text[s..e];
            if !case_sensitive && !run.is_ascii() {
                continue;
            }
            let run = normalized(run);
            // A run touching the fragment's edge is a whole token only if
            // the value has a boundary there.
            let whole_start = s > 0 || self.starts_token;
            let whole_end = e < text.len() || self.ends_token;
            match (whole_start, whole_end) {
                (true, true) => keys.push(key(KeyKind::Token, &run)),
                (true, false) if run.len() >= AFFIX => {
                    keys.push(key(KeyKind::Prefix, &run[..AFFIX]))
                }
                (false, true) if run.len() >= AFFIX => {
                    keys.push(key(KeyKind::Suffix, &run[run.len() - AFFIX..]))
                }
                _ => {}
            }
        }
        if case_sensitive && ngram > 0 {
            keys.extend(text.windows(ngram).map(|w| key(KeyKind::Ngram, w)));
        }
        keys
    }
}

/// The fragments of a LIKE pattern, or `None` for a pattern this index
/// cannot read (one with an escape character).
pub fn like_fragments(pattern: &str) -> Option<Vec<Fragment>> {
    if pattern.contains('\\') {
        return None;
    }
    let bytes = pattern.as_bytes();
    let mut fragments = Vec::new();
    let mut start = 0;
    for i in 0..=bytes.len() {
        if i < bytes.len() && bytes[i] != b'%' && bytes[i] != b'_' {
            continue;
        }
        if i > start {
            fragments.push(Fragment {
                text: bytes[start..i].to_vec(),
                // Only the value's own start and end are known boundaries.
                starts_token: start == 0,
                ends_token: i == bytes.len(),
            });
        }
        start = i + 1;
    }
    Some(fragments)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys_of(value: &str, ngram: usize) -> std::collections::HashSet<Vec<u8>> {
        let mut all = std::collections::HashSet::new();
        value_keys(value.as_bytes(), ngram, |k| {
            all.insert(k);
        });
        all
    }

    /// Every key a search requires is among the keys of a value it matches:
    /// the property that makes pruning safe.
    #[test]
    fn a_matching_value_has_every_required_key() {
        let value = r#"{"request":{"id":"req-3f9a2c1b0e4d5a67","status":504},"user":"Ana"}"#;
        let present = keys_of(value, 4);
        // (pattern, whether LIKE matches; ILIKE matches them all)
        for (pattern, like) in [
            ("%req-3f9a2c1b0e4d5a67%", true),
            ("%3f9a2c1b0e4d%", true),
            ("%c1b0e4d5a67\"%", true),
            ("{\"request%", true),
            ("%\"user\":\"Ana\"}", true),
            ("%status\":504}%", true),
            ("%REQ-3F9A2C1B%", false),
        ] {
            for case_sensitive in [true, false] {
                if case_sensitive && !like {
                    continue;
                }
                for f in like_fragments(pattern).expect("fragments") {
                    for k in f.required_keys(4, case_sensitive) {
                        assert!(
                            present.contains(&k),
                            "{pattern}: {:?}",
                            String::from_utf8_lossy(&k)
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn a_rare_id_needs_its_prefix_and_common_words_need_little() {
        let f = like_fragments("%req-3f9a2c1b0e4d5a67%").expect("fragments");
        let keys = f[0].required_keys(0, true);
        assert_eq!(keys, vec![key(KeyKind::Prefix, b"3f9a2c1b")]);
        let f = like_fragments("%timeout%").expect("fragments");
        assert!(f[0].required_keys(0, true).is_empty());
        assert_eq!(f[0].required_keys(4, true).len(), 4);
        assert!(like_fragments("%50\\%%").is_none());
    }
}
