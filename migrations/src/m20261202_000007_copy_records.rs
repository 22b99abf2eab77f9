//! Copies the patient makes themselves (download now, send now; 45 CFR 170.315(e)(1)) and the
//! record of every copy the portal produced, for `/verify`: who made it, when, for which request,
//! its verification code and its manifest, and the SHA-256 of each of its files. Nothing here is
//! health information: a copy's contents are never stored for a download, only their hashes.

use crate::fk;
use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum CopyRecord {
    Table,
    Id,
    Code,
    PatientId,
    ActorUserId,
    OnBehalfOf,
    RequestId,
    Kind,
    Scope,
    Formats,
    Addressee,
    Manifest,
    CreatedAtMs,
}

#[derive(DeriveIden)]
enum CopyRecordFile {
    Table,
    Sha256,
    CopyId,
    Name,
    Size,
}

#[derive(DeriveIden)]
enum Patient {
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(CopyRecord::Table)
                    .col(string_len(CopyRecord::Id, 36).primary_key())
                    .col(string_len(CopyRecord::Code, 16).unique_key())
                    .col(string_len(CopyRecord::PatientId, 36))
                    .col(string_len(CopyRecord::ActorUserId, 36))
                    .col(string_len_null(CopyRecord::OnBehalfOf, 36))
                    .col(string_len_null(CopyRecord::RequestId, 36))
                    .col(string_len(CopyRecord::Kind, 16))
                    .col(string_len(CopyRecord::Scope, 400))
                    .col(string_len(CopyRecord::Formats, 40))
                    .col(string_len_null(CopyRecord::Addressee, 254))
                    .col(text(CopyRecord::Manifest))
                    .col(big_integer(CopyRecord::CreatedAtMs))
                    .foreign_key(&mut fk("fk_copy_record_patient", (CopyRecord::Table, CopyRecord::PatientId), (Patient::Table, Patient::Id), ForeignKeyAction::Restrict))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(Index::create().name("idx_copy_record_patient").table(CopyRecord::Table).col(CopyRecord::PatientId).col(CopyRecord::CreatedAtMs).to_owned())
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CopyRecordFile::Table)
                    .col(string_len(CopyRecordFile::Sha256, 64))
                    .col(string_len(CopyRecordFile::CopyId, 36))
                    .col(string_len(CopyRecordFile::Name, 200))
                    .col(big_integer(CopyRecordFile::Size))
                    .primary_key(Index::create().col(CopyRecordFile::Sha256).col(CopyRecordFile::CopyId))
                    .foreign_key(&mut fk("fk_copy_record_file_copy", (CopyRecordFile::Table, CopyRecordFile::CopyId), (CopyRecord::Table, CopyRecord::Id), ForeignKeyAction::Cascade))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(CopyRecordFile::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(CopyRecord::Table).to_owned()).await?;
        Ok(())
    }
}
