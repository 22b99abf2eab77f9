//! `portal keys reseal`: key rotation without losing anything. Once a new key is put first in
//! `file_keys`, everything sealed under an older key is opened and sealed again under the first:
//! released copies and intake scans (denial letters and authorizations are kept six years, 45 CFR
//! 164.530(j)), passcode links, representatives' documents and authenticator secrets (a plain one
//! stored before secrets were sealed is sealed now). Then the old key can be dropped.
//!
//! Row by row, each written in its own short transaction and only if it still holds what was read,
//! so the command can be stopped and run again: what is already under the first key is skipped.
//! A row no configured key opens is counted and reported, never changed. Audited: one event per
//! table with its count, as the command line.

use super::SystemContext;
use super::rows::{release_file, release_link, representative_document};
use crate::backend::audit::{self, AuditAction, Outcome};
use crate::backend::copies::seal::{FileKeys, Sealed};
use crate::backend::entities::app_user;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, DbErr, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};

/// Rows read at a time: released files can be megabytes each.
const BATCH: u64 = 8;

/// What holds sealed values, in the order they are resealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SealedTable {
    ReleaseFile,
    ReleaseLink,
    RepresentativeDocument,
    AuthenticatorSecret,
}

impl SealedTable {
    pub const ALL: [SealedTable; 4] = [SealedTable::ReleaseFile, SealedTable::ReleaseLink, SealedTable::RepresentativeDocument, SealedTable::AuthenticatorSecret];

    pub fn label(self) -> &'static str {
        match self {
            SealedTable::ReleaseFile => "released files and scans",
            SealedTable::ReleaseLink => "passcode links",
            SealedTable::RepresentativeDocument => "representatives' documents",
            SealedTable::AuthenticatorSecret => "authenticator secrets",
        }
    }
}

/// One table's outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResealCount {
    pub resealed: u64,
    /// Sealed under a key that is not configured, or damaged: left as they are.
    pub unreadable: u64,
}

/// One sealed value as stored: its row, what it is bound to, and the value.
struct Item {
    id: String,
    context: String,
    stored: Stored,
}

enum Stored {
    Sealed(Sealed),
    /// An authenticator secret as text: sealed (`sealed:…`) or, from before sealing, plain base32.
    Text(String),
}

impl SystemContext {
    /// How many values each table holds under another key than the first (what `reseal` will do).
    pub async fn reseal_pending(&self, keys: &FileKeys, table: SealedTable) -> Result<u64, DbErr> {
        let current = keys.current_id();
        match table {
            SealedTable::ReleaseFile => release_file::Entity::find().filter(release_file::Column::KeyId.ne(current)).count(&self.db).await,
            SealedTable::ReleaseLink => release_link::Entity::find().filter(release_link::Column::PasscodeKeyId.ne(current)).count(&self.db).await,
            SealedTable::RepresentativeDocument => representative_document::Entity::find().filter(representative_document::Column::KeyId.ne(current)).count(&self.db).await,
            SealedTable::AuthenticatorSecret => app_user::Entity::find().filter(stale_secret(current)).count(&self.db).await,
        }
    }

    /// Reseals one table under the first key; `progress(done, total)` after each row.
    pub async fn reseal(&self, keys: &FileKeys, table: SealedTable, progress: &(dyn Fn(u64, u64) + Sync)) -> Result<ResealCount, DbErr> {
        let total = self.reseal_pending(keys, table).await?;
        let mut count = ResealCount::default();
        let mut after = String::new();
        loop {
            let batch = self.batch(keys, table, &after).await?;
            let Some(last) = batch.last() else { break };
            after = last.id.clone();
            for item in batch {
                let plain = match &item.stored {
                    Stored::Sealed(sealed) => keys.open(sealed, &item.context).ok(),
                    Stored::Text(text) => match keys.open_text(text, &item.context) {
                        Some(opened) => opened.ok(),
                        None => crate::backend::auth::totp::decode_secret(text),
                    },
                };
                let written = match plain {
                    Some(plain) => self.store(keys, table, &item, &plain).await?,
                    None => false,
                };
                if written {
                    count.resealed += 1;
                } else {
                    count.unreadable += 1;
                }
                progress(count.resealed + count.unreadable, total);
            }
        }
        let outcome = if count.unreadable == 0 { Outcome::Success } else { Outcome::Failure };
        let detail = format!("{}: {} resealed under key {}, {} unreadable", table.label(), count.resealed, keys.current_id(), count.unreadable);
        audit::record_alone(&self.db, self.event(AuditAction::KeyReseal, outcome).detail(detail)).await?;
        Ok(count)
    }

    /// The next rows under another key than the first, after `after` in id order.
    async fn batch(&self, keys: &FileKeys, table: SealedTable, after: &str) -> Result<Vec<Item>, DbErr> {
        let current = keys.current_id();
        Ok(match table {
            SealedTable::ReleaseFile => release_file::Entity::find()
                .filter(release_file::Column::KeyId.ne(current))
                .filter(release_file::Column::Id.gt(after))
                .order_by_asc(release_file::Column::Id)
                .limit(BATCH)
                .all(&self.db)
                .await?
                .into_iter()
                .map(|r| Item { context: format!("{}/{}", r.id, r.request_id), id: r.id, stored: Stored::Sealed(Sealed { key_id: r.key_id, nonce: r.nonce, ciphertext: r.ciphertext }) })
                .collect(),
            SealedTable::ReleaseLink => release_link::Entity::find()
                .filter(release_link::Column::PasscodeKeyId.ne(current))
                .filter(release_link::Column::Id.gt(after))
                .order_by_asc(release_link::Column::Id)
                .limit(BATCH)
                .all(&self.db)
                .await?
                .into_iter()
                .map(|r| Item { context: format!("link/{}", r.id), id: r.id, stored: Stored::Sealed(Sealed { key_id: r.passcode_key_id, nonce: r.passcode_nonce, ciphertext: r.passcode_sealed }) })
                .collect(),
            SealedTable::RepresentativeDocument => representative_document::Entity::find()
                .filter(representative_document::Column::KeyId.ne(current))
                .filter(representative_document::Column::Id.gt(after))
                .order_by_asc(representative_document::Column::Id)
                .limit(BATCH)
                .all(&self.db)
                .await?
                .into_iter()
                .map(|r| Item { context: format!("representative/{}/{}", r.request_id, r.id), id: r.id, stored: Stored::Sealed(Sealed { key_id: r.key_id, nonce: r.nonce, ciphertext: r.ciphertext }) })
                .collect(),
            SealedTable::AuthenticatorSecret => app_user::Entity::find()
                .filter(stale_secret(current))
                .filter(app_user::Column::Id.gt(after))
                .order_by_asc(app_user::Column::Id)
                .limit(BATCH)
                .all(&self.db)
                .await?
                .into_iter()
                .filter_map(|r| Some(Item { context: format!("totp/{}", r.id), stored: Stored::Text(r.totp_secret?), id: r.id }))
                .collect(),
        })
    }

    /// Writes `plain` sealed under the first key, only if the row still holds what was read
    /// (a row changed meanwhile is left for the next run). True when written.
    async fn store(&self, keys: &FileKeys, table: SealedTable, item: &Item, plain: &[u8]) -> Result<bool, DbErr> {
        let seal_failed = |_| DbErr::Custom("sealing failed".into());
        let rows = match (&item.stored, table) {
            (Stored::Sealed(old), SealedTable::ReleaseFile) => {
                let new = keys.seal(plain, &item.context).map_err(seal_failed)?;
                release_file::Entity::update_many()
                    .col_expr(release_file::Column::KeyId, Expr::value(new.key_id))
                    .col_expr(release_file::Column::Nonce, Expr::value(new.nonce))
                    .col_expr(release_file::Column::Ciphertext, Expr::value(new.ciphertext))
                    .filter(release_file::Column::Id.eq(item.id.as_str()))
                    .filter(release_file::Column::Nonce.eq(old.nonce.clone()))
                    .exec(&self.db)
                    .await?
            }
            (Stored::Sealed(old), SealedTable::ReleaseLink) => {
                let new = keys.seal(plain, &item.context).map_err(seal_failed)?;
                release_link::Entity::update_many()
                    .col_expr(release_link::Column::PasscodeKeyId, Expr::value(new.key_id))
                    .col_expr(release_link::Column::PasscodeNonce, Expr::value(new.nonce))
                    .col_expr(release_link::Column::PasscodeSealed, Expr::value(new.ciphertext))
                    .filter(release_link::Column::Id.eq(item.id.as_str()))
                    .filter(release_link::Column::PasscodeNonce.eq(old.nonce.clone()))
                    .exec(&self.db)
                    .await?
            }
            (Stored::Sealed(old), SealedTable::RepresentativeDocument) => {
                let new = keys.seal(plain, &item.context).map_err(seal_failed)?;
                representative_document::Entity::update_many()
                    .col_expr(representative_document::Column::KeyId, Expr::value(new.key_id))
                    .col_expr(representative_document::Column::Nonce, Expr::value(new.nonce))
                    .col_expr(representative_document::Column::Ciphertext, Expr::value(new.ciphertext))
                    .filter(representative_document::Column::Id.eq(item.id.as_str()))
                    .filter(representative_document::Column::Nonce.eq(old.nonce.clone()))
                    .exec(&self.db)
                    .await?
            }
            (Stored::Text(old), _) => {
                let new = keys.seal_text(plain, &item.context).map_err(seal_failed)?;
                app_user::Entity::update_many()
                    .col_expr(app_user::Column::TotpSecret, Expr::value(new))
                    .filter(app_user::Column::Id.eq(item.id.as_str()))
                    .filter(app_user::Column::TotpSecret.eq(old.as_str()))
                    .exec(&self.db)
                    .await?
            }
            (Stored::Sealed(_), SealedTable::AuthenticatorSecret) => return Ok(false),
        };
        Ok(rows.rows_affected == 1)
    }
}

/// An authenticator secret not sealed under `current`: under another key, or still plain.
fn stale_secret(current: &str) -> Condition {
    Condition::all().add(app_user::Column::TotpSecret.is_not_null()).add(app_user::Column::TotpSecret.not_like(format!("sealed:{current}:%")))
}
