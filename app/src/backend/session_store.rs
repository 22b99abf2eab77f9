//! A tower-sessions store over sea-orm, so sessions live in the portal's own database (SQLite or
//! PostgreSQL) and several stateless servers can share them. The sqlx-based store cannot be used:
//! it is built on an older tower-sessions core and sqlx (see STACK.md).

use async_trait::async_trait;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ColumnTrait, DatabaseConnection, DbErr, EntityTrait, QueryFilter, Set};
use std::collections::HashMap;
use time::OffsetDateTime;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, ExpiredDeletion, SessionStore};

mod entity {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "tower_session")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        #[sea_orm(column_type = "Text")]
        pub data: String,
        /// Unix seconds.
        pub expires_at: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

use entity::{ActiveModel, Column, Entity};

/// The purpose a session store's key is derived for (`FileKeys::derive`).
pub const SESSION_ID_PURPOSE: &str = "session-id";

/// Session store backed by the `tower_session` table.
#[derive(Clone, Debug)]
pub struct SeaOrmSessionStore {
    db: DatabaseConnection,
    /// The key of the stored ids' HMAC: the table holds `HMAC(key, id)`, the cookie the id, so
    /// a copy of the database (a backup, a replica, a read-only SQL hole) opens no session.
    key: [u8; 32],
    /// Each session's row as this server last read or wrote it (data and expiry), so a save
    /// that changes nothing but moves the expiry by less than [`EXPIRY_WRITE_SECS`] is skipped.
    rows: std::sync::Arc<std::sync::Mutex<HashMap<String, (String, i64)>>>,
}

/// The cookie session's expiry (the absolute sign-in limit, counted from the last request) is
/// rewritten only when it moves by at least this much: every page used to write its session row
/// (issue 21). The sign-in's own idle limit is enforced on `login_session`, exactly.
pub const EXPIRY_WRITE_SECS: i64 = 60;

impl SeaOrmSessionStore {
    /// `key`: `FileKeys::derive(SESSION_ID_PURPOSE)` (the same on every server sharing the
    /// database).
    pub fn new(db: DatabaseConnection, key: [u8; 32]) -> Self {
        Self { db, key, rows: Default::default() }
    }

    fn remember(&self, stored_id: &str, data: &str, expires_at: i64) {
        let mut rows = self.rows.lock().unwrap_or_else(|e| e.into_inner());
        // A bound, not a cache policy: forgetting only costs the next save a write.
        if rows.len() >= 100_000 {
            rows.clear();
        }
        rows.insert(stored_id.to_string(), (data.to_string(), expires_at));
    }

    fn forget(&self, stored_id: &str) {
        self.rows.lock().unwrap_or_else(|e| e.into_inner()).remove(stored_id);
    }

    /// Whether the stored row already says this, up to a small move of its expiry.
    fn unchanged(&self, stored_id: &str, data: &str, expires_at: i64) -> bool {
        let rows = self.rows.lock().unwrap_or_else(|e| e.into_inner());
        rows.get(stored_id).is_some_and(|(d, e)| d == data && (expires_at - e).abs() < EXPIRY_WRITE_SECS)
    }

    /// What the table stores for a session id.
    fn stored_id(&self, id: &Id) -> String {
        use hmac::{Hmac, Mac};
        let mut mac = <Hmac<sha2::Sha256> as Mac>::new_from_slice(&self.key).unwrap_or_else(|_| unreachable!("HMAC takes a key of any length"));
        mac.update(id.to_string().as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    /// The database the sessions live in.
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Number of stored sessions, expired or not (for tests and diagnostics).
    pub async fn count(&self) -> Result<u64, DbErr> {
        use sea_orm::PaginatorTrait;
        Entity::find().count(&self.db).await
    }
}

fn backend(e: DbErr) -> session_store::Error {
    // DbErr carries no session data, only the database's own message.
    session_store::Error::Backend(e.to_string())
}

fn row(stored_id: String, record: &Record) -> session_store::Result<ActiveModel> {
    let data = serde_json::to_string(&record.data)
        .map_err(|e| session_store::Error::Encode(e.to_string()))?;
    Ok(ActiveModel {
        id: Set(stored_id),
        data: Set(data),
        expires_at: Set(record.expiry_date.unix_timestamp()),
    })
}

fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

#[async_trait]
impl SessionStore for SeaOrmSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        // A 128-bit random id practically never collides; if it does, draw another rather than
        // overwrite someone else's session.
        loop {
            match Entity::insert(row(self.stored_id(&record.id), record)?).exec(&self.db).await {
                Ok(_) => return Ok(()),
                Err(e) if super::error::is_unique_violation(&e) => {
                    record.id = Id::default();
                }
                Err(e) => return Err(backend(e)),
            }
        }
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let stored_id = self.stored_id(&record.id);
        let data = serde_json::to_string(&record.data).map_err(|e| session_store::Error::Encode(e.to_string()))?;
        let expires_at = record.expiry_date.unix_timestamp();
        if self.unchanged(&stored_id, &data, expires_at) {
            return Ok(());
        }
        Entity::insert(row(stored_id.clone(), record)?)
            .on_conflict(
                OnConflict::column(Column::Id)
                    .update_columns([Column::Data, Column::ExpiresAt])
                    .to_owned(),
            )
            .exec(&self.db)
            .await
            .map_err(backend)?;
        self.remember(&stored_id, &data, expires_at);
        Ok(())
    }

    async fn load(&self, session_id: &Id) -> session_store::Result<Option<Record>> {
        let found = Entity::find_by_id(self.stored_id(session_id))
            .filter(Column::ExpiresAt.gt(now()))
            .one(&self.db)
            .await
            .map_err(backend)?;
        let Some(model) = found else { return Ok(None) };
        self.remember(&model.id, &model.data, model.expires_at);
        let data: HashMap<String, serde_json::Value> = serde_json::from_str(&model.data)
            .map_err(|e| session_store::Error::Decode(e.to_string()))?;
        let expiry_date = OffsetDateTime::from_unix_timestamp(model.expires_at)
            .map_err(|e| session_store::Error::Decode(e.to_string()))?;
        Ok(Some(Record { id: *session_id, data, expiry_date }))
    }

    async fn delete(&self, session_id: &Id) -> session_store::Result<()> {
        self.forget(&self.stored_id(session_id));
        Entity::delete_by_id(self.stored_id(session_id)).exec(&self.db).await.map(|_| ()).map_err(backend)
    }
}

#[async_trait]
impl ExpiredDeletion for SeaOrmSessionStore {
    async fn delete_expired(&self) -> session_store::Result<()> {
        Entity::delete_many()
            .filter(Column::ExpiresAt.lte(now()))
            .exec(&self.db)
            .await
            .map(|_| ())
            .map_err(backend)
    }
}
