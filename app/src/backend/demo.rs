//! Demo mode (setting `demo`): one demo patient record, and a patient, an HIM staff member and an
//! administrator who can sign in with the credentials below, created once. The sign-in page and
//! the README show the credentials, so the settings refuse demo mode in production and on
//! PostgreSQL.

use super::access::setup::ensure_patient;
use super::auth::Auth;
use super::auth::users::{self, NewUser, UserError};
use super::request::RequestMeta;
use crate::domain::{EmailAddress, IsoDate, NewPatient, PatientForm, Role};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// One demo account, as the sign-in page lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DemoAccount {
    pub label: String,
    pub email: String,
    pub password: String,
}

const ACCOUNTS: [(&str, &str, &str, &str, Role); 3] = [
    ("Patient (Alex Rivera)", "Alex Rivera", "patient@demo.example", "demo-patient-lantern", Role::Patient),
    ("HIM staff", "Sam Okafor", "staff@demo.example", "demo-staff-lantern", Role::HimStaff),
    ("Administrator", "Jordan Lee", "admin@demo.example", "demo-admin-lantern", Role::Administrator),
];

/// The demo accounts' credentials.
pub fn accounts() -> Vec<DemoAccount> {
    ACCOUNTS
        .iter()
        .map(|(label, _, email, password, _)| DemoAccount {
            label: (*label).into(),
            email: (*email).into(),
            password: (*password).into(),
        })
        .collect()
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("invalid demo data: {0}")]
    Data(String),
    #[error(transparent)]
    User(#[from] UserError),
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
}

/// Creates whatever part of the demo data is missing; running it again changes nothing.
pub async fn ensure(db: &sea_orm::DatabaseConnection, auth: &Auth, site_code: &str) -> Result<(), DemoError> {
    let request = RequestMeta::command_line();
    let form = PatientForm {
        mrn: "DEMO-0001".into(),
        family_name: "Rivera".into(),
        given_names: "Alex".into(),
        birth_date: "1987-05-14".into(),
        sex: "female".into(),
        ..PatientForm::default()
    };
    let today = IsoDate::parse("2026-01-01").map_err(|e| DemoError::Data(e.to_string()))?;
    let patient = NewPatient::parse(&form, today).map_err(|e| DemoError::Data(format!("{e:?}")))?;
    let patient_id = ensure_patient(db, site_code, patient, &request).await?;
    for (_, name, email, password, role) in ACCOUNTS {
        let email = EmailAddress::parse(email).map_err(|e| DemoError::Data(e.to_string()))?;
        if users::find_by_email(db, &email).await?.is_some() {
            continue;
        }
        let new = NewUser {
            email,
            display_name: name.into(),
            password: Some(password.into()),
            roles: BTreeSet::from([role]),
            patient_id: (role == Role::Patient).then(|| patient_id.clone()),
        };
        users::create(db, auth, new, None, &request).await?;
        tracing::info!(role = role.as_str(), "demo account created");
    }
    Ok(())
}
