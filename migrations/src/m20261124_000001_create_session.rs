//! Server-side sessions (tower-sessions over sea-orm). Sessions live in the database so that
//! several stateless `portal` servers can share them.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum TowerSession {
    Table,
    Id,
    Data,
    ExpiresAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(TowerSession::Table)
                    .col(string_len(TowerSession::Id, 64).primary_key())
                    // The session record as JSON text: portable across both backends.
                    .col(text(TowerSession::Data))
                    // Unix seconds, so expiry comparisons are plain integer comparisons everywhere.
                    .col(big_integer(TowerSession::ExpiresAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_tower_session_expires_at")
                    .table(TowerSession::Table)
                    .col(TowerSession::ExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(TowerSession::Table).to_owned())
            .await
    }
}
