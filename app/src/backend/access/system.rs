//! The door for work no signed-in person asks for: set-up (the demo data, the command line) and
//! the server's background jobs (the mail outbox, the daily caregiver rules). A
//! [`SystemContext`] is named for what it runs as, and that name is the audit actor of every
//! event it writes (`system:command-line`, `system:demo`, `system:jobs`), so the audit trail
//! says which door a change came through. Never built from an HTTP request. Features add their
//! jobs to it beside their other code (`caregivers/age.rs`, `notifications.rs`).

use super::import::Importer;
use super::rows::patient_row;
use crate::backend::audit::{self, AuditAction, AuditEvent, Outcome};
use crate::backend::db::{now_ms, write_transaction};
use crate::backend::fhir::parse::Limits;
use crate::backend::request::RequestMeta;
use crate::domain::NewPatient;
use sea_orm::{ActiveValue::Set, ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter};

/// Everything set-up and background work may do with patient data, as one named system actor.
pub struct SystemContext {
    pub(super) db: DatabaseConnection,
    pub(super) site_code: String,
    pub(super) request: RequestMeta,
    pub(super) actor: &'static str,
}

impl SystemContext {
    /// The `portal` command line (imports, benchmarks, administration).
    pub fn command_line(db: DatabaseConnection, site_code: impl Into<String>) -> Self {
        SystemContext { db, site_code: site_code.into(), request: RequestMeta::command_line(), actor: "system:command-line" }
    }

    /// Demo mode's made-up records and accounts, created at start-up.
    pub fn demo(db: DatabaseConnection, site_code: impl Into<String>) -> Self {
        SystemContext { db, site_code: site_code.into(), request: RequestMeta::command_line(), actor: "system:demo" }
    }

    /// The server's background jobs.
    pub fn jobs(db: DatabaseConnection, site_code: impl Into<String>) -> Self {
        SystemContext { db, site_code: site_code.into(), request: RequestMeta::system(), actor: "system:jobs" }
    }

    /// The audit actor of everything this context does.
    pub fn actor(&self) -> &'static str {
        self.actor
    }

    /// An audit event by this context's actor.
    pub(super) fn event(&self, action: AuditAction, outcome: Outcome) -> AuditEvent {
        AuditEvent::new(action, outcome, &self.request).actor(self.actor)
    }

    /// The importer of FHIR files, under `limits`, audited as this context.
    pub fn importer(&self, limits: Limits) -> Importer<'_> {
        Importer { db: &self.db, site_code: &self.site_code, limits, actor: Some(self.actor), request: &self.request }
    }

    /// Creates a patient record if its record number is free; returns its id either way.
    #[tracing::instrument(skip_all)]
    pub async fn ensure_patient(&self, new: NewPatient) -> Result<String, sea_orm::DbErr> {
        let txn = write_transaction(&self.db).await?;
        if let Some(existing) = patient_row::Entity::find()
            .filter(patient_row::Column::SiteCode.eq(self.site_code.as_str()))
            .filter(patient_row::Column::Mrn.eq(new.mrn.as_str()))
            .one(&txn)
            .await?
        {
            return Ok(existing.id);
        }
        let id = uuid::Uuid::new_v4().to_string();
        patient_row::Entity::insert(patient_row::ActiveModel {
            id: Set(id.clone()),
            site_code: Set(self.site_code.clone()),
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
        audit::record(&txn, self.event(AuditAction::PatientCreate, Outcome::Success).patient(&id).entity("patient", &id)).await?;
        txn.commit().await?;
        Ok(id)
    }
}
