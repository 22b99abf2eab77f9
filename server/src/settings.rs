//! `Settings`: every knob of the portal, loaded once at start-up from an optional TOML file and
//! then from environment variables (`PORTAL_*`, plus the conventional `DATABASE_URL`), validated
//! before anything starts. The portal runs with no file and no variables at all.
//!
//! Secrets (a database URL may carry a password) are wrapped in `SecretString`, whose `Debug`
//! prints `[REDACTED]`, so settings can be logged without leaking them.

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Where the portal runs. Development relaxes what plain `http://127.0.0.1` needs: cookies without
/// `Secure`, the live-reload socket in the Content-Security-Policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    Development,
    Production,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Human,
    Json,
}

/// The portal's settings. See [`DOCS`] for what each one means.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub environment: Environment,
    pub addr: SocketAddr,
    pub public_url: Option<url::Url>,
    pub data_dir: PathBuf,
    pub database_url: Option<SecretString>,
    pub database_schema: Option<String>,
    pub database_max_connections: u32,
    pub database_connect_timeout_secs: u64,
    /// PostgreSQL's TLS mode; empty: `require` in production for a database on another machine,
    /// `prefer` otherwise.
    pub database_sslmode: String,
    pub site_root: PathBuf,
    pub log_format: LogFormat,
    pub log_level: String,
    pub session_cleanup_interval_secs: u64,
    pub shutdown_grace_secs: u64,
    pub site_code: String,
    pub staff_idle_minutes: u32,
    pub patient_idle_minutes: u32,
    pub session_absolute_hours: u32,
    pub idle_warning_secs: u32,
    pub patient_mfa_required: bool,
    pub activation_code_days: u32,
    pub auth_rate_limit_per_minute: u32,
    pub smtp_url: Option<SecretString>,
    pub mail_from: String,
    /// The site's Direct relay (its HISP's SMTP submission), for copies sent to Direct addresses.
    pub direct_smtp_url: Option<SecretString>,
    /// The portal's own Direct address, the From of what it sends through the relay.
    pub direct_from: Option<String>,
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    pub argon2_parallelism: u32,
    pub lockout_threshold: i32,
    pub lockout_address_threshold: i32,
    pub lockout_base_secs: i64,
    pub lockout_max_secs: i64,
    pub demo: bool,
    pub import_max_file_bytes: u64,
    pub import_max_string_bytes: u64,
    pub request_response_days: u32,
    pub self_copy_fee_cents: u32,
    pub third_party_copy_fee_cents: u32,
    pub third_party_response_days: u32,
    pub copy_fee_cap_cents: u32,
    pub file_keys: Option<SecretString>,
    /// The key that seals the audit trail (never stored in the database).
    pub audit_key: Option<SecretString>,
    /// The append-only file outside the database that audit checkpoints also go to.
    pub audit_checkpoint_file: Option<PathBuf>,
    pub release_download_days: u32,
    pub privacy_contact: String,
    /// The organization, its postal address and the privacy contact's telephone, in every
    /// letter (45 CFR 164.524(d)(2)(iii)); required in production.
    pub organization_name: Option<String>,
    pub organization_address: Option<String>,
    pub privacy_contact_phone: Option<String>,
    pub time_zone: String,
    pub caregiver_default_days: u32,
    pub caregiver_max_days: u32,
    pub caregiver_invitation_days: u32,
    pub proxy_limited_from_age: u8,
    pub proxy_adult_from_age: u8,
    pub representative_document_max_bytes: u64,
    pub upload_bytes_per_day: u64,
    /// The TLS-terminating proxies in front of the portal (CIDR blocks): only their forwarding
    /// headers name the client. A list in TOML, commas in `PORTAL_TRUSTED_PROXIES`.
    #[serde(deserialize_with = "list_or_commas")]
    pub trusted_proxies: Vec<String>,
    /// The bearer token that opens `/metrics` (none: no metrics route).
    pub metrics_token: Option<SecretString>,
    /// Apps may register themselves (RFC 7591 dynamic registration at `/oauth/register`).
    pub open_app_registration: bool,
    pub oidc_providers: Vec<OidcProviderSettings>,
}

/// A list of strings from TOML, or one comma-separated string from an environment variable.
fn list_or_commas<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        List(Vec<String>),
        Text(String),
    }
    Ok(match Either::deserialize(deserializer)? {
        Either::List(list) => list,
        Either::Text(text) => text.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect(),
    })
}

/// One OpenID Connect provider people may sign in with (`[[oidc_providers]]` in the TOML file).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OidcProviderSettings {
    /// Short name used in addresses: letters, digits, - and _.
    pub id: String,
    /// What the sign-in button says.
    pub label: String,
    /// The issuer exactly as the provider writes it in its tokens (`iss`); discovery reads
    /// `{issuer}/.well-known/openid-configuration`.
    pub issuer: String,
    pub client_id: String,
    /// A confidential client's secret (never printed); none for a public client (PKCE alone).
    #[serde(default)]
    pub client_secret: Option<SecretString>,
    /// Offered on the activation page, so new patients can register with it.
    #[serde(default)]
    pub for_patients: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            environment: Environment::Development,
            addr: SocketAddr::from(([127, 0, 0, 1], 3000)),
            public_url: None,
            data_dir: PathBuf::from("data"),
            database_url: None,
            database_schema: None,
            database_max_connections: 10,
            database_connect_timeout_secs: 5,
            database_sslmode: String::new(),
            site_root: PathBuf::from("target/site"),
            log_format: LogFormat::Human,
            log_level: "info".to_string(),
            session_cleanup_interval_secs: 300,
            shutdown_grace_secs: 20,
            site_code: "main".to_string(),
            staff_idle_minutes: 15,
            patient_idle_minutes: 30,
            session_absolute_hours: 12,
            idle_warning_secs: 60,
            patient_mfa_required: false,
            activation_code_days: 30,
            auth_rate_limit_per_minute: 30,
            smtp_url: None,
            mail_from: "Patient portal <portal@localhost>".to_string(),
            direct_smtp_url: None,
            direct_from: None,
            argon2_memory_kib: 19_456,
            argon2_iterations: 2,
            argon2_parallelism: 1,
            lockout_threshold: 5,
            lockout_address_threshold: 20,
            lockout_base_secs: 60,
            lockout_max_secs: 3600,
            demo: false,
            oidc_providers: Vec::new(),
            trusted_proxies: Vec::new(),
            metrics_token: None,
            open_app_registration: false,
            import_max_file_bytes: 64 * 1024 * 1024,
            import_max_string_bytes: 16 * 1024 * 1024,
            request_response_days: 30,
            self_copy_fee_cents: 0,
            third_party_copy_fee_cents: 0,
            third_party_response_days: 30,
            copy_fee_cap_cents: 0,
            file_keys: None,
            audit_key: None,
            audit_checkpoint_file: None,
            release_download_days: 30,
            privacy_contact: "the Privacy Officer, Health Information Management".to_string(),
            organization_name: None,
            organization_address: None,
            privacy_contact_phone: None,
            time_zone: "UTC".to_string(),
            caregiver_default_days: 365,
            caregiver_max_days: 730,
            caregiver_invitation_days: 14,
            proxy_limited_from_age: 12,
            proxy_adult_from_age: 18,
            representative_document_max_bytes: 10 * 1024 * 1024,
            upload_bytes_per_day: 50 * 1024 * 1024,
        }
    }
}

/// One setting, as `portal serve --help` and the README describe it.
pub struct SettingDoc {
    pub key: &'static str,
    pub default: &'static str,
    pub help: &'static str,
}

/// Every setting. `portal serve --help` prints this list; a test checks that the README names
/// every one and that each is a real field of [`Settings`].
pub const DOCS: &[SettingDoc] = &[
    SettingDoc { key: "environment", default: "development", help: "development or production. Production makes cookies Secure and requires an https public_url." },
    SettingDoc { key: "addr", default: "127.0.0.1:3000", help: "Address and port to listen on." },
    SettingDoc { key: "public_url", default: "(none)", help: "The address people use, e.g. https://portal.example.org. https turns on HSTS." },
    SettingDoc { key: "data_dir", default: "data", help: "Directory for the SQLite database (created on first run)." },
    SettingDoc { key: "database_url", default: "sqlite://<data_dir>/portal.db", help: "sqlite://... or postgres://...; also read from DATABASE_URL. Secret: never printed." },
    SettingDoc { key: "database_schema", default: "(server default)", help: "PostgreSQL only: the schema (search_path) to use." },
    SettingDoc { key: "database_max_connections", default: "10", help: "Size of the connection pool." },
    SettingDoc { key: "database_connect_timeout_secs", default: "5", help: "How long to wait for a database connection before giving up." },
    SettingDoc { key: "database_sslmode", default: "(production: require; else prefer)", help: "PostgreSQL only: disable, allow, prefer, require, verify-ca or verify-full. Production refuses anything weaker than require for a database on another machine (health data in transit, 45 CFR 164.312(e))." },
    SettingDoc { key: "site_root", default: "target/site", help: "Directory with the built site (pkg/ with wasm, js, css; public files)." },
    SettingDoc { key: "log_format", default: "human", help: "human or json." },
    SettingDoc { key: "log_level", default: "info", help: "Log filter, e.g. info or portal=debug,info." },
    SettingDoc { key: "session_cleanup_interval_secs", default: "300", help: "How often expired sessions are deleted from the database." },
    SettingDoc { key: "shutdown_grace_secs", default: "20", help: "On SIGTERM/SIGINT, how long in-flight requests may take to finish." },
    SettingDoc { key: "site_code", default: "main", help: "The site whose medical record numbers this portal serves (record numbers are unique per site)." },
    SettingDoc { key: "staff_idle_minutes", default: "15", help: "Staff are signed out after this many minutes without activity (ONC 170.315(d)(5))." },
    SettingDoc { key: "patient_idle_minutes", default: "30", help: "Patients and caregivers are signed out after this many minutes without activity." },
    SettingDoc { key: "session_absolute_hours", default: "12", help: "A sign-in ends after this many hours, whatever the activity." },
    SettingDoc { key: "idle_warning_secs", default: "60", help: "The time-out warning (with a button to stay signed in) appears this many seconds before the idle time-out." },
    SettingDoc { key: "patient_mfa_required", default: "false", help: "Patients must set up two-step verification too (staff always must)." },
    SettingDoc { key: "activation_code_days", default: "30", help: "How many days an activation code (printed for a patient by HIM staff) stays valid." },
    SettingDoc { key: "auth_rate_limit_per_minute", default: "30", help: "Posts a minute one client address may make to sign-in, second-factor and activation endpoints, and checks of copies on /verify (per server)." },
    SettingDoc { key: "smtp_url", default: "(none)", help: "Mail server for password-reset links, e.g. smtp://mail.internal:25 or smtps://user:pass@host:465. Secret: never printed. Without one, development logs the links; production sends nothing." },
    SettingDoc { key: "mail_from", default: "Patient portal <portal@localhost>", help: "The From address of the portal's mail." },
    SettingDoc { key: "direct_smtp_url", default: "(none)", help: "The site's Direct relay (its HISP's SMTP submission, which signs and encrypts for Direct): with it, patients can send copies to a Direct address (ONC 170.315(e)(1)(i)(C)). Secret: never printed." },
    SettingDoc { key: "direct_from", default: "(none)", help: "The portal's own Direct address, the From of copies sent through the Direct relay (required with direct_smtp_url)." },
    SettingDoc { key: "argon2_memory_kib", default: "19456", help: "Argon2id memory cost for password hashes (OWASP: 19 MiB)." },
    SettingDoc { key: "argon2_iterations", default: "2", help: "Argon2id time cost (OWASP: 2)." },
    SettingDoc { key: "argon2_parallelism", default: "1", help: "Argon2id parallelism (OWASP: 1)." },
    SettingDoc { key: "lockout_threshold", default: "5", help: "Failed sign-ins for one email before it locks; each further failure doubles the lock." },
    SettingDoc { key: "lockout_address_threshold", default: "20", help: "Failed sign-ins from one client address before it locks." },
    SettingDoc { key: "lockout_base_secs", default: "60", help: "The first lock's length in seconds." },
    SettingDoc { key: "lockout_max_secs", default: "3600", help: "The longest lock in seconds." },
    SettingDoc { key: "demo", default: "false", help: "Demo mode: creates a demo patient, HIM staff user and administrator once, and shows their credentials on the sign-in page. Refused with PostgreSQL or in production." },
    SettingDoc { key: "import_max_file_bytes", default: "67108864", help: "The largest FHIR file `portal import` and the upload page accept (64 MiB)." },
    SettingDoc { key: "import_max_string_bytes", default: "16777216", help: "The longest string value inside an imported resource, e.g. a base64 attachment (16 MiB)." },
    SettingDoc { key: "request_response_days", default: "30", help: "Calendar days to act on a request for a copy (45 CFR 164.524(b)(2); some states require 15)." },
    SettingDoc { key: "self_copy_fee_cents", default: "0", help: "Fee for a patient's own electronic copy, in cents; capped at the $6.50 flat fee." },
    SettingDoc { key: "third_party_copy_fee_cents", default: "0", help: "Fee for an electronic copy sent to someone else on the patient's authorization, in cents (at most 100000); shown before the request is sent." },
    SettingDoc { key: "third_party_response_days", default: "30", help: "Calendar days to answer a request from someone other than the patient (attorneys, insurers, agencies), counted from the day it was received." },
    SettingDoc { key: "copy_fee_cap_cents", default: "0", help: "The state's cap on a copy fee, in cents (0: no cap). Estimates from the fee schedule stop at it; a typed fee above it is refused." },
    SettingDoc { key: "file_keys", default: "(development key)", help: "Keys that encrypt released files at rest (AES-256-GCM): id:base64 of 32 bytes, several separated by commas; the first seals, all open. Secret: never printed. Required in production." },
    SettingDoc { key: "audit_key", default: "(development key)", help: "The key that seals the audit trail (HMAC-SHA-256): base64 of 32 random bytes. Kept outside the database, so whoever can write the database cannot rewrite the trail unnoticed. Secret: never printed. Required in production; keep it as long as the trail." },
    SettingDoc { key: "audit_checkpoint_file", default: "<data_dir>/audit-checkpoints.log", help: "An append-only file outside the database where the audit sealer also writes its signed checkpoints (catches deletion of the newest events). On several servers, each writes its own; point it at storage the database's administrators cannot change." },
    SettingDoc { key: "release_download_days", default: "30", help: "Days a released copy stays downloadable; after that the patient asks again." },
    SettingDoc { key: "privacy_contact", default: "the Privacy Officer, Health Information Management", help: "Who patients complain to, named in denial letters (45 CFR 164.524(d)(2)(iii)): a name or title." },
    SettingDoc { key: "organization_name", default: "(development: \"<site_code> Health Information Management\")", help: "The organization as every cover and letter names it, e.g. \"Springfield General Hospital\". Required in production." },
    SettingDoc { key: "organization_address", default: "(development: a placeholder)", help: "The organization's postal address, in every letter (where to write for a review or a complaint). Required in production." },
    SettingDoc { key: "privacy_contact_phone", default: "(development: a placeholder)", help: "The privacy contact's telephone number, in every letter (45 CFR 164.524(d)(2)(iii)). Required in production." },
    SettingDoc { key: "time_zone", default: "UTC", help: "The hospital's time zone (an IANA name such as America/Chicago): every date and time shown, letters and PDFs included, and the calendar days the legal deadlines count." },
    SettingDoc { key: "caregiver_default_days", default: "365", help: "The caregiver access length the patient's invitation form offers, in days." },
    SettingDoc { key: "caregiver_max_days", default: "730", help: "The longest caregiver access a patient may grant in one invitation, in days." },
    SettingDoc { key: "caregiver_invitation_days", default: "14", help: "Days an invitation link can be accepted; unused, it expires." },
    SettingDoc { key: "proxy_limited_from_age", default: "12", help: "From this birthday a parent's access is limited: no notes, no sensitive categories (45 CFR 164.502(g)(3); state law varies)." },
    SettingDoc { key: "proxy_adult_from_age", default: "18", help: "From this birthday a parent's access ends, unless the adult patient invites them." },
    SettingDoc { key: "representative_document_max_bytes", default: "10485760", help: "The largest supporting document (PDF, PNG or JPEG) a representative may upload (10 MiB)." },
    SettingDoc { key: "upload_bytes_per_day", default: "52428800", help: "The most one account may upload in 24 hours (representatives' documents), in bytes (50 MiB); at least representative_document_max_bytes." },
    SettingDoc { key: "trusted_proxies", default: "(none)", help: "The TLS-terminating proxies in front of the portal, as CIDR blocks (10.0.0.0/8, 2001:db8::/32, or one address). Only when the connection comes from one of them is the client read from X-Forwarded-For (or Forwarded): the right-most hop that is not a trusted proxy. Without it, every client behind a proxy looks like the proxy to rate limits, lock-outs and the audit trail." },
    SettingDoc { key: "metrics_token", default: "(none: no /metrics)", help: "The bearer token that opens /metrics (Prometheus text: requests and latency by route pattern, database pool, audit queue and sealer lag, mail backlog, sign-ins alive; never a patient identifier). At least 24 characters. Secret: never printed." },
    SettingDoc { key: "open_app_registration", default: "false", help: "Lets any app register itself for the FHIR API (SMART, RFC 7591 dynamic registration at POST /oauth/register). Off: administrators register apps with `portal apps register`. Either way the patient decides on the consent page what an app may read." },
    SettingDoc { key: "oidc_providers", default: "(none)", help: "OpenID Connect providers: a list of {id, label, issuer, client_id, client_secret, for_patients}. Register {public_url}/auth/oidc/callback with each." },
];

/// The environment variable that sets `key`.
pub fn env_name(key: &str) -> String {
    format!("PORTAL_{}", key.to_ascii_uppercase())
}

/// The settings list for `--help`.
pub fn help_text() -> String {
    let mut text = String::from(
        "Settings (TOML file given by --config or PORTAL_CONFIG, overridden by environment variables):\n",
    );
    for doc in DOCS {
        text.push_str(&format!(
            "  {:<32} {:<36} default: {}\n      {}\n",
            doc.key,
            env_name(doc.key),
            doc.default,
            doc.help
        ));
    }
    text
}

/// A setting that could not be read or is not acceptable.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read the settings file {}: {reason}", path.display())]
    File { path: PathBuf, reason: String },
    #[error("setting `{key}` ({env}): {reason}")]
    Invalid { key: String, env: String, reason: String },
}

impl SettingsError {
    fn invalid(key: &str, reason: impl Into<String>) -> Self {
        SettingsError::Invalid { key: key.to_string(), env: env_name(key), reason: reason.into() }
    }
}

impl Settings {
    /// Loads the settings: defaults, then the TOML file (if any), then `DATABASE_URL`, then
    /// `PORTAL_*` variables. Validates the result.
    pub fn load(file: Option<&Path>) -> Result<Settings, SettingsError> {
        let mut figment = Figment::new();
        if let Some(path) = file {
            if !path.is_file() {
                return Err(SettingsError::File {
                    path: path.to_path_buf(),
                    reason: "no such file".into(),
                });
            }
            figment = figment.merge(Toml::file(path));
        }
        let figment = figment
            .merge(Env::raw().only(&["DATABASE_URL"]))
            // PORTAL_CONFIG names the file; it is not a setting. `__` separates future sections.
            .merge(Env::prefixed("PORTAL_").ignore(&["CONFIG"]).split("__"));
        let settings: Settings = figment.extract().map_err(|e| describe(e, file))?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks what types alone cannot.
    pub fn validate(&self) -> Result<(), SettingsError> {
        if self.database_max_connections == 0 {
            return Err(SettingsError::invalid("database_max_connections", "must be at least 1"));
        }
        for (key, value) in [
            ("staff_idle_minutes", self.staff_idle_minutes),
            ("patient_idle_minutes", self.patient_idle_minutes),
            ("session_absolute_hours", self.session_absolute_hours),
            ("argon2_iterations", self.argon2_iterations),
            ("activation_code_days", self.activation_code_days),
            ("auth_rate_limit_per_minute", self.auth_rate_limit_per_minute),
            ("argon2_parallelism", self.argon2_parallelism),
        ] {
            if value == 0 {
                return Err(SettingsError::invalid(key, "must be at least 1"));
            }
        }
        if self.idle_warning_secs == 0
            || u64::from(self.idle_warning_secs) >= 60 * u64::from(self.staff_idle_minutes.min(self.patient_idle_minutes))
        {
            return Err(SettingsError::invalid("idle_warning_secs", "must be at least 1 and shorter than the idle time-outs"));
        }
        if self.argon2_memory_kib < 8 * self.argon2_parallelism {
            return Err(SettingsError::invalid("argon2_memory_kib", "must be at least 8 KiB per lane"));
        }
        if self.lockout_threshold < 1 || self.lockout_address_threshold < 1 {
            return Err(SettingsError::invalid("lockout_threshold", "thresholds must be at least 1"));
        }
        if self.lockout_base_secs < 1 || self.lockout_max_secs < self.lockout_base_secs {
            return Err(SettingsError::invalid("lockout_max_secs", "needs 1 <= lockout_base_secs <= lockout_max_secs"));
        }
        if self.site_code.is_empty()
            || self.site_code.len() > 32
            || !self.site_code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(SettingsError::invalid("site_code", "use 1 to 32 letters, digits, - or _"));
        }
        if self.demo {
            // Demo credentials are printed on the sign-in page: never where real patients are.
            if self.environment == Environment::Production {
                return Err(SettingsError::invalid("demo", "demo mode cannot run in production"));
            }
            if self.database_url().starts_with("postgres") {
                return Err(SettingsError::invalid("demo", "demo mode runs only on the embedded SQLite database, never on PostgreSQL"));
            }
        }
        if self.import_max_file_bytes < 1024 || self.import_max_string_bytes < 1024 {
            return Err(SettingsError::invalid("import_max_file_bytes", "the import limits must be at least 1024 bytes"));
        }
        if !(1..=60).contains(&self.request_response_days) {
            return Err(SettingsError::invalid("request_response_days", "use 1 to 60 days (the federal rule is 30)"));
        }
        if self.caregiver_default_days == 0 || self.caregiver_default_days > self.caregiver_max_days || self.caregiver_max_days > 3650 {
            return Err(SettingsError::invalid("caregiver_default_days", "use 1 to caregiver_max_days (at most 3650)"));
        }
        if !(1..=90).contains(&self.caregiver_invitation_days) {
            return Err(SettingsError::invalid("caregiver_invitation_days", "use 1 to 90 days"));
        }
        if !(self.proxy_limited_from_age >= 1 && self.proxy_limited_from_age <= self.proxy_adult_from_age && self.proxy_adult_from_age <= 21) {
            return Err(SettingsError::invalid("proxy_limited_from_age", "need 1 <= proxy_limited_from_age <= proxy_adult_from_age <= 21"));
        }
        if self.representative_document_max_bytes < 1024 || self.representative_document_max_bytes > 100 * 1024 * 1024 {
            return Err(SettingsError::invalid("representative_document_max_bytes", "use 1024 bytes to 100 MiB"));
        }
        if self.upload_bytes_per_day < self.representative_document_max_bytes || self.upload_bytes_per_day > 10 * 1024 * 1024 * 1024 {
            return Err(SettingsError::invalid("upload_bytes_per_day", "use representative_document_max_bytes to 10 GiB"));
        }
        if !(1..=90).contains(&self.third_party_response_days) {
            return Err(SettingsError::invalid("third_party_response_days", "use 1 to 90 days"));
        }
        if self.copy_fee_cap_cents > 10_000_000 {
            return Err(SettingsError::invalid("copy_fee_cap_cents", "at most 10000000 (USD 100,000)"));
        }
        if self.third_party_copy_fee_cents > 100_000 {
            return Err(SettingsError::invalid("third_party_copy_fee_cents", "at most 100000 (USD 1,000)"));
        }
        if self.self_copy_fee_cents > app::domain::release::MAX_FLAT_ELECTRONIC_FEE_CENTS {
            return Err(SettingsError::invalid("self_copy_fee_cents", "at most 650 (the $6.50 flat fee for electronic copies)"));
        }
        match &self.file_keys {
            Some(keys) => {
                app::backend::copies::seal::FileKeys::parse(keys.expose_secret()).map_err(|e| SettingsError::invalid("file_keys", &e))?;
            }
            None if self.environment == Environment::Production => {
                return Err(SettingsError::invalid("file_keys", "production needs a key for released files (id:base64 of 32 random bytes)"));
            }
            // The development key is in the source code: anyone could open a released copy.
            None if self.reachable_by_others() => {
                return Err(SettingsError::invalid("file_keys", "the development key (written in the source code) is refused when public_url is https or addr is not a loopback address: set file_keys (id:base64 of 32 random bytes)"));
            }
            None => {}
        }
        match &self.audit_key {
            Some(key) => {
                app::backend::audit::AuditKey::parse(key.expose_secret()).map_err(|e| SettingsError::invalid("audit_key", &e))?;
            }
            None if self.environment == Environment::Production => {
                return Err(SettingsError::invalid("audit_key", "production needs the key that seals the audit trail (base64 of 32 random bytes), kept outside the database"));
            }
            // The development key is in the source code: anyone could reseal an edited trail.
            None if self.reachable_by_others() => {
                return Err(SettingsError::invalid("audit_key", "the development key (written in the source code) is refused when public_url is https or addr is not a loopback address: set audit_key (base64 of 32 random bytes)"));
            }
            None => {}
        }
        if self.smtp_url.is_none() && self.environment == Environment::Development && self.reachable_by_others() {
            // Development writes mail to the log, reset and invitation links included.
            return Err(SettingsError::invalid("smtp_url", "writing mail (with its sign-in links) to the log is refused when public_url is https or addr is not a loopback address: set smtp_url, or environment = production to send no mail"));
        }
        if self.direct_smtp_url.is_some() && self.direct_from.as_deref().is_none_or(|f| !f.contains('@')) {
            return Err(SettingsError::invalid("direct_from", "the Direct relay needs the portal's own Direct address (direct_from)"));
        }
        if self.privacy_contact.trim().is_empty() || self.privacy_contact.chars().count() > 300 {
            return Err(SettingsError::invalid("privacy_contact", "name a title and a telephone number (1 to 300 characters)"));
        }
        for (key, value, max) in [("organization_name", &self.organization_name, 200), ("organization_address", &self.organization_address, 300), ("privacy_contact_phone", &self.privacy_contact_phone, 40)] {
            match value.as_deref().map(str::trim) {
                None | Some("") if self.environment == Environment::Production => {
                    return Err(SettingsError::invalid(key, "production letters must name the organization, its address and the privacy contact's telephone (45 CFR 164.524(d)(2)(iii))"));
                }
                Some(v) if v.chars().count() > max => return Err(SettingsError::invalid(key, format!("at most {max} characters"))),
                _ => {}
            }
        }
        if let Err(e) = app::backend::clock::SiteClock::new(&self.time_zone) {
            return Err(SettingsError::invalid("time_zone", e.to_string()));
        }
        if !(1..=365).contains(&self.release_download_days) {
            return Err(SettingsError::invalid("release_download_days", "use 1 to 365 days"));
        }
        if self.session_cleanup_interval_secs == 0 {
            return Err(SettingsError::invalid("session_cleanup_interval_secs", "must be at least 1"));
        }
        if let Some(url) = &self.public_url
            && !matches!(url.scheme(), "http" | "https")
        {
            return Err(SettingsError::invalid("public_url", "must start with https:// (or http:// in development)"));
        }
        if self.environment == Environment::Production && !self.served_over_tls() {
            // 45 CFR 170.315(d)(9): health data travels only over encrypted transport.
            return Err(SettingsError::invalid(
                "public_url",
                "production needs the https:// address people use (TLS may end at a proxy)",
            ));
        }
        if let Some(schema) = &self.database_schema
            && (schema.is_empty() || !schema.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
        {
            return Err(SettingsError::invalid("database_schema", "use letters, digits and _ only"));
        }
        let mut ids = std::collections::BTreeSet::new();
        for provider in &self.oidc_providers {
            if provider.id.is_empty()
                || provider.id.len() > 32
                || !provider.id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
            {
                return Err(SettingsError::invalid("oidc_providers", "each id needs 1 to 32 letters, digits, - or _"));
            }
            if !ids.insert(provider.id.as_str()) {
                return Err(SettingsError::invalid("oidc_providers", format!("the id `{}` is used twice", provider.id)));
            }
            if provider.label.trim().is_empty() || provider.client_id.is_empty() {
                return Err(SettingsError::invalid("oidc_providers", format!("`{}` needs a label and a client_id", provider.id)));
            }
            let Ok(issuer) = url::Url::parse(&provider.issuer) else {
                return Err(SettingsError::invalid("oidc_providers", format!("`{}`: the issuer is not an address", provider.id)));
            };
            let scheme = issuer.scheme();
            if scheme != "https" && !(scheme == "http" && self.environment == Environment::Development) {
                // The ID token's keys come from the issuer: over plain http they could be swapped.
                return Err(SettingsError::invalid("oidc_providers", format!("`{}`: the issuer must be https:// (http only in development)", provider.id)));
            }
        }
        const SSL_MODES: [&str; 6] = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"];
        if !self.database_sslmode.is_empty() && !SSL_MODES.contains(&self.database_sslmode.as_str()) {
            return Err(SettingsError::invalid("database_sslmode", "use disable, allow, prefer, require, verify-ca or verify-full"));
        }
        if self.environment == Environment::Production
            && self.database_url().starts_with("postgres")
            && !self.database_is_local()
            && matches!(self.database_sslmode(), "disable" | "allow" | "prefer")
        {
            return Err(SettingsError::invalid("database_sslmode", "production needs require, verify-ca or verify-full for a database on another machine"));
        }
        if self.metrics_token.as_ref().is_some_and(|t| t.expose_secret().trim().chars().count() < 24) {
            return Err(SettingsError::invalid("metrics_token", "use at least 24 characters (it guards the operational figures)"));
        }
        for block in &self.trusted_proxies {
            crate::proxy::Cidr::parse(block).map_err(|e| SettingsError::invalid("trusted_proxies", e))?;
        }
        if tracing_subscriber::EnvFilter::try_new(&self.log_level).is_err() {
            return Err(SettingsError::invalid("log_level", "not a valid log filter (try `info` or `debug`)"));
        }
        Ok(())
    }

    /// The PostgreSQL TLS mode to connect with (see `database_sslmode`).
    pub fn database_sslmode(&self) -> &str {
        match self.database_sslmode.as_str() {
            "" if self.environment == Environment::Production && !self.database_is_local() => "require",
            "" => "prefer",
            mode => mode,
        }
    }

    /// True when the database is on this machine (a loopback address or a Unix socket), where
    /// TLS protects nothing.
    fn database_is_local(&self) -> bool {
        let url = self.database_url();
        match url::Url::parse(&url).ok().and_then(|u| u.host_str().map(str::to_string)) {
            None => true,
            Some(host) if host.is_empty() || host == "localhost" || host.starts_with('/') => true,
            Some(host) => host.trim_matches(['[', ']']).parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback()),
        }
    }

    /// The proxies whose forwarding headers name the client (validated at start-up).
    pub fn trusted_proxies(&self) -> crate::proxy::TrustedProxies {
        crate::proxy::TrustedProxies::new(self.trusted_proxies.iter().filter_map(|b| crate::proxy::Cidr::parse(b).ok()).collect())
    }

    /// The database URL to use: the configured one, or the SQLite file under `data_dir`.
    pub fn database_url(&self) -> String {
        match &self.database_url {
            Some(url) => url.expose_secret().to_string(),
            None => format!("sqlite://{}/portal.db?mode=rwc", self.data_dir.display()),
        }
    }

    /// True when someone other than the developer at this machine can reach the portal: it is
    /// served over https, or it listens on an address that is not a loopback one. Development
    /// conveniences (the development file key, mail written to the log) are refused then.
    pub fn reachable_by_others(&self) -> bool {
        self.served_over_tls() || !self.addr.ip().is_loopback()
    }

    /// True when people reach the portal over https (possibly through a TLS-terminating proxy).
    pub fn served_over_tls(&self) -> bool {
        self.public_url.as_ref().is_some_and(|u| u.scheme() == "https")
    }

    /// The authentication settings the backend uses.
    pub fn auth_config(&self) -> app::backend::auth::AuthConfig {
        use app::backend::auth::{AuthConfig, password::HashCost, throttle::ThrottlePolicy};
        AuthConfig {
            hash_cost: HashCost {
                memory_kib: self.argon2_memory_kib,
                iterations: self.argon2_iterations,
                parallelism: self.argon2_parallelism,
            },
            throttle: ThrottlePolicy {
                account_threshold: self.lockout_threshold,
                address_threshold: self.lockout_address_threshold,
                base_lock_secs: self.lockout_base_secs,
                max_lock_secs: self.lockout_max_secs,
                ..ThrottlePolicy::default()
            },
            staff_idle_minutes: self.staff_idle_minutes,
            patient_idle_minutes: self.patient_idle_minutes,
            absolute_hours: self.session_absolute_hours,
            idle_warning_secs: i64::from(self.idle_warning_secs),
            patient_mfa_required: self.patient_mfa_required,
            activation_code_days: self.activation_code_days,
        }
    }

    /// The keys for released files: the configured ones, or the development key (validation
    /// refused production without keys).
    pub fn file_keys(&self) -> app::backend::copies::seal::FileKeys {
        use app::backend::copies::seal::FileKeys;
        self.file_keys
            .as_ref()
            .and_then(|k| FileKeys::parse(k.expose_secret()).ok())
            .unwrap_or_else(FileKeys::development)
    }

    /// The audit trail's sealer: the configured key (or the development key: validation refused
    /// production without one) and where checkpoints go outside the database.
    pub fn audit_sealer(&self) -> app::backend::audit::Sealer {
        use app::backend::audit::{AuditKey, Sealer};
        let key = self.audit_key.as_ref().and_then(|k| AuditKey::parse(k.expose_secret()).ok()).unwrap_or_else(AuditKey::development);
        let file = self.audit_checkpoint_file.clone().unwrap_or_else(|| self.data_dir.join("audit-checkpoints.log"));
        Sealer::new(key, Some(file))
    }

    /// The caregiver settings as the backend takes them.
    /// The hospital's clock (checked at start-up: an unknown zone refuses to start).
    /// The organization as letters name it; development fills what is unset with placeholders
    /// that say so (production refuses to start without them).
    pub fn letterhead(&self) -> app::backend::copies::Letterhead {
        let or = |v: &Option<String>, fallback: String| v.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_string).unwrap_or(fallback);
        app::backend::copies::Letterhead {
            organization: or(&self.organization_name, format!("{} Health Information Management", self.site_code)),
            address: or(&self.organization_address, "(organization_address is not set)".into()),
            contact: self.privacy_contact.trim().to_string(),
            phone: or(&self.privacy_contact_phone, "(privacy_contact_phone is not set)".into()),
        }
    }

    pub fn clock(&self) -> app::backend::clock::SiteClock {
        app::backend::clock::SiteClock::new(&self.time_zone).unwrap_or_default()
    }

    pub fn caregiver_settings(&self) -> app::backend::access::CaregiverSettings {
        app::backend::access::CaregiverSettings {
            default_days: self.caregiver_default_days,
            max_days: self.caregiver_max_days,
            invitation_days: self.caregiver_invitation_days,
            ages: app::domain::caregiver::AgeThresholds { limited_from: self.proxy_limited_from_age, adult_from: self.proxy_adult_from_age },
            document_max_bytes: self.representative_document_max_bytes,
            upload_bytes_per_day: self.upload_bytes_per_day,
        }
    }

    /// The import limits.
    pub fn import_limits(&self) -> app::backend::fhir::parse::Limits {
        app::backend::fhir::parse::Limits {
            max_file_bytes: self.import_max_file_bytes,
            max_string_bytes: usize::try_from(self.import_max_string_bytes).unwrap_or(usize::MAX),
            ..Default::default()
        }
    }

    /// The OpenID providers as the backend takes them.
    pub fn oidc_config(&self) -> Vec<app::backend::auth::oidc::ProviderConfig> {
        self.oidc_providers
            .iter()
            .map(|p| app::backend::auth::oidc::ProviderConfig {
                id: p.id.clone(),
                label: p.label.trim().to_string(),
                // Compared as a string with the discovery document and the ID token's `iss`
                // (OpenID Connect Discovery 1.0 §4.3): kept exactly as written.
                issuer: p.issuer.clone(),
                client_id: p.client_id.clone(),
                client_secret: p.client_secret.as_ref().map(|s| s.expose_secret().to_string()),
                for_patients: p.for_patients,
            })
            .collect()
    }

    /// Cookies carry `Secure` everywhere but local development over plain http.
    pub fn secure_cookies(&self) -> bool {
        self.environment == Environment::Production || self.served_over_tls()
    }
}

fn describe(error: figment::Error, file: Option<&Path>) -> SettingsError {
    let key = error.path.join(".");
    let source = error
        .metadata
        .as_ref()
        .map(|m| m.name.to_string())
        .unwrap_or_else(|| file.map(|p| p.display().to_string()).unwrap_or_default());
    let reason = match &error.kind {
        figment::error::Kind::UnknownField(field, _) => {
            return SettingsError::Invalid {
                key: field.clone(),
                env: env_name(field),
                reason: format!("unknown setting (from {source}); `portal serve --help` lists them all"),
            };
        }
        // The value itself is left out on purpose: it might be a secret.
        figment::error::Kind::InvalidType(_, expected) => format!("expected {expected}"),
        figment::error::Kind::InvalidValue(_, expected) => format!("expected {expected}"),
        other => other.to_string(),
    };
    if key.is_empty() {
        return SettingsError::File {
            path: file.map(Path::to_path_buf).unwrap_or_default(),
            reason: format!("{reason} (from {source})"),
        };
    }
    SettingsError::Invalid { env: env_name(&key), key, reason: format!("{reason} (from {source})") }
}

#[cfg(test)]
#[expect(clippy::result_large_err, reason = "figment::Jail fixes the closure's error type")]
mod tests {
    use super::*;
    use figment::Jail;

    // Each test starts from an empty environment (`clear_env`), so a developer's own PORTAL_*
    // variables cannot change the outcome.

    #[test]
    fn runs_with_no_file_and_no_variables() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            let s = Settings::load(None).expect("defaults are valid");
            assert_eq!(s.addr.to_string(), "127.0.0.1:3000");
            assert_eq!(s.database_url(), "sqlite://data/portal.db?mode=rwc");
            assert!(!s.secure_cookies());
            Ok(())
        });
    }

    #[test]
    fn oidc_providers_come_from_a_variable_or_the_file_and_are_checked() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            jail.set_env(
                "PORTAL_OIDC_PROVIDERS",
                r#"[{ id = "hospital", label = "Hospital ID", issuer = "https://id.example.org", client_id = "portal", client_secret = "s3cret" }]"#,
            );
            let s = Settings::load(None).expect("valid");
            let config = s.oidc_config();
            assert_eq!(config.len(), 1);
            assert_eq!(config[0].issuer, "https://id.example.org", "kept exactly as written");
            assert_eq!(config[0].client_secret.as_deref(), Some("s3cret"));
            assert!(!config[0].for_patients);
            assert!(!format!("{s:?}").contains("s3cret"), "the secret is never printed");

            jail.create_file(
                "portal.toml",
                "environment = \"production\"\npublic_url = \"https://portal.example.org\"\n\
                 file_keys = \"k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"\n\
                 audit_key = \"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"\n\
                 organization_name = \"o\"\norganization_address = \"a\"\nprivacy_contact_phone = \"1\"\n\
                 [[oidc_providers]]\nid = \"idp\"\nlabel = \"IdP\"\nissuer = \"http://id.example.org\"\nclient_id = \"c\"\n",
            )?;
            jail.set_env("PORTAL_OIDC_PROVIDERS", "[]");
            assert!(Settings::load(Some(Path::new("portal.toml"))).is_ok(), "the variable wins over the file");
            jail.clear_env();
            let err = Settings::load(Some(Path::new("portal.toml"))).expect_err("plain http in production").to_string();
            assert!(err.contains("oidc_providers") && err.contains("https"), "{err}");

            jail.set_env(
                "PORTAL_OIDC_PROVIDERS",
                r#"[{ id = "a", label = "A", issuer = "https://a.example", client_id = "c" }, { id = "a", label = "B", issuer = "https://b.example", client_id = "c" }]"#,
            );
            let err = Settings::load(None).expect_err("an id used twice").to_string();
            assert!(err.contains("used twice"), "{err}");
            jail.set_env("PORTAL_OIDC_PROVIDERS", r#"[{ id = "a b", label = "A", issuer = "https://a.example", client_id = "c" }]"#);
            assert!(Settings::load(None).is_err(), "an id that cannot go in an address");
            Ok(())
        });
    }

    #[test]
    fn development_conveniences_are_refused_where_others_can_reach_the_portal() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            // `environment` left unset (development) on a real address.
            jail.set_env("PORTAL_PUBLIC_URL", "https://portal.example.org");
            let err = Settings::load(None).expect_err("the development key").to_string();
            assert!(err.contains("file_keys") && err.contains("PORTAL_FILE_KEYS"), "{err}");
            jail.set_env("PORTAL_FILE_KEYS", "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
            // The development audit key is in the source code too: anyone could reseal a trail.
            let err = Settings::load(None).expect_err("the development audit key").to_string();
            assert!(err.contains("audit_key") && err.contains("PORTAL_AUDIT_KEY"), "{err}");
            jail.set_env("PORTAL_AUDIT_KEY", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
            let err = Settings::load(None).expect_err("mail to the log").to_string();
            assert!(err.contains("smtp_url"), "{err}");
            jail.set_env("PORTAL_SMTP_URL", "smtp://mail.internal:25");
            assert!(Settings::load(None).is_ok());

            // Listening on every interface over plain http is refused the same way.
            jail.clear_env();
            jail.set_env("PORTAL_ADDR", "0.0.0.0:3000");
            assert!(Settings::load(None).expect_err("the development key").to_string().contains("file_keys"));
            // A developer on this machine keeps both conveniences.
            jail.set_env("PORTAL_ADDR", "127.0.0.1:3000");
            let s = Settings::load(None).expect("valid");
            assert!(!s.reachable_by_others());
            Ok(())
        });
    }

    #[test]
    fn production_connects_to_a_distant_postgresql_over_tls_only() {
        let production = |url: &str, mode: &str| Settings {
            environment: Environment::Production,
            public_url: Some("https://portal.example.org".parse().expect("url")),
            file_keys: Some("k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".to_string().into()),
            audit_key: Some("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=".to_string().into()),
            organization_name: Some("o".into()),
            organization_address: Some("a".into()),
            privacy_contact_phone: Some("1".into()),
            database_url: Some(url.to_string().into()),
            database_sslmode: mode.into(),
            ..Settings::default()
        };
        assert_eq!(production("postgres://portal@db.internal/portal", "").database_sslmode(), "require");
        let err = production("postgres://portal@db.internal/portal", "disable").validate().expect_err("refused").to_string();
        assert!(err.contains("database_sslmode"), "{err}");
        assert!(production("postgres://portal@db.internal/portal", "verify-full").validate().is_ok());
        // On this machine TLS protects nothing: allowed.
        assert!(production("postgres://postgres@127.0.0.1:5432/portal", "disable").validate().is_ok());
        assert_eq!(production("postgres://postgres@127.0.0.1:5432/portal", "").database_sslmode(), "prefer");
        assert!(production("postgres://portal@db.internal/portal", "sometimes").validate().is_err());
        assert_eq!(Settings::default().database_sslmode(), "prefer");
    }

    #[test]
    fn trusted_proxies_come_as_a_list_or_as_commas() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            jail.set_env("PORTAL_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.1");
            assert_eq!(Settings::load(None).expect("valid").trusted_proxies, ["10.0.0.0/8", "192.168.1.1"]);
            jail.clear_env();
            jail.create_file("portal.toml", "trusted_proxies = [\"10.0.0.0/8\"]\n")?;
            assert_eq!(Settings::load(Some(Path::new("portal.toml"))).expect("valid").trusted_proxies, ["10.0.0.0/8"]);
            jail.set_env("PORTAL_TRUSTED_PROXIES", "10.0.0.0/40");
            assert!(Settings::load(None).expect_err("a bad prefix").to_string().contains("trusted_proxies"));
            Ok(())
        });
    }

    #[test]
    fn environment_overrides_the_file() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            jail.create_file("portal.toml", "addr = \"0.0.0.0:8080\"\nlog_format = \"json\"\n")?;
            jail.set_env("PORTAL_ADDR", "127.0.0.1:9000");
            let s = Settings::load(Some(Path::new("portal.toml"))).expect("valid");
            assert_eq!(s.addr.to_string(), "127.0.0.1:9000");
            assert_eq!(s.log_format, LogFormat::Json);
            Ok(())
        });
    }

    #[test]
    fn database_url_is_read_from_the_conventional_variable_and_never_printed() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            jail.set_env("DATABASE_URL", "postgres://portal:hunter2@db/portal");
            let s = Settings::load(None).expect("valid");
            assert_eq!(s.database_url(), "postgres://portal:hunter2@db/portal");
            assert!(!format!("{s:?}").contains("hunter2"), "Debug must redact the secret");
            Ok(())
        });
    }

    #[test]
    fn a_malformed_setting_names_the_setting_and_its_variable() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            jail.set_env("PORTAL_ADDR", "not-an-address");
            let err = Settings::load(None).expect_err("must fail").to_string();
            assert!(err.contains("`addr`") && err.contains("PORTAL_ADDR"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn an_unknown_variable_is_reported_not_ignored() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            jail.set_env("PORTAL_ADRR", "127.0.0.1:1");
            let err = Settings::load(None).expect_err("must fail").to_string();
            assert!(err.contains("adrr") && err.contains("unknown setting"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn production_requires_https() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            jail.set_env("PORTAL_ENVIRONMENT", "production");
            jail.set_env("PORTAL_PUBLIC_URL", "https://portal.example.org");
            // Every letter names the organization, its address and the privacy telephone.
            jail.set_env("PORTAL_FILE_KEYS", "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
            jail.set_env("PORTAL_AUDIT_KEY", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
            for (key, value) in [("PORTAL_ORGANIZATION_NAME", "Springfield General Hospital"), ("PORTAL_ORGANIZATION_ADDRESS", "1 Hospital Drive"), ("PORTAL_PRIVACY_CONTACT_PHONE", "217-555-0100")] {
                let err = Settings::load(None).expect_err("a letterhead setting missing").to_string();
                assert!(err.contains(&key["PORTAL_".len()..].to_lowercase()), "{err}");
                jail.set_env(key, value);
            }
            jail.set_env("PORTAL_FILE_KEYS", "");
            // Released files are encrypted with a key of the site's own, never the development one.
            let err = Settings::load(None).expect_err("no file key").to_string();
            assert!(err.contains("file_keys"), "{err}");
            jail.set_env("PORTAL_FILE_KEYS", "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
            // The audit trail is sealed with a key of the site's own, kept outside the database.
            jail.set_env("PORTAL_AUDIT_KEY", "");
            let err = Settings::load(None).expect_err("no audit key").to_string();
            assert!(err.contains("audit_key"), "{err}");
            jail.set_env("PORTAL_AUDIT_KEY", "c2hvcnQ=");
            assert!(Settings::load(None).expect_err("a short audit key").to_string().contains("32 bytes"));
            jail.set_env("PORTAL_AUDIT_KEY", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=");
            jail.set_env("PORTAL_PUBLIC_URL", "");
            let err = Settings::load(None).expect_err("must fail").to_string();
            assert!(err.contains("public_url"), "{err}");
            jail.set_env("PORTAL_PUBLIC_URL", "https://portal.example.org");
            let s = Settings::load(None).expect("valid");
            assert!(s.secure_cookies() && s.served_over_tls());
            jail.set_env("PORTAL_FILE_KEYS", "k1:short");
            assert!(Settings::load(None).expect_err("bad key").to_string().contains("file_keys"));
            Ok(())
        });
    }

    #[test]
    fn a_missing_file_is_an_error() {
        Jail::expect_with(|jail| {
            jail.clear_env();
            let err = Settings::load(Some(Path::new("nope.toml"))).expect_err("must fail").to_string();
            assert!(err.contains("nope.toml"), "{err}");
            Ok(())
        });
    }

    #[test]
    fn every_documented_setting_is_a_real_one_and_vice_versa() {
        // Deserialising a TOML that sets every documented key proves each is a field; the
        // field count check catches a field without documentation.
        let mut toml = String::new();
        toml.push_str("environment = \"development\"\naddr = \"127.0.0.1:1\"\npublic_url = \"http://x\"\n");
        toml.push_str("data_dir = \"d\"\ndatabase_url = \"sqlite::memory:\"\ndatabase_schema = \"s\"\n");
        toml.push_str("database_max_connections = 1\ndatabase_connect_timeout_secs = 1\ndatabase_sslmode = \"require\"\nsite_root = \"s\"\n");
        toml.push_str("log_format = \"human\"\nlog_level = \"info\"\n");
        toml.push_str("session_cleanup_interval_secs = 1\nshutdown_grace_secs = 1\nsite_code = \"a\"\n");
        toml.push_str("staff_idle_minutes = 1\npatient_idle_minutes = 1\nsession_absolute_hours = 1\nidle_warning_secs = 1\npatient_mfa_required = false\nactivation_code_days = 1\nauth_rate_limit_per_minute = 1\n");
        toml.push_str("smtp_url = \"smtp://localhost:25\"\nmail_from = \"a@b.c\"\n");
        toml.push_str("direct_smtp_url = \"smtp://localhost:25\"\ndirect_from = \"portal@direct.b.c\"\n");
        toml.push_str("argon2_memory_kib = 8\nargon2_iterations = 1\nargon2_parallelism = 1\n");
        toml.push_str("lockout_threshold = 1\nlockout_address_threshold = 1\nlockout_base_secs = 1\n");
        toml.push_str("lockout_max_secs = 1\ndemo = false\n");
        toml.push_str("import_max_file_bytes = 1024\nimport_max_string_bytes = 1024\n");
        toml.push_str("request_response_days = 30\nself_copy_fee_cents = 0\nthird_party_copy_fee_cents = 0\nthird_party_response_days = 30\ncopy_fee_cap_cents = 0\n");
        toml.push_str("file_keys = \"k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"\naudit_key = \"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"\naudit_checkpoint_file = \"c.log\"\nrelease_download_days = 30\nprivacy_contact = \"p\"\norganization_name = \"o\"\norganization_address = \"a\"\nprivacy_contact_phone = \"1\"\ntime_zone = \"America/Chicago\"\n");
        toml.push_str("caregiver_default_days = 1\ncaregiver_max_days = 1\ncaregiver_invitation_days = 1\nproxy_limited_from_age = 12\nproxy_adult_from_age = 18\nrepresentative_document_max_bytes = 1024\nupload_bytes_per_day = 1024\ntrusted_proxies = [\"10.0.0.0/8\"]\nmetrics_token = \"a-long-enough-metrics-token-0000\"\nopen_app_registration = false\n");
        toml.push_str("oidc_providers = [{ id = \"idp\", label = \"IdP\", issuer = \"https://idp.example\", client_id = \"c\" }]\n");
        let keys: Vec<&str> = toml.lines().filter_map(|l| l.split(" = ").next()).collect();
        let documented: Vec<&str> = DOCS.iter().map(|d| d.key).collect();
        assert_eq!(keys, documented, "DOCS must list every setting, in declaration order");
        let parsed: Result<Settings, _> = Figment::from(Toml::string(&toml)).extract();
        assert!(parsed.is_ok(), "{parsed:?}");
    }

    #[test]
    fn the_readme_lists_every_setting() {
        let readme = include_str!("../../README.md");
        for doc in DOCS {
            assert!(readme.contains(&env_name(doc.key)), "README must document {}", env_name(doc.key));
        }
    }
}
