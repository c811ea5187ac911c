//! Secrets kept out of text: what Helios prints (`--print-config`), logs and reports in errors never
//! carries a credential, whether it sits in a URL (`http://user:password@host`) or under a key that
//! names one (`password`, `token`, Kafka's `sasl.*`, `ssl.key*`).

use std::borrow::Cow;

/// What a secret is replaced with.
pub const REDACTED: &str = "<redacted>";

/// `text` with the credentials of every URL in it replaced by `***`: the password of
/// `scheme://user:password@host` (the user stays, it helps to tell configurations apart), or the
/// whole user part when it has no password (`https://TOKEN@host`).
pub fn url_credentials(text: &str) -> Cow<'_, str> {
    if !text.contains("://") || !text.contains('@') {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        // The authority ends at the path, query, fragment or anything that cannot be in a URL.
        let end = tail.find(|c: char| matches!(c, '/' | '?' | '#') || c.is_whitespace() || "\"'<>`".contains(c));
        let authority = &tail[..end.unwrap_or(tail.len())];
        match authority.rfind('@') {
            Some(userinfo_end) => {
                let userinfo = &authority[..userinfo_end];
                match userinfo.find(':') {
                    Some(colon) => {
                        out.push_str(&userinfo[..colon]);
                        out.push_str(":***");
                    }
                    None => out.push_str("***"),
                }
                out.push_str(&authority[userinfo_end..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[authority.len()..];
    }
    out.push_str(rest);
    Cow::Owned(out)
}

/// Whether a configuration key (or a Kafka property) names a secret value. Keys naming the file or
/// path a secret is read from (`netbox_token_file`) are not secret.
pub fn is_secret_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    if key.ends_with("_file") || key.ends_with("_path") || key.ends_with(".file") || key.ends_with(".location") {
        return false;
    }
    key.starts_with("sasl.")
        || key.starts_with("ssl.key")
        || ["password", "passwd", "secret", "token", "api_key", "apikey", "credentials"].iter().any(|s| key.contains(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_passwords_and_tokens_are_replaced() {
        assert_eq!(url_credentials("http://default:chpass@ch:8123/x"), "http://default:***@ch:8123/x");
        assert_eq!(url_credentials("https://tok3n@netbox.example/api"), "https://***@netbox.example/api");
        assert_eq!(
            url_credentials("a http://u:p@h b \"https://x:y@z?q=1\" c"),
            "a http://u:***@h b \"https://x:***@z?q=1\" c"
        );
        assert_eq!(url_credentials("http://ch:8123/?user=a@b"), "http://ch:8123/?user=a@b");
        assert_eq!(url_credentials("no url at all@"), "no url at all@");
        assert!(matches!(url_credentials("http://ch:8123"), Cow::Borrowed(_)));
        // A password holding '@' or ':' is still wholly hidden.
        assert_eq!(url_credentials("http://u:p@ss:w@h/"), "http://u:***@h/");
    }

    #[test]
    fn secret_keys_are_told_from_the_files_that_hold_them() {
        for key in [
            "password",
            "clickhouse.password",
            "sasl.password",
            "sasl.username",
            "ssl.key.password",
            "api_token",
            "webhook_secret",
        ] {
            assert!(is_secret_key(key), "{key}");
        }
        for key in ["netbox_token_file", "password_file", "ssl.key.location", "url", "brokers", "sasl_mechanism_doc"] {
            assert!(!is_secret_key(key), "{key}");
        }
    }
}
