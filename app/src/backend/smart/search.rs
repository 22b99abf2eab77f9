//! The FHIR API's search parameters (issue 22): which each resource type takes (the US Core 3.1
//! / 6.1 mandatory searches, and a few more the record can answer), and how a query string is
//! read. A parameter the API does not support is refused with its name (FHIR R4 3.1.1.5.7:
//! a server may ignore unknown parameters, but an app that believes it filtered by one would
//! show the patient the wrong data), as is a malformed value.
//!
//! Values: tokens are `code` or `system|code` (comma-separated values are ORed); dates take the
//! prefixes `eq`, `gt`, `ge`, `lt`, `le` on a year, month, day or instant (a date without a time
//! is a UTC calendar day); strings match the start of a word, ignoring case and accents is not
//! attempted (ASCII case only).

use jiff::civil::Date;

/// Results per page when the app does not say.
pub const DEFAULT_COUNT: u64 = 50;
/// The most results one page carries (a larger `_count` is capped, FHIR R4 3.1.1.5.7).
pub const MAX_COUNT: u64 = 200;

/// A token value: `code` (any system) or `system|code` (`|code`: no system).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub system: Option<String>,
    pub code: String,
}

impl Token {
    fn parse(text: &str) -> Option<Token> {
        let (system, code) = match text.split_once('|') {
            Some((s, c)) => (Some(s.to_string()), c),
            None => (None, text),
        };
        (!code.is_empty()).then(|| Token { system, code: code.to_string() })
    }

    /// Whether the coding (`system`, `code`) matches.
    pub fn matches(&self, system: Option<&str>, code: &str) -> bool {
        if self.code != code {
            return false;
        }
        match self.system.as_deref() {
            None => true,
            Some("") => system.is_none_or(str::is_empty),
            Some(s) => system == Some(s),
        }
    }
}

/// A date comparison: the resource's instant against the range the value names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateParam {
    pub prefix: DatePrefix,
    /// The first millisecond the value names.
    pub low_ms: i64,
    /// The millisecond after the last one it names.
    pub high_ms: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DatePrefix {
    Eq,
    Gt,
    Ge,
    Lt,
    Le,
}

impl DateParam {
    fn parse(text: &str) -> Option<DateParam> {
        let (prefix, value) = match text.get(..2) {
            Some("eq") => (DatePrefix::Eq, &text[2..]),
            Some("gt") => (DatePrefix::Gt, &text[2..]),
            Some("ge") => (DatePrefix::Ge, &text[2..]),
            Some("lt") => (DatePrefix::Lt, &text[2..]),
            Some("le") => (DatePrefix::Le, &text[2..]),
            _ => (DatePrefix::Eq, text),
        };
        let (low_ms, high_ms) = date_range(value)?;
        Some(DateParam { prefix, low_ms, high_ms })
    }

    /// Whether an instant (ms since the epoch) satisfies the comparison.
    pub fn matches(&self, at_ms: i64) -> bool {
        match self.prefix {
            DatePrefix::Eq => at_ms >= self.low_ms && at_ms < self.high_ms,
            DatePrefix::Gt => at_ms >= self.high_ms,
            DatePrefix::Ge => at_ms >= self.low_ms,
            DatePrefix::Lt => at_ms < self.low_ms,
            DatePrefix::Le => at_ms < self.high_ms,
        }
    }
}

fn day_ms(date: Date) -> Option<i64> {
    Some(date.to_zoned_datetime(jiff::tz::TimeZone::UTC).ok()?.timestamp().as_millisecond())
}

/// The range `[low, high)` of milliseconds a FHIR date or dateTime names.
fn date_range(value: &str) -> Option<(i64, i64)> {
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    match value.len() {
        4 if digits(value, 4) => {
            let year: i16 = value.parse().ok()?;
            Some((day_ms(Date::new(year, 1, 1).ok()?)?, day_ms(Date::new(year.checked_add(1)?, 1, 1).ok()?)?))
        }
        7 if digits(&value[..4], 4) && &value[4..5] == "-" && digits(&value[5..], 2) => {
            let first = Date::new(value[..4].parse().ok()?, value[5..].parse().ok()?, 1).ok()?;
            Some((day_ms(first)?, day_ms(first.last_of_month().tomorrow().ok()?)?))
        }
        10 => {
            let day: Date = value.parse().ok()?;
            Some((day_ms(day)?, day_ms(day.tomorrow().ok()?)?))
        }
        _ => {
            let at: jiff::Timestamp = value.parse().ok()?;
            // An instant to the second names that second.
            let ms = at.as_millisecond();
            Some((ms, ms + 1_000))
        }
    }
}

/// One search criterion, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Criterion {
    /// `_id`: one of these ids.
    Id(Vec<String>),
    /// `patient` (or `subject`): the record's patient, as `id` or `Patient/id`.
    Patient(String),
    /// A token parameter (`category`, `code`, `status`, `clinical-status`, `intent`, `type`,
    /// `class`, `gender`, `identifier`): any of these values.
    Token(&'static str, Vec<Token>),
    /// A date parameter (`date`, `authoredon`, `birthdate`): every comparison holds.
    Date(&'static str, DateParam),
    /// A string parameter (`name`, `address`, `family`, `given`): starts a word.
    Text(&'static str, String),
}

/// A search, read: its criteria and which page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Search {
    pub criteria: Vec<Criterion>,
    pub count: u64,
    pub offset: u64,
}

/// Why a search cannot be run: the parameters named, with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchError(pub String);

/// The kind of a search parameter.
#[derive(Clone, Copy)]
enum Kind {
    Token,
    Date,
    Text,
}

/// The parameters each type takes besides `_id`, `_count`, `_offset` and (for the patient's
/// own data) `patient`.
fn parameters(resource_type: &str) -> &'static [(&'static str, Kind)] {
    use Kind::*;
    match resource_type {
        "Observation" => &[("category", Token), ("code", Token), ("date", Date), ("status", Token)],
        "Condition" => &[("category", Token), ("clinical-status", Token), ("code", Token), ("onset-date", Date)],
        "MedicationRequest" => &[("intent", Token), ("status", Token), ("authoredon", Date)],
        "Procedure" => &[("code", Token), ("date", Date), ("status", Token)],
        "Encounter" => &[("date", Date), ("class", Token), ("type", Token), ("status", Token)],
        "DiagnosticReport" => &[("category", Token), ("code", Token), ("date", Date), ("status", Token)],
        "DocumentReference" => &[("category", Token), ("type", Token), ("date", Date), ("status", Token)],
        "CarePlan" => &[("category", Token), ("status", Token), ("date", Date)],
        "AllergyIntolerance" => &[("clinical-status", Token)],
        "Immunization" => &[("date", Date), ("status", Token)],
        "Goal" => &[("lifecycle-status", Token)],
        "Device" => &[("type", Token)],
        "Patient" => &[("identifier", Token), ("name", Text), ("family", Text), ("given", Text), ("birthdate", Date), ("gender", Token)],
        "Practitioner" => &[("identifier", Token), ("name", Text)],
        "Organization" => &[("identifier", Token), ("name", Text), ("address", Text)],
        "Location" => &[("identifier", Token), ("name", Text), ("address", Text)],
        _ => &[],
    }
}

/// Whether the type is of the patient's own record (searched within it, `patient` allowed),
/// not of the shared directory (practitioners, organizations, locations).
pub fn in_patient_compartment(resource_type: &str) -> bool {
    !matches!(resource_type, "Practitioner" | "Organization" | "Location")
}

/// The search parameters of a type, for the CapabilityStatement: (name, FHIR type).
pub fn capability_parameters(resource_type: &str) -> Vec<(&'static str, &'static str)> {
    let mut out = vec![("_id", "token")];
    if in_patient_compartment(resource_type) && resource_type != "Patient" {
        out.push(("patient", "reference"));
    }
    out.extend(parameters(resource_type).iter().map(|(name, kind)| {
        (*name, match kind {
            Kind::Token => "token",
            Kind::Date => "date",
            Kind::Text => "string",
        })
    }));
    out
}

/// Reads a search's query pairs for `resource_type`. Everything wrong is named at once.
pub fn parse(resource_type: &str, pairs: &[(String, String)]) -> Result<Search, SearchError> {
    let known = parameters(resource_type);
    let mut search = Search { criteria: Vec::new(), count: DEFAULT_COUNT, offset: 0 };
    let mut unsupported = Vec::new();
    let mut malformed = Vec::new();
    for (name, value) in pairs {
        match name.as_str() {
            "_count" => match value.parse::<u64>() {
                Ok(n) => search.count = n.min(MAX_COUNT),
                Err(_) => malformed.push(format!("_count ({value:?} is not a whole number)")),
            },
            "_offset" => match value.parse::<u64>() {
                Ok(n) => search.offset = n,
                Err(_) => malformed.push(format!("_offset ({value:?} is not a whole number)")),
            },
            // The JSON format is the only one served; asking for it is no error.
            "_format" if matches!(value.as_str(), "json" | "application/json" | "application/fhir+json") => {}
            "_id" => {
                let ids: Vec<String> = value.split(',').filter(|v| !v.is_empty()).map(str::to_string).collect();
                if ids.is_empty() || ids.iter().any(|id| !is_id(id)) {
                    malformed.push(format!("_id ({value:?} is not a FHIR id)"));
                }
                search.criteria.push(Criterion::Id(ids));
            }
            "patient" | "subject" if in_patient_compartment(resource_type) && resource_type != "Patient" => {
                let id = value.strip_prefix("Patient/").unwrap_or(value);
                if !is_id(id) {
                    malformed.push(format!("{name} ({value:?} is not a patient id)"));
                }
                search.criteria.push(Criterion::Patient(id.to_string()));
            }
            other => match known.iter().find(|(n, _)| *n == other).copied() {
                Some((n, Kind::Token)) => {
                    let tokens: Vec<Token> = value.split(',').filter_map(Token::parse).collect();
                    if tokens.is_empty() {
                        malformed.push(format!("{n} (empty)"));
                    }
                    search.criteria.push(Criterion::Token(n, tokens));
                }
                Some((n, Kind::Date)) => match DateParam::parse(value) {
                    Some(d) => search.criteria.push(Criterion::Date(n, d)),
                    None => malformed.push(format!("{n} ({value:?} is not a FHIR date with an optional eq, gt, ge, lt or le prefix)")),
                },
                Some((n, Kind::Text)) => {
                    if value.trim().is_empty() {
                        malformed.push(format!("{n} (empty)"));
                    }
                    search.criteria.push(Criterion::Text(n, value.trim().to_lowercase()));
                }
                None => unsupported.push(other.to_string()),
            },
        }
    }
    let mut problems = Vec::new();
    if !unsupported.is_empty() {
        let mut supported: Vec<&str> = vec!["_id", "_count", "_offset"];
        if in_patient_compartment(resource_type) && resource_type != "Patient" {
            supported.push("patient");
        }
        supported.extend(known.iter().map(|(n, _)| *n));
        problems.push(format!(
            "unsupported search parameter{} for {resource_type}: {} (supported: {})",
            if unsupported.len() == 1 { "" } else { "s" },
            unsupported.join(", "),
            supported.join(", ")
        ));
    }
    if !malformed.is_empty() {
        problems.push(format!("malformed: {}", malformed.join("; ")));
    }
    if problems.is_empty() { Ok(search) } else { Err(SearchError(problems.join("; "))) }
}

/// A FHIR id (R4 `id`: 1 to 64 of `A-Z a-z 0-9 - .`).
pub fn is_id(text: &str) -> bool {
    !text.is_empty() && text.len() <= 64 && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// Whether some word of `text` starts with `prefix` (already lower-case), ASCII case ignored.
pub fn starts_a_word(text: &str, prefix: &str) -> bool {
    let lower = text.to_lowercase();
    lower.starts_with(prefix) || lower.match_indices(prefix).any(|(at, _)| lower[..at].ends_with(|c: char| !c.is_alphanumeric()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn us_core_observation_searches_are_read() {
        let s = parse("Observation", &pairs(&[("patient", "Patient/abc"), ("category", "http://terminology.hl7.org/CodeSystem/observation-category|laboratory"), ("date", "ge2020-01"), ("_count", "1000000")])).unwrap();
        assert_eq!(s.count, MAX_COUNT);
        assert_eq!(s.criteria[0], Criterion::Patient("abc".into()));
        let Criterion::Token("category", tokens) = &s.criteria[1] else { panic!("{:?}", s.criteria[1]) };
        assert!(tokens[0].matches(Some("http://terminology.hl7.org/CodeSystem/observation-category"), "laboratory"));
        assert!(!tokens[0].matches(Some("other"), "laboratory"));
        let Criterion::Date("date", d) = s.criteria[2] else { panic!() };
        let jan = day_ms("2020-01-01".parse().unwrap()).unwrap();
        assert!(d.matches(jan) && !d.matches(jan - 1));
    }

    #[test]
    fn unsupported_and_malformed_parameters_are_named() {
        let e = parse("Observation", &pairs(&[("value-quantity", "5"), ("_sort", "date")])).unwrap_err();
        assert!(e.0.contains("value-quantity, _sort"), "{}", e.0);
        let e = parse("Observation", &pairs(&[("date", "yesterday"), ("_count", "-1")])).unwrap_err();
        assert!(e.0.contains("date") && e.0.contains("_count"), "{}", e.0);
        assert!(parse("Practitioner", &pairs(&[("patient", "abc")])).is_err(), "the directory is not searched by patient");
        assert!(parse("Observation", &pairs(&[("_id", "../etc")])).is_err());
    }

    #[test]
    fn date_prefixes_compare_against_the_named_range() {
        let d = |t: &str| DateParam::parse(t).unwrap();
        let at = day_ms("2021-06-15".parse().unwrap()).unwrap() + 3_600_000;
        assert!(d("2021").matches(at) && d("2021-06").matches(at) && d("2021-06-15").matches(at));
        assert!(!d("2021-06-16").matches(at));
        assert!(d("gt2021-06-14").matches(at) && !d("gt2021-06-15").matches(at));
        assert!(d("ge2021-06-15").matches(at) && d("le2021-06-15").matches(at) && !d("lt2021-06-15").matches(at));
        assert!(d("lt2022").matches(at) && d("eq2021-06-15T01:00:00Z").matches(at));
        assert!(DateParam::parse("2021-13").is_none() && DateParam::parse("ge").is_none());
    }

    #[test]
    fn names_match_at_the_start_of_a_word() {
        assert!(starts_a_word("Ana María León", "leó"));
        assert!(starts_a_word("Dr. Smith", "smi"));
        assert!(!starts_a_word("Goldsmith", "smi"));
    }
}
