//! OpenID Connect sign-in: the protocol half (the database half is `identities`, the routes are
//! `backend::oidc_routes`). Authorization code flow with PKCE (RFC 7636), `state` against
//! login CSRF and `nonce` against ID-token replay (OpenID Connect Core 1.0 §3.1.2.1, §15.5.2),
//! all three kept in the server-side session and removed on the callback, whatever its outcome.
//! Provider metadata and keys come from discovery (OpenID Connect Discovery 1.0) and are cached
//! for an hour; the ID token's signature, issuer, audience, expiry and nonce are verified by the
//! `openidconnect` crate. The HTTP client follows no redirects, so a provider answer cannot
//! point the server at another host (SSRF).

use crate::domain::ProviderInfo;
use crate::backend::db::now_ms;
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClientId, ClientSecret, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, Scope, TokenResponse,
};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;

/// How long discovered metadata and signing keys are trusted before they are fetched again.
const METADATA_TTL_MS: i64 = 60 * 60 * 1000;
/// A sign-in at the provider must come back within this time (the pending state expires).
pub const PENDING_TTL_MS: i64 = 10 * 60 * 1000;

/// One configured provider, as the server's settings describe it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderConfig {
    /// Short, URL-safe name used in paths (`/auth/oidc/{id}/start`).
    pub id: String,
    /// What the button says, e.g. "Hospital staff sign-in".
    pub label: String,
    pub issuer: String,
    pub client_id: String,
    /// `None` for a public client (PKCE alone).
    pub client_secret: Option<String>,
    /// Offered on the activation page, so new patients can register with it.
    pub for_patients: bool,
}

/// What the person wanted when they left for the provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Intent {
    /// Sign in, then go to `next` (already checked by `safe_next`).
    SignIn { next: String },
    /// Link the identity to the signed-in account behind this login session.
    Link { user_id: String, login_id: String },
    /// Register with an activation letter; the code is kept only as its hash.
    Activate { code_hash: String, birth_date: String, name: String, email: String },
}

/// The flow's secrets, kept in the session between the redirect and the callback.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    pub provider: String,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
    pub intent: Intent,
    pub started_ms: i64,
}

/// What the provider sent back to the callback.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Callback {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
}

/// An identity the provider vouched for (ID token verified).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedIdentity {
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub name: Option<String>,
}

/// Why a flow failed. Each maps to a fixed message for the person and an audit detail; none
/// echoes what the provider or the browser sent.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OidcError {
    #[error("no such provider")]
    UnknownProvider,
    #[error("the provider could not be reached or its metadata is invalid")]
    ProviderUnavailable,
    /// No flow in this session, or `state` differs: a forged or replayed callback.
    #[error("state mismatch")]
    StateMismatch,
    #[error("the sign-in took too long")]
    Expired,
    /// The person cancelled, or the provider refused (`error=` on the callback).
    #[error("the provider refused")]
    Refused,
    /// The code was refused at the token endpoint (replayed, forged, or PKCE mismatch).
    #[error("the code was refused")]
    CodeRejected,
    /// No ID token, or one that fails verification (signature, issuer, audience, nonce, expiry).
    #[error("the ID token was rejected: {0}")]
    TokenRejected(String),
}

impl OidcError {
    /// The audit detail (a fixed vocabulary).
    pub fn audit_detail(&self) -> &'static str {
        match self {
            OidcError::UnknownProvider => "oidc_unknown_provider",
            OidcError::ProviderUnavailable => "oidc_provider_unavailable",
            OidcError::StateMismatch => "oidc_state_mismatch",
            OidcError::Expired => "oidc_expired",
            OidcError::Refused => "oidc_refused",
            OidcError::CodeRejected => "oidc_code_rejected",
            OidcError::TokenRejected(_) => "oidc_token_rejected",
        }
    }
}

struct Provider {
    config: ProviderConfig,
    /// Discovered metadata (with the signing keys) and when it was fetched.
    metadata: Mutex<Option<(CoreProviderMetadata, i64)>>,
}

/// Every configured provider, shared by all requests (cheap to clone).
#[derive(Clone)]
pub struct Oidc {
    providers: Arc<Vec<Provider>>,
    http: openidconnect::reqwest::Client,
    redirect_uri: RedirectUrl,
}

impl std::fmt::Debug for Oidc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never prints client secrets.
        f.debug_struct("Oidc").field("providers", &self.providers.iter().map(|p| &p.config.id).collect::<Vec<_>>()).finish()
    }
}

/// Why the OpenID Connect client could not be set up (a start-up error).
#[derive(Debug, thiserror::Error)]
pub enum OidcSetupError {
    #[error("building the HTTP client failed: {0}")]
    Client(openidconnect::reqwest::Error),
    #[error("invalid callback address: {0}")]
    Callback(openidconnect::url::ParseError),
}

/// The path providers send people back to (register `{public_url}/auth/oidc/callback`).
pub const CALLBACK_PATH: &str = "/auth/oidc/callback";

impl Oidc {
    /// `base_url` is the address people use; the callback is `{base_url}/auth/oidc/callback`.
    pub fn new(configs: Vec<ProviderConfig>, base_url: &str) -> Result<Self, OidcSetupError> {
        let http = openidconnect::reqwest::ClientBuilder::new()
            // Following redirects would let a provider's answer send the server elsewhere (SSRF).
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .build()
            .map_err(OidcSetupError::Client)?;
        let redirect_uri = RedirectUrl::new(format!("{}{CALLBACK_PATH}", base_url.trim_end_matches('/')))
            .map_err(OidcSetupError::Callback)?;
        let providers = configs.into_iter().map(|config| Provider { config, metadata: Mutex::new(None) }).collect();
        Ok(Oidc { providers: Arc::new(providers), http, redirect_uri })
    }

    /// No providers configured: the portal offers passwords only.
    pub fn disabled() -> Self {
        Oidc::new(Vec::new(), "http://127.0.0.1").unwrap_or_else(|_| unreachable!("a fixed, valid address"))
    }

    pub fn providers(&self) -> Vec<ProviderInfo> {
        self.providers
            .iter()
            .map(|p| ProviderInfo { id: p.config.id.clone(), label: p.config.label.clone(), for_patients: p.config.for_patients })
            .collect()
    }

    /// The label of a provider, for messages and the audit detail.
    pub fn label(&self, id: &str) -> Option<String> {
        self.find(id).ok().map(|p| p.config.label.clone())
    }

    /// The label of the provider whose issuer is `issuer` (as an ID token names it).
    pub fn label_for_issuer(&self, issuer: &str) -> Option<String> {
        self.providers.iter().find(|p| p.config.issuer == issuer).map(|p| p.config.label.clone())
    }

    fn find(&self, id: &str) -> Result<&Provider, OidcError> {
        self.providers.iter().find(|p| p.config.id == id).ok_or(OidcError::UnknownProvider)
    }

    /// Discovery, cached; `refresh` fetches again (the provider may have rotated its keys).
    async fn metadata(&self, provider: &Provider, refresh: bool) -> Result<CoreProviderMetadata, OidcError> {
        let mut cached = provider.metadata.lock().await;
        if let Some((metadata, fetched)) = cached.as_ref()
            && !refresh
            && now_ms() - fetched < METADATA_TTL_MS
        {
            return Ok(metadata.clone());
        }
        let issuer = IssuerUrl::new(provider.config.issuer.clone()).map_err(|_| OidcError::ProviderUnavailable)?;
        let metadata = CoreProviderMetadata::discover_async(issuer, &self.http).await.map_err(|e| {
            tracing::warn!(provider = %provider.config.id, error = %e, "OpenID provider discovery failed");
            OidcError::ProviderUnavailable
        })?;
        *cached = Some((metadata.clone(), now_ms()));
        Ok(metadata)
    }

    fn client(&self, provider: &Provider, metadata: CoreProviderMetadata) -> DiscoveredClient {
        CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(provider.config.client_id.clone()),
            provider.config.client_secret.clone().map(ClientSecret::new),
        )
        .set_redirect_uri(self.redirect_uri.clone())
    }

    /// Starts a flow: returns the provider's authorization address to send the browser to, and
    /// the secrets to keep in the session until the callback.
    pub async fn start(&self, provider_id: &str, intent: Intent) -> Result<(String, Pending), OidcError> {
        let provider = self.find(provider_id)?;
        let metadata = self.metadata(provider, false).await?;
        let client = self.client(provider, metadata);
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let (url, state, nonce) = client
            .authorize_url(CoreAuthenticationFlow::AuthorizationCode, CsrfToken::new_random, Nonce::new_random)
            .add_scope(Scope::new("email".into()))
            .add_scope(Scope::new("profile".into()))
            .set_pkce_challenge(challenge)
            .url();
        let pending = Pending {
            provider: provider_id.to_string(),
            state: state.secret().clone(),
            nonce: nonce.secret().clone(),
            pkce_verifier: verifier.secret().clone(),
            intent,
            started_ms: now_ms(),
        };
        Ok((url.to_string(), pending))
    }

    /// Finishes a flow: checks `state` against the session's pending flow, exchanges the code
    /// (with the PKCE verifier) and verifies the ID token (signature, issuer, audience, expiry,
    /// nonce). The caller has already removed `pending` from the session (single use).
    pub async fn finish(&self, pending: Option<&Pending>, callback: &Callback) -> Result<VerifiedIdentity, OidcError> {
        let Some(pending) = pending else { return Err(OidcError::StateMismatch) };
        let state_ok = callback.state.as_deref().is_some_and(|s| constant_time_eq(s.as_bytes(), pending.state.as_bytes()));
        if !state_ok {
            return Err(OidcError::StateMismatch);
        }
        if now_ms() - pending.started_ms > PENDING_TTL_MS {
            return Err(OidcError::Expired);
        }
        if callback.error.is_some() {
            return Err(OidcError::Refused);
        }
        let Some(code) = callback.code.clone().filter(|c| !c.is_empty() && c.len() <= 2048) else {
            return Err(OidcError::CodeRejected);
        };
        let provider = self.find(&pending.provider)?;
        let metadata = self.metadata(provider, false).await?;
        let client = self.client(provider, metadata);
        let request = client.exchange_code(AuthorizationCode::new(code)).map_err(|_| OidcError::ProviderUnavailable)?;
        let response = request
            .set_pkce_verifier(PkceCodeVerifier::new(pending.pkce_verifier.clone()))
            .request_async(&self.http)
            .await
            .map_err(|e| match e {
                // The provider answered with an OAuth error (invalid_grant: a replayed or forged
                // code, or a PKCE verifier that does not match).
                openidconnect::RequestTokenError::ServerResponse(_) => OidcError::CodeRejected,
                other => {
                    tracing::warn!(error = %other, "OpenID token request failed");
                    OidcError::ProviderUnavailable
                }
            })?;
        let Some(id_token) = response.id_token() else {
            return Err(OidcError::TokenRejected("no ID token".into()));
        };
        let nonce = Nonce::new(pending.nonce.clone());
        let verified = {
            let verifier = client.id_token_verifier();
            id_token.claims(&verifier, &nonce).cloned()
        };
        let claims = match verified {
            Ok(claims) => claims,
            Err(openidconnect::ClaimsVerificationError::SignatureVerification(_)) => {
                // Perhaps the provider rotated its keys: fetch them again and retry once.
                let metadata = self.metadata(provider, true).await?;
                let client = self.client(provider, metadata);
                let verifier = client.id_token_verifier();
                id_token.claims(&verifier, &nonce).cloned().map_err(|e| OidcError::TokenRejected(e.to_string()))?
            }
            Err(e) => return Err(OidcError::TokenRejected(e.to_string())),
        };
        Ok(VerifiedIdentity {
            issuer: claims.issuer().as_str().to_string(),
            subject: claims.subject().as_str().to_string(),
            email: claims.email().map(|e| e.as_str().to_string()),
            email_verified: claims.email_verified().unwrap_or(false),
            name: claims.name().and_then(|n| n.get(None)).map(|n| n.as_str().to_string()),
        })
    }
}

/// The client as discovery configures it (authorization endpoint known; token and user-info
/// endpoints as the provider's metadata says).
type DiscoveredClient = CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

/// Compares secrets without an early exit on the first differing byte.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_compares_whole_values() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"abc", b"abcd"));
        assert!(!constant_time_eq(b"", b"a"));
    }

    fn pending() -> Pending {
        Pending {
            provider: "idp".into(),
            state: "expected-state".into(),
            nonce: "n".into(),
            pkce_verifier: "v".into(),
            intent: Intent::SignIn { next: "/account".into() },
            started_ms: now_ms(),
        }
    }

    fn oidc() -> Oidc {
        let config = ProviderConfig {
            id: "idp".into(),
            label: "IdP".into(),
            // Never contacted: every case below fails before discovery.
            issuer: "http://127.0.0.1:9".into(),
            client_id: "portal".into(),
            client_secret: None,
            for_patients: false,
        };
        Oidc::new(vec![config], "http://127.0.0.1:3000").unwrap_or_else(|e| panic!("{e}"))
    }

    #[tokio::test]
    async fn a_callback_without_a_flow_in_this_session_is_a_state_mismatch() {
        let callback = Callback { code: Some("c".into()), state: Some("expected-state".into()), error: None };
        assert_eq!(oidc().finish(None, &callback).await, Err(OidcError::StateMismatch));
    }

    #[tokio::test]
    async fn a_forged_or_missing_state_is_refused_before_the_code_is_used() {
        let forged = Callback { code: Some("c".into()), state: Some("forged".into()), error: None };
        assert_eq!(oidc().finish(Some(&pending()), &forged).await, Err(OidcError::StateMismatch));
        let missing = Callback { code: Some("c".into()), state: None, error: None };
        assert_eq!(oidc().finish(Some(&pending()), &missing).await, Err(OidcError::StateMismatch));
    }

    #[tokio::test]
    async fn a_flow_older_than_ten_minutes_has_expired() {
        let mut old = pending();
        old.started_ms -= PENDING_TTL_MS + 1;
        let callback = Callback { code: Some("c".into()), state: Some("expected-state".into()), error: None };
        assert_eq!(oidc().finish(Some(&old), &callback).await, Err(OidcError::Expired));
    }

    #[tokio::test]
    async fn an_error_from_the_provider_is_a_refusal_and_a_missing_code_is_rejected() {
        let refused = Callback { code: None, state: Some("expected-state".into()), error: Some("access_denied".into()) };
        assert_eq!(oidc().finish(Some(&pending()), &refused).await, Err(OidcError::Refused));
        let no_code = Callback { code: None, state: Some("expected-state".into()), error: None };
        assert_eq!(oidc().finish(Some(&pending()), &no_code).await, Err(OidcError::CodeRejected));
    }

    #[tokio::test]
    async fn an_unknown_provider_is_refused() {
        assert_eq!(oidc().start("nope", Intent::SignIn { next: "/".into() }).await.err(), Some(OidcError::UnknownProvider));
    }
}
