//! Segmentation before release: which sensitive categories of the record a release may carry,
//! by who receives it (DOMAIN.md, "Sensitive categories"). Pure rules, one place:
//!
//! - the patient's own access (and a personal representative's): everything but psychotherapy
//!   notes (45 CFR 164.524(a)(1)(i)); Part 2 records included (42 CFR 2.23);
//! - a third party under an authorization: a category the authorization does not name is
//!   withheld by default and cannot be released (164.508(c)(1)(i));
//! - anyone but the patient: Part 2 records only with a Part 2 consent showing every element of
//!   42 CFR 2.31 and naming them; psychotherapy notes only under an authorization for them alone
//!   (164.508(a)(2), (b)(3)(ii)).
//!
//! A category withheld on a 164.524 denial ground is denied in part: it has a denial letter
//! (164.524(d)(2)); one withheld for want of an authorization or consent is not denied.

use super::denial::{DenialGround, Withheld};
use super::intake::RequesterType;
use crate::domain::{Category, FieldError};
use serde::{Deserialize, Serialize};

crate::domain::text_enum! {
    /// An element of a Part 2 consent (42 CFR 2.31(a)), each checked on the paper.
    pub enum Part2Element {
        PatientName = "patient_name",
        Discloser = "discloser",
        Recipient = "recipient",
        Purpose = "purpose",
        Information = "information",
        Revocation = "revocation",
        Expiration = "expiration",
        Signature = "signature",
    }
}

impl Part2Element {
    /// What the consent must show, with its paragraph.
    pub fn label(self) -> &'static str {
        match self {
            Part2Element::PatientName => "The patient's name — 42 CFR 2.31(a)(1)",
            Part2Element::Discloser => "Who may disclose (this organization or its Part 2 program) — 2.31(a)(2)",
            Part2Element::Recipient => "The recipient, by name — 2.31(a)(4)",
            Part2Element::Purpose => "The purpose of the disclosure — 2.31(a)(5)",
            Part2Element::Information => "How much and what kind of information, naming the substance use disorder records explicitly — 2.31(a)(3)",
            Part2Element::Revocation => "The right to revoke the consent and how — 2.31(a)(6)",
            Part2Element::Expiration => "An expiration date, event or condition, not passed — 2.31(a)(7)",
            Part2Element::Signature => "The patient's signature and the date signed — 2.31(a)(8), (9)",
        }
    }

    /// The element as a refusal names it.
    pub fn short(self) -> &'static str {
        match self {
            Part2Element::PatientName => "the patient's name",
            Part2Element::Discloser => "who may disclose",
            Part2Element::Recipient => "the recipient",
            Part2Element::Purpose => "the purpose",
            Part2Element::Information => "an explicit description of the substance use disorder information",
            Part2Element::Revocation => "the right to revoke",
            Part2Element::Expiration => "the expiration",
            Part2Element::Signature => "the signature and date",
        }
    }
}

/// Who receives a release, as the rules of this module see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Receiver {
    /// The patient or their personal representative, for themselves (164.524).
    Access,
    /// Someone else, on the patient's authorization (164.508): the authorization must name a
    /// sensitive category for it to go.
    Authorized,
    /// Someone else, without an authorization (treatment, payment, a court, an agency:
    /// 164.506, 164.512).
    Permitted,
}

impl Receiver {
    /// The receiver of a request: its requester type, and whether the copy goes to the
    /// requester themselves. A copy the patient directs to someone else from the portal goes
    /// under the authorization they signed there.
    pub fn of(kind: RequesterType, to_someone_else: bool) -> Receiver {
        match kind {
            RequesterType::Patient | RequesterType::Representative if !to_someone_else => Receiver::Access,
            RequesterType::Patient | RequesterType::Representative | RequesterType::ThirdParty | RequesterType::SocialSecurity => Receiver::Authorized,
            RequesterType::Subpoena => Receiver::Authorized,
            _ => Receiver::Permitted,
        }
    }
}

/// The categories a release review lists, in order.
pub const REVIEWED: [Category; 7] = Category::REVIEWED;

/// The denial ground a withholding basis is, if it is one: a part withheld on it is denied and
/// has its letter (164.524(d)(2)).
pub fn basis_ground(basis: &str) -> Option<DenialGround> {
    DenialGround::parse(basis)
}

/// How a category is treated by default for a receiver: `None` to include it, or the basis it is
/// withheld on. `named`: the categories the authorization names; `consent`: the Part 2 consent
/// elements shown.
pub fn default_basis(receiver: Receiver, category: Category, named: &[Category], consent: &[Part2Element]) -> Option<&'static str> {
    match (receiver, category) {
        (Receiver::Access, Category::PsychotherapyNotes) => Some("psychotherapy_notes"),
        (Receiver::Access, _) => None,
        (_, Category::PsychotherapyNotes) => Some("psychotherapy_separate"),
        (_, Category::Part2) if !part2_consent_missing(consent).is_empty() || !named.contains(&Category::Part2) => Some("part2_no_consent"),
        (_, Category::Part2) => None,
        (Receiver::Authorized, c) if !named.contains(&c) => Some("not_authorized"),
        _ => None,
    }
}

/// The Part 2 consent elements not shown yet.
pub fn part2_consent_missing(consent: &[Part2Element]) -> Vec<Part2Element> {
    Part2Element::ALL.into_iter().filter(|e| !consent.contains(e)).collect()
}

/// What a release may not carry: each present category it would include against the rules,
/// named by the category's field with the reason and the rule. `documents_only`: the request is
/// for the notes section alone (an authorization for psychotherapy notes covers nothing else).
pub fn check_release(receiver: Receiver, present: &[Category], withheld: &[Withheld], named: &[Category], consent: &[Part2Element], documents_only: bool) -> Result<(), Vec<FieldError>> {
    let mut errors = Vec::new();
    let included = |c: Category| !withheld.iter().any(|w| w.category == c.as_str());
    for &category in present.iter().filter(|c| included(**c)) {
        let refusal = match (receiver, category) {
            (Receiver::Access, Category::PsychotherapyNotes) => {
                Some("Psychotherapy notes are never released under the right of access (45 CFR 164.524(a)(1)(i)).".to_string())
            }
            (Receiver::Access, _) => None,
            (_, Category::PsychotherapyNotes) => {
                let alone = named == [Category::PsychotherapyNotes] && documents_only && present.iter().all(|c| *c == Category::PsychotherapyNotes || !included(*c));
                (!alone).then(|| {
                    "Psychotherapy notes go out only under an authorization for them alone, for the notes and nothing else (45 CFR 164.508(a)(2), (b)(3)(ii)).".to_string()
                })
            }
            (_, Category::Part2) => {
                let missing = part2_consent_missing(consent);
                if !missing.is_empty() {
                    Some(format!(
                        "Part 2 records need a Part 2 consent; it lacks {} (42 CFR 2.31).",
                        missing.iter().map(|e| e.short()).collect::<Vec<_>>().join(", ")
                    ))
                } else if !named.contains(&Category::Part2) {
                    Some("The Part 2 consent does not cover these records: tick that it names them, or leave them out (42 CFR 2.31(a)(3)).".to_string())
                } else {
                    None
                }
            }
            (Receiver::Authorized, c) if !named.contains(&c) => Some(format!(
                "The authorization does not name {}: leave it out, or tick that the authorization names it (45 CFR 164.508(c)(1)(i)).",
                c.label().to_lowercase()
            )),
            _ => None,
        };
        if let Some(message) = refusal {
            errors.push(FieldError::new(category.as_str(), message));
        }
    }
    if errors.is_empty() { Ok(()) } else { Err(errors) }
}

/// The parts of a release denied on a 164.524 ground (each present category withheld on one),
/// for its denial letter.
pub fn denied_parts(present: &[Category], withheld: &[Withheld]) -> Vec<(Category, DenialGround)> {
    present
        .iter()
        .filter_map(|c| withheld.iter().find(|w| w.category == c.as_str()).and_then(|w| basis_ground(&w.basis)).map(|g| (*c, g)))
        .collect()
}

/// Parses the categories an authorization names, as the review form posts them; unknown codes
/// are an error naming the field.
pub fn parse_named(codes: &[String]) -> Result<Vec<Category>, FieldError> {
    let mut out = Vec::new();
    for code in codes.iter().flat_map(|c| c.split(',')).map(str::trim).filter(|c| !c.is_empty()) {
        let c = Category::parse(code).filter(|c| REVIEWED.contains(c)).ok_or_else(|| FieldError::new("named", "One of the ticked categories does not exist."))?;
        if !out.contains(&c) {
            out.push(c);
        }
    }
    Ok(out)
}

/// Parses the Part 2 consent elements ticked; unknown codes are an error naming the field.
pub fn parse_consent(codes: &[String]) -> Result<Vec<Part2Element>, FieldError> {
    let mut out = Vec::new();
    for code in codes.iter().flat_map(|c| c.split(',')).map(str::trim).filter(|c| !c.is_empty()) {
        let e = Part2Element::parse(code).ok_or_else(|| FieldError::new("consent", "One of the ticked consent elements does not exist."))?;
        if !out.contains(&e) {
            out.push(e);
        }
    }
    Ok(out)
}

/// One item of a sensitive category, as the review lists it (openable by staff).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentItem {
    pub title: String,
    pub date: Option<String>,
    /// Where staff open it (the visit, the note, or the record's section).
    pub href: String,
}

/// A sensitive category present in a request's scope, as the review form lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    pub category: String,
    pub label: String,
    pub count: usize,
    /// The first items (the count says how many there are).
    pub items: Vec<SegmentItem>,
    /// The basis it is withheld on by default, or `None` to include it.
    pub default_basis: Option<String>,
    /// The rule for this receiver, in a sentence.
    pub rule: String,
    /// No choice: always withheld (psychotherapy notes under the right of access).
    pub fixed: bool,
}

/// The rule a category follows for a receiver, as the review form says it.
pub fn rule_text(receiver: Receiver, category: Category) -> &'static str {
    match (receiver, category) {
        (Receiver::Access, Category::PsychotherapyNotes) => "Never released under the right of access (45 CFR 164.524(a)(1)(i)).",
        (Receiver::Access, Category::Part2) => "The patient may always have their own Part 2 records (42 CFR 2.23).",
        (Receiver::Access, _) => "The patient's own record: released unless withheld on a denial ground (45 CFR 164.524(a)).",
        (_, Category::PsychotherapyNotes) => "Only under an authorization for psychotherapy notes alone (45 CFR 164.508(a)(2), (b)(3)(ii)).",
        (_, Category::Part2) => "Only with a Part 2 consent that shows every 42 CFR 2.31 element and names these records; the copy carries the 2.32 notice.",
        (Receiver::Authorized, _) => "Only if the authorization names it (45 CFR 164.508(c)(1)(i)).",
        (Receiver::Permitted, _) => "Permitted without an authorization for this requester; withhold it if the request does not need it (minimum necessary, 45 CFR 164.502(b)).",
    }
}

// The site's segmentation rules, as the administrator's page edits them.

crate::domain::text_enum! {
    /// What a segmentation rule recognises.
    pub enum RuleKind {
        PsychotherapyNote = "psychotherapy_note",
        Part2Program = "part2_program",
    }
}

/// One rule as the administrator's page lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentRuleRow {
    pub id: String,
    pub kind: String,
    pub system: Option<String>,
    pub code: Option<String>,
    pub title_contains: Option<String>,
    pub note: String,
}

/// A rule as the administrator's form posts it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentRuleForm {
    #[serde(default)]
    pub kind: String,
    pub system: Option<String>,
    pub code: Option<String>,
    pub title_contains: Option<String>,
    pub note: Option<String>,
}

/// A checked rule, ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedRule {
    pub kind: RuleKind,
    pub system: Option<String>,
    pub code: Option<String>,
    pub title_contains: Option<String>,
    pub note: String,
}

fn text(v: &Option<String>, max: usize) -> Option<String> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(|s| s.chars().take(max).collect())
}

impl SegmentRuleForm {
    /// Checks the form in one step: a known kind; a code (with or without its system) or, for a
    /// note, title words; a note of what it is.
    pub fn check(&self) -> Result<CheckedRule, Vec<FieldError>> {
        let mut errors = Vec::new();
        let kind = RuleKind::parse(self.kind.trim());
        if kind.is_none() {
            errors.push(FieldError::new("kind", "Choose psychotherapy note type or Part 2 program."));
        }
        let (system, code) = (text(&self.system, 255), text(&self.code, 128));
        let title = text(&self.title_contains, 200).map(|t| t.to_lowercase());
        if system.is_some() && code.is_none() {
            errors.push(FieldError::new("code", "A system needs its code (e.g. a LOINC note code)."));
        }
        if let Some(s) = &system
            && !(s.starts_with("http://") || s.starts_with("https://") || s.starts_with("urn:"))
        {
            errors.push(FieldError::new("system", "A code system is a URI, e.g. http://loinc.org."));
        }
        match kind {
            Some(RuleKind::PsychotherapyNote) if code.is_none() && title.is_none() => errors.push(FieldError::new("code", "Give a note type code, or words of the title.")),
            Some(RuleKind::Part2Program) if code.is_none() => errors.push(FieldError::new("code", "Give the program's organization identifier.")),
            Some(RuleKind::Part2Program) if title.is_some() => errors.push(FieldError::new("title_contains", "A Part 2 program is recognised by its identifier, not by a title.")),
            _ => {}
        }
        let note = text(&self.note, 200);
        if note.is_none() {
            errors.push(FieldError::new("note", "Say what the rule recognises (it is shown to reviewers)."));
        }
        match (kind, note) {
            (Some(kind), Some(note)) if errors.is_empty() => Ok(CheckedRule { kind, system, code, title_contains: title, note }),
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rule_form_names_what_is_missing() {
        let fields = |f: SegmentRuleForm| f.check().err().unwrap_or_default().into_iter().map(|e| e.field).collect::<Vec<_>>();
        assert_eq!(fields(SegmentRuleForm { kind: "x".into(), ..Default::default() }), vec!["kind", "note"]);
        assert_eq!(fields(SegmentRuleForm { kind: "psychotherapy_note".into(), note: Some("n".into()), ..Default::default() }), vec!["code"]);
        assert_eq!(fields(SegmentRuleForm { kind: "part2_program".into(), system: Some("loinc".into()), code: Some("1".into()), note: Some("n".into()), ..Default::default() }), vec!["system"]);
        assert!(SegmentRuleForm { kind: "part2_program".into(), code: Some("P2-001".into()), note: Some("Clinic".into()), ..Default::default() }.check().is_ok());
    }

    fn w(c: Category, basis: &str) -> Withheld {
        Withheld { category: c.as_str().into(), basis: basis.into() }
    }

    #[test]
    fn defaults_follow_the_receiver() {
        use Category::*;
        assert_eq!(default_basis(Receiver::Access, PsychotherapyNotes, &[], &[]), Some("psychotherapy_notes"));
        assert_eq!(default_basis(Receiver::Access, Part2, &[], &[]), None, "42 CFR 2.23");
        assert_eq!(default_basis(Receiver::Access, HivSti, &[], &[]), None);
        assert_eq!(default_basis(Receiver::Authorized, HivSti, &[], &[]), Some("not_authorized"));
        assert_eq!(default_basis(Receiver::Authorized, HivSti, &[HivSti], &[]), None);
        assert_eq!(default_basis(Receiver::Authorized, Part2, &[Part2], &[]), Some("part2_no_consent"));
        assert_eq!(default_basis(Receiver::Authorized, Part2, &[Part2], &Part2Element::ALL), None);
        assert_eq!(default_basis(Receiver::Permitted, MentalHealth, &[], &[]), None);
        assert_eq!(default_basis(Receiver::Permitted, PsychotherapyNotes, &[PsychotherapyNotes], &[]), Some("psychotherapy_separate"));
    }

    #[test]
    fn rule_42_cfr_2_31_consent_elements_are_each_named() {
        let present = [Category::Part2];
        let errors = check_release(Receiver::Permitted, &present, &[], &[Category::Part2], &[Part2Element::PatientName], false).expect_err("incomplete consent");
        assert_eq!(errors[0].field, "part2");
        assert!(errors[0].message.contains("the purpose") && errors[0].message.contains("2.31"), "{}", errors[0].message);
        assert!(check_release(Receiver::Permitted, &present, &[], &[], &Part2Element::ALL, false).is_err(), "the consent must name them");
        assert!(check_release(Receiver::Permitted, &present, &[], &[Category::Part2], &Part2Element::ALL, false).is_ok());
        assert!(check_release(Receiver::Permitted, &present, &[w(Category::Part2, "part2_no_consent")], &[], &[], false).is_ok(), "withheld");
        assert!(check_release(Receiver::Access, &present, &[], &[], &[], false).is_ok(), "the patient's own");
    }

    #[test]
    fn psychotherapy_notes_go_only_alone_and_never_by_access() {
        let notes = [Category::PsychotherapyNotes];
        assert!(check_release(Receiver::Access, &notes, &[], &notes, &[], true).is_err());
        assert!(check_release(Receiver::Authorized, &notes, &[], &[Category::PsychotherapyNotes, Category::HivSti], &[], true).is_err(), "not alone");
        assert!(check_release(Receiver::Authorized, &notes, &[], &notes, &[], false).is_err(), "with the rest of the record");
        assert!(check_release(Receiver::Authorized, &notes, &[], &notes, &[], true).is_ok());
        let with_hiv = [Category::PsychotherapyNotes, Category::HivSti];
        assert!(check_release(Receiver::Authorized, &with_hiv, &[], &notes, &[], true).is_err());
    }

    #[test]
    fn only_denial_grounds_are_denied_parts() {
        let present = [Category::HivSti, Category::MentalHealth, Category::Genetic];
        let withheld = [w(Category::HivSti, "not_authorized"), w(Category::MentalHealth, "danger_to_life_or_safety"), w(Category::Part2, "references_another_person")];
        assert_eq!(denied_parts(&present, &withheld), vec![(Category::MentalHealth, DenialGround::DangerToLifeOrSafety)]);
    }

    #[test]
    fn named_and_consent_codes_are_checked() {
        assert_eq!(parse_named(&["hiv_sti,part2".into(), "hiv_sti".into()]), Ok(vec![Category::HivSti, Category::Part2]));
        assert_eq!(parse_named(&["restricted".into()]).map_err(|e| e.field), Err("named".to_string()));
        assert_eq!(parse_consent(&["purpose".into(), "x".into()]).map_err(|e| e.field), Err("consent".to_string()));
    }
}
