//! Demo mode (setting `demo`): one demo patient record, and a patient, an HIM staff member and an
//! administrator who can sign in with the credentials below, created once. The sign-in page and
//! the README show the credentials, so the settings refuse demo mode in production and on
//! PostgreSQL.

use super::access::setup::ensure_patient;
use super::auth::{Auth, mfa, totp};
use super::db::now_ms;
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
    /// Staff accounts must use two-step verification: their authenticator key (base32), to type
    /// into an app, and the code it shows now.
    pub authenticator_key: Option<String>,
    pub current_code: Option<String>,
}

/// The demo staff accounts' authenticator secret (20 bytes, published: demo data only).
const DEMO_TOTP_SECRET: &[u8; 20] = b"portal-demo-totp-key";

const ACCOUNTS: [(&str, &str, &str, &str, Role); 3] = [
    ("Patient (Alex Rivera)", "Alex Rivera", "patient@demo.example", "demo-patient-lantern", Role::Patient),
    ("HIM staff", "Sam Okafor", "staff@demo.example", "demo-staff-lantern", Role::HimStaff),
    ("Administrator", "Jordan Lee", "admin@demo.example", "demo-admin-lantern", Role::Administrator),
];

/// The demo accounts' credentials.
pub fn accounts() -> Vec<DemoAccount> {
    let step = totp::step_at(now_ms() / 1000);
    ACCOUNTS
        .iter()
        .map(|(label, _, email, password, role)| DemoAccount {
            label: (*label).into(),
            email: (*email).into(),
            password: (*password).into(),
            authenticator_key: role.is_staff().then(|| totp::manual_key(DEMO_TOTP_SECRET)),
            current_code: role.is_staff().then(|| format!("{:06}", totp::hotp(DEMO_TOTP_SECRET, step as u64))),
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
        let user = users::create(db, auth, new, None, &request).await?;
        if role.is_staff() {
            // Set up the published authenticator through the real enrolment path.
            let code = format!("{:06}", totp::hotp(DEMO_TOTP_SECRET, totp::step_at(now_ms() / 1000) as u64));
            mfa::enable(db, &user, DEMO_TOTP_SECRET, &code, &request).await.map_err(|e| DemoError::Data(e.to_string()))?;
        }
        tracing::info!(role = role.as_str(), "demo account created");
    }
    Ok(())
}
