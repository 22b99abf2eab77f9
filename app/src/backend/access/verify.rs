//! `/verify`: anyone holding a copy learns whether this portal produced it, when, and for which
//! request, by the file's SHA-256 or the code printed on its last page. It answers from the
//! record kept of every copy (`copy_record`), never from the copy itself, and shows no health
//! information: no name, no scope, nothing of the record. Each check is audited against the
//! patient the copy belongs to (the patient's data was looked up); the route is rate-limited
//! per client address.

use super::rows::{copy_record, copy_record_file, release_request};
use crate::backend::audit::{self, AuditAction, AuditEvent, Outcome};
use crate::backend::clock::SiteClock;
use crate::backend::request::RequestMeta;
use crate::domain::release::{VerifiedCopy, VerifyOutcome};
use crate::error::AppError;
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder};

/// What was asked: a code as typed, or a file's SHA-256 (hex).
#[derive(Debug, Clone)]
pub enum VerifyQuery {
    Code(String),
    Sha256(String),
}

/// Looks a copy up by its code or one of its files' hashes.
pub async fn verify_copy(db: &DatabaseConnection, request: &RequestMeta, clock: &SiteClock, query: VerifyQuery) -> Result<VerifyOutcome, AppError> {
    let (record, matched) = match &query {
        VerifyQuery::Code(typed) => {
            let Some(code) = super::release::normalize_code(typed) else {
                return Ok(VerifyOutcome::Invalid { field: "code".into(), message: "A verification code has 12 letters and digits, like 7KQ2-MX4P-9TRA.".into() });
            };
            (copy_record::Entity::find().filter(copy_record::Column::Code.eq(code)).one(db).await?, None)
        }
        VerifyQuery::Sha256(hash) => {
            let hash = hash.trim().to_ascii_lowercase();
            if hash.len() != 64 || !hash.chars().all(|c| c.is_ascii_hexdigit()) {
                return Ok(VerifyOutcome::Invalid { field: "file".into(), message: "Choose the file to check.".into() });
            }
            let file = copy_record_file::Entity::find().filter(copy_record_file::Column::Sha256.eq(hash.as_str())).order_by_asc(copy_record_file::Column::CopyId).one(db).await?;
            match file {
                Some(f) => (copy_record::Entity::find_by_id(f.copy_id.clone()).one(db).await?, Some(f.name)),
                None => (None, None),
            }
        }
    };
    let Some(record) = record else {
        audit::record_alone(db, AuditEvent::new(AuditAction::PatientRead, Outcome::Failure, request).detail("copy check: not a copy of this portal")).await?;
        let what = match query {
            VerifyQuery::Code(_) => "No copy of this portal has this code. Check the code as printed on the copy's last page.",
            VerifyQuery::Sha256(_) => "This file is not a copy produced by this portal, or it was changed after it was made: even one changed byte makes it a different file.",
        };
        return Ok(VerifyOutcome::Unknown { what: what.into() });
    };
    let files = copy_record_file::Entity::find().filter(copy_record_file::Column::CopyId.eq(record.id.as_str())).order_by_asc(copy_record_file::Column::Name).all(db).await?;
    let how = match (record.kind.as_str(), &record.request_id) {
        ("release", Some(request_id)) => {
            let number = release_request::Entity::find_by_id(request_id.clone()).one(db).await?.map(|r| format!("R-{}", r.number)).unwrap_or_else(|| "a request".into());
            format!("Released by the records team for request {number}")
        }
        ("transmit", _) => "Sent at once from the portal at the patient's direction".to_string(),
        _ if record.on_behalf_of.is_some() => "Downloaded at once in the portal by a caregiver of the patient".to_string(),
        _ => "Downloaded at once in the portal by the patient".to_string(),
    };
    let event = AuditEvent::new(AuditAction::PatientRead, Outcome::Success, request)
        .patient(&record.patient_id)
        .entity("copy_record", &record.id)
        .detail(format!("copy check: {}", if matched.is_some() { "file" } else { "code" }));
    audit::record_alone(db, event).await?;
    Ok(VerifyOutcome::Genuine(VerifiedCopy {
        made: clock.minutes(record.created_at_ms),
        how,
        code: record.code,
        files: files.into_iter().map(|f| (f.name, f.size, f.sha256)).collect(),
        matched,
    }))
}
