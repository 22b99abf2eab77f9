//! Where a page may send someone next: only a path on this site (no open redirect), and the
//! percent-encoding that puts such a path into a query string.

/// A path on this site to return to after sign-in; anything else becomes `/account`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SafeNext(String);

impl SafeNext {
    /// The default when `next` is missing or is not a plain local path.
    pub const DEFAULT: &'static str = "/account";

    pub fn parse(next: Option<&str>) -> Self {
        match next {
            Some(path)
                if path.starts_with('/')
                    && !path.starts_with("//")
                    && !path.starts_with("/api/")
                    && path.len() <= 500
                    && path.chars().all(|c| c.is_ascii_graphic() && c != '\\') =>
            {
                SafeNext(path.to_string())
            }
            _ => SafeNext(Self::DEFAULT.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// Only same-site paths may be returned to after sign-in (no open redirect).
pub fn safe_next(next: Option<&str>) -> String {
    SafeNext::parse(next).into_string()
}

/// Percent-encodes a path for a query string.
pub fn percent(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' | b'/' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed_after_sign_in() {
        assert_eq!(safe_next(Some("/record")), "/record");
        assert_eq!(safe_next(Some("//evil.example/")), "/account");
        assert_eq!(safe_next(Some("https://evil.example/")), "/account");
        assert_eq!(safe_next(Some("/\\evil.example")), "/account");
        assert_eq!(safe_next(Some("/api/sign_out")), "/account");
        assert_eq!(safe_next(None), "/account");
        // A header value cannot carry control characters: they must not reach the redirect.
        assert_eq!(safe_next(Some("/record\r\nSet-Cookie: x=1")), "/account");
        assert_eq!(safe_next(Some("/record with space")), "/account");
    }

    #[test]
    fn paths_are_percent_encoded_for_a_query_string() {
        assert_eq!(percent("/record?x=1 2"), "/record%3Fx%3D1%202");
    }
}
