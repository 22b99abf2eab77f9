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
    }

    let timeout = Duration::from_secs(settings.database_connect_timeout_secs);
    let mut options = ConnectOptions::new(url);
    options
        .max_connections(settings.database_max_connections)
        .connect_timeout(timeout)
        .acquire_timeout(timeout)
        // SQL statements are not logged: parameters may hold health information.
        .sqlx_logging(false)
        .map_sqlx_sqlite_opts(|opts| {
            opts.create_if_missing(true)
                .journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(5))
        });
    if let Some(schema) = &settings.database_schema {
        options.set_schema_search_path(schema.clone());
    }
    Database::connect(options).await.map_err(|e| StartupError::DatabaseUnreachable {
        backend: backend.name(),
        reason: e.to_string(),
    })
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
}
