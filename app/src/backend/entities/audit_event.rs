//! `audit_event`: the append-only audit trail (written only by `backend::audit`), sealed by an
//! HMAC chain after commit (`sealed_no`, `mac`: empty until the sealer reaches the row).
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_event")]
pub struct Model {
    /// Assigned by the database (a sequence; no lock shared by writers).
    #[sea_orm(primary_key)]
    pub seq: i64,
    pub occurred_at_ms: i64,
    pub actor_user_id: Option<String>,
    pub on_behalf_of: Option<String>,
    pub patient_id: Option<String>,
    pub action: String,
    pub entity_type: Option<String>,
    pub entity_id: Option<String>,
    pub outcome: String,
    pub detail: Option<String>,
    pub request_id: Option<String>,
    pub client_address: Option<String>,
    /// The event's place in the sealed chain.
    pub sealed_no: Option<i64>,
    /// HMAC-SHA-256 (key `audit_key`) over the event's fields and the previous sealed event's MAC.
    pub mac: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
