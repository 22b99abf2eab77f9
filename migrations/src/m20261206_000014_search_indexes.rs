//! Indexes for searching patients by the start of a name or record number at scale (issue 21:
//! with 100,000 patients, `portal bench http --patients 100000` found the HIM queue's search
//! reading every patient row, lower-casing each name).
//!
//! The searches compare `lower(column)` with a range (`>= 'leo' AND < 'lep'`), which both
//! databases answer from an index on the same expression.
//!
//! The HIM queue pages through requests that are not closed or cancelled, nearest due date
//! first: a partial index holds just those, in that order, so a page reads 50 index entries
//! where the database otherwise read and sorted every request of the desk's history (its
//! statistics give the average rows per status, and closed requests are nearly all of them).
//! The queue query repeats the index's condition word for word (`OPEN_REQUESTS` in the app), as
//! SQLite needs to use a partial index.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const UP: &[&str] = &[
    "CREATE INDEX idx_patient_family_lower ON patient (lower(family_name))",
    "CREATE INDEX idx_patient_given_lower ON patient (lower(given_names))",
    "CREATE INDEX idx_patient_mrn_lower ON patient (lower(mrn))",
    "CREATE INDEX idx_release_request_open ON release_request (due_on, number) WHERE status NOT IN ('closed', 'cancelled')",
];

const DOWN: &[&str] = &[
    "DROP INDEX IF EXISTS idx_patient_family_lower",
    "DROP INDEX IF EXISTS idx_patient_given_lower",
    "DROP INDEX IF EXISTS idx_patient_mrn_lower",
    "DROP INDEX IF EXISTS idx_release_request_open",
];

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
