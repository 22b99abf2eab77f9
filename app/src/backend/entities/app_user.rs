//! `app_user`: one row per person who can sign in.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "app_user")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    #[sea_orm(unique)]
    pub email: String,
    pub display_name: String,
    /// Argon2id PHC string; `None` for accounts that sign in only through OpenID Connect.
    #[sea_orm(column_type = "Text", nullable)]
    pub password_hash: Option<String>,
    pub patient_id: Option<String>,
    /// `active` or `disabled`.
    pub status: String,
    pub totp_secret: Option<String>,
    pub totp_enabled_at_ms: Option<i64>,
    /// The last TOTP time step accepted, so a code cannot be replayed (RFC 6238 5.2).
    pub totp_last_step: Option<i64>,
    pub created_at_ms: i64,
    /// When the person showed they read mail at `email` (a link opened); `None` until then.
    pub email_verified_at_ms: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
