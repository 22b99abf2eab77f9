//! Release of information, the decision and its files: what HIM decided for a request (approve,
//! approve in part, deny; which sensitive categories were withheld and on what legal basis; the
//! denial grounds), and each file the portal produced (the PDF and FHIR copies, the denial letter),
//! stored encrypted (AES-256-GCM) in the database so every server instance can serve it.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ReleaseRequest {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum ReleaseDecision {
    Table,
    Id,
    RequestId,
    DecidedByUserId,
    Decision,
    Exclusions,
    Grounds,
    Note,
    AtMs,
}

#[derive(DeriveIden)]
enum ReleaseFile {
    Table,
    Id,
    RequestId,
    Kind,
    FileName,
    ContentType,
    Size,
    Sha256,
    Pages,
    KeyId,
    Nonce,
    Ciphertext,
    CreatedAtMs,
    ExpiresAtMs,
    Downloads,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ReleaseDecision::Table)
                    .col(string_len(ReleaseDecision::Id, 36).primary_key())
                    .col(string_len(ReleaseDecision::RequestId, 36))
                    .col(string_len(ReleaseDecision::DecidedByUserId, 36))
                    .col(string_len(ReleaseDecision::Decision, 32))
                    .col(text(ReleaseDecision::Exclusions))
                    .col(text(ReleaseDecision::Grounds))
                    .col(text_null(ReleaseDecision::Note))
                    .col(big_integer(ReleaseDecision::AtMs))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_release_decision_request")
                            .from(ReleaseDecision::Table, ReleaseDecision::RequestId)
                            .to(ReleaseRequest::Table, ReleaseRequest::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(Index::create().name("idx_release_decision_request").table(ReleaseDecision::Table).col(ReleaseDecision::RequestId).col(ReleaseDecision::AtMs).to_owned())
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ReleaseFile::Table)
                    .col(string_len(ReleaseFile::Id, 36).primary_key())
                    .col(string_len(ReleaseFile::RequestId, 36))
                    .col(string_len(ReleaseFile::Kind, 32))
                    .col(string_len(ReleaseFile::FileName, 200))
                    .col(string_len(ReleaseFile::ContentType, 100))
                    .col(big_integer(ReleaseFile::Size))
                    .col(string_len(ReleaseFile::Sha256, 64))
                    .col(integer_null(ReleaseFile::Pages))
                    .col(string_len(ReleaseFile::KeyId, 64))
                    .col(blob(ReleaseFile::Nonce))
                    .col(blob(ReleaseFile::Ciphertext))
                    .col(big_integer(ReleaseFile::CreatedAtMs))
                    .col(big_integer(ReleaseFile::ExpiresAtMs))
                    .col(integer(ReleaseFile::Downloads))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_release_file_request")
                            .from(ReleaseFile::Table, ReleaseFile::RequestId)
                            .to(ReleaseRequest::Table, ReleaseRequest::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        // One file of each kind per request: releasing twice cannot store two copies.
        manager
            .create_index(Index::create().name("idx_release_file_kind").table(ReleaseFile::Table).col(ReleaseFile::RequestId).col(ReleaseFile::Kind).unique().to_owned())
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(ReleaseFile::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(ReleaseDecision::Table).to_owned()).await?;
        Ok(())
    }
}
