//! Each test's latest reading, marked (issue 21: flat in record size).
//!
//! The summary shows the latest value of each vital sign and lab test. Ranking every reading of
//! the record on each view made the page's cost grow with the record: the largest shared fixture
//! (1,971 resources) answered at 45 % of the medium record's rate. The import now marks, for each
//! patient it touches, the newest reading of each test (`latest_reading`), and a partial index
//! holds just those rows, so the summary reads a few dozen index entries whatever the record's
//! size. The app repeats the index's condition word for word (`LATEST_READING` in
//! `backend::access::rows`), as SQLite needs to use a partial index.
//!
//! Existing records are marked here once, with the ranking the import uses: per patient, per
//! category, per test (its code, or its name when it has none), newest first, undated last,
//! ties broken by id so that exactly one reading of each test is marked.
//!
//! On PostgreSQL the backfill rewrites every observation row once and `CREATE INDEX` takes a
//! write lock on `clinical_item` for its duration: on a large production database run
//! `portal migrate` in a maintenance window (README, "Deploying").

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] = &[
    "ALTER TABLE clinical_item ADD COLUMN latest_reading BOOLEAN NOT NULL DEFAULT FALSE",
    "UPDATE clinical_item SET latest_reading = TRUE WHERE resource_id IN (\
       SELECT resource_id FROM (\
         SELECT resource_id, ROW_NUMBER() OVER (PARTITION BY patient_id, category, COALESCE(code, display) ORDER BY start_ms DESC NULLS LAST, resource_id) AS n \
         FROM clinical_item WHERE kind = 'observation'\
       ) ranked WHERE n = 1)",
    "CREATE INDEX idx_clinical_item_latest ON clinical_item (patient_id, kind, category) WHERE latest_reading = TRUE",
];

const DOWN: &[&str] = &["DROP INDEX IF EXISTS idx_clinical_item_latest", "ALTER TABLE clinical_item DROP COLUMN latest_reading"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// All or none, on SQLite too.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::execute_all(manager, UP).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        crate::execute_all(manager, DOWN).await
    }
}
