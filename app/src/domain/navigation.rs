//! Where a page may send someone next: only a path on this site (no open redirect), the page a
//! person lands on after signing in when none was asked for, and the percent-encoding that puts
//! such a path into a query string.

use super::Role;

/// The longest `next` followed: an app's authorization request (`/oauth/authorize?…`, issue 22)
/// carries its scopes, state and PKCE challenge, and an app asking for each type by name needs
/// more than a thousand characters; browsers and servers take URLs of 8 KB.
pub const MAX_NEXT_CHARS: usize = 6_000;

/// A path on this site to return to after sign-in; anything else becomes `/account`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SafeNext(String);

impl SafeNext {
    /// The default when `next` is missing or is not a plain local path.
    pub const DEFAULT: &'static str = "/account";

    pub fn parse(next: Option<&str>) -> Self {
        Self::checked(next).unwrap_or_else(|| SafeNext(Self::DEFAULT.to_string()))
    }

    /// `next` when it is a plain path on this site, else nothing.
    pub fn checked(next: Option<&str>) -> Option<Self> {
        match next {
            Some(path)
                if path.starts_with('/')
                    && !path.starts_with("//")
                    && !path.starts_with("/api/")
                    && path.len() <= MAX_NEXT_CHARS
                    && path.chars().all(|c| c.is_ascii_graphic() && c != '\\') =>
            {
                Some(SafeNext(path.to_string()))
            }
            _ => None,
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

/// The page a person starts on after signing in when no page asked for one: the work of the
/// day for staff (an HIM clerk's queue, a reviewer's reviews, an administrator's accounts), their
/// own record for a patient, the people they act for for a caregiver, and the account page (which
/// says identity verification is pending) for someone with no role yet.
pub fn landing_page(roles: impl IntoIterator<Item = Role>) -> &'static str {
    let roles: Vec<Role> = roles.into_iter().collect();
    let has = |role| roles.contains(&role);
    if has(Role::HimStaff) {
        "/staff/requests"
    } else if has(Role::HimReviewer) {
        "/staff/reviews"
    } else if has(Role::Administrator) {
        "/admin/users"
    } else if has(Role::Patient) {
        "/record"
    } else if has(Role::Caregiver) {
        "/people"
    } else {
        SafeNext::DEFAULT
    }
}

/// Where a completed sign-in goes: `next` when it is a safe local path, else the landing page.
pub fn after_sign_in(next: Option<&str>, roles: impl IntoIterator<Item = Role>) -> String {
    match SafeNext::checked(next.filter(|n| !n.is_empty())) {
        Some(next) => next.into_string(),
        None => landing_page(roles).to_string(),
    }
}

/// A raw query string (`a=1&b=x%20y`, with or without its `?`) read as
/// `application/x-www-form-urlencoded`: `+` is a space, `%XX` a byte, each value decoded once
/// (invalid UTF-8 replaced; a `%` not followed by two hex digits kept). For pages, through
/// `ui::query` (leptos_router decodes twice).
pub fn query_pairs(search: &str) -> Vec<(String, String)> {
    fn decode(text: &str) -> String {
        let bytes = text.as_bytes();
        let hex = |i: usize| bytes.get(i).and_then(|b| (*b as char).to_digit(16));
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match (bytes[i], hex(i + 1), hex(i + 2)) {
                (b'+', _, _) => out.push(b' '),
                (b'%', Some(high), Some(low)) => {
                    out.push(u8::try_from(high * 16 + low).unwrap_or(b'?'));
                    i += 2;
                }
                (b, _, _) => out.push(b),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    search
        .trim_start_matches('?')
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(pair), String::new()),
        })
        .collect()
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
    fn a_query_is_decoded_once() {
        let pairs = query_pairs("?next=%2Foauth%2Fauthorize%3Fscope%3Da%2520b%26state%3Dx%252By&q=a+b&flag&bad=%zz%4&utf=%C3%A9");
        assert_eq!(
            pairs,
            vec![
                ("next".to_string(), "/oauth/authorize?scope=a%20b&state=x%2By".to_string()),
                ("q".to_string(), "a b".to_string()),
                ("flag".to_string(), String::new()),
                ("bad".to_string(), "%zz%4".to_string()),
                ("utf".to_string(), "é".to_string()),
            ]
        );
        assert!(query_pairs("").is_empty());
    }

    #[test]
    fn an_authorization_request_survives_sign_in() {
        // Kept byte for byte (the page reads it decoded once: `ui::query`).
        let next = "/oauth/authorize?response_type=code&scope=launch%2Fpatient%20openid%20patient%2F*.rs&state=a%2Bb";
        assert_eq!(safe_next(Some(next)), next);
        // A raw space is never followed (it would be a header value's end, or a decoding bug).
        assert_eq!(safe_next(Some("/oauth/authorize?scope=a b")), "/account");
        assert_eq!(safe_next(Some("/record\n")), "/account");
    }

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
    fn a_patient_lands_on_their_record_and_staff_on_their_work() {
        assert_eq!(after_sign_in(None, [Role::Patient]), "/record");
        assert_eq!(after_sign_in(Some(""), [Role::Patient]), "/record");
        assert_eq!(after_sign_in(Some("https://evil.example/"), [Role::Patient]), "/record");
        assert_eq!(after_sign_in(Some("/requests"), [Role::Patient]), "/requests");
        assert_eq!(after_sign_in(None, [Role::Caregiver]), "/people");
        assert_eq!(after_sign_in(None, [Role::Patient, Role::HimStaff]), "/staff/requests");
        assert_eq!(after_sign_in(None, [Role::HimReviewer]), "/staff/reviews");
        assert_eq!(after_sign_in(None, [Role::Administrator]), "/admin/users");
        assert_eq!(after_sign_in(None, []), "/account");
    }

    #[test]
    fn paths_are_percent_encoded_for_a_query_string() {
        assert_eq!(percent("/record?x=1 2"), "/record%3Fx%3D1%202");
    }
}
