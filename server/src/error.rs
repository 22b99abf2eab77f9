//! Start-up failures. Each prints as one line that names the problem and the setting to change;
//! the binary exits non-zero without a panic or backtrace.

use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("{0}")]
    Settings(#[from] crate::settings::SettingsError),

    #[error(
        "setting `database_url` (DATABASE_URL or PORTAL_DATABASE_URL): unsupported scheme `{scheme}`; use sqlite:// or postgres://"
    )]
    UnsupportedDatabase { scheme: String },

    #[error("cannot create the data directory {} (setting `data_dir`, PORTAL_DATA_DIR): {reason}", path.display())]
    DataDir { path: PathBuf, reason: String },

    #[error("the data directory {} is read-only (setting `data_dir`, PORTAL_DATA_DIR): {reason}. The portal writes an audit event before it shows anything, so it cannot serve from a read-only disk; make it writable and start again", path.display())]
    DataDirReadOnly { path: PathBuf, reason: String },

    #[error(
        "cannot connect to the {backend} database (setting `database_url`, DATABASE_URL or PORTAL_DATABASE_URL): {reason}"
    )]
    DatabaseUnreachable { backend: &'static str, reason: String },

    #[error("database migrations failed: {0}")]
    Migration(String),

    #[error("cannot listen on {addr} (setting `addr`, PORTAL_ADDR): {reason}")]
    Bind { addr: SocketAddr, reason: String },

    #[error("setting `argon2_memory_kib` / `argon2_iterations` / `argon2_parallelism`: {0}")]
    PasswordHashing(String),

    #[error("{0}")]
    Admin(String),

    #[error("setting `smtp_url` (PORTAL_SMTP_URL) or `mail_from` (PORTAL_MAIL_FROM): {0}")]
    Mail(String),

    #[error("setting `oidc_providers` (PORTAL_OIDC_PROVIDERS) or `public_url`: {0}")]
    Oidc(String),

    #[error("cannot write the audit checkpoint file {} (setting `audit_checkpoint_file`, PORTAL_AUDIT_CHECKPOINT_FILE): {reason}", path.display())]
    AuditCheckpointFile { path: PathBuf, reason: String },

    #[error("the audit trail failed verification (see above)")]
    AuditBroken,

    #[error("import: {0}")]
    Import(String),

    #[error("demo set-up failed: {0}")]
    Demo(String),

    #[error("setting `demo` (PORTAL_DEMO) is off, but {0}")]
    DemoAccountsActive(String),

    #[error("the server stopped with an error: {0}")]
    Serve(String),
}
