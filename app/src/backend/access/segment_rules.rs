//! The site's segmentation rules (issue 18), a table administrators edit, and the tags they put
//! on a record:
//!
//! - psychotherapy notes are recognised by their note type (a code of a system: the LOINC note
//!   codes the site's EHR uses) or words in their title (45 CFR 164.501, 164.524(a)(1)(i));
//! - Part 2 program records are those of an encounter whose service provider is on the site's
//!   list of Part 2 programs (an organization identifier), with everything recorded in it
//!   (42 CFR 2.11, 2.12).
//!
//! `retag` applies the rules to the notes and encounters already stored (after an import, for its
//! patients; after a change of the rules, for everyone), in the caller's transaction, so a rule
//! added today also covers the records imported before it.

use super::AccessContext;
use super::rows::{clinical_document, clinical_item, fhir_resource, resource_identifier, segment_rule, sensitive_tag};
use crate::backend::audit::{self, AuditAction, Outcome};
use crate::backend::db::{now_ms, write_transaction};
use crate::backend::fhir::map::Coding;
use crate::backend::policy::Action;
use crate::domain::Category;
use crate::error::AppError;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
pub use crate::domain::release::segment::{RuleKind, SegmentRuleForm, SegmentRuleRow};
use std::collections::HashSet;

/// The rules, loaded once for a pass.
pub(super) struct SiteRules {
    rules: Vec<segment_rule::Model>,
}

impl SiteRules {
    pub(super) async fn load(db: &impl ConnectionTrait) -> Result<SiteRules, DbErr> {
        Ok(SiteRules { rules: segment_rule::Entity::find().order_by_asc(segment_rule::Column::CreatedAtMs).all(db).await? })
    }

    fn of(&self, kind: RuleKind) -> impl Iterator<Item = &segment_rule::Model> {
        self.rules.iter().filter(move |r| r.kind == kind.as_str())
    }

    /// A note with these type codes and this title is a psychotherapy note.
    pub(super) fn psychotherapy(&self, codes: &[Coding], title: Option<&str>) -> bool {
        let title = title.map(str::to_lowercase);
        self.of(RuleKind::PsychotherapyNote).any(|r| {
            let by_code = r.code.as_deref().is_some_and(|code| {
                codes.iter().any(|c| c.code.as_deref() == Some(code) && r.system.as_deref().is_none_or(|s| c.system.as_deref() == Some(s)))
            });
            let by_title = r.title_contains.as_deref().is_some_and(|words| title.as_deref().is_some_and(|t| t.contains(words)));
            by_code || by_title
        })
    }

    /// An organization with these identifiers (system, value) is a Part 2 program.
    fn part2_program(&self, identifiers: &[(String, String)]) -> bool {
        self.of(RuleKind::Part2Program).any(|r| {
            identifiers.iter().any(|(system, value)| r.code.as_deref() == Some(value.as_str()) && r.system.as_deref().is_none_or(|s| s == system))
        })
    }
}

/// The identifier a conditional reference names (`Organization?identifier=system|value`).
fn conditional_identifier(reference: &str) -> Option<(String, String)> {
    let (_, query) = reference.split_once("?identifier=")?;
    let query = query.split('&').next().unwrap_or(query);
    Some(match query.split_once('|') {
        Some((system, value)) => (system.to_string(), value.to_string()),
        None => (String::new(), query.to_string()),
    })
}

/// Puts the psychotherapy-note and Part 2 tags on the notes and encounters of `patients` (all
/// when `None`), as the rules say now, in the caller's transaction. Returns (notes, Part 2
/// resources) tagged.
pub(super) async fn retag(txn: &impl ConnectionTrait, patients: Option<&[String]>) -> Result<(usize, usize), DbErr> {
    let rules = SiteRules::load(txn).await?;
    let managed = [Category::PsychotherapyNotes.as_str(), Category::Part2.as_str()];
    let mut clear = sensitive_tag::Entity::delete_many().filter(sensitive_tag::Column::Category.is_in(managed));
    if let Some(ids) = patients {
        clear = clear.filter(sensitive_tag::Column::PatientId.is_in(ids.iter().cloned()));
    }
    clear.exec(txn).await?;
    let mut tags: HashSet<(String, &'static str, String)> = HashSet::new();
    // Psychotherapy notes: the note's type codes, and each attachment's title.
    let mut notes = clinical_item::Entity::find().filter(clinical_item::Column::Kind.eq("document"));
    let mut documents = clinical_document::Entity::find().select_only().columns([clinical_document::Column::ResourceId, clinical_document::Column::PatientId, clinical_document::Column::Title, clinical_document::Column::EncounterId]);
    let mut encounters = fhir_resource::Entity::find().select_only().columns([fhir_resource::Column::Id, fhir_resource::Column::PatientId, fhir_resource::Column::Json]).filter(fhir_resource::Column::ResourceType.eq("Encounter"));
    if let Some(ids) = patients {
        notes = notes.filter(clinical_item::Column::PatientId.is_in(ids.iter().cloned()));
        documents = documents.filter(clinical_document::Column::PatientId.is_in(ids.iter().cloned()));
        encounters = encounters.filter(fhir_resource::Column::PatientId.is_in(ids.iter().cloned()));
    }
    for note in notes.all(txn).await? {
        if rules.psychotherapy(&note.codes.0, Some(&note.display)) {
            tags.insert((note.resource_id, Category::PsychotherapyNotes.as_str(), note.patient_id));
        }
    }
    let documents: Vec<(String, String, String, Option<String>)> = documents.into_tuple().all(txn).await?;
    for (resource_id, patient_id, title, _) in &documents {
        if rules.psychotherapy(&[], Some(title)) {
            tags.insert((resource_id.clone(), Category::PsychotherapyNotes.as_str(), patient_id.clone()));
        }
    }
    let psychotherapy = tags.len();
    // Part 2: encounters whose service provider is a listed program, and what was recorded in them.
    let mut programs: HashSet<String> = HashSet::new();
    if rules.of(RuleKind::Part2Program).next().is_some() {
        let rows: Vec<(String, Option<String>, String)> = encounters.into_tuple().all(txn).await?;
        for (id, patient_id, json) in rows {
            let Some(patient_id) = patient_id else { continue };
            let value: serde_json::Value = serde_json::from_str(&json).unwrap_or_default();
            let Some(reference) = value.pointer("/serviceProvider/reference").and_then(serde_json::Value::as_str) else { continue };
            let identifiers = match conditional_identifier(reference) {
                Some(pair) => vec![pair],
                None => {
                    // A resolved reference: the organization's stored identifiers, and its id.
                    let target = reference.rsplit('/').next().unwrap_or(reference).trim_start_matches("urn:uuid:").to_string();
                    let stored: Vec<(String, String)> = resource_identifier::Entity::find()
                        .select_only()
                        .columns([resource_identifier::Column::System, resource_identifier::Column::Value])
                        .filter(resource_identifier::Column::ResourceId.eq(target.as_str()))
                        .into_tuple()
                        .all(txn)
                        .await?;
                    stored.into_iter().chain([(String::new(), target)]).collect()
                }
            };
            if rules.part2_program(&identifiers) {
                tags.insert((id.clone(), Category::Part2.as_str(), patient_id.clone()));
                programs.insert(id);
            }
        }
    }
    if !programs.is_empty() {
        let ids: Vec<String> = programs.iter().cloned().collect();
        for chunk in ids.chunks(500) {
            let within: Vec<(String, String)> = clinical_item::Entity::find()
                .select_only()
                .columns([clinical_item::Column::ResourceId, clinical_item::Column::PatientId])
                .filter(clinical_item::Column::EncounterId.is_in(chunk.iter().cloned()))
                .into_tuple()
                .all(txn)
                .await?;
            for (resource_id, patient_id) in within {
                tags.insert((resource_id, Category::Part2.as_str(), patient_id));
            }
        }
        for (resource_id, patient_id, _, encounter) in &documents {
            if encounter.as_ref().is_some_and(|e| programs.contains(e)) {
                tags.insert((resource_id.clone(), Category::Part2.as_str(), patient_id.clone()));
            }
        }
    }
    let part2 = tags.len() - psychotherapy;
    let rows: Vec<sensitive_tag::ActiveModel> = tags
        .into_iter()
        .map(|(resource_id, category, patient_id)| sensitive_tag::ActiveModel { resource_id: Set(resource_id), category: Set(category.to_string()), patient_id: Set(patient_id) })
        .collect();
    for chunk in rows.chunks(300) {
        sensitive_tag::Entity::insert_many(chunk.to_vec()).exec_without_returning(txn).await?;
    }
    Ok((psychotherapy, part2))
}

fn row_of(r: segment_rule::Model) -> SegmentRuleRow {
    SegmentRuleRow { id: r.id, kind: r.kind, system: r.system, code: r.code, title_contains: r.title_contains, note: r.note }
}

impl AccessContext {
    /// The site's segmentation rules (administrators).
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn segment_rules(&self) -> Result<Vec<SegmentRuleRow>, AppError> {
        self.require(Action::SetSegmentRules, AuditAction::SegmentRules).await?;
        Ok(segment_rule::Entity::find().order_by_asc(segment_rule::Column::Kind).order_by_asc(segment_rule::Column::CreatedAtMs).all(&self.db).await?.into_iter().map(row_of).collect())
    }

    /// Adds or removes a rule (administrators), and re-tags every record by the rules as they
    /// now stand, in the same transaction; audited.
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn change_segment_rule(&self, add: Option<&SegmentRuleForm>, remove: Option<&str>) -> Result<Vec<SegmentRuleRow>, AppError> {
        self.require(Action::SetSegmentRules, AuditAction::SegmentRules).await?;
        let added = add.map(|f| f.check()).transpose().map_err(|fields| AppError::Validation { fields })?;
        let txn = write_transaction(&self.db).await?;
        let detail = if let Some(crate::domain::release::segment::CheckedRule { kind, system, code, title_contains, note }) = added {
            segment_rule::Entity::insert(segment_rule::ActiveModel {
                id: Set(uuid::Uuid::new_v4().to_string()),
                kind: Set(kind.as_str().into()),
                system: Set(system),
                code: Set(code),
                title_contains: Set(title_contains),
                note: Set(note),
                created_by: Set(self.principal.user_id.clone()),
                created_at_ms: Set(now_ms()),
            })
            .exec_without_returning(&txn)
            .await?;
            format!("segmentation rule added: {}", kind.as_str())
        } else if let Some(id) = remove {
            let gone = segment_rule::Entity::delete_by_id(id.to_string()).exec(&txn).await?;
            if gone.rows_affected == 0 {
                return Err(AppError::NotFound);
            }
            "segmentation rule removed".to_string()
        } else {
            return Err(AppError::bad_request());
        };
        let (notes, part2) = retag(&txn, None).await?;
        audit::record(&txn, self.event(AuditAction::SegmentRules, Outcome::Success).entity("segment_rule", "site").detail(format!("{detail}; tagged {notes} note(s), {part2} Part 2 item(s)"))).await?;
        txn.commit().await?;
        self.segment_rules().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(kind: RuleKind, system: Option<&str>, code: Option<&str>, title: Option<&str>) -> segment_rule::Model {
        segment_rule::Model { id: "r".into(), kind: kind.as_str().into(), system: system.map(Into::into), code: code.map(Into::into), title_contains: title.map(Into::into), note: "n".into(), created_by: "a".into(), created_at_ms: 0 }
    }

    #[test]
    fn psychotherapy_notes_by_code_or_title_and_programs_by_identifier() {
        let rules = SiteRules {
            rules: vec![
                rule(RuleKind::PsychotherapyNote, Some("http://loinc.org"), Some("11111-1"), None),
                rule(RuleKind::PsychotherapyNote, None, None, Some("psychotherapy")),
                rule(RuleKind::Part2Program, None, Some("P2-001"), None),
            ],
        };
        let loinc = |code: &str| Coding { system: Some("http://loinc.org".into()), code: Some(code.into()), display: None };
        assert!(rules.psychotherapy(&[loinc("11111-1")], Some("Session")));
        assert!(!rules.psychotherapy(&[Coding { system: Some("http://snomed.info/sct".into()), ..loinc("11111-1") }], None), "another system");
        assert!(rules.psychotherapy(&[], Some("Psychotherapy note, 3rd session")));
        assert!(!rules.psychotherapy(&[loinc("34117-2")], Some("History and physical")));
        assert!(rules.part2_program(&[("http://example.org/programs".into(), "P2-001".into())]));
        assert!(!rules.part2_program(&[("x".into(), "P2-002".into())]));
        assert_eq!(conditional_identifier("Organization?identifier=http://example.org/programs|P2-001"), Some(("http://example.org/programs".into(), "P2-001".into())));
        assert_eq!(conditional_identifier("Organization/abc"), None);
    }

}
