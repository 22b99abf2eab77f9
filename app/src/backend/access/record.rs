//! Reading the imported clinical record through the access context: the summary, one section
//! page (date range, pagination), a visit with everything recorded in it, a note, a trend. Each
//! read asks the policy for the patient (another patient's record answers 404, like a missing
//! one) and is audited with what was read (section, visit, document), never with its content.

use super::rows::{clinical_document, clinical_item, sensitive_tag};
use super::rows::patient_row;
use super::import::LATEST_READING;
use super::AccessContext;
use super::patients::to_summary;
use crate::backend::audit::{AuditAction, Outcome};
use crate::backend::fhir::map::{Coding, trim_number};
use crate::backend::policy::{Action, Target};
use crate::domain::{
    CodeView, DocumentRow, DocumentView, Flag, ItemRow, ListFilter, ListPage, PAGE_SIZE, Range, RecordOverview, Section, Trend,
    TrendPoint, VisitView, html_to_text, system_name,
};
use crate::backend::clock::SiteClock;
use crate::backend::error::BackendError;
use crate::error::AppError;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait, Select};

/// The date as a list shows it: `2020-01-02`, or `2020-01-02 10:15` when a time was recorded.
/// A time recorded with its offset is shown in the hospital's zone (a source in another zone
/// would otherwise show its own clock); one without an offset is shown as written.
fn shown_date(text: Option<&str>, clock: &SiteClock) -> Option<String> {
    let t = text?;
    if t.len() < 16 || t.as_bytes()[10] != b'T' {
        return Some(t.to_string());
    }
    let has_offset = t.ends_with('Z') || t.get(19..).is_some_and(|zone| zone.contains(['+', '-']));
    match crate::backend::fhir::dates::parse(t) {
        Ok(instant) if has_offset => Some(clock.iso_minutes(instant.start_ms)),
        _ => Some(format!("{} {}", &t[..10], &t[11..16])),
    }
}

/// An item's codes as stored (the FHIR codings, as JSON); a value that does not parse is an error.
fn codes(codings: &[Coding]) -> Vec<CodeView> {
    codings
        .iter()
        .filter_map(|c| Some(CodeView { system: system_name(c.system.as_deref().unwrap_or("")), code: c.code.clone()?, display: c.display.clone() }))
        .collect()
}

fn with_unit(value: f64, unit: Option<&str>) -> String {
    match unit.filter(|u| !u.is_empty()) {
        Some(u) => format!("{} {u}", trim_number(value)),
        None => trim_number(value),
    }
}

pub(super) fn to_row(m: clinical_item::Model, clock: &SiteClock) -> Result<ItemRow, BackendError> {
    let observation = m.kind == "observation";
    let money = m.kind == "claim" || m.kind == "explanation_of_benefit";
    let value = match (m.value_num, observation || money) {
        (Some(v), true) => Some(with_unit(v, m.unit.as_deref())),
        (None, true) if observation => m.value_text.clone(),
        _ => None,
    };
    let range = match (m.ref_low, m.ref_high) {
        (Some(l), Some(h)) => Some(format!("{}–{}", trim_number(l), trim_number(h))),
        (Some(l), None) => Some(format!("≥ {}", trim_number(l))),
        (None, Some(h)) => Some(format!("≤ {}", trim_number(h))),
        (None, None) if observation => m.ref_text.clone(),
        (None, None) => None,
    };
    let detail = if observation {
        None
    } else {
        let mut parts: Vec<String> = Vec::new();
        if let Some(t) = m.value_text.as_deref().filter(|t| !t.is_empty()) {
            parts.push(t.to_string());
        }
        if let Some(t) = m.ref_text.as_deref().filter(|t| !t.is_empty()) {
            parts.push(t.to_string());
        }
        if m.kind == "allergy"
            && let Some(c) = &m.interpretation
        {
            parts.push(format!("criticality: {c}"));
        }
        (!parts.is_empty()).then(|| parts.join(" · "))
    };
    Ok(ItemRow {
        flag: if observation { Flag::of(m.interpretation.as_deref(), m.value_num, m.ref_low, m.ref_high) } else { None },
        trend_code: if observation && m.value_num.is_some() { m.code.clone() } else { None },
        codes: codes(&m.codes),
        date: shown_date(m.start_text.as_deref(), clock),
        end_date: shown_date(m.end_text.as_deref(), clock),
        id: m.resource_id,
        kind: m.kind,
        display: if m.display.is_empty() { "(no description)".into() } else { m.display },
        status: m.status,
        category: m.category,
        value,
        range,
        detail,
    })
}

fn is_text(content_type: &str) -> bool {
    let base = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    base.starts_with("text/")
}

fn to_document_row(d: &clinical_document::Model, clock: &SiteClock) -> DocumentRow {
    DocumentRow {
        id: d.id.clone(),
        title: if d.title.is_empty() { "Document".into() } else { d.title.clone() },
        date: shown_date(d.date_text.as_deref(), clock),
        content_type: d.content_type.clone(),
        size: d.size,
        // Text types are stored decoded (lists do not load the body to check).
        is_text: is_text(&d.content_type),
    }
}

/// Documents without their bodies (lists never load note text or attachment bytes).
fn document_list() -> Select<clinical_document::Entity> {
    clinical_document::Entity::find()
        .select_only()
        .columns([
            clinical_document::Column::Id,
            clinical_document::Column::ResourceId,
            clinical_document::Column::PatientId,
            clinical_document::Column::Position,
            clinical_document::Column::Title,
            clinical_document::Column::ContentType,
            clinical_document::Column::DateText,
            clinical_document::Column::DateMs,
            clinical_document::Column::EncounterId,
            clinical_document::Column::Size,
        ])
        .expr_as(sea_orm::sea_query::Expr::cust("NULL"), "text_body")
        .expr_as(sea_orm::sea_query::Expr::cust("NULL"), "data")
}

/// The patient's resources with a sensitive tag (a category, or adolescent-confidential).
pub(super) fn tagged(patient_id: &str) -> sea_orm::sea_query::SelectStatement {
    sea_orm::sea_query::Query::select()
        .column(sensitive_tag::Column::ResourceId)
        .from(sensitive_tag::Entity)
        .and_where(sensitive_tag::Column::PatientId.eq(patient_id))
        .to_owned()
}

/// Items with no sensitive tag for this patient.
fn not_sensitive(patient_id: &str) -> sea_orm::Condition {
    sea_orm::Condition::all().add(clinical_item::Column::ResourceId.not_in_subquery(tagged(patient_id)))
}

/// The column of the patient's row that says whether the viewer's filters hide anything.
const HIDES: &str = "hides_tagged";

/// The patient's resources tagged as psychotherapy notes (45 CFR 164.524(a)(1)(i)).
pub(super) fn psychotherapy_notes(patient_id: &str) -> sea_orm::sea_query::SelectStatement {
    sea_orm::sea_query::Query::select()
        .column(sensitive_tag::Column::ResourceId)
        .from(sensitive_tag::Entity)
        .and_where(sensitive_tag::Column::PatientId.eq(patient_id))
        .and_where(sensitive_tag::Column::Category.eq(crate::domain::Category::PsychotherapyNotes.as_str()))
        .to_owned()
}

/// The date a list is filtered and sorted by, and the column that breaks ties.
struct DatedColumns<C> {
    date: C,
    then_by: C,
}

/// The lists of the summary page, in the order of its one statement's parts.
#[derive(Clone, Copy)]
enum SummaryPart {
    Problems = 0,
    Medications = 1,
    Allergies = 2,
    Immunizations = 3,
    Vitals = 4,
    Labs = 5,
}

/// The column that says which part of the summary a row belongs to.
const PART: &str = "summary_part";

/// `inner`'s rows labelled with their part: `SELECT *, <part> FROM (inner)` (a part keeps its
/// own ORDER BY and LIMIT inside a union only as a subquery).
fn labelled(inner: sea_orm::sea_query::SelectStatement, part: SummaryPart) -> sea_orm::sea_query::SelectStatement {
    use sea_orm::sea_query::{Alias, Asterisk, Query};
    let alias = Alias::new(format!("part{}", part as i32));
    Query::select().column((alias.clone(), Asterisk)).expr_as(Expr::val(part as i32), Alias::new(PART)).from_subquery(inner, alias).to_owned()
}

/// The newest `limit` rows of `select`.
fn newest(select: Select<clinical_item::Entity>, part: SummaryPart, limit: u64) -> sea_orm::sea_query::SelectStatement {
    labelled(select.order_by_desc(clinical_item::Column::StartMs).limit(limit).into_query(), part)
}

/// The latest reading of each test among `select`'s rows (a reading without a code goes by its
/// name), the `limit` most recent tests. Two readings of one test at the same instant: one is
/// shown.
fn latest_per_test(select: Select<clinical_item::Entity>, part: SummaryPart, limit: u64) -> sea_orm::sea_query::SelectStatement {
    use sea_orm::sea_query::{Alias, ExprTrait, Order, Query};
    // The ranking sorts only ids and times (the readings' whole rows, codes and all, made the
    // sort grow with the record: issue 21); the winners' rows are then read by id.
    let ranked = select
        .select_only()
        .column(clinical_item::Column::ResourceId)
        .column(clinical_item::Column::StartMs)
        .expr_as(
            Expr::cust("ROW_NUMBER() OVER (PARTITION BY COALESCE(clinical_item.code, clinical_item.display) ORDER BY clinical_item.start_ms DESC NULLS LAST, clinical_item.resource_id)"),
            "rank_in_test",
        )
        .into_query();
    let r = Alias::new("ranked");
    let winners = Query::select()
        .column((r.clone(), clinical_item::Column::ResourceId))
        .from_subquery(ranked, r.clone())
        .and_where(Expr::col((r.clone(), Alias::new("rank_in_test"))).eq(1))
        .order_by((r, clinical_item::Column::StartMs), Order::Desc)
        .limit(limit)
        .to_owned();
    labelled(clinical_item::Entity::find().filter(clinical_item::Column::ResourceId.in_subquery(winners)).into_query(), part)
}

impl AccessContext {
    /// The patient whose record is read: the one asked for (staff), or the signed-in patient's
    /// own (or the person a caregiver switched to). Asks the policy and checks the record is on
    /// this site; both failures answer 404. Also says whether the view is limited: a limited
    /// proxy sees no notes, no sensitive categories and nothing marked adolescent-confidential
    /// (45 CFR 164.502(g)(3); DOMAIN.md).
    async fn record_patient(&self, requested: Option<&str>) -> Result<(patient_row::Model, bool), AppError> {
        let (patient, limited, _) = self.record_patient_asking(requested, false).await?;
        Ok((patient, limited))
    }

    /// `record_patient`, and when `ask_hidden`, whether this viewer's filters hide any of the
    /// record's tagged items (the same query: no extra round trip).
    async fn record_patient_asking(&self, requested: Option<&str>, ask_hidden: bool) -> Result<(patient_row::Model, bool, bool), AppError> {
        let id = match requested {
            Some(id) => id.to_string(),
            None => self.subject().ok_or(AppError::NotFound)?,
        };
        // The grants are read once for both decisions.
        let grants = self.grants_for(&id).await?;
        self.authorize_with(Action::ReadPatientRecord, Target::Patient(&id), AuditAction::PatientRead, &grants).await?;
        let limited = !self.allows_with(Action::ReadSensitive, &id, &grants);
        let mut find = patient_row::Entity::find_by_id(id.as_str()).filter(patient_row::Column::SiteCode.eq(self.site_code.as_str()));
        let hiding = if limited { Some(tagged(&id)) } else if self.online(&id) { Some(psychotherapy_notes(&id)) } else { None };
        let hiding = hiding.filter(|_| ask_hidden);
        let asked = hiding.is_some();
        if let Some(tags) = hiding {
            find = find.expr_as(Expr::exists(tags), HIDES);
        }
        let row = self.db.query_one(&find.into_query()).await?.ok_or(AppError::NotFound)?;
        let patient = <patient_row::Model as sea_orm::FromQueryResult>::from_query_result(&row, "")?;
        let hides = if asked { row.try_get::<bool>("", HIDES)? } else { false };
        Ok((patient, limited, hides))
    }

    async fn audit_read(&self, patient_id: &str, what: &'static str, detail: String) -> Result<(), AppError> {
        let event = self.event(AuditAction::PatientRead, Outcome::Success).patient(patient_id).entity(what, patient_id).detail(detail);
        self.audit_alone(event).await.map_err(AppError::from)
    }

    /// The record is read online by the patient or a caregiver acting for them (not by HIM
    /// staff): psychotherapy notes are never shown there (45 CFR 164.524(a)(1)(i)).
    fn online(&self, patient_id: &str) -> bool {
        self.subject().as_deref() == Some(patient_id)
    }

    fn items(&self, patient_id: &str, kinds: &[&str], limited: bool) -> Select<clinical_item::Entity> {
        let mut select = clinical_item::Entity::find()
            .filter(clinical_item::Column::PatientId.eq(patient_id))
            .filter(clinical_item::Column::Kind.is_in(kinds.iter().copied()));
        if self.online(patient_id) {
            select = select.filter(clinical_item::Column::ResourceId.not_in_subquery(psychotherapy_notes(patient_id)));
        }
        if limited { select.filter(not_sensitive(patient_id)) } else { select }
    }

    /// A patient's notes as this viewer may list them (never psychotherapy notes online).
    fn documents_of(&self, patient_id: &str) -> Select<clinical_document::Entity> {
        let select = document_list().filter(clinical_document::Column::PatientId.eq(patient_id));
        if self.online(patient_id) { select.filter(clinical_document::Column::ResourceId.not_in_subquery(psychotherapy_notes(patient_id))) } else { select }
    }

    /// The front page: demographics, active problems, current medications, allergies, recent
    /// immunizations, and the latest value of each vital sign and lab test.
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn record_summary(&self, requested: Option<&str>) -> Result<RecordOverview, AppError> {
        let (patient, limited, hides) = self.record_patient_asking(requested, true).await?;
        let id = patient.id.clone();
        // Each test's latest reading is marked at import (issue 21: ranking every reading on
        // each view made the page slower the longer the record), and the marked rows are read
        // from a partial index. The mark is over all readings: when this viewer's filters hide
        // some of the record (a limited proxy, a psychotherapy note online), the latest one they
        // may see can be unmarked, so all readings are ranked as before.
        let readings = |category: &str| {
            let select = self.items(&id, &["observation"], limited).filter(clinical_item::Column::Category.eq(category));
            if hides { select } else { select.filter(Expr::cust(LATEST_READING)) }
        };
        // One statement for the whole page (issue 21: every query is a round trip to the
        // database's worker, and on SQLite every row a hand-over between threads): each part
        // is the newest few of one list, and for vital signs and lab results the latest reading
        // of each test (a reading without a code goes by its name), ranked by the database.
        let parts = [
            newest(self.items(&id, &["condition"], limited).filter(clinical_item::Column::Status.eq("active")), SummaryPart::Problems, 20),
            newest(self.items(&id, &["medication_request"], limited).filter(clinical_item::Column::Status.eq("active")), SummaryPart::Medications, 20),
            newest(self.items(&id, &["allergy"], limited), SummaryPart::Allergies, 20),
            newest(self.items(&id, &["immunization"], limited), SummaryPart::Immunizations, 5),
            latest_per_test(readings("vital-signs"), SummaryPart::Vitals, 10),
            latest_per_test(readings("laboratory"), SummaryPart::Labs, 12),
        ];
        let [first, rest @ ..] = parts;
        let mut query = first;
        for part in rest {
            query.union(sea_orm::sea_query::UnionType::All, part);
        }
        let found = self.db.query_all(&query).await?;
        let mut lists: [Vec<clinical_item::Model>; 6] = Default::default();
        for row in found {
            let part: i32 = row.try_get("", PART)?;
            let item = <clinical_item::Model as sea_orm::FromQueryResult>::from_query_result(&row, "")?;
            if let Some(list) = usize::try_from(part).ok().and_then(|p| lists.get_mut(p)) {
                list.push(item);
            }
        }
        // A union keeps no order: each list newest first again (undated last).
        for list in &mut lists {
            list.sort_by(|a, b| b.start_ms.map_or(i64::MIN, |t| t).cmp(&a.start_ms.map_or(i64::MIN, |t| t)));
        }
        let [problems, medications, allergies, immunizations, vitals, labs] = lists;
        self.audit_read(&id, "record", "summary".into()).await?;
        let rows = |v: Vec<clinical_item::Model>| v.into_iter().map(|m| to_row(m, &self.clock)).collect::<Result<Vec<_>, _>>();
        Ok(RecordOverview {
            patient: to_summary(patient),
            problems: rows(problems)?,
            medications: rows(medications)?,
            allergies: rows(allergies)?,
            immunizations: rows(immunizations)?,
            vitals: rows(vitals)?,
            labs: rows(labs)?,
            limited,
        })
    }

    /// One page of `select` within the range's dates, newest first, and the count of all.
    async fn date_page<E: EntityTrait>(&self, select: Select<E>, columns: DatedColumns<E::Column>, range: &Range, offset: u64) -> Result<(u64, Vec<E::Model>), AppError>
    where
        E::Model: Sync,
    {
        let mut select = select;
        if let Some(f) = range.from_ms {
            select = select.filter(columns.date.gte(f));
        }
        if let Some(u) = range.until_ms {
            select = select.filter(columns.date.lt(u));
        }
        let total = select.clone().count(&self.db).await?;
        let rows = select.order_by_desc(columns.date).order_by_asc(columns.then_by).offset(offset).limit(PAGE_SIZE).all(&self.db).await?;
        Ok((total, rows))
    }

    /// One section, newest first, within the filter's dates, one page at a time.
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn record_section_page(&self, requested: Option<&str>, section: Section, filter: &ListFilter) -> Result<ListPage, AppError> {
        let range = filter.parse().map_err(|fields| AppError::Validation { fields })?;
        let (patient, limited) = self.record_patient(requested).await?;
        let id = patient.id;
        let offset = u64::from(range.page - 1) * PAGE_SIZE;
        let mut page = ListPage { section, items: Vec::new(), documents: Vec::new(), page: range.page, pages: 1, total: 0 };
        if section == Section::Documents && limited {
            // No notes for a limited proxy: the section is empty, as if there were none.
        } else if section == Section::Documents {
            let select = self.documents_of(&id);
            let dated = DatedColumns { date: clinical_document::Column::DateMs, then_by: clinical_document::Column::Position };
            let (total, rows) = self.date_page(select, dated, &range, offset).await?;
            page.total = total;
            page.documents = rows.iter().map(|d| to_document_row(d, &self.clock)).collect();
        } else {
            let mut select = self.items(&id, section.kinds(), limited);
            if let Some(category) = section.observation_category() {
                select = select.filter(clinical_item::Column::Category.eq(category));
            }
            let dated = DatedColumns { date: clinical_item::Column::StartMs, then_by: clinical_item::Column::Display };
            let (total, rows) = self.date_page(select, dated, &range, offset).await?;
            page.total = total;
            page.items = rows.into_iter().map(|m| to_row(m, &self.clock)).collect::<Result<_, _>>()?;
        }
        page.pages = page.total.div_ceil(PAGE_SIZE).max(1) as u32;
        self.audit_read(&id, "record_section", format!("section={} page={}", section.slug(), range.page)).await?;
        Ok(page)
    }

    /// A visit and everything recorded in it (grouped by section), with its notes.
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn record_visit(&self, requested: Option<&str>, visit_id: &str) -> Result<VisitView, AppError> {
        let (patient, limited) = self.record_patient(requested).await?;
        let id = patient.id;
        let visit = self
            .items(&id, &["encounter"], limited)
            .filter(clinical_item::Column::ResourceId.eq(visit_id))
            .one(&self.db)
            .await?
            .ok_or(AppError::NotFound)?;
        let mut contents = clinical_item::Entity::find()
            .filter(clinical_item::Column::PatientId.eq(id.as_str()))
            .filter(clinical_item::Column::EncounterId.eq(visit_id));
        if self.online(&id) {
            contents = contents.filter(clinical_item::Column::ResourceId.not_in_subquery(psychotherapy_notes(&id)));
        }
        if limited {
            contents = contents.filter(not_sensitive(&id));
        }
        let contents = contents
            .order_by_asc(clinical_item::Column::StartMs)
            .all(&self.db)
            .await?;
        let documents = if limited {
            Vec::new()
        } else {
            self.documents_of(&id)
                .filter(clinical_document::Column::EncounterId.eq(visit_id))
                .order_by_asc(clinical_document::Column::DateMs)
                .all(&self.db)
                .await?
        };
        let mut sections: Vec<(Section, Vec<ItemRow>)> = Vec::new();
        for row in contents {
            let Some(section) = Section::of_kind(&row.kind, row.category.as_deref()) else { continue };
            let item = to_row(row, &self.clock)?;
            match sections.iter_mut().find(|(s, _)| *s == section) {
                Some((_, items)) => items.push(item),
                None => sections.push((section, vec![item])),
            }
        }
        sections.sort_by_key(|(s, _)| Section::ALL.iter().position(|x| x == s));
        self.audit_read(&id, "visit", format!("visit={visit_id}")).await?;
        Ok(VisitView { visit: to_row(visit, &self.clock)?, sections, documents: documents.iter().map(|d| to_document_row(d, &self.clock)).collect() })
    }

    /// A note or attachment: its text for reading, or its bytes for download.
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn record_document(&self, requested: Option<&str>, document_id: &str) -> Result<(DocumentView, Option<Vec<u8>>), AppError> {
        let (patient, limited) = self.record_patient(requested).await?;
        if limited {
            // Notes are outside a limited proxy's view: refused as if absent, and audited.
            self.authorize(Action::ReadSensitive, Target::Patient(&patient.id), AuditAction::PatientRead).await?;
        }
        let mut select = clinical_document::Entity::find_by_id(document_id.to_string()).filter(clinical_document::Column::PatientId.eq(patient.id.as_str()));
        if self.online(&patient.id) {
            // A psychotherapy note is not there for the patient online: as if absent.
            select = select.filter(clinical_document::Column::ResourceId.not_in_subquery(psychotherapy_notes(&patient.id)));
        }
        let doc = select.one(&self.db).await?.ok_or(AppError::NotFound)?;
        self.audit_read(&patient.id, "document", format!("document={document_id}")).await?;
        let row = to_document_row(&doc, &self.clock);
        let html = doc.content_type.to_ascii_lowercase().starts_with("text/html");
        let text = doc.text_body.map(|t| if html { html_to_text(&t) } else { t });
        Ok((DocumentView { row, text }, doc.data))
    }

    /// Every numeric result for one code, oldest first (at most 500).
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn record_trend(&self, requested: Option<&str>, code: &str) -> Result<Trend, AppError> {
        let (patient, limited) = self.record_patient(requested).await?;
        let rows = self
            .items(&patient.id, &["observation"], limited)
            .filter(clinical_item::Column::Code.eq(code))
            .filter(clinical_item::Column::ValueNum.is_not_null())
            .order_by_asc(clinical_item::Column::StartMs)
            .limit(500)
            .all(&self.db)
            .await?;
        let Some(last) = rows.last().cloned() else { return Err(AppError::NotFound) };
        self.audit_read(&patient.id, "trend", format!("code={code}")).await?;
        let code_view = codes(&last.codes).into_iter().find(|c| c.code == code).unwrap_or(CodeView {
            system: system_name(last.code_system.as_deref().unwrap_or("")),
            code: code.to_string(),
            display: None,
        });
        Ok(Trend {
            title: last.display.clone(),
            code: code_view,
            unit: last.unit.clone(),
            low: last.ref_low,
            high: last.ref_high,
            points: rows
                .into_iter()
                .filter_map(|r| {
                    Some(TrendPoint {
                        flag: Flag::of(r.interpretation.as_deref(), r.value_num, r.ref_low, r.ref_high),
                        date: shown_date(r.start_text.as_deref(), &self.clock)?,
                        ms: r.start_ms?,
                        value: r.value_num?,
                    })
                })
                .collect(),
        })
    }
}
