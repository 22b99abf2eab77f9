//! Copies sent to someone else: the passcode link, created at release (a random token, stored
//! hashed; an 8-digit passcode, stored hashed and, sealed, for the requester to pass on). The
//! recipient needs no account: the token and passcode are the authority. Wrong passcodes count;
//! five in a row lock the link for 15 minutes. Every attempt and opening is audited; the first
//! opening delivers the request.

use super::rows::{disclosure, release_authorization, release_event, release_file, release_link, release_request};
use crate::backend::entities::audit_event;
use std::collections::HashSet;
use super::AccessContext;
use crate::backend::policy::{Action, Target};
use crate::domain::caregiver::{AuthorizationView, SharedLinkView};
use crate::domain::release::Actor;
use crate::backend::audit::{self, AuditAction, AuditEvent, Outcome};
use crate::backend::copies::seal::{FileKeys, Sealed};
use crate::backend::copies::sha256_hex;
use crate::backend::db::{now_ms, write_transaction};
use crate::backend::request::RequestMeta;
use crate::domain::release::{ShareView, Status};
use crate::backend::error::Stored;
use crate::error::{AppError, FieldError};
use base64::Engine;
use rand::RngCore;
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use super::disclosures::recipient_of;

/// The mail to the recipient of a copy sent to someone else: no health information, no name,
/// only that something waits and where; the passcode comes from the patient.
pub fn shared_link_mail(site: &str, base_url: &str, path: &str) -> (&'static str, String) {
    (
        "Health records shared with you",
        format!(
            "Health records were shared with you through the {site} patient portal.\n\n\
             Open this link: {base_url}{path}\n\n\
             You will need the passcode from the person who sent them. The link expires; it is for you only.\n"
        ),
    )
}

/// Wrong passcodes in a row before the link locks, and for how long.
pub const LINK_MAX_FAILURES: i32 = 5;
pub const LINK_LOCK_MS: i64 = 15 * 60 * 1000;

fn passcode_hash(link_id: &str, passcode: &str) -> String {
    sha256_hex(format!("{link_id}:{passcode}").as_bytes())
}

/// Compares in constant time (a passcode check must not leak how much matched).
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

impl AccessContext {
    /// Creates the passcode link of a released copy; returns its path (`/shared/<token>`).
    pub(super) async fn create_link(&self, txn: &sea_orm::DatabaseTransaction, row: &release_request::Model, expires: i64, keys: &FileKeys) -> Result<String, AppError> {
        let mut token_bytes = [0u8; 32];
        rand::rng().fill_bytes(&mut token_bytes);
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(token_bytes);
        let passcode = format!("{:08}", rand::rng().next_u32() % 100_000_000);
        let id = uuid::Uuid::new_v4().to_string();
        let sealed = keys.seal(format!("{token} {passcode}").as_bytes(), &format!("link/{id}"))?;
        release_link::Entity::insert(release_link::ActiveModel {
            id: Set(id.clone()),
            request_id: Set(row.id.clone()),
            token_hash: Set(sha256_hex(token.as_bytes())),
            passcode_hash: Set(passcode_hash(&id, &passcode)),
            passcode_key_id: Set(sealed.key_id),
            passcode_nonce: Set(sealed.nonce),
            passcode_sealed: Set(sealed.ciphertext),
            expires_at_ms: Set(expires),
            failed_attempts: Set(0),
            locked_until_ms: Set(0),
            opened_count: Set(0),
            created_at_ms: Set(now_ms()),
        })
        .exec_without_returning(txn)
        .await?;
        Ok(format!("/shared/{token}"))
    }

    /// The link and passcode of a copy sent to someone else, for its requester only.
    pub(super) async fn share_of(&self, row: &release_request::Model, keys: &FileKeys, base_url: &str) -> Result<Option<ShareView>, AppError> {
        if row.requester_user_id != self.principal.user_id {
            return Ok(None);
        }
        let Some(link) = release_link::Entity::find().filter(release_link::Column::RequestId.eq(row.id.as_str())).one(&self.db).await? else {
            return Ok(None);
        };
        let sealed = Sealed { key_id: link.passcode_key_id.clone(), nonce: link.passcode_nonce.clone(), ciphertext: link.passcode_sealed.clone() };
        let opened = keys.open(&sealed, &format!("link/{}", link.id))?;
        let text = String::from_utf8(opened).stored("release_link", "passcode_sealed")?;
        let (token, passcode) = text.split_once(' ').stored("release_link", "passcode_sealed")?;
        Ok(Some(ShareView {
            recipient: recipient_of(row)?.to_string(),
            url: format!("{base_url}/shared/{token}"),
            passcode: format!("{} {}", &passcode[..passcode.len().min(4)], &passcode[passcode.len().min(4)..]),
            expires: self.clock.minutes(link.expires_at_ms),
            expired: link.expires_at_ms <= now_ms(),
            opened: link.opened_count,
        }))
    }
}

impl AccessContext {
    /// What leaves the portal for the patient's record and can still be opened or used: live
    /// passcode links, and the authorizations in force behind copies to third parties. For
    /// "Who can see my records" (issue 22); the caller audits the read.
    pub(super) async fn sharing_of(&self, patient_id: &str) -> Result<(Vec<SharedLinkView>, Vec<AuthorizationView>), AppError> {
        let now = now_ms();
        let requests_of_patient = || {
            Query::select()
                .column(release_request::Column::Id)
                .from(release_request::Entity)
                .and_where(release_request::Column::PatientId.eq(patient_id))
                .to_owned()
        };
        let links = release_link::Entity::find()
            .filter(release_link::Column::RequestId.in_subquery(requests_of_patient()))
            .filter(release_link::Column::ExpiresAtMs.gt(now))
            .order_by_desc(release_link::Column::CreatedAtMs)
            .limit(100)
            .all(&self.db)
            .await?;
        let authorizations = release_authorization::Entity::find()
            .filter(release_authorization::Column::RequestId.in_subquery(requests_of_patient()))
            .filter(release_authorization::Column::RevokedAtMs.is_null())
            .order_by_desc(release_authorization::Column::SignedAtMs)
            .limit(100)
            .all(&self.db)
            .await?;
        let wanted: Vec<&str> = links.iter().map(|l| l.request_id.as_str()).chain(authorizations.iter().map(|a| a.request_id.as_str())).collect();
        let requests: std::collections::HashMap<String, release_request::Model> = release_request::Entity::find()
            .filter(release_request::Column::Id.is_in(wanted))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|r| (r.id.clone(), r))
            .collect();
        // A link whose authorization was revoked or has expired no longer opens: not listed.
        let ended: HashSet<String> = release_authorization::Entity::find()
            .filter(release_authorization::Column::RequestId.is_in(links.iter().map(|l| l.request_id.clone())))
            .all(&self.db)
            .await?
            .into_iter()
            .filter(|auth| self.authorization_ended(auth).is_some())
            .map(|auth| auth.request_id)
            .collect();
        let mut shared = Vec::new();
        for link in links.into_iter().filter(|l| !ended.contains(&l.request_id)) {
            let Some(row) = requests.get(&link.request_id) else { continue };
            let opened = sea_orm::Condition::all()
                .add(audit_event::Column::PatientId.eq(patient_id))
                .add(audit_event::Column::EntityType.eq("release_link"))
                .add(audit_event::Column::EntityId.eq(link.id.as_str()))
                .add(audit_event::Column::Outcome.eq("success"))
                .add(audit_event::Column::Detail.starts_with("shared link opened"));
            let last_opened = if link.opened_count > 0 { self.last_audited(opened).await? } else { None };
            shared.push(SharedLinkView {
                id: link.id,
                request_id: row.id.clone(),
                request: format!("R-{}", row.number),
                recipient: recipient_of(row)?.to_string(),
                what: row.scope.0.describe(),
                sent: self.clock.minutes(link.created_at_ms),
                until: self.clock.minutes(link.expires_at_ms),
                opened: link.opened_count,
                last_opened: last_opened.map(|at| self.clock.minutes(at)),
            });
        }
        let mut in_force = Vec::new();
        for auth in authorizations {
            let Some(row) = requests.get(&auth.request_id) else { continue };
            // Expired ones are over by themselves: only those a revocation still changes.
            if self.authorization_ended(&auth).is_some() || row.status == Status::Cancelled {
                continue;
            }
            // The day a copy last went out under it (the accounting keeps each; a revocation's
            // entry is not a sending).
            let last_sent: Option<Option<String>> = disclosure::Entity::find()
                .select_only()
                .column_as(Expr::col(disclosure::Column::DisclosedOn).max(), "on")
                .filter(disclosure::Column::RequestId.eq(row.id.as_str()))
                .filter(disclosure::Column::Kind.ne("revocation"))
                .into_tuple()
                .one(&self.db)
                .await?;
            in_force.push(AuthorizationView {
                request_id: row.id.clone(),
                request: format!("R-{}", row.number),
                recipient: auth.recipient_name,
                what: auth.description,
                purpose: auth.purpose,
                signed: format!("{} by {}", self.clock.minutes(auth.signed_at_ms), auth.signer_name),
                expires_on: auth.expires_on,
                last_sent: last_sent.flatten(),
            });
        }
        Ok((shared, in_force))
    }

    /// The patient closes a live link (its next opening is refused as expired); the copy's
    /// authorization, if any, stays as it is. Another patient's link, or one already closed,
    /// answers 404. Audited, and on the request's timeline.
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn close_shared_link(&self, id: &str) -> Result<(), AppError> {
        let now = now_ms();
        let link = release_link::Entity::find_by_id(id.to_string()).one(&self.db).await?.filter(|l| l.expires_at_ms > now).ok_or(AppError::NotFound)?;
        let row = release_request::Entity::find_by_id(link.request_id.clone()).one(&self.db).await?.ok_or(AppError::NotFound)?;
        if self.subject().as_deref() != Some(row.patient_id.as_str()) {
            let refused = self.event(AuditAction::ReleaseRequest, Outcome::Denied).entity("release_link", &link.id).detail("close shared link: not the viewer's");
            self.audit_alone(refused).await?;
            return Err(AppError::NotFound);
        }
        self.authorize(Action::ManageCaregivers, Target::Patient(&row.patient_id), AuditAction::ReleaseRequest).await?;
        let txn = write_transaction(&self.db).await?;
        release_link::Entity::update_many()
            .col_expr(release_link::Column::ExpiresAtMs, Expr::value(now))
            .filter(release_link::Column::Id.eq(link.id.as_str()))
            .exec(&txn)
            .await?;
        release_event::Entity::insert(release_event::ActiveModel {
            id: Set(uuid::Uuid::new_v4().to_string()),
            request_id: Set(row.id.clone()),
            at_ms: Set(now),
            actor_user_id: Set(Some(self.principal.user_id.clone())),
            actor_kind: Set(Actor::Requester),
            from_status: Set(Some(row.status)),
            to_status: Set(row.status),
            note: Set(Some(format!("Link for {} closed by the patient", recipient_of(&row)?))),
        })
        .exec_without_returning(&txn)
        .await?;
        let event = self
            .event(AuditAction::ReleaseRequest, Outcome::Success)
            .patient(&row.patient_id)
            .entity("release_link", &link.id)
            .detail(format!("shared link closed by the patient: request R-{}", row.number));
        audit::record(&txn, event).await?;
        txn.commit().await?;
        Ok(())
    }
}

/// Opens a shared copy with its passcode, for a recipient without an account. The token and
/// passcode are the authority; everything is audited; wrong passcodes lock the link.
pub async fn open_shared_copy(
    db: &DatabaseConnection,
    request: &RequestMeta,
    token: &str,
    passcode: &str,
    kind: &str,
    keys: &FileKeys,
    today: crate::domain::IsoDate,
) -> Result<(String, String, Vec<u8>), AppError> {
    let now = now_ms();
    let failed = |detail: &str, link: Option<&release_link::Model>| {
        let mut e = AuditEvent::new(AuditAction::ReleaseRequest, Outcome::Failure, request).detail(format!("shared link: {detail}"));
        if let Some(l) = link {
            e = e.entity("release_link", &l.id);
        }
        e
    };
    let link = release_link::Entity::find()
        .filter(release_link::Column::TokenHash.eq(sha256_hex(token.as_bytes())))
        .one(db)
        .await?;
    let Some(link) = link else {
        audit::record_alone(db, failed("unknown link", None)).await?;
        return Err(AppError::NotFound);
    };
    let row = release_request::Entity::find_by_id(link.request_id.clone()).one(db).await?.ok_or(AppError::NotFound)?;
    let patient_failed = |detail: &str| failed(detail, Some(&link)).patient(&row.patient_id);
    // The authorization behind the copy: revoked or past its date, its links stop working
    // (45 CFR 164.508(b)(5), (c)(1)(v)).
    let authorization = super::rows::release_authorization::Entity::find().filter(super::rows::release_authorization::Column::RequestId.eq(row.id.as_str())).one(db).await?;
    if let Some(auth) = authorization {
        // The hospital's day, as the review and the release count it.
        let expired = crate::domain::IsoDate::parse(&auth.expires_on).is_ok_and(|end| end < today);
        if auth.revoked_at_ms.is_some() || expired {
            audit::record_alone(db, patient_failed(if expired { "authorization expired" } else { "authorization revoked" })).await?;
            let why = if expired { "has expired" } else { "was revoked by the patient" };
            return Err(AppError::Gone { message: format!("The authorization for this copy {why}, so this link no longer works.") });
        }
    }
    if link.expires_at_ms <= now {
        audit::record_alone(db, patient_failed("expired")).await?;
        return Err(AppError::Gone { message: "This link has expired. Ask the person who sent it for a new copy.".into() });
    }
    // The passcode is checked and a failure counted in one transaction holding the link's row
    // (`FOR UPDATE`; SQLite's write transaction holds the database): parallel guesses are
    // counted one after another, so exactly LINK_MAX_FAILURES are tried before the lock.
    let guard = write_transaction(db).await?;
    let link = release_link::Entity::find_by_id(link.id.clone()).lock_exclusive().one(&guard).await?.ok_or(AppError::NotFound)?;
    // Closed (or revoked) while this opening waited for the row: refused like any expired link.
    if link.expires_at_ms <= now {
        audit::record(&guard, patient_failed("expired")).await?;
        guard.commit().await?;
        return Err(AppError::Gone { message: "This link has expired. Ask the person who sent it for a new copy.".into() });
    }
    if link.locked_until_ms > now {
        audit::record(&guard, patient_failed("locked")).await?;
        guard.commit().await?;
        return Err(AppError::RateLimited { retry_after_secs: Ord::max(u64::try_from((link.locked_until_ms - now) / 1000).unwrap_or(1), 1) });
    }
    let typed: String = passcode.chars().filter(char::is_ascii_digit).collect();
    if !same(&passcode_hash(&link.id, &typed), &link.passcode_hash) {
        let failures = link.failed_attempts + 1;
        let lock = failures >= LINK_MAX_FAILURES;
        release_link::Entity::update_many()
            .col_expr(release_link::Column::FailedAttempts, Expr::value(if lock { 0 } else { failures }))
            .col_expr(release_link::Column::LockedUntilMs, Expr::value(if lock { now + LINK_LOCK_MS } else { link.locked_until_ms }))
            .filter(release_link::Column::Id.eq(link.id.as_str()))
            .exec(&guard)
            .await?;
        audit::record(&guard, patient_failed(if lock { "wrong passcode, locked" } else { "wrong passcode" })).await?;
        guard.commit().await?;
        if lock {
            return Err(AppError::RateLimited { retry_after_secs: u64::try_from(LINK_LOCK_MS / 1000).unwrap_or(900) });
        }
        return Err(AppError::Validation {
            fields: vec![FieldError {
                field: "passcode".into(),
                message: format!("That passcode is not right. {} tries left before the link locks.", LINK_MAX_FAILURES - failures),
            }],
        });
    }
    let file = release_file::Entity::find()
        .filter(release_file::Column::RequestId.eq(row.id.as_str()))
        .filter(release_file::Column::Kind.eq(kind))
        .one(&guard)
        .await?
        // The passcode was right: say the format was not asked for, not that the link is bad.
        .ok_or_else(|| AppError::Conflict { message: format!("This copy has no {kind} file.") })?;
    let sealed = Sealed { key_id: file.key_id.clone(), nonce: file.nonce.clone(), ciphertext: file.ciphertext.clone() };
    let bytes = keys.open(&sealed, &format!("{}/{}", file.id, row.id))?;
    // The opening is recorded in the transaction that checked the passcode.
    let txn = guard;
    release_link::Entity::update_many()
        .col_expr(release_link::Column::FailedAttempts, Expr::value(0))
        .col_expr(release_link::Column::OpenedCount, Expr::col(release_link::Column::OpenedCount).add(1))
        .filter(release_link::Column::Id.eq(link.id.as_str()))
        .exec(&txn)
        .await?;
    audit::record(
        &txn,
        AuditEvent::new(AuditAction::ReleaseRequest, Outcome::Success, request)
            .patient(&row.patient_id)
            .entity("release_link", &link.id)
            .detail(format!("shared link opened: {kind} sha256={} to {}", file.sha256, recipient_of(&row)?)),
    )
    .await?;
    if row.status == Status::Released {
        // The first opening delivers the request (the portal acts: the recipient has no account).
        let changed = release_request::Entity::update_many()
            .col_expr(release_request::Column::Status, Expr::value(Status::Delivered.as_str()))
            .col_expr(release_request::Column::UpdatedAtMs, Expr::value(now))
            .filter(release_request::Column::Id.eq(row.id.as_str()))
            .filter(release_request::Column::Status.eq(Status::Released.as_str()))
            .exec(&txn)
            .await?;
        if changed.rows_affected == 1 {
            super::release::record_system_event(&txn, &row.id, Status::Released, Status::Delivered, &format!("Opened by {}", recipient_of(&row)?)).await?;
        }
    }
    txn.commit().await?;
    Ok((file.file_name, file.content_type, bytes))
}
