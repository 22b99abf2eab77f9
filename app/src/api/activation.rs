//! Patient activation: HIM staff issue a single-use, expiring code for a patient record and
//! print it as a letter; the patient registers with the code and their date of birth, which
//! creates their account linked to that record and signs them in.

use crate::domain::ActivationLetter;
use crate::error::AppError;
use leptos::prelude::*;
#[cfg(feature = "ssr")]
use super::ssr;

/// Issues a new activation code for the patient and opens the printable letter.
#[server(prefix = "/api", endpoint = "issue_activation_code")]
pub async fn issue_activation_code(patient_id: String) -> Result<(), AppError> {
    use self::ssr::*;
    with_status(async move {
        let days = state()?.auth.config.activation_code_days;
        let letter = access().await?.issue_activation_code(&patient_id, days).await?;
        let session = PortalSession::current().await?;
        let path = format!("/staff/patients/{}/letter", crate::domain::percent(&letter.patient_id));
        session.insert(Key::ActivationLetterOnce, letter).await?;
        leptos_axum::redirect(&path);
        Ok(())
    }.await)
}

/// The letter just issued, once: reading it removes the code from the session.
#[server(prefix = "/api", endpoint = "take_activation_letter")]
pub async fn take_activation_letter() -> Result<Option<ActivationLetter>, AppError> {
    use self::ssr::*;
    with_status(async move {
        signed_in(true).await?;
        PortalSession::current().await?.remove::<ActivationLetter>(Key::ActivationLetterOnce).await
    }.await)
}

/// Creates a patient's account from an activation code and their date of birth, then signs in.
#[server(prefix = "/api", endpoint = "activate_account")]
pub async fn activate_account(
    code: String,
    birth_date: String,
    name: String,
    email: String,
    #[server(default)] password: String,
    /// Set when the person chose "Continue with <provider>" instead of a password.
    #[server(default)] oidc_provider: Option<String>,
) -> Result<(), AppError> {
    use crate::backend::access::activation::{self, Redeem, RedeemError};
    use crate::backend::auth::login;
    use crate::backend::auth::users::NewUser;
    use self::ssr::*;
    use crate::domain::{EmailAddress, IsoDate};
    with_status(async move {
        let state = state()?;
        let request = RequestMeta::current().await;
        let field = |field: &str, message: &str| FieldError { field: field.into(), message: message.into() };
        let mut errors = Vec::new();
        if code.trim().is_empty() {
            errors.push(field("code", "Enter the activation code from your letter."));
        }
        if IsoDate::parse(&birth_date).is_err() {
            errors.push(field("birth_date", "Enter your date of birth as YYYY-MM-DD."));
        }
        let email = EmailAddress::parse(&email).map_err(|e| errors.push(field("email", &e.to_string()))).ok();
        if password.chars().count() > crate::domain::MAX_PASSWORD_CHARS {
            errors.push(field("password", "Use at most 128 characters."));
        }
        if let Some(provider) = oidc_provider.filter(|p| !p.is_empty()) {
            // An OpenID identity instead of a password: check what can be checked now, then go
            // to the provider; the code is spent on the way back (backend::oidc_routes).
            use crate::backend::auth::oidc::Intent;
            use crate::backend::auth::users;
            let name = users::check_display_name(&name).map_err(|e| errors.push(field("name", &e.to_string()))).ok();
            let (Some(email), Some(name)) = (email.filter(|_| errors.is_empty()), name.filter(|_| errors.is_empty())) else {
                return Err(AppError::Validation { fields: errors });
            };
            if users::find_by_email(&state.db, &email).await.map_err(|e| internal("checking an email failed", &e))?.is_some() {
                return Err(users::UserError::EmailTaken.into_app_error());
            }
            let code_hash = activation::hash_typed(&code).unwrap_or_default();
            let intent = Intent::Activate { code_hash, birth_date: birth_date.trim().to_string(), name, email: email.as_str().to_string() };
            return crate::api::oidc::server::start(&provider, intent).await;
        }
        let Some(email) = email.filter(|_| errors.is_empty()) else {
            return Err(AppError::Validation { fields: errors });
        };
        let redeem = Redeem {
            code_hash: activation::hash_typed(&code),
            birth_date,
            new_user: NewUser { email, display_name: name, password: Some(password), roles: Default::default(), patient_id: None },
            link: None,
        };
        let user_id = activation::redeem(&state.db, &state.auth, &state.auth.config.throttle, redeem, &request)
            .await
            .map_err(|e| match e {
                RedeemError::Invalid => AppError::Validation {
                    fields: vec![field("code", "The activation code or the date of birth is not right, or the code has expired or was used. Check your letter, or ask the records team for a new code.")],
                },
                RedeemError::Locked { retry_after_secs } => AppError::Locked { retry_after_secs },
                RedeemError::AlreadyActivated => AppError::Conflict {
                    message: "This health record already has an account. Sign in, or ask the records team for help.".into(),
                },
                RedeemError::User(e) => e.into_app_error(),
                RedeemError::Db(e) => internal("activating an account failed", &e),
            })?;
        let session = PortalSession::current().await?;
        session.cycle_id().await?;
        if state.auth.config.patient_mfa_required {
            // The site wants a second factor from patients too: set it up before the first sign-in.
            use crate::backend::session::{PendingSignIn, PendingStage};
            let pending = PendingSignIn { user_id, stage: PendingStage::Enroll, since_ms: crate::backend::db::now_ms(), first_factor: "activation".into() };
            session.insert(Key::PendingSignIn, pending).await?;
            leptos_axum::redirect("/sign-in/setup");
            return Ok(());
        }
        let login_id = login::complete(&state.db, &state.auth, &user_id, "activation", &request)
            .await
            .map_err(|e| internal("signing in after activation failed", &e))?;
        session.insert(Key::Login, login_id).await?;
        leptos_axum::redirect("/record");
        Ok(())
    }.await)
}

/// Creates an account without an activation code. It sees no health information until HIM staff
/// verify the person's identity and link their record; the person is signed in meanwhile.
#[server(prefix = "/api", endpoint = "self_register")]
pub async fn self_register(
    name: String,
    email: String,
    birth_date: String,
    phone: String,
    password: String,
    /// Where to go once signed in (an invitation being accepted); a path on this site only.
    #[server(default)] next: Option<String>,
) -> Result<(), AppError> {
    use crate::backend::auth::login;
    use crate::backend::auth::users::{self, NewUser, UserError};
    use self::ssr::*;
    use crate::domain::{EmailAddress, IsoDate};
    with_status(async move {
        let state = state()?;
        let request = RequestMeta::current().await;
        let field = |field: &str, message: &str| FieldError { field: field.into(), message: message.into() };
        let mut errors = Vec::new();
        let email = EmailAddress::parse(&email).map_err(|e| errors.push(field("email", &e.to_string()))).ok();
        let birth = IsoDate::parse(&birth_date).map_err(|e| errors.push(field("birth_date", &e.to_string()))).ok();
        let phone = phone.trim().to_string();
        if phone.len() > 32 || !phone.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c)) {
            errors.push(field("phone", "Enter a phone number with digits, spaces, +, - or brackets."));
        }
        if password.chars().count() > crate::domain::MAX_PASSWORD_CHARS {
            errors.push(field("password", "Use at most 128 characters."));
        }
        let (Some(email), Some(birth)) = (email, birth) else {
            return Err(AppError::Validation { fields: errors });
        };
        if !errors.is_empty() {
            return Err(AppError::Validation { fields: errors });
        }
        let new = NewUser { email, display_name: name, password: Some(password), roles: Default::default(), patient_id: None };
        let phone = (!phone.is_empty()).then_some(phone);
        let user_id = users::self_register(&state.db, &state.auth, new, &birth, phone, &request)
            .await
            .map_err(UserError::into_app_error)?;
        let login_id = login::complete(&state.db, &state.auth, &user_id, "registration", &request)
            .await
            .map_err(|e| internal("signing in after registration failed", &e))?;
        let session = PortalSession::current().await?;
        session.cycle_id().await?;
        session.insert(Key::Login, login_id).await?;
        let to = match next.as_deref().filter(|n| !n.is_empty()) {
            Some(n) => crate::domain::safe_next(Some(n)),
            None => "/record".to_string(),
        };
        leptos_axum::redirect(&to);
        Ok(())
    }.await)
}

/// Self-registered accounts waiting for HIM staff to verify them.
#[server(prefix = "/api", endpoint = "pending_verifications")]
pub async fn pending_verifications() -> Result<Vec<crate::domain::PendingVerification>, AppError> {
    use self::ssr::*;
    with_status(async move { access().await?.pending_verifications().await }.await)
}

/// HIM staff verified the person: link their account to the record with this number.
#[server(prefix = "/api", endpoint = "verify_identity")]
pub async fn verify_identity(user_id: String, mrn: String) -> Result<(), AppError> {
    use self::ssr::*;
    with_status(async move {
        access().await?.verify_identity(&user_id, &mrn).await?;
        leptos_axum::redirect("/staff/verifications?linked=1");
        Ok(())
    }.await)
}
