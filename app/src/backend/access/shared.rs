//! Copies sent to someone else, and the records of who received what.
//!
//! - The passcode link: created at release (a random token, stored hashed; an 8-digit passcode,
//!   stored hashed and, sealed, for the requester to pass on). The recipient needs no account:
//!   the token and passcode are the authority. Wrong passcodes count; five in a row lock the link
//!   for 15 minutes. Every attempt and opening is audited; the first opening delivers the request.
//! - The accounting of disclosures (45 CFR 164.528): an entry for every release to a third party,
//!   written with the release; HIM adds manual entries; corrections are new entries pointing at
//!   the old one; the patient sees six years.
//! - The activity history (ONC 170.315(e)(1)): each view, download and transmit of the patient's
//!   record, from the audit trail and the disclosures.

use super::rows::{disclosure, release_file, release_link, release_request};
use crate::backend::db::today;
use super::AccessContext;
use crate::backend::audit::{self, AuditAction, AuditEvent, Outcome};
use crate::backend::copies::seal::{FileKeys, Sealed};
use crate::backend::copies::sha256_hex;
use crate::backend::db::{now_ms, write_transaction};
use crate::backend::request::RequestMeta;
use crate::domain::release::{ShareView, Status};
use crate::domain::format_utc_minutes;
use crate::backend::error::{BackendError, Stored};
use crate::error::{AppError, FieldError};
use base64::Engine;
use rand::RngCore;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

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

/// The recipient of a copy sent to someone else: such a request always names one (the form
/// requires it), so a missing name is a damaged row.
fn recipient_of(row: &release_request::Model) -> Result<&str, BackendError> {
    row.recipient_name.as_deref().stored("release_request", "recipient_name")
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

    /// Writes an accounting entry for a release to a third party (164.528(b)(2)): date,
    /// recipient and address, what, why. Under a signed authorization it is not accountable
    /// (164.528(a)(1)(iv)), but it is recorded and shown to the patient all the same.
    pub(super) async fn record_disclosure(&self, txn: &sea_orm::DatabaseTransaction, row: &release_request::Model, what: &str, kind: &str) -> Result<(), AppError> {
        disclosure::Entity::insert(disclosure::ActiveModel {
            id: Set(uuid::Uuid::new_v4().to_string()),
            patient_id: Set(row.patient_id.clone()),
            request_id: Set(Some(row.id.clone())),
            disclosed_on: Set(today().to_string()),
            recipient_name: Set(recipient_of(row)?.to_string()),
            recipient_address: Set(row.recipient_address.clone()),
            description: Set(format!("Copy of the health record: {what} (request R-{})", row.number)),
            purpose: Set(row.purpose.clone().unwrap_or_else(|| "At the patient's request".into())),
            accountable: Set(false),
            kind: Set(kind.into()),
            corrects_id: Set(None),
            recorded_by_user_id: Set(Some(self.principal.user_id.clone())),
            created_at_ms: Set(now_ms()),
        })
        .exec_without_returning(txn)
        .await?;
        Ok(())
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
            expires: format_utc_minutes(link.expires_at_ms),
            expired: link.expires_at_ms <= now_ms(),
            opened: link.opened_count,
        }))
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
    if link.expires_at_ms <= now {
        audit::record_alone(db, patient_failed("expired")).await?;
        return Err(AppError::Gone { message: "This link has expired. Ask the person who sent it for a new copy.".into() });
    }
    if link.locked_until_ms > now {
        audit::record_alone(db, patient_failed("locked")).await?;
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
            .exec(db)
            .await?;
        audit::record_alone(db, patient_failed(if lock { "wrong passcode, locked" } else { "wrong passcode" })).await?;
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
        .one(db)
        .await?
        // The passcode was right: say the format was not asked for, not that the link is bad.
        .ok_or_else(|| AppError::Conflict { message: format!("This copy has no {kind} file.") })?;
    let sealed = Sealed { key_id: file.key_id.clone(), nonce: file.nonce.clone(), ciphertext: file.ciphertext.clone() };
    let bytes = keys.open(&sealed, &format!("{}/{}", file.id, row.id))?;
    let txn = write_transaction(db).await?;
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
    if row.status == Status::Released.as_str() {
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

/// A disclosure HIM records by hand (made outside the portal: by fax, by mail, to a public
/// health authority), or a correction of an earlier entry.
#[derive(Debug, Clone)]
pub struct ManualDisclosure {
    pub disclosed_on: crate::domain::IsoDate,
    pub recipient_name: String,
    pub recipient_address: Option<String>,
    pub description: String,
    pub purpose: String,
    pub accountable: bool,
    pub corrects: Option<String>,
}

fn disclosure_row(d: disclosure::Model) -> crate::domain::release::DisclosureRow {
    crate::domain::release::DisclosureRow {
        id: d.id,
        date: d.disclosed_on,
        recipient: d.recipient_name,
        address: d.recipient_address,
        description: d.description,
        purpose: d.purpose,
        accountable: d.accountable,
        kind: d.kind,
        corrects: d.corrects_id,
    }
}

impl AccessContext {
    /// The accounting of disclosures of the patient's own record (or, for HIM staff, of the
    /// patient asked for): six years back, newest first (164.528(a)). Audited.
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn accounting(&self, requested: Option<&str>) -> Result<crate::domain::release::Accounting, AppError> {
        use sea_orm::QueryOrder;
        let patient_id = match requested {
            Some(id) => id.to_string(),
            None => self.subject().ok_or(AppError::NotFound)?,
        };
        self.authorize(crate::backend::policy::Action::ReadPatientRecord, crate::backend::policy::Target::Patient(&patient_id), AuditAction::PatientRead).await?;
        let to = today();
        let from = crate::domain::release::accounting_start(to);
        let rows = disclosure::Entity::find()
            .filter(disclosure::Column::PatientId.eq(patient_id.as_str()))
            .filter(disclosure::Column::DisclosedOn.gte(from.to_string()))
            .order_by_desc(disclosure::Column::DisclosedOn)
            .order_by_desc(disclosure::Column::CreatedAtMs)
            .all(&self.db)
            .await?;
        let event = self.event(AuditAction::PatientRead, Outcome::Success).patient(&patient_id).entity("accounting", &patient_id).detail("accounting of disclosures");
        audit::record_alone(&self.db, event).await?;
        Ok(crate::domain::release::Accounting { from: from.to_string(), to: to.to_string(), entries: rows.into_iter().map(disclosure_row).collect() })
    }

    /// HIM adds an entry by hand, or corrects one (a new entry pointing at the old: entries are
    /// never changed or deleted).
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn add_disclosure(&self, patient_id: &str, entry: ManualDisclosure) -> Result<crate::domain::release::Accounting, AppError> {
        self.authorize(crate::backend::policy::Action::WorkRequests, crate::backend::policy::Target::Site, AuditAction::ReleaseRequest).await?;
        self.patient(patient_id).await?;
        if let Some(old) = &entry.corrects {
            let found = disclosure::Entity::find_by_id(old.clone())
                .filter(disclosure::Column::PatientId.eq(patient_id))
                .one(&self.db)
                .await?;
            if found.is_none() {
                return Err(AppError::Validation { fields: vec![FieldError { field: "corrects".into(), message: "That entry is not in this patient's accounting.".into() }] });
            }
        }
        let txn = write_transaction(&self.db).await?;
        let id = uuid::Uuid::new_v4().to_string();
        disclosure::Entity::insert(disclosure::ActiveModel {
            id: Set(id.clone()),
            patient_id: Set(patient_id.to_string()),
            request_id: Set(None),
            disclosed_on: Set(entry.disclosed_on.to_string()),
            recipient_name: Set(entry.recipient_name),
            recipient_address: Set(entry.recipient_address),
            description: Set(entry.description),
            purpose: Set(entry.purpose),
            accountable: Set(entry.accountable),
            kind: Set(if entry.corrects.is_some() { "correction" } else { "manual" }.into()),
            corrects_id: Set(entry.corrects),
            recorded_by_user_id: Set(Some(self.principal.user_id.clone())),
            created_at_ms: Set(now_ms()),
        })
        .exec_without_returning(&txn)
        .await?;
        audit::record(&txn, self.event(AuditAction::ReleaseRequest, Outcome::Success).patient(patient_id).entity("disclosure", &id).detail("disclosure recorded"))
            .await?;
        txn.commit().await?;
        self.accounting(Some(patient_id)).await
    }

    /// The activity history of the signed-in patient's record (170.315(e)(1)): each view and
    /// download by the patient, each copy sent to someone else (with the addressee) and each
    /// opening of its link, newest first.
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn activity_history(&self) -> Result<Vec<crate::domain::release::ActivityRow>, AppError> {
        use crate::backend::entities::audit_event;
        use sea_orm::{QueryOrder, QuerySelect};
        use crate::backend::entities::app_user;
        let patient_id = self.subject().ok_or(AppError::NotFound)?;
        self.authorize(crate::backend::policy::Action::ReadPatientRecord, crate::backend::policy::Target::Patient(&patient_id), AuditAction::PatientRead).await?;
        let patient_user = app_user::Entity::find()
            .filter(app_user::Column::PatientId.eq(patient_id.as_str()))
            .one(&self.db)
            .await?
            .map(|u| u.id);
        let you = if patient_user.as_deref() == Some(self.principal.user_id.as_str()) { "You" } else { "The patient" };
        let mut caregiver_names: std::collections::HashMap<String, String> = std::collections::HashMap::new();
        let events = audit_event::Entity::find()
            .filter(audit_event::Column::PatientId.eq(patient_id.as_str()))
            .filter(audit_event::Column::Outcome.eq("success"))
            .filter(audit_event::Column::Action.is_in(["patient_read", "release_request"]))
            .order_by_desc(audit_event::Column::Seq)
            .limit(500)
            .all(&self.db)
            .await?;
        let mut rows = Vec::new();
        for e in events {
            // The detail is optional by design (most reads carry none).
            let detail = e.detail.as_deref().unwrap_or("");
            let by_patient = e.actor_user_id.is_some() && e.actor_user_id == patient_user;
            // 170.315(e)(1): who acted, the patient or a representative; a caregiver's actions
            // carry the patient as on-behalf-of.
            let by_caregiver = !by_patient && e.on_behalf_of.as_deref() == Some(patient_id.as_str());
            let who = match (&e.actor_user_id, by_caregiver) {
                (Some(actor), true) => match caregiver_names.get(actor) {
                    Some(name) => name.clone(),
                    None => {
                        let name = format!("{} (caregiver)", self.display_name(actor).await?);
                        caregiver_names.insert(actor.clone(), name.clone());
                        name
                    }
                },
                _ => you.to_string(),
            };
            let row = match (e.action.as_str(), by_patient || by_caregiver) {
                ("patient_read", true) if detail != "accounting of disclosures" => Some(("View", who, describe_read(detail), None)),
                ("release_request", true) if detail.starts_with("downloaded") => Some(("Download", who, describe_download(detail), None)),
                ("release_request", true) if by_caregiver && detail.starts_with("submitted") => Some(("Request", who, "Asked for a copy on the patient's behalf".to_string(), None)),
                ("release_request", false) if detail.starts_with("shared link opened") => {
                    let to = detail.split_once(" to ").map(|(_, r)| r.to_string());
                    Some(("Transmit", "The recipient, with your passcode".to_string(), "Opened the copy you sent".to_string(), to))
                }
                _ => None,
            };
            if let Some((action, who, what, addressee)) = row {
                rows.push(crate::domain::release::ActivityRow { at: format_utc_minutes(e.occurred_at_ms), action: action.into(), who, what, addressee });
            }
        }
        // Copies sent at the patient's request (the transmit itself, with the addressee).
        let sent = disclosure::Entity::find()
            .filter(disclosure::Column::PatientId.eq(patient_id.as_str()))
            .filter(disclosure::Column::Kind.eq("automatic"))
            .all(&self.db)
            .await?;
        for d in sent {
            rows.push(crate::domain::release::ActivityRow {
                at: format_utc_minutes(d.created_at_ms),
                action: "Transmit".into(),
                who: "Sent at your request".into(),
                what: d.description,
                addressee: Some([Some(d.recipient_name), d.recipient_address].into_iter().flatten().collect::<Vec<_>>().join(", ")),
            });
        }
        rows.sort_by(|a, b| b.at.cmp(&a.at));
        let event = self.event(AuditAction::PatientRead, Outcome::Success).patient(&patient_id).entity("activity", &patient_id).detail("activity history");
        audit::record_alone(&self.db, event).await?;
        Ok(rows)
    }
}

fn describe_read(detail: &str) -> String {
    if let Some(section) = detail.strip_prefix("section=") {
        let slug = section.split_whitespace().next().unwrap_or_default();
        return crate::domain::Section::parse(slug).map(|s| format!("{} (record)", s.title())).unwrap_or_else(|| "Your record".into());
    }
    if detail.starts_with("visit=") {
        return "A visit".into();
    }
    if detail.starts_with("document=") {
        return "A document or note".into();
    }
    if detail == "activity history" {
        return "This activity history".into();
    }
    "Your record".into()
}

fn describe_download(detail: &str) -> String {
    match detail.split_whitespace().nth(1) {
        Some("pdf") => "A PDF copy of your record".into(),
        Some("fhir") => "Your record as FHIR data".into(),
        Some("denial_letter") => "A denial letter".into(),
        Some("authorization") => "A signed authorization".into(),
        _ => "A file".into(),
    }
}

impl AccessContext {
    /// The signed-in user's messages about their requests, newest first (50).
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn my_notifications(&self) -> Result<Vec<crate::domain::release::NotificationView>, AppError> {
        use super::rows::notification;
        use sea_orm::{QueryOrder, QuerySelect};
        let rows = notification::Entity::find()
            .filter(notification::Column::UserId.eq(self.principal.user_id.as_str()))
            .order_by_desc(notification::Column::CreatedAtMs)
            .limit(50)
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|n| crate::domain::release::NotificationView { message: n.message, at: format_utc_minutes(n.created_at_ms), request_id: n.request_id, unread: n.read_at_ms.is_none() })
            .collect())
    }

    /// Marks the signed-in user's messages read.
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn mark_notifications_read(&self) -> Result<(), AppError> {
        use super::rows::notification;
        notification::Entity::update_many()
            .col_expr(notification::Column::ReadAtMs, Expr::value(now_ms()))
            .filter(notification::Column::UserId.eq(self.principal.user_id.as_str()))
            .filter(notification::Column::ReadAtMs.is_null())
            .exec(&self.db)
            .await?;
        Ok(())
    }
}

/// The mail outbox: sends each message not yet emailed to its user's address, saying only that
/// the request has an update ("sign in to see it"). Each message is claimed with a conditional
/// update first, so several servers running this never send one twice; a failed send is put
/// back for the next round. Returns how many were sent.
async fn send_pending_notifications(db: &DatabaseConnection, mailer: &crate::backend::mail::Mailer, base_url: &str) -> Result<usize, AppError> {
    use super::rows::notification;
    use crate::backend::entities::app_user;
    use sea_orm::{QueryOrder, QuerySelect};
    let pending = notification::Entity::find()
        .filter(notification::Column::EmailedAtMs.is_null())
        .order_by_asc(notification::Column::CreatedAtMs)
        .limit(100)
        .all(db)
        .await?;
    let mut sent = 0;
    for n in pending {
        let claimed = notification::Entity::update_many()
            .col_expr(notification::Column::EmailedAtMs, Expr::value(now_ms()))
            .filter(notification::Column::Id.eq(n.id.as_str()))
            .filter(notification::Column::EmailedAtMs.is_null())
            .exec(db)
            .await?;
        if claimed.rows_affected != 1 {
            continue;
        }
        let Some(user) = app_user::Entity::find_by_id(n.user_id.clone()).one(db).await? else { continue };
        let (subject, body) = if n.request_id.is_some() {
            let number = n.message.split_whitespace().nth(2).unwrap_or("").to_string();
            (
                format!("Your request {number} has an update"),
                format!("Your request {number} has an update: sign in to see it.\n\n{base_url}/requests\n\nThis message does not contain health information.\n"),
            )
        } else {
            // Caregiver changes: who may see a record. No names, no health information.
            (
                "A change to access in your patient portal".to_string(),
                format!("There is a change to who can see a record in your patient portal account: sign in to see it.\n\n{base_url}/\n\nThis message does not contain health information.\n"),
            )
        };
        match mailer.send(&user.email, &subject, body).await {
            Ok(()) => sent += 1,
            Err(e) => {
                tracing::warn!(error = %e, "a notification could not be mailed; it will be tried again");
                notification::Entity::update_many()
                    .col_expr(notification::Column::EmailedAtMs, Expr::value(Option::<i64>::None))
                    .filter(notification::Column::Id.eq(n.id.as_str()))
                    .exec(db)
                    .await?;
            }
        }
    }
    Ok(sent)
}

impl super::SystemContext {
    /// The mail outbox: sends what is waiting; returns how many were sent.
    #[tracing::instrument(skip_all)]
    pub async fn send_pending_notifications(&self, mailer: &crate::backend::mail::Mailer, base_url: &str) -> Result<usize, AppError> {
        send_pending_notifications(&self.db, mailer, base_url).await
    }
}
