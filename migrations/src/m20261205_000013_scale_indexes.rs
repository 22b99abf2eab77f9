//! Indexes that pages need at scale (issue 21: `portal bench http`, `portal bench seed`).
//!
//! The audit report reads "the newest 500 events of these days": ordered by time and then by
//! number, an index on both lets the database read those rows and stop, where the index on time
//! alone made it sort the whole day on every read (SQLite's time index already carries the
//! number, its row id; PostgreSQL's does not). It replaces the index on time alone.

use sea_orm_migration::{prelude::*, sea_orm::ConnectionTrait};

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] = &[
    "CREATE INDEX idx_audit_event_time_seq ON audit_event (occurred_at_ms, seq)",
    "DROP INDEX IF EXISTS idx_audit_event_time",
];

const DOWN: &[&str] = &[
    "CREATE INDEX idx_audit_event_time ON audit_event (occurred_at_ms)",
    "DROP INDEX IF EXISTS idx_audit_event_time_seq",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// One transaction on SQLite too: both statements or neither, on one connection.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for statement in UP {
            manager.get_connection().execute_unprepared(statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for statement in DOWN {
            manager.get_connection().execute_unprepared(statement).await?;
        }
        Ok(())
    }
}
