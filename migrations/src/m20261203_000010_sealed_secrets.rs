//! Deployment safety (issue 19): authenticator secrets are stored sealed with the site's file keys
//! (`sealed:<key id>:<nonce>:<ciphertext>`, about 110 characters), no longer as 32 characters of
//! base32, so the column becomes text. SQLite does not enforce a `VARCHAR` length (and cannot
//! alter a column): nothing to do there.

use sea_orm_migration::{prelude::*, sea_orm::{ConnectionTrait, DatabaseBackend}};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AppUser {
    Table,
    TotpSecret,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        manager
            .alter_table(Table::alter().table(AppUser::Table).modify_column(ColumnDef::new(AppUser::TotpSecret).text().null()).to_owned())
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        // Sealed secrets do not fit the old width: they are cleared (those users set up their
        // authenticator again), as the old code could not read them anyway.
        manager.get_connection().execute_unprepared("UPDATE app_user SET totp_secret = NULL, totp_enabled_at_ms = NULL WHERE totp_secret LIKE 'sealed:%'").await?;
        manager
            .alter_table(Table::alter().table(AppUser::Table).modify_column(ColumnDef::new(AppUser::TotpSecret).string_len(64).null()).to_owned())
            .await
    }
}
