//! The one door to patient data. An [`AccessContext`] is built per request from the signed-in
//! session; each method asks `policy::decide`, adds the patient filter to its query, and audits
//! the read or change through `audit::record` (changes in the same transaction). The patient
//! entity is private to this module, so nothing else can reach patient rows.
//!
//! Every public method runs in a tracing span named after it (fields: the policy action and the
//! patient's record id, never health information), so a request's log lines say which door
//! method ran; the server logs how long each took.
//!
//! This file is the door itself: the context, `authorize` and the caregiver-grant lookup every
//! check uses. Each feature adds its methods in its own file (`patients.rs`, `release/`,
//! `caregivers/` ...); set-up and jobs enter through [`SystemContext`] (`system.rs`).
//!
//! Another patient's data, a refused action and a record that does not exist all answer
//! `AppError::NotFound`: the answer never reveals that a record exists (HOUSE-STYLE).

pub mod activation;
mod apps;
pub use apps::{OAuthError, TokenAnswer, TokenForm, smart_revoke, smart_token};
mod fhir_api;
pub use fhir_api::{ApiError, ApiGrant, api_context, operation_outcome, grant_holder_may_read};
mod audit_report;
pub mod caregivers;
pub use caregivers::{AgeRun, CaregiverSettings, DAILY_JOB_LEASE_MS, RepresentativeForm};
pub mod import;
mod patients;
mod record;
mod rows;
pub use rows::check_entities;
mod system;
pub use system::SystemContext;
pub mod reseal;
use rows::{band_of, caregiver_grant, grant_scope, in_force, patient_row};
pub mod release;
pub use release::{InstantFile, InstantSettings, LinkNotice, MAX_SCANS, ReleaseSettings, normalize_code};
mod activity;
mod disclosures;
pub use disclosures::ManualDisclosure;
mod links;
pub use links::{open_shared_copy, shared_link_mail};
mod notifications;
pub use notifications::{MAIL_ATTEMPTS, MAIL_LEASE_MS};
pub mod segment_rules;

mod verify;
pub use verify::{VerifyQuery, verify_copy};

use super::audit::{self, AuditAction, AuditEvent, Outcome};
use super::auth::sessions::SignedIn;
use super::db::{now_ms, write_transaction};
use super::error::{Stored, unique_or};
use super::policy::{self, Action, Decision, Grant, Principal, Target};
use super::request::RequestMeta;
use crate::domain::{ActivationLetter, PendingVerification, AuditReportQuery, AuditReportRow, AuditSort, NewPatient, PatientSummary, Role};
use crate::error::{AppError, FieldError};
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, DatabaseConnection, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};

/// Everything one request may do with patient data, on behalf of one signed-in user.
pub struct AccessContext {
    db: DatabaseConnection,
    principal: Principal,
    request: RequestMeta,
    site_code: String,
    /// The patient a caregiver switched to; `None` acts as oneself.
    acting_for: Option<String>,
    /// The ages at which a parent's access narrows and ends (settings).
    ages: crate::domain::caregiver::AgeThresholds,
    /// The hospital's time zone, for every date shown and every calendar day counted.
    clock: crate::backend::clock::SiteClock,
    /// Where reads are audited (group commit); `None` writes each in its own transaction.
    audit: Option<audit::AuditSink>,
}

impl AccessContext {
    /// The context for a signed-in user (built by `backend::current`).
    pub fn new(db: DatabaseConnection, signed_in: &SignedIn, request: RequestMeta, site_code: String) -> Self {
        let principal = Principal {
            user_id: signed_in.user.id.clone(),
            roles: signed_in.user.roles.clone(),
            patient_id: signed_in.user.patient_id.clone(),
        };
        AccessContext { db, principal, request, site_code, acting_for: None, ages: Default::default(), clock: Default::default(), audit: None }
    }

    /// Acting for another patient (the caregiver's switch, from the session), under the site's
    /// age thresholds. The switch itself grants nothing: every check still asks the policy
    /// with the grants in force.
    /// Dates and times read in the hospital's zone (`time_zone`; UTC until set).
    pub fn with_clock(mut self, clock: crate::backend::clock::SiteClock) -> Self {
        self.clock = clock;
        self
    }

    /// Audits reads through the server's group commit.
    pub fn with_audit(mut self, sink: audit::AuditSink) -> Self {
        self.audit = Some(sink);
        self
    }

    /// When the newest audit event matching `condition` happened (a last use, a last opening).
    pub(in crate::backend::access) async fn last_audited(&self, condition: sea_orm::Condition) -> Result<Option<i64>, sea_orm::DbErr> {
        use crate::backend::entities::audit_event;
        use sea_orm::sea_query::ExprTrait;
        use sea_orm::{EntityTrait, QueryFilter, QuerySelect};
        let at: Option<Option<i64>> = audit_event::Entity::find()
            .select_only()
            .column_as(sea_orm::sea_query::Expr::col(audit_event::Column::OccurredAtMs).max(), "at")
            .filter(condition)
            .into_tuple()
            .one(&self.db)
            .await?;
        Ok(at.flatten())
    }

    /// When each of `users` last acted successfully on the patient's record on the patient's
    /// behalf, from the audit trail (caregivers' last use on "Who can see my records").
    pub(in crate::backend::access) async fn last_acted_for(&self, patient_id: &str, users: Vec<String>) -> Result<std::collections::HashMap<String, i64>, sea_orm::DbErr> {
        use crate::backend::entities::audit_event::{Column, Entity};
        use sea_orm::sea_query::ExprTrait;
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect};
        if users.is_empty() {
            return Ok(std::collections::HashMap::new());
        }
        let rows: Vec<(Option<String>, Option<i64>)> = Entity::find()
            .select_only()
            .column(Column::ActorUserId)
            .column_as(sea_orm::sea_query::Expr::col(Column::OccurredAtMs).max(), "at")
            .filter(Column::ActorUserId.is_in(users))
            .filter(Column::PatientId.eq(patient_id))
            .filter(Column::OnBehalfOf.eq(patient_id))
            .filter(Column::Outcome.eq("success"))
            .group_by(Column::ActorUserId)
            .into_tuple()
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().filter_map(|(user, at)| Some((user?, at?))).collect())
    }

    /// Records an event that accompanies no change (a read, a refusal) and returns once it is
    /// committed: nothing is shown before its audit row exists (164.312(b)).
    pub(crate) async fn audit_alone(&self, event: AuditEvent) -> Result<(), sea_orm::DbErr> {
        match &self.audit {
            Some(sink) => sink.record(event).await,
            None => audit::record_alone(&self.db, event).await,
        }
    }

    /// Audits a list of patient data that was read (HIM queues, user lists, import runs):
    /// 164.312(b) covers what staff saw in a list as much as a record they opened. `searched`
    /// says a search term narrowed it (the term itself may be a name: never stored).
    pub(crate) async fn audit_list(&self, list: &str, rows: usize, searched: bool) -> Result<(), AppError> {
        let detail = format!("{list}; rows={rows}{}", if searched { "; searched" } else { "" });
        self.audit_alone(self.event(AuditAction::ListRead, Outcome::Success).detail(detail)).await?;
        Ok(())
    }

    pub fn with_caregivers(mut self, acting_for: Option<String>, ages: crate::domain::caregiver::AgeThresholds) -> Self {
        self.acting_for = acting_for.filter(|id| self.principal.patient_id.as_deref() != Some(id.as_str()));
        self.ages = ages;
        self
    }

    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    pub fn request(&self) -> &RequestMeta {
        &self.request
    }

    /// An audit event by the signed-in user; when a caregiver acts for someone, with that
    /// patient as on-behalf-of (both identities on every action).
    fn event(&self, action: AuditAction, outcome: Outcome) -> AuditEvent {
        let event = AuditEvent::new(action, outcome, &self.request).actor(&self.principal.user_id);
        match &self.acting_for {
            Some(patient) => event.on_behalf_of(patient),
            None => event,
        }
    }

    /// Asks the policy with the caregiver's grants in force now (read on every call, so a
    /// revoked or expired grant fails the very next request); a refusal is audited as denied
    /// and answered 404.
    async fn authorize(&self, action: Action, target: Target<'_>, audit_as: AuditAction) -> Result<(), AppError> {
        let grants = match target {
            Target::Patient(id) => self.grants_for(id).await?,
            Target::Site => policy::Relations::default(),
        };
        self.authorize_with(action, target, audit_as, &grants).await
    }

    /// [`Self::authorize`] with the grants already read on this request.
    async fn authorize_with(&self, action: Action, target: Target<'_>, audit_as: AuditAction, grants: &policy::Relations) -> Result<(), AppError> {
        // The door method's span (`#[tracing::instrument]`) carries the action and the patient's
        // record id on every log line it makes: identifiers only, never health information.
        let span = tracing::Span::current();
        span.record("action", tracing::field::debug(action));
        if let Target::Patient(id) = target {
            span.record("patient_id", id);
        }
        if policy::decide(&self.principal, action, target, grants) == Decision::Allow {
            return Ok(());
        }
        let mut event = self.event(audit_as, Outcome::Denied);
        if let Target::Patient(id) = target {
            event = event.patient(id);
        }
        self.audit_alone(event).await?;
        Err(AppError::NotFound)
    }

    /// Checks a site-wide permission (user management, audit report); refused means 404. Not a
    /// span of its own: the action is recorded on the calling door method's span.
    pub async fn require(&self, action: Action, audit_as: AuditAction) -> Result<(), AppError> {
        self.authorize(action, Target::Site, audit_as).await
    }

    /// The acting-for patient (the switcher), when not oneself.
    pub fn acting_for(&self) -> Option<&str> {
        self.acting_for.as_deref()
    }

    /// Whose record "my record", "my requests" and the rest mean on this request: the person
    /// the caregiver switched to, or the signed-in patient's own.
    pub(in crate::backend::access) fn subject(&self) -> Option<String> {
        self.acting_for.clone().or_else(|| self.principal.patient_id.clone())
    }

    /// What ties the signed-in person to `patient_id` (see [`policy::Relations`]): the
    /// caregiver's grants in force now, with the patient's age band today, and for a reviewer
    /// whether a denial of the patient's request waits for review. Read from the database on
    /// every check: a revocation or a decided review applies to the very next request.
    pub(in crate::backend::access) async fn grants_for(&self, patient_id: &str) -> Result<policy::Relations, AppError> {
        let reviewing = if self.principal.has(Role::HimReviewer) {
            use sea_orm::PaginatorTrait;
            rows::release_request::Entity::find()
                .filter(rows::release_request::Column::PatientId.eq(patient_id))
                .filter(rows::release_request::Column::Status.eq(crate::domain::release::Status::DenialUnderReview.as_str()))
                .count(&self.db)
                .await?
                > 0
        } else {
            false
        };
        Ok(policy::Relations { grants: self.caregiver_grants(patient_id).await?, reviewing })
    }

    async fn caregiver_grants(&self, patient_id: &str) -> Result<Vec<Grant>, AppError> {
        if !self.principal.has(Role::Caregiver) {
            return Ok(Vec::new());
        }
        let rows = caregiver_grant::Entity::find()
            .filter(caregiver_grant::Column::UserId.eq(self.principal.user_id.as_str()))
            .filter(caregiver_grant::Column::PatientId.eq(patient_id))
            .filter(in_force(now_ms()))
            .all(&self.db)
            .await?;
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        // A grant's patient always exists (foreign key): a missing one is a damaged database.
        let birth = patient_row::Entity::find_by_id(patient_id.to_string())
            .one(&self.db)
            .await?
            .map(|p| p.birth_date)
            .stored("caregiver_grant", "patient_id")?;
        let band = band_of(&birth, self.ages, self.clock.today());
        rows.iter().map(|r| Ok(Grant { patient_id: patient_id.to_string(), kind: r.kind, scope: grant_scope(r), band })).collect()
    }

    /// What the policy says, without auditing (to shape a page, not to guard data).
    pub(in crate::backend::access) async fn allows(&self, action: Action, patient_id: &str) -> Result<bool, AppError> {
        let grants = self.grants_for(patient_id).await?;
        Ok(self.allows_with(action, patient_id, &grants))
    }

    /// The same with grants already read on this request.
    pub(in crate::backend::access) fn allows_with(&self, action: Action, patient_id: &str, grants: &policy::Relations) -> bool {
        policy::decide(&self.principal, action, Target::Patient(patient_id), grants) == policy::Decision::Allow
    }
}
