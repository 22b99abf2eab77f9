//! What the record pages show: sections, list rows with their codes, a date-range filter with
//! pagination, a visit with everything recorded in it, notes, and trends. Pure types and rules
//! shared by the server (which fills them through the access context) and the pages.

use serde::{Deserialize, Serialize};

/// One page of the record, for patients and staff alike.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Section {
    Problems,
    Medications,
    Allergies,
    Immunizations,
    Labs,
    Vitals,
    Procedures,
    Visits,
    Documents,
    CarePlans,
    Claims,
}

impl Section {
    pub const ALL: [Section; 11] = [
        Section::Problems,
        Section::Medications,
        Section::Allergies,
        Section::Immunizations,
        Section::Labs,
        Section::Vitals,
        Section::Procedures,
        Section::Visits,
        Section::Documents,
        Section::CarePlans,
        Section::Claims,
    ];

    /// The address segment (`/record/labs`).
    pub fn slug(self) -> &'static str {
        match self {
            Section::Problems => "problems",
            Section::Medications => "medications",
            Section::Allergies => "allergies",
            Section::Immunizations => "immunizations",
            Section::Labs => "labs",
            Section::Vitals => "vitals",
            Section::Procedures => "procedures",
            Section::Visits => "visits",
            Section::Documents => "documents",
            Section::CarePlans => "care-plans",
            Section::Claims => "claims",
        }
    }

    pub fn parse(slug: &str) -> Option<Section> {
        Section::ALL.into_iter().find(|s| s.slug() == slug)
    }

    pub fn title(self) -> &'static str {
        match self {
            Section::Problems => "Problems",
            Section::Medications => "Medications",
            Section::Allergies => "Allergies",
            Section::Immunizations => "Immunizations",
            Section::Labs => "Lab results",
            Section::Vitals => "Vital signs",
            Section::Procedures => "Procedures",
            Section::Visits => "Visits",
            Section::Documents => "Documents and notes",
            Section::CarePlans => "Care plans, goals and devices",
            Section::Claims => "Claims and benefits",
        }
    }

    /// The item kinds a section lists (documents are their own table).
    pub fn kinds(self) -> &'static [&'static str] {
        match self {
            Section::Problems => &["condition"],
            Section::Medications => &["medication_request", "medication_administration"],
            Section::Allergies => &["allergy"],
            Section::Immunizations => &["immunization"],
            Section::Labs | Section::Vitals => &["observation"],
            Section::Procedures => &["procedure"],
            Section::Visits => &["encounter"],
            Section::Documents => &[],
            Section::CarePlans => &["care_plan", "goal", "device"],
            Section::Claims => &["claim", "explanation_of_benefit"],
        }
    }

    /// Observations split by their category (FHIR observation-category codes).
    pub fn observation_category(self) -> Option<&'static str> {
        match self {
            Section::Labs => Some("laboratory"),
            Section::Vitals => Some("vital-signs"),
            _ => None,
        }
    }

    /// Which section an item kind belongs to (for a visit's contents).
    pub fn of_kind(kind: &str, category: Option<&str>) -> Option<Section> {
        if kind == "observation" {
            return Some(if category == Some("vital-signs") { Section::Vitals } else { Section::Labs });
        }
        Section::ALL.into_iter().find(|s| s.kinds().contains(&kind))
    }
}

/// A code as the record shows it: the system by name, the code, and the display text the source
/// gave (never an invented one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeView {
    pub system: String,
    pub code: String,
    pub display: Option<String>,
}

/// A short name for a code system URI.
pub fn system_name(uri: &str) -> String {
    match uri {
        "http://snomed.info/sct" => "SNOMED CT".into(),
        "http://loinc.org" => "LOINC".into(),
        "http://www.nlm.nih.gov/research/umls/rxnorm" => "RxNorm".into(),
        "http://hl7.org/fhir/sid/cvx" => "CVX".into(),
        "http://hl7.org/fhir/sid/icd-10-cm" => "ICD-10-CM".into(),
        "http://hl7.org/fhir/sid/icd-10" => "ICD-10".into(),
        "http://www.ama-assn.org/go/cpt" => "CPT".into(),
        "http://hl7.org/fhir/sid/ndc" => "NDC".into(),
        "http://unitsofmeasure.org" => "UCUM".into(),
        other => other.rsplit('/').next().filter(|s| !s.is_empty()).unwrap_or(other).to_string(),
    }
}

/// Whether a result is outside its range, as the source flagged it or as the range says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Flag {
    High,
    Low,
    Abnormal,
}

impl Flag {
    pub fn label(self) -> &'static str {
        match self {
            Flag::High => "High",
            Flag::Low => "Low",
            Flag::Abnormal => "Abnormal",
        }
    }

    /// From an interpretation code (HL7 v3 ObservationInterpretation), or else from the range.
    pub fn of(interpretation: Option<&str>, value: Option<f64>, low: Option<f64>, high: Option<f64>) -> Option<Flag> {
        match interpretation {
            Some("H" | "HH" | "HU" | ">") => return Some(Flag::High),
            Some("L" | "LL" | "LU" | "<") => return Some(Flag::Low),
            Some("A" | "AA" | "POS" | "DET") => return Some(Flag::Abnormal),
            Some("N" | "NEG" | "ND") => return None,
            _ => {}
        }
        let v = value?;
        if high.is_some_and(|h| v > h) {
            Some(Flag::High)
        } else if low.is_some_and(|l| v < l) {
            Some(Flag::Low)
        } else {
            None
        }
    }
}

/// One entry of a list page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemRow {
    /// The stored resource's id (for visit and document links).
    pub id: String,
    pub kind: String,
    pub display: String,
    pub codes: Vec<CodeView>,
    pub status: Option<String>,
    pub category: Option<String>,
    /// The date as written (date part, or date and time).
    pub date: Option<String>,
    pub end_date: Option<String>,
    /// Value with unit, as text ("105.5 mg/dL", "Positive", "Systolic: 120 mm[Hg]; ...").
    pub value: Option<String>,
    pub range: Option<String>,
    pub flag: Option<Flag>,
    /// Extra text: dosage, reaction, reason, plan activities, provider.
    pub detail: Option<String>,
    /// The main code, when there may be a trend (numeric results).
    pub trend_code: Option<String>,
}

/// One listed note or attachment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentRow {
    pub id: String,
    pub title: String,
    pub date: Option<String>,
    pub content_type: String,
    pub size: i64,
    /// Readable in the page (text/plain, text/html); otherwise a download.
    pub is_text: bool,
}

/// A note opened for reading.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentView {
    pub row: DocumentRow,
    /// The text, with HTML reduced to plain text (never rendered as markup).
    pub text: Option<String>,
}

/// One page of a list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ListPage {
    pub section: Section,
    pub items: Vec<ItemRow>,
    pub documents: Vec<DocumentRow>,
    pub page: u32,
    pub pages: u32,
    pub total: u64,
}

/// The date-range filter and page of a list, as the form and the address carry them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListFilter {
    pub from: Option<String>,
    pub to: Option<String>,
    pub page: Option<u32>,
}

/// Rows per list page: a phone screen or two.
pub const PAGE_SIZE: u64 = 20;

/// A checked filter: the first millisecond of `from`, the first millisecond after `to`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    pub from_ms: Option<i64>,
    pub until_ms: Option<i64>,
    pub page: u32,
}

impl ListFilter {
    /// Checks the dates (`YYYY-MM-DD`, from not after to) and the page number.
    pub fn parse(&self) -> Result<Range, Vec<crate::domain::FieldError>> {
        use crate::domain::IsoDate;
        let mut errors = Vec::new();
        let mut day = |field: &str, value: &Option<String>| match value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            None => None,
            Some(v) => match IsoDate::parse(v) {
                Ok(d) => Some(d.start_ms()),
                Err(_) => {
                    errors.push(crate::domain::FieldError { field: field.into(), message: "Use a date like 2020-01-31.".into() });
                    None
                }
            },
        };
        let from_ms = day("from", &self.from);
        let until_ms = day("to", &self.to).map(|ms| ms + 24 * 60 * 60 * 1000);
        if let (Some(f), Some(u)) = (from_ms, until_ms)
            && f >= u
        {
            errors.push(crate::domain::FieldError { field: "to".into(), message: "The end date is before the start date.".into() });
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Range { from_ms, until_ms, page: self.page.unwrap_or(1).clamp(1, 100_000) })
    }
}

/// The record's front page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordOverview {
    pub patient: crate::domain::PatientSummary,
    pub problems: Vec<ItemRow>,
    pub medications: Vec<ItemRow>,
    pub allergies: Vec<ItemRow>,
    pub immunizations: Vec<ItemRow>,
    pub vitals: Vec<ItemRow>,
    pub labs: Vec<ItemRow>,
    /// A limited proxy's view: no notes, no sensitive categories (the page says so).
    pub limited: bool,
}

/// A visit with everything recorded in it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VisitView {
    pub visit: ItemRow,
    /// Entries grouped by section, in section order.
    pub sections: Vec<(Section, Vec<ItemRow>)>,
    pub documents: Vec<DocumentRow>,
}

/// One point of a trend.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrendPoint {
    pub date: String,
    pub ms: i64,
    pub value: f64,
    pub flag: Option<Flag>,
}

/// A number as a person reads it: at most two decimals, no trailing zeros.
pub fn format_value(value: f64) -> String {
    if !value.is_finite() {
        return String::new();
    }
    let text = format!("{value:.2}");
    text.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// Every numeric result for one code, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trend {
    pub title: String,
    pub code: CodeView,
    pub unit: Option<String>,
    pub low: Option<f64>,
    pub high: Option<f64>,
    pub points: Vec<TrendPoint>,
}

/// Plain text from a note's HTML: tags dropped, common entities decoded, block ends as line
/// breaks. The page shows text, never markup from an imported document.
pub fn html_to_text(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    let mut tag = String::new();
    for c in html.chars() {
        match (in_tag, c) {
            (false, '<') => {
                in_tag = true;
                tag.clear();
            }
            (true, '>') => {
                in_tag = false;
                let name = tag.trim_start_matches('/').split_whitespace().next().unwrap_or("").to_ascii_lowercase();
                if matches!(name.as_str(), "br" | "p" | "div" | "li" | "tr" | "h1" | "h2" | "h3" | "h4" | "table") {
                    out.push('\n');
                }
            }
            (true, c) => tag.push(c),
            (false, c) => out.push(c),
        }
    }
    out.trim().replace("&nbsp;", " ").replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", "\"").replace("&#39;", "'").replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_round_trip_and_cover_every_kind() {
        for s in Section::ALL {
            assert_eq!(Section::parse(s.slug()), Some(s));
        }
        for kind in ["condition", "medication_request", "allergy", "immunization", "procedure", "encounter", "care_plan", "goal", "device", "claim", "explanation_of_benefit"] {
            assert!(Section::of_kind(kind, None).is_some(), "{kind}");
        }
        assert_eq!(Section::of_kind("observation", Some("vital-signs")), Some(Section::Vitals));
        assert_eq!(Section::of_kind("observation", Some("laboratory")), Some(Section::Labs));
    }

    #[test]
    fn flags_come_from_the_source_or_the_range() {
        assert_eq!(Flag::of(Some("H"), Some(1.0), None, None), Some(Flag::High));
        assert_eq!(Flag::of(Some("N"), Some(500.0), Some(1.0), Some(2.0)), None, "the source's word wins");
        assert_eq!(Flag::of(None, Some(105.0), Some(70.0), Some(99.0)), Some(Flag::High));
        assert_eq!(Flag::of(None, Some(60.0), Some(70.0), Some(99.0)), Some(Flag::Low));
        assert_eq!(Flag::of(None, Some(80.0), Some(70.0), Some(99.0)), None);
        assert_eq!(Flag::of(None, None, Some(70.0), Some(99.0)), None);
    }

    #[test]
    fn the_filter_checks_dates_and_pages() {
        let f = ListFilter { from: Some("2020-01-01".into()), to: Some("2020-01-31".into()), page: Some(0) };
        let r = f.parse().expect("valid");
        assert_eq!(r.page, 1);
        assert_eq!(r.until_ms.zip(r.from_ms).map(|(u, f)| u - f), Some(31 * 24 * 3600 * 1000));
        assert!(ListFilter { from: Some("2020-02-30".into()), ..Default::default() }.parse().is_err());
        assert!(ListFilter { from: Some("2020-02-01".into()), to: Some("2020-01-01".into()), page: None }.parse().is_err());
        assert_eq!(ListFilter::default().parse().map(|r| (r.from_ms, r.until_ms)), Ok((None, None)));
    }

    #[test]
    fn html_notes_become_text() {
        assert_eq!(html_to_text("<p>Pain &amp; fever</p><script>x</script>"), "Pain & fever\nx");
        assert_eq!(system_name("http://loinc.org"), "LOINC");
        assert_eq!(system_name("http://terminology.hl7.org/CodeSystem/condition-clinical"), "condition-clinical");
    }
}
