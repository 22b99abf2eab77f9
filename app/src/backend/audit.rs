//! The one audit chokepoint (ONC 45 CFR 170.315(d)(2), (d)(3)): every sign-in, sign-out, time-out,
//! MFA event, role change and every read or change of patient data goes through [`record`] (a
//! change: in its own transaction) or [`AuditSink`] / [`record_alone`] (a read: the answer waits
//! until the event is committed, so nothing is shown that is not audited, 164.312(b)).
//!
//! Scale without a global lock: an event is one insert, numbered by the database (`seq`). Tamper
//! evidence comes afterwards from the [`Sealer`], one at a time across all servers (a PostgreSQL
//! advisory lock; SQLite's write lock): it chains committed events in the order it finds them
//! with HMAC-SHA-256 under `audit_key`, a key that is not in the database, so whoever can write
//! the database still cannot rewrite the trail unnoticed; and it writes a signed checkpoint every
//! [`CHECKPOINT_EVENTS`] events or [`CHECKPOINT_MS`], to `audit_checkpoint` and to a file outside
//! the database, which catches deleting the newest rows. Triggers refuse UPDATE (except the
//! sealer's one) and DELETE on both databases. [`verify`] checks all of it in one snapshot.
//!
//! What goes in: identifiers (user, patient, entity), a fixed action name, the outcome and a short,
//! fixed reason code. Never names, clinical content, passwords, tokens or session ids.

use super::entities::{audit_checkpoint, audit_event};
use super::request::RequestMeta;
use hmac::{Hmac, Mac};
use sea_orm::{
    AccessMode, ActiveValue::{NotSet, Set}, ColumnTrait, ConnectionTrait, DatabaseBackend, DatabaseConnection,
    DatabaseTransaction, DbErr, EntityTrait, IsolationLevel, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
    Statement, TransactionTrait,
};
use sha2::Sha256;
use std::path::{Path, PathBuf};
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

/// The row an event becomes, unnumbered (the database numbers it) and unsealed.
fn new_row(event: AuditEvent) -> audit_event::ActiveModel {
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
    audit_event::ActiveModel {
        seq: NotSet,
        occurred_at_ms: Set(super::db::now_ms()),
        actor_user_id: Set(event.actor),
        on_behalf_of: Set(event.on_behalf_of),
        patient_id: Set(event.patient),
        action: Set(event.action.as_str().to_string()),
        entity_type: Set(entity_type),
        entity_id: Set(clip(entity_id, 64)),
        outcome: Set(event.outcome.as_str().to_string()),
        detail: Set(clip(event.detail, 200)),
        request_id: Set(clip(event.request_id, 64)),
        client_address: Set(clip(event.client_address, 64)),
        sealed_no: Set(None),
        mac: Set(None),
    }
}

/// Appends `event` to the trail inside `txn`, the transaction of the change it describes, so the
/// change and its audit row commit or roll back together. One insert: no lock is shared with
/// other writers (the sealer chains it after commit).
pub async fn record(txn: &DatabaseTransaction, event: AuditEvent) -> Result<(), DbErr> {
    audit_event::Entity::insert(new_row(event)).exec(txn).await?;
    Ok(())
}

/// Records an event that accompanies no change (a failed sign-in, a read) in its own transaction.
/// Hot paths (record reads) go through an [`AuditSink`] instead, which commits many at once.
pub async fn record_alone(db: &DatabaseConnection, event: AuditEvent) -> Result<(), DbErr> {
    let txn = super::db::write_transaction(db).await?;
    record(&txn, event).await?;
    txn.commit().await
}

type Waiting = (AuditEvent, tokio::sync::oneshot::Sender<Result<(), String>>);

/// Group commit for audited reads: events queue here and one task writes all that are waiting in
/// one transaction, then answers each. A read's response waits for its answer, so nothing is
/// shown that is not audited (164.312(b)), while a burst of reads costs one commit, not one each
/// (on SQLite, one writer instead of many contending for the write lock).
#[derive(Clone)]
pub struct AuditSink {
    queue: tokio::sync::mpsc::Sender<Waiting>,
    depth: std::sync::Arc<std::sync::atomic::AtomicUsize>,
}

/// At most this many events per commit (a multi-row insert stays well under every database's
/// limit on bound values).
const GROUP_MAX: usize = 256;

impl std::fmt::Debug for AuditSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuditSink").field("depth", &self.depth()).finish()
    }
}

impl AuditSink {
    /// Starts the writing task on the current runtime.
    pub fn start(db: DatabaseConnection) -> AuditSink {
        let (queue, mut incoming) = tokio::sync::mpsc::channel::<Waiting>(4096);
        let depth = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = depth.clone();
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(GROUP_MAX);
            // Whatever queued while the last commit ran goes into the next one: no timer, the
            // group grows with the load.
            while incoming.recv_many(&mut batch, GROUP_MAX).await > 0 {
                counter.fetch_sub(batch.len(), std::sync::atomic::Ordering::Relaxed);
                let (events, answers): (Vec<_>, Vec<_>) = batch.drain(..).unzip();
                let result = write_group(&db, events).await.map_err(|e| e.to_string());
                for answer in answers {
                    // A caller that went away (the client closed) needs no answer.
                    let _ = answer.send(result.clone());
                }
            }
        });
        AuditSink { queue, depth }
    }

    /// Records `event` and returns once it is committed.
    pub async fn record(&self, event: AuditEvent) -> Result<(), DbErr> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        self.depth.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if self.queue.send((event, answer)).await.is_err() {
            self.depth.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            return Err(DbErr::Custom("the audit writer has stopped".into()));
        }
        match answered.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(DbErr::Custom(format!("auditing failed: {e}"))),
            Err(_) => Err(DbErr::Custom("the audit writer has stopped".into())),
        }
    }

    /// Events waiting to be written (for `/metrics`).
    pub fn depth(&self) -> usize {
        self.depth.load(std::sync::atomic::Ordering::Relaxed)
    }
}

async fn write_group(db: &DatabaseConnection, events: Vec<AuditEvent>) -> Result<(), DbErr> {
    let txn = super::db::write_transaction(db).await?;
    audit_event::Entity::insert_many(events.into_iter().map(new_row)).exec_without_returning(&txn).await?;
    txn.commit().await
}

/// The key that seals the trail (`audit_key`: 32 bytes, base64). It is never stored in the
/// database: whoever can write the database cannot forge a seal without it.
#[derive(Clone)]
pub struct AuditKey {
    key: [u8; 32],
    id: String,
}

impl std::fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The fingerprint only: key bytes never reach a log.
        f.debug_struct("AuditKey").field("id", &self.id).finish()
    }
}

impl AuditKey {
    pub fn from_bytes(key: [u8; 32]) -> AuditKey {
        let mut mac = Self::hmac(&key);
        mac.update(b"portal audit key fingerprint");
        let id = hex::encode(&mac.finalize().into_bytes()[..8]);
        AuditKey { key, id }
    }

    /// Reads the setting: standard base64 of exactly 32 bytes.
    pub fn parse(text: &str) -> Result<AuditKey, String> {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|_| "the audit key is not base64 (32 random bytes, e.g. `openssl rand -base64 32`)".to_string())?;
        let key: [u8; 32] = bytes.try_into().map_err(|_| "the audit key must be 32 bytes (base64 of 32 random bytes)".to_string())?;
        Ok(AuditKey::from_bytes(key))
    }

    /// The key development and tests use when none is configured (production refuses to start
    /// without one: settings validation).
    pub fn development() -> AuditKey {
        AuditKey::from_bytes(*b"development-only-audit-key-00000")
    }

    /// A fingerprint of the key (16 hex digits): stored with checkpoints, so a wrong key is named
    /// as such.
    pub fn id(&self) -> &str {
        &self.id
    }

    fn hmac(key: &[u8]) -> Hmac<Sha256> {
        <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"))
    }

    /// The seal of one event: HMAC over every stored field, each length-prefixed (so no two
    /// different rows serialize alike), its place in the chain and the previous seal.
    pub fn seal_event(&self, row: &audit_event::Model, sealed_no: i64, prev: &str) -> String {
        let mut mac = Self::hmac(&self.key);
        let mut field = |value: Option<&str>| match value {
            Some(v) => mac.update(format!("{}:{v};", v.len()).as_bytes()),
            None => mac.update(b"-;"),
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
        field(Some(&sealed_no.to_string()));
        field(Some(prev));
        hex::encode(mac.finalize().into_bytes())
    }

    /// The signature of a checkpoint line in the file outside the database.
    fn sign_checkpoint(&self, point: &audit_checkpoint::Model) -> String {
        let mut mac = Self::hmac(&self.key);
        mac.update(format!("checkpoint;{};{};{};{}", point.sealed_no, point.mac, point.key_id, point.at_ms).as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

/// What the first sealed event chains to.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";
/// A checkpoint at least every this many sealed events...
pub const CHECKPOINT_EVENTS: i64 = 1000;
/// ...or this often, when anything was sealed since the last.
pub const CHECKPOINT_MS: i64 = 10_000;
/// Events sealed per transaction (the sealer loops until none is left).
const SEAL_BATCH: u64 = 500;
/// The PostgreSQL advisory lock that elects the one sealer of a round across servers.
const SEALER_LOCK: i64 = 0x6175_6469_745f_7365; // "audit_se"

/// Chains committed events under the key; one at a time across every server sharing the
/// database.
#[derive(Clone, Debug)]
pub struct Sealer {
    pub key: AuditKey,
    /// The append-only file outside the database that checkpoints also go to (`None`: none).
    pub checkpoint_file: Option<PathBuf>,
    pub checkpoint_events: i64,
    pub checkpoint_ms: i64,
}

/// What one call of [`Sealer::seal`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SealRound {
    pub sealed: u64,
    /// The chain's length afterwards (0 when another server held the sealer's lock).
    pub last_sealed_no: i64,
    pub checkpoint: bool,
}

impl Sealer {
    pub fn new(key: AuditKey, checkpoint_file: Option<PathBuf>) -> Sealer {
        Sealer { key, checkpoint_file, checkpoint_events: CHECKPOINT_EVENTS, checkpoint_ms: CHECKPOINT_MS }
    }

    /// Seals every committed event not yet sealed (in rounds of [`SEAL_BATCH`]).
    pub async fn seal(&self, db: &DatabaseConnection) -> Result<SealRound, DbErr> {
        let mut total = SealRound::default();
        loop {
            let round = self.seal_batch(db).await?;
            total.sealed += round.sealed;
            total.last_sealed_no = total.last_sealed_no.max(round.last_sealed_no);
            total.checkpoint |= round.checkpoint;
            if round.sealed < SEAL_BATCH {
                return Ok(total);
            }
        }
    }

    async fn seal_batch(&self, db: &DatabaseConnection) -> Result<SealRound, DbErr> {
        let txn = super::db::write_transaction(db).await?;
        let backend = txn.get_database_backend();
        if backend == DatabaseBackend::Postgres {
            // One sealer at a time across servers; a server that finds the lock taken leaves the
            // round to the holder (released at commit).
            let row = txn
                .query_one_raw(Statement::from_sql_and_values(backend, "SELECT pg_try_advisory_xact_lock($1) AS got", [SEALER_LOCK.into()]))
                .await?;
            if !row.map(|r| r.try_get::<bool>("", "got")).transpose()?.unwrap_or(false) {
                return Ok(SealRound::default());
            }
        }
        let last = audit_event::Entity::find()
            .filter(audit_event::Column::SealedNo.is_not_null())
            .order_by_desc(audit_event::Column::SealedNo)
            .one(&txn)
            .await?;
        let (mut sealed_no, mut prev) = match last {
            Some(row) => (row.sealed_no.unwrap_or(0), row.mac.unwrap_or_default()),
            None => (0, GENESIS.to_string()),
        };
        let pending = audit_event::Entity::find()
            .filter(audit_event::Column::Mac.is_null())
            .order_by_asc(audit_event::Column::Seq)
            .limit(SEAL_BATCH)
            .all(&txn)
            .await?;
        if pending.is_empty() {
            return Ok(SealRound { sealed: 0, last_sealed_no: sealed_no, checkpoint: false });
        }
        let mut seals = Vec::with_capacity(pending.len());
        for row in &pending {
            sealed_no += 1;
            prev = self.key.seal_event(row, sealed_no, &prev);
            seals.push((row.seq, sealed_no, prev.clone()));
        }
        write_seals(&txn, &seals).await?;
        let newest_point = audit_checkpoint::Entity::find().order_by_desc(audit_checkpoint::Column::SealedNo).one(&txn).await?;
        let now = super::db::now_ms();
        let due = newest_point.as_ref().is_none_or(|p| sealed_no - p.sealed_no >= self.checkpoint_events || now - p.at_ms >= self.checkpoint_ms);
        let point = audit_checkpoint::Model { sealed_no, mac: prev, key_id: self.key.id().to_string(), at_ms: now };
        if due {
            audit_checkpoint::Entity::insert(audit_checkpoint::ActiveModel::from(point.clone())).exec(&txn).await?;
        }
        txn.commit().await?;
        // After the commit: the file never names a checkpoint the database does not hold, so a
        // verification that reads the file first and the database second cannot raise a false
        // alarm on a live server.
        if due && let Some(path) = &self.checkpoint_file {
            append_checkpoint(path, &point, &self.key).map_err(|e| DbErr::Custom(format!("the audit checkpoint file {} could not be written: {e}", path.display())))?;
        }
        Ok(SealRound { sealed: seals.len() as u64, last_sealed_no: sealed_no, checkpoint: due })
    }

    /// Runs [`Sealer::seal`] every `every` until the task is dropped.
    pub fn spawn(self, db: DatabaseConnection, every: std::time::Duration) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = self.seal(&db).await {
                    tracing::warn!(error = %e, "the audit sealer could not run; trying again");
                }
            }
        })
    }
}

/// Writes the seals of one batch with one statement (a round trip per row would cost seconds
/// on a network database).
async fn write_seals(txn: &DatabaseTransaction, seals: &[(i64, i64, String)]) -> Result<(), DbErr> {
    let backend = txn.get_database_backend();
    let mut values = Vec::with_capacity(seals.len() * 3);
    let mut rows = Vec::with_capacity(seals.len());
    for (i, (seq, no, mac)) in seals.iter().enumerate() {
        rows.push(match backend {
            DatabaseBackend::Postgres => format!("(${}::bigint, ${}::bigint, ${}::varchar)", 3 * i + 1, 3 * i + 2, 3 * i + 3),
            _ => "(?, ?, ?)".to_string(),
        });
        values.extend([(*seq).into(), (*no).into(), mac.clone().into()]);
    }
    let sql = format!(
        "UPDATE audit_event SET sealed_no = v.no, mac = v.mac FROM (VALUES {}) AS v(seq, no, mac) WHERE audit_event.seq = v.seq",
        rows.join(", ")
    );
    let sql = if backend == DatabaseBackend::Postgres {
        sql
    } else {
        // SQLite names a VALUES list's columns column1, column2...
        sql.replace("AS v(seq, no, mac)", "AS v").replace("v.no", "v.column2").replace("v.mac", "v.column3").replace("v.seq", "v.column1")
    };
    txn.execute_raw(Statement::from_sql_and_values(backend, sql, values)).await?;
    Ok(())
}

/// Opens the checkpoint file for appending, creating it (and its directory) if need be.
pub fn open_checkpoint_file(path: &Path) -> std::io::Result<std::fs::File> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    std::fs::OpenOptions::new().create(true).append(true).open(path)
}

/// One line per checkpoint, JSON, signed with the key.
fn append_checkpoint(path: &Path, point: &audit_checkpoint::Model, key: &AuditKey) -> std::io::Result<()> {
    use std::io::Write;
    let line = serde_json::json!({
        "sealed_no": point.sealed_no,
        "mac": point.mac,
        "key_id": point.key_id,
        "at_ms": point.at_ms,
        "sig": key.sign_checkpoint(point),
    });
    let mut file = open_checkpoint_file(path)?;
    file.write_all(format!("{line}\n").as_bytes())?;
    file.sync_data()
}

/// The last checkpoint line of the file (only its tail is read: the file grows for years).
fn last_checkpoint_line(path: &Path) -> std::io::Result<Option<String>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let len = file.metadata()?.len();
    file.seek(SeekFrom::Start(len.saturating_sub(4096)))?;
    let mut tail = String::new();
    file.read_to_string(&mut tail)?;
    Ok(tail.lines().rev().map(str::trim).find(|l| !l.is_empty()).map(str::to_string))
}

/// The external checkpoint, checked against its signature.
fn external_checkpoint(path: &Path, key: &AuditKey) -> Result<Option<audit_checkpoint::Model>, ChainReport> {
    let forged = |why: &str| ChainReport::CheckpointForged { reason: why.to_string() };
    let line = last_checkpoint_line(path).map_err(|e| forged(&format!("the checkpoint file {} cannot be read: {e}", path.display())))?;
    let Some(line) = line else { return Ok(None) };
    let value: serde_json::Value = serde_json::from_str(&line).map_err(|_| forged("its last line is not a checkpoint"))?;
    let text = |name: &str| value.get(name).and_then(|v| v.as_str()).map(str::to_string);
    let number = |name: &str| value.get(name).and_then(|v| v.as_i64());
    let (Some(sealed_no), Some(mac), Some(key_id), Some(at_ms), Some(sig)) = (number("sealed_no"), text("mac"), text("key_id"), number("at_ms"), text("sig")) else {
        return Err(forged("its last line lacks a field"));
    };
    let point = audit_checkpoint::Model { sealed_no, mac, key_id, at_ms };
    if point.key_id != key.id() {
        return Err(ChainReport::WrongKey { sealed_with: point.key_id, configured: key.id().to_string() });
    }
    if key.sign_checkpoint(&point) != sig {
        return Err(forged("its last line's signature does not match"));
    }
    Ok(Some(point))
}

/// What [`verify`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChainReport {
    /// Every sealed event is present and unaltered, every checkpoint agrees, the guards are in
    /// place. `pending` events are committed but not sealed yet (normal on a live server).
    Intact { sealed: i64, pending: u64, last_mac: String, checkpoint: Option<i64> },
    /// The event's stored fields no longer match its seal (it was edited or replaced).
    Altered { seq: i64 },
    /// The event sealed at this place in the chain is gone.
    Missing { sealed_no: i64 },
    /// The newest events were deleted: a checkpoint names more than the trail holds.
    Truncated { checkpoint: i64, sealed: i64 },
    /// The chain was sealed with another key than the one configured.
    WrongKey { sealed_with: String, configured: String },
    /// A checkpoint disagrees with the chain (the chain was rebuilt, or the checkpoint edited).
    CheckpointMismatch { sealed_no: i64 },
    /// The checkpoint file outside the database is damaged or forged.
    CheckpointForged { reason: String },
    /// A trigger that keeps the trail append-only was dropped or disabled.
    Unguarded { trigger: String },
}

impl std::fmt::Display for ChainReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ChainReport::Intact { sealed, pending, last_mac, checkpoint } => {
                write!(f, "The audit trail is intact: {sealed} sealed event(s), {pending} awaiting the sealer; last seal {last_mac}")?;
                match checkpoint {
                    Some(n) => write!(f, "; the external checkpoint (event {n}) agrees."),
                    None => write!(f, "; no external checkpoint yet."),
                }
            }
            ChainReport::Altered { seq } => write!(f, "The audit trail was altered: event {seq} does not match its seal."),
            ChainReport::Missing { sealed_no } => write!(f, "The audit trail is incomplete: the event sealed as number {sealed_no} is missing."),
            ChainReport::Truncated { checkpoint, sealed } => {
                write!(f, "The audit trail was cut short: a checkpoint names {checkpoint} sealed event(s), the database holds {sealed}.")
            }
            ChainReport::WrongKey { sealed_with, configured } => {
                write!(f, "The audit trail was sealed with key {sealed_with}, not with the configured audit_key ({configured}).")
            }
            ChainReport::CheckpointMismatch { sealed_no } => {
                write!(f, "The audit trail was rebuilt: the checkpoint at event {sealed_no} does not match the chain.")
            }
            ChainReport::CheckpointForged { reason } => write!(f, "The audit checkpoint file is not trustworthy: {reason}."),
            ChainReport::Unguarded { trigger } => {
                write!(f, "The audit trail is unguarded: trigger {trigger} was dropped or disabled.")
            }
        }
    }
}

/// The triggers that keep the trail append-only (named by the migration).
fn guards(backend: DatabaseBackend) -> &'static [&'static str] {
    match backend {
        DatabaseBackend::Postgres => &["audit_event_append_only", "audit_event_no_truncate", "audit_checkpoint_append_only", "audit_checkpoint_no_truncate"],
        _ => &["audit_event_no_update", "audit_event_no_delete", "audit_checkpoint_no_update", "audit_checkpoint_no_delete"],
    }
}

async fn missing_guard(txn: &DatabaseTransaction) -> Result<Option<String>, DbErr> {
    let backend = txn.get_database_backend();
    let sql = match backend {
        DatabaseBackend::Postgres => {
            "SELECT tgname AS name FROM pg_trigger WHERE NOT tgisinternal AND tgenabled <> 'D' \
             AND tgrelid IN ('audit_event'::regclass, 'audit_checkpoint'::regclass)"
        }
        _ => "SELECT name FROM sqlite_master WHERE type = 'trigger'",
    };
    let rows = txn.query_all_raw(Statement::from_string(backend, sql)).await?;
    let present: Vec<String> = rows.iter().filter_map(|r| r.try_get::<String>("", "name").ok()).collect();
    Ok(guards(backend).iter().find(|g| !present.iter().any(|p| p == *g)).map(|g| g.to_string()))
}

/// Checks the whole trail in one snapshot: the seals in order under `key`, every checkpoint (in
/// the database, and the last one in `checkpoint_file`), and the triggers. Safe on a live server:
/// the file is read before the snapshot is taken, and the sealer writes it only after commit.
pub async fn verify(db: &DatabaseConnection, key: &AuditKey, checkpoint_file: Option<&Path>) -> Result<ChainReport, DbErr> {
    let external = match checkpoint_file.map(|path| external_checkpoint(path, key)).transpose() {
        Ok(point) => point.flatten(),
        Err(report) => return Ok(report),
    };
    // One snapshot: REPEATABLE READ on PostgreSQL; on SQLite a read transaction is one already
    // (WAL: from its first read on).
    let txn = match db.get_database_backend() {
        DatabaseBackend::Postgres => db.begin_with_config(Some(IsolationLevel::RepeatableRead), Some(AccessMode::ReadOnly)).await?,
        _ => db.begin().await?,
    };
    let report = verify_in(&txn, key, external).await;
    txn.rollback().await.ok();
    report
}

async fn verify_in(txn: &DatabaseTransaction, key: &AuditKey, external: Option<audit_checkpoint::Model>) -> Result<ChainReport, DbErr> {
    const PAGE: u64 = 1000;
    let points = audit_checkpoint::Entity::find().order_by_asc(audit_checkpoint::Column::SealedNo).all(txn).await?;
    if let Some(point) = points.iter().rev().find(|p| p.key_id != key.id()) {
        return Ok(ChainReport::WrongKey { sealed_with: point.key_id.clone(), configured: key.id().to_string() });
    }
    let mut points = points.into_iter().peekable();
    let mut expected = 1;
    let mut prev = GENESIS.to_string();
    loop {
        let rows = audit_event::Entity::find()
            .filter(audit_event::Column::SealedNo.gte(expected))
            .order_by_asc(audit_event::Column::SealedNo)
            .limit(PAGE)
            .all(txn)
            .await?;
        let done = (rows.len() as u64) < PAGE;
        for row in rows {
            if row.sealed_no != Some(expected) {
                return Ok(ChainReport::Missing { sealed_no: expected });
            }
            let seal = key.seal_event(&row, expected, &prev);
            if row.mac.as_deref() != Some(seal.as_str()) {
                return Ok(ChainReport::Altered { seq: row.seq });
            }
            while let Some(point) = points.next_if(|p| p.sealed_no <= expected) {
                if point.sealed_no != expected || point.mac != seal {
                    return Ok(ChainReport::CheckpointMismatch { sealed_no: point.sealed_no });
                }
            }
            if let Some(point) = external.as_ref().filter(|p| p.sealed_no == expected)
                && point.mac != seal
            {
                return Ok(ChainReport::CheckpointMismatch { sealed_no: expected });
            }
            prev = seal;
            expected += 1;
        }
        if done {
            break;
        }
    }
    let sealed = expected - 1;
    // A checkpoint beyond the end: the newest rows (and perhaps their checkpoints) were deleted.
    let beyond = points.map(|p| p.sealed_no).chain(external.as_ref().map(|p| p.sealed_no)).filter(|n| *n > sealed).max();
    if let Some(checkpoint) = beyond {
        return Ok(ChainReport::Truncated { checkpoint, sealed });
    }
    if let Some(trigger) = missing_guard(txn).await? {
        return Ok(ChainReport::Unguarded { trigger });
    }
    let pending = audit_event::Entity::find().filter(audit_event::Column::Mac.is_null()).count(txn).await?;
    Ok(ChainReport::Intact { sealed, pending, last_mac: prev, checkpoint: external.map(|p| p.sealed_no) })
}

/// Committed events the sealer has not reached yet (for `/metrics`: its lag).
pub async fn unsealed(db: &impl ConnectionTrait) -> Result<u64, DbErr> {
    audit_event::Entity::find().filter(audit_event::Column::Mac.is_null()).count(db).await
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
            sealed_no: None,
            mac: None,
        }
    }

    #[test]
    fn every_field_is_covered_by_the_seal() {
        let key = AuditKey::development();
        let base = key.seal_event(&sample(), 3, GENESIS);
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
        ];
        for (i, edit) in edits.into_iter().enumerate() {
            let mut row = sample();
            edit(&mut row);
            assert_ne!(key.seal_event(&row, 3, GENESIS), base, "edit {i} went unnoticed");
        }
        assert_ne!(key.seal_event(&sample(), 4, GENESIS), base, "its place in the chain");
        assert_ne!(key.seal_event(&sample(), 3, &"1".repeat(64)), base, "the previous seal");
        assert_ne!(AuditKey::from_bytes([7; 32]).seal_event(&sample(), 3, GENESIS), base, "the key");
    }

    #[test]
    fn field_boundaries_cannot_be_shifted() {
        let key = AuditKey::development();
        let mut a = sample();
        a.actor_user_id = Some("ab".into());
        a.on_behalf_of = Some("c".into());
        let mut b = sample();
        b.actor_user_id = Some("a".into());
        b.on_behalf_of = Some("bc".into());
        assert_ne!(key.seal_event(&a, 1, GENESIS), key.seal_event(&b, 1, GENESIS));
    }

    #[test]
    fn the_key_setting_is_32_bytes_of_base64_and_never_printed() {
        let key = AuditKey::parse("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=").expect("32 bytes");
        assert_eq!(key.id().len(), 16);
        assert_ne!(key.id(), AuditKey::development().id());
        assert!(!format!("{key:?}").contains("AAECAw"));
        assert!(AuditKey::parse("c2hvcnQ=").expect_err("short").contains("32 bytes"));
        assert!(AuditKey::parse("not base64!").expect_err("garbage").contains("base64"));
    }

    #[test]
    fn a_checkpoint_line_is_read_back_and_its_signature_checked() {
        let path = std::env::temp_dir().join(format!("portal-checkpoints-{}-{}.log", std::process::id(), super::super::db::now_ms()));
        let key = AuditKey::development();
        assert_eq!(external_checkpoint(&path, &key), Ok(None), "no file yet: no checkpoint");
        for n in [5, 9] {
            append_checkpoint(&path, &audit_checkpoint::Model { sealed_no: n, mac: "ab".repeat(32), key_id: key.id().into(), at_ms: 1 }, &key).expect("written");
        }
        assert_eq!(external_checkpoint(&path, &key).expect("valid").map(|p| p.sealed_no), Some(9));
        let other = AuditKey::from_bytes([9; 32]);
        assert!(matches!(external_checkpoint(&path, &other), Err(ChainReport::WrongKey { .. })));
        let text = std::fs::read_to_string(&path).expect("read").replace("\"sealed_no\":9", "\"sealed_no\":90");
        std::fs::write(&path, text).expect("forged");
        assert!(matches!(external_checkpoint(&path, &key), Err(ChainReport::CheckpointForged { .. })));
        std::fs::remove_file(&path).ok();
    }
}
