//! Clinical records imported from FHIR R4: the lossless store (`fhir_resource`, every resource's
//! original JSON), the normalized, indexed rows the record pages list and filter
//! (`clinical_item`, `clinical_document`), patient identifiers for matching, identifiers of
//! directory resources (for conditional references such as `Practitioner?identifier=...`),
//! sensitive-category tags, the HIM list of possible duplicate patients, and one row per import.
//!
//! Conventions as before: UUID text ids, BIGINT Unix milliseconds. A clinical date is kept twice:
//! as written (`*_text`, for display) and as its first millisecond (`*_ms`, for sorting and
//! date-range filters).

use sea_orm_migration::{prelude::*, schema::*, sea_orm::DatabaseBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Patient {
    Table,
    Id,
    Mrn,
}

#[derive(DeriveIden)]
enum PatientIdentifier {
    Table,
    System,
    Value,
    PatientId,
}

#[derive(DeriveIden)]
enum FhirResource {
    Table,
    Id,
    ResourceType,
    FhirId,
    PatientId,
    Json,
    Sha256,
    ImportedAtMs,
    UpdatedAtMs,
}

#[derive(DeriveIden)]
enum ResourceIdentifier {
    Table,
    ResourceId,
    System,
    Value,
}

#[derive(DeriveIden)]
enum ClinicalItem {
    Table,
    ResourceId,
    PatientId,
    Kind,
    Display,
    Codes,
    CodeSystem,
    Code,
    Status,
    Category,
    StartText,
    StartMs,
    EndText,
    EndMs,
    EncounterId,
    ReportId,
    ValueNum,
    ValueText,
    Unit,
    RefLow,
    RefHigh,
    RefText,
    Interpretation,
}

#[derive(DeriveIden)]
enum ClinicalDocument {
    Table,
    Id,
    ResourceId,
    PatientId,
    Position,
    Title,
    ContentType,
    DateText,
    DateMs,
    EncounterId,
    TextBody,
    Data,
    Size,
}

#[derive(DeriveIden)]
enum SensitiveTag {
    Table,
    ResourceId,
    Category,
    PatientId,
}

#[derive(DeriveIden)]
enum DuplicateCandidate {
    Table,
    Id,
    PatientId,
    OtherPatientId,
    Reason,
    Status,
    CreatedAtMs,
    ResolvedByUserId,
    ResolvedAtMs,
}

#[derive(DeriveIden)]
enum ImportRun {
    Table,
    Id,
    Source,
    ActorUserId,
    PatientId,
    StartedAtMs,
    FinishedAtMs,
    Status,
    Summary,
}

/// The clinical tables' foreign keys: rows go with the record they belong to.
fn fk(name: &str, from: (impl IntoIden, impl IntoIden), to: (impl IntoIden, impl IntoIden)) -> ForeignKeyCreateStatement {
    crate::fk(name, from, to, ForeignKeyAction::Cascade)
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Record numbers from EHR exports are often UUIDs (36 characters): widen the column.
        // SQLite does not enforce VARCHAR lengths (and cannot alter a column); PostgreSQL does.
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            manager
                .alter_table(Table::alter().table(Patient::Table).modify_column(ColumnDef::new(Patient::Mrn).string_len(64).not_null()).to_owned())
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(PatientIdentifier::Table)
                    .col(string_len(PatientIdentifier::System, 255))
                    .col(string_len(PatientIdentifier::Value, 255))
                    .col(string_len(PatientIdentifier::PatientId, 36))
                    // One identifier names one patient: matching on it is never ambiguous.
                    .primary_key(Index::create().col(PatientIdentifier::System).col(PatientIdentifier::Value))
                    .foreign_key(&mut fk("fk_patient_identifier_patient", (PatientIdentifier::Table, PatientIdentifier::PatientId), (Patient::Table, Patient::Id)))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(Index::create().name("idx_patient_identifier_patient").table(PatientIdentifier::Table).col(PatientIdentifier::PatientId).to_owned())
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(FhirResource::Table)
                    .col(string_len(FhirResource::Id, 36).primary_key())
                    .col(string_len(FhirResource::ResourceType, 64))
                    .col(string_len(FhirResource::FhirId, 64))
                    .col(string_len_null(FhirResource::PatientId, 36))
                    .col(text(FhirResource::Json))
                    .col(string_len(FhirResource::Sha256, 64))
                    .col(big_integer(FhirResource::ImportedAtMs))
                    .col(big_integer(FhirResource::UpdatedAtMs))
                    .foreign_key(&mut fk("fk_fhir_resource_patient", (FhirResource::Table, FhirResource::PatientId), (Patient::Table, Patient::Id)))
                    .to_owned(),
            )
            .await?;
        // Resource identity: re-importing the same resource updates it in place.
        manager
            .create_index(
                Index::create()
                    .name("ux_fhir_resource_identity")
                    .table(FhirResource::Table)
                    .col(FhirResource::ResourceType)
                    .col(FhirResource::FhirId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(Index::create().name("idx_fhir_resource_patient").table(FhirResource::Table).col(FhirResource::PatientId).col(FhirResource::ResourceType).to_owned())
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ResourceIdentifier::Table)
                    .col(string_len(ResourceIdentifier::ResourceId, 36))
                    .col(string_len(ResourceIdentifier::System, 255))
                    .col(string_len(ResourceIdentifier::Value, 255))
                    .primary_key(Index::create().col(ResourceIdentifier::ResourceId).col(ResourceIdentifier::System).col(ResourceIdentifier::Value))
                    .foreign_key(&mut fk("fk_resource_identifier_resource", (ResourceIdentifier::Table, ResourceIdentifier::ResourceId), (FhirResource::Table, FhirResource::Id)))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(Index::create().name("idx_resource_identifier_value").table(ResourceIdentifier::Table).col(ResourceIdentifier::System).col(ResourceIdentifier::Value).to_owned())
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ClinicalItem::Table)
                    .col(string_len(ClinicalItem::ResourceId, 36).primary_key())
                    .col(string_len(ClinicalItem::PatientId, 36))
                    .col(string_len(ClinicalItem::Kind, 32))
                    .col(text(ClinicalItem::Display))
                    .col(text(ClinicalItem::Codes))
                    .col(string_len_null(ClinicalItem::CodeSystem, 255))
                    .col(string_len_null(ClinicalItem::Code, 128))
                    .col(string_len_null(ClinicalItem::Status, 64))
                    .col(string_len_null(ClinicalItem::Category, 64))
                    .col(string_len_null(ClinicalItem::StartText, 40))
                    .col(big_integer_null(ClinicalItem::StartMs))
                    .col(string_len_null(ClinicalItem::EndText, 40))
                    .col(big_integer_null(ClinicalItem::EndMs))
                    .col(string_len_null(ClinicalItem::EncounterId, 36))
                    .col(string_len_null(ClinicalItem::ReportId, 36))
                    .col(double_null(ClinicalItem::ValueNum))
                    .col(text_null(ClinicalItem::ValueText))
                    .col(string_len_null(ClinicalItem::Unit, 64))
                    .col(double_null(ClinicalItem::RefLow))
                    .col(double_null(ClinicalItem::RefHigh))
                    .col(text_null(ClinicalItem::RefText))
                    .col(string_len_null(ClinicalItem::Interpretation, 64))
                    .foreign_key(&mut fk("fk_clinical_item_resource", (ClinicalItem::Table, ClinicalItem::ResourceId), (FhirResource::Table, FhirResource::Id)))
                    .foreign_key(&mut fk("fk_clinical_item_patient", (ClinicalItem::Table, ClinicalItem::PatientId), (Patient::Table, Patient::Id)))
                    .to_owned(),
            )
            .await?;
        // Every section page: one patient, one kind, newest first, a date range.
        manager
            .create_index(Index::create().name("idx_clinical_item_list").table(ClinicalItem::Table).col(ClinicalItem::PatientId).col(ClinicalItem::Kind).col(ClinicalItem::StartMs).to_owned())
            .await?;
        // Trend charts: one patient's results for one code.
        manager
            .create_index(Index::create().name("idx_clinical_item_code").table(ClinicalItem::Table).col(ClinicalItem::PatientId).col(ClinicalItem::Code).to_owned())
            .await?;
        // A visit opens with everything recorded in it.
        manager
            .create_index(Index::create().name("idx_clinical_item_encounter").table(ClinicalItem::Table).col(ClinicalItem::EncounterId).to_owned())
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ClinicalDocument::Table)
                    .col(string_len(ClinicalDocument::Id, 36).primary_key())
                    .col(string_len(ClinicalDocument::ResourceId, 36))
                    .col(string_len(ClinicalDocument::PatientId, 36))
                    .col(integer(ClinicalDocument::Position))
                    .col(text(ClinicalDocument::Title))
                    .col(string_len(ClinicalDocument::ContentType, 128))
                    .col(string_len_null(ClinicalDocument::DateText, 40))
                    .col(big_integer_null(ClinicalDocument::DateMs))
                    .col(string_len_null(ClinicalDocument::EncounterId, 36))
                    .col(text_null(ClinicalDocument::TextBody))
                    .col(blob_null(ClinicalDocument::Data))
                    .col(big_integer(ClinicalDocument::Size))
                    .foreign_key(&mut fk("fk_clinical_document_resource", (ClinicalDocument::Table, ClinicalDocument::ResourceId), (FhirResource::Table, FhirResource::Id)))
                    .foreign_key(&mut fk("fk_clinical_document_patient", (ClinicalDocument::Table, ClinicalDocument::PatientId), (Patient::Table, Patient::Id)))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(Index::create().name("idx_clinical_document_list").table(ClinicalDocument::Table).col(ClinicalDocument::PatientId).col(ClinicalDocument::DateMs).to_owned())
            .await?;
        manager
            .create_index(Index::create().name("idx_clinical_document_resource").table(ClinicalDocument::Table).col(ClinicalDocument::ResourceId).to_owned())
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(SensitiveTag::Table)
                    .col(string_len(SensitiveTag::ResourceId, 36))
                    .col(string_len(SensitiveTag::Category, 32))
                    .col(string_len(SensitiveTag::PatientId, 36))
                    .primary_key(Index::create().col(SensitiveTag::ResourceId).col(SensitiveTag::Category))
                    .foreign_key(&mut fk("fk_sensitive_tag_resource", (SensitiveTag::Table, SensitiveTag::ResourceId), (FhirResource::Table, FhirResource::Id)))
                    .foreign_key(&mut fk("fk_sensitive_tag_patient", (SensitiveTag::Table, SensitiveTag::PatientId), (Patient::Table, Patient::Id)))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(Index::create().name("idx_sensitive_tag_patient").table(SensitiveTag::Table).col(SensitiveTag::PatientId).col(SensitiveTag::Category).to_owned())
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(DuplicateCandidate::Table)
                    .col(string_len(DuplicateCandidate::Id, 36).primary_key())
                    .col(string_len(DuplicateCandidate::PatientId, 36))
                    .col(string_len(DuplicateCandidate::OtherPatientId, 36))
                    .col(string_len(DuplicateCandidate::Reason, 255))
                    .col(string_len(DuplicateCandidate::Status, 16))
                    .col(big_integer(DuplicateCandidate::CreatedAtMs))
                    .col(string_len_null(DuplicateCandidate::ResolvedByUserId, 36))
                    .col(big_integer_null(DuplicateCandidate::ResolvedAtMs))
                    .foreign_key(&mut fk("fk_duplicate_patient", (DuplicateCandidate::Table, DuplicateCandidate::PatientId), (Patient::Table, Patient::Id)))
                    .foreign_key(&mut fk("fk_duplicate_other", (DuplicateCandidate::Table, DuplicateCandidate::OtherPatientId), (Patient::Table, Patient::Id)))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_duplicate_pair")
                    .table(DuplicateCandidate::Table)
                    .col(DuplicateCandidate::PatientId)
                    .col(DuplicateCandidate::OtherPatientId)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ImportRun::Table)
                    .col(string_len(ImportRun::Id, 36).primary_key())
                    .col(string_len(ImportRun::Source, 255))
                    .col(string_len_null(ImportRun::ActorUserId, 36))
                    .col(string_len_null(ImportRun::PatientId, 36))
                    .col(big_integer(ImportRun::StartedAtMs))
                    .col(big_integer(ImportRun::FinishedAtMs))
                    .col(string_len(ImportRun::Status, 16))
                    .col(text(ImportRun::Summary))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(Index::create().name("idx_import_run_started").table(ImportRun::Table).col(ImportRun::StartedAtMs).to_owned())
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ImportRun::Table.into_iden(),
            DuplicateCandidate::Table.into_iden(),
            SensitiveTag::Table.into_iden(),
            ClinicalDocument::Table.into_iden(),
            ClinicalItem::Table.into_iden(),
            ResourceIdentifier::Table.into_iden(),
            FhirResource::Table.into_iden(),
            PatientIdentifier::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        if manager.get_database_backend() == DatabaseBackend::Postgres {
            manager
                .alter_table(Table::alter().table(Patient::Table).modify_column(ColumnDef::new(Patient::Mrn).string_len(32).not_null()).to_owned())
                .await?;
        }
        Ok(())
    }
}
