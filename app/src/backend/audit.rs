//! The one audit chokepoint (ONC 45 CFR 170.315(d)(2), (d)(3)): every sign-in, sign-out, time-out,
//! MFA event, role change and every read or change of patient data goes through [`record`].
//!
//! Tamper evidence: each row stores the SHA-256 hash of its own fields and of the previous row's
//! hash, and `audit_head` names the last row. [`verify`] walks the chain and names the first row
//! that was altered or is missing. On PostgreSQL a trigger also refuses UPDATE, DELETE and
//! TRUNCATE on `audit_event` (see the identity migration).
//!
//! What goes in: identifiers (user, patient, entity), a fixed action name, the outcome and a short,
//! fixed reason code. Never names, clinical content, passwords, tokens or session ids.

use super::entities::{audit_event, audit_head};
use super::request::RequestMeta;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbErr,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use sha2::{Digest, Sha256};

/// The hash the first row chains to (also written by the migration).
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

pub use crate::domain::AuditAction;

crate::domain::text_enum! {
    /// How it ended.
    pub enum Outcome {
        Success = "success",
        /// Bad credentials, an expired code, invalid input: the attempt failed.
        Failure = "failure",
        /// The policy refused it.
        Denied = "denied",
    }
}

/// One auditable event, typed: who acted (and for whom), on which patient, what, on what, how it
/// ended, from where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub actor: Option<String>,
    pub on_behalf_of: Option<String>,
    pub patient: Option<String>,
    pub action: AuditAction,
    pub entity: Option<(&'static str, String)>,
    pub outcome: Outcome,
    /// A short, fixed reason code (`wrong_password`, `locked`, `role=administrator`). Never PHI.
    pub detail: Option<String>,
    pub request_id: Option<String>,
    pub client_address: Option<String>,
}

impl AuditEvent {
    /// An event with the request's id and address filled in.
    pub fn new(action: AuditAction, outcome: Outcome, request: &RequestMeta) -> Self {
        AuditEvent {
            actor: None,
            on_behalf_of: None,
            patient: None,
            action,
            entity: None,
            outcome,
            detail: None,
            request_id: Some(request.request_id.clone()),
            client_address: Some(request.client_address.clone()),
        }
    }

    pub fn actor(mut self, user_id: impl Into<String>) -> Self {
        self.actor = Some(user_id.into());
        self
    }

    /// Whom the actor acted for: the patient's record id when a caregiver acts (HOUSE-STYLE:
    /// delegation stores both parties).
    pub fn on_behalf_of(mut self, patient_id: impl Into<String>) -> Self {
        self.on_behalf_of = Some(patient_id.into());
        self
    }

    pub fn patient(mut self, patient_id: impl Into<String>) -> Self {
        self.patient = Some(patient_id.into());
        self
    }

    pub fn entity(mut self, kind: &'static str, id: impl Into<String>) -> Self {
        self.entity = Some((kind, id.into()));
        self
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }
}

fn clip(value: Option<String>, max: usize) -> Option<String> {
    value.map(|v| v.chars().take(max).collect())
}

/// The row hash: SHA-256 over every stored field, each length-prefixed (so no two different rows
/// serialize alike), then the previous row's hash.
fn row_hash(row: &audit_event::Model) -> String {
    let mut hasher = Sha256::new();
    let mut field = |value: Option<&str>| match value {
        Some(v) => hasher.update(format!("{}:{v};", v.len())),
        None => hasher.update("-;"),
    };
    field(Some(&row.seq.to_string()));
    field(Some(&row.occurred_at_ms.to_string()));
    field(row.actor_user_id.as_deref());
    field(row.on_behalf_of.as_deref());
    field(row.patient_id.as_deref());
    field(Some(&row.action));
    field(row.entity_type.as_deref());
    field(row.entity_id.as_deref());
    field(Some(&row.outcome));
    field(row.detail.as_deref());
    field(row.request_id.as_deref());
    field(row.client_address.as_deref());
    field(Some(&row.prev_hash));
    hex::encode(hasher.finalize())
}

/// Appends `event` to the trail inside `txn`, the transaction of the change it describes, so the
/// change and its audit row commit or roll back together. Writers are serialized by the
/// `audit_head` row, across every server sharing the database.
pub async fn record(txn: &DatabaseTransaction, event: AuditEvent) -> Result<(), DbErr> {
    // Take the head's lock before reading it: a no-op update.
    audit_head::Entity::update_many()
        .col_expr(audit_head::Column::LastSeq, Expr::col(audit_head::Column::LastSeq))
        .filter(audit_head::Column::Id.eq(1))
        .exec(txn)
        .await?;
    let head = audit_head::Entity::find_by_id(1)
        .one(txn)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("audit_head".into()))?;
    // People and records are named by UUIDs (36 characters, the columns' width). A longer "id"
    // is something typed into a request: it is not kept as an id (cut short, it could name
    // someone it does not), and the detail says one was given.
    let mut event = event;
    let fits = |v: &Option<String>| v.as_ref().is_none_or(|v| v.chars().count() <= 36);
    if !(fits(&event.actor) && fits(&event.on_behalf_of) && fits(&event.patient)) {
        event.detail = Some(format!("{} (an id longer than 36 characters was given; not kept)", event.detail.unwrap_or_default()).trim_start().to_string());
        for id in [&mut event.actor, &mut event.on_behalf_of, &mut event.patient] {
            if !fits(id) {
                *id = None;
            }
        }
    }
    let (entity_type, entity_id) = match event.entity {
        Some((kind, id)) => (Some(kind.to_string()), Some(id)),
        None => (None, None),
    };
    let mut row = audit_event::Model {
        seq: head.last_seq + 1,
        occurred_at_ms: super::db::now_ms(),
        actor_user_id: event.actor,
        on_behalf_of: event.on_behalf_of,
        patient_id: event.patient,
        action: event.action.as_str().to_string(),
        entity_type,
        entity_id: clip(entity_id, 64),
        outcome: event.outcome.as_str().to_string(),
        detail: clip(event.detail, 200),
        request_id: clip(event.request_id, 64),
        client_address: clip(event.client_address, 64),
        prev_hash: head.last_hash,
        hash: String::new(),
    };
    row.hash = row_hash(&row);
    let (seq, hash) = (row.seq, row.hash.clone());
    audit_event::Entity::insert(audit_event::ActiveModel::from(row)).exec(txn).await?;
    audit_head::Entity::update(audit_head::ActiveModel {
        id: Set(1),
        last_seq: Set(seq),
        last_hash: Set(hash),
    })
    .exec(txn)
    .await?;
    Ok(())
}

/// Records an event that accompanies no change (a failed sign-in, a read) in its own transaction.
pub async fn record_alone(db: &DatabaseConnection, event: AuditEvent) -> Result<(), DbErr> {
    let txn = super::db::write_transaction(db).await?;
    record(&txn, event).await?;
    txn.commit().await
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainReport {
    /// Every row is present and unaltered.
    Intact { rows: i64, head_hash: String },
    /// The row's stored fields no longer match its hash (it was edited).
    Altered { seq: i64 },
    /// A row is missing (deleted) before or at this sequence number.
    Missing { seq: i64 },
}

impl std::fmt::Display for ChainReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChainReport::Intact { rows, head_hash } => {
                write!(f, "The audit trail is intact: {rows} event(s); last hash {head_hash}.")
            }
            ChainReport::Altered { seq } => {
                write!(f, "The audit trail was altered: event {seq} does not match its hash.")
            }
            ChainReport::Missing { seq } => {
                write!(f, "The audit trail is incomplete: event {seq} is missing.")
            }
        }
    }
}

/// Walks the whole chain in order, a page at a time, and names the first altered or missing row.
pub async fn verify(db: &impl ConnectionTrait) -> Result<ChainReport, DbErr> {
    const PAGE: u64 = 1000;
    let mut expected_seq = 1;
    let mut prev_hash = GENESIS_HASH.to_string();
    loop {
        let rows = audit_event::Entity::find()
            .filter(audit_event::Column::Seq.gte(expected_seq))
            .order_by_asc(audit_event::Column::Seq)
            .limit(PAGE)
            .all(db)
            .await?;
        let done = (rows.len() as u64) < PAGE;
        for row in rows {
            if row.seq != expected_seq {
                return Ok(ChainReport::Missing { seq: expected_seq });
            }
            // An edited row fails its own hash; a row replaced wholesale with a recomputed hash
            // breaks the link from its successor (or from the head).
            if row.prev_hash != prev_hash || row_hash(&row) != row.hash {
                return Ok(ChainReport::Altered { seq: row.seq });
            }
            prev_hash = row.hash;
            expected_seq += 1;
        }
        if done {
            break;
        }
    }
    let head = audit_head::Entity::find_by_id(1)
        .one(db)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("audit_head".into()))?;
    let rows = expected_seq - 1;
    if head.last_seq > rows {
        // The newest rows were deleted.
        return Ok(ChainReport::Missing { seq: rows + 1 });
    }
    if head.last_hash != prev_hash {
        return Ok(ChainReport::Altered { seq: rows });
    }
    Ok(ChainReport::Intact { rows, head_hash: prev_hash })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> audit_event::Model {
        audit_event::Model {
            seq: 7,
            occurred_at_ms: 1_790_000_000_000,
            actor_user_id: Some("u1".into()),
            on_behalf_of: None,
            patient_id: Some("p1".into()),
            action: "patient_read".into(),
            entity_type: Some("patient".into()),
            entity_id: Some("p1".into()),
            outcome: "success".into(),
            detail: None,
            request_id: Some("r1".into()),
            client_address: Some("127.0.0.1".into()),
            prev_hash: GENESIS_HASH.into(),
            hash: String::new(),
        }
    }

    #[test]
    fn every_field_is_covered_by_the_hash() {
        let base = row_hash(&sample());
        let edits: Vec<fn(&mut audit_event::Model)> = vec![
            |r| r.seq = 8,
            |r| r.occurred_at_ms += 1,
            |r| r.actor_user_id = Some("u2".into()),
            |r| r.on_behalf_of = Some("u1".into()),
            |r| r.patient_id = None,
            |r| r.action = "patient_search".into(),
            |r| r.entity_type = None,
            |r| r.entity_id = Some("p2".into()),
            |r| r.outcome = "denied".into(),
            |r| r.detail = Some("x".into()),
            |r| r.request_id = None,
            |r| r.client_address = Some("10.0.0.1".into()),
            |r| r.prev_hash = "1".repeat(64),
        ];
        for (i, edit) in edits.into_iter().enumerate() {
            let mut row = sample();
            edit(&mut row);
            assert_ne!(row_hash(&row), base, "edit {i} went unnoticed");
        }
    }

    #[test]
    fn field_boundaries_cannot_be_shifted() {
        let mut a = sample();
        a.actor_user_id = Some("ab".into());
        a.on_behalf_of = Some("c".into());
        let mut b = sample();
        b.actor_user_id = Some("a".into());
        b.on_behalf_of = Some("bc".into());
        assert_ne!(row_hash(&a), row_hash(&b));
    }
}
