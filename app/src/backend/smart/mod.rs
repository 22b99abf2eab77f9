//! SMART App Launch on the server side (issue 22): the checks an authorization server makes on
//! every code and token, kept apart from the routes that use them so each is tested alone.
//!
//! - PKCE (RFC 7636) with `S256` only, as SMART 2 requires: the verifier is 43–128 characters of
//!   the unreserved set, and its SHA-256, base64url without padding, must equal the challenge the
//!   app sent with the authorization request. `plain` is never accepted (it would let whoever
//!   saw the authorization request redeem the code).
//! - Redirect URIs match a registered one exactly, character for character (RFC 6749 3.1.2.2,
//!   OAuth 2.0 Security BCP): no prefix or pattern matching, which open redirectors exploit.
//! - Codes and tokens are 32 random bytes in hex (URL-safe as they are: `fhirclient` does not
//!   URL-encode the code it posts), stored only as their SHA-256, so the tables never hold one
//!   that works.

pub mod apps;
pub mod fhir;
pub mod id_token;
pub mod routes;
pub mod search;

use base64::Engine;
use sha2::{Digest, Sha256};

/// The shortest and longest PKCE code verifier (RFC 7636 4.1).
pub const VERIFIER_CHARS: std::ops::RangeInclusive<usize> = 43..=128;

/// Whether `text` is a well-formed PKCE code verifier: 43–128 characters of
/// `A-Z a-z 0-9 - . _ ~`.
pub fn is_verifier(text: &str) -> bool {
    VERIFIER_CHARS.contains(&text.len()) && text.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Whether `text` can be an `S256` challenge: base64url without padding of 32 bytes.
pub fn is_challenge(text: &str) -> bool {
    text.len() == 43 && base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(text).is_ok_and(|bytes| bytes.len() == 32)
}

/// The `S256` challenge of `verifier`.
pub fn challenge_of(verifier: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()))
}

/// Whether `verifier` answers `challenge` (compared in constant time: the challenge is not
/// secret, but the comparison costs nothing to make safe).
pub fn verifier_matches(verifier: &str, challenge: &str) -> bool {
    is_verifier(verifier) && crate::backend::auth::oidc::constant_time_eq(challenge_of(verifier).as_bytes(), challenge.as_bytes())
}

/// Whether `asked` is one of the app's registered redirect URIs, exactly.
pub fn redirect_registered<'a>(asked: &str, registered: impl IntoIterator<Item = &'a str>) -> bool {
    registered.into_iter().any(|r| r == asked)
}

/// A new authorization code, access token or refresh token.
pub fn new_secret() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

/// How a code or token is stored and looked up: its SHA-256 in hex.
pub fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_7636_appendix_b_example() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert_eq!(challenge_of(verifier), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
        assert!(is_challenge("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
        assert!(verifier_matches(verifier, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
        assert!(!verifier_matches("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXK", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"));
    }

    #[test]
    fn malformed_verifiers_and_challenges_are_refused() {
        assert!(!is_verifier(&"a".repeat(42)));
        assert!(is_verifier(&"a".repeat(43)));
        assert!(is_verifier(&"a".repeat(128)));
        assert!(!is_verifier(&"a".repeat(129)));
        assert!(!is_verifier(&format!("{}+", "a".repeat(43))));
        // `plain`: the verifier itself as the challenge never matches.
        let verifier = "a".repeat(43);
        assert!(!verifier_matches(&verifier, &verifier));
        assert!(!is_challenge("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-c"));
        assert!(!is_challenge("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM"));
    }

    #[test]
    fn redirect_uris_match_exactly() {
        let registered = ["https://app.example/callback", "http://127.0.0.1:9000/cb"];
        assert!(redirect_registered("https://app.example/callback", registered));
        for asked in ["https://app.example/callback/", "https://app.example/callback?x=1", "https://app.example/callbackevil", "HTTPS://app.example/callback", "https://app.example"] {
            assert!(!redirect_registered(asked, registered), "{asked}");
        }
    }

    #[test]
    fn secrets_are_fresh_url_safe_and_stored_hashed() {
        let (a, b) = (new_secret(), new_secret());
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(secret_hash(&a).len(), 64);
        assert_ne!(secret_hash(&a), a);
    }
}
