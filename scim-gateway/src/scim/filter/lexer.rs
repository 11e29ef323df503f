//! Tokens of the RFC 7644 §3.4.2.2 filter grammar.
//!
//! The lexer is deliberately dumb: it splits on brackets, parentheses, whitespace and
//! JSON strings, and leaves every other run of characters as a word for the parser to
//! interpret (keyword, operator, literal or attribute path). That keeps error messages
//! in one place.

use crate::error::ScimError;

/// One token and where it starts (byte offset), for error messages.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Token<'a> {
    pub(super) tok: Tok<'a>,
    pub(super) pos: usize,
}

/// Token kinds.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Tok<'a> {
    LParen,
    RParen,
    LBracket,
    RBracket,
    /// A decoded JSON string literal.
    Str(String),
    /// Anything else: keywords, operators, numbers, `true`, attribute paths.
    Word(&'a str),
}

/// Splits `input` into tokens.
pub(super) fn tokenize(input: &str) -> Result<Vec<Token<'_>>, ScimError> {
    let mut out = Vec::new();
    let bytes = input.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let single = match b {
            b'(' => Some(Tok::LParen),
            b')' => Some(Tok::RParen),
            b'[' => Some(Tok::LBracket),
            b']' => Some(Tok::RBracket),
            _ => None,
        };
        if let Some(tok) = single {
            out.push(Token { tok, pos: i });
            i += 1;
        } else if b.is_ascii_whitespace() {
            i += 1;
        } else if b == b'"' {
            let end = string_end(bytes, i)?;
            let raw = input.get(i..=end).unwrap_or_default();
            let s: String = serde_json::from_str(raw).map_err(|_| {
                ScimError::invalid_filter(format!("invalid string literal at position {i}"))
            })?;
            out.push(Token {
                tok: Tok::Str(s),
                pos: i,
            });
            i = end + 1;
        } else {
            let start = i;
            while i < bytes.len() && !is_delimiter(bytes[i]) {
                i += 1;
            }
            // Delimiters are ASCII, so both ends are character boundaries.
            let word = input.get(start..i).unwrap_or_default();
            out.push(Token {
                tok: Tok::Word(word),
                pos: start,
            });
        }
    }
    Ok(out)
}

fn is_delimiter(b: u8) -> bool {
    b.is_ascii_whitespace() || matches!(b, b'(' | b')' | b'[' | b']' | b'"')
}

/// Index of the closing quote of the string starting at `start`.
fn string_end(bytes: &[u8], start: usize) -> Result<usize, ScimError> {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return Ok(i),
            _ => i += 1,
        }
    }
    Err(ScimError::invalid_filter(format!(
        "unterminated string starting at position {start}"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(input: &str) -> Vec<Tok<'_>> {
        tokenize(input)
            .unwrap()
            .into_iter()
            .map(|t| t.tok)
            .collect()
    }

    #[test]
    fn splits_value_paths_and_strings() {
        assert_eq!(
            kinds(r#"emails[type eq "work"].value eq "a\"b""#),
            vec![
                Tok::Word("emails"),
                Tok::LBracket,
                Tok::Word("type"),
                Tok::Word("eq"),
                Tok::Str("work".into()),
                Tok::RBracket,
                Tok::Word(".value"),
                Tok::Word("eq"),
                Tok::Str("a\"b".into()),
            ]
        );
    }

    #[test]
    fn decodes_json_escapes() {
        assert_eq!(
            kinds(r#""\u00e9\n\\ \ud83d\ude00""#),
            vec![Tok::Str("é\n\\ 😀".into())]
        );
    }

    #[test]
    fn rejects_bad_strings() {
        assert!(tokenize(r#"userName eq "abc"#).is_err());
        assert!(tokenize(r#"userName eq "abc\"#).is_err());
        assert!(tokenize(r#"userName eq "\x""#).is_err());
        assert!(tokenize("userName eq \"a\u{1}b\"").is_err());
    }
}
