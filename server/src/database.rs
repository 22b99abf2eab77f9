//! Connecting to the database named by the settings (SQLite by default, PostgreSQL when the URL
//! says so) and applying migrations.

use crate::error::StartupError;
use crate::settings::Settings;
use migrations::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, Database, DatabaseConnection};
use std::time::Duration;

/// Which database a URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn from_url(url: &str) -> Result<Self, StartupError> {
        let scheme = url.split(':').next().unwrap_or_default();
        match scheme {
            "sqlite" => Ok(Backend::Sqlite),
            "postgres" | "postgresql" => Ok(Backend::Postgres),
            _ => Err(StartupError::UnsupportedDatabase { scheme: scheme.to_string() }),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

/// Opens the connection pool. For SQLite, creates the data directory and file on first run and
/// turns on WAL (readers do not block the writer) and foreign keys.
pub async fn connect(settings: &Settings) -> Result<DatabaseConnection, StartupError> {
    let url = settings.database_url();
    let backend = Backend::from_url(&url)?;
    if backend == Backend::Sqlite && settings.database_url.is_none() {
        std::fs::create_dir_all(&settings.data_dir).map_err(|e| StartupError::DataDir {
            path: settings.data_dir.clone(),
            reason: e.to_string(),
        })?;
        // SQLite needs to write beside the database (its WAL and shared-memory files) and the
        // portal audits every read: on a read-only disk, say so now rather than fail on the
        // first page.
        // The probe is named by process: several servers may start on one directory at once,
        // and one must not remove the file another is checking with.
        let probe = settings.data_dir.join(format!(".portal-write-check-{}", std::process::id()));
        std::fs::write(&probe, b"")
            .and_then(|()| match std::fs::remove_file(&probe) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                other => other,
            })
            .map_err(|e| StartupError::DataDirReadOnly { path: settings.data_dir.clone(), reason: e.to_string() })?;
    }
    if backend == Backend::Sqlite
        && let Some(path) = sqlite_file(&url)
    {
        owner_only(&path).map_err(|e| StartupError::DataDir { path: path.clone(), reason: e.to_string() })?;
    }

    let timeout = Duration::from_secs(settings.database_connect_timeout_secs);
    let mut options = ConnectOptions::new(url);
    options
        .max_connections(settings.database_max_connections)
        .connect_timeout(timeout)
        .acquire_timeout(timeout)
        // A connection idle for a second or more is checked before use (one a restarted or
        // distant database dropped is replaced, not handed to a request), a busy one is not:
        // checking every one cost a round trip per query (issue 21; on PostgreSQL one network
        // round trip more for every statement, on SQLite one more hand-over to its thread).
        .test_before_acquire_if_idle_for(Duration::from_secs(1))
        // SQL statements are not logged: parameters may hold health information.
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|opts| {
            opts.create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                // No memory map (`mmap_size`): it measured no gain on the summary benchmark
                // (issue 21), and an I/O error on a mapped page kills the process (SIGBUS)
                // where a read returns an error the request can answer with.
                .busy_timeout(Duration::from_secs(5))
        })
        .map_sqlx_sqlite_pool_opts(|pool| pool.after_release(|conn, _| Box::pin(async move { Ok(settled(conn).await) })));
    if backend == Backend::Postgres {
        // Validated at start-up; `prefer` if it somehow does not parse.
        let mode = settings.database_sslmode().parse::<sea_orm::sqlx::postgres::PgSslMode>().unwrap_or(sea_orm::sqlx::postgres::PgSslMode::Prefer);
        options.map_sqlx_postgres_opts(move |opts| opts.ssl_mode(mode));
    }
    if let Some(schema) = &settings.database_schema {
        options.set_schema_search_path(schema.clone());
    }
    Database::connect(options).await.map_err(|e| StartupError::DatabaseUnreachable {
        backend: backend.name(),
        reason: e.to_string(),
    })
}

/// Whether a SQLite connection given back to the pool is out of every transaction. A COMMIT
/// that fails (a full disk) leaves SQLite's transaction open, or SQLite rolls it back itself and
/// the driver's ROLLBACK then fails: either way the driver still counts a transaction, and the
/// next "transaction" on that connection would only be a savepoint inside it, whose "commit"
/// writes nothing (found by the fault suite: an acknowledged request that was never stored). Such
/// a connection is closed, not reused.
async fn settled(conn: &mut sea_orm::sqlx::SqliteConnection) -> bool {
    use sea_orm::sqlx::Connection;
    if !conn.is_in_transaction() {
        return true;
    }
    // A dropped transaction's ROLLBACK is queued on the connection's worker: let it run.
    conn.ping().await.is_ok() && !conn.is_in_transaction()
}

/// The file a `sqlite://` URL names (none for an in-memory database).
fn sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    let path = url.strip_prefix("sqlite://").or_else(|| url.strip_prefix("sqlite:"))?.split('?').next()?;
    (!path.is_empty() && !path.starts_with(":memory:")).then(|| std::path::PathBuf::from(path))
}

/// The database file readable and writable by the portal's own user only (0600), created so
/// before SQLite opens it: it holds every patient's record. SQLite gives its WAL and shared
/// memory files the same permissions as the database file.
fn owner_only(path: &std::path::Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        match std::fs::metadata(path) {
            // Already the portal's alone: nothing to write (the file may be on a read-only
            // disk, where the portal still starts and serves what needs no write).
            Ok(meta) if meta.permissions().mode() & 0o077 == 0 => {}
            Ok(_) => std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?,
            Err(_) => {
                std::fs::OpenOptions::new().create(true).append(true).mode(0o600).open(path)?;
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
            }
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Applies every pending migration.
pub async fn migrate_up(db: &DatabaseConnection) -> Result<(), StartupError> {
    Migrator::up(db, None).await.map_err(|e| StartupError::Migration(e.to_string()))
}

/// True when every known migration is applied (the `/readyz` condition).
pub async fn migrations_current(db: &DatabaseConnection) -> Result<bool, sea_orm::DbErr> {
    Ok(Migrator::get_pending_migrations_read_only(db).await?.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_the_two_supported_schemes() {
        assert_eq!(Backend::from_url("sqlite://data/p.db?mode=rwc").ok(), Some(Backend::Sqlite));
        assert_eq!(Backend::from_url("postgres://u@h/db").ok(), Some(Backend::Postgres));
        assert_eq!(Backend::from_url("postgresql://u@h/db").ok(), Some(Backend::Postgres));
    }

    #[test]
    fn an_unknown_scheme_names_the_setting() {
        let err = Backend::from_url("mysql://u@h/db").expect_err("unsupported").to_string();
        assert!(err.contains("`mysql`") && err.contains("DATABASE_URL"), "{err}");
    }

    /// The SQLite compiled in carries the options of `.cargo/config.toml` (a build without
    /// them works but re-prepares every statement with a LIMIT on every run: issue 21).
    #[tokio::test]
    async fn sqlite_is_built_with_stable_plans_and_no_global_memory_statistics() {
        use sea_orm::{ConnectionTrait, Statement};
        let db = sea_orm::Database::connect("sqlite::memory:").await.expect("in-memory SQLite");
        for option in ["ENABLE_QPSG", "DEFAULT_MEMSTATUS=0"] {
            let row = db
                .query_one_raw(Statement::from_string(db.get_database_backend(), format!("SELECT sqlite_compileoption_used('{option}') AS used")))
                .await
                .expect("query")
                .expect("a row");
            let used: i64 = row.try_get("", "used").expect("a number");
            assert_eq!(used, 1, "SQLite was built without SQLITE_{option} (see .cargo/config.toml)");
        }
    }
}
