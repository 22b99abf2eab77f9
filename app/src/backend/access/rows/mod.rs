//! The access context's private row types (sea-orm entities of patient data). They never leave
//! `backend::access`: its methods map rows to domain types, so nothing else can reach a patient's
//! rows without going through the door.

mod caregivers;
mod clinical;
mod json_text;
pub(super) mod patient_row;
mod release;
mod smart;

pub(super) use caregivers::*;
pub(super) use clinical::*;
pub(crate) use json_text::JsonText;
pub(super) use release::*;
pub(super) use smart::*;

/// Reads up to 100 rows of every table behind an entity of the backend (these private ones and
/// `backend::entities`), decoding each into its model: an entity that names a column the
/// migrated schema lacks, or a type it cannot read, fails here instead of in a feature. Returns
/// each table with the rows it read (counts only: nothing of a row leaves). For the schema test.
pub async fn check_entities(db: &impl sea_orm::ConnectionTrait) -> Result<Vec<(&'static str, usize)>, sea_orm::DbErr> {
    use crate::backend::entities::*;
    use sea_orm::{EntityName, EntityTrait, QuerySelect};
    macro_rules! each {
        ($($entity:path),+ $(,)?) => {{
            let mut read = Vec::new();
            $(
                let rows = <$entity>::find().limit(100).all(db).await?;
                read.push((<$entity as EntityName>::table_name(&<$entity>::default()), rows.len()));
            )+
            read
        }};
    }
    Ok(each!(
        patient_row::Entity,
        smart_app::Entity,
        smart_grant::Entity,
        smart_code::Entity,
        smart_token::Entity,
        crate::backend::smart::id_token::signing_key::Entity,
        caregiver_grant::Entity,
        caregiver_invitation::Entity,
        representative_request::Entity,
        representative_document::Entity,
        job_run::Entity,
        fhir_resource::Entity,
        patient_identifier::Entity,
        resource_identifier::Entity,
        clinical_item::Entity,
        clinical_document::Entity,
        sensitive_tag::Entity,
        duplicate_candidate::Entity,
        import_run::Entity,
        release_request::Entity,
        release_event::Entity,
        release_decision::Entity,
        release_file::Entity,
        release_authorization::Entity,
        release_link::Entity,
        notification::Entity,
        disclosure::Entity,
        copy_record::Entity,
        copy_record_file::Entity,
        fee_schedule::Entity,
        segment_rule::Entity,
        app_user::Entity,
        audit_event::Entity,
        audit_checkpoint::Entity,
        external_identity::Entity,
        identity_claim::Entity,
        login_session::Entity,
        login_throttle::Entity,
        one_time_token::Entity,
        user_role::Entity,
    ))
}
