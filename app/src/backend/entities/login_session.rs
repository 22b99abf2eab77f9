//! `login_session`: one signed-in browser. The cookie's session holds only this row's id, so a
//! session can be listed, timed out or revoked from any server.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "login_session")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub user_id: String,
    pub created_at_ms: i64,
    pub last_seen_ms: i64,
    /// The absolute end of the session, whatever the activity.
    pub expires_at_ms: i64,
    pub revoked_at_ms: Option<i64>,
    pub client_address: String,
    pub user_agent: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
