//! Provider identities linked to portal accounts: an (issuer, subject) pair, as an OpenID
//! provider vouches for it, belongs to exactly one portal user (the table's primary key). Links
//! and unlinks are audited in the same transaction as the change.

use crate::backend::audit::{self, AuditAction, AuditEvent, Outcome};
use crate::backend::db::{now_ms, write_transaction};
use crate::backend::entities::{app_user, external_identity};
use crate::backend::request::RequestMeta;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbErr, EntityTrait, QueryFilter,
    QueryOrder,
};

/// One linked identity, as the account page lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkedIdentity {
    pub issuer: String,
    pub subject: String,
    pub linked_at_ms: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The identity already belongs to another portal account.
    #[error("this identity is linked to another account")]
    TakenByAnother,
    /// Unlinking it would leave the account with no way to sign in.
    #[error("the account's last way to sign in")]
    LastCredential,
    #[error("no such linked identity")]
    NotFound,
    #[error(transparent)]
    Db(#[from] DbErr),
}

/// The user an identity is linked to.
pub async fn user_for(db: &impl ConnectionTrait, issuer: &str, subject: &str) -> Result<Option<String>, DbErr> {
    Ok(external_identity::Entity::find_by_id((issuer.to_string(), subject.to_string()))
        .one(db)
        .await?
        .map(|row| row.user_id))
}

/// The identities linked to `user_id`, oldest first.
pub async fn list(db: &impl ConnectionTrait, user_id: &str) -> Result<Vec<LinkedIdentity>, DbErr> {
    Ok(external_identity::Entity::find()
        .filter(external_identity::Column::UserId.eq(user_id))
        .order_by_asc(external_identity::Column::LinkedAtMs)
        .all(db)
        .await?
        .into_iter()
        .map(|row| LinkedIdentity { issuer: row.issuer, subject: row.subject, linked_at_ms: row.linked_at_ms })
        .collect())
}

/// Links `(issuer, subject)` to `user_id` inside the caller's transaction and audits it. Linking
/// an identity the user already has is a no-op (a second "link" click); one that belongs to
/// another account is refused.
pub async fn link(
    txn: &DatabaseTransaction,
    user_id: &str,
    issuer: &str,
    subject: &str,
    provider_label: &str,
    request: &RequestMeta,
) -> Result<(), LinkError> {
    match user_for(txn, issuer, subject).await? {
        Some(owner) if owner == user_id => return Ok(()),
        Some(_) => return Err(LinkError::TakenByAnother),
        None => {}
    }
    external_identity::Entity::insert(external_identity::ActiveModel {
        issuer: Set(issuer.to_string()),
        subject: Set(subject.to_string()),
        user_id: Set(user_id.to_string()),
        linked_at_ms: Set(now_ms()),
    })
    .exec(txn)
    .await?;
    audit::record(
        txn,
        AuditEvent::new(AuditAction::IdentityLink, Outcome::Success, request)
            .actor(user_id)
            .entity("user", user_id)
            .detail(format!("provider={provider_label}")),
    )
    .await?;
    Ok(())
}

/// Removes one of the user's own linked identities, unless it is their last way to sign in (no
/// password and no other identity).
pub async fn unlink(
    db: &DatabaseConnection,
    user_id: &str,
    issuer: &str,
    subject: &str,
    request: &RequestMeta,
) -> Result<(), LinkError> {
    let txn = write_transaction(db).await?;
    let key = (issuer.to_string(), subject.to_string());
    let Some(row) = external_identity::Entity::find_by_id(key.clone()).one(&txn).await? else {
        return Err(LinkError::NotFound);
    };
    // Someone else's identity answers as if it did not exist.
    if row.user_id != user_id {
        return Err(LinkError::NotFound);
    }
    let has_password = app_user::Entity::find_by_id(user_id.to_string())
        .one(&txn)
        .await?
        .is_some_and(|u| u.password_hash.is_some());
    let others = list(&txn, user_id).await?.len() - 1;
    if !has_password && others == 0 {
        return Err(LinkError::LastCredential);
    }
    external_identity::Entity::delete_by_id(key).exec(&txn).await?;
    audit::record(
        &txn,
        AuditEvent::new(AuditAction::IdentityUnlink, Outcome::Success, request).actor(user_id).entity("user", user_id),
    )
    .await?;
    txn.commit().await?;
    Ok(())
}
