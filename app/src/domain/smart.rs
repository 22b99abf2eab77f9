//! SMART App Launch 2.x scopes (issue 22): what an app of the patient's choice asks for, what
//! the portal can grant, and how each scope reads on the consent page.
//!
//! The API is read-only and patient-facing (ONC 45 CFR 170.315(g)(10)), so the portal grants:
//! - `patient/<Type>.rs` (SMART v2) and `patient/<Type>.read` (v1, read as `.rs`), for one of the
//!   resource types the API serves or `*` for all of them; of a v2 permission string only its
//!   `r` (read by id) and `s` (search) are granted, and a scope with neither is refused;
//! - `openid`, `fhirUser`, `offline_access` and `launch/patient`.
//!
//! - granular scopes (SMART 2 "finer-grained resource constraints", the ones US Core names):
//!   `patient/<Type>.rs?category=<code or system|code>` for Observation, Condition,
//!   DiagnosticReport and DocumentReference; the app then reads only that type's resources whose
//!   (first) category has that code, everywhere (search, read by id, `$everything`).
//!
//! Anything else is refused and listed as such: `user/` and `system/` scopes (the app acts for one
//! patient, the one who signs in or the one a caregiver acts for), write permissions, types the
//! API does not serve, and granular scopes with any other query. A refused scope is never
//! silently widened.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;

/// The resource types the FHIR API serves, in the order the consent page lists them.
pub const RESOURCE_TYPES: [&str; 17] = [
    "Patient",
    "AllergyIntolerance",
    "Condition",
    "MedicationRequest",
    "Immunization",
    "Observation",
    "DiagnosticReport",
    "Procedure",
    "Encounter",
    "DocumentReference",
    "CarePlan",
    "Goal",
    "Device",
    "Practitioner",
    "Organization",
    "Location",
    "Provenance",
];

/// The longest scope string read (an app asking for every type by name, twice over, fits).
pub const MAX_SCOPE_CHARS: usize = 4_000;

/// One scope the portal can grant.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Scope {
    /// Read and/or search the patient's resources of one type (`None`: every type served),
    /// only those of one category when `category` is set (the token as the app wrote it).
    Patient { resource: Option<String>, read: bool, search: bool, category: Option<String> },
    /// `openid`: the app learns who signed in.
    OpenId,
    /// `fhirUser`: the app learns the FHIR resource of who signed in.
    FhirUser,
    /// `offline_access`: a refresh token that outlives the app's use.
    OfflineAccess,
    /// `launch/patient`: the token response names the patient (standalone launch).
    LaunchPatient,
}

/// An interaction with the API that a scope must allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interaction {
    /// `GET <Type>/<id>`.
    Read,
    /// `GET <Type>?…` (and `Patient/$everything`, which is a search over every type).
    Search,
}

impl Scope {
    /// Parses one scope token; `None` when the portal cannot grant it (see the module notes).
    pub fn parse(token: &str) -> Option<Scope> {
        match token {
            "openid" => return Some(Scope::OpenId),
            "fhirUser" => return Some(Scope::FhirUser),
            "offline_access" => return Some(Scope::OfflineAccess),
            "launch/patient" => return Some(Scope::LaunchPatient),
            _ => {}
        }
        let rest = token.strip_prefix("patient/")?;
        let (rest, query) = match rest.split_once('?') {
            Some((rest, query)) => (rest, Some(query)),
            None => (rest, None),
        };
        let (resource, permissions) = rest.split_once('.')?;
        let resource = match resource {
            "*" => None,
            name if RESOURCE_TYPES.contains(&name) => Some(name.to_string()),
            _ => return None,
        };
        let (read, search) = match permissions {
            // SMART v1: `read` is read and search; `write` and `*` grant what is readable of them.
            "read" | "*" => (true, true),
            "write" => return None,
            v2 => {
                // A v2 permission string: letters of `cruds`, each at most once, in that order.
                let mut order = "cruds".chars();
                if v2.is_empty() || !v2.chars().all(|c| order.by_ref().any(|o| o == c)) {
                    return None;
                }
                (v2.contains('r'), v2.contains('s'))
            }
        };
        if !read && !search {
            return None;
        }
        let category = match query {
            None => None,
            Some(query) => {
                let value = query.strip_prefix("category=")?;
                let code = category_code(value);
                let categorised = resource.as_deref().is_some_and(|r| CATEGORISED_TYPES.contains(&r));
                if !categorised || code.is_empty() || value.contains(['&', '=', ',', '?']) || value.matches('|').count() > 1 {
                    return None;
                }
                Some(value.to_string())
            }
        };
        Some(Scope::Patient { resource, read, search, category })
    }

    /// What the patient reads on the consent page.
    pub fn plain_language(&self) -> String {
        match self {
            Scope::Patient { resource, read, search, category } => {
                let what = resource.as_deref().map_or("your whole record: every kind of data below", plain_name);
                let how = match (read, search) {
                    (true, true) => "Read and search",
                    (true, false) => "Read, one item at a time,",
                    _ => "Search",
                };
                match category {
                    Some(category) => format!("{how} {what}, only {}", plain_category(category_code(category))),
                    None => format!("{how} {what}"),
                }
            }
            Scope::OpenId => "Know who signed in (your name and email in this portal)".into(),
            Scope::FhirUser => "Know which person in the record signed in".into(),
            Scope::OfflineAccess => "Keep its access while you are not using it, until you disconnect it".into(),
            Scope::LaunchPatient => "Know whose record it is reading".into(),
        }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Patient { resource, read, search, category } => {
                let permissions = match (read, search) {
                    (true, true) => "rs",
                    (true, false) => "r",
                    _ => "s",
                };
                write!(f, "patient/{}.{permissions}", resource.as_deref().unwrap_or("*"))?;
                match category {
                    Some(category) => write!(f, "?category={category}"),
                    None => Ok(()),
                }
            }
            Scope::OpenId => f.write_str("openid"),
            Scope::FhirUser => f.write_str("fhirUser"),
            Scope::OfflineAccess => f.write_str("offline_access"),
            Scope::LaunchPatient => f.write_str("launch/patient"),
        }
    }
}

/// The types a granular scope may narrow by category (those whose category the index keeps).
pub const CATEGORISED_TYPES: [&str; 4] = ["Observation", "Condition", "DiagnosticReport", "DocumentReference"];

/// The code of a category token (`system|code` or `code`).
pub fn category_code(token: &str) -> &str {
    token.rsplit('|').next().unwrap_or(token)
}

/// A category as the consent page names it (US Core's categories; others by their code).
fn plain_category(code: &str) -> String {
    match code {
        "laboratory" => "lab results".into(),
        "vital-signs" => "vital signs".into(),
        "social-history" => "social history (smoking, living situation)".into(),
        "imaging" => "imaging results".into(),
        "survey" => "questionnaire answers".into(),
        "exam" => "examination findings".into(),
        "procedure" => "procedure results".into(),
        "therapy" => "therapy records".into(),
        "activity" => "activity records".into(),
        "problem-list-item" => "your problem list".into(),
        "encounter-diagnosis" => "diagnoses made at visits".into(),
        "health-concern" => "health concerns".into(),
        "clinical-note" => "clinical notes".into(),
        other => format!("those of the kind \"{other}\""),
    }
}

/// What a set of scopes lets an app see of one type for one interaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TypeAccess {
    None,
    All,
    /// Only resources whose category has one of these codes.
    Categories(Vec<String>),
}

/// A resource type as the consent page and the activity history name it.
pub fn plain_name(resource: &str) -> &'static str {
    match resource {
        "Patient" => "your name, birth date and contact details",
        "AllergyIntolerance" => "your allergies",
        "Condition" => "your problems and diagnoses",
        "MedicationRequest" => "your medications",
        "Immunization" => "your immunizations",
        "Observation" => "your test results, vital signs and other observations",
        "DiagnosticReport" => "your lab and imaging reports",
        "Procedure" => "your procedures",
        "Encounter" => "your visits",
        "DocumentReference" => "your notes and scanned documents",
        "CarePlan" => "your care plans",
        "Goal" => "your health goals",
        "Device" => "your implanted devices",
        "Practitioner" => "the names of the people who cared for you",
        "Organization" => "the organizations that cared for you",
        "Location" => "the places you were seen",
        "Provenance" => "where each part of your record came from",
        _ => "data of another kind",
    }
}

/// A set of scopes: what an app asked for that can be granted, or what a grant holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeSet {
    scopes: BTreeSet<Scope>,
}

/// An app's `scope` parameter read: what can be granted, and what is refused, word for word.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeRequest {
    pub grantable: ScopeSet,
    pub refused: Vec<String>,
}

impl ScopeRequest {
    /// Reads a space-separated `scope` parameter (RFC 6749 3.3). Too long: `None`.
    pub fn parse(text: &str) -> Option<ScopeRequest> {
        if text.chars().count() > MAX_SCOPE_CHARS {
            return None;
        }
        let mut grantable = ScopeSet::default();
        let mut refused = Vec::new();
        for token in text.split(' ').filter(|t| !t.is_empty()) {
            match Scope::parse(token) {
                Some(scope) => {
                    grantable.scopes.insert(scope);
                }
                None if !refused.iter().any(|r| r == token) => refused.push(token.to_string()),
                None => {}
            }
        }
        Some(ScopeRequest { grantable, refused })
    }
}

impl ScopeSet {
    /// A stored grant's scopes (written by [`ScopeSet::to_text`]); a token that no longer
    /// parses is dropped, never widened.
    pub fn from_text(text: &str) -> ScopeSet {
        ScopeSet { scopes: text.split(' ').filter_map(Scope::parse).collect() }
    }

    /// The scopes, space-separated, in a fixed order (the token response's `scope`).
    pub fn to_text(&self) -> String {
        self.scopes.iter().map(ToString::to_string).collect::<Vec<_>>().join(" ")
    }

    pub fn iter(&self) -> impl Iterator<Item = &Scope> {
        self.scopes.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.scopes.is_empty()
    }

    pub fn contains(&self, scope: &Scope) -> bool {
        self.scopes.contains(scope)
    }

    /// Those of `self` that are also in `other` (a refresh may narrow a grant, never widen it;
    /// the patient may untick some of what the app asked for).
    pub fn narrowed_to(&self, other: &ScopeSet) -> ScopeSet {
        ScopeSet { scopes: self.scopes.iter().filter(|s| other.covers(s)).cloned().collect() }
    }

    /// Whether `scope` is within this set (a type's scope is within `patient/*` with the same
    /// permissions or more; a category's within its type's, or the same category's).
    fn covers(&self, scope: &Scope) -> bool {
        match scope {
            Scope::Patient { resource, read, search, category } => self.scopes.iter().any(|held| match held {
                Scope::Patient { resource: r, read: hr, search: hs, category: hc } => {
                    (r.is_none() || r == resource) && (*hr || !read) && (*hs || !search) && (hc.is_none() || hc == category)
                }
                _ => false,
            }),
            other => self.scopes.contains(other),
        }
    }

    /// What the set lets an app see of `resource_type` for `interaction`: all of it, only some
    /// categories (granular scopes), or nothing.
    pub fn access(&self, resource_type: &str, interaction: Interaction) -> TypeAccess {
        let (read, search) = match interaction {
            Interaction::Read => (true, false),
            Interaction::Search => (false, true),
        };
        if self.covers(&Scope::Patient { resource: Some(resource_type.to_string()), read, search, category: None }) {
            return TypeAccess::All;
        }
        let mut codes: Vec<String> = self
            .scopes
            .iter()
            .filter_map(|held| match held {
                Scope::Patient { resource: Some(r), read: hr, search: hs, category: Some(c) } if r == resource_type && (*hr || !read) && (*hs || !search) => Some(category_code(c).to_string()),
                _ => None,
            })
            .collect();
        codes.sort();
        codes.dedup();
        if codes.is_empty() { TypeAccess::None } else { TypeAccess::Categories(codes) }
    }

    /// Whether the set lets an app do `interaction` on some or all of `resource_type`.
    pub fn allows(&self, resource_type: &str, interaction: Interaction) -> bool {
        self.access(resource_type, interaction) != TypeAccess::None
    }

    /// Whether any data may be read at all (a grant without a `patient/` scope reads nothing).
    pub fn reads_data(&self) -> bool {
        self.scopes.iter().any(|s| matches!(s, Scope::Patient { .. }))
    }
}

impl FromIterator<Scope> for ScopeSet {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        ScopeSet { scopes: iter.into_iter().collect() }
    }
}

/// An app's authorization request (SMART App Launch 2.x standalone launch), as the query string
/// brings it; every field is checked by the server before anything is shown or granted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthorizeQuery {
    pub response_type: String,
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub state: String,
    pub aud: String,
    pub code_challenge: String,
    pub code_challenge_method: String,
    /// OpenID Connect's `nonce`, echoed in the ID token.
    pub nonce: String,
}

impl AuthorizeQuery {
    /// The request's parameters, in the order the consent form carries them.
    pub const FIELDS: [&'static str; 9] = ["response_type", "client_id", "redirect_uri", "scope", "state", "aud", "code_challenge", "code_challenge_method", "nonce"];

    /// The request read parameter by parameter (a missing one is empty).
    pub fn from_fields(get: impl Fn(&str) -> String) -> Self {
        AuthorizeQuery {
            response_type: get("response_type"),
            client_id: get("client_id"),
            redirect_uri: get("redirect_uri"),
            scope: get("scope"),
            state: get("state"),
            aud: get("aud"),
            code_challenge: get("code_challenge"),
            code_challenge_method: get("code_challenge_method"),
            nonce: get("nonce"),
        }
    }

    /// One parameter by its name (one of [`Self::FIELDS`]).
    pub fn field(&self, name: &str) -> &str {
        match name {
            "response_type" => &self.response_type,
            "client_id" => &self.client_id,
            "redirect_uri" => &self.redirect_uri,
            "scope" => &self.scope,
            "state" => &self.state,
            "aud" => &self.aud,
            "code_challenge" => &self.code_challenge,
            "code_challenge_method" => &self.code_challenge_method,
            "nonce" => &self.nonce,
            _ => "",
        }
    }
}

/// One scope offered on the consent page: its token (the checkbox's value) and what it means.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeChoice {
    pub scope: String,
    pub text: String,
}

/// What the consent page shows: which app asks, for whose record, what it may read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentView {
    pub app_name: String,
    pub patient_name: String,
    pub scopes: Vec<ScopeChoice>,
    /// Scopes the app asked for that the portal does not grant, word for word.
    pub refused: Vec<String>,
}

/// The answer to an authorization request: ask the person, or send the browser back to the
/// app (with an OAuth error: the request was malformed in a way the app must hear about).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Consent {
    Ask(ConsentView),
    Redirect(String),
}

/// An app connected to a record, as "who can see my record" lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectedApp {
    pub grant_id: String,
    pub app_name: String,
    /// "You", or the caregiver who connected it.
    pub connected_by: String,
    pub since: String,
    pub until: String,
    pub last_used: Option<String>,
    /// What it may read, in plain language.
    pub can_read: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(text: &str) -> ScopeSet {
        ScopeRequest::parse(text).expect("short").grantable
    }

    #[test]
    fn v2_and_v1_patient_scopes_grant_read_and_search_only() {
        assert_eq!(Scope::parse("patient/Observation.rs"), Some(Scope::Patient { resource: Some("Observation".into()), read: true, search: true, category: None }));
        assert_eq!(Scope::parse("patient/Observation.read"), Scope::parse("patient/Observation.rs"));
        assert_eq!(Scope::parse("patient/*.cruds"), Some(Scope::Patient { resource: None, read: true, search: true, category: None }));
        assert_eq!(Scope::parse("patient/Condition.r"), Some(Scope::Patient { resource: Some("Condition".into()), read: true, search: false, category: None }));
        assert_eq!(Scope::parse("patient/Condition.s").map(|s| s.to_string()), Some("patient/Condition.s".into()));
        for refused in [
            "patient/Observation.write",
            "patient/Observation.cud",
            "patient/Observation.sr",
            "patient/Observation.rr",
            "patient/Observation.",
            "user/Observation.rs",
            "system/*.rs",
            "patient/Claim.rs",
            "patient/Observation.rs?code=1234-5",
            "patient/Observation.rs?category=laboratory&code=1",
            "patient/Observation.rs?category=",
            "patient/Observation.rs?category=a|b|c",
            "patient/*.rs?category=laboratory",
            "patient/Immunization.rs?category=laboratory",
            "launch",
            "profile",
        ] {
            assert_eq!(Scope::parse(refused), None, "{refused}");
        }
    }

    #[test]
    fn granular_scopes_narrow_a_type_to_its_categories() {
        let lab = "patient/Observation.rs?category=http://terminology.hl7.org/CodeSystem/observation-category|laboratory";
        let scope = Scope::parse(lab).expect("granular");
        assert_eq!(scope.to_string(), lab);
        assert_eq!(scope.plain_language(), "Read and search your test results, vital signs and other observations, only lab results");
        let granted = set(&format!("{lab} patient/Condition.rs?category=problem-list-item patient/Observation.rs?category=vital-signs"));
        assert_eq!(granted.access("Observation", Interaction::Search), TypeAccess::Categories(vec!["laboratory".into(), "vital-signs".into()]));
        assert_eq!(granted.access("Condition", Interaction::Read), TypeAccess::Categories(vec!["problem-list-item".into()]));
        assert_eq!(granted.access("Procedure", Interaction::Read), TypeAccess::None);
        assert!(granted.allows("Observation", Interaction::Read) && !granted.allows("Goal", Interaction::Read));
        // The whole type covers its categories; a category never covers the whole type.
        let whole = set("patient/Observation.rs");
        assert_eq!(set(lab).narrowed_to(&whole).to_text(), lab);
        assert_eq!(whole.narrowed_to(&set(lab)).to_text(), "");
        assert_eq!(set(&format!("{lab} patient/Observation.rs")).access("Observation", Interaction::Search), TypeAccess::All);
        assert_eq!(ScopeSet::from_text(&granted.to_text()), granted);
    }

    #[test]
    fn a_request_keeps_what_can_be_granted_and_names_the_rest() {
        let request = ScopeRequest::parse("openid fhirUser  offline_access launch/patient patient/Observation.rs user/*.rs patient/Observation.read user/*.rs").expect("short");
        assert_eq!(request.grantable.to_text(), "patient/Observation.rs openid fhirUser offline_access launch/patient");
        assert_eq!(request.refused, vec!["user/*.rs".to_string()]);
        assert_eq!(ScopeSet::from_text(&request.grantable.to_text()), request.grantable);
        assert!(ScopeRequest::parse(&"a ".repeat(MAX_SCOPE_CHARS)).is_none());
    }

    #[test]
    fn a_set_allows_what_its_scopes_cover() {
        let all = set("patient/*.rs");
        assert!(all.allows("Observation", Interaction::Read) && all.allows("Patient", Interaction::Search));
        let labs = set("patient/Observation.rs patient/Patient.r");
        assert!(labs.allows("Observation", Interaction::Search));
        assert!(labs.allows("Patient", Interaction::Read));
        assert!(!labs.allows("Patient", Interaction::Search));
        assert!(!labs.allows("Condition", Interaction::Read));
        assert!(!set("openid offline_access").reads_data());
        assert!(labs.reads_data());
    }

    #[test]
    fn narrowing_never_widens() {
        let asked = set("patient/Observation.rs patient/Condition.rs openid offline_access");
        let ticked = set("patient/Observation.r offline_access patient/Goal.rs");
        let granted = asked.narrowed_to(&ticked);
        assert_eq!(granted.to_text(), "offline_access");
        let granted = set("patient/Observation.r patient/Condition.rs").narrowed_to(&set("patient/*.rs"));
        assert_eq!(granted.to_text(), "patient/Condition.rs patient/Observation.r");
    }

    #[test]
    fn every_scope_reads_in_plain_language() {
        for resource in RESOURCE_TYPES {
            let scope = Scope::Patient { resource: Some(resource.to_string()), read: true, search: true, category: None };
            assert!(!scope.plain_language().contains("another kind"), "{resource}");
        }
        assert_eq!(Scope::parse("patient/Observation.rs").map(|s| s.plain_language()).as_deref(), Some("Read and search your test results, vital signs and other observations"));
        assert!(Scope::OfflineAccess.plain_language().contains("disconnect"));
    }
}
