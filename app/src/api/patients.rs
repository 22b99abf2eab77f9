//! The patient registry (HIM staff) and a patient's own record. Every call goes through the
//! access context: policy check, patient filter, audit.

use crate::domain::{PatientForm, PatientSummary};
use crate::error::AppError;
use leptos::prelude::*;
#[cfg(feature = "ssr")]
use super::ssr;

/// The signed-in patient's own record, or `None` while their identity awaits verification.
#[server(prefix = "/api", endpoint = "my_record")]
pub async fn my_record() -> Result<Option<PatientSummary>, AppError> {
    use self::ssr::*;
    with_status(async move { access().await?.own_patient().await }.await)
}

/// One patient's record (HIM staff, or the patient themselves). Anyone else gets 404.
#[server(prefix = "/api", endpoint = "patient")]
pub async fn patient(id: String) -> Result<PatientSummary, AppError> {
    use self::ssr::*;
    with_status(async move { access().await?.patient(&id).await }.await)
}

/// Searches the registry by record number or family name, optionally with a birth date.
#[server(prefix = "/api", endpoint = "search_patients")]
pub async fn search_patients(q: String, birth_date: Option<String>) -> Result<Vec<PatientSummary>, AppError> {
    use self::ssr::*;
    with_status(async move { access().await?.search_patients(&q, birth_date.as_deref()).await }.await)
}

/// Creates a patient record by hand and opens it.
#[server(prefix = "/api", endpoint = "create_patient")]
pub async fn create_patient(form: PatientForm) -> Result<PatientSummary, AppError> {
    use self::ssr::*;
    use crate::domain::{IsoDate, NewPatient};
    with_status(async move {
        let context = access().await?;
        let today = {
            let now = time::OffsetDateTime::now_utc().date();
            IsoDate::from_parts(now.year() as u16, u16::from(u8::from(now.month())), u16::from(now.day()))
                .map_err(|_| AppError::bad_request())?
        };
        let new = NewPatient::parse(&form, today).map_err(|fields| AppError::Validation { fields })?;
        let created = context.create_patient(new).await?;
        leptos_axum::redirect(&format!("/staff/patients/{}", created.id));
        Ok(created)
    }.await)
}
