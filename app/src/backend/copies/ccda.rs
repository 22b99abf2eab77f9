//! The C-CDA R2.1 Continuity of Care Document (CCD) of a copy: the machine-readable summary the
//! ONC certification test downloads (45 CFR 170.315(e)(1)(i)(A), (b)(1)). Pure: items in, XML out.
//!
//! - US Realm Header and CCD document templates (2.16.840.1.113883.10.20.22.1.1 / .1.2,
//!   extension 2015-08-01), with the patient, the portal as authoring device and the
//!   organization as custodian.
//! - Eight sections, each with its narrative table and coded entries: problems, medications,
//!   allergies, immunizations, results, vital signs, procedures, encounters. Codes keep their
//!   system (SNOMED CT, LOINC, RxNorm, CVX, ICD-10-CM, CPT by OID); a code whose system has no
//!   known OID is sent as text (`nullFlavor="OTH"` with the original text), never with a made-up
//!   system.
//! - Element order follows HL7's CDA R2 schema (with the SDTC extensions); the tests validate the
//!   output against it with `xmllint` (`tests/fixtures/cda/schema`).

use crate::domain::Section;
use sha2::{Digest, Sha256};
use std::fmt::Write;

/// A coded item of the record as the C-CDA needs it: raw dates and values, not display text.
#[derive(Debug, Clone, Default)]
pub struct CdaItem {
    pub id: String,
    pub display: String,
    /// (FHIR system URI, code, display).
    pub codes: Vec<(String, String, Option<String>)>,
    pub status: Option<String>,
    /// FHIR date or dateTime as stored.
    pub start: Option<String>,
    pub end: Option<String>,
    pub value_num: Option<f64>,
    pub unit: Option<String>,
    pub value_text: Option<String>,
    pub ref_low: Option<f64>,
    pub ref_high: Option<f64>,
}

/// The patient of the document.
#[derive(Debug, Clone, Default)]
pub struct CdaPatient {
    pub given: String,
    pub family: String,
    /// `YYYY-MM-DD`.
    pub birth_date: String,
    /// FHIR administrative gender (`male`, `female`, `other`, `unknown`).
    pub gender: Option<String>,
    pub record_number: String,
}

/// Everything the document says.
#[derive(Debug, Clone, Default)]
pub struct CdaDocument {
    /// A UUID.
    pub id: String,
    /// FHIR instant of creation.
    pub created: String,
    pub site: String,
    pub site_code: String,
    pub patient: CdaPatient,
    /// The period covered: (from, to) as `YYYY-MM-DD`, when the copy has one.
    pub period: (Option<String>, Option<String>),
    pub sections: Vec<(Section, Vec<CdaItem>)>,
}

const LOINC: &str = "2.16.840.1.113883.6.1";
const SNOMED: &str = "2.16.840.1.113883.6.96";

/// The OID of a FHIR code system, where C-CDA has one.
fn oid_of(system: &str) -> Option<(&str, &'static str)> {
    Some(match system {
        "http://snomed.info/sct" => (SNOMED, "SNOMED CT"),
        "http://loinc.org" => (LOINC, "LOINC"),
        "http://www.nlm.nih.gov/research/umls/rxnorm" => ("2.16.840.1.113883.6.88", "RxNorm"),
        "http://hl7.org/fhir/sid/cvx" => ("2.16.840.1.113883.12.292", "CVX"),
        "http://hl7.org/fhir/sid/icd-10-cm" => ("2.16.840.1.113883.6.90", "ICD-10-CM"),
        "http://hl7.org/fhir/sid/icd-10" => ("2.16.840.1.113883.6.3", "ICD-10"),
        "http://www.ama-assn.org/go/cpt" => ("2.16.840.1.113883.6.12", "CPT-4"),
        "http://hl7.org/fhir/sid/ndc" => ("2.16.840.1.113883.6.69", "NDC"),
        "http://unitsofmeasure.org" => ("2.16.840.1.113883.6.8", "UCUM"),
        other => match other.strip_prefix("urn:oid:") {
            Some(oid) if !oid.is_empty() && oid.chars().all(|c| c.is_ascii_digit() || c == '.') => (oid, ""),
            _ => return None,
        },
    })
}

/// Text safe inside an element or attribute (the five XML entities; control characters dropped).
fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' | '\t' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// A FHIR date or dateTime as an HL7 TS (`2020-01-02T10:11:12-05:00` → `20200102101112-0500`).
pub fn ts(fhir: &str) -> Option<String> {
    let fhir = fhir.trim();
    let (date, time) = match fhir.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (fhir, None),
    };
    let digits: String = date.chars().filter(char::is_ascii_digit).collect();
    if !matches!(digits.len(), 4 | 6 | 8) || date.len() != digits.len() + (digits.len() - 4) / 2 {
        return None;
    }
    let Some(time) = time else { return Some(digits) };
    let (clock, zone) = if let Some(t) = time.strip_suffix('Z') {
        (t, "+0000".to_string())
    } else if let Some(at) = time.rfind(['+', '-']) {
        (&time[..at], time[at..].replace(':', ""))
    } else {
        (time, String::new())
    };
    let clock: String = clock.split('.').next().unwrap_or_default().chars().filter(char::is_ascii_digit).collect();
    if !matches!(clock.len(), 4 | 6) || !(zone.is_empty() || (zone.len() == 5 && zone[1..].chars().all(|c| c.is_ascii_digit()))) {
        return None;
    }
    Some(format!("{digits}{clock}{zone}"))
}

/// A UUID-shaped root for the site's own identifiers (record numbers, resource ids that are not
/// UUIDs), derived from the site code so it is the same in every document of the site.
pub fn site_root(site_code: &str) -> String {
    let h = Sha256::digest(format!("portal-site:{site_code}").as_bytes());
    let x = hex::encode(&h[..16]).to_ascii_uppercase();
    format!("{}-{}-{}-{}-{}", &x[0..8], &x[8..12], &x[12..16], &x[16..20], &x[20..32])
}

fn number(v: f64) -> String {
    let mut s = format!("{v}");
    if s.contains('e') || s.contains('E') {
        s = format!("{v:.6}");
    }
    s
}

struct Writer<'a> {
    out: String,
    root: &'a str,
}

impl Writer<'_> {
    fn raw(&mut self, s: &str) {
        self.out.push_str(s);
    }

    fn id(&mut self, id: &str) {
        if uuid::Uuid::parse_str(id).is_ok() && id.len() == 36 {
            let _ = write!(self.out, "<id root=\"{}\"/>", id.to_ascii_uppercase());
        } else {
            let _ = write!(self.out, "<id root=\"{}\" extension=\"{}\"/>", self.root, esc(id));
        }
    }

    /// A coded element (`code`, `value xsi:type="CD"`): the first coding with a known system,
    /// the others as translations; without any, the text alone.
    fn coded(&mut self, element: &str, extra: &str, item: &CdaItem) {
        let known: Vec<(&str, &str, &str, &Option<String>)> =
            item.codes.iter().filter_map(|(s, c, d)| oid_of(s).map(|(oid, name)| (oid, name, c.as_str(), d))).filter(|(_, _, c, _)| !c.trim().is_empty() && !c.contains(char::is_whitespace)).collect();
        let text = esc(&item.display);
        match known.split_first() {
            Some(((oid, name, code, display), rest)) => {
                let display = display.as_deref().unwrap_or(&item.display);
                let _ = write!(self.out, "<{element}{extra} code=\"{}\" codeSystem=\"{oid}\"", esc(code));
                if !name.is_empty() {
                    let _ = write!(self.out, " codeSystemName=\"{name}\"");
                }
                let _ = write!(self.out, " displayName=\"{}\"><originalText>{text}</originalText>", esc(display));
                for (oid, name, code, display) in rest {
                    let _ = write!(self.out, "<translation code=\"{}\" codeSystem=\"{oid}\"", esc(code));
                    if !name.is_empty() {
                        let _ = write!(self.out, " codeSystemName=\"{name}\"");
                    }
                    if let Some(d) = display {
                        let _ = write!(self.out, " displayName=\"{}\"", esc(d));
                    }
                    self.raw("/>");
                }
                let _ = write!(self.out, "</{element}>");
            }
            None => {
                let _ = write!(self.out, "<{element}{extra} nullFlavor=\"OTH\"><originalText>{text}</originalText></{element}>");
            }
        }
    }

    fn time_point(&mut self, element: &str, when: Option<&str>) {
        match when.and_then(ts) {
            Some(t) => {
                let _ = write!(self.out, "<{element} value=\"{t}\"/>");
            }
            None => {
                let _ = write!(self.out, "<{element} nullFlavor=\"UNK\"/>");
            }
        }
    }

    /// `effectiveTime` as an interval (low, and high when ended).
    fn interval(&mut self, item: &CdaItem) {
        self.raw("<effectiveTime xsi:type=\"IVL_TS\">");
        self.time_point("low", item.start.as_deref());
        if let Some(end) = item.end.as_deref().and_then(ts) {
            let _ = write!(self.out, "<high value=\"{end}\"/>");
        }
        self.raw("</effectiveTime>");
    }

    fn status(&mut self, item: &CdaItem, active_words: &[&str]) {
        let active = item.status.as_deref().is_some_and(|s| active_words.contains(&s));
        self.raw(if active { "<statusCode code=\"active\"/>" } else { "<statusCode code=\"completed\"/>" });
    }

    fn template(&mut self, root: &str, extension: Option<&str>) {
        match extension {
            Some(e) => {
                let _ = write!(self.out, "<templateId root=\"{root}\" extension=\"{e}\"/>");
            }
            None => {
                let _ = write!(self.out, "<templateId root=\"{root}\"/>");
            }
        }
    }

    /// A result or vital-sign observation (4.2 / 4.27).
    fn measurement(&mut self, template: (&str, &str), item: &CdaItem) {
        self.raw("<component><observation classCode=\"OBS\" moodCode=\"EVN\">");
        self.template(template.0, Some(template.1));
        self.id(&item.id);
        self.coded("code", "", item);
        self.raw("<statusCode code=\"completed\"/>");
        self.time_point("effectiveTime", item.start.as_deref());
        let unit_ok = item.unit.as_deref().is_none_or(|u| !u.is_empty() && !u.contains(char::is_whitespace));
        match (item.value_num, unit_ok) {
            (Some(v), true) if v.is_finite() => {
                let _ = write!(self.out, "<value xsi:type=\"PQ\" value=\"{}\" unit=\"{}\"/>", number(v), esc(item.unit.as_deref().unwrap_or("1")));
            }
            (Some(v), _) if v.is_finite() => {
                let _ = write!(self.out, "<value xsi:type=\"ST\">{} {}</value>", number(v), esc(item.unit.as_deref().unwrap_or_default()));
            }
            _ => match item.value_text.as_deref().filter(|t| !t.trim().is_empty()) {
                Some(t) => {
                    let _ = write!(self.out, "<value xsi:type=\"ST\">{}</value>", esc(t));
                }
                None => self.raw("<value xsi:type=\"PQ\" nullFlavor=\"NI\"/>"),
            },
        }
        if let (Some(low), Some(high)) = (item.ref_low, item.ref_high) {
            let unit = item.unit.as_deref().filter(|u| !u.is_empty() && !u.contains(char::is_whitespace)).unwrap_or("1");
            let _ = write!(
                self.out,
                "<referenceRange><observationRange><value xsi:type=\"IVL_PQ\"><low value=\"{}\" unit=\"{}\"/><high value=\"{}\" unit=\"{}\"/></value></observationRange></referenceRange>",
                number(low),
                esc(unit),
                number(high),
                esc(unit)
            );
        }
        self.raw("</observation></component>");
    }

    fn entry(&mut self, section: Section, item: &CdaItem) {
        match section {
            Section::Problems => {
                self.raw("<entry typeCode=\"DRIV\"><act classCode=\"ACT\" moodCode=\"EVN\">");
                self.template("2.16.840.1.113883.10.20.22.4.3", Some("2015-08-01"));
                self.id(&format!("concern-{}", item.id));
                self.raw("<code code=\"CONC\" codeSystem=\"2.16.840.1.113883.5.6\" displayName=\"Concern\"/>");
                self.status(item, &["active", "recurrence", "relapse"]);
                self.interval(item);
                self.raw("<entryRelationship typeCode=\"SUBJ\"><observation classCode=\"OBS\" moodCode=\"EVN\">");
                self.template("2.16.840.1.113883.10.20.22.4.4", Some("2015-08-01"));
                self.id(&item.id);
                self.raw("<code code=\"55607006\" codeSystem=\"2.16.840.1.113883.6.96\" codeSystemName=\"SNOMED CT\" displayName=\"Problem\"><translation code=\"75326-9\" codeSystem=\"2.16.840.1.113883.6.1\" codeSystemName=\"LOINC\" displayName=\"Problem\"/></code>");
                self.raw("<statusCode code=\"completed\"/>");
                self.interval(item);
                self.coded("value", " xsi:type=\"CD\"", item);
                self.raw("</observation></entryRelationship></act></entry>");
            }
            Section::Medications => {
                self.raw("<entry typeCode=\"DRIV\"><substanceAdministration classCode=\"SBADM\" moodCode=\"INT\">");
                self.template("2.16.840.1.113883.10.20.22.4.16", Some("2014-06-09"));
                self.id(&item.id);
                self.status(item, &["active", "on-hold", "draft"]);
                self.interval(item);
                self.raw("<consumable><manufacturedProduct classCode=\"MANU\">");
                self.template("2.16.840.1.113883.10.20.22.4.23", Some("2014-06-09"));
                self.raw("<manufacturedMaterial>");
                self.coded("code", "", item);
                self.raw("</manufacturedMaterial></manufacturedProduct></consumable></substanceAdministration></entry>");
            }
            Section::Allergies => {
                self.raw("<entry typeCode=\"DRIV\"><act classCode=\"ACT\" moodCode=\"EVN\">");
                self.template("2.16.840.1.113883.10.20.22.4.30", Some("2015-08-01"));
                self.id(&format!("concern-{}", item.id));
                self.raw("<code code=\"CONC\" codeSystem=\"2.16.840.1.113883.5.6\" displayName=\"Concern\"/>");
                self.status(item, &["active"]);
                self.interval(item);
                self.raw("<entryRelationship typeCode=\"SUBJ\"><observation classCode=\"OBS\" moodCode=\"EVN\">");
                self.template("2.16.840.1.113883.10.20.22.4.7", Some("2014-06-09"));
                self.id(&item.id);
                self.raw("<code code=\"ASSERTION\" codeSystem=\"2.16.840.1.113883.5.4\"/>");
                self.raw("<statusCode code=\"completed\"/>");
                self.interval(item);
                self.raw("<value xsi:type=\"CD\" code=\"419199007\" codeSystem=\"2.16.840.1.113883.6.96\" codeSystemName=\"SNOMED CT\" displayName=\"Allergy to substance\"/>");
                self.raw("<participant typeCode=\"CSM\"><participantRole classCode=\"MANU\"><playingEntity classCode=\"MMAT\">");
                self.coded("code", "", item);
                self.raw("</playingEntity></participantRole></participant></observation></entryRelationship></act></entry>");
            }
            Section::Immunizations => {
                self.raw("<entry typeCode=\"DRIV\"><substanceAdministration classCode=\"SBADM\" moodCode=\"EVN\" negationInd=\"false\">");
                self.template("2.16.840.1.113883.10.20.22.4.52", Some("2015-08-01"));
                self.id(&item.id);
                self.raw("<statusCode code=\"completed\"/>");
                self.time_point("effectiveTime", item.start.as_deref());
                self.raw("<consumable><manufacturedProduct classCode=\"MANU\">");
                self.template("2.16.840.1.113883.10.20.22.4.54", Some("2014-06-09"));
                self.raw("<manufacturedMaterial>");
                self.coded("code", "", item);
                self.raw("</manufacturedMaterial></manufacturedProduct></consumable></substanceAdministration></entry>");
            }
            Section::Labs => {
                self.raw("<entry typeCode=\"DRIV\"><organizer classCode=\"BATTERY\" moodCode=\"EVN\">");
                self.template("2.16.840.1.113883.10.20.22.4.1", Some("2015-08-01"));
                self.id(&format!("panel-{}", item.id));
                self.coded("code", "", item);
                self.raw("<statusCode code=\"completed\"/>");
                self.measurement(("2.16.840.1.113883.10.20.22.4.2", "2015-08-01"), item);
                self.raw("</organizer></entry>");
            }
            Section::Vitals => {
                self.raw("<entry typeCode=\"DRIV\"><organizer classCode=\"CLUSTER\" moodCode=\"EVN\">");
                self.template("2.16.840.1.113883.10.20.22.4.26", Some("2015-08-01"));
                self.id(&format!("vitals-{}", item.id));
                self.raw("<code code=\"46680005\" codeSystem=\"2.16.840.1.113883.6.96\" codeSystemName=\"SNOMED CT\" displayName=\"Vital signs\"><translation code=\"74728-7\" codeSystem=\"2.16.840.1.113883.6.1\" codeSystemName=\"LOINC\" displayName=\"Vital signs\"/></code>");
                self.raw("<statusCode code=\"completed\"/>");
                self.time_point("effectiveTime", item.start.as_deref());
                self.measurement(("2.16.840.1.113883.10.20.22.4.27", "2014-06-09"), item);
                self.raw("</organizer></entry>");
            }
            Section::Procedures => {
                self.raw("<entry typeCode=\"DRIV\"><procedure classCode=\"PROC\" moodCode=\"EVN\">");
                self.template("2.16.840.1.113883.10.20.22.4.14", Some("2014-06-09"));
                self.id(&item.id);
                self.coded("code", "", item);
                self.status(item, &["in-progress", "preparation"]);
                self.interval(item);
                self.raw("</procedure></entry>");
            }
            Section::Visits => {
                self.raw("<entry typeCode=\"DRIV\"><encounter classCode=\"ENC\" moodCode=\"EVN\">");
                self.template("2.16.840.1.113883.10.20.22.4.49", Some("2015-08-01"));
                self.id(&item.id);
                self.coded("code", "", item);
                self.interval(item);
                self.raw("</encounter></entry>");
            }
            _ => {}
        }
    }
}

/// The C-CDA section of a part of the record: (template, LOINC code, title).
pub fn section_template(section: Section) -> Option<(&'static str, &'static str, &'static str)> {
    Some(match section {
        Section::Problems => ("2.16.840.1.113883.10.20.22.2.5.1", "11450-4", "Problems"),
        Section::Medications => ("2.16.840.1.113883.10.20.22.2.1.1", "10160-0", "Medications"),
        Section::Allergies => ("2.16.840.1.113883.10.20.22.2.6.1", "48765-2", "Allergies and intolerances"),
        Section::Immunizations => ("2.16.840.1.113883.10.20.22.2.2.1", "11369-6", "Immunizations"),
        Section::Labs => ("2.16.840.1.113883.10.20.22.2.3.1", "30954-2", "Results"),
        Section::Vitals => ("2.16.840.1.113883.10.20.22.2.4.1", "8716-3", "Vital signs"),
        Section::Procedures => ("2.16.840.1.113883.10.20.22.2.7.1", "47519-4", "Procedures"),
        Section::Visits => ("2.16.840.1.113883.10.20.22.2.22.1", "46240-8", "Encounters"),
        _ => return None,
    })
}

fn narrative(w: &mut Writer<'_>, items: &[CdaItem]) {
    if items.is_empty() {
        w.raw("<text><paragraph>Nothing recorded in this part of the record for the period of the copy.</paragraph></text>");
        return;
    }
    w.raw("<text><table><thead><tr><th>Date</th><th>Description</th><th>Code</th><th>Status or value</th></tr></thead><tbody>");
    for item in items {
        let code = item.codes.first().map(|(s, c, _)| format!("{} {c}", oid_of(s).map(|(_, n)| n).filter(|n| !n.is_empty()).unwrap_or(s.as_str()))).unwrap_or_default();
        let value = match (item.value_num, &item.value_text) {
            (Some(v), _) => format!("{} {}", number(v), item.unit.as_deref().unwrap_or_default()),
            (None, Some(t)) => t.clone(),
            (None, None) => item.status.clone().unwrap_or_default(),
        };
        let date = match (&item.start, &item.end) {
            (Some(s), Some(e)) if s != e => format!("{s} to {e}"),
            (Some(s), _) => s.clone(),
            (None, _) => String::new(),
        };
        let _ = write!(w.out, "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", esc(&date), esc(&item.display), esc(&code), esc(value.trim()));
    }
    w.raw("</tbody></table></text>");
}

/// The CCD as XML text.
pub fn document(doc: &CdaDocument) -> String {
    let root = site_root(&doc.site_code);
    let mut w = Writer { out: String::with_capacity(4096 + doc.sections.iter().map(|(_, i)| i.len() * 1500).sum::<usize>()), root: &root };
    w.raw("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    w.raw("<ClinicalDocument xmlns=\"urn:hl7-org:v3\" xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" xmlns:sdtc=\"urn:hl7-org:sdtc\">");
    w.raw("<realmCode code=\"US\"/><typeId root=\"2.16.840.1.113883.1.3\" extension=\"POCD_HD000040\"/>");
    w.template("2.16.840.1.113883.10.20.22.1.1", Some("2015-08-01"));
    w.template("2.16.840.1.113883.10.20.22.1.2", Some("2015-08-01"));
    w.id(&doc.id);
    w.raw("<code code=\"34133-9\" codeSystem=\"2.16.840.1.113883.6.1\" codeSystemName=\"LOINC\" displayName=\"Summarization of Episode Note\"/>");
    let _ = write!(w.out, "<title>Continuity of Care Document of {} {}</title>", esc(&doc.patient.given), esc(&doc.patient.family));
    w.time_point("effectiveTime", Some(&doc.created));
    w.raw("<confidentialityCode code=\"N\" codeSystem=\"2.16.840.1.113883.5.25\"/><languageCode code=\"en-US\"/>");
    // The patient (recordTarget).
    w.raw("<recordTarget><patientRole>");
    let _ = write!(w.out, "<id root=\"{root}\" extension=\"{}\"/>", esc(&doc.patient.record_number));
    w.raw("<addr nullFlavor=\"UNK\"/><telecom nullFlavor=\"UNK\"/><patient>");
    let _ = write!(w.out, "<name use=\"L\"><given>{}</given><family>{}</family></name>", esc(&doc.patient.given), esc(&doc.patient.family));
    match doc.patient.gender.as_deref() {
        Some("male") => w.raw("<administrativeGenderCode code=\"M\" codeSystem=\"2.16.840.1.113883.5.1\" displayName=\"Male\"/>"),
        Some("female") => w.raw("<administrativeGenderCode code=\"F\" codeSystem=\"2.16.840.1.113883.5.1\" displayName=\"Female\"/>"),
        _ => w.raw("<administrativeGenderCode nullFlavor=\"UNK\"/>"),
    }
    w.time_point("birthTime", Some(&doc.patient.birth_date));
    w.raw("</patient></patientRole></recordTarget>");
    // The portal wrote it (an authoring device), for the organization.
    w.raw("<author>");
    w.time_point("time", Some(&doc.created));
    let _ = write!(w.out, "<assignedAuthor><id root=\"{root}\" extension=\"portal\"/><addr nullFlavor=\"UNK\"/><telecom nullFlavor=\"UNK\"/>");
    w.raw("<assignedAuthoringDevice><manufacturerModelName>Patient access portal</manufacturerModelName><softwareName>Patient access portal</softwareName></assignedAuthoringDevice>");
    let _ = write!(w.out, "<representedOrganization><id root=\"{root}\"/><name>{}</name></representedOrganization></assignedAuthor></author>", esc(&doc.site));
    let _ = write!(
        w.out,
        "<custodian><assignedCustodian><representedCustodianOrganization><id root=\"{root}\"/><name>{}</name><telecom nullFlavor=\"UNK\"/><addr nullFlavor=\"UNK\"/></representedCustodianOrganization></assignedCustodian></custodian>",
        esc(&doc.site)
    );
    // What period the summary covers.
    w.raw("<documentationOf><serviceEvent classCode=\"PCPR\"><effectiveTime>");
    match doc.period.0.as_deref() {
        Some(from) => w.time_point("low", Some(from)),
        None => w.time_point("low", Some(&doc.patient.birth_date)),
    }
    w.time_point("high", Some(doc.period.1.as_deref().unwrap_or(&doc.created)));
    w.raw("</effectiveTime></serviceEvent></documentationOf>");
    w.raw("<component><structuredBody>");
    for (section, items) in &doc.sections {
        let Some((template, code, title)) = section_template(*section) else { continue };
        w.raw("<component><section>");
        w.template(template, Some(if matches!(section, Section::Problems | Section::Allergies | Section::Visits | Section::Immunizations | Section::Vitals | Section::Labs) { "2015-08-01" } else { "2014-06-09" }));
        let _ = write!(w.out, "<code code=\"{code}\" codeSystem=\"{LOINC}\" codeSystemName=\"LOINC\"/><title>{title}</title>");
        narrative(&mut w, items);
        for item in items {
            w.entry(*section, item);
        }
        w.raw("</section></component>");
    }
    w.raw("</structuredBody></component></ClinicalDocument>\n");
    w.out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fhir_dates_become_hl7_timestamps() {
        assert_eq!(ts("2020-01-02").as_deref(), Some("20200102"));
        assert_eq!(ts("2020-01").as_deref(), Some("202001"));
        assert_eq!(ts("2020-01-02T10:11:12-05:00").as_deref(), Some("20200102101112-0500"));
        assert_eq!(ts("2020-01-02T10:11:12.345Z").as_deref(), Some("20200102101112+0000"));
        assert_eq!(ts("yesterday"), None);
        assert_eq!(ts("2020-1-2"), None);
    }

    #[test]
    fn text_is_escaped_and_unknown_systems_are_text_only() {
        let item = CdaItem { id: "x".into(), display: "Fish & <chips>".into(), codes: vec![("http://example.org/local".into(), "1".into(), None)], ..Default::default() };
        let doc = CdaDocument {
            id: "6c8f3e83-c351-ed33-c38d-6be101c275d2".into(),
            created: "2026-12-02T10:00:00Z".into(),
            site: "General".into(),
            site_code: "main".into(),
            patient: CdaPatient { given: "Ana".into(), family: "O'Hara".into(), birth_date: "2001-02-03".into(), gender: Some("female".into()), record_number: "M1".into() },
            period: (None, None),
            sections: vec![(Section::Problems, vec![item])],
        };
        let xml = document(&doc);
        assert!(xml.contains("Fish &amp; &lt;chips&gt;"));
        assert!(xml.contains("<value xsi:type=\"CD\" nullFlavor=\"OTH\"><originalText>Fish"));
        assert!(xml.contains("O&apos;Hara"));
        assert!(!xml.contains("codeSystem=\"http"), "no made-up code system");
    }
}
