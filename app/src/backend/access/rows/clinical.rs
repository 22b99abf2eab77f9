//! Entities of the imported clinical record. Private to `backend::access`, like the patient row:
//! no server function or route can read them around the access context.

pub mod fhir_resource {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "fhir_resource")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub resource_type: String,
        pub fhir_id: String,
        pub patient_id: Option<String>,
        pub json: String,
        pub sha256: String,
        pub imported_at_ms: i64,
        pub updated_at_ms: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod patient_identifier {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "patient_identifier")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub system: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub value: String,
        pub patient_id: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod resource_identifier {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "resource_identifier")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub resource_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub system: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub value: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod clinical_item {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
    #[sea_orm(table_name = "clinical_item")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub resource_id: String,
        pub patient_id: String,
        pub kind: String,
        pub display: String,
        /// Every coding of the main code (stored as JSON `[{system, code, display}]`).
        pub codes: super::super::JsonText<Vec<crate::backend::fhir::map::Coding>>,
        pub code_system: Option<String>,
        pub code: Option<String>,
        pub status: Option<String>,
        pub category: Option<String>,
        pub start_text: Option<String>,
        pub start_ms: Option<i64>,
        pub end_text: Option<String>,
        pub end_ms: Option<i64>,
        pub encounter_id: Option<String>,
        pub report_id: Option<String>,
        pub value_num: Option<f64>,
        pub value_text: Option<String>,
        pub unit: Option<String>,
        pub ref_low: Option<f64>,
        pub ref_high: Option<f64>,
        pub ref_text: Option<String>,
        pub interpretation: Option<String>,
        /// The newest reading of its test (observations only; see `mark_latest_readings`).
        pub latest_reading: bool,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod clinical_document {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "clinical_document")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub resource_id: String,
        pub patient_id: String,
        pub position: i32,
        pub title: String,
        pub content_type: String,
        pub date_text: Option<String>,
        pub date_ms: Option<i64>,
        pub encounter_id: Option<String>,
        pub text_body: Option<String>,
        pub data: Option<Vec<u8>>,
        pub size: i64,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod sensitive_tag {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "sensitive_tag")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub resource_id: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub category: String,
        pub patient_id: String,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod duplicate_candidate {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "duplicate_candidate")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub patient_id: String,
        pub other_patient_id: String,
        pub reason: String,
        pub status: String,
        pub created_at_ms: i64,
        pub resolved_by_user_id: Option<String>,
        pub resolved_at_ms: Option<i64>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

pub mod import_run {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "import_run")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub id: String,
        pub source: String,
        pub actor_user_id: Option<String>,
        pub patient_id: Option<String>,
        pub started_at_ms: i64,
        pub finished_at_ms: i64,
        pub status: String,
        /// The summary (stored as JSON): counts per resource type, warnings, or the error.
        pub summary: super::super::JsonText<serde_json::Value>,
    }

    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}
