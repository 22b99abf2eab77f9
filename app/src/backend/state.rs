//! `AppState`: what every request handler and server function can reach. Built once at start-up by
//! the server; provided to server functions as Leptos context by `leptos_routes`.

use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use sea_orm::DatabaseConnection;

#[derive(Clone, Debug)]
pub struct AppState {
    /// Apps may register themselves (`open_app_registration`, RFC 7591).
    pub open_app_registration: bool,
    pub leptos_options: LeptosOptions,
    /// The one pool, shared by sessions, health checks and (later) every repository.
    pub db: DatabaseConnection,
    /// Passwords, throttling and session time-outs.
    pub auth: super::auth::Auth,
    /// The site whose medical record numbers this portal serves.
    pub site_code: String,
    /// Demo mode: the sign-in page shows the demo credentials.
    pub demo: bool,
    /// Outgoing mail (password-reset links).
    pub mailer: super::mail::Mailer,
    /// The site's Direct relay (`direct_smtp_url`), for copies sent to Direct addresses.
    pub direct: Option<super::mail::Mailer>,
    /// The address people use, for links in mail (`public_url`, or the local address).
    pub base_url: String,
    /// The configured OpenID providers (none: passwords only).
    pub oidc: super::auth::oidc::Oidc,
    /// Limits on uploaded FHIR files.
    pub import_limits: super::fhir::parse::Limits,
    /// Days to act on a request for a copy, and the fee for one's own copy (cents).
    pub request_response_days: u32,
    pub self_copy_fee_cents: u32,
    pub third_party_copy_fee_cents: u32,
    /// Days to answer a requester other than the patient, and the state's fee cap (0: none).
    pub third_party_response_days: u32,
    pub copy_fee_cap_cents: u32,
    /// Keys that seal released files (AES-256-GCM).
    pub file_keys: super::copies::seal::FileKeys,
    /// Days a released copy stays downloadable.
    pub release_download_days: u32,
    /// The organization, its address and the privacy contact (every letter).
    pub letterhead: super::copies::Letterhead,
    /// Invitation and grant lengths, the proxy age thresholds, document limits.
    pub caregivers: super::access::CaregiverSettings,
    /// The hospital's time zone: every date and time shown, and the calendar days the legal
    /// clocks count (`time_zone`).
    pub clock: super::clock::SiteClock,
    /// Group commit of audited reads (`audit::AuditSink`): one transaction for a burst of reads.
    pub audit: super::audit::AuditSink,
}

impl AppState {
    /// The organization as covers and letters name it (`organization_name`).
    /// The FHIR API's base URL: the `aud` an app names when it asks for access (issue 22).
    pub fn fhir_base(&self) -> String {
        format!("{}/fhir/r4", self.base_url.trim_end_matches('/'))
    }

    pub fn site_name(&self) -> String {
        self.letterhead.organization.clone()
    }

    /// The settings a release (or a copy sent at once) uses; `site` is [`Self::site_name`].
    pub fn release_settings<'a>(&'a self, site: &'a str) -> super::access::ReleaseSettings<'a> {
        super::access::ReleaseSettings {
            response_days: i64::from(self.request_response_days),
            self_fee_cents: self.self_copy_fee_cents,
            third_party_fee_cents: self.third_party_copy_fee_cents,
            third_party_response_days: i64::from(self.third_party_response_days),
            fee_cap_cents: self.copy_fee_cap_cents,
            keys: &self.file_keys,
            download_days: self.release_download_days,
            site,
            site_code: &self.site_code,
            base_url: &self.base_url,
            letterhead: &self.letterhead,
        }
    }
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos_options.clone()
    }
}

impl FromRef<AppState> for DatabaseConnection {
    fn from_ref(state: &AppState) -> Self {
        state.db.clone()
    }
}
