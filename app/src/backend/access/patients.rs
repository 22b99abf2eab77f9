//! Patient records through the door: one patient's demographics, the registry search, creating
//! a record by hand, and the set-up path that creates records before anyone signs in.

use super::*;

pub(in crate::backend::access) fn to_summary(row: patient_row::Model) -> PatientSummary {
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
pub(in crate::backend::access) fn full_name(p: &patient_row::Model) -> String {
    format!("{} {}", p.given_names, p.family_name).trim().to_string()
}

impl AccessContext {
    /// One patient's demographics. Audited as a read.
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
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
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn own_patient(&self) -> Result<Option<PatientSummary>, AppError> {
        match self.subject() {
            Some(id) => self.patient(&id).await.map(Some),
            None => Ok(None),
        }
    }

    /// Searches the registry by record number, or family name (prefix) with an optional birth
    /// date. At most 50 results. Audited with the number of results, never the search terms.
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
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
        let mut condition = Condition::any()
            .add(patient_row::Column::Mrn.eq(text.to_ascii_uppercase()))
            .add(patient_row::starts_with(patient_row::Column::FamilyName, text));
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
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
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
