//! The one door to patient data. An [`AccessContext`] is built per request from the signed-in
//! session; each method asks `policy::decide`, adds the patient filter to its query, and audits
//! the read or change through `audit::record` (changes in the same transaction). The patient
//! entity is private to this module, so nothing else can reach patient rows.
//!
//! Another patient's data, a refused action and a record that does not exist all answer
//! `AppError::NotFound`: the answer never reveals that a record exists (HOUSE-STYLE).

pub mod caregivers;
pub use caregivers::{CaregiverSettings, RepresentativeForm, apply_age_rules, run_daily_age_rules};
mod clinical_rows;
pub mod import;
mod patient_row;
mod record;
pub mod release;
mod release_files;
pub use release_files::{LinkNotice, ReleaseSettings};
mod shared;
pub use shared::{ManualDisclosure, open_shared_copy, send_pending_notifications};

use super::audit::{self, AuditAction, AuditEvent, Outcome};
use super::auth::sessions::SignedIn;
use super::db::{now_ms, write_transaction};
use super::error::unique_or;
use super::policy::{self, Action, Decision, Principal, Target};
use super::request::RequestMeta;
use crate::domain::{ActivationLetter, PendingVerification, AuditReportQuery, AuditReportRow, AuditSort, NewPatient, PatientSummary, format_utc_seconds};
use crate::error::{AppError, FieldError};
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr};
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
}

fn to_summary(row: patient_row::Model) -> PatientSummary {
    PatientSummary {
        id: row.id,
        mrn: row.mrn,
        family_name: row.family_name,
        given_names: row.given_names,
        birth_date: row.birth_date,
        sex: row.sex,
        deceased_date: row.deceased_date,
    }
}

/// A patient's name as letters, covers and lists print it: given names, then family name.
pub(super) fn full_name(p: &patient_row::Model) -> String {
    format!("{} {}", p.given_names, p.family_name).trim().to_string()
}

impl AccessContext {
    /// The context for a signed-in user (built by `backend::current`).
    pub fn new(db: DatabaseConnection, signed_in: &SignedIn, request: RequestMeta, site_code: String) -> Self {
        let principal = Principal {
            user_id: signed_in.user.id.clone(),
            roles: signed_in.user.roles.clone(),
            patient_id: signed_in.user.patient_id.clone(),
        };
        AccessContext { db, principal, request, site_code, acting_for: None, ages: Default::default() }
    }

    /// Acting for another patient (the caregiver's switch, from the session), under the site's
    /// age thresholds. The switch itself grants nothing: every check still asks the policy
    /// with the grants in force.
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
            Target::Site => Vec::new(),
        };
        self.authorize_with(action, target, audit_as, &grants).await
    }

    /// [`Self::authorize`] with the grants already read on this request.
    async fn authorize_with(&self, action: Action, target: Target<'_>, audit_as: AuditAction, grants: &[policy::Grant]) -> Result<(), AppError> {
        if policy::decide(&self.principal, action, target, grants) == Decision::Allow {
            return Ok(());
        }
        let mut event = self.event(audit_as, Outcome::Denied);
        if let Target::Patient(id) = target {
            event = event.patient(id);
        }
        audit::record_alone(&self.db, event).await?;
        Err(AppError::NotFound)
    }

    /// Checks a site-wide permission (user management, audit report); refused means 404.
    pub async fn require(&self, action: Action, audit_as: AuditAction) -> Result<(), AppError> {
        self.authorize(action, Target::Site, audit_as).await
    }

    /// One patient's demographics. Audited as a read.
    pub async fn patient(&self, patient_id: &str) -> Result<PatientSummary, AppError> {
        self.authorize(Action::ReadPatientRecord, Target::Patient(patient_id), AuditAction::PatientRead).await?;
        let row = patient_row::Entity::find_by_id(patient_id.to_string())
            .filter(patient_row::Column::SiteCode.eq(self.site_code.as_str()))
            .one(&self.db)
            .await?;
        let Some(row) = row else {
            return Err(AppError::NotFound);
        };
        audit::record_alone(
            &self.db,
            self.event(AuditAction::PatientRead, Outcome::Success).patient(patient_id).entity("patient", patient_id),
        )
        .await?;
        Ok(to_summary(row))
    }

    /// The signed-in patient's own record, if their account is linked to one.
    pub async fn own_patient(&self) -> Result<Option<PatientSummary>, AppError> {
        match self.subject() {
            Some(id) => self.patient(&id).await.map(Some),
            None => Ok(None),
        }
    }

    /// Searches the registry by record number, or family name (prefix) with an optional birth
    /// date. At most 50 results. Audited with the number of results, never the search terms.
    pub async fn search_patients(&self, text: &str, birth_date: Option<&str>) -> Result<Vec<PatientSummary>, AppError> {
        self.authorize(Action::SearchPatients, Target::Site, AuditAction::PatientSearch).await?;
        let text = text.trim();
        if text.is_empty() || text.chars().count() > 100 {
            return Err(AppError::Validation {
                fields: vec![FieldError {
                    field: "q".into(),
                    message: "Enter a record number or a family name (up to 100 characters).".into(),
                }],
            });
        }
        // LIKE wildcards typed by the user are matched literally.
        let mut escaped = String::new();
        for c in text.to_lowercase().chars() {
            if matches!(c, '%' | '_' | '!') {
                escaped.push('!');
            }
            escaped.push(c);
        }
        let mut condition = Condition::any()
            .add(patient_row::Column::Mrn.eq(text.to_ascii_uppercase()))
            .add(Expr::expr(Func::lower(Expr::col(patient_row::Column::FamilyName))).like(LikeExpr::new(format!("{escaped}%")).escape('!')));
        if let Some(date) = birth_date.filter(|d| !d.trim().is_empty()) {
            condition = Condition::all().add(condition).add(patient_row::Column::BirthDate.eq(date.trim()));
        }
        let rows = patient_row::Entity::find()
            .filter(patient_row::Column::SiteCode.eq(self.site_code.as_str()))
            .filter(condition)
            .order_by_asc(patient_row::Column::FamilyName)
            .order_by_asc(patient_row::Column::GivenNames)
            .limit(50)
            .all(&self.db)
            .await?;
        audit::record_alone(
            &self.db,
            self.event(AuditAction::PatientSearch, Outcome::Success).detail(format!("results={}", rows.len())),
        )
        .await?;
        Ok(rows.into_iter().map(to_summary).collect())
    }

    /// Creates a patient record by hand; the row and its audit event commit together.
    pub async fn create_patient(&self, new: NewPatient) -> Result<PatientSummary, AppError> {
        self.authorize(Action::CreatePatient, Target::Site, AuditAction::PatientCreate).await?;
        let id = uuid::Uuid::new_v4().to_string();
        let row = patient_row::Model {
            id: id.clone(),
            site_code: self.site_code.clone(),
            mrn: new.mrn.as_str().to_string(),
            family_name: new.family_name,
            given_names: new.given_names,
            birth_date: new.birth_date.to_string(),
            sex: new.sex.as_str().to_string(),
            phone: new.phone,
            email: new.email.map(|e| e.as_str().to_string()),
            deceased_date: new.deceased_date.map(|d| d.to_string()),
            created_at_ms: now_ms(),
        };
        let txn = write_transaction(&self.db).await?;
        patient_row::Entity::insert(patient_row::ActiveModel::from(row.clone()))
            .exec(&txn)
            .await
            .map_err(|e| unique_or(e, "mrn", "Another patient already has this medical record number."))?;
        audit::record(&txn, self.event(AuditAction::PatientCreate, Outcome::Success).patient(&id).entity("patient", &id))
            .await?;
        txn.commit().await?;
        Ok(to_summary(row))
    }
}

impl AccessContext {
    /// The audit report (ONC 170.315(d)(3)): the newest `limit` events matching the filters,
    /// with user emails and record numbers resolved, sorted as asked. Administrators only; the
    /// reading itself is audited (`export` for the CSV download).
    pub async fn audit_report(&self, query: &AuditReportQuery, limit: u64, export: bool) -> Result<Vec<AuditReportRow>, AppError> {
        use super::entities::{app_user, audit_event};
        use std::collections::{BTreeSet, HashMap};
        let action = if export { AuditAction::AuditExport } else { AuditAction::AuditReportRead };
        self.authorize(Action::ReadAuditReport, Target::Site, action).await?;

        // Names to ids; a name that matches nothing matches no event.
        let mut select = audit_event::Entity::find();
        let mut impossible = false;
        if let Some(email) = &query.user {
            match app_user::Entity::find().filter(app_user::Column::Email.eq(email.as_str())).one(&self.db).await {
                Ok(Some(u)) => select = select.filter(audit_event::Column::ActorUserId.eq(u.id)),
                Ok(None) => impossible = true,
                Err(e) => return Err(e.into()),
            }
        }
        if let Some(mrn) = &query.patient {
            let found = patient_row::Entity::find()
                .filter(patient_row::Column::SiteCode.eq(self.site_code.as_str()))
                .filter(patient_row::Column::Mrn.eq(mrn.as_str()))
                .one(&self.db)
                .await?;
            match found {
                Some(p) => select = select.filter(audit_event::Column::PatientId.eq(p.id)),
                None => impossible = true,
            }
        }
        if let Some(from) = query.from {
            select = select.filter(audit_event::Column::OccurredAtMs.gte(from.start_ms()));
        }
        if let Some(to) = query.to {
            // `to` is included: up to the start of the next day.
            select = select.filter(audit_event::Column::OccurredAtMs.lt(to.start_ms() + 86_400_000));
        }
        if let Some(action) = &query.action {
            select = select.filter(audit_event::Column::Action.eq(action.as_str()));
        }
        let events = if impossible {
            Vec::new()
        } else {
            select
                .order_by_desc(audit_event::Column::Seq)
                .limit(limit)
                .all(&self.db)
                .await?
        };

        let user_ids: BTreeSet<String> =
            events.iter().flat_map(|e| [e.actor_user_id.clone(), e.on_behalf_of.clone()]).flatten().collect();
        let emails: HashMap<String, String> = if user_ids.is_empty() {
            HashMap::new()
        } else {
            app_user::Entity::find()
                .filter(app_user::Column::Id.is_in(user_ids))
                .all(&self.db)
                .await?
                .into_iter()
                .map(|u| (u.id, u.email))
                .collect()
        };
        let patient_ids: BTreeSet<String> = events.iter().flat_map(|e| [e.patient_id.clone(), e.on_behalf_of.clone()]).flatten().collect();
        let mrns: HashMap<String, String> = if patient_ids.is_empty() {
            HashMap::new()
        } else {
            patient_row::Entity::find()
                .filter(patient_row::Column::Id.is_in(patient_ids))
                .all(&self.db)
                .await?
                .into_iter()
                .map(|p| (p.id, p.mrn))
                .collect()
        };
        // An id whose row is gone is still shown, so nothing disappears from the report.
        let name = |map: &HashMap<String, String>, id: &Option<String>| id.as_ref().map(|i| map.get(i).cloned().unwrap_or_else(|| i.clone()));
        let mut rows: Vec<AuditReportRow> = events
            .into_iter()
            .map(|e| AuditReportRow {
                seq: e.seq,
                time: format_utc_seconds(e.occurred_at_ms),
                user: name(&emails, &e.actor_user_id),
                // A caregiver acts for a patient record (shown by its number); older events name a user.
                on_behalf_of: e.on_behalf_of.as_ref().map(|i| {
                    emails.get(i).cloned().or_else(|| mrns.get(i).map(|m| format!("patient {m}"))).unwrap_or_else(|| i.clone())
                }),
                patient: name(&mrns, &e.patient_id),
                action: e.action,
                entity: e.entity_type.map(|t| match e.entity_id { Some(id) => format!("{t} {id}"), None => t }),
                outcome: e.outcome,
                detail: e.detail,
                client_address: e.client_address,
                request_id: e.request_id,
            })
            .collect();
        let key = |r: &AuditReportRow| -> (String, i64) {
            let text = match query.sort {
                AuditSort::Time => String::new(),
                AuditSort::User => r.user.clone().unwrap_or_default(),
                AuditSort::Patient => r.patient.clone().unwrap_or_default(),
                AuditSort::Action => r.action.clone(),
                AuditSort::Outcome => r.outcome.clone(),
            };
            (text, r.seq)
        };
        rows.sort_by_key(key);
        if query.descending {
            rows.reverse();
        }
        audit::record_alone(&self.db, self.event(action, Outcome::Success).detail(format!("rows={}", rows.len())))
            .await?;
        Ok(rows)
    }
}

impl AccessContext {
    /// Issues a new activation code for a patient record (any earlier unused code stops working).
    /// The code is shown once, for the letter; only its SHA-256 hash is stored.
    pub async fn issue_activation_code(&self, patient_id: &str, valid_days: u32) -> Result<ActivationLetter, AppError> {
        use super::entities::one_time_token;
        self.authorize(Action::IssueActivationCode, Target::Patient(patient_id), AuditAction::ActivationIssue).await?;
        let patient = patient_row::Entity::find_by_id(patient_id.to_string())
            .filter(patient_row::Column::SiteCode.eq(self.site_code.as_str()))
            .one(&self.db)
            .await?
            .ok_or(AppError::NotFound)?;
        let code = activation::new_code();
        let now = now_ms();
        let expires = now + i64::from(valid_days) * 86_400_000;
        let txn = write_transaction(&self.db).await?;
        one_time_token::Entity::delete_many()
            .filter(one_time_token::Column::PatientId.eq(patient_id))
            .filter(one_time_token::Column::Purpose.eq(activation::PURPOSE))
            .filter(one_time_token::Column::UsedAtMs.is_null())
            .exec(&txn)
            .await?;
        one_time_token::Entity::insert(one_time_token::ActiveModel {
            token_hash: Set(activation::hash(&code)),
            purpose: Set(activation::PURPOSE.into()),
            user_id: Set(None),
            patient_id: Set(Some(patient_id.to_string())),
            issued_by: Set(Some(self.principal.user_id.clone())),
            created_at_ms: Set(now),
            expires_at_ms: Set(expires),
            used_at_ms: Set(None),
        })
        .exec(&txn)
        .await?;
        audit::record(
            &txn,
            self.event(AuditAction::ActivationIssue, Outcome::Success).patient(patient_id).entity("patient", patient_id),
        )
        .await?;
        txn.commit().await?;
        Ok(ActivationLetter {
            patient_id: patient.id,
            patient_name: format!("{} {}", patient.given_names, patient.family_name),
            mrn: patient.mrn,
            code,
            expires_on: format_utc_seconds(expires)[..10].to_string(),
        })
    }
}

impl AccessContext {
    /// Self-registered accounts waiting for identity verification, oldest first.
    pub async fn pending_verifications(&self) -> Result<Vec<PendingVerification>, AppError> {
        use super::entities::{app_user, identity_claim};
        self.authorize(Action::VerifyIdentity, Target::Site, AuditAction::IdentityVerify).await?;
        let claims = identity_claim::Entity::find()
            .order_by_asc(identity_claim::Column::CreatedAtMs)
            .limit(200)
            .all(&self.db)
            .await?;
        let mut out = Vec::new();
        for claim in claims {
            let Some(user) = app_user::Entity::find_by_id(claim.user_id.clone())
                .one(&self.db)
                .await?
            else {
                continue;
            };
            if user.patient_id.is_some() || user.status != "active" {
                continue;
            }
            out.push(PendingVerification {
                user_id: user.id,
                email: user.email,
                full_name: claim.full_name,
                birth_date: claim.birth_date,
                phone: claim.phone,
                registered: format_utc_seconds(claim.created_at_ms)[..16].to_string(),
            });
        }
        Ok(out)
    }

    /// Links a self-registered account to the patient record `mrn` after HIM staff verified the
    /// person's identity (45 CFR 164.514(h)): grants the patient role, ends the account's
    /// sessions (new privileges need a new sign-in), audited in the same transaction.
    pub async fn verify_identity(&self, user_id: &str, mrn: &str) -> Result<PatientSummary, AppError> {
        use super::entities::{app_user, identity_claim, user_role};
        self.authorize(Action::VerifyIdentity, Target::Site, AuditAction::IdentityVerify).await?;
        let mrn_field = |message: &str| AppError::Validation {
            fields: vec![FieldError { field: "mrn".into(), message: message.into() }],
        };
        let patient = patient_row::Entity::find()
            .filter(patient_row::Column::SiteCode.eq(self.site_code.as_str()))
            .filter(patient_row::Column::Mrn.eq(mrn.trim().to_ascii_uppercase()))
            .one(&self.db)
            .await?
            .ok_or_else(|| mrn_field("No patient has this medical record number."))?;
        let taken = app_user::Entity::find()
            .filter(app_user::Column::PatientId.eq(patient.id.as_str()))
            .one(&self.db)
            .await?;
        if taken.is_some() {
            return Err(mrn_field("This record already has an account linked to it."));
        }
        let user = app_user::Entity::find_by_id(user_id.to_string())
            .one(&self.db)
            .await?
            .filter(|u| u.patient_id.is_none())
            .ok_or(AppError::NotFound)?;
        let txn = write_transaction(&self.db).await?;
        app_user::Entity::update_many()
            .col_expr(app_user::Column::PatientId, Expr::value(patient.id.clone()))
            .filter(app_user::Column::Id.eq(user.id.as_str()))
            .exec(&txn)
            .await
            ?;
        user_role::Entity::insert(user_role::ActiveModel {
            user_id: Set(user.id.clone()),
            role: Set(crate::domain::Role::Patient.as_str().into()),
            granted_at_ms: Set(now_ms()),
        })
        .exec(&txn)
        .await
        ?;
        identity_claim::Entity::delete_by_id(user.id.clone()).exec(&txn).await?;
        super::auth::sessions::revoke_all(&txn, &user.id).await?;
        audit::record(
            &txn,
            self.event(AuditAction::IdentityVerify, Outcome::Success).patient(&patient.id).entity("user", &user.id),
        )
        .await
        ?;
        audit::record(
            &txn,
            self.event(AuditAction::RoleGrant, Outcome::Success).entity("user", &user.id).detail("role=patient"),
        )
        .await
        ?;
        txn.commit().await?;
        Ok(to_summary(patient))
    }
}

/// Redeeming an activation code: the person is not signed in yet, so this runs without an access
/// context; the code and the date of birth together are the proof of identity.
pub mod activation {
    use super::*;
    use crate::backend::auth::throttle::{self, ThrottlePolicy};
    use crate::backend::auth::users::{self, NewUser, UserError};
    use crate::backend::entities::{app_user, one_time_token};
    use sha2::{Digest, Sha256};

    pub const PURPOSE: &str = "activation";

    /// `ABCD-EFGH-JKMN`: 12 characters from an alphabet without look-alikes (about 59 bits).
    pub fn new_code() -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
        let chars: String = (0..12).map(|_| ALPHABET[usize::from(rand::random::<u8>()) % ALPHABET.len()] as char).collect();
        format!("{}-{}-{}", &chars[..4], &chars[4..8], &chars[8..])
    }

    /// Typed in any case, with or without dashes or spaces.
    pub fn hash(code: &str) -> String {
        let normalized: String = code.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_ascii_uppercase();
        hex::encode(Sha256::digest(normalized.as_bytes()))
    }

    #[derive(Debug, thiserror::Error)]
    pub enum RedeemError {
        /// Unknown, used or expired code, or a date of birth that does not match: one answer.
        #[error("the code or the date of birth is not right")]
        Invalid,
        #[error("locked for {retry_after_secs} s")]
        Locked { retry_after_secs: u64 },
        #[error("this record already has an account")]
        AlreadyActivated,
        #[error(transparent)]
        User(#[from] UserError),
        #[error(transparent)]
        Db(#[from] sea_orm::DbErr),
    }

    /// What the registration form carries.
    pub struct Redeem {
        /// The code's hash ([`hash_typed`]); `None` when what was typed cannot be a code.
        pub code_hash: Option<String>,
        pub birth_date: String,
        pub new_user: NewUser,
        /// An OpenID identity to link to the new account instead of a password.
        pub link: Option<Link>,
    }

    /// A provider identity to link at activation.
    pub struct Link {
        pub issuer: String,
        pub subject: String,
        pub provider_label: String,
    }

    /// The hash of a typed code, or `None` when it is far too long to be one.
    pub fn hash_typed(code: &str) -> Option<String> {
        (code.len() <= 64).then(|| hash(code))
    }

    /// Checks the code and date of birth, then creates the patient's account linked to the record
    /// and spends the code, all in one transaction. Failures are counted per client address and
    /// audited. Returns the new user's id.
    pub async fn redeem(
        db: &DatabaseConnection,
        auth: &crate::backend::auth::Auth,
        policy: &ThrottlePolicy,
        redeem: Redeem,
        request: &RequestMeta,
    ) -> Result<String, RedeemError> {
        let now = now_ms();
        let key = format!("activation:{}", request.client_address);
        if let Some(ms) = throttle::locked_for_ms(db, &key, now).await? {
            audit::record_alone(db, AuditEvent::new(AuditAction::ActivationRedeem, Outcome::Failure, request).detail("locked")).await?;
            return Err(RedeemError::Locked { retry_after_secs: (ms as u64).div_ceil(1000) });
        }
        let token = match &redeem.code_hash {
            Some(code_hash) => {
                one_time_token::Entity::find_by_id(code_hash.clone())
                    .filter(one_time_token::Column::Purpose.eq(PURPOSE))
                    .one(db)
                    .await?
            }
            None => None,
        };
        let patient = match &token {
            Some(t) => match &t.patient_id {
                Some(id) => patient_row::Entity::find_by_id(id.clone()).one(db).await?,
                None => None,
            },
            None => None,
        };
        let reason = match (&token, &patient) {
            (None, _) | (_, None) => Some("unknown_code"),
            (Some(t), _) if t.used_at_ms.is_some() => Some("used_code"),
            (Some(t), _) if t.expires_at_ms <= now => Some("expired_code"),
            (_, Some(p)) if p.birth_date != redeem.birth_date.trim() => Some("birth_date_mismatch"),
            _ => None,
        };
        if let Some(reason) = reason {
            let txn = write_transaction(db).await?;
            throttle::record_failure_one(&txn, policy, &key, policy.account_threshold, now).await?;
            let mut event = AuditEvent::new(AuditAction::ActivationRedeem, Outcome::Failure, request).detail(reason);
            if let Some(p) = &patient {
                event = event.patient(&p.id);
            }
            audit::record(&txn, event).await?;
            txn.commit().await?;
            return Err(RedeemError::Invalid);
        }
        let (Some(token), Some(patient)) = (token, patient) else { return Err(RedeemError::Invalid) };
        let taken = app_user::Entity::find().filter(app_user::Column::PatientId.eq(patient.id.as_str())).one(db).await?;
        if taken.is_some() {
            audit::record_alone(db, AuditEvent::new(AuditAction::ActivationRedeem, Outcome::Failure, request).patient(&patient.id).detail("already_activated")).await?;
            return Err(RedeemError::AlreadyActivated);
        }
        let mut new_user = redeem.new_user;
        new_user.patient_id = Some(patient.id.clone());
        new_user.roles = [crate::domain::Role::Patient].into_iter().collect();
        let prepared = users::prepare(auth, new_user).await?;
        let txn = write_transaction(db).await?;
        // Spend the code first, conditionally, so two registrations racing with one code cannot both win.
        let spent = one_time_token::Entity::update_many()
            .col_expr(one_time_token::Column::UsedAtMs, sea_orm::sea_query::Expr::value(now))
            .filter(one_time_token::Column::TokenHash.eq(token.token_hash.as_str()))
            .filter(one_time_token::Column::UsedAtMs.is_null())
            .exec(&txn)
            .await?;
        if spent.rows_affected != 1 {
            return Err(RedeemError::Invalid);
        }
        let user_id = users::insert(&txn, prepared, None, request).await?;
        if let Some(link) = &redeem.link {
            use crate::backend::auth::identities::{self, LinkError};
            identities::link(&txn, &user_id, &link.issuer, &link.subject, &link.provider_label, request).await.map_err(|e| match e {
                LinkError::Db(e) => RedeemError::Db(e),
                // Checked before the code was spent; lost a race with another account: start over.
                _ => RedeemError::Invalid,
            })?;
        }
        audit::record(
            &txn,
            AuditEvent::new(AuditAction::ActivationRedeem, Outcome::Success, request)
                .actor(&user_id)
                .patient(&patient.id)
                .entity("user", &user_id),
        )
        .await?;
        txn.commit().await?;
        throttle::record_success(db, &throttle::Keys { account: key, address: String::new() }).await?;
        Ok(user_id)
    }
}

/// Patient records for set-up code that runs before anyone signs in (the demo data, the command
/// line). Audited with no actor; never reachable from a request.
pub mod setup {
    use super::*;

    /// Creates a patient record if its record number is free; returns its id either way.
    pub async fn ensure_patient(
        db: &DatabaseConnection,
        site_code: &str,
        new: NewPatient,
        request: &RequestMeta,
    ) -> Result<String, sea_orm::DbErr> {
        let txn = write_transaction(db).await?;
        if let Some(existing) = patient_row::Entity::find()
            .filter(patient_row::Column::SiteCode.eq(site_code))
            .filter(patient_row::Column::Mrn.eq(new.mrn.as_str()))
            .one(&txn)
            .await?
        {
            return Ok(existing.id);
        }
        let id = uuid::Uuid::new_v4().to_string();
        patient_row::Entity::insert(patient_row::ActiveModel {
            id: Set(id.clone()),
            site_code: Set(site_code.to_string()),
            mrn: Set(new.mrn.as_str().to_string()),
            family_name: Set(new.family_name),
            given_names: Set(new.given_names),
            birth_date: Set(new.birth_date.to_string()),
            sex: Set(new.sex.as_str().to_string()),
            phone: Set(new.phone),
            email: Set(new.email.map(|e| e.as_str().to_string())),
            deceased_date: Set(new.deceased_date.map(|d| d.to_string())),
            created_at_ms: Set(now_ms()),
        })
        .exec(&txn)
        .await?;
        audit::record(&txn, AuditEvent::new(AuditAction::PatientCreate, Outcome::Success, request).patient(&id).entity("patient", &id)).await?;
        txn.commit().await?;
        Ok(id)
    }
}
