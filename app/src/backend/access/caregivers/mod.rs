//! Caregivers through the access context (45 CFR 164.502(g), DOMAIN.md "Personal
//! representatives"): the grants in force for a caregiver (read on every request, so a revoked or
//! expired grant stops access on the very next one), the patient's invitations and revocations,
//! accepting an invitation, representatives that HIM staff establish from documents, and the
//! daily job that applies the age thresholds and expiries.
//!
//! Every change is audited with both identities (actor, and the patient as on-behalf-of); a
//! refused attempt is audited as a failure and changes nothing.

mod age;
mod invitations;
mod representatives;
pub use age::{AgeRun, DAILY_JOB_LEASE_MS};
pub use representatives::{RepresentativeForm, Upload, sniff_document};

use super::rows::patient_row;
use super::AccessContext;
use super::patients::full_name;
use crate::backend::audit::{self, AuditAction, AuditEvent, Outcome};
use crate::backend::copies::seal::{FileKeys, Sealed};
use crate::backend::db::{now_ms, write_transaction};
use crate::backend::entities::{app_user, user_role};
use crate::backend::error::{BackendError, Stored};
use crate::backend::policy::{self, Action, Grant, Target};
use crate::domain::caregiver::{
    Acting, ActingChoice, AgeBand, AgeThresholds, CaregiversOverview, DocumentLink, GrantKind, GrantScope, GrantView,
    InvitationPreview, InvitationSent, InvitationView, InviteForm, RepresentativeView, ViewScope, effective_scope,
};
use crate::domain::{IsoDate, Mrn, Role};
use crate::error::{AppError, FieldError};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use sha2::{Digest, Sha256};

use super::rows::{band_of, caregiver_grant, caregiver_invitation, grant_scope, in_force, invitation_scope, job_run, representative_document, representative_request};

/// The caregiver settings (defaults in DOMAIN.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaregiverSettings {
    /// The expiry offered on the invitation form, in days.
    pub default_days: u32,
    /// The longest access a patient may grant, in days.
    pub max_days: u32,
    /// How long an invitation link can be accepted, in days.
    pub invitation_days: u32,
    pub ages: AgeThresholds,
    /// The largest supporting document accepted, in bytes.
    pub document_max_bytes: u64,
    /// The most one account may upload in 24 hours (representatives' documents), in bytes: the
    /// store cannot be filled by one account asking again and again.
    pub upload_bytes_per_day: u64,
}

impl Default for CaregiverSettings {
    fn default() -> Self {
        CaregiverSettings { default_days: 365, max_days: 730, invitation_days: 14, ages: AgeThresholds::default(), document_max_bytes: 10 * 1024 * 1024, upload_bytes_per_day: 50 * 1024 * 1024 }
    }
}

const DAY_MS: i64 = 86_400_000;
const MAX_DOCUMENTS: usize = 5;

fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.trim().as_bytes()))
}

/// The address a pending, unexpired invitation was sent to, for the registration page of the
/// person who holds its link (before they have an account). Only the link's holder learns it,
/// and it is the address the link was mailed to; nothing about the patient is revealed.
pub async fn invited_address(db: &sea_orm::DatabaseConnection, token: &str) -> Result<Option<String>, sea_orm::DbErr> {
    if token.len() > 128 {
        return Ok(None);
    }
    let invitation = caregiver_invitation::Entity::find()
        .filter(caregiver_invitation::Column::TokenHash.eq(hash_token(token)))
        .filter(caregiver_invitation::Column::Status.eq("pending"))
        .filter(caregiver_invitation::Column::ExpiresAtMs.gt(now_ms()))
        .one(db)
        .await?;
    Ok(invitation.map(|i| i.email))
}

fn new_token() -> String {
    let bytes: [u8; 32] = rand::random();
    hex::encode(bytes)
}

fn field(name: &str, message: &str) -> AppError {
    AppError::Validation { fields: vec![FieldError { field: name.into(), message: message.into() }] }
}

/// A message in the portal and the mail outbox (the mail says only that something changed).
async fn notify_user(conn: &impl ConnectionTrait, user_id: &str, message: String) -> Result<(), AppError> {
    super::notifications::queue(conn, user_id, None, message.chars().take(500).collect()).await?;
    Ok(())
}

/// The user account linked to a patient record, if any (a young child has none).
async fn patient_account(conn: &impl ConnectionTrait, patient_id: &str) -> Result<Option<app_user::Model>, AppError> {
    app_user::Entity::find().filter(app_user::Column::PatientId.eq(patient_id)).one(conn).await.map_err(AppError::from)
}

async fn ensure_caregiver_role(conn: &impl ConnectionTrait, user_id: &str) -> Result<(), AppError> {
    let has = user_role::Entity::find_by_id((user_id.to_string(), Role::Caregiver.as_str().to_string()))
        .one(conn)
        .await?;
    if has.is_none() {
        user_role::Entity::insert(user_role::ActiveModel {
            user_id: Set(user_id.to_string()),
            role: Set(Role::Caregiver.as_str().into()),
            granted_at_ms: Set(now_ms()),
        })
        .exec_without_returning(conn)
        .await?;
    }
    Ok(())
}

impl AccessContext {
    /// The capacity in which `user_id` acts for `patient_id` (their newest grant) and whether
    /// their view is limited today; `None` when they hold no grant at all.
    pub(super) async fn representative_of(&self, user_id: &str, patient_id: &str) -> Result<Option<(GrantKind, bool)>, AppError> {
        let Some(row) = caregiver_grant::Entity::find()
            .filter(caregiver_grant::Column::UserId.eq(user_id))
            .filter(caregiver_grant::Column::PatientId.eq(patient_id))
            .order_by_desc(caregiver_grant::Column::CreatedAtMs)
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        let birth = patient_row::Entity::find_by_id(patient_id.to_string()).one(&self.db).await?.map(|p| p.birth_date).stored("caregiver_grant", "patient_id")?;
        let band = band_of(&birth, self.ages, self.clock.today());
        let kind = row.kind;
        let limited = effective_scope(kind, grant_scope(&row), band).is_none_or(|s| s.view == ViewScope::Limited);
        Ok(Some((kind, limited)))
    }

    /// Everyone the signed-in user may act for now, and whose record is on screen.
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn acting(&self) -> Result<Acting, AppError> {
        let mut acting = Acting::default();
        if !self.principal.has(Role::Caregiver) {
            acting.lost = self.acting_for.is_some();
            return Ok(acting);
        }
        let rows = caregiver_grant::Entity::find()
            .filter(caregiver_grant::Column::UserId.eq(self.principal.user_id.as_str()))
            .filter(in_force(now_ms()))
            .order_by_asc(caregiver_grant::Column::CreatedAtMs)
            .all(&self.db)
            .await?;
        // One query for the patients (this runs on every page load of a caregiver).
        let ids: std::collections::BTreeSet<String> = rows.iter().map(|r| r.patient_id.clone()).collect();
        let patients: std::collections::HashMap<String, patient_row::Model> = if ids.is_empty() {
            Default::default()
        } else {
            patient_row::Entity::find()
                .filter(patient_row::Column::Id.is_in(ids))
                .all(&self.db)
                .await?
                .into_iter()
                .map(|p| (p.id.clone(), p))
                .collect()
        };
        let today = self.clock.today();
        let grants: Vec<Grant> = rows
            .iter()
            .filter_map(|r| patients.get(&r.patient_id).map(|patient| (r, patient)))
            .map(|(r, patient)| {
                Ok::<_, BackendError>(Grant { patient_id: r.patient_id.clone(), kind: r.kind, scope: grant_scope(r), band: band_of(&patient.birth_date, self.ages, today) })
            })
            .collect::<Result<_, _>>()?;
        for row in &rows {
            if acting.choices.iter().any(|c| c.patient_id == row.patient_id) {
                continue;
            }
            let Some(patient) = patients.get(&row.patient_id) else { continue };
            let Some(scope) = policy::proxy_scope(&self.principal, &row.patient_id, &grants) else { continue };
            acting.choices.push(ActingChoice {
                patient_id: row.patient_id.clone(),
                name: full_name(patient),
                kind: row.kind,
                scope,
                expires_on: row.expires_at_ms.map(|ms| self.clock.day(ms)),
            });
        }
        if let Some(id) = &self.acting_for {
            match acting.choices.iter().find(|c| &c.patient_id == id) {
                Some(c) => acting.acting_for = Some(c.clone()),
                None => acting.lost = true,
            }
        }
        Ok(acting)
    }

    /// Switches whose record is on screen; `None` is oneself. Audited with both identities.
    /// A person the caregiver holds no grant for answers 404.
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn switch_to(&self, patient_id: Option<&str>) -> Result<Option<ActingChoice>, AppError> {
        let Some(id) = patient_id else { return Ok(None) };
        let acting = self.acting().await?;
        let choice = acting.choices.into_iter().find(|c| c.patient_id == id);
        let outcome = if choice.is_some() { Outcome::Success } else { Outcome::Denied };
        let event = AuditEvent::new(AuditAction::CaregiverSwitch, outcome, &self.request)
            .actor(&self.principal.user_id)
            .patient(id)
            .on_behalf_of(id);
        self.audit_alone(event).await?;
        choice.map(Some).ok_or(AppError::NotFound)
    }

    fn grant_view(&self, row: &caregiver_grant::Model, patient: &patient_row::Model, caregiver: &app_user::Model, granter: &str, now: i64) -> Result<GrantView, BackendError> {
        let kind = row.kind;
        let scope = grant_scope(row);
        let band = band_of(&patient.birth_date, self.ages, self.clock.today());
        let expired = row.expires_at_ms.is_some_and(|e| e <= now);
        let effective = effective_scope(kind, scope, band);
        let (status, active) = match (&row.end_reason, row.ended_at_ms) {
            (Some(reason), Some(_)) => (reason.clone(), false),
            (None, Some(_)) => ("Ended".into(), false),
            _ if expired => ("Expired".into(), false),
            _ if effective.is_none() => ("Ended: the patient is now an adult".into(), false),
            _ => ("Active".into(), true),
        };
        Ok(GrantView {
            id: row.id.clone(),
            patient_id: row.patient_id.clone(),
            patient_name: full_name(patient),
            caregiver_name: caregiver.display_name.clone(),
            caregiver_email: caregiver.email.clone(),
            kind,
            scope,
            effective,
            granted_by: granter.to_string(),
            starts_on: self.clock.day(row.starts_at_ms),
            expires_on: row.expires_at_ms.map(|ms| self.clock.day(ms)),
            status,
            active,
            ended_on: row.ended_at_ms.or(row.expires_at_ms.filter(|e| *e <= now)).map(|ms| self.clock.day(ms)),
            last_used: None,
        })
    }

    async fn grant_views(&self, rows: Vec<caregiver_grant::Model>) -> Result<Vec<GrantView>, AppError> {
        use std::collections::{BTreeSet, HashMap};
        let now = now_ms();
        // Three queries for the whole list (patients, their own accounts, every person named),
        // not three per grant.
        let patient_ids: BTreeSet<String> = rows.iter().map(|r| r.patient_id.clone()).collect();
        let user_ids: BTreeSet<String> = rows.iter().flat_map(|r| [r.user_id.clone(), r.granted_by.clone()]).collect();
        let patients: HashMap<String, patient_row::Model> = patient_row::Entity::find()
            .filter(patient_row::Column::Id.is_in(patient_ids.iter().cloned()))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|p| (p.id.clone(), p))
            .collect();
        let own_accounts: HashMap<String, String> = app_user::Entity::find()
            .filter(app_user::Column::PatientId.is_in(patient_ids))
            .all(&self.db)
            .await?
            .into_iter()
            .filter_map(|u| Some((u.patient_id?, u.id)))
            .collect();
        let users: HashMap<String, app_user::Model> =
            app_user::Entity::find().filter(app_user::Column::Id.is_in(user_ids)).all(&self.db).await?.into_iter().map(|u| (u.id.clone(), u)).collect();
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            // Both exist (foreign keys; accounts are disabled, never deleted).
            let patient = patients.get(&row.patient_id).stored("caregiver_grant", "patient_id")?;
            let caregiver = users.get(&row.user_id).stored("caregiver_grant", "user_id")?;
            // Mid-sentence on the page: "granted by the patient" or "granted by Sam Lee (HIM)".
            let granter = if own_accounts.get(&row.patient_id) == Some(&row.granted_by) {
                "the patient".to_string()
            } else {
                format!("{} (HIM)", users.get(&row.granted_by).map_or("Unknown user", |u| u.display_name.as_str()))
            };
            out.push(self.grant_view(&row, patient, caregiver, &granter, now)?);
        }
        Ok(out)
    }

    fn invitation_view(&self, row: &caregiver_invitation::Model, now: i64) -> Result<InvitationView, BackendError> {
        let status = if row.status == "pending" && row.expires_at_ms <= now { "expired".to_string() } else { row.status.clone() };
        Ok(InvitationView {
            id: row.id.clone(),
            email: row.email.clone(),
            scope: invitation_scope(row),
            days: u32::try_from(row.days).unwrap_or(0),
            sent_on: self.clock.day(row.created_at_ms),
            expires_on: self.clock.day(row.expires_at_ms),
            status,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_are_recognised_by_content_not_name() {
        assert_eq!(sniff_document(b"%PDF-1.7\n..."), Some("application/pdf"));
        assert_eq!(sniff_document(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0]), Some("image/png"));
        assert_eq!(sniff_document(&[0xFF, 0xD8, 0xFF, 0xE0]), Some("image/jpeg"));
        assert_eq!(sniff_document(b"MZ\x90\x00 not a pdf"), None);
        assert_eq!(sniff_document(b"<html>%PDF-</html>"), None);
        assert_eq!(sniff_document(b""), None);
    }

    #[test]
    fn invitation_tokens_are_stored_only_as_hashes() {
        let token = new_token();
        assert_eq!(token.len(), 64);
        assert_ne!(hash_token(&token), token);
        assert_eq!(hash_token(&format!(" {token} ")), hash_token(&token));
    }
}
