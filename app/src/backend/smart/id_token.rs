//! ID tokens for apps that ask for `openid fhirUser` (issue 22; SMART App Launch 2.x
//! "Scopes for requesting identity data"; OpenID Connect Core 1.0 2 and 3.1.3.7).
//!
//! - Signed with RS256, the algorithm SMART servers must support, by an RSA key the portal
//!   makes itself the first time one is needed (`signing_key`, migration 17). The private key is
//!   sealed with the site's file keys; the public half is published at `/oauth/jwks`, with
//!   every key not retired, so any of several servers may sign and every token verifies.
//! - Claims: `iss` (the FHIR base URL, the `aud` the app asked with), `sub` (the signed-in
//!   person's account id, stable and meaningless elsewhere), `aud` (the app's client id),
//!   `iat`/`exp` (five minutes), `nonce` (the app's, from the authorization request), and
//!   `fhirUser`: the absolute URL of the Patient resource when the person signed in is that
//!   patient. A caregiver has no FHIR resource the API serves (no RelatedPerson), so their ID
//!   token carries no `fhirUser` rather than one that names the patient as the user.

use crate::backend::copies::seal::FileKeys;
use crate::backend::db::now_ms;
use openidconnect::core::{CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm, CoreRsaPrivateSigningKey};
use openidconnect::{AdditionalClaims, Audience, IdToken, IdTokenClaims, IssuerUrl, JsonWebKeyId, Nonce, PrivateSigningKey, StandardClaims, SubjectIdentifier};
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};

/// How long an ID token is good for: it proves a sign-in that just happened.
pub const ID_TOKEN_SECS: i64 = 300;

/// The bits of a signing key: 2048, the size RS256 keys are expected to have at least.
const KEY_BITS: usize = 2048;

pub mod signing_key {
    //! The keys that sign ID tokens (not patient data).
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "signing_key")]
    pub struct Model {
        /// The JWK `kid`.
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub alg: String,
        /// The PKCS#1 PEM, sealed (`FileKeys::seal_text`).
        pub private_sealed: String,
        /// The public key as a JSON Web Key.
        pub public_jwk: String,
        pub created_at_ms: i64,
        pub retired_at_ms: Option<i64>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// SMART's claim beside the standard ones.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SmartClaims {
    #[serde(rename = "fhirUser", default, skip_serializing_if = "Option::is_none")]
    pub fhir_user: Option<String>,
}

impl AdditionalClaims for SmartClaims {}

type SmartIdToken = IdToken<SmartClaims, CoreGenderClaim, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm>;

/// Why no ID token could be made (logged by the caller; the app gets `server_error`).
#[derive(Debug)]
pub enum IdTokenError {
    Db(sea_orm::DbErr),
    Key(String),
}

impl From<sea_orm::DbErr> for IdTokenError {
    fn from(e: sea_orm::DbErr) -> Self {
        IdTokenError::Db(e)
    }
}

impl std::fmt::Display for IdTokenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            IdTokenError::Db(e) => write!(f, "database: {e}"),
            IdTokenError::Key(e) => write!(f, "signing key: {e}"),
        }
    }
}

/// What signs: the database holding the keys, the keys that seal them, and the issuer.
pub struct IdTokenSigner<'a> {
    pub db: &'a DatabaseConnection,
    pub keys: &'a FileKeys,
    /// The FHIR base URL.
    pub issuer: String,
}

/// What one ID token says.
pub struct IdentityClaims<'a> {
    pub client_id: &'a str,
    pub subject: &'a str,
    pub fhir_user: Option<String>,
    pub nonce: Option<&'a str>,
}

fn context(kid: &str) -> String {
    format!("signing_key/{kid}")
}

/// The newest key in use, made (and stored) when there is none.
async fn current_key(signer: &IdTokenSigner<'_>) -> Result<CoreRsaPrivateSigningKey, IdTokenError> {
    let newest = signing_key::Entity::find()
        .filter(signing_key::Column::RetiredAtMs.is_null())
        .order_by_desc(signing_key::Column::CreatedAtMs)
        .one(signer.db)
        .await?;
    if let Some(row) = newest {
        let pem = signer
            .keys
            .open_text(&row.private_sealed, &context(&row.id))
            .ok_or_else(|| IdTokenError::Key("not sealed text".into()))?
            .map_err(|e| IdTokenError::Key(e.to_string()))?;
        let pem = String::from_utf8(pem).map_err(|e| IdTokenError::Key(e.to_string()))?;
        return CoreRsaPrivateSigningKey::from_pem(&pem, Some(JsonWebKeyId::new(row.id))).map_err(IdTokenError::Key);
    }
    // Key generation is CPU work of a second or so: off the async workers.
    let pem = tokio::task::spawn_blocking(|| {
        use rsa::pkcs1::EncodeRsaPrivateKey;
        let key = rsa::RsaPrivateKey::new(&mut rand_core_06::OsRng, KEY_BITS).map_err(|e| e.to_string())?;
        key.to_pkcs1_pem(rsa::pkcs1::LineEnding::LF).map(|pem| pem.to_string()).map_err(|e| e.to_string())
    })
    .await
    .map_err(|e| IdTokenError::Key(e.to_string()))?
    .map_err(IdTokenError::Key)?;
    let kid = uuid::Uuid::new_v4().to_string();
    let key = CoreRsaPrivateSigningKey::from_pem(&pem, Some(JsonWebKeyId::new(kid.clone()))).map_err(IdTokenError::Key)?;
    let public_jwk = serde_json::to_string(&key.as_verification_key()).map_err(|e| IdTokenError::Key(e.to_string()))?;
    let sealed = signer.keys.seal_text(pem.as_bytes(), &context(&kid)).map_err(|e| IdTokenError::Key(e.to_string()))?;
    // Two servers making their first key at once each store their own: both are published.
    signing_key::Entity::insert(signing_key::ActiveModel {
        id: Set(kid),
        alg: Set("RS256".into()),
        private_sealed: Set(sealed),
        public_jwk: Set(public_jwk),
        created_at_ms: Set(now_ms()),
        retired_at_ms: Set(None),
    })
    .exec_without_returning(signer.db)
    .await?;
    Ok(key)
}

/// A signed ID token (compact JWS).
pub async fn sign(signer: &IdTokenSigner<'_>, who: IdentityClaims<'_>) -> Result<String, IdTokenError> {
    let key = current_key(signer).await?;
    let now = chrono::Utc::now();
    let claims = IdTokenClaims::new(
        IssuerUrl::new(signer.issuer.clone()).map_err(|e| IdTokenError::Key(format!("issuer: {e}")))?,
        vec![Audience::new(who.client_id.to_string())],
        now + chrono::Duration::seconds(ID_TOKEN_SECS),
        now,
        StandardClaims::new(SubjectIdentifier::new(who.subject.to_string())),
        SmartClaims { fhir_user: who.fhir_user },
    )
    .set_nonce(who.nonce.filter(|n| !n.is_empty()).map(|n| Nonce::new(n.to_string())));
    let token = SmartIdToken::new(claims, &key, CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256, None, None).map_err(|e| IdTokenError::Key(e.to_string()))?;
    Ok(token.to_string())
}

/// The JSON Web Key Set apps verify ID tokens with (RFC 7517 5): every key not retired.
pub async fn key_set(db: &DatabaseConnection) -> Result<serde_json::Value, sea_orm::DbErr> {
    let rows = signing_key::Entity::find().filter(signing_key::Column::RetiredAtMs.is_null()).order_by_desc(signing_key::Column::CreatedAtMs).all(db).await?;
    let keys: Vec<serde_json::Value> = rows
        .iter()
        .filter_map(|r| serde_json::from_str::<serde_json::Value>(&r.public_jwk).ok())
        .map(|mut jwk| {
            // What the key is for, said outright (RFC 7517 4.2, 4.4).
            jwk["use"] = "sig".into();
            jwk["alg"] = "RS256".into();
            jwk
        })
        .collect();
    Ok(serde_json::json!({ "keys": keys }))
}

/// OpenID Connect discovery (OpenID Connect Discovery 1.0 3) at the issuer, the FHIR base URL.
pub fn openid_configuration(site: &str, scopes: &serde_json::Value) -> serde_json::Value {
    let site = site.trim_end_matches('/');
    serde_json::json!({
        "issuer": format!("{site}/fhir/r4"),
        "authorization_endpoint": format!("{site}/oauth/authorize"),
        "token_endpoint": format!("{site}/oauth/token"),
        "jwks_uri": format!("{site}/oauth/jwks"),
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "scopes_supported": scopes,
        "claims_supported": ["iss", "sub", "aud", "exp", "iat", "nonce", "fhirUser"],
        "code_challenge_methods_supported": ["S256"],
    })
}
