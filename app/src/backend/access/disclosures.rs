//! The accounting of disclosures (45 CFR 164.528): an entry for every release to a third party,
//! written with the release; HIM adds manual entries; corrections are new entries pointing at
//! the old one; the patient sees six years.

use super::rows::{disclosure, release_request};
use super::AccessContext;
use crate::backend::audit::{self, AuditAction, Outcome};
use crate::backend::db::{now_ms, write_transaction};
use crate::backend::error::{BackendError, Stored};
use crate::error::{AppError, FieldError};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};

/// The recipient of a copy sent to someone else: such a request always names one (the form
/// requires it), so a missing name is a damaged row.
pub(super) fn recipient_of(row: &release_request::Model) -> Result<&str, BackendError> {
    row.recipient_name.as_deref().stored("release_request", "recipient_name")
}

impl AccessContext {
    /// Writes an accounting entry for a release to a third party (164.528(b)(2)): date,
    /// recipient and address, what, why. Under a signed authorization it is not accountable
    /// (164.528(a)(1)(iv)), but it is recorded and shown to the patient all the same.
    pub(super) async fn record_disclosure(&self, txn: &sea_orm::DatabaseTransaction, row: &release_request::Model, what: &str, kind: &str, accountable: bool) -> Result<(), AppError> {
        disclosure::Entity::insert(disclosure::ActiveModel {
            id: Set(uuid::Uuid::new_v4().to_string()),
            patient_id: Set(row.patient_id.clone()),
            request_id: Set(Some(row.id.clone())),
            disclosed_on: Set(self.clock.today().to_string()),
            recipient_name: Set(recipient_of(row)?.to_string()),
            recipient_address: Set(row.recipient_address.clone()),
            description: Set(format!("Copy of the health record: {what} (request R-{})", row.number)),
            purpose: Set(row.purpose.clone().unwrap_or_else(|| "At the patient's request".into())),
            // 164.528(a)(1): disclosures under 164.512 (courts, subpoenas, agencies) are
            // accountable; those under an authorization, for treatment or payment are not.
            accountable: Set(accountable),
            kind: Set(kind.into()),
            corrects_id: Set(None),
            recorded_by_user_id: Set(Some(self.principal.user_id.clone())),
            created_at_ms: Set(now_ms()),
        })
        .exec_without_returning(txn)
        .await?;
        Ok(())
    }
}

pub use crate::domain::release::ManualDisclosure;

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
        // The accounting names who received what, which can reveal sensitive care: a limited
        // proxy does not see it (45 CFR 164.502(g)(3)); the patient, a full proxy and HIM do.
        self.authorize(crate::backend::policy::Action::ReadSensitive, crate::backend::policy::Target::Patient(&patient_id), AuditAction::PatientRead).await?;
        // A record that does not exist (at this site) has no accounting: 404, not an empty list.
        let exists = super::rows::patient_row::Entity::find_by_id(patient_id.clone())
            .filter(super::rows::patient_row::Column::SiteCode.eq(self.site_code.as_str()))
            .count(&self.db)
            .await?;
        if exists == 0 {
            return Err(AppError::NotFound);
        }
        let to = self.clock.today();
        let from = crate::domain::release::accounting_start(to);
        let rows = disclosure::Entity::find()
            .filter(disclosure::Column::PatientId.eq(patient_id.as_str()))
            .filter(disclosure::Column::DisclosedOn.gte(from.to_string()))
            .order_by_desc(disclosure::Column::DisclosedOn)
            .order_by_desc(disclosure::Column::CreatedAtMs)
            .all(&self.db)
            .await?;
        let event = self.event(AuditAction::PatientRead, Outcome::Success).patient(&patient_id).entity("accounting", &patient_id).detail("accounting of disclosures");
        self.audit_alone(event).await?;
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
}
