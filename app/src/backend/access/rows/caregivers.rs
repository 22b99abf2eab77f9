//! Caregiver grants, invitations, representative requests and their documents, and the daily
//! job's run log: the tables behind `access::caregivers`.

pub mod caregiver_grant {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "caregiver_grant")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub patient_id: String,
        pub user_id: String,
        pub kind: crate::domain::caregiver::GrantKind,
        pub view_scope: crate::domain::caregiver::ViewScope,
        pub request_copies: bool,
        pub track_requests: bool,
        pub granted_by: String,
        pub source_id: Option<String>,
        pub starts_at_ms: i64,
        pub expires_at_ms: Option<i64>,
        pub applied_band: crate::domain::caregiver::AgeBand,
        pub ended_at_ms: Option<i64>,
        pub ended_by: Option<String>,
        pub end_reason: Option<String>,
        pub created_at_ms: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod caregiver_invitation {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "caregiver_invitation")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub patient_id: String,
        pub invited_by: String,
        pub email: String,
        pub token_hash: String,
        pub view_scope: crate::domain::caregiver::ViewScope,
        pub request_copies: bool,
        pub track_requests: bool,
        pub days: i32,
        pub created_at_ms: i64,
        pub expires_at_ms: i64,
        pub status: String,
        pub accepted_by: Option<String>,
        pub finished_at_ms: Option<i64>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod representative_request {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "representative_request")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub requester_user_id: String,
        pub kind: crate::domain::caregiver::GrantKind,
        pub patient_name: String,
        pub birth_date: String,
        pub mrn: String,
        pub statement: String,
        pub status: String,
        pub patient_id: Option<String>,
        pub grant_id: Option<String>,
        pub decided_by: Option<String>,
        pub decided_at_ms: Option<i64>,
        pub reason: Option<String>,
        pub created_at_ms: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod representative_document {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "representative_document")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub request_id: String,
        pub file_name: String,
        pub content_type: String,
        pub size: i64,
        pub sha256: String,
        pub key_id: String,
        pub nonce: Vec<u8>,
        pub ciphertext: Vec<u8>,
        pub created_at_ms: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod job_run {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "job_run")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub name: String,
        pub last_run_on: String,
        pub at_ms: i64,
        pub finished_at_ms: Option<i64>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

// Reading grant rows as the domain's values (the door and the caregiver pages both do).
use crate::domain::IsoDate;
use crate::domain::caregiver::{AgeBand, AgeThresholds, GrantScope};
use sea_orm::{ColumnTrait, Condition};

pub(in crate::backend::access) fn grant_scope(row: &caregiver_grant::Model) -> GrantScope {
    GrantScope { view: row.view_scope, request_copies: row.request_copies, track_requests: row.track_requests }
}

pub(in crate::backend::access) fn invitation_scope(row: &caregiver_invitation::Model) -> GrantScope {
    GrantScope { view: row.view_scope, request_copies: row.request_copies, track_requests: row.track_requests }
}

/// The patient's age band today; an unreadable birth date counts as a child's (the narrowest
/// change: a parent keeps only what was granted, other kinds ignore the band).
pub(in crate::backend::access) fn band_of(birth_date: &str, ages: AgeThresholds, today: IsoDate) -> AgeBand {
    IsoDate::parse(birth_date).map(|b| ages.band(b, today)).unwrap_or(AgeBand::Child)
}

/// Grants not ended and within their dates at `now`.
pub(in crate::backend::access) fn in_force(now: i64) -> Condition {
    Condition::all()
        .add(caregiver_grant::Column::EndedAtMs.is_null())
        .add(caregiver_grant::Column::StartsAtMs.lte(now))
        .add(Condition::any().add(caregiver_grant::Column::ExpiresAtMs.is_null()).add(caregiver_grant::Column::ExpiresAtMs.gt(now)))
}
