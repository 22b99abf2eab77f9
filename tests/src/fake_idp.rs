//! A hostile OpenID provider for the ID-token checks a real provider never gives a reason to
//! test: it serves genuine discovery metadata and signing keys, then answers the token request
//! with an ID token that is wrong in one chosen way (another audience, another issuer, expired,
//! a broken signature). `Flaw::None` proves the same set-up signs in, so each refusal is the
//! portal's check at work, not a broken fixture. The signing key is a test-only key
//! (`tests/oidc/fake-idp-key.pem`), never used elsewhere.

use axum::Router;
use axum::extract::State;
use axum::routing::{get, post};
use openidconnect::core::{
    CoreIdToken, CoreIdTokenClaims, CoreJsonWebKeySet, CoreJwsSigningAlgorithm, CoreRsaPrivateSigningKey,
};
use openidconnect::{
    Audience, EmptyAdditionalClaims, IssuerUrl, JsonWebKeyId, Nonce, PrivateSigningKey, StandardClaims,
    SubjectIdentifier,
};
use std::sync::{Arc, Mutex};

const KEY_PEM: &str = include_str!("../oidc/fake-idp-key.pem");

/// How the ID token is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flaw {
    None,
    OtherAudience,
    OtherIssuer,
    Expired,
    BrokenSignature,
}

#[derive(Clone)]
struct Shared {
    issuer: String,
    client_id: String,
    flaw: Flaw,
    /// The nonce of the flow under way (the test copies it from the authorization address).
    nonce: Arc<Mutex<String>>,
}

/// A running hostile provider.
pub struct FakeIdp {
    pub issuer: String,
    pub client_id: String,
    nonce: Arc<Mutex<String>>,
}

impl FakeIdp {
    pub async fn start(flaw: Flaw) -> FakeIdp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let issuer = format!("http://{}", listener.local_addr().expect("address"));
        let nonce = Arc::new(Mutex::new(String::new()));
        let shared = Shared { issuer: issuer.clone(), client_id: "portal".into(), flaw, nonce: nonce.clone() };
        let router = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/token", post(token))
            .with_state(shared);
        tokio::spawn(async move { axum::serve(listener, router).await });
        FakeIdp { issuer, client_id: "portal".into(), nonce }
    }

    /// The nonce the portal put in its authorization request, which an honest provider echoes.
    pub fn expect_nonce(&self, nonce: &str) {
        *self.nonce.lock().expect("lock") = nonce.to_string();
    }
}

fn key() -> CoreRsaPrivateSigningKey {
    CoreRsaPrivateSigningKey::from_pem(KEY_PEM, Some(JsonWebKeyId::new("test-key".into()))).expect("the test key parses")
}

async fn discovery(State(s): State<Shared>) -> axum::Json<serde_json::Value> {
    axum::Json(serde_json::json!({
        "issuer": s.issuer,
        "authorization_endpoint": format!("{}/authorize", s.issuer),
        "token_endpoint": format!("{}/token", s.issuer),
        "jwks_uri": format!("{}/jwks", s.issuer),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
    }))
}

async fn jwks() -> axum::Json<CoreJsonWebKeySet> {
    axum::Json(CoreJsonWebKeySet::new(vec![key().as_verification_key()]))
}

async fn token(State(s): State<Shared>) -> axum::Json<serde_json::Value> {
    let now = chrono::Utc::now();
    let issuer = if s.flaw == Flaw::OtherIssuer { "http://127.0.0.1:1/someone-else".to_string() } else { s.issuer.clone() };
    let audience = if s.flaw == Flaw::OtherAudience { "another-client".to_string() } else { s.client_id.clone() };
    let (issued, expires) = if s.flaw == Flaw::Expired {
        (now - chrono::Duration::hours(2), now - chrono::Duration::hours(1))
    } else {
        (now, now + chrono::Duration::minutes(5))
    };
    let nonce = s.nonce.lock().expect("lock").clone();
    let claims = CoreIdTokenClaims::new(
        IssuerUrl::new(issuer).expect("issuer"),
        vec![Audience::new(audience)],
        expires,
        issued,
        StandardClaims::new(SubjectIdentifier::new("mallory".into())),
        EmptyAdditionalClaims {},
    )
    .set_nonce(Some(Nonce::new(nonce)));
    let token = CoreIdToken::new(claims, &key(), CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256, None, None).expect("signed");
    let mut jwt = serde_json::to_value(&token).expect("JWT").as_str().expect("compact JWT").to_string();
    if s.flaw == Flaw::BrokenSignature {
        // Flip the signature's first character: same shape, wrong bytes.
        let dot = jwt.rfind('.').expect("three parts") + 1;
        let flipped = if jwt.as_bytes()[dot] == b'A' { "B" } else { "A" };
        jwt.replace_range(dot..=dot, flipped);
    }
    axum::Json(serde_json::json!({
        "access_token": "fake-access-token",
        "token_type": "Bearer",
        "expires_in": 300,
        "id_token": jwt,
    }))
}
