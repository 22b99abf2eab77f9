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
pub async fn take_activation_letter(#[server(default)] patient: Option<String>) -> Result<Option<ActivationLetter>, AppError> {
    use self::ssr::*;
    with_status(async move {
        signed_in(true).await?;
        // The letter page names its patient: only who may issue codes for that record sees it
        // (anyone else gets the 404 of a record that is not theirs).
        if let Some(patient) = &patient {
            access().await?.may_issue_activation_code(patient).await?;
        }
        let session = PortalSession::current().await?;
        let letter = session.remove::<ActivationLetter>(Key::ActivationLetterOnce).await?;
        match (letter, patient) {
            (Some(letter), Some(patient)) if letter.patient_id != patient => {
                session.insert(Key::ActivationLetterOnce, letter).await?;
                Err(AppError::NotFound)
            }
            (letter, _) => Ok(letter),
        }
    }.await)
}

/// Creates a patient's account from an activation code and their date of birth, then signs in.
#[server(prefix = "/api", endpoint = "activate_account")]
pub async fn activate_account(#[server(flatten)] form: crate::domain::ActivationForm) -> Result<(), AppError> {
    use crate::backend::access::activation::{self, Redeem, RedeemError};
    use crate::backend::auth::login;
    use crate::backend::auth::users::NewUser;
    use self::ssr::*;
    with_status(async move {
        let state = state()?;
        let request = RequestMeta::current().await;
        let field = |field: &str, message: &str| FieldError { field: field.into(), message: message.into() };
        let form = form.check().map_err(|fields| AppError::Validation { fields })?;
        if let Some(provider) = &form.oidc_provider {
            // An OpenID identity instead of a password: check what can be checked now, then go
            // to the provider; the code is spent on the way back (backend::oidc_routes).
            use crate::backend::auth::oidc::Intent;
            use crate::backend::auth::users;
            if users::find_by_email(&state.db, &form.email).await.map_err(|e| internal("checking an email failed", &e))?.is_some() {
                return Err(users::UserError::EmailTaken.into_app_error());
            }
            let code_hash = activation::hash_typed(&form.code).unwrap_or_default();
            // The name was checked (and trimmed) with the rest of the form.
            let intent = Intent::Activate { code_hash, birth_date: form.birth_date, name: form.name, email: form.email.as_str().to_string() };
            return crate::api::oidc::server::start(provider, intent).await;
        }
        let email = form.email.as_str().to_string();
        let redeem = Redeem {
            code_hash: activation::hash_typed(&form.code),
            birth_date: form.birth_date,
            new_user: NewUser { email: form.email, display_name: form.name, password: Some(form.password), roles: Default::default(), patient_id: None },
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
        // The address was typed, not shown to be read: a link confirms it (the account works
        // meanwhile; the activation code proved who the person is).
        crate::backend::auth::addresses::send_link(&state.db, &state.mailer, &state.base_url, &user_id, &email, None)
            .await
            .map_err(|e| internal("mailing a confirmation link failed", &e))?;
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
/// verify the person's identity and link their record. Email-first: every address gets the same
/// answer (`/register?sent=1`, "we sent you a link"), and the link mailed to it finishes the
/// account and signs in; an address that already has an account gets a note saying so instead,
/// so the form tells nobody which addresses have accounts. Someone registering from a caregiver
/// invitation with the address it was mailed to holds that mail's link already: signed in at once
/// and back to the invitation.
#[server(prefix = "/api", endpoint = "self_register")]
pub async fn self_register(#[server(flatten)] form: crate::domain::RegistrationForm) -> Result<(), AppError> {
    use crate::backend::audit::{self, AuditAction, AuditEvent, Outcome};
    use crate::backend::auth::{addresses, login};
    use crate::backend::auth::users::{self, NewUser, UserError};
    use self::ssr::*;
    with_status(async move {
        let state = state()?;
        let request = RequestMeta::current().await;
        let form = form.check().map_err(|fields| AppError::Validation { fields })?;
        let invited = match form.next.strip_prefix("/caregivers/accept?token=") {
            Some(token) => crate::backend::access::caregivers::invited_address(&state.db, token)
                .await
                .map_err(|e| internal("looking up an invitation failed", &e))?
                .is_some_and(|address| address.eq_ignore_ascii_case(form.email.as_str())),
            None => false,
        };
        let email = form.email.as_str().to_string();
        let new = NewUser { email: form.email, display_name: form.name, password: Some(form.password), roles: Default::default(), patient_id: None };
        let created = users::self_register(&state.db, &state.auth, new, &form.birth_date, form.phone, invited, &request).await;
        let user_id = match created {
            Ok(id) => id,
            // The invitation's holder already knows the address was invited: say it plainly.
            Err(UserError::EmailTaken) if invited => return Err(UserError::EmailTaken.into_app_error()),
            Err(UserError::EmailTaken) => {
                let refused = AuditEvent::new(AuditAction::UserCreate, Outcome::Failure, &request).detail("self_registration: address already registered");
                audit::record_alone(&state.db, refused).await.map_err(|e| internal("auditing a registration failed", &e))?;
                addresses::mail_already_registered(&state.mailer, &state.base_url, &email);
                leptos_axum::redirect("/register?sent=1");
                return Ok(());
            }
            Err(e) => return Err(e.into_app_error()),
        };
        if !invited {
            let next = (form.next != "/").then_some(form.next.as_str());
            addresses::send_link(&state.db, &state.mailer, &state.base_url, &user_id, &email, next).await.map_err(|e| internal("mailing a confirmation link failed", &e))?;
            leptos_axum::redirect("/register?sent=1");
            return Ok(());
        }
        let login_id = login::complete(&state.db, &state.auth, &user_id, "registration", &request)
            .await
            .map_err(|e| internal("signing in after registration failed", &e))?;
        let session = PortalSession::current().await?;
        session.cycle_id().await?;
        session.insert(Key::Login, login_id).await?;
        leptos_axum::redirect(&form.next);
        Ok(())
    }.await)
}

/// Opens a confirmation link (the page's button): the address is verified, the account signed
/// in, and the person goes on to `next` (a page of the portal) or their first page.
#[server(prefix = "/api", endpoint = "verify_email")]
pub async fn verify_email(token: String, #[server(default)] next: Option<String>) -> Result<(), AppError> {
    use crate::backend::auth::addresses;
    use self::ssr::*;
    with_status(async move {
        let state = state()?;
        let request = RequestMeta::current().await;
        let user_id = addresses::confirm(&state.db, &token, &request).await.map_err(|e| internal("confirming an address failed", &e))?.ok_or_else(|| AppError::Conflict {
            message: "This link does not work any more (it works once, for 24 hours). Sign in with your email address and password to have a new one sent.".into(),
        })?;
        // Signed in as a password would (the second factor asked for when the account has one).
        let user = crate::backend::auth::users::find_by_id(&state.db, &user_id).await.map_err(|e| internal("reading an account failed", &e))?.filter(|u| u.active).ok_or(AppError::NotFound)?;
        let session = PortalSession::current().await?;
        let to = crate::backend::current::begin_sign_in(&state, &session, &user, "email_link", next.as_deref(), &request).await?;
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

/// The account beside the record it would be linked to (name, birth date, contact; what differs).
#[server(prefix = "/api", endpoint = "link_preview")]
pub async fn link_preview(user_id: String, mrn: String) -> Result<crate::domain::LinkPreview, AppError> {
    use self::ssr::*;
    with_status(async move { access().await?.link_preview(&user_id, &mrn).await }.await)
}

/// HIM staff verified the person: link their account to the record with this number (with a
/// written `reason` when the family name or birth date differ).
#[server(prefix = "/api", endpoint = "verify_identity")]
pub async fn verify_identity(user_id: String, mrn: String, #[server(default)] reason: Option<String>) -> Result<(), AppError> {
    use self::ssr::*;
    with_status(async move {
        access().await?.verify_identity(&user_id, &mrn, reason.as_deref()).await?;
        leptos_axum::redirect("/staff/verifications?linked=1");
        Ok(())
    }.await)
}
