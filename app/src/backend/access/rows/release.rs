//! Requests for copies and their timeline, decisions, files, authorizations, passcode links,
//! in-portal messages and the accounting of disclosures: the tables behind release of information.

pub mod release_request {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "release_request")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub number: i64,
        pub patient_id: String,
        pub requester_user_id: String,
        pub on_behalf_of: Option<String>,
        pub status: crate::domain::release::Status,
        pub scope: super::super::JsonText<crate::domain::release::Scope>,
        pub formats: String,
        pub recipient_kind: crate::domain::release::RecipientKind,
        pub recipient_name: Option<String>,
        pub recipient_address: Option<String>,
        pub purpose: Option<String>,
        pub fee_cents: i32,
        pub received_on: String,
        pub due_on: String,
        pub extended: bool,
        pub extension_reason: Option<String>,
        pub assigned_to: Option<String>,
        pub created_at_ms: i64,
        pub updated_at_ms: i64,
        /// How it arrived, and who asked (issue 17).
        pub channel: crate::domain::release::Channel,
        pub requester_type: crate::domain::release::RequesterType,
        /// A requester without an account (logged by HIM): name and where the copy goes.
        pub requester_name: Option<String>,
        pub requester_address: Option<String>,
        /// The clerk's ticked checklist items.
        pub checklist: super::super::JsonText<Vec<crate::domain::release::Item>>,
        pub logged_by: Option<String>,
        /// The day the copy was made available or the denial sent (164.524(b)(2)).
        pub provided_on: Option<String>,
        /// Calendar days from receipt to `provided_on` (the dashboard's turnaround).
        pub turnaround_days: Option<i32>,
        pub pages: i32,
        pub paid_at_ms: Option<i64>,
        pub idempotency_key: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod release_event {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "release_event")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub request_id: String,
        pub at_ms: i64,
        pub actor_user_id: Option<String>,
        pub actor_kind: crate::domain::release::Actor,
        pub from_status: Option<crate::domain::release::Status>,
        pub to_status: crate::domain::release::Status,
        pub note: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod release_decision {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "release_decision")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub request_id: String,
        pub decided_by_user_id: String,
        pub decision: crate::domain::release::DecisionKind,
        pub exclusions: super::super::JsonText<Vec<crate::domain::release::Withheld>>,
        /// Denial-ground codes.
        pub grounds: super::super::JsonText<Vec<String>>,
        pub note: Option<String>,
        pub at_ms: i64,
        /// The sensitive categories the authorization names (codes).
        pub named: super::super::JsonText<Vec<String>>,
        /// The 42 CFR 2.31 elements the Part 2 consent shows (codes).
        pub consent: super::super::JsonText<Vec<String>>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod release_file {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "release_file")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub request_id: String,
        pub kind: String,
        pub file_name: String,
        pub content_type: String,
        pub size: i64,
        pub sha256: String,
        pub pages: Option<i32>,
        pub key_id: String,
        pub nonce: Vec<u8>,
        pub ciphertext: Vec<u8>,
        pub created_at_ms: i64,
        pub expires_at_ms: i64,
        pub downloads: i32,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod release_authorization {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "release_authorization")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub request_id: String,
        pub signer_name: String,
        pub signer_user_id: String,
        pub signed_at_ms: i64,
        pub client_address: String,
        pub description: String,
        pub recipient_name: String,
        pub recipient_address: String,
        pub purpose: String,
        pub expires_on: String,
        /// Revoked (45 CFR 164.508(b)(5)): when, by whom, and what they said.
        pub revoked_at_ms: Option<i64>,
        pub revoked_by: Option<String>,
        pub revocation_note: Option<String>,
        /// The sensitive categories it names (codes).
        pub named: super::super::JsonText<Vec<String>>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod release_link {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "release_link")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub request_id: String,
        pub token_hash: String,
        pub passcode_hash: String,
        pub passcode_key_id: String,
        pub passcode_nonce: Vec<u8>,
        /// "token passcode", sealed: shown to the requester to pass on.
        pub passcode_sealed: Vec<u8>,
        pub expires_at_ms: i64,
        pub failed_attempts: i32,
        pub locked_until_ms: i64,
        pub opened_count: i32,
        pub created_at_ms: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod notification {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "notification")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub user_id: String,
        pub request_id: Option<String>,
        pub message: String,
        pub created_at_ms: i64,
        pub read_at_ms: Option<i64>,
        pub emailed_at_ms: Option<i64>,
        pub mail_attempts: i32,
        pub mail_next_at_ms: Option<i64>,
        pub mail_failed_at_ms: Option<i64>,
        pub mail_error: Option<String>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod disclosure {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "disclosure")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub patient_id: String,
        pub request_id: Option<String>,
        pub disclosed_on: String,
        pub recipient_name: String,
        pub recipient_address: Option<String>,
        pub description: String,
        pub purpose: String,
        pub accountable: bool,
        pub kind: String,
        pub corrects_id: Option<String>,
        pub recorded_by_user_id: Option<String>,
        pub created_at_ms: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod copy_record {
    use sea_orm::entity::prelude::*;

    /// A copy the portal produced (a download, a transmit, or an HIM release), for `/verify`.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "copy_record")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub code: String,
        pub patient_id: String,
        pub actor_user_id: String,
        pub on_behalf_of: Option<String>,
        pub request_id: Option<String>,
        /// `download`, `transmit` or `release`.
        pub kind: String,
        pub scope: String,
        pub formats: String,
        pub addressee: Option<String>,
        /// The release manifest (JSON).
        pub manifest: String,
        pub created_at_ms: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod copy_record_file {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "copy_record_file")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub sha256: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub copy_id: String,
        pub name: String,
        pub size: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod fee_schedule {
    use sea_orm::entity::prelude::*;

    /// The administrator's fee for one requester type (cents).
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "fee_schedule")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub requester_type: String,
        pub flat_cents: i32,
        pub per_page_cents: i32,
        pub updated_by: String,
        pub updated_at_ms: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod segment_rule {
    use sea_orm::entity::prelude::*;

    /// One segmentation rule of the site: for `psychotherapy_note`, a code of a system (a LOINC
    /// note type, or a security label) or words in the note's title (45 CFR 164.501,
    /// 164.524(a)(1)(i)); for `part2_program`, an organization identifier (with its system or
    /// not) whose encounters are Part 2 program records (42 CFR 2.11).
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "segment_rule")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub kind: String,
        pub system: Option<String>,
        pub code: Option<String>,
        pub title_contains: Option<String>,
        pub note: String,
        pub created_by: String,
        pub created_at_ms: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
