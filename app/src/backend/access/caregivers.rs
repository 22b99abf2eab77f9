//! Caregivers through the access context (45 CFR 164.502(g), DOMAIN.md "Personal
//! representatives"): the grants in force for a caregiver (read on every request, so a revoked or
//! expired grant stops access on the very next one), the patient's invitations and revocations,
//! accepting an invitation, representatives that HIM staff establish from documents, and the
//! daily job that applies the age thresholds and expiries.
//!
//! Every change is audited with both identities (actor, and the patient as on-behalf-of); a
//! refused attempt is audited as a failure and changes nothing.

use super::{AccessContext, full_name, patient_row};
use crate::backend::audit::{self, AuditAction, AuditEvent, Outcome};
use crate::backend::copies::seal::{FileKeys, Sealed};
use crate::backend::db::{now_ms, write_transaction};
use crate::backend::entities::{app_user, user_role};
use crate::backend::error::{BackendError, Stored};
use crate::backend::policy::{self, Action, Grant, Target};
use crate::backend::request::RequestMeta;
use crate::domain::caregiver::{
    Acting, ActingChoice, AgeBand, AgeThresholds, CaregiversOverview, DocumentLink, GrantKind, GrantScope, GrantView,
    InvitationPreview, InvitationSent, InvitationView, InviteForm, RepresentativeView, ViewScope, effective_scope,
};
use crate::domain::{IsoDate, Mrn, Role, format_utc_seconds};
use crate::error::{AppError, FieldError};
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use sha2::{Digest, Sha256};

pub(super) mod rows {
    pub mod caregiver_grant {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "caregiver_grant")]
        pub struct Model {
            #[sea_orm(primary_key, auto_increment = false)]
            pub id: String,
            pub patient_id: String,
            pub user_id: String,
            pub kind: String,
            pub view_scope: String,
            pub request_copies: bool,
            pub track_requests: bool,
            pub granted_by: String,
            pub source_id: Option<String>,
            pub starts_at_ms: i64,
            pub expires_at_ms: Option<i64>,
            pub applied_band: String,
            pub ended_at_ms: Option<i64>,
            pub ended_by: Option<String>,
            pub end_reason: Option<String>,
            pub created_at_ms: i64,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    }

    pub mod caregiver_invitation {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "caregiver_invitation")]
        pub struct Model {
            #[sea_orm(primary_key, auto_increment = false)]
            pub id: String,
            pub patient_id: String,
            pub invited_by: String,
            pub email: String,
            pub token_hash: String,
            pub view_scope: String,
            pub request_copies: bool,
            pub track_requests: bool,
            pub days: i32,
            pub created_at_ms: i64,
            pub expires_at_ms: i64,
            pub status: String,
            pub accepted_by: Option<String>,
            pub finished_at_ms: Option<i64>,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    }

    pub mod representative_request {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "representative_request")]
        pub struct Model {
            #[sea_orm(primary_key, auto_increment = false)]
            pub id: String,
            pub requester_user_id: String,
            pub kind: String,
            pub patient_name: String,
            pub birth_date: String,
            pub mrn: String,
            pub statement: String,
            pub status: String,
            pub patient_id: Option<String>,
            pub grant_id: Option<String>,
            pub decided_by: Option<String>,
            pub decided_at_ms: Option<i64>,
            pub reason: Option<String>,
            pub created_at_ms: i64,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    }

    pub mod representative_document {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "representative_document")]
        pub struct Model {
            #[sea_orm(primary_key, auto_increment = false)]
            pub id: String,
            pub request_id: String,
            pub file_name: String,
            pub content_type: String,
            pub size: i64,
            pub sha256: String,
            pub key_id: String,
            pub nonce: Vec<u8>,
            pub ciphertext: Vec<u8>,
            pub created_at_ms: i64,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    }

    pub mod job_run {
        use sea_orm::entity::prelude::*;

        #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
        #[sea_orm(table_name = "job_run")]
        pub struct Model {
            #[sea_orm(primary_key, auto_increment = false)]
            pub name: String,
            pub last_run_on: String,
            pub at_ms: i64,
        }

        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    }
}

use rows::{caregiver_grant, caregiver_invitation, job_run, representative_document, representative_request};

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
}

impl Default for CaregiverSettings {
    fn default() -> Self {
        CaregiverSettings { default_days: 365, max_days: 730, invitation_days: 14, ages: AgeThresholds::default(), document_max_bytes: 10 * 1024 * 1024 }
    }
}

const DAY_MS: i64 = 86_400_000;
const MAX_DOCUMENTS: usize = 5;

fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.trim().as_bytes()))
}

fn new_token() -> String {
    let bytes: [u8; 32] = rand::random();
    hex::encode(bytes)
}

fn field(name: &str, message: &str) -> AppError {
    AppError::Validation { fields: vec![FieldError { field: name.into(), message: message.into() }] }
}

fn scope_of(view: &str, request_copies: bool, track_requests: bool) -> Result<GrantScope, BackendError> {
    Ok(GrantScope { view: ViewScope::parse(view).stored("caregiver_grant", "view_scope")?, request_copies, track_requests })
}

fn grant_scope(row: &caregiver_grant::Model) -> Result<GrantScope, BackendError> {
    scope_of(&row.view_scope, row.request_copies, row.track_requests)
}

fn kind_of(row: &caregiver_grant::Model) -> Result<GrantKind, BackendError> {
    GrantKind::parse(&row.kind).stored("caregiver_grant", "kind")
}

fn day(ms: i64) -> String {
    format_utc_seconds(ms)[..10].to_string()
}

/// The patient's age band today; an unreadable birth date counts as a child's (the narrowest
/// change: a parent keeps only what was granted, other kinds ignore the band).
fn band_of(birth_date: &str, ages: AgeThresholds, today: IsoDate) -> AgeBand {
    IsoDate::parse(birth_date).map(|b| ages.band(b, today)).unwrap_or(AgeBand::Child)
}

/// Grants not ended and within their dates at `now`.
fn in_force(now: i64) -> Condition {
    Condition::all()
        .add(caregiver_grant::Column::EndedAtMs.is_null())
        .add(caregiver_grant::Column::StartsAtMs.lte(now))
        .add(Condition::any().add(caregiver_grant::Column::ExpiresAtMs.is_null()).add(caregiver_grant::Column::ExpiresAtMs.gt(now)))
}

/// A message in the portal and the mail outbox (the mail says only that something changed).
async fn notify_user(conn: &impl ConnectionTrait, user_id: &str, message: String) -> Result<(), AppError> {
    super::release::rows::notification::Entity::insert(super::release::rows::notification::ActiveModel {
        id: Set(uuid::Uuid::new_v4().to_string()),
        user_id: Set(user_id.to_string()),
        request_id: Set(None),
        message: Set(message.chars().take(500).collect()),
        created_at_ms: Set(now_ms()),
        read_at_ms: Set(None),
        emailed_at_ms: Set(None),
    })
    .exec_without_returning(conn)
    .await?;
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

/// Checks an upload by its content, not its name: a PDF starts `%PDF-`, a PNG and a JPEG by
/// their signatures. Returns the content type to store.
pub fn sniff_document(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"%PDF-") {
        Some("application/pdf")
    } else if bytes.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
        Some("image/png")
    } else if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else {
        None
    }
}

/// A request to be recognised as a representative, as typed.
#[derive(Debug, Clone, Default)]
pub struct RepresentativeForm {
    pub kind: String,
    pub patient_name: String,
    pub birth_date: String,
    pub mrn: String,
    pub statement: String,
}

/// One uploaded file: its name as sent, its bytes, or the reason it could not be read.
pub type Upload = (String, Result<Vec<u8>, String>);

impl AccessContext {
    /// The acting-for patient (the switcher), when not oneself.
    pub fn acting_for(&self) -> Option<&str> {
        self.acting_for.as_deref()
    }

    /// Whose record "my record", "my requests" and the rest mean on this request: the person
    /// the caregiver switched to, or the signed-in patient's own.
    pub(super) fn subject(&self) -> Option<String> {
        self.acting_for.clone().or_else(|| self.principal.patient_id.clone())
    }

    /// The caregiver's grants in force now for `patient_id`, with the patient's age band today.
    /// Read from the database on every check: a revocation applies to the very next request.
    pub(super) async fn grants_for(&self, patient_id: &str) -> Result<Vec<Grant>, AppError> {
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
        let band = band_of(&birth, self.ages, crate::backend::db::today());
        rows.iter().map(|r| Ok(Grant { patient_id: patient_id.to_string(), kind: kind_of(r)?, scope: grant_scope(r)?, band })).collect()
    }

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
        let band = band_of(&birth, self.ages, crate::backend::db::today());
        let kind = kind_of(&row)?;
        let limited = effective_scope(kind, grant_scope(&row)?, band).is_none_or(|s| s.view == ViewScope::Limited);
        Ok(Some((kind, limited)))
    }

    /// What the policy says, without auditing (to shape a page, not to guard data).
    pub(super) async fn allows(&self, action: Action, patient_id: &str) -> Result<bool, AppError> {
        let grants = self.grants_for(patient_id).await?;
        Ok(self.allows_with(action, patient_id, &grants))
    }

    /// The same with grants already read on this request.
    pub(super) fn allows_with(&self, action: Action, patient_id: &str, grants: &[Grant]) -> bool {
        policy::decide(&self.principal, action, Target::Patient(patient_id), grants) == policy::Decision::Allow
    }

    /// Everyone the signed-in user may act for now, and whose record is on screen.
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
        let today = crate::backend::db::today();
        let grants: Vec<Grant> = rows
            .iter()
            .filter_map(|r| patients.get(&r.patient_id).map(|patient| (r, patient)))
            .map(|(r, patient)| {
                Ok::<_, BackendError>(Grant { patient_id: r.patient_id.clone(), kind: kind_of(r)?, scope: grant_scope(r)?, band: band_of(&patient.birth_date, self.ages, today) })
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
                kind: kind_of(row)?,
                scope,
                expires_on: row.expires_at_ms.map(day),
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
    pub async fn switch_to(&self, patient_id: Option<&str>) -> Result<Option<ActingChoice>, AppError> {
        let Some(id) = patient_id else { return Ok(None) };
        let acting = self.acting().await?;
        let choice = acting.choices.into_iter().find(|c| c.patient_id == id);
        let outcome = if choice.is_some() { Outcome::Success } else { Outcome::Denied };
        let event = AuditEvent::new(AuditAction::CaregiverSwitch, outcome, &self.request)
            .actor(&self.principal.user_id)
            .patient(id)
            .on_behalf_of(id);
        audit::record_alone(&self.db, event).await?;
        choice.map(Some).ok_or(AppError::NotFound)
    }

    fn grant_view(&self, row: &caregiver_grant::Model, patient: Option<&patient_row::Model>, caregiver: Option<&app_user::Model>, granter: &str, now: i64) -> Result<GrantView, BackendError> {
        let kind = kind_of(row)?;
        let scope = grant_scope(row)?;
        let band = patient.map(|p| band_of(&p.birth_date, self.ages, crate::backend::db::today())).unwrap_or(AgeBand::Child);
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
            patient_name: patient.map(full_name).unwrap_or_default(),
            caregiver_name: caregiver.map(|u| u.display_name.clone()).unwrap_or_else(|| "Unknown user".into()),
            caregiver_email: caregiver.map(|u| u.email.clone()).unwrap_or_default(),
            kind,
            scope,
            effective,
            granted_by: granter.to_string(),
            starts_on: day(row.starts_at_ms),
            expires_on: row.expires_at_ms.map(day),
            status,
            active,
            ended_on: row.ended_at_ms.or(row.expires_at_ms.filter(|e| *e <= now)).map(day),
        })
    }

    async fn grant_views(&self, rows: Vec<caregiver_grant::Model>) -> Result<Vec<GrantView>, AppError> {
        let now = now_ms();
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let patient = patient_row::Entity::find_by_id(row.patient_id.clone()).one(&self.db).await?;
            let caregiver = app_user::Entity::find_by_id(row.user_id.clone()).one(&self.db).await?;
            let granter = if patient_account(&self.db, &row.patient_id).await?.is_some_and(|u| u.id == row.granted_by) {
                "The patient".to_string()
            } else {
                format!("{} (HIM)", self.display_name(&row.granted_by).await?)
            };
            out.push(self.grant_view(&row, patient.as_ref(), caregiver.as_ref(), &granter, now)?);
        }
        Ok(out)
    }

    fn invitation_view(row: &caregiver_invitation::Model, now: i64) -> Result<InvitationView, BackendError> {
        let status = if row.status == "pending" && row.expires_at_ms <= now { "expired".to_string() } else { row.status.clone() };
        Ok(InvitationView {
            id: row.id.clone(),
            email: row.email.clone(),
            scope: scope_of(&row.view_scope, row.request_copies, row.track_requests)?,
            days: u32::try_from(row.days).unwrap_or(0),
            sent_on: day(row.created_at_ms),
            expires_on: day(row.expires_at_ms),
            status,
        })
    }

    /// The patient's own record id, for managing caregivers; a caregiver acting for someone
    /// cannot manage that person's caregivers (never onward).
    async fn manage_target(&self, audit_as: AuditAction) -> Result<String, AppError> {
        let own = self.principal.patient_id.clone();
        let target = self.acting_for.clone().or(own).ok_or(AppError::NotFound)?;
        self.authorize(Action::ManageCaregivers, Target::Patient(&target), audit_as).await?;
        Ok(target)
    }

    /// "Who can see my records": active caregivers, pending invitations, representatives HIM
    /// staff decided, and the history of grants. Audited as a read.
    pub async fn caregivers_overview(&self, settings: &CaregiverSettings) -> Result<CaregiversOverview, AppError> {
        let patient_id = self.manage_target(AuditAction::CaregiverRevoke).await?;
        let grants = caregiver_grant::Entity::find()
            .filter(caregiver_grant::Column::PatientId.eq(patient_id.as_str()))
            .order_by_desc(caregiver_grant::Column::CreatedAtMs)
            .limit(200)
            .all(&self.db)
            .await?;
        let views = self.grant_views(grants).await?;
        let (active, history): (Vec<GrantView>, Vec<GrantView>) = views.into_iter().partition(|g| g.active);
        let now = now_ms();
        let invitations = caregiver_invitation::Entity::find()
            .filter(caregiver_invitation::Column::PatientId.eq(patient_id.as_str()))
            .order_by_desc(caregiver_invitation::Column::CreatedAtMs)
            .limit(100)
            .all(&self.db)
            .await?
            .iter()
            .map(|r| Self::invitation_view(r, now))
            .collect::<Result<_, _>>()?;
        let representatives = representative_request::Entity::find()
            .filter(representative_request::Column::PatientId.eq(patient_id.as_str()))
            .order_by_desc(representative_request::Column::CreatedAtMs)
            .limit(100)
            .all(&self.db)
            .await?;
        let mut reps = Vec::new();
        for r in representatives {
            // The patient sees who asked and the outcome, not the documents.
            let mut view = self.representative_view(r).await?;
            view.documents.clear();
            view.statement.clear();
            reps.push(view);
        }
        audit::record_alone(&self.db, self.event(AuditAction::PatientRead, Outcome::Success).patient(&patient_id).entity("caregivers", &patient_id))
            .await?;
        Ok(CaregiversOverview { active, invitations, history, representatives: reps, default_days: settings.default_days, max_days: settings.max_days })
    }

    /// The patient invites someone by email. Only the token's hash is stored; the link comes
    /// back once (the page shows it to pass on in person) and is mailed by the caller.
    pub async fn invite_caregiver(&self, form: &InviteForm, settings: &CaregiverSettings, base_url: &str) -> Result<InvitationSent, AppError> {
        let patient_id = self.manage_target(AuditAction::CaregiverInvite).await?;
        let own_email = self.my_email().await?;
        let invite = match form.check(&own_email, settings.max_days) {
            Ok(i) => i,
            Err(fields) => {
                let reason = if fields.iter().any(|f| f.message.contains("your own")) { "self_invitation" } else { "invalid_form" };
                audit::record_alone(&self.db, self.event(AuditAction::CaregiverInvite, Outcome::Failure).patient(&patient_id).detail(reason))
                    .await?;
                return Err(AppError::Validation { fields });
            }
        };
        let token = new_token();
        let now = now_ms();
        let row = caregiver_invitation::Model {
            id: uuid::Uuid::new_v4().to_string(),
            patient_id: patient_id.clone(),
            invited_by: self.principal.user_id.clone(),
            email: invite.email.as_str().to_string(),
            token_hash: hash_token(&token),
            view_scope: invite.scope.view.as_str().into(),
            request_copies: invite.scope.request_copies,
            track_requests: invite.scope.track_requests,
            days: i32::try_from(invite.days).unwrap_or(i32::MAX),
            created_at_ms: now,
            expires_at_ms: now + i64::from(settings.invitation_days) * DAY_MS,
            status: "pending".into(),
            accepted_by: None,
            finished_at_ms: None,
        };
        let txn = write_transaction(&self.db).await?;
        caregiver_invitation::Entity::insert(caregiver_invitation::ActiveModel::from(row.clone()))
            .exec_without_returning(&txn)
            .await?;
        audit::record(&txn, self.event(AuditAction::CaregiverInvite, Outcome::Success).patient(&patient_id).entity("caregiver_invitation", &row.id))
            .await?;
        txn.commit().await?;
        Ok(InvitationSent { invitation: Self::invitation_view(&row, now)?, link: format!("{base_url}/caregivers/accept?token={token}") })
    }

    /// The patient withdraws a pending invitation; it can no longer be accepted.
    pub async fn withdraw_invitation(&self, id: &str) -> Result<(), AppError> {
        let patient_id = self.manage_target(AuditAction::CaregiverInvite).await?;
        let txn = write_transaction(&self.db).await?;
        let done = caregiver_invitation::Entity::update_many()
            .col_expr(caregiver_invitation::Column::Status, Expr::value("withdrawn"))
            .col_expr(caregiver_invitation::Column::FinishedAtMs, Expr::value(now_ms()))
            .filter(caregiver_invitation::Column::Id.eq(id))
            .filter(caregiver_invitation::Column::PatientId.eq(patient_id.as_str()))
            .filter(caregiver_invitation::Column::Status.eq("pending"))
            .exec(&txn)
            .await?;
        if done.rows_affected != 1 {
            return Err(AppError::Conflict { message: "This invitation is no longer pending.".into() });
        }
        audit::record(&txn, self.event(AuditAction::CaregiverInvite, Outcome::Success).patient(&patient_id).entity("caregiver_invitation", id).detail("withdrawn"))
            .await?;
        txn.commit().await?;
        Ok(())
    }

    /// Ends a grant: the patient revokes one of theirs (one click), effective on the caregiver's
    /// next request. The caregiver is told (no health information).
    pub async fn revoke_grant(&self, grant_id: &str) -> Result<(), AppError> {
        let patient_id = self.manage_target(AuditAction::CaregiverRevoke).await?;
        self.end_grant(grant_id, Some(&patient_id), "Revoked by the patient").await
    }

    async fn end_grant(&self, grant_id: &str, patient_id: Option<&str>, reason: &str) -> Result<(), AppError> {
        let mut select = caregiver_grant::Entity::find_by_id(grant_id.to_string());
        if let Some(p) = patient_id {
            select = select.filter(caregiver_grant::Column::PatientId.eq(p));
        }
        let row = select.one(&self.db).await?.ok_or(AppError::NotFound)?;
        let txn = write_transaction(&self.db).await?;
        let done = caregiver_grant::Entity::update_many()
            .col_expr(caregiver_grant::Column::EndedAtMs, Expr::value(now_ms()))
            .col_expr(caregiver_grant::Column::EndedBy, Expr::value(self.principal.user_id.clone()))
            .col_expr(caregiver_grant::Column::EndReason, Expr::value(reason.chars().take(500).collect::<String>()))
            .filter(caregiver_grant::Column::Id.eq(grant_id))
            .filter(caregiver_grant::Column::EndedAtMs.is_null())
            .exec(&txn)
            .await?;
        if done.rows_affected != 1 {
            return Err(AppError::Conflict { message: "This access has already ended.".into() });
        }
        notify_user(&txn, &row.user_id, "Your access to a person's record in the portal has ended.".into()).await?;
        // Ended by HIM: the patient is told too (they did not do it themselves).
        if let Some(account) = patient_account(&txn, &row.patient_id).await?.filter(|a| a.id != self.principal.user_id) {
            notify_user(&txn, &account.id, "HIM staff ended someone's access to your record. See \"Who can see my records\".".into()).await?;
        }
        audit::record(
            &txn,
            self.event(AuditAction::CaregiverRevoke, Outcome::Success).patient(&row.patient_id).entity("caregiver_grant", grant_id).detail(format!("user={}", row.user_id)),
        )
        .await?;
        txn.commit().await?;
        Ok(())
    }

    async fn invitation_by_token(&self, token: &str) -> Result<Option<caregiver_invitation::Model>, AppError> {
        if token.len() > 128 {
            return Ok(None);
        }
        caregiver_invitation::Entity::find()
            .filter(caregiver_invitation::Column::TokenHash.eq(hash_token(token)))
            .one(&self.db)
            .await.map_err(AppError::from)
    }

    /// Why an invitation cannot be accepted by the signed-in user, if it cannot.
    fn refusal(&self, invitation: Option<&caregiver_invitation::Model>, email: &str, now: i64) -> Option<(&'static str, &'static str)> {
        let Some(inv) = invitation else {
            return Some(("unknown_invitation", "This invitation link is not valid. Check that you opened the whole link."));
        };
        match inv.status.as_str() {
            "accepted" => return Some(("already_accepted", "This invitation has already been accepted. Each invitation works once.")),
            "withdrawn" => return Some(("withdrawn", "The patient withdrew this invitation.")),
            _ => {}
        }
        if inv.expires_at_ms <= now {
            return Some(("expired", "This invitation has expired. Ask the patient to send a new one."));
        }
        if !inv.email.eq_ignore_ascii_case(email) {
            return Some(("other_email", "This invitation was sent to another email address. Sign in with the account for that address."));
        }
        if self.principal.patient_id.as_deref() == Some(inv.patient_id.as_str()) {
            return Some(("self_invitation", "You cannot accept an invitation to your own record."));
        }
        None
    }

    async fn my_email(&self) -> Result<String, AppError> {
        // The signed-in user's own row: the session check has just read it.
        Ok(app_user::Entity::find_by_id(self.principal.user_id.clone())
            .one(&self.db)
            .await?
            .map(|u| u.email)
            .stored("app_user", "id")?)
    }

    /// What the invitation offers, for the accept page. An unusable one says why.
    pub async fn invitation_preview(&self, token: &str) -> Result<InvitationPreview, AppError> {
        let invitation = self.invitation_by_token(token).await?;
        let email = self.my_email().await?;
        let now = now_ms();
        if let Some((_, message)) = self.refusal(invitation.as_ref(), &email, now).filter(|(code, _)| *code != "other_email") {
            return Err(field("invitation", message));
        }
        let Some(inv) = invitation else { return Err(AppError::NotFound) };
        let patient = patient_row::Entity::find_by_id(inv.patient_id.clone()).one(&self.db).await?.ok_or(AppError::NotFound)?;
        let for_you = inv.email.eq_ignore_ascii_case(&email);
        Ok(InvitationPreview {
            // Only someone the invitation is for learns whose record it is.
            patient_name: if for_you { full_name(&patient) } else { String::new() },
            scope: scope_of(&inv.view_scope, inv.request_copies, inv.track_requests)?,
            days: u32::try_from(inv.days).unwrap_or(0),
            expires_on: day(inv.expires_at_ms),
            for_you,
        })
    }

    /// The invited person accepts with their own account: the invitation is spent (once, even
    /// under a race), the grant starts now, the account gains the caregiver role, and the
    /// patient is told. Every refusal is audited and changes nothing.
    pub async fn accept_invitation(&self, token: &str) -> Result<ActingChoice, AppError> {
        let invitation = self.invitation_by_token(token).await?;
        let email = self.my_email().await?;
        let now = now_ms();
        if let Some((code, message)) = self.refusal(invitation.as_ref(), &email, now) {
            let mut event = AuditEvent::new(AuditAction::CaregiverAccept, Outcome::Failure, &self.request).actor(&self.principal.user_id).detail(code);
            if let Some(inv) = &invitation {
                event = event.patient(&inv.patient_id).entity("caregiver_invitation", &inv.id);
            }
            audit::record_alone(&self.db, event).await?;
            return Err(field("invitation", message));
        }
        let Some(inv) = invitation else { return Err(AppError::NotFound) };
        let txn = write_transaction(&self.db).await?;
        let spent = caregiver_invitation::Entity::update_many()
            .col_expr(caregiver_invitation::Column::Status, Expr::value("accepted"))
            .col_expr(caregiver_invitation::Column::AcceptedBy, Expr::value(self.principal.user_id.clone()))
            .col_expr(caregiver_invitation::Column::FinishedAtMs, Expr::value(now))
            .filter(caregiver_invitation::Column::Id.eq(inv.id.as_str()))
            .filter(caregiver_invitation::Column::Status.eq("pending"))
            .exec(&txn)
            .await?;
        if spent.rows_affected != 1 {
            return Err(field("invitation", "This invitation has already been accepted. Each invitation works once."));
        }
        let grant_id = uuid::Uuid::new_v4().to_string();
        let patient = patient_row::Entity::find_by_id(inv.patient_id.clone()).one(&txn).await?.ok_or(AppError::NotFound)?;
        let band = band_of(&patient.birth_date, self.ages, crate::backend::db::today());
        caregiver_grant::Entity::insert(caregiver_grant::ActiveModel {
            id: Set(grant_id.clone()),
            patient_id: Set(inv.patient_id.clone()),
            user_id: Set(self.principal.user_id.clone()),
            kind: Set(GrantKind::Invitation.as_str().into()),
            view_scope: Set(inv.view_scope.clone()),
            request_copies: Set(inv.request_copies),
            track_requests: Set(inv.track_requests),
            granted_by: Set(inv.invited_by.clone()),
            source_id: Set(Some(inv.id.clone())),
            starts_at_ms: Set(now),
            expires_at_ms: Set(Some(now + i64::from(inv.days) * DAY_MS)),
            applied_band: Set(band.as_str().into()),
            ended_at_ms: Set(None),
            ended_by: Set(None),
            end_reason: Set(None),
            created_at_ms: Set(now),
        })
        .exec_without_returning(&txn)
        .await?;
        ensure_caregiver_role(&txn, &self.principal.user_id).await?;
        let name = self.display_name(&self.principal.user_id).await?;
        notify_user(&txn, &inv.invited_by, format!("{name} accepted your invitation and can now see your record as you chose.")).await?;
        audit::record(
            &txn,
            AuditEvent::new(AuditAction::CaregiverAccept, Outcome::Success, &self.request)
                .actor(&self.principal.user_id)
                .on_behalf_of(&inv.patient_id)
                .patient(&inv.patient_id)
                .entity("caregiver_grant", &grant_id),
        )
        .await?;
        txn.commit().await?;
        let scope = scope_of(&inv.view_scope, inv.request_copies, inv.track_requests)?;
        Ok(ActingChoice {
            patient_id: inv.patient_id,
            name: full_name(&patient),
            kind: GrantKind::Invitation,
            scope: effective_scope(GrantKind::Invitation, scope, band).unwrap_or(scope),
            expires_on: Some(day(now + i64::from(inv.days) * DAY_MS)),
        })
    }
}

impl AccessContext {
    async fn representative_view(&self, row: representative_request::Model) -> Result<RepresentativeView, AppError> {
        let requester = app_user::Entity::find_by_id(row.requester_user_id.clone()).one(&self.db).await?;
        let documents = representative_document::Entity::find()
            .select_only()
            .columns([
                representative_document::Column::Id,
                representative_document::Column::FileName,
                representative_document::Column::ContentType,
                representative_document::Column::Size,
            ])
            .filter(representative_document::Column::RequestId.eq(row.id.as_str()))
            .order_by_asc(representative_document::Column::CreatedAtMs)
            .into_tuple::<(String, String, String, i64)>()
            .all(&self.db)
            .await?;
        Ok(RepresentativeView {
            id: row.id,
            requester_name: requester.as_ref().map(|u| u.display_name.clone()).unwrap_or_default(),
            requester_email: requester.map(|u| u.email).unwrap_or_default(),
            kind: GrantKind::parse(&row.kind).stored("representative_request", "kind")?,
            patient_name: row.patient_name,
            birth_date: row.birth_date,
            mrn: row.mrn,
            statement: row.statement,
            submitted_on: day(row.created_at_ms),
            status: row.status,
            reason: row.reason,
            documents: documents.into_iter().map(|(id, file_name, content_type, size)| DocumentLink { id, file_name, content_type, size }).collect(),
        })
    }

    /// Someone asks to be recognised as a patient's personal representative, with supporting
    /// documents (a PDF or an image, checked by content, at most `document_max_bytes` each),
    /// sealed before they are stored. Any problem is reported on its field and nothing is kept.
    pub async fn submit_representative_request(
        &self,
        form: &RepresentativeForm,
        uploads: Vec<Upload>,
        settings: &CaregiverSettings,
        keys: &FileKeys,
    ) -> Result<RepresentativeView, AppError> {
        let mut fields = Vec::new();
        let mut problem = |name: &str, message: String| fields.push(FieldError { field: name.into(), message });
        let kind = GrantKind::parse(form.kind.trim()).filter(|k| *k != GrantKind::Invitation);
        if kind.is_none() {
            problem("kind", "Choose how you are related to the patient.".into());
        }
        let name = form.patient_name.split_whitespace().collect::<Vec<_>>().join(" ");
        if name.is_empty() || name.chars().count() > 200 {
            problem("patient_name", "Enter the patient's full name (up to 200 characters).".into());
        }
        if IsoDate::parse(&form.birth_date).is_err() {
            problem("birth_date", "Enter the patient's date of birth as YYYY-MM-DD.".into());
        }
        let mrn = form.mrn.trim();
        if !mrn.is_empty() && Mrn::parse(mrn).is_err() {
            problem("mrn", "The medical record number is letters and digits, as on a letter or wristband; leave it empty if you do not know it.".into());
        }
        let statement = form.statement.trim();
        if statement.chars().count() > 2000 {
            problem("statement", "Keep the explanation under 2000 characters.".into());
        }
        let mut files = Vec::new();
        let real: Vec<&Upload> = uploads.iter().filter(|(name, bytes)| !(name.is_empty() && bytes.as_ref().is_ok_and(|b| b.is_empty()))).collect();
        if real.is_empty() {
            problem("documents", "Attach at least one document that shows your authority (a birth certificate, court order or power of attorney).".into());
        }
        if real.len() > MAX_DOCUMENTS {
            problem("documents", format!("Attach at most {MAX_DOCUMENTS} documents."));
        }
        let max_mb = settings.document_max_bytes / (1024 * 1024);
        for (file_name, bytes) in real {
            match bytes {
                Err(e) => problem("documents", format!("{file_name}: {e}")),
                Ok(b) if b.len() as u64 > settings.document_max_bytes => problem("documents", format!("{file_name} is larger than {max_mb} MB.")),
                Ok(b) => match sniff_document(b) {
                    Some(content_type) => files.push((file_name.clone(), content_type, b.clone())),
                    None => problem("documents", format!("{file_name} is not a PDF, PNG or JPEG file (its content was checked, not its name).")),
                },
            }
        }
        if !fields.is_empty() {
            audit::record_alone(&self.db, self.event(AuditAction::RepresentativeRequest, Outcome::Failure).detail("invalid_form"))
                .await?;
            return Err(AppError::Validation { fields });
        }
        let Some(kind) = kind else { return Err(AppError::BadRequest) };
        let id = uuid::Uuid::new_v4().to_string();
        let now = now_ms();
        let txn = write_transaction(&self.db).await?;
        representative_request::Entity::insert(representative_request::ActiveModel {
            id: Set(id.clone()),
            requester_user_id: Set(self.principal.user_id.clone()),
            kind: Set(kind.as_str().into()),
            patient_name: Set(name),
            birth_date: Set(form.birth_date.trim().to_string()),
            mrn: Set(mrn.to_ascii_uppercase()),
            statement: Set(statement.to_string()),
            status: Set("pending".into()),
            patient_id: Set(None),
            grant_id: Set(None),
            decided_by: Set(None),
            decided_at_ms: Set(None),
            reason: Set(None),
            created_at_ms: Set(now),
        })
        .exec_without_returning(&txn)
        .await?;
        for (file_name, content_type, bytes) in files {
            let doc_id = uuid::Uuid::new_v4().to_string();
            let sealed = keys.seal(&bytes, &format!("representative/{id}/{doc_id}"))?;
            representative_document::Entity::insert(representative_document::ActiveModel {
                id: Set(doc_id),
                request_id: Set(id.clone()),
                file_name: Set(file_name.chars().take(200).collect()),
                content_type: Set(content_type.into()),
                size: Set(bytes.len() as i64),
                sha256: Set(crate::backend::copies::sha256_hex(&bytes)),
                key_id: Set(sealed.key_id),
                nonce: Set(sealed.nonce),
                ciphertext: Set(sealed.ciphertext),
                created_at_ms: Set(now),
            })
            .exec_without_returning(&txn)
            .await?;
        }
        audit::record(&txn, self.event(AuditAction::RepresentativeRequest, Outcome::Success).entity("representative_request", &id).detail(format!("kind={}", kind.as_str())))
            .await?;
        txn.commit().await?;
        let row = representative_request::Entity::find_by_id(id).one(&self.db).await?.ok_or(AppError::NotFound)?;
        self.representative_view(row).await
    }

    /// The signed-in user's own representative requests, newest first.
    pub async fn my_representative_requests(&self) -> Result<Vec<RepresentativeView>, AppError> {
        let rows = representative_request::Entity::find()
            .filter(representative_request::Column::RequesterUserId.eq(self.principal.user_id.as_str()))
            .order_by_desc(representative_request::Column::CreatedAtMs)
            .limit(50)
            .all(&self.db)
            .await?;
        let mut out = Vec::new();
        for r in rows {
            out.push(self.representative_view(r).await?);
        }
        Ok(out)
    }

    /// HIM staff's queue: pending requests, oldest first.
    pub async fn representative_queue(&self) -> Result<Vec<RepresentativeView>, AppError> {
        self.require(Action::VerifyRepresentatives, AuditAction::RepresentativeDecide).await?;
        let rows = representative_request::Entity::find()
            .filter(representative_request::Column::Status.eq("pending"))
            .order_by_asc(representative_request::Column::CreatedAtMs)
            .limit(200)
            .all(&self.db)
            .await?;
        let mut out = Vec::new();
        for r in rows {
            out.push(self.representative_view(r).await?);
        }
        Ok(out)
    }

    /// A supporting document, opened for HIM staff (or the person who sent it). Audited.
    pub async fn representative_document(&self, request_id: &str, document_id: &str, keys: &FileKeys) -> Result<(DocumentLink, Vec<u8>), AppError> {
        let request = representative_request::Entity::find_by_id(request_id.to_string()).one(&self.db).await?.ok_or(AppError::NotFound)?;
        if request.requester_user_id != self.principal.user_id {
            self.require(Action::VerifyRepresentatives, AuditAction::RepresentativeDecide).await?;
        }
        let doc = representative_document::Entity::find_by_id(document_id.to_string())
            .filter(representative_document::Column::RequestId.eq(request_id))
            .one(&self.db)
            .await?
            .ok_or(AppError::NotFound)?;
        let sealed = Sealed { key_id: doc.key_id.clone(), nonce: doc.nonce.clone(), ciphertext: doc.ciphertext.clone() };
        let bytes = keys.open(&sealed, &format!("representative/{request_id}/{}", doc.id))?;
        audit::record_alone(&self.db, self.event(AuditAction::RepresentativeDecide, Outcome::Success).entity("representative_document", &doc.id).detail("document opened"))
            .await?;
        Ok((DocumentLink { id: doc.id, file_name: doc.file_name, content_type: doc.content_type, size: doc.size }, bytes))
    }

    /// HIM staff approve a representative (matched to a record by its number; the scope and
    /// expiry they verified) or refuse with a reason (45 CFR 164.502(g)(5): also where abuse or
    /// endangerment is suspected). The requester is told either way.
    pub async fn decide_representative(&self, id: &str, approve: bool, mrn: &str, scope: GrantScope, days: Option<u32>, reason: &str) -> Result<RepresentativeView, AppError> {
        self.require(Action::VerifyRepresentatives, AuditAction::RepresentativeDecide).await?;
        let row = representative_request::Entity::find_by_id(id.to_string()).one(&self.db).await?.ok_or(AppError::NotFound)?;
        if row.status != "pending" {
            return Err(AppError::Conflict { message: "This request has already been decided.".into() });
        }
        let reason = reason.trim();
        let now = now_ms();
        if !approve {
            if reason.is_empty() {
                return Err(field("reason", "Give the reason for refusing; the requester is told."));
            }
            let txn = write_transaction(&self.db).await?;
            let decided = representative_request::Entity::update_many()
                .col_expr(representative_request::Column::Status, Expr::value("refused"))
                .col_expr(representative_request::Column::DecidedBy, Expr::value(self.principal.user_id.clone()))
                .col_expr(representative_request::Column::DecidedAtMs, Expr::value(now))
                .col_expr(representative_request::Column::Reason, Expr::value(reason.chars().take(500).collect::<String>()))
                .filter(representative_request::Column::Id.eq(id))
                .filter(representative_request::Column::Status.eq("pending"))
                .exec(&txn)
                .await?;
            // Two clerks deciding at once: only the first decision counts.
            if decided.rows_affected != 1 {
                return Err(AppError::Conflict { message: "This request has already been decided.".into() });
            }
            notify_user(&txn, &row.requester_user_id, "Your request to act for a patient was refused. Sign in to see the reason.".into()).await?;
            audit::record(&txn, self.event(AuditAction::RepresentativeDecide, Outcome::Success).entity("representative_request", id).detail("refused"))
                .await?;
            txn.commit().await?;
        } else {
            let mrn_value = Mrn::parse(mrn.trim()).map_err(|_| field("mrn", "Enter the medical record number of the patient you verified."))?;
            let patient = patient_row::Entity::find()
                .filter(patient_row::Column::SiteCode.eq(self.site_code.as_str()))
                .filter(patient_row::Column::Mrn.eq(mrn_value.as_str()))
                .one(&self.db)
                .await?
                .ok_or_else(|| field("mrn", "No patient has this medical record number."))?;
            if patient.birth_date != row.birth_date {
                return Err(field("mrn", "This record's date of birth does not match the one in the request."));
            }
            let kind = GrantKind::parse(&row.kind).stored("representative_request", "kind")?;
            let band = band_of(&patient.birth_date, self.ages, crate::backend::db::today());
            if kind == GrantKind::ParentOfMinor && band == AgeBand::Adult {
                return Err(field("mrn", "This patient is an adult: a parent's access ended at 18. The patient can invite them instead."));
            }
            if kind == GrantKind::Executor && patient.deceased_date.is_none() {
                return Err(field("mrn", "This record does not show the patient as deceased; an executor acts only for a deceased patient."));
            }
            if let Some(d) = days
                && d == 0
            {
                return Err(field("days", "Enter a number of days, or leave it empty for no end date."));
            }
            let grant_id = uuid::Uuid::new_v4().to_string();
            let txn = write_transaction(&self.db).await?;
            caregiver_grant::Entity::insert(caregiver_grant::ActiveModel {
                id: Set(grant_id.clone()),
                patient_id: Set(patient.id.clone()),
                user_id: Set(row.requester_user_id.clone()),
                kind: Set(kind.as_str().into()),
                view_scope: Set(scope.view.as_str().into()),
                request_copies: Set(scope.request_copies),
                track_requests: Set(scope.track_requests),
                granted_by: Set(self.principal.user_id.clone()),
                source_id: Set(Some(row.id.clone())),
                starts_at_ms: Set(now),
                expires_at_ms: Set(days.map(|d| now + i64::from(d) * DAY_MS)),
                applied_band: Set(band.as_str().into()),
                ended_at_ms: Set(None),
                ended_by: Set(None),
                end_reason: Set(None),
                created_at_ms: Set(now),
            })
            .exec_without_returning(&txn)
            .await?;
            let decided = representative_request::Entity::update_many()
                .col_expr(representative_request::Column::Status, Expr::value("approved"))
                .col_expr(representative_request::Column::PatientId, Expr::value(patient.id.clone()))
                .col_expr(representative_request::Column::GrantId, Expr::value(grant_id.clone()))
                .col_expr(representative_request::Column::DecidedBy, Expr::value(self.principal.user_id.clone()))
                .col_expr(representative_request::Column::DecidedAtMs, Expr::value(now))
                .filter(representative_request::Column::Id.eq(id))
                .filter(representative_request::Column::Status.eq("pending"))
                .exec(&txn)
                .await?;
            // Decided by someone else meanwhile: the transaction (and its grant) is dropped.
            if decided.rows_affected != 1 {
                return Err(AppError::Conflict { message: "This request has already been decided.".into() });
            }
            ensure_caregiver_role(&txn, &row.requester_user_id).await?;
            notify_user(&txn, &row.requester_user_id, "Your request to act for a patient was approved. Choose them under \"People I help\".".into()).await?;
            if let Some(account) = patient_account(&txn, &patient.id).await? {
                notify_user(&txn, &account.id, "HIM staff recognised a representative who can now see your record. See \"Who can see my records\".".into()).await?;
            }
            audit::record(
                &txn,
                self.event(AuditAction::RepresentativeDecide, Outcome::Success)
                    .patient(&patient.id)
                    .entity("caregiver_grant", &grant_id)
                    .detail(format!("approved kind={} user={}", kind.as_str(), row.requester_user_id)),
            )
            .await?;
            txn.commit().await?;
        }
        let row = representative_request::Entity::find_by_id(id.to_string()).one(&self.db).await?.ok_or(AppError::NotFound)?;
        self.representative_view(row).await
    }

    /// Every grant on a patient's record, for HIM staff (to end one where abuse is suspected).
    pub async fn patient_grants(&self, patient_id: &str) -> Result<Vec<GrantView>, AppError> {
        self.authorize(Action::VerifyRepresentatives, Target::Site, AuditAction::RepresentativeDecide).await?;
        let rows = caregiver_grant::Entity::find()
            .filter(caregiver_grant::Column::PatientId.eq(patient_id))
            .order_by_desc(caregiver_grant::Column::CreatedAtMs)
            .limit(200)
            .all(&self.db)
            .await?;
        audit::record_alone(&self.db, self.event(AuditAction::PatientRead, Outcome::Success).patient(patient_id).entity("caregivers", patient_id))
            .await?;
        self.grant_views(rows).await
    }

    /// HIM staff end a representative's access (45 CFR 164.502(g)(5): abuse, neglect or
    /// endangerment suspected), with the reason kept in the history.
    pub async fn end_grant_by_staff(&self, grant_id: &str, reason: &str) -> Result<(), AppError> {
        self.authorize(Action::VerifyRepresentatives, Target::Site, AuditAction::CaregiverRevoke).await?;
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(field("reason", "Give the reason for ending this access; it is kept in the record's history."));
        }
        self.end_grant(grant_id, None, &format!("Ended by HIM: {reason}")).await
    }
}

/// What one run of the daily job changed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AgeRun {
    /// Parents' grants that became limited (the child turned 12).
    pub narrowed: usize,
    /// Parents' grants that ended (the patient turned 18).
    pub ended_at_majority: usize,
    /// Grants past their expiry, closed.
    pub expired: usize,
}

/// The daily job (DOMAIN.md: proxy narrows at 12, ends at 18 unless the adult grants it anew):
/// closes grants past their expiry and parents' grants of patients now adult, records when a
/// child's grant became limited, and tells the caregiver and the patient (no health information
/// in the message). Access checks apply the same rules on every request; the job makes the
/// change visible and notified. Audited as the system.
pub async fn apply_age_rules(db: &DatabaseConnection, ages: AgeThresholds, today: IsoDate) -> Result<AgeRun, AppError> {
    let now = now_ms().max(today.start_ms());
    let mut run = AgeRun::default();
    let rows = caregiver_grant::Entity::find()
        .filter(caregiver_grant::Column::EndedAtMs.is_null())
        .all(db)
        .await?;
    let request = RequestMeta::system();
    for row in rows {
        let Some(patient) = patient_row::Entity::find_by_id(row.patient_id.clone()).one(db).await? else { continue };
        let band = band_of(&patient.birth_date, ages, today);
        let kind = kind_of(&row)?;
        let expired = row.expires_at_ms.is_some_and(|e| e <= now);
        let majority = kind == GrantKind::ParentOfMinor && band == AgeBand::Adult;
        let txn = write_transaction(db).await?;
        let account = patient_account(&txn, &patient.id).await?;
        if expired || majority {
            let reason = if majority { "Ended: the patient turned 18" } else { "Expired" };
            let done = caregiver_grant::Entity::update_many()
                .col_expr(caregiver_grant::Column::EndedAtMs, Expr::value(now))
                .col_expr(caregiver_grant::Column::EndReason, Expr::value(reason))
                .col_expr(caregiver_grant::Column::AppliedBand, Expr::value(band.as_str()))
                .filter(caregiver_grant::Column::Id.eq(row.id.as_str()))
                .filter(caregiver_grant::Column::EndedAtMs.is_null())
                .exec(&txn)
                .await?;
            if done.rows_affected == 1 {
                notify_user(&txn, &row.user_id, "Your access to a person's record in the portal has ended.".into()).await?;
                if let Some(a) = &account {
                    let message = if majority {
                        "You are now 18: your parent's access to your record has ended. You can invite them again under \"Who can see my records\"."
                    } else {
                        "A caregiver's access to your record has expired."
                    };
                    notify_user(&txn, &a.id, message.into()).await?;
                }
                let detail = if majority { "ended: age of majority" } else { "ended: expired" };
                audit::record(&txn, AuditEvent::new(AuditAction::CaregiverRevoke, Outcome::Success, &request).patient(&patient.id).entity("caregiver_grant", &row.id).detail(detail))
                    .await?;
                if majority {
                    run.ended_at_majority += 1;
                } else {
                    run.expired += 1;
                }
            }
        } else if row.applied_band != band.as_str() {
            caregiver_grant::Entity::update_many()
                .col_expr(caregiver_grant::Column::AppliedBand, Expr::value(band.as_str()))
                .filter(caregiver_grant::Column::Id.eq(row.id.as_str()))
                .exec(&txn)
                .await?;
            if kind == GrantKind::ParentOfMinor && band == AgeBand::Adolescent {
                notify_user(&txn, &row.user_id, "Your access to a person's record in the portal is now limited, as the law provides for teenagers.".into()).await?;
                audit::record(&txn, AuditEvent::new(AuditAction::CaregiverRevoke, Outcome::Success, &request).patient(&patient.id).entity("caregiver_grant", &row.id).detail("narrowed: adolescent"))
                    .await?;
                run.narrowed += 1;
            }
        }
        txn.commit().await?;
    }
    Ok(run)
}

/// Runs [`apply_age_rules`] at most once per day across every server sharing the database: the
/// first server to move `job_run` to today runs it. Returns `None` when it had already run.
pub async fn run_daily_age_rules(db: &DatabaseConnection, ages: AgeThresholds, today: IsoDate) -> Result<Option<AgeRun>, AppError> {
    const NAME: &str = "caregiver_age_rules";
    let today_text = today.to_string();
    let existing = job_run::Entity::find_by_id(NAME.to_string()).one(db).await?;
    let claimed = match existing {
        None => job_run::Entity::insert(job_run::ActiveModel { name: Set(NAME.into()), last_run_on: Set(today_text.clone()), at_ms: Set(now_ms()) })
            .exec_without_returning(db)
            .await
            .is_ok(),
        Some(row) if row.last_run_on < today_text => {
            job_run::Entity::update_many()
                .col_expr(job_run::Column::LastRunOn, Expr::value(today_text.clone()))
                .col_expr(job_run::Column::AtMs, Expr::value(now_ms()))
                .filter(job_run::Column::Name.eq(NAME))
                .filter(job_run::Column::LastRunOn.eq(row.last_run_on))
                .exec(db)
                .await?
                .rows_affected
                == 1
        }
        Some(_) => false,
    };
    if !claimed {
        return Ok(None);
    }
    apply_age_rules(db, ages, today).await.map(Some)
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
