//! The portal's schema history: one ordered list of sea-orm migrations that runs unchanged on
//! SQLite (the embedded default) and PostgreSQL (production).
//!
//! Rules that keep both backends working (SQLite's `ALTER TABLE` is limited):
//! declare foreign keys inside `create_table`, make one change per `ALTER`, and recreate a
//! table to reshape it. Never edit a migration that has shipped; add a new one.
//! This crate must never depend on `app`: history is frozen, the application moves on.

pub use sea_orm_migration::prelude::*;

mod m20261124_000001_create_session;
mod m20261124_000002_identity;
mod m20261124_000003_clinical_records;
mod m20261124_000004_release_requests;
mod m20261124_000005_released_files;
mod m20261124_000006_caregivers;
mod m20261202_000007_copy_records;
mod m20261202_000008_release_desk;
mod m20261203_000009_segmentation;
mod m20261203_000010_sealed_secrets;
mod m20261203_000011_mail_and_addresses;
mod m20261204_000012_audit_seal;
mod m20261205_000013_scale_indexes;
mod m20261206_000014_search_indexes;
mod m20261207_000015_latest_readings;
mod m20261208_000016_smart_apps;
mod m20261209_000017_id_token_keys;

/// A foreign key as every table here declares one (inside `create_table`, which SQLite needs):
/// named, from one column to another table's column, with what a delete of the parent does.
pub(crate) fn fk(name: &str, from: (impl IntoIden, impl IntoIden), to: (impl IntoIden, impl IntoIden), on_delete: ForeignKeyAction) -> ForeignKeyCreateStatement {
    ForeignKey::create().name(name).from(from.0, from.1).to(to.0, to.1).on_delete(on_delete).to_owned()
}

/// Runs each SQL statement in order (the same text on both databases).
pub(crate) async fn execute_all(manager: &SchemaManager<'_>, statements: &[&str]) -> Result<(), DbErr> {
    use sea_orm_migration::sea_orm::ConnectionTrait;
    for statement in statements {
        manager.get_connection().execute_unprepared(statement).await?;
    }
    Ok(())
}

/// The list the server applies at start-up and `portal migrate` drives.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261124_000001_create_session::Migration),
            Box::new(m20261124_000002_identity::Migration),
            Box::new(m20261124_000003_clinical_records::Migration),
            Box::new(m20261124_000004_release_requests::Migration),
            Box::new(m20261124_000005_released_files::Migration),
            Box::new(m20261124_000006_caregivers::Migration),
            Box::new(m20261202_000007_copy_records::Migration),
            Box::new(m20261202_000008_release_desk::Migration),
            Box::new(m20261203_000009_segmentation::Migration),
            Box::new(m20261203_000010_sealed_secrets::Migration),
            Box::new(m20261203_000011_mail_and_addresses::Migration),
            Box::new(m20261204_000012_audit_seal::Migration),
            Box::new(m20261205_000013_scale_indexes::Migration),
            Box::new(m20261206_000014_search_indexes::Migration),
            Box::new(m20261207_000015_latest_readings::Migration),
            Box::new(m20261208_000016_smart_apps::Migration),
            Box::new(m20261209_000017_id_token_keys::Migration),
        ]
    }
}
