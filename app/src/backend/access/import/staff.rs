//! Imports and possible duplicates through the door, for HIM staff: uploading a file, the list
//! of runs, and deciding a pair of records that may be the same person.

use super::super::rows::{
    duplicate_candidate, import_run, patient_identifier,
};
use super::super::rows::patient_row;
use crate::backend::audit::{self, AuditAction, Outcome};
use crate::backend::db::{now_ms, write_transaction};
use crate::backend::fhir::parse::Limits;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, DbErr, EntityTrait,
    QueryFilter,
};
use serde_json::Value;
use super::{ImportError, Importer, Summary};

/// The HIM side of imports: uploads, the list of past imports, and possible duplicates. Each asks
/// the policy (`ImportRecords`, `ReviewDuplicates`) and is audited.
impl super::super::AccessContext {
    /// Imports an uploaded file as the signed-in user.
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn upload_import(&self, source: &str, bytes: &[u8], limits: Limits) -> Result<Summary, crate::error::AppError> {
        use crate::backend::policy::Action;
        self.require(Action::ImportRecords, AuditAction::RecordImport).await?;
        let importer = Importer { db: &self.db, site_code: &self.site_code, limits, actor: Some(&self.principal.user_id), request: &self.request };
        importer.import(source, bytes, &|_, _| {}).await.map_err(|e| match e {
            ImportError::Db(e) => crate::backend::error::internal("an import failed", &e),
            other => crate::error::AppError::Conflict { message: format!("Nothing was imported: {other}") },
        })
    }

    /// The latest imports, newest first.
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn import_runs(&self, limit: u64) -> Result<Vec<crate::domain::ImportRunRow>, crate::error::AppError> {
        use crate::backend::policy::Action;
        use sea_orm::{QueryOrder, QuerySelect};
        self.require(Action::ImportRecords, AuditAction::RecordImport).await?;
        let rows = import_run::Entity::find()
            .order_by_desc(import_run::Column::FinishedAtMs)
            .limit(limit)
            .all(&self.db)
            .await?;
        self.audit_list("import_runs", rows.len(), false).await?;
        rows
            .into_iter()
            .map(|r| {
                let summary: Value = r.summary.0;
                let outcome = match summary.get("error").and_then(Value::as_str) {
                    Some(error) => error.to_string(),
                    None => {
                        let n = |k: &str| summary.get(k).and_then(Value::as_u64).unwrap_or(0);
                        let who = match summary.pointer("/patient/mrn").and_then(Value::as_str) {
                            Some(mrn) => format!("record {mrn}; "),
                            None => String::new(),
                        };
                        format!("{who}{} resources: {} new, {} changed, {} unchanged", n("resources"), n("created"), n("updated"), n("unchanged"))
                    }
                };
                // A run that failed has no warnings list.
                let warnings = match summary.get("warnings").and_then(Value::as_array) {
                    Some(w) => w.iter().filter_map(Value::as_str).map(str::to_string).collect(),
                    None => Vec::new(),
                };
                // A file name or label can hold a patient's name: only who imported it, and HIM
                // staff (who read records), see it; an administrator sees counts and the record
                // number.
                let may_see_label = r.actor_user_id.as_deref() == Some(self.principal.user_id.as_str()) || self.principal.roles.contains(&crate::domain::Role::HimStaff);
                Ok(crate::domain::ImportRunRow {
                    id: r.id,
                    source: if may_see_label { r.source } else { "(file name shown to its importer only)".to_string() },
                    finished: self.clock.seconds(r.finished_at_ms),
                    status: r.status,
                    outcome,
                    warnings,
                    patient_id: r.patient_id,
                })
            })
            .collect()
    }

    /// Open pairs of possible duplicates, both records side by side.
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn duplicates(&self) -> Result<Vec<crate::domain::DuplicatePair>, crate::error::AppError> {
        use crate::backend::policy::Action;
        use sea_orm::QueryOrder;
        self.require(Action::ReviewDuplicates, AuditAction::PatientRead).await?;
        let pairs = duplicate_candidate::Entity::find()
            .filter(duplicate_candidate::Column::Status.eq("open"))
            .order_by_asc(duplicate_candidate::Column::CreatedAtMs)
            .all(&self.db)
            .await
            ?;
        let mut out = Vec::new();
        for pair in pairs {
            let load = |id: String| async move {
                let row = patient_row::Entity::find_by_id(id.clone()).filter(patient_row::Column::SiteCode.eq(self.site_code.as_str())).one(&self.db).await?;
                let ids = patient_identifier::Entity::find().filter(patient_identifier::Column::PatientId.eq(id)).all(&self.db).await?;
                Ok::<_, DbErr>(row.map(|r| (super::super::patients::to_summary(r), ids.into_iter().map(|i| format!("{}: {}", i.system, i.value)).collect::<Vec<_>>())))
            };
            let (Some((new_record, new_identifiers)), Some((existing_record, existing_identifiers))) = (
                load(pair.patient_id.clone()).await?,
                load(pair.other_patient_id.clone()).await?,
            ) else {
                continue;
            };
            out.push(crate::domain::DuplicatePair {
                id: pair.id,
                reason: pair.reason,
                found: self.clock.minutes(pair.created_at_ms),
                status: pair.status,
                new_record,
                existing_record,
                new_identifiers,
                existing_identifiers,
            });
        }
        let event = self.event(AuditAction::PatientRead, Outcome::Success).detail(format!("duplicates_list count={}", out.len()));
        self.audit_alone(event).await?;
        Ok(out)
    }

    /// Records HIM's decision on a pair (audited for both records). Never merges.
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn resolve_duplicate(&self, id: &str, decision: crate::domain::DuplicateDecision) -> Result<(), crate::error::AppError> {
        use crate::backend::policy::Action;
        self.require(Action::ReviewDuplicates, AuditAction::PatientRead).await?;
        let txn = write_transaction(&self.db).await?;
        let pair = duplicate_candidate::Entity::find_by_id(id.to_string())
            .filter(duplicate_candidate::Column::Status.eq("open"))
            .one(&txn)
            .await?
            .ok_or(crate::error::AppError::NotFound)?;
        duplicate_candidate::Entity::update_many()
            .col_expr(duplicate_candidate::Column::Status, Expr::value(decision.as_str()))
            .col_expr(duplicate_candidate::Column::ResolvedByUserId, Expr::value(self.principal.user_id.clone()))
            .col_expr(duplicate_candidate::Column::ResolvedAtMs, Expr::value(now_ms()))
            .filter(duplicate_candidate::Column::Id.eq(id))
            .exec(&txn)
            .await?;
        for patient in [&pair.patient_id, &pair.other_patient_id] {
            let event = self
                .event(AuditAction::DuplicateReview, Outcome::Success)
                .patient(patient)
                .entity("duplicate_candidate", id)
                .detail(format!("decision={}", decision.as_str()));
            audit::record(&txn, event).await?;
        }
        txn.commit().await?;
        Ok(())
    }
}
