//! Typed access to the server-side session from server functions. Keys are an enum, so a typo
//! cannot silently read an empty value; values are never logged (they may identify a person).

use super::error::internal;
use crate::error::AppError;
use serde::{Serialize, de::DeserializeOwned};
use tower_sessions::Session;

/// Every key the portal stores in a session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// The person hid the privacy reminder on the home page.
    PrivacyNoticeDismissed,
    /// The `login_session` id of the signed-in user (never the user id itself: a session can be
    /// revoked from anywhere by revoking the row).
    Login,
    /// Why the last session ended without a sign-out (idle, absolute), shown once on sign-in.
    SignedOutReason,
    /// The patient a caregiver switched to ("whose record is on screen"); absent for oneself.
    ActingFor,
    /// A sign-in whose password was right but whose second factor is still to come.
    PendingSignIn,
    /// An authenticator secret being set up, until a code from the app confirms it.
    PendingTotpSecret,
    /// Fresh recovery codes, shown once and then removed.
    RecoveryCodesOnce,
    /// A freshly issued activation letter, shown once (for printing) and then removed.
    ActivationLetterOnce,
    /// A new staff account's temporary password, shown once to the administrator.
    TemporaryPasswordOnce,
    /// A caregiver invitation just sent, with its link, shown once to the patient who sent it.
    InvitationSentOnce,
    /// An OpenID Connect flow under way: its state, nonce and PKCE verifier (removed on the
    /// callback, whatever its outcome).
    OidcPending,
    /// A plain multipart form's field errors (the form's name and the errors), shown once on
    /// the page the refusal redirects to: never carried in the address, where anyone could
    /// write a link that shows a "refusal" of their own words.
    FormErrorsOnce,
}

/// Where a half-finished sign-in stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PendingStage {
    /// Waiting for a code from the person's authenticator.
    Verify,
    /// Waiting for a staff member to set up an authenticator.
    Enroll,
}

/// A password-verified sign-in waiting for its second factor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct PendingSignIn {
    pub user_id: String,
    pub stage: PendingStage,
    pub since_ms: i64,
    /// How the first factor was given (`password`, `oidc:<provider>`), for the audit trail.
    #[serde(default = "password_factor")]
    pub first_factor: String,
}

fn password_factor() -> String {
    "password".into()
}

impl Key {
    fn as_str(self) -> &'static str {
        match self {
            Key::PrivacyNoticeDismissed => "privacy_notice_dismissed",
            Key::Login => "login",
            Key::SignedOutReason => "signed_out_reason",
            Key::ActingFor => "acting_for",
            Key::PendingSignIn => "pending_sign_in",
            Key::PendingTotpSecret => "pending_totp_secret",
            Key::RecoveryCodesOnce => "recovery_codes_once",
            Key::ActivationLetterOnce => "activation_letter_once",
            Key::TemporaryPasswordOnce => "temporary_password_once",
            Key::InvitationSentOnce => "invitation_sent_once",
            Key::OidcPending => "oidc_pending",
            Key::FormErrorsOnce => "form_errors_once",
        }
    }
}

/// The current request's session.
pub struct PortalSession(Session);

impl From<Session> for PortalSession {
    fn from(session: Session) -> Self {
        PortalSession(session)
    }
}

impl PortalSession {
    /// The session of the request being handled (the session layer wraps the whole router).
    pub async fn current() -> Result<Self, AppError> {
        leptos_axum::extract::<Session>()
            .await
            .map(PortalSession)
            .map_err(|e| internal("session layer missing", &e))
    }

    pub async fn get<T: DeserializeOwned>(&self, key: Key) -> Result<Option<T>, AppError> {
        self.0.get(key.as_str()).await.map_err(|e| internal("reading the session failed", &e))
    }

    /// Removes a value, returning it.
    pub async fn remove<T: DeserializeOwned>(&self, key: Key) -> Result<Option<T>, AppError> {
        self.0.remove(key.as_str()).await.map_err(|e| internal("writing the session failed", &e))
    }

    /// Gives the session a new id, keeping its data: after sign-in and privilege changes, so an id
    /// planted before sign-in (session fixation) is worthless.
    pub async fn cycle_id(&self) -> Result<(), AppError> {
        self.0.cycle_id().await.map_err(|e| internal("renewing the session id failed", &e))
    }

    pub async fn insert<T: Serialize>(&self, key: Key, value: T) -> Result<(), AppError> {
        self.0.insert(key.as_str(), value).await.map_err(|e| internal("writing the session failed", &e))
    }

    /// Empties the session and gives it a new id, at every sign-in and sign-out: nothing one
    /// person left in it (a temporary password, recovery codes, an activation letter, a pending
    /// authenticator secret, a switch to someone's record) reaches the next person at the same
    /// browser. Only the browser's own preference (the dismissed privacy reminder) is kept.
    pub async fn start_over(&self) -> Result<(), AppError> {
        let dismissed = self.get::<bool>(Key::PrivacyNoticeDismissed).await?;
        self.0.clear().await;
        self.cycle_id().await?;
        if let Some(dismissed) = dismissed {
            self.insert(Key::PrivacyNoticeDismissed, dismissed).await?;
        }
        Ok(())
    }
}
