//! `smart_app`: an app registered to read patients' records through the FHIR API with SMART
//! authorization (issue 22). Its id is the OAuth `client_id`; a confidential app's secret is
//! stored only as its SHA-256.
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "smart_app")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub name: String,
    pub confidential: bool,
    pub secret_hash: Option<String>,
    /// A JSON array of the exact redirect URIs it may use.
    pub redirect_uris: String,
    pub created_at_ms: i64,
    pub created_by: Option<String>,
    pub disabled_at_ms: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
