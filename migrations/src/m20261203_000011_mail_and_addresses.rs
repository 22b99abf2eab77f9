//! Deployment safety (issue 19): the mail outbox sends first and marks second. A message is
//! leased (`mail_next_at_ms`: nobody else tries it before then), sent, and only then marked
//! `emailed_at_ms`; a failed send is tried again with back-off (`mail_attempts`, the last
//! `mail_error`), and after the last attempt it is given up (`mail_failed_at_ms`), which HIM
//! staff see and can retry. The daily jobs keep when their run finished (`finished_at_ms`): a
//! day claimed by a server that died mid-run is taken over once its lease has passed. And an
//! account's email address is verified (`app_user.email_verified_at_ms`) before it can sign in
//! from a self-registration or accept an invitation: accounts made before this migration keep
//! working (their creation time is taken as verified), which the README says.

use sea_orm_migration::{prelude::*, schema::*, sea_orm::ConnectionTrait};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Notification {
    Table,
    MailAttempts,
    MailNextAtMs,
    MailFailedAtMs,
    MailError,
}

#[derive(DeriveIden)]
enum AppUser {
    Table,
    EmailVerifiedAtMs,
}

#[derive(DeriveIden)]
enum JobRun {
    Table,
    FinishedAtMs,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one at a time.
        for mut column in [integer(Notification::MailAttempts).default(0).to_owned(), big_integer_null(Notification::MailNextAtMs), big_integer_null(Notification::MailFailedAtMs), string_len_null(Notification::MailError, 300)] {
            manager.alter_table(Table::alter().table(Notification::Table).add_column(&mut column).to_owned()).await?;
        }
        manager.alter_table(Table::alter().table(JobRun::Table).add_column(big_integer_null(JobRun::FinishedAtMs)).to_owned()).await?;
        // Runs recorded before this migration finished (the old code marked the day only once).
        manager.get_connection().execute_unprepared("UPDATE job_run SET finished_at_ms = at_ms").await?;
        manager.alter_table(Table::alter().table(AppUser::Table).add_column(big_integer_null(AppUser::EmailVerifiedAtMs)).to_owned()).await?;
        manager.get_connection().execute_unprepared("UPDATE app_user SET email_verified_at_ms = created_at_ms").await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(AppUser::Table).drop_column(AppUser::EmailVerifiedAtMs).to_owned()).await?;
        manager.alter_table(Table::alter().table(JobRun::Table).drop_column(JobRun::FinishedAtMs).to_owned()).await?;
        for column in [Notification::MailError, Notification::MailFailedAtMs, Notification::MailNextAtMs, Notification::MailAttempts] {
            manager.alter_table(Table::alter().table(Notification::Table).drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}
