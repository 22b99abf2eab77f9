//! `audit_checkpoint`: a signed point of the sealed audit chain (its number and MAC), written by
//! the sealer every so often and also to a file outside the database (`audit_checkpoint_file`).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_checkpoint")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub sealed_no: i64,
    pub mac: String,
    /// Which key sealed the chain up to here (`audit_key`'s fingerprint, never the key).
    pub key_id: String,
    pub at_ms: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
