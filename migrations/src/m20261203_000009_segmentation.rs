//! Segmentation and authorizations (issue 18): each decision keeps which sensitive categories
//! the authorization names and which 42 CFR 2.31 elements the Part 2 consent shows (JSON lists of
//! codes), so a release can be checked against them and the record says why it went out; an
//! authorization keeps the sensitive categories it names and when and by whom it was revoked
//! (45 CFR 164.508(b)(5)); and the site's
//! segmentation rules are a table administrators edit: what recognises psychotherapy notes
//! (`psychotherapy_note`: LOINC note codes, security labels, titles; seeded with the starting
//! points every EHR shares) and which organizations are Part 2 programs (`part2_program`: their
//! identifiers, matched against an encounter's service provider).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum ReleaseDecision {
    Table,
    Named,
    Consent,
}

#[derive(DeriveIden)]
enum ReleaseAuthorization {
    Table,
    RevokedAtMs,
    RevokedBy,
    RevocationNote,
    Named,
}

#[derive(DeriveIden)]
enum SegmentRule {
    Table,
    Id,
    Kind,
    System,
    Code,
    TitleContains,
    Note,
    CreatedBy,
    CreatedAtMs,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one at a time.
        for mut column in [text(ReleaseDecision::Named).default("[]").to_owned(), text(ReleaseDecision::Consent).default("[]").to_owned()] {
            manager.alter_table(Table::alter().table(ReleaseDecision::Table).add_column(&mut column).to_owned()).await?;
        }
        for mut column in [
            big_integer_null(ReleaseAuthorization::RevokedAtMs),
            string_len_null(ReleaseAuthorization::RevokedBy, 36),
            string_len_null(ReleaseAuthorization::RevocationNote, 500),
            text(ReleaseAuthorization::Named).default("[]").to_owned(),
        ] {
            manager.alter_table(Table::alter().table(ReleaseAuthorization::Table).add_column(&mut column).to_owned()).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(SegmentRule::Table)
                    .col(string_len(SegmentRule::Id, 36).primary_key())
                    .col(string_len(SegmentRule::Kind, 24))
                    .col(string_len_null(SegmentRule::System, 255))
                    .col(string_len_null(SegmentRule::Code, 128))
                    .col(string_len_null(SegmentRule::TitleContains, 200))
                    .col(string_len(SegmentRule::Note, 200))
                    .col(string_len(SegmentRule::CreatedBy, 36))
                    .col(big_integer(SegmentRule::CreatedAtMs))
                    .to_owned(),
            )
            .await?;
        // The starting point: the title EHRs give these notes. Sites add the LOINC note codes
        // their EHR uses on the administrator's page.
        let seed: [(&str, Option<&str>, Option<&str>, Option<&str>, &str); 1] = [("seed-title", None, None, Some("psychotherapy"), "Notes titled as psychotherapy notes")];
        for (id, system, code, title, note) in seed {
            manager
                .exec_stmt(
                    Query::insert()
                        .into_table(SegmentRule::Table)
                        .columns([SegmentRule::Id, SegmentRule::Kind, SegmentRule::System, SegmentRule::Code, SegmentRule::TitleContains, SegmentRule::Note, SegmentRule::CreatedBy, SegmentRule::CreatedAtMs])
                        .values_panic([id.into(), "psychotherapy_note".into(), system.into(), code.into(), title.into(), note.into(), "system".into(), 0i64.into()])
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(SegmentRule::Table).to_owned()).await?;
        for column in [ReleaseAuthorization::Named, ReleaseAuthorization::RevocationNote, ReleaseAuthorization::RevokedBy, ReleaseAuthorization::RevokedAtMs] {
            manager.alter_table(Table::alter().table(ReleaseAuthorization::Table).drop_column(column).to_owned()).await?;
        }
        for column in [ReleaseDecision::Consent, ReleaseDecision::Named] {
            manager.alter_table(Table::alter().table(ReleaseDecision::Table).drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}
