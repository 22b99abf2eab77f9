//! The FHIR R4 read API through the access context (issue 22; ONC 45 CFR 170.315(g)(10)): an
//! app's bearer token names a grant (which app, who approved it, whose record, which scopes);
//! every request is then an ordinary read by that person, asked of the policy with the grants in
//! force now (a caregiver whose access ended, or a revoked app, fails the very next request) and
//! audited naming the app.
//!
//! What is served is what the person may see online: never psychotherapy notes (45 CFR
//! 164.524(a)(1)(i)); for a limited proxy nothing tagged sensitive or adolescent-confidential and
//! no notes or documents (45 CFR 164.502(g)(3)). Another patient's resources, and hidden ones,
//! answer 404 like anything absent.
//!
//! Resources are served as imported, with their references rewritten to `Type/id` on this server
//! (the same rewriting as the self-contained copies); a target the API does not serve or the
//! portal does not hold becomes a display-only reference, never a dangling one. The patient is
//! `Patient/<record id>`, the id the token response names.

use super::AccessContext;
use super::rows::{clinical_document, clinical_item, fhir_resource, patient_row, resource_identifier, smart_grant, smart_token};
use crate::backend::audit::{AuditAction, Outcome};
use crate::backend::copies::fhir::{Target, parse_reference, resource_date, rewrite_references};
use crate::backend::db::now_ms;
use crate::backend::entities::smart_app;
use crate::backend::policy::{self, Action, Principal};
use crate::backend::request::RequestMeta;
use crate::backend::smart::search::{Criterion, DatePrefix, Search, Token, in_patient_compartment, starts_a_word};
use crate::backend::smart::secret_hash;
use crate::backend::state::AppState;
use crate::domain::smart::{Interaction, RESOURCE_TYPES, ScopeSet, TypeAccess};
use crate::error::AppError;
use sea_orm::sea_query::{Expr, JoinType, SelectStatement};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde_json::{Map, Value, json};
use std::collections::{HashMap, HashSet};

/// How long `last_used` may lag: the grant row is written at most once a minute per app.
const LAST_USED_EVERY_MS: i64 = 60_000;

/// An API error, answered as an `OperationOutcome` with this status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    /// The OperationOutcome issue code (`not-found`, `forbidden`, `login`, `invalid`, …).
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into() }
    }

    pub fn not_found(what: &str) -> Self {
        ApiError::new(404, "not-found", format!("{what} is not known to this server"))
    }

    fn unauthorized() -> Self {
        ApiError::new(401, "login", "the access token is missing, unknown, expired or revoked")
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(e: sea_orm::DbErr) -> Self {
        tracing::error!(error = %e, "fhir api: database");
        ApiError::new(500, "exception", "the server could not answer; try again")
    }
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        match e {
            AppError::NotFound => ApiError::new(404, "not-found", "not known to this server"),
            other => {
                tracing::error!(status = other.status_code(), "fhir api: access");
                ApiError::new(500, "exception", "the server could not answer; try again")
            }
        }
    }
}

/// What a bearer token stands for.
#[derive(Debug, Clone)]
pub struct ApiGrant {
    pub app_id: String,
    pub patient_id: String,
    pub scopes: ScopeSet,
}

/// The person and app behind a bearer token, as an access context acting for the grant's
/// patient: `Err` 401 when the token is unknown or expired, its grant revoked or expired, the
/// app disabled or the person's account closed.
pub async fn api_context(state: &AppState, token: &str, request: RequestMeta) -> Result<(AccessContext, ApiGrant), ApiError> {
    let now = now_ms();
    let db = &state.db;
    let token = smart_token::Entity::find_by_id(secret_hash(token))
        .one(db)
        .await?
        .filter(|t| t.kind == "access" && t.expires_at_ms > now)
        .ok_or_else(ApiError::unauthorized)?;
    let grant = smart_grant::Entity::find_by_id(token.grant_id.as_str())
        .one(db)
        .await?
        .filter(|g| g.revoked_at_ms.is_none() && g.expires_at_ms > now)
        .ok_or_else(ApiError::unauthorized)?;
    smart_app::Entity::find_by_id(grant.app_id.as_str()).one(db).await?.filter(|a| a.disabled_at_ms.is_none()).ok_or_else(ApiError::unauthorized)?;
    let user = crate::backend::auth::users::find_by_id(db, &grant.user_id).await?.filter(|u| u.active).ok_or_else(ApiError::unauthorized)?;
    let context = holder_context(state, user, &grant, request);
    // A caregiver's app reads within the caregiver's access (45 CFR 164.502(g)): when that ends
    // (revoked, expired, narrowed away by the age rules), the token stops opening anything, like
    // a disconnected app's (401, not a 403 the app would take for a missing scope). Audited as
    // a refused read, and not counted as a use.
    if !holder_may_read(&context, &grant).await? {
        return Err(ApiError::unauthorized());
    }
    if grant.last_used_at_ms.is_none_or(|at| now - at >= LAST_USED_EVERY_MS) {
        smart_grant::Entity::update_many()
            .col_expr(smart_grant::Column::LastUsedAtMs, Expr::value(now))
            .filter(smart_grant::Column::Id.eq(grant.id.as_str()))
            .exec(db)
            .await?;
    }
    Ok((context, ApiGrant { app_id: grant.app_id, patient_id: grant.patient_id, scopes: ScopeSet::from_text(&grant.scopes) }))
}

/// The person behind a grant, as an access context acting for the grant's patient.
fn holder_context(state: &AppState, user: crate::backend::auth::users::User, grant: &smart_grant::Model, request: RequestMeta) -> AccessContext {
    let principal = Principal { user_id: user.id, roles: user.roles, patient_id: user.patient_id };
    AccessContext {
        db: state.db.clone(),
        principal,
        request,
        site_code: state.site_code.clone(),
        acting_for: None,
        ages: Default::default(),
        clock: state.clock.clone(),
        audit: Some(state.audit.clone()),
    }
    .with_caregivers(Some(grant.patient_id.clone()), state.caregivers.ages)
}

/// Whether the person behind a grant may still read its patient's record: the patient always;
/// a caregiver only while the policy lets them (a refusal is audited as a denied read).
async fn holder_may_read(context: &AccessContext, grant: &smart_grant::Model) -> Result<bool, AppError> {
    if context.principal.patient_id.as_deref() == Some(grant.patient_id.as_str()) {
        return Ok(true);
    }
    let relations = context.grants_for(&grant.patient_id).await?;
    if context.allows_with(Action::ReadPatientRecord, &grant.patient_id, &relations) {
        return Ok(true);
    }
    context.audit_app_read(Outcome::Denied, &grant.patient_id, &grant.app_id, "the caregiver's access has ended").await?;
    Ok(false)
}

/// Before the token endpoint issues tokens for a code or a refresh token (it asks once it holds
/// the grant and has authenticated the client): the grant's person must still be allowed to read
/// the record. A caregiver's access can end by its date or by the age rules, with no event that
/// revokes their apps (45 CFR 164.502(g)); the first exchange after that revokes the grant
/// (audited) and is refused, so no token is issued that would only be refused. `Ok(true)` for a
/// grant already revoked or a person no longer active (the endpoint answers those).
pub async fn grant_holder_may_read(state: &AppState, grant: &smart_grant::Model, request: &RequestMeta) -> Result<bool, AppError> {
    if grant.revoked_at_ms.is_some() {
        return Ok(true);
    }
    let Some(user) = crate::backend::auth::users::find_by_id(&state.db, &grant.user_id).await?.filter(|u| u.active) else {
        return Ok(true);
    };
    let context = holder_context(state, user, grant, request.clone());
    if holder_may_read(&context, grant).await? {
        return Ok(true);
    }
    super::apps::end_grant_of_ended_access(&state.db, grant, request).await?;
    Ok(false)
}

/// The record an API request reads, and what of it is hidden from this person.
struct Reading {
    patient: patient_row::Model,
    limited: bool,
}

/// One candidate of a search: its row, and what the index columns say of it.
struct Candidate {
    id: String,
    start_ms: Option<i64>,
    codes: Option<String>,
    category: Option<String>,
}

/// A candidate as read: row id, and its item's date, codes (JSON) and category.
type CandidateRow = (String, Option<i64>, Option<String>, Option<String>);

/// Whether criteria the index columns do not answer need the resource itself (the patient and
/// the ids are in every candidate query).
fn needs_json(other: &[&Criterion]) -> bool {
    other.iter().any(|c| !matches!(c, Criterion::Patient(_) | Criterion::Id(_)))
}

/// The criteria answered from the clinical item's columns for each type (the rest, and every
/// criterion of a type without items, is answered from the resource itself).
fn indexed(resource_type: &str, name: &str) -> bool {
    match name {
        "date" | "onset-date" | "authoredon" => !matches!(resource_type, "Patient" | "Provenance" | "CarePlan" | "Goal"),
        "code" => matches!(resource_type, "Observation" | "Condition" | "Procedure" | "DiagnosticReport"),
        "type" => matches!(resource_type, "Encounter" | "DocumentReference" | "Device"),
        "category" => matches!(resource_type, "Observation" | "Condition" | "DiagnosticReport" | "DocumentReference"),
        "class" => resource_type == "Encounter",
        "intent" => resource_type == "MedicationRequest",
        _ => false,
    }
}

/// Every (system, code) a JSON value carries: a string, a Coding, a CodeableConcept, an
/// Identifier, or arrays of them.
fn codings_of(value: &Value, out: &mut Vec<(Option<String>, String)>) {
    match value {
        Value::String(s) => out.push((None, s.clone())),
        Value::Array(items) => items.iter().for_each(|v| codings_of(v, out)),
        Value::Object(map) => {
            if let Some(codings) = map.get("coding") {
                codings_of(codings, out);
            }
            let system = map.get("system").and_then(Value::as_str).map(str::to_string);
            if let Some(code) = map.get("code").or_else(|| map.get("value")).and_then(Value::as_str) {
                out.push((system, code.to_string()));
            }
        }
        _ => {}
    }
}

/// The element a token or text parameter reads.
fn element<'a>(value: &'a Value, name: &str) -> Option<&'a Value> {
    let field = match name {
        "clinical-status" => "clinicalStatus",
        "lifecycle-status" => "lifecycleStatus",
        other => other,
    };
    value.get(field)
}

/// The words a string parameter searches: names (HumanName parts, or a plain name and
/// aliases) and addresses.
fn texts_of(value: &Value, name: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut push = |v: &Value| {
        match v {
            Value::String(s) => out.push(s.clone()),
            Value::Array(items) => out.extend(items.iter().filter_map(Value::as_str).map(str::to_string)),
            _ => {}
        }
    };
    let parts: &[&str] = match name {
        "family" => &["family"],
        "given" => &["given"],
        "address" => &["line", "city", "district", "state", "postalCode", "country", "text"],
        _ => &["family", "given", "text", "prefix", "suffix"],
    };
    let field = if matches!(name, "family" | "given") { "name" } else { name };
    let mut visit = |v: &Value| match v {
        Value::Object(map) => parts.iter().filter_map(|p| map.get(*p)).for_each(&mut push),
        other => push(other),
    };
    match value.get(field) {
        Some(Value::Array(items)) => items.iter().for_each(&mut visit),
        Some(v) => visit(v),
        None => {}
    }
    if name == "name"
        && let Some(alias) = value.get("alias")
    {
        push(alias);
    }
    out
}

fn date_ms_of(value: &Value, name: &str) -> Option<i64> {
    let text = match name {
        "birthdate" => value.get("birthDate").and_then(Value::as_str).map(str::to_string),
        _ => resource_date(value),
    }?;
    crate::backend::fhir::dates::parse(&text).ok().map(|d| d.start_ms)
}

/// Every `reference` string inside a parsed resource.
fn references_of(value: &Value, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => match map.get("reference") {
            Some(Value::String(r)) => out.push(r.clone()),
            _ => map.values().for_each(|v| references_of(v, out)),
        },
        Value::Array(items) => items.iter().for_each(|v| references_of(v, out)),
        _ => {}
    }
}

/// Whether a parsed resource meets one criterion (those not answered from the index).
fn meets(value: &Value, criterion: &Criterion) -> bool {
    match criterion {
        Criterion::Id(ids) => value.get("id").and_then(Value::as_str).is_some_and(|id| ids.iter().any(|i| i == id)),
        Criterion::Patient(_) => true,
        Criterion::Token(name, tokens) => {
            let mut found = Vec::new();
            if let Some(v) = element(value, name) {
                codings_of(v, &mut found);
            }
            tokens.iter().any(|t| found.iter().any(|(s, c)| t.matches(s.as_deref(), c)))
        }
        Criterion::Date(name, d) => date_ms_of(value, name).is_some_and(|ms| d.matches(ms)),
        Criterion::Text(name, text) => texts_of(value, name).iter().any(|t| starts_a_word(t, text)),
    }
}

/// Whether a candidate meets an indexed criterion from its item's columns.
fn meets_indexed(c: &Candidate, criterion: &Criterion) -> bool {
    match criterion {
        Criterion::Date(_, d) => c.start_ms.is_some_and(|ms| d.matches(ms)),
        Criterion::Token(name, tokens) if matches!(*name, "code" | "type") => {
            let codings: Vec<crate::backend::fhir::map::Coding> = c.codes.as_deref().and_then(|t| serde_json::from_str(t).ok()).unwrap_or_default();
            tokens.iter().any(|t| codings.iter().any(|k| k.code.as_deref().is_some_and(|code| t.matches(k.system.as_deref(), code))))
        }
        // The item keeps the first category's (or class's, or intent's) code, without its system.
        Criterion::Token(_, tokens) => c.category.as_deref().is_some_and(|code| tokens.iter().any(|t: &Token| t.code == code)),
        _ => true,
    }
}

/// An indexed criterion as a condition on the item's columns, when SQL says exactly what
/// [`meets_indexed`] does (a missing date or category matches nothing either way); `None` for
/// codes, which sit in the item's JSON list and are matched in memory.
fn indexed_condition(criterion: &Criterion) -> Option<sea_orm::Condition> {
    let start = || clinical_item::Column::StartMs;
    let all = sea_orm::Condition::all();
    match criterion {
        Criterion::Date(_, d) => Some(match d.prefix {
            DatePrefix::Eq => all.add(start().gte(d.low_ms)).add(start().lt(d.high_ms)),
            DatePrefix::Gt => all.add(start().gte(d.high_ms)),
            DatePrefix::Ge => all.add(start().gte(d.low_ms)),
            DatePrefix::Lt => all.add(start().lt(d.low_ms)),
            DatePrefix::Le => all.add(start().lt(d.high_ms)),
        }),
        Criterion::Token(name, tokens) if !matches!(*name, "code" | "type") => Some(all.add(clinical_item::Column::Category.is_in(tokens.iter().map(|t| t.code.clone())))),
        _ => None,
    }
}

/// A read by id narrowed to the categories a granular scope allows (a resource of another
/// category answers 404 like an absent one).
fn of_categories(select: sea_orm::Select<fhir_resource::Entity>, access: &TypeAccess) -> sea_orm::Select<fhir_resource::Entity> {
    match access {
        TypeAccess::Categories(codes) => select
            .join(JoinType::InnerJoin, fhir_resource::Entity::belongs_to(clinical_item::Entity).from(fhir_resource::Column::Id).to(clinical_item::Column::ResourceId).into())
            .filter(clinical_item::Column::Category.is_in(codes.iter().cloned())),
        _ => select,
    }
}

/// The resource ids hidden from this person (see the module notes), as subqueries.
fn hidden(patient_id: &str, limited: bool) -> Vec<SelectStatement> {
    if limited {
        let documents = sea_orm::sea_query::Query::select()
            .column(clinical_document::Column::ResourceId)
            .from(clinical_document::Entity)
            .and_where(clinical_document::Column::PatientId.eq(patient_id))
            .to_owned();
        vec![super::record::tagged(patient_id), documents]
    } else {
        vec![super::record::psychotherapy_notes(patient_id)]
    }
}

fn visible(mut select: sea_orm::Select<fhir_resource::Entity>, reading: &Reading) -> sea_orm::Select<fhir_resource::Entity> {
    for hide in hidden(&reading.patient.id, reading.limited) {
        select = select.filter(fhir_resource::Column::Id.not_in_subquery(hide));
    }
    select
}

/// A served resource's full URL.
fn full_url(base: &str, value: &Value) -> String {
    format!(
        "{base}/{}/{}",
        value.get("resourceType").and_then(Value::as_str).unwrap_or_default(),
        value.get("id").and_then(Value::as_str).unwrap_or_default()
    )
}

/// A searchset Bundle.
fn searchset(total: usize, links: Vec<(&str, String)>, entries: Vec<(Value, &str)>, base: &str) -> Value {
    json!({
        "resourceType": "Bundle",
        "type": "searchset",
        "total": total,
        "link": links.into_iter().map(|(relation, url)| json!({ "relation": relation, "url": url })).collect::<Vec<_>>(),
        "entry": entries.into_iter().map(|(resource, mode)| json!({ "fullUrl": full_url(base, &resource), "resource": resource, "search": { "mode": mode } })).collect::<Vec<_>>(),
    })
}

impl AccessContext {
    /// The grant's patient, asked of the policy now (a caregiver whose access ended is refused:
    /// 403), and whether the view is limited.
    async fn api_reading(&self, grant: &ApiGrant) -> Result<Reading, ApiError> {
        let grants = self.grants_for(&grant.patient_id).await?;
        self.authorize_with(Action::ReadPatientRecord, policy::Target::Patient(&grant.patient_id), AuditAction::PatientRead, &grants)
            .await
            .map_err(|_| ApiError::new(403, "forbidden", "the person who connected this app may no longer read this record"))?;
        let limited = !self.allows_with(Action::ReadSensitive, &grant.patient_id, &grants);
        let patient = patient_row::Entity::find_by_id(grant.patient_id.as_str())
            .filter(patient_row::Column::SiteCode.eq(self.site_code.as_str()))
            .one(&self.db)
            .await?
            .ok_or_else(|| ApiError::not_found("the record"))?;
        Ok(Reading { patient, limited })
    }

    /// Audits one API request: a read of the record by the person, through the app.
    async fn api_audit(&self, grant: &ApiGrant, what: String) -> Result<(), ApiError> {
        self.audit_app_read(Outcome::Success, &grant.patient_id, &grant.app_id, &what).await?;
        Ok(())
    }

    /// An app's read of a record (or its refusal) in the audit trail, under the app's name.
    async fn audit_app_read(&self, outcome: Outcome, patient_id: &str, app_id: &str, what: &str) -> Result<(), AppError> {
        let event = self.event(AuditAction::PatientRead, outcome).patient(patient_id).entity("smart_app", app_id).detail(format!("app {app_id}: {what}"));
        self.audit_alone(event).await?;
        Ok(())
    }

    /// The Patient resource: the imported one (the first, when several sources sent one) under
    /// the record's id, or one made from the record's own row.
    async fn api_patient_resource(&self, reading: &Reading) -> Result<Value, ApiError> {
        let stored = fhir_resource::Entity::find()
            .filter(fhir_resource::Column::PatientId.eq(reading.patient.id.as_str()))
            .filter(fhir_resource::Column::ResourceType.eq("Patient"))
            .order_by_asc(fhir_resource::Column::ImportedAtMs)
            .one(&self.db)
            .await?;
        let p = &reading.patient;
        let mut value = match stored.and_then(|r| serde_json::from_str::<Value>(&r.json).ok()) {
            Some(v) => v,
            None => json!({
                "resourceType": "Patient",
                "name": [{ "family": p.family_name, "given": p.given_names.split_whitespace().collect::<Vec<_>>() }],
                "birthDate": p.birth_date,
            }),
        };
        if let Value::Object(map) = &mut value {
            map.insert("id".into(), Value::String(p.id.clone()));
        }
        Ok(value)
    }

    /// Rewrites the references of `values` to this server's `Type/id` (see the module notes),
    /// and returns the directory resources (practitioners, organizations, locations) they name
    /// that the grant may read, for `$everything` to include.
    async fn api_references(&self, reading: &Reading, grant: &ApiGrant, values: &mut [Value]) -> Result<Vec<(String, String)>, ApiError> {
        let mut ids: HashSet<String> = HashSet::new();
        let mut conditional: HashSet<(String, String, String)> = HashSet::new();
        let mut references = Vec::new();
        for value in values.iter() {
            references_of(value, &mut references);
        }
        for reference in &references {
            match parse_reference(reference) {
                Target::Uuid(id) | Target::TypeId(_, id) => {
                    ids.insert(id.to_string());
                }
                Target::Conditional(kind, system, value) => {
                    conditional.insert((kind.to_string(), system.to_string(), value.to_string()));
                }
                Target::Local | Target::Unknown => {}
            }
        }
        // (type, fhir id) by fhir id, and by (type, system, value).
        let mut by_id: HashMap<String, (String, String)> = HashMap::new();
        let mut by_identifier: HashMap<(String, String, String), (String, String)> = HashMap::new();
        let mut directory: Vec<(String, String)> = Vec::new();
        let patient_id = reading.patient.id.as_str();
        let ids: Vec<String> = ids.into_iter().collect();
        for chunk in ids.chunks(500) {
            let select = fhir_resource::Entity::find()
                .select_only()
                .columns([fhir_resource::Column::ResourceType, fhir_resource::Column::FhirId, fhir_resource::Column::PatientId])
                .filter(fhir_resource::Column::FhirId.is_in(chunk.iter().cloned()))
                .filter(sea_orm::Condition::any().add(fhir_resource::Column::PatientId.eq(patient_id)).add(fhir_resource::Column::PatientId.is_null()));
            let rows: Vec<(String, String, Option<String>)> = visible(select, reading).into_tuple().all(&self.db).await?;
            for (kind, fhir_id, owner) in rows {
                let shown_id = if kind == "Patient" && owner.is_some() { patient_id.to_string() } else { fhir_id.clone() };
                if owner.is_none() {
                    directory.push((kind.clone(), fhir_id.clone()));
                }
                by_id.insert(fhir_id, (kind, shown_id));
            }
        }
        let values_wanted: Vec<String> = conditional.iter().map(|(_, _, v)| v.clone()).collect::<HashSet<_>>().into_iter().collect();
        for chunk in values_wanted.chunks(500) {
            let rows: Vec<(String, String, String, String)> = resource_identifier::Entity::find()
                .select_only()
                .columns([resource_identifier::Column::System, resource_identifier::Column::Value])
                .column(fhir_resource::Column::ResourceType)
                .column(fhir_resource::Column::FhirId)
                .join(JoinType::InnerJoin, resource_identifier::Entity::belongs_to(fhir_resource::Entity).from(resource_identifier::Column::ResourceId).to(fhir_resource::Column::Id).into())
                .filter(resource_identifier::Column::Value.is_in(chunk.iter().cloned()))
                .filter(fhir_resource::Column::PatientId.is_null())
                .into_tuple()
                .all(&self.db)
                .await?;
            for (system, value, kind, fhir_id) in rows {
                if conditional.contains(&(kind.clone(), system.clone(), value.clone())) {
                    directory.push((kind.clone(), fhir_id.clone()));
                    by_identifier.insert((kind.clone(), system, value), (kind, fhir_id));
                }
            }
        }
        // A type the grant reads only some categories of is referred to display-only: the
        // target may be of another category, which the app could not read.
        let served = |kind: &str| RESOURCE_TYPES.contains(&kind) && grant.scopes.access(kind, Interaction::Read) == TypeAccess::All;
        for value in values.iter_mut() {
            rewrite_references(value, &mut |target| {
                let (kind, id) = match target {
                    Target::Uuid(id) => by_id.get(*id)?,
                    Target::TypeId(kind, id) => by_id.get(*id).filter(|(k, _)| k == kind)?,
                    Target::Conditional(kind, system, value) => by_identifier.get(&(kind.to_string(), system.to_string(), value.to_string()))?,
                    Target::Local | Target::Unknown => return None,
                };
                served(kind).then(|| format!("{kind}/{id}"))
            });
        }
        directory.retain(|(kind, _)| served(kind));
        directory.sort();
        directory.dedup();
        Ok(directory)
    }

    /// `GET [base]/<type>/<id>`.
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn api_read(&self, grant: &ApiGrant, resource_type: &str, id: &str) -> Result<Value, ApiError> {
        if !grant.scopes.allows(resource_type, Interaction::Read) {
            return Err(ApiError::new(403, "forbidden", format!("the app was not granted patient/{resource_type}.r")));
        }
        let reading = self.api_reading(grant).await?;
        let not_found = || ApiError::not_found(&format!("{resource_type}/{id}"));
        let mut value = if resource_type == "Patient" {
            if id != reading.patient.id {
                return Err(not_found());
            }
            self.api_patient_resource(&reading).await?
        } else {
            let select = fhir_resource::Entity::find()
                .select_only()
                .column(fhir_resource::Column::Json)
                .filter(fhir_resource::Column::ResourceType.eq(resource_type))
                .filter(fhir_resource::Column::FhirId.eq(id));
            let select = of_categories(select, &grant.scopes.access(resource_type, Interaction::Read));
            let select = if in_patient_compartment(resource_type) {
                visible(select.filter(fhir_resource::Column::PatientId.eq(reading.patient.id.as_str())), &reading)
            } else {
                select.filter(fhir_resource::Column::PatientId.is_null())
            };
            let json: String = select.into_tuple().one(&self.db).await?.ok_or_else(not_found)?;
            serde_json::from_str(&json).map_err(|_| not_found())?
        };
        self.api_references(&reading, grant, std::slice::from_mut(&mut value)).await?;
        self.api_audit(grant, format!("{resource_type} read")).await?;
        Ok(value)
    }

    /// `GET [base]/<type>?…`: a page of the matches, newest first (by the item's date), with
    /// `self` and `next` links.
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn api_search(&self, grant: &ApiGrant, resource_type: &str, search: &Search, base: &str, query: &str) -> Result<Value, ApiError> {
        if !grant.scopes.allows(resource_type, Interaction::Search) {
            return Err(ApiError::new(403, "forbidden", format!("the app was not granted patient/{resource_type}.s")));
        }
        let reading = self.api_reading(grant).await?;
        for criterion in &search.criteria {
            if let Criterion::Patient(id) = criterion
                && *id != reading.patient.id
            {
                return Err(ApiError::not_found(&format!("Patient/{id}")));
            }
        }
        let (indexed_criteria, other): (Vec<&Criterion>, Vec<&Criterion>) = search.criteria.iter().partition(|c| match c {
            Criterion::Token(name, _) | Criterion::Date(name, _) => indexed(resource_type, name),
            _ => false,
        });
        // Every criterion said in SQL (the usual app query: newest observations of a category,
        // in a date range): the database sorts, counts and pages, and only the page is read.
        let in_sql: Option<Vec<sea_orm::Condition>> = if resource_type == "Patient" || needs_json(&other) { None } else { indexed_criteria.iter().map(|c| indexed_condition(c)).collect() };
        let (total, start, page): (usize, usize, Vec<(String, Option<Value>)>) = if let Some(conditions) = in_sql {
            let mut select = self.api_candidates(&reading, grant, resource_type, search).select_only().column(fhir_resource::Column::Id);
            for condition in conditions {
                select = select.filter(condition);
            }
            let total = usize::try_from(sea_orm::PaginatorTrait::count(select.clone(), &self.db).await?).unwrap_or(usize::MAX);
            let start = usize::try_from(search.offset).unwrap_or(usize::MAX).min(total);
            let ids: Vec<String> = select
                .order_by_with_nulls(clinical_item::Column::StartMs, sea_orm::Order::Desc, sea_orm::sea_query::NullOrdering::Last)
                .order_by_asc(fhir_resource::Column::Id)
                .limit(search.count)
                .offset(u64::try_from(start).unwrap_or(u64::MAX))
                .into_tuple()
                .all(&self.db)
                .await?;
            (total, start, ids.into_iter().map(|id| (id, None)).collect())
        } else {
            let matches = self.api_matches(&reading, grant, resource_type, search, &indexed_criteria, &other).await?;
            let total = matches.len();
            let start = usize::try_from(search.offset).unwrap_or(usize::MAX).min(total);
            let end = start.saturating_add(usize::try_from(search.count).unwrap_or(usize::MAX)).min(total);
            (total, start, matches[start..end].to_vec())
        };
        let end = start + page.len();
        let page = &page[..];
        let missing: Vec<String> = page.iter().filter(|(_, v)| v.is_none()).map(|(id, _)| id.clone()).collect();
        let mut fetched = if missing.is_empty() { HashMap::new() } else { self.api_json(&missing).await? };
        let mut values: Vec<Value> = page.iter().filter_map(|(id, v)| v.clone().or_else(|| fetched.remove(id))).collect();
        self.api_references(&reading, grant, &mut values).await?;
        let link = |offset: usize| {
            let mut url = format!("{base}/{resource_type}?");
            if !query.is_empty() {
                url.push_str(query);
                url.push('&');
            }
            url.push_str(&format!("_count={}&_offset={offset}", search.count));
            url
        };
        let mut links = vec![("self", link(start))];
        if end < total && search.count > 0 {
            links.push(("next", link(end)));
        }
        if start > 0 && search.count > 0 {
            links.push(("previous", link(start.saturating_sub(usize::try_from(search.count).unwrap_or(usize::MAX)))));
        }
        self.api_audit(grant, format!("{resource_type} search")).await?;
        Ok(searchset(total, links, values.into_iter().map(|v| (v, "match")).collect(), base))
    }

    /// The rows a search starts from: the type's resources of the record (or the directory's),
    /// those hidden from this person left out, `_id` applied, joined to their items.
    fn api_candidates(&self, reading: &Reading, grant: &ApiGrant, resource_type: &str, search: &Search) -> sea_orm::Select<fhir_resource::Entity> {
        let mut select = fhir_resource::Entity::find()
            .join(JoinType::LeftJoin, fhir_resource::Entity::belongs_to(clinical_item::Entity).from(fhir_resource::Column::Id).to(clinical_item::Column::ResourceId).into())
            .filter(fhir_resource::Column::ResourceType.eq(resource_type));
        if let TypeAccess::Categories(codes) = grant.scopes.access(resource_type, Interaction::Search) {
            select = select.filter(clinical_item::Column::Category.is_in(codes));
        }
        for criterion in &search.criteria {
            if let Criterion::Id(ids) = criterion {
                select = select.filter(fhir_resource::Column::FhirId.is_in(ids.iter().cloned()));
            }
        }
        if in_patient_compartment(resource_type) {
            visible(select.filter(fhir_resource::Column::PatientId.eq(reading.patient.id.as_str())), reading)
        } else {
            select.filter(fhir_resource::Column::PatientId.is_null())
        }
    }

    /// Every match of a search with criteria SQL cannot say (codes in the item's list, strings
    /// and tokens inside the resource), newest first: the index columns first, then the JSON.
    async fn api_matches(&self, reading: &Reading, grant: &ApiGrant, resource_type: &str, search: &Search, indexed_criteria: &[&Criterion], other: &[&Criterion]) -> Result<Vec<(String, Option<Value>)>, ApiError> {
        if resource_type == "Patient" {
            let value = self.api_patient_resource(reading).await?;
            return Ok(if other.iter().all(|c| meets(&value, c)) { vec![(reading.patient.id.clone(), Some(value))] } else { Vec::new() });
        }
        let rows: Vec<CandidateRow> = self
            .api_candidates(reading, grant, resource_type, search)
            .select_only()
            .column(fhir_resource::Column::Id)
            .column(clinical_item::Column::StartMs)
            .column_as(Expr::col((clinical_item::Entity, clinical_item::Column::Codes)), "codes")
            .column(clinical_item::Column::Category)
            .into_tuple()
            .all(&self.db)
            .await?;
        let mut candidates: Vec<Candidate> = rows
            .into_iter()
            .map(|(id, start_ms, codes, category)| Candidate { id, start_ms, codes, category })
            .filter(|c| indexed_criteria.iter().all(|k| meets_indexed(c, k)))
            .collect();
        // Newest first; undated last (SQLite and PostgreSQL sort NULLs apart).
        // Ties by row id, as the SQL path does (row ids are UUIDs: the same order under any
        // collation, where a FHIR id's hyphens may not be).
        candidates.sort_by(|a, b| b.start_ms.is_some().cmp(&a.start_ms.is_some()).then(b.start_ms.cmp(&a.start_ms)).then(a.id.cmp(&b.id)));
        if !needs_json(other) {
            return Ok(candidates.into_iter().map(|c| (c.id, None)).collect());
        }
        let ids: Vec<String> = candidates.iter().map(|c| c.id.clone()).collect();
        let mut parsed = self.api_json(&ids).await?;
        Ok(candidates
            .into_iter()
            .filter_map(|c| parsed.remove(&c.id).map(|v| (c.id, v)))
            .filter(|(_, v)| other.iter().all(|c| meets(v, c)))
            .map(|(id, v)| (id, Some(v)))
            .collect())
    }

    /// Stored resources by row id, parsed (one that no longer parses is left out).
    async fn api_json(&self, ids: &[String]) -> Result<HashMap<String, Value>, ApiError> {
        let mut out = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(500) {
            let rows: Vec<(String, String)> = fhir_resource::Entity::find()
                .select_only()
                .columns([fhir_resource::Column::Id, fhir_resource::Column::Json])
                .filter(fhir_resource::Column::Id.is_in(chunk.iter().cloned()))
                .into_tuple()
                .all(&self.db)
                .await?;
            out.extend(rows.into_iter().filter_map(|(id, json)| Some((id, serde_json::from_str(&json).ok()?))));
        }
        Ok(out)
    }

    /// `GET [base]/Patient/<id>/$everything`: the patient and every resource of theirs the grant
    /// may search, with the practitioners, organizations and locations they refer to.
    #[tracing::instrument(skip_all, fields(action = tracing::field::Empty, patient_id = tracing::field::Empty))]
    pub async fn api_everything(&self, grant: &ApiGrant, id: &str, base: &str) -> Result<Value, ApiError> {
        let types: Vec<&str> = RESOURCE_TYPES.iter().copied().filter(|t| in_patient_compartment(t) && *t != "Patient" && grant.scopes.allows(t, Interaction::Search)).collect();
        if types.is_empty() && !grant.scopes.allows("Patient", Interaction::Search) {
            return Err(ApiError::new(403, "forbidden", "the app was not granted search of any type"));
        }
        let reading = self.api_reading(grant).await?;
        if id != reading.patient.id {
            return Err(ApiError::not_found(&format!("Patient/{id}")));
        }
        let mut values = Vec::new();
        if grant.scopes.allows("Patient", Interaction::Search) {
            values.push(self.api_patient_resource(&reading).await?);
        }
        // Each type as the grant reads it: whole, or only some categories (granular scopes).
        let mut of_types = sea_orm::Condition::any();
        for kind in &types {
            let mut this = sea_orm::Condition::all().add(fhir_resource::Column::ResourceType.eq(*kind));
            if let TypeAccess::Categories(codes) = grant.scopes.access(kind, Interaction::Search) {
                this = this.add(clinical_item::Column::Category.is_in(codes));
            }
            of_types = of_types.add(this);
        }
        let select = fhir_resource::Entity::find()
            .select_only()
            .column(fhir_resource::Column::Json)
            .join(JoinType::LeftJoin, fhir_resource::Entity::belongs_to(clinical_item::Entity).from(fhir_resource::Column::Id).to(clinical_item::Column::ResourceId).into())
            .filter(fhir_resource::Column::PatientId.eq(reading.patient.id.as_str()))
            .filter(fhir_resource::Column::ResourceType.is_in(types.iter().copied()))
            .filter(of_types)
            .order_by_asc(fhir_resource::Column::ResourceType)
            .order_by_asc(fhir_resource::Column::FhirId);
        let rows: Vec<String> = visible(select, &reading).into_tuple().all(&self.db).await?;
        values.extend(rows.iter().filter_map(|json| serde_json::from_str::<Value>(json).ok()));
        let directory = self.api_references(&reading, grant, &mut values).await?;
        let mut included = Vec::new();
        for kinds in directory.chunks(500) {
            let mut any = sea_orm::Condition::any();
            for (kind, fhir_id) in kinds {
                any = any.add(sea_orm::Condition::all().add(fhir_resource::Column::ResourceType.eq(kind.as_str())).add(fhir_resource::Column::FhirId.eq(fhir_id.as_str())));
            }
            let rows: Vec<String> = fhir_resource::Entity::find()
                .select_only()
                .column(fhir_resource::Column::Json)
                .filter(fhir_resource::Column::PatientId.is_null())
                .filter(any)
                .into_tuple()
                .all(&self.db)
                .await?;
            included.extend(rows.iter().filter_map(|json| serde_json::from_str::<Value>(json).ok()));
        }
        self.api_references(&reading, grant, &mut included).await?;
        let total = values.len();
        let mut entries: Vec<(Value, &str)> = values.into_iter().map(|v| (v, "match")).collect();
        entries.extend(included.into_iter().map(|v| (v, "include")));
        self.api_audit(grant, "Patient $everything".into()).await?;
        Ok(searchset(total, vec![("self", format!("{base}/Patient/{id}/$everything"))], entries, base))
    }
}

/// An `OperationOutcome` for an error.
pub fn operation_outcome(error: &ApiError) -> Value {
    let severity = if error.status >= 500 { "fatal" } else { "error" };
    let mut issue = Map::new();
    issue.insert("severity".into(), json!(severity));
    issue.insert("code".into(), json!(error.code));
    issue.insert("diagnostics".into(), json!(error.message));
    json!({ "resourceType": "OperationOutcome", "issue": [Value::Object(issue)] })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_found_in_every_shape() {
        let value = json!({
            "status": "final",
            "category": [{ "coding": [{ "system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": "vital-signs" }] }],
            "clinicalStatus": { "coding": [{ "code": "active" }] },
            "identifier": [{ "system": "urn:mrn", "value": "42" }],
        });
        let token = |name: &'static str, system: Option<&str>, code: &str| Criterion::Token(name, vec![Token { system: system.map(str::to_string), code: code.into() }]);
        assert!(meets(&value, &token("status", None, "final")));
        assert!(meets(&value, &token("category", Some("http://terminology.hl7.org/CodeSystem/observation-category"), "vital-signs")));
        assert!(!meets(&value, &token("category", Some("other"), "vital-signs")));
        assert!(meets(&value, &token("clinical-status", None, "active")));
        assert!(meets(&value, &token("identifier", Some("urn:mrn"), "42")));
        assert!(!meets(&value, &token("status", None, "amended")));
    }

    #[test]
    fn names_and_addresses_are_searched_by_word() {
        let value = json!({ "name": [{ "family": "León", "given": ["Ana", "María"], "prefix": ["Mrs."] }], "address": [{ "line": ["1 Main St"], "city": "Boston" }] });
        assert!(meets(&value, &Criterion::Text("name", "mar".into())));
        assert!(meets(&value, &Criterion::Text("family", "leó".into())));
        assert!(!meets(&value, &Criterion::Text("family", "ana".into())));
        assert!(meets(&value, &Criterion::Text("address", "bost".into())));
        let org = json!({ "name": "General Hospital", "alias": ["GH"] });
        assert!(meets(&org, &Criterion::Text("name", "hosp".into())) && meets(&org, &Criterion::Text("name", "gh".into())));
    }

    #[test]
    fn errors_are_operation_outcomes() {
        let outcome = operation_outcome(&ApiError::not_found("Observation/x"));
        assert_eq!(outcome["resourceType"], "OperationOutcome");
        assert_eq!(outcome["issue"][0]["code"], "not-found");
    }
}
