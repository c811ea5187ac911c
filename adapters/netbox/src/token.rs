//! The NetBox API token: read from a file or the environment, sent only in the `Authorization` header,
//! never printed (its `Debug` is redacted).

use std::path::Path;

use crate::Error;

/// A NetBox API token.
#[derive(Clone)]
pub struct Token(String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl Token {
    /// A token from its text (surrounding whitespace ignored).
    pub fn new(text: &str) -> Result<Token, Error> {
        let t = text.trim();
        if t.is_empty() || t.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(Error::Token { detail: "empty, or contains whitespace or control characters".into() });
        }
        Ok(Token(t.to_owned()))
    }

    /// The token stored in `path` (a mounted Secret, typically).
    pub fn from_file(path: &Path) -> Result<Token, Error> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::Token { detail: format!("reading {}: {e}", path.display()) })?;
        Token::new(&text)
    }

    /// The `Authorization` header value: NetBox 4.5+ v2 tokens (`nbt_...`) are bearer tokens, older
    /// (40 hex digits) ones use the `Token` scheme.
    pub(crate) fn header(&self) -> String {
        if self.0.starts_with("nbt_") { format!("Bearer {}", self.0) } else { format!("Token {}", self.0) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheme_follows_the_token_format_and_debug_hides_it() {
        let legacy = Token::new(" 0123456789abcdef0123456789abcdef01234567\n").expect("valid");
        assert_eq!(legacy.header(), "Token 0123456789abcdef0123456789abcdef01234567");
        let v2 = Token::new("nbt_abc.def").expect("valid");
        assert_eq!(v2.header(), "Bearer nbt_abc.def");
        assert_eq!(format!("{v2:?}"), "Token(<redacted>)");
        assert!(Token::new("  ").is_err());
        assert!(Token::new("a b").is_err());
        assert!(Token::from_file(Path::new("/nonexistent/token")).is_err());
    }
}
