//! Demo mode (setting `demo`): three synthetic patient records imported from FHIR, and a patient
//! (linked to the first record), an HIM staff member and an
//! administrator who can sign in with the credentials below, created once. The sign-in page and
//! the README show the credentials, so the settings refuse demo mode in production and on
//! PostgreSQL.

use super::access::SystemContext;
use super::fhir::parse::Limits;
use super::auth::{Auth, mfa, totp};
use super::db::now_ms;
use super::auth::users::{self, NewUser, UserError};
use super::request::RequestMeta;
use crate::domain::{EmailAddress, Role};
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
/// The demo records: the first is the demo patient's own.
const DEMO_BUNDLES: [(&str, &[u8]); 3] = [
    ("demo: Lucas404 León820", include_bytes!("../../../tests/fixtures/fhir/synthea/ab5537a3-8608-5f56-53f5-d10b00eb4680.json")),
    ("demo: Zandra428 O'Hara248", include_bytes!("../../../tests/fixtures/fhir/synthea/8a4c9c04-1524-9f1c-d65b-9b17e4520fef.json")),
    ("demo: Marcos Delagarza", include_bytes!("../../../tests/fixtures/fhir/synthea/Marcos_Delagarza_4acb6705-25a7-430a-b799-a4ad8d7fbb38.json")),
];

const DEMO_TOTP_SECRET: &[u8; 20] = b"portal-demo-totp-key";

const ACCOUNTS: [(&str, &str, &str, &str, Role); 3] = [
    ("Patient (Lucas León)", "Lucas León", "patient@demo.example", "demo-patient-lantern", Role::Patient),
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
pub async fn ensure(db: &sea_orm::DatabaseConnection, auth: &Auth, keys: &super::copies::seal::FileKeys, site_code: &str) -> Result<(), DemoError> {
    let request = RequestMeta::command_line();
    let patient_email = EmailAddress::parse(ACCOUNTS[0].2).map_err(|e| DemoError::Data(e.to_string()))?;
    if users::find_by_email(db, &patient_email).await?.is_some() {
        // Set up on an earlier start: the records and accounts are there.
        return Ok(());
    }
    // Three synthetic records (Synthea, Apache-2.0; see tests/fixtures/fhir/synthea/SOURCES.md),
    // imported like any FHIR file. The demo patient signs in to the first.
    let system = SystemContext::demo(db.clone(), site_code);
    let importer = system.importer(Limits::default());
    let mut patient_id = None;
    for (name, bytes) in DEMO_BUNDLES {
        let summary = importer.import(name, bytes, &|_, _| {}).await.map_err(|e| DemoError::Data(format!("{name}: {e}")))?;
        if patient_id.is_none() {
            patient_id = summary.patient.map(|p| p.id);
        }
    }
    let patient_id = patient_id.ok_or_else(|| DemoError::Data("the first demo bundle has no patient".into()))?;
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
            mfa::enable(db, keys, &user, DEMO_TOTP_SECRET, &code, &request).await.map_err(|e| DemoError::Data(e.to_string()))?;
        }
        tracing::info!(role = role.as_str(), "demo account created");
    }
    Ok(())
}

/// The demo accounts that can still sign in.
async fn active_users(db: &impl sea_orm::ConnectionTrait) -> Result<Vec<users::User>, sea_orm::DbErr> {
    let mut active = Vec::new();
    for (_, _, email, _, _) in ACCOUNTS {
        let Ok(address) = EmailAddress::parse(email) else { continue };
        if let Some(user) = users::find_by_email(db, &address).await?.filter(|u| u.active) {
            active.push(user);
        }
    }
    Ok(active)
}

/// The addresses of the demo accounts that can still sign in. Their passwords are published (in
/// the source, the README and on a demo sign-in page), so outside demo mode the server refuses
/// to start while any is active.
pub async fn active_accounts(db: &impl sea_orm::ConnectionTrait) -> Result<Vec<String>, sea_orm::DbErr> {
    Ok(active_users(db).await?.into_iter().map(|u| u.email).collect())
}

/// `portal admin purge-demo`: disables every demo account (their sessions end), each audited as
/// an account disabled from the command line. Returns the addresses disabled.
pub async fn purge(db: &sea_orm::DatabaseConnection) -> Result<Vec<String>, sea_orm::DbErr> {
    let request = RequestMeta::command_line();
    let mut disabled = Vec::new();
    for user in active_users(db).await? {
        if users::disable_from_command_line(db, &user.id, &request).await? {
            disabled.push(user.email);
        }
    }
    Ok(disabled)
}
