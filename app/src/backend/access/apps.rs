//! Apps of the patient's choice through the access context (issue 22, SMART App Launch 2.x
//! standalone launch): the authorization request checked and shown for consent, the person's
//! decision turned into a grant and a single-use code, and the token endpoint's exchanges.
//!
//! Order of the checks (RFC 6749 4.1.2.1): until the app and its redirect URI are known good,
//! nothing is sent to that URI (an error page says what is wrong, naming the field); after, a
//! malformed request goes back to the app as an OAuth error. The grant is for the record on
//! screen (the patient's own, or the one a caregiver acts for), which the policy must let the
//! signed-in person read: a caregiver grants an app only what they may see themselves.
//!
//! Tokens (RFC 6749 10.4, 10.5; OAuth 2.0 Security BCP 4.13, 4.14): a code is used once, within
//! five minutes, with the redirect URI and the PKCE verifier it was asked with; a second use
//! revokes the grant. A refresh token is used once and replaced; a second use (a stolen token
//! replayed) revokes the whole grant.

use super::AccessContext;
use super::rows::{caregiver_grant, in_force, patient_row, smart_code, smart_grant, smart_token};
use crate::backend::audit::{self, AuditAction, AuditEvent, Outcome};
use crate::backend::db::{now_ms, write_transaction};
use crate::backend::entities::{app_user, smart_app};
use crate::backend::smart::id_token::{self, IdTokenSigner, IdentityClaims};
use crate::backend::policy::{Action, Target};
use crate::backend::request::RequestMeta;
use crate::backend::smart::{is_challenge, new_secret, redirect_registered, secret_hash, verifier_matches};
use crate::domain::FieldError;
use crate::domain::smart::{AuthorizeQuery, Consent, ConnectedApp, ConsentView, Scope, ScopeChoice, ScopeRequest, ScopeSet};
use crate::error::AppError;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, TransactionTrait};

/// How long a code may wait to be exchanged.
pub const CODE_MS: i64 = 5 * 60_000;
/// How long an access token works.
pub const ACCESS_MS: i64 = 60 * 60_000;
/// How long a grant with `offline_access` lasts (its refresh tokens with it), unless revoked.
pub const OFFLINE_MS: i64 = 90 * 24 * 3_600_000;
/// The longest `state` carried back to the app.
const MAX_STATE_CHARS: usize = 1_000;
/// The longest OpenID Connect `nonce` kept for the ID token.
const MAX_NONCE_CHARS: usize = 300;

fn invalid(field: &str, message: &str) -> AppError {
    AppError::Validation { fields: vec![FieldError { field: field.into(), message: message.into() }] }
}

/// `uri` with `pairs` added to its query (a registered URI, so it parses).
fn with_query(uri: &str, pairs: &[(&str, &str)]) -> String {
    match url::Url::parse(uri) {
        Ok(mut url) => {
            url.query_pairs_mut().extend_pairs(pairs.iter().filter(|(_, v)| !v.is_empty()));
            url.to_string()
        }
        Err(_) => uri.to_string(),
    }
}

/// A checked request: the app, and what it asked for that can be granted.
struct Checked {
    app: smart_app::Model,
    scopes: ScopeRequest,
}

/// Checks an authorization request. `Err` is an error page (field named); `Ok(Err(url))` sends
/// the browser back to the app with an OAuth error.
async fn check(db: &DatabaseConnection, q: &AuthorizeQuery, fhir_base: &str) -> Result<Result<Checked, String>, AppError> {
    let app = smart_app::Entity::find_by_id(q.client_id.as_str())
        .one(db)
        .await?
        .filter(|a| a.disabled_at_ms.is_none())
        .ok_or_else(|| invalid("client_id", "no app is registered with this client_id"))?;
    let registered: Vec<String> = serde_json::from_str(&app.redirect_uris).unwrap_or_default();
    if !redirect_registered(&q.redirect_uri, registered.iter().map(String::as_str)) {
        return Err(invalid("redirect_uri", "is not one of the redirect URIs this app registered"));
    }
    if q.state.chars().count() > MAX_STATE_CHARS {
        return Err(invalid("state", "is longer than 1,000 characters"));
    }
    if q.nonce.chars().count() > MAX_NONCE_CHARS {
        return Err(invalid("nonce", "is longer than 300 characters"));
    }
    let back = |error: &str, description: &str| Ok(Err(with_query(&q.redirect_uri, &[("error", error), ("error_description", description), ("state", &q.state)])));
    if q.response_type != "code" {
        return back("unsupported_response_type", "only response_type=code is supported");
    }
    if q.code_challenge_method != "S256" || !is_challenge(&q.code_challenge) {
        return back("invalid_request", "PKCE is required: code_challenge_method=S256 with a code_challenge");
    }
    if q.aud.trim_end_matches('/') != fhir_base.trim_end_matches('/') {
        return back("invalid_request", "aud must be this server's FHIR base URL");
    }
    let Some(scopes) = ScopeRequest::parse(&q.scope) else {
        return back("invalid_scope", "scope is too long");
    };
    if !scopes.grantable.reads_data() {
        return back("invalid_scope", "no scope asked for is one this server grants to read data (patient/<Type>.rs)");
    }
    Ok(Ok(Checked { app, scopes }))
}

impl AccessContext {
    /// The record an app would read: the one on screen, which the signed-in person must be
    /// allowed to read (404 otherwise, like any record).
    async fn app_patient(&self) -> Result<patient_row::Model, AppError> {
        let id = self.subject().ok_or(AppError::NotFound)?;
        let grants = self.grants_for(&id).await?;
        self.authorize_with(Action::ReadPatientRecord, Target::Patient(&id), AuditAction::AppAuthorize, &grants).await?;
        patient_row::Entity::find_by_id(id)
            .filter(patient_row::Column::SiteCode.eq(self.site_code.as_str()))
            .one(&self.db)
            .await?
            .ok_or(AppError::NotFound)
    }

    /// An app's authorization request, checked: what the consent page asks, or where to send
    /// the browser back.
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn smart_consent(&self, q: &AuthorizeQuery, fhir_base: &str) -> Result<Consent, AppError> {
        let checked = match check(&self.db, q, fhir_base).await? {
            Ok(checked) => checked,
            Err(url) => return Ok(Consent::Redirect(url)),
        };
        let patient = self.app_patient().await?;
        Ok(Consent::Ask(ConsentView {
            app_name: checked.app.name,
            patient_name: format!("{} {}", patient.given_names, patient.family_name),
            scopes: checked.scopes.grantable.iter().map(|s| ScopeChoice { scope: s.to_string(), text: s.plain_language() }).collect(),
            refused: checked.scopes.refused,
        }))
    }

    /// The person's decision: approved, a grant of the ticked scopes (within what the app asked
    /// for) and a code for the app; denied, `access_denied`. Either way, where the browser goes.
    /// Audited with the app and the scopes.
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn smart_decide(&self, q: &AuthorizeQuery, fhir_base: &str, approve: bool, ticked: &[String]) -> Result<String, AppError> {
        let checked = match check(&self.db, q, fhir_base).await? {
            Ok(checked) => checked,
            Err(url) => return Ok(url),
        };
        let patient = self.app_patient().await?;
        let event = |outcome: Outcome, detail: String| self.event(AuditAction::AppAuthorize, outcome).patient(patient.id.as_str()).entity("smart_app", checked.app.id.as_str()).detail(detail);
        if !approve {
            self.audit_alone(event(Outcome::Denied, "denied by the person".into())).await?;
            return Ok(with_query(&q.redirect_uri, &[("error", "access_denied"), ("error_description", "the person did not allow it"), ("state", &q.state)]));
        }
        let ticked: ScopeSet = ticked.iter().filter_map(|t| Scope::parse(t)).collect();
        let granted = checked.scopes.grantable.narrowed_to(&ticked);
        if !granted.reads_data() {
            return Err(invalid("scopes", "tick at least one kind of data the app may read, or choose Don't allow"));
        }
        let now = now_ms();
        let grant_id = uuid::Uuid::new_v4().to_string();
        let code = new_secret();
        let txn = write_transaction(&self.db).await?;
        smart_grant::Entity::insert(smart_grant::ActiveModel {
            id: Set(grant_id.clone()),
            app_id: Set(checked.app.id.clone()),
            user_id: Set(self.principal.user_id.clone()),
            patient_id: Set(patient.id.clone()),
            scopes: Set(granted.to_text()),
            created_at_ms: Set(now),
            expires_at_ms: Set(now + if granted.contains(&Scope::OfflineAccess) { OFFLINE_MS } else { ACCESS_MS }),
            last_used_at_ms: Set(None),
            revoked_at_ms: Set(None),
            revoked_reason: Set(None),
        })
        .exec_without_returning(&txn)
        .await?;
        smart_code::Entity::insert(smart_code::ActiveModel {
            code_hash: Set(secret_hash(&code)),
            grant_id: Set(grant_id.clone()),
            redirect_uri: Set(q.redirect_uri.clone()),
            challenge: Set(q.code_challenge.clone()),
            expires_at_ms: Set(now + CODE_MS),
            used_at_ms: Set(None),
            nonce: Set(Some(q.nonce.clone()).filter(|n| !n.is_empty())),
        })
        .exec_without_returning(&txn)
        .await?;
        audit::record(&txn, event(Outcome::Success, format!("grant={grant_id} scopes={}", granted.to_text()))).await?;
        txn.commit().await?;
        Ok(with_query(&q.redirect_uri, &[("code", &code), ("state", &q.state)]))
    }
}

/// The token endpoint's form (RFC 6749 4.1.3, 6; SMART App Launch 2.x).
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(default)]
pub struct TokenForm {
    pub grant_type: String,
    pub code: String,
    pub redirect_uri: String,
    pub code_verifier: String,
    pub client_id: String,
    pub client_secret: String,
    pub refresh_token: String,
    pub scope: String,
    /// The revocation endpoint's token (RFC 7009 2.1), and its optional hint.
    pub token: String,
    pub token_type_hint: String,
}

/// A token endpoint error (RFC 6749 5.2): its status, code and description.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuthError {
    pub status: u16,
    pub error: &'static str,
    pub description: String,
}

impl OAuthError {
    fn grant(description: &str) -> Self {
        OAuthError { status: 400, error: "invalid_grant", description: description.into() }
    }
}

impl From<sea_orm::DbErr> for OAuthError {
    fn from(e: sea_orm::DbErr) -> Self {
        tracing::error!(error = %e, "token endpoint: database");
        OAuthError { status: 500, error: "server_error", description: "the server could not answer; try again".into() }
    }
}

/// What the token endpoint answers (SMART App Launch 2.x: `patient` names the record).
#[derive(Debug, Clone, serde::Serialize)]
pub struct TokenAnswer {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: i64,
    pub scope: String,
    pub patient: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// With `openid`: who signed in (OpenID Connect Core 3.1.3.3).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id_token: Option<String>,
}

/// Checks the client: the one the grant was made for, and a confidential one proves its secret
/// (HTTP Basic or the form). A public client's `client_id` may be left out on refresh (the
/// `fhirclient` library does), as the refresh token is bound to the grant's app.
async fn client_of(db: &DatabaseConnection, grant: &smart_grant::Model, form: &TokenForm, basic: Option<&(String, String)>, id_required: bool) -> Result<(), OAuthError> {
    let unknown = || OAuthError { status: 401, error: "invalid_client", description: "the client could not be authenticated".into() };
    let (given_id, given_secret) = match basic {
        Some((id, secret)) => (id.as_str(), secret.as_str()),
        None => (form.client_id.as_str(), form.client_secret.as_str()),
    };
    let app = smart_app::Entity::find_by_id(grant.app_id.as_str()).one(db).await?.filter(|a| a.disabled_at_ms.is_none()).ok_or_else(unknown)?;
    if (id_required || app.confidential || !given_id.is_empty()) && given_id != app.id {
        return Err(if given_id.is_empty() { unknown() } else { OAuthError::grant("the code or token was issued to another client") });
    }
    if app.confidential {
        let good = app.secret_hash.as_deref().is_some_and(|h| crate::backend::auth::oidc::constant_time_eq(h.as_bytes(), secret_hash(given_secret).as_bytes()));
        if !good {
            return Err(unknown());
        }
    }
    Ok(())
}

/// Revokes a grant and every token of it, with its audit event, in one transaction: a replayed
/// code or refresh token, the app's own revocation, or the person disconnecting the app.
async fn revoke_grant(db: &DatabaseConnection, grant_id: &str, reason: &str, event: AuditEvent) -> Result<(), sea_orm::DbErr> {
    let txn = write_transaction(db).await?;
    smart_grant::Entity::update_many()
        .col_expr(smart_grant::Column::RevokedAtMs, Expr::value(now_ms()))
        .col_expr(smart_grant::Column::RevokedReason, Expr::value(reason))
        .filter(smart_grant::Column::Id.eq(grant_id))
        .filter(smart_grant::Column::RevokedAtMs.is_null())
        .exec(&txn)
        .await?;
    smart_token::Entity::delete_many().filter(smart_token::Column::GrantId.eq(grant_id)).exec(&txn).await?;
    audit::record(&txn, event.entity("smart_grant", grant_id).detail(reason.to_string())).await?;
    txn.commit().await
}

/// Disconnects every app `user_id` connected to `patient_id`'s record, inside the caller's
/// transaction (a caregiver's access ending: their apps end with it, 45 CFR 164.502(g), rather
/// than waking up again if the caregiver is invited back). Returns how many.
pub(super) async fn end_apps_of(txn: &sea_orm::DatabaseTransaction, user_id: &str, patient_id: &str, reason: &str) -> Result<u64, sea_orm::DbErr> {
    let grants: Vec<String> = smart_grant::Entity::find()
        .filter(smart_grant::Column::UserId.eq(user_id))
        .filter(smart_grant::Column::PatientId.eq(patient_id))
        .filter(smart_grant::Column::RevokedAtMs.is_null())
        .all(txn)
        .await?
        .into_iter()
        .map(|g| g.id)
        .collect();
    if grants.is_empty() {
        return Ok(0);
    }
    smart_grant::Entity::update_many()
        .col_expr(smart_grant::Column::RevokedAtMs, Expr::value(now_ms()))
        .col_expr(smart_grant::Column::RevokedReason, Expr::value(reason.chars().take(200).collect::<String>()))
        .filter(smart_grant::Column::Id.is_in(grants.iter().cloned()))
        .exec(txn)
        .await?;
    smart_token::Entity::delete_many().filter(smart_token::Column::GrantId.is_in(grants.iter().cloned())).exec(txn).await?;
    Ok(u64::try_from(grants.len()).unwrap_or(u64::MAX))
}

/// Revokes a grant whose person's access to the record has ended (a caregiver's, by its date
/// or the age rules), with its tokens and audit event.
pub(super) async fn end_grant_of_ended_access(db: &DatabaseConnection, grant: &smart_grant::Model, request: &RequestMeta) -> Result<(), sea_orm::DbErr> {
    revoke_grant(db, &grant.id, "the caregiver's access to the record has ended", app_revocation(grant, request)).await
}

/// The audit event of a revocation the app's own requests caused (no one is signed in: the
/// grant's person is named).
fn app_revocation(grant: &smart_grant::Model, request: &RequestMeta) -> AuditEvent {
    AuditEvent::new(AuditAction::AppRevoke, Outcome::Success, request).actor(grant.user_id.as_str()).patient(grant.patient_id.as_str())
}

/// New tokens for `grant`: an access token, and a refresh token when it holds `offline_access`.
async fn issue(txn: &impl ConnectionTrait, grant: &smart_grant::Model, now: i64) -> Result<TokenAnswer, sea_orm::DbErr> {
    let scopes = ScopeSet::from_text(&grant.scopes);
    let access = new_secret();
    let access_expires = (now + ACCESS_MS).min(grant.expires_at_ms);
    let mut rows = vec![smart_token::ActiveModel {
        token_hash: Set(secret_hash(&access)),
        grant_id: Set(grant.id.clone()),
        kind: Set("access".into()),
        created_at_ms: Set(now),
        expires_at_ms: Set(access_expires),
        used_at_ms: Set(None),
    }];
    let refresh = scopes.contains(&Scope::OfflineAccess).then(new_secret);
    if let Some(refresh) = &refresh {
        rows.push(smart_token::ActiveModel {
            token_hash: Set(secret_hash(refresh)),
            grant_id: Set(grant.id.clone()),
            kind: Set("refresh".into()),
            created_at_ms: Set(now),
            expires_at_ms: Set(grant.expires_at_ms),
            used_at_ms: Set(None),
        });
    }
    smart_token::Entity::insert_many(rows).exec_without_returning(txn).await?;
    smart_grant::Entity::update_many()
        .col_expr(smart_grant::Column::LastUsedAtMs, Expr::value(now))
        .filter(smart_grant::Column::Id.eq(grant.id.as_str()))
        .exec(txn)
        .await?;
    Ok(TokenAnswer {
        access_token: access,
        token_type: "Bearer",
        expires_in: ((access_expires - now) / 1000).max(0),
        scope: scopes.to_text(),
        patient: grant.patient_id.clone(),
        refresh_token: refresh,
        id_token: None,
    })
}

/// The ID token for a grant holding `openid` (made before the token transaction: the first
/// one stores the site's signing key). `fhirUser` names the Patient resource when the person
/// who approved is that patient; a caregiver gets none (see `smart::id_token`).
async fn id_token_for(db: &DatabaseConnection, signer: &IdTokenSigner<'_>, grant: &smart_grant::Model, nonce: Option<&str>) -> Result<Option<String>, OAuthError> {
    let scopes = ScopeSet::from_text(&grant.scopes);
    if !scopes.contains(&Scope::OpenId) {
        return Ok(None);
    }
    let person = app_user::Entity::find_by_id(grant.user_id.as_str()).one(db).await?;
    let is_patient = person.and_then(|p| p.patient_id).is_some_and(|p| p == grant.patient_id);
    let fhir_user = (scopes.contains(&Scope::FhirUser) && is_patient).then(|| format!("{}/Patient/{}", signer.issuer.trim_end_matches('/'), grant.patient_id));
    let who = IdentityClaims { client_id: &grant.app_id, subject: &grant.user_id, fhir_user, nonce };
    match id_token::sign(signer, who).await {
        Ok(token) => Ok(Some(token)),
        Err(e) => {
            tracing::error!(error = %e, "token endpoint: id token");
            Err(OAuthError { status: 500, error: "server_error", description: "the server could not answer; try again".into() })
        }
    }
}

/// Whether the grant's person may still read its patient's record, asked by the token endpoint
/// once the client is authenticated (`access::grant_holder_may_read`).
async fn holder_still_reads(may_read: impl AsyncFnOnce(&smart_grant::Model) -> Result<bool, AppError>, grant: &smart_grant::Model) -> Result<(), OAuthError> {
    match may_read(grant).await {
        Ok(true) => Ok(()),
        Ok(false) => Err(OAuthError::grant("the access this app was given has ended")),
        Err(e) => {
            tracing::error!(error = %e, "token endpoint: checking the grant's person");
            Err(OAuthError { status: 500, error: "server_error", description: "the server could not answer; try again".into() })
        }
    }
}

/// The token endpoint: a code (with its PKCE verifier) or a refresh token exchanged for tokens.
/// `may_read` is asked, once the grant is known and the client authenticated, whether the
/// grant's person may still read the record (a caregiver's access can end by its date or the age
/// rules): if not, nothing is issued.
pub async fn smart_token(
    db: &DatabaseConnection,
    signer: &IdTokenSigner<'_>,
    form: &TokenForm,
    basic: Option<(String, String)>,
    request: &RequestMeta,
    may_read: impl AsyncFnOnce(&smart_grant::Model) -> Result<bool, AppError>,
) -> Result<TokenAnswer, OAuthError> {
    let now = now_ms();
    match form.grant_type.as_str() {
        "authorization_code" => {
            let code = smart_code::Entity::find_by_id(secret_hash(&form.code)).one(db).await?.ok_or_else(|| OAuthError::grant("unknown code"))?;
            let grant = smart_grant::Entity::find_by_id(code.grant_id.as_str()).one(db).await?.ok_or_else(|| OAuthError::grant("unknown code"))?;
            client_of(db, &grant, form, basic.as_ref(), true).await?;
            holder_still_reads(may_read, &grant).await?;
            let id_token = id_token_for(db, signer, &grant, code.nonce.as_deref()).await?;
            let txn = db.begin().await?;
            let used = smart_code::Entity::update_many()
                .col_expr(smart_code::Column::UsedAtMs, Expr::value(now))
                .filter(smart_code::Column::CodeHash.eq(code.code_hash.as_str()))
                .filter(smart_code::Column::UsedAtMs.is_null())
                .exec(&txn)
                .await?;
            if used.rows_affected != 1 {
                txn.rollback().await?;
                revoke_grant(db, &grant.id, "authorization code used twice", app_revocation(&grant, request)).await?;
                return Err(OAuthError::grant("the code was already used; the access it gave is revoked"));
            }
            // A code is spent by any attempt (RFC 6749 4.1.2): the failures below keep it used.
            let refused = if code.expires_at_ms <= now || grant.revoked_at_ms.is_some() {
                Some("the code has expired")
            } else if code.redirect_uri != form.redirect_uri {
                Some("redirect_uri differs from the authorization request's")
            } else if !verifier_matches(&form.code_verifier, &code.challenge) {
                Some("code_verifier does not match the code_challenge")
            } else {
                None
            };
            if let Some(why) = refused {
                txn.commit().await?;
                return Err(OAuthError::grant(why));
            }
            let answer = issue(&txn, &grant, now).await?;
            txn.commit().await?;
            Ok(TokenAnswer { id_token, ..answer })
        }
        "refresh_token" => {
            let token = smart_token::Entity::find_by_id(secret_hash(&form.refresh_token))
                .one(db)
                .await?
                .filter(|t| t.kind == "refresh")
                .ok_or_else(|| OAuthError::grant("unknown refresh token"))?;
            let grant = smart_grant::Entity::find_by_id(token.grant_id.as_str()).one(db).await?.ok_or_else(|| OAuthError::grant("unknown refresh token"))?;
            client_of(db, &grant, form, basic.as_ref(), false).await?;
            holder_still_reads(may_read, &grant).await?;
            // A refresh may narrow the grant, never widen it (worked out here, stored below).
            let narrowed = (!form.scope.trim().is_empty()).then(|| {
                let asked = ScopeRequest::parse(&form.scope).map(|r| r.grantable).unwrap_or_default();
                asked.narrowed_to(&ScopeSet::from_text(&grant.scopes))
            });
            if narrowed.as_ref().is_some_and(|n| !n.reads_data()) {
                return Err(OAuthError { status: 400, error: "invalid_scope", description: "the scope asked for is not within the grant".into() });
            }
            let mut grant = grant;
            let narrowing = narrowed.map(|n| n.to_text());
            if let Some(scopes) = &narrowing {
                grant.scopes = scopes.clone();
            }
            // OpenID Connect Core 12.2: a refreshed ID token carries no nonce; it says what the
            // narrowed grant holds (no fhirUser once that is dropped).
            let id_token = id_token_for(db, signer, &grant, None).await?;
            let txn = db.begin().await?;
            let used = smart_token::Entity::update_many()
                .col_expr(smart_token::Column::UsedAtMs, Expr::value(now))
                .filter(smart_token::Column::TokenHash.eq(token.token_hash.as_str()))
                .filter(smart_token::Column::UsedAtMs.is_null())
                .exec(&txn)
                .await?;
            if used.rows_affected != 1 {
                txn.rollback().await?;
                revoke_grant(db, &grant.id, "refresh token used twice", app_revocation(&grant, request)).await?;
                return Err(OAuthError::grant("the refresh token was already used; the access it gave is revoked"));
            }
            if token.expires_at_ms <= now || grant.expires_at_ms <= now || grant.revoked_at_ms.is_some() {
                txn.commit().await?;
                return Err(OAuthError::grant("the refresh token has expired or was revoked"));
            }
            if narrowing.is_some() {
                smart_grant::Entity::update_many()
                    .col_expr(smart_grant::Column::Scopes, Expr::value(grant.scopes.clone()))
                    .filter(smart_grant::Column::Id.eq(grant.id.as_str()))
                    .exec(&txn)
                    .await?;
            }
            let answer = issue(&txn, &grant, now).await?;
            txn.commit().await?;
            Ok(TokenAnswer { id_token, ..answer })
        }
        "" => Err(OAuthError { status: 400, error: "invalid_request", description: "grant_type is required".into() }),
        _ => Err(OAuthError { status: 400, error: "unsupported_grant_type", description: "grant_type must be authorization_code or refresh_token".into() }),
    }
}

/// The revocation endpoint (RFC 7009): the token's grant is revoked with all its tokens. A
/// confidential app proves its secret; an unknown token is no error.
pub async fn smart_revoke(db: &DatabaseConnection, form: &TokenForm, basic: Option<(String, String)>, request: &RequestMeta) -> Result<(), OAuthError> {
    if form.token.is_empty() {
        return Err(OAuthError { status: 400, error: "invalid_request", description: "token is required".into() });
    }
    let Some(token) = smart_token::Entity::find_by_id(secret_hash(&form.token)).one(db).await? else {
        return Ok(());
    };
    let Some(grant) = smart_grant::Entity::find_by_id(token.grant_id.as_str()).one(db).await? else {
        return Ok(());
    };
    client_of(db, &grant, form, basic.as_ref(), false).await?;
    if grant.revoked_at_ms.is_none() {
        revoke_grant(db, &grant.id, "revoked by the app", app_revocation(&grant, request)).await?;
    }
    Ok(())
}

impl AccessContext {
    /// The apps connected to the record on screen (the patient's own, or the one a caregiver
    /// acts for) and still able to read it: who connected each, what it may read, until when,
    /// and when it last read. Audited as a read of the record.
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn connected_apps(&self) -> Result<Vec<ConnectedApp>, AppError> {
        use sea_orm::QueryOrder;
        let patient = self.app_patient().await?;
        let now = now_ms();
        let grants = smart_grant::Entity::find()
            .filter(smart_grant::Column::PatientId.eq(patient.id.as_str()))
            .filter(smart_grant::Column::RevokedAtMs.is_null())
            .filter(smart_grant::Column::ExpiresAtMs.gt(now))
            .order_by_desc(smart_grant::Column::CreatedAtMs)
            .all(&self.db)
            .await?;
        // An app a caregiver connected reads only while the caregiver's own access lasts (the
        // API refuses it after): it is not listed once that access has ended.
        let may_read: std::collections::HashSet<String> = caregiver_grant::Entity::find()
            .filter(caregiver_grant::Column::PatientId.eq(patient.id.as_str()))
            .filter(in_force(now))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|g| g.user_id)
            .chain(app_user::Entity::find().filter(app_user::Column::PatientId.eq(patient.id.as_str())).all(&self.db).await?.into_iter().map(|u| u.id))
            .collect();
        let mut out = Vec::with_capacity(grants.len());
        for grant in grants.into_iter().filter(|g| may_read.contains(&g.user_id)) {
            let Some(app) = smart_app::Entity::find_by_id(grant.app_id.as_str()).one(&self.db).await?.filter(|a| a.disabled_at_ms.is_none()) else {
                continue;
            };
            let by = if grant.user_id == self.principal.user_id { "You".to_string() } else { self.display_name(&grant.user_id).await? };
            out.push(ConnectedApp {
                grant_id: grant.id,
                app_name: app.name,
                connected_by: by,
                since: self.clock.minutes(grant.created_at_ms),
                until: self.clock.minutes(grant.expires_at_ms),
                last_used: grant.last_used_at_ms.map(|at| self.clock.minutes(at)),
                can_read: ScopeSet::from_text(&grant.scopes).iter().map(|s| s.plain_language()).collect(),
            });
        }
        let event = self.event(AuditAction::PatientRead, Outcome::Success).patient(patient.id.as_str()).entity("smart_grant", patient.id.as_str()).detail("connected apps".to_string());
        self.audit_alone(event).await?;
        Ok(out)
    }

    /// Disconnects an app from the record on screen: its grant is revoked and its tokens
    /// deleted, so its very next request fails (401). A grant of another record answers 404.
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn disconnect_app(&self, grant_id: &str) -> Result<(), AppError> {
        let patient = self.app_patient().await?;
        let grant = smart_grant::Entity::find_by_id(grant_id)
            .filter(smart_grant::Column::PatientId.eq(patient.id.as_str()))
            .filter(smart_grant::Column::RevokedAtMs.is_null())
            .one(&self.db)
            .await?
            .ok_or(AppError::NotFound)?;
        let event = self.event(AuditAction::AppRevoke, Outcome::Success).patient(patient.id.as_str());
        revoke_grant(&self.db, &grant.id, "disconnected by the person", event).await?;
        Ok(())
    }
}
