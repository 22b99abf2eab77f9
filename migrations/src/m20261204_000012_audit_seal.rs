//! Scale (issue 21): the audit trail without a global lock. Until now every event took the
//! `audit_head` row lock and held it to the end of its transaction, which serialized every
//! audited read and write of every server. From here:
//!
//! - `audit_event.seq` is assigned by the database (a sequence on PostgreSQL, `AUTOINCREMENT` on
//!   SQLite), so an event is one plain insert in the transaction it describes;
//! - a single sealer (`backend::audit::Sealer`) chains committed events afterwards, in the order
//!   it finds them, with an HMAC whose key is a setting, never in the database: it sets
//!   `sealed_no` (the event's place in the chain) and `mac` once, and triggers refuse every other
//!   change, on both databases;
//! - `audit_checkpoint` keeps a signed checkpoint every so often (also written to a file outside
//!   the database), so deleting the newest rows is caught.
//!
//! The unkeyed SHA-256 chain of the earlier rows (`prev_hash`, `hash`) and `audit_head` are
//! dropped: the sealer seals those rows too, under the key. Rolling back gives the old columns
//! back empty (the old chain cannot be rebuilt; restore a backup to go back with a verifiable
//! trail).

use sea_orm_migration::{
    prelude::*,
    schema::*,
    sea_orm::{ConnectionTrait, DatabaseBackend},
};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AuditCheckpoint {
    Table,
    SealedNo,
    Mac,
    KeyId,
    AtMs,
}

/// The stored fields of an event, in table order (the sealed columns come after).
const EVENT_COLUMNS: &str = "seq, occurred_at_ms, actor_user_id, on_behalf_of, patient_id, action, entity_type, entity_id, outcome, detail, request_id, client_address";

/// SQLite's table, rebuilt: `seq` becomes the rowid (`AUTOINCREMENT`: a number is never used
/// twice, even after the newest row is deleted).
const SQLITE_EVENT_TABLE: &str = "CREATE TABLE audit_event_new (\
    seq INTEGER PRIMARY KEY AUTOINCREMENT, occurred_at_ms bigint NOT NULL, \
    actor_user_id varchar(36), on_behalf_of varchar(36), patient_id varchar(36), \
    action varchar(40) NOT NULL, entity_type varchar(40), entity_id varchar(64), \
    outcome varchar(16) NOT NULL, detail varchar(200), request_id varchar(64), \
    client_address varchar(64), sealed_no bigint, mac varchar(64))";

/// ONC 170.315(d)(2): the trail cannot be altered. The one change allowed is the sealer's: a
/// row's `sealed_no` and `mac`, once, with every other field as it was. The names are the ones
/// `backend::audit::verify` looks for (a dropped or disabled trigger is reported).
const SQLITE_TRIGGERS: [&str; 4] = [
    "CREATE TRIGGER audit_event_no_update BEFORE UPDATE ON audit_event \
     WHEN OLD.mac IS NOT NULL OR NEW.mac IS NULL OR NEW.sealed_no IS NULL \
       OR NEW.seq IS NOT OLD.seq OR NEW.occurred_at_ms IS NOT OLD.occurred_at_ms \
       OR NEW.actor_user_id IS NOT OLD.actor_user_id OR NEW.on_behalf_of IS NOT OLD.on_behalf_of \
       OR NEW.patient_id IS NOT OLD.patient_id OR NEW.action IS NOT OLD.action \
       OR NEW.entity_type IS NOT OLD.entity_type OR NEW.entity_id IS NOT OLD.entity_id \
       OR NEW.outcome IS NOT OLD.outcome OR NEW.detail IS NOT OLD.detail \
       OR NEW.request_id IS NOT OLD.request_id OR NEW.client_address IS NOT OLD.client_address \
     BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END",
    "CREATE TRIGGER audit_event_no_delete BEFORE DELETE ON audit_event \
     BEGIN SELECT RAISE(ABORT, 'audit_event is append-only'); END",
    "CREATE TRIGGER audit_checkpoint_no_update BEFORE UPDATE ON audit_checkpoint \
     BEGIN SELECT RAISE(ABORT, 'audit_checkpoint is append-only'); END",
    "CREATE TRIGGER audit_checkpoint_no_delete BEFORE DELETE ON audit_checkpoint \
     BEGIN SELECT RAISE(ABORT, 'audit_checkpoint is append-only'); END",
];

const POSTGRES_UP: [&str; 14] = [
    "ALTER TABLE audit_event DROP COLUMN prev_hash",
    "ALTER TABLE audit_event DROP COLUMN hash",
    "ALTER TABLE audit_event ADD COLUMN sealed_no bigint",
    "ALTER TABLE audit_event ADD COLUMN mac varchar(64)",
    "CREATE SEQUENCE audit_event_seq_seq OWNED BY audit_event.seq",
    "SELECT setval('audit_event_seq_seq', COALESCE((SELECT MAX(seq) FROM audit_event), 0) + 1, false)",
    "ALTER TABLE audit_event ALTER COLUMN seq SET DEFAULT nextval('audit_event_seq_seq')",
    // The sealer's one update passes; everything else on a row, and TRUNCATE, is refused.
    "CREATE OR REPLACE FUNCTION audit_event_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$ \
     BEGIN \
       IF TG_OP = 'UPDATE' AND OLD.mac IS NULL AND NEW.mac IS NOT NULL AND NEW.sealed_no IS NOT NULL \
          AND (to_jsonb(NEW) - 'mac' - 'sealed_no') = (to_jsonb(OLD) - 'mac' - 'sealed_no') THEN \
         RETURN NEW; \
       END IF; \
       RAISE EXCEPTION 'audit_event is append-only'; \
     END $$",
    "CREATE FUNCTION audit_checkpoint_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$ \
     BEGIN RAISE EXCEPTION 'audit_checkpoint is append-only'; END $$",
    "CREATE TRIGGER audit_checkpoint_append_only BEFORE UPDATE OR DELETE ON audit_checkpoint \
     FOR EACH ROW EXECUTE FUNCTION audit_checkpoint_refuse_change()",
    "CREATE TRIGGER audit_checkpoint_no_truncate BEFORE TRUNCATE ON audit_checkpoint \
     FOR EACH STATEMENT EXECUTE FUNCTION audit_checkpoint_refuse_change()",
    "CREATE UNIQUE INDEX idx_audit_event_sealed_no ON audit_event (sealed_no)",
    // What the sealer looks for: a few rows, found without reading the trail.
    "CREATE INDEX idx_audit_event_unsealed ON audit_event (seq) WHERE mac IS NULL",
    "DROP TABLE audit_head",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    /// One transaction on SQLite too: the table is rebuilt, which must not be left half-done,
    /// and every statement then runs on one connection (another pooled connection's cached
    /// schema would still see the old table's indexes).
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AuditCheckpoint::Table)
                    .col(big_integer(AuditCheckpoint::SealedNo).primary_key())
                    .col(string_len(AuditCheckpoint::Mac, 64))
                    .col(string_len(AuditCheckpoint::KeyId, 16))
                    .col(big_integer(AuditCheckpoint::AtMs))
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            for statement in POSTGRES_UP {
                db.execute_unprepared(statement).await?;
            }
            return Ok(());
        }
        db.execute_unprepared(SQLITE_EVENT_TABLE).await?;
        db.execute_unprepared(&format!("INSERT INTO audit_event_new ({EVENT_COLUMNS}) SELECT {EVENT_COLUMNS} FROM audit_event")).await?;
        db.execute_unprepared("DROP TABLE audit_event").await?;
        db.execute_unprepared("ALTER TABLE audit_event_new RENAME TO audit_event").await?;
        for statement in [
            "CREATE INDEX idx_audit_event_time ON audit_event (occurred_at_ms)",
            "CREATE INDEX idx_audit_event_patient ON audit_event (patient_id)",
            "CREATE INDEX idx_audit_event_actor ON audit_event (actor_user_id)",
            "CREATE UNIQUE INDEX idx_audit_event_sealed_no ON audit_event (sealed_no)",
            "CREATE INDEX idx_audit_event_unsealed ON audit_event (seq) WHERE mac IS NULL",
            "DROP TABLE audit_head",
        ]
        .into_iter()
        .chain(SQLITE_TRIGGERS)
        {
            db.execute_unprepared(statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let postgres = manager.get_database_backend() == DatabaseBackend::Postgres;
        if postgres {
            for statement in [
                "DROP TRIGGER IF EXISTS audit_checkpoint_no_truncate ON audit_checkpoint",
                "DROP TRIGGER IF EXISTS audit_checkpoint_append_only ON audit_checkpoint",
                "DROP FUNCTION IF EXISTS audit_checkpoint_refuse_change()",
                "CREATE OR REPLACE FUNCTION audit_event_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$ \
                 BEGIN RAISE EXCEPTION 'audit_event is append-only'; END $$",
                "DROP INDEX IF EXISTS idx_audit_event_unsealed",
                "DROP INDEX IF EXISTS idx_audit_event_sealed_no",
                "ALTER TABLE audit_event ALTER COLUMN seq DROP DEFAULT",
                "DROP SEQUENCE IF EXISTS audit_event_seq_seq",
                "ALTER TABLE audit_event DROP COLUMN mac",
                "ALTER TABLE audit_event DROP COLUMN sealed_no",
                "ALTER TABLE audit_event ADD COLUMN prev_hash varchar(64) NOT NULL DEFAULT ''",
                "ALTER TABLE audit_event ADD COLUMN hash varchar(64) NOT NULL DEFAULT ''",
            ] {
                db.execute_unprepared(statement).await?;
            }
        } else {
            for statement in [
                "DROP TRIGGER IF EXISTS audit_checkpoint_no_delete",
                "DROP TRIGGER IF EXISTS audit_checkpoint_no_update",
                "DROP TRIGGER IF EXISTS audit_event_no_delete",
                "DROP TRIGGER IF EXISTS audit_event_no_update",
                "CREATE TABLE audit_event_old (seq bigint NOT NULL PRIMARY KEY, occurred_at_ms bigint NOT NULL, \
                 actor_user_id varchar(36), on_behalf_of varchar(36), patient_id varchar(36), \
                 action varchar(40) NOT NULL, entity_type varchar(40), entity_id varchar(64), \
                 outcome varchar(16) NOT NULL, detail varchar(200), request_id varchar(64), \
                 client_address varchar(64), prev_hash varchar(64) NOT NULL DEFAULT '', hash varchar(64) NOT NULL DEFAULT '')",
            ] {
                db.execute_unprepared(statement).await?;
            }
            db.execute_unprepared(&format!("INSERT INTO audit_event_old ({EVENT_COLUMNS}) SELECT {EVENT_COLUMNS} FROM audit_event")).await?;
            for statement in [
                "DROP TABLE audit_event",
                "ALTER TABLE audit_event_old RENAME TO audit_event",
                "CREATE INDEX idx_audit_event_time ON audit_event (occurred_at_ms)",
                "CREATE INDEX idx_audit_event_patient ON audit_event (patient_id)",
                "CREATE INDEX idx_audit_event_actor ON audit_event (actor_user_id)",
            ] {
                db.execute_unprepared(statement).await?;
            }
        }
        // The old head, at the last row (its hash cannot be rebuilt: see the module note).
        db.execute_unprepared("CREATE TABLE audit_head (id integer NOT NULL PRIMARY KEY, last_seq bigint NOT NULL, last_hash varchar(64) NOT NULL)").await?;
        db.execute_unprepared(&format!(
            "INSERT INTO audit_head (id, last_seq, last_hash) SELECT 1, COALESCE(MAX(seq), 0), '{}' FROM audit_event",
            "0".repeat(64)
        ))
        .await?;
        manager.drop_table(Table::drop().table(AuditCheckpoint::Table).to_owned()).await?;
        Ok(())
    }
}
