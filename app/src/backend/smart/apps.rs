//! Registering the apps patients may connect (issue 22): an administrator registers each one
//! (`portal apps register`), giving its name as patients will see it on the consent page, the
//! exact redirect URIs it will use, and whether it is confidential (it keeps a secret on its
//! server) or public (a phone or browser app, which can keep none and relies on PKCE alone).

use crate::backend::audit::{self, AuditAction, AuditEvent, Outcome};
use crate::backend::db::{now_ms, write_transaction};
use crate::backend::entities::smart_app;
use crate::backend::request::RequestMeta;
use crate::domain::FieldError;
use crate::error::AppError;
use sea_orm::{ActiveValue::Set, DatabaseConnection, EntityTrait, QueryOrder};

/// The most redirect URIs one app registers.
pub const MAX_REDIRECT_URIS: usize = 10;

/// The longest app name and redirect URI accepted.
const MAX_NAME_CHARS: usize = 100;
const MAX_URI_CHARS: usize = 2_000;

/// What registering an app gives back, once: the secret is shown only here.
#[derive(Debug, Clone)]
pub struct RegisteredApp {
    pub client_id: String,
    pub secret: Option<String>,
}

/// One registered app as the administrator's list shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppRow {
    pub client_id: String,
    pub name: String,
    pub confidential: bool,
    pub redirect_uris: Vec<String>,
    pub disabled: bool,
}

/// Whether `text` may be registered as a redirect URI: an absolute `https` URL, or `http` to this
/// machine's loopback address (a native app or a test page, RFC 8252 7.3), with no fragment
/// (RFC 6749 3.1.2) and no user name or password in it.
pub fn check_redirect_uri(text: &str) -> Result<(), String> {
    if text.chars().count() > MAX_URI_CHARS {
        return Err(format!("is longer than {MAX_URI_CHARS} characters"));
    }
    let url = url::Url::parse(text).map_err(|e| format!("is not an absolute URL ({e})"))?;
    if url.fragment().is_some() {
        return Err("must not have a fragment (#…)".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry a user name or password".into());
    }
    let loopback = matches!(url.host(), Some(url::Host::Domain("localhost")))
        || matches!(url.host(), Some(url::Host::Ipv4(ip)) if ip.is_loopback())
        || matches!(url.host(), Some(url::Host::Ipv6(ip)) if ip.is_loopback());
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err("must be https (or http to localhost / 127.0.0.1 for a native or test app)".into()),
    }
}

fn invalid(field: &str, message: String) -> AppError {
    AppError::Validation { fields: vec![FieldError { field: field.into(), message }] }
}

/// Registers an app; audited (the actor is the administrator, or none from the command line).
pub async fn register(db: &DatabaseConnection, name: &str, redirect_uris: &[String], confidential: bool, actor: Option<&str>, request: &RequestMeta) -> Result<RegisteredApp, AppError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS || name.chars().any(char::is_control) {
        return Err(invalid("name", format!("the app's name is required, up to {MAX_NAME_CHARS} characters, on one line")));
    }
    if redirect_uris.is_empty() || redirect_uris.len() > MAX_REDIRECT_URIS {
        return Err(invalid("redirect_uri", format!("give between 1 and {MAX_REDIRECT_URIS} redirect URIs")));
    }
    for uri in redirect_uris {
        check_redirect_uri(uri).map_err(|why| invalid("redirect_uri", format!("{uri} {why}")))?;
    }
    let client_id = super::new_secret()[..32].to_string();
    let secret = confidential.then(super::new_secret);
    let uris = serde_json::Value::from(redirect_uris.to_vec()).to_string();
    let txn = write_transaction(db).await?;
    smart_app::Entity::insert(smart_app::ActiveModel {
        id: Set(client_id.clone()),
        name: Set(name.to_string()),
        confidential: Set(confidential),
        secret_hash: Set(secret.as_deref().map(super::secret_hash)),
        redirect_uris: Set(uris),
        created_at_ms: Set(now_ms()),
        created_by: Set(actor.map(str::to_string)),
        disabled_at_ms: Set(None),
    })
    .exec_without_returning(&txn)
    .await?;
    let mut event = AuditEvent::new(AuditAction::AppRegister, Outcome::Success, request).entity("smart_app", client_id.as_str()).detail(if confidential { "confidential" } else { "public" });
    if let Some(actor) = actor {
        event = event.actor(actor);
    }
    audit::record(&txn, event).await?;
    txn.commit().await?;
    Ok(RegisteredApp { client_id, secret })
}

/// Every registered app, oldest first.
pub async fn list(db: &DatabaseConnection) -> Result<Vec<AppRow>, AppError> {
    let rows = smart_app::Entity::find().order_by_asc(smart_app::Column::CreatedAtMs).all(db).await?;
    Ok(rows
        .into_iter()
        .map(|a| AppRow {
            redirect_uris: serde_json::from_str(&a.redirect_uris).unwrap_or_default(),
            client_id: a.id,
            name: a.name,
            confidential: a.confidential,
            disabled: a.disabled_at_ms.is_some(),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redirect_uris_are_https_or_loopback_http_without_fragments() {
        for good in ["https://app.example/callback", "https://app.example:8443/cb?x=1", "http://127.0.0.1:9000/cb", "http://localhost/cb", "http://[::1]:8080/"] {
            assert_eq!(check_redirect_uri(good), Ok(()), "{good}");
        }
        for bad in ["http://app.example/callback", "https://app.example/cb#top", "/callback", "javascript:alert(1)", "https://user:pw@app.example/cb", "ftp://127.0.0.1/cb"] {
            assert!(check_redirect_uri(bad).is_err(), "{bad}");
        }
        assert!(check_redirect_uri(&format!("https://app.example/{}", "a".repeat(MAX_URI_CHARS))).is_err());
    }
}
