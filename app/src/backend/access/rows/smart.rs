//! What apps were let read (issue 22): grants, authorization codes and tokens. Patient data (a
//! grant names whose record an app reads), so private to the access context like the rest.

pub mod smart_grant {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "smart_grant")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub app_id: String,
        /// Who approved it: the patient, or a caregiver acting for them.
        pub user_id: String,
        pub patient_id: String,
        /// The granted scopes, as `ScopeSet::to_text` writes them.
        pub scopes: String,
        pub created_at_ms: i64,
        pub expires_at_ms: i64,
        pub last_used_at_ms: Option<i64>,
        pub revoked_at_ms: Option<i64>,
        pub revoked_reason: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod smart_code {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "smart_code")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub code_hash: String,
        pub grant_id: String,
        pub redirect_uri: String,
        pub challenge: String,
        pub expires_at_ms: i64,
        pub used_at_ms: Option<i64>,
        /// The app's OpenID Connect `nonce`, for the ID token (migration 17).
        pub nonce: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod smart_token {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "smart_token")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub token_hash: String,
        pub grant_id: String,
        /// `access` or `refresh`.
        pub kind: String,
        pub created_at_ms: i64,
        pub expires_at_ms: i64,
        /// A refresh token's one use (a second use revokes the grant).
        pub used_at_ms: Option<i64>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
