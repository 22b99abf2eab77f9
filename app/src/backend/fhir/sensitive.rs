//! Sensitive categories, tagged at import from codes (DOMAIN.md, "Sensitive categories"). The
//! rules are data: one table of (category, code system, code or code range), read by one
//! function, so a site adds its own codes without touching logic. Later features use the tags to
//! exclude items from releases (45 CFR 164.524, 42 CFR Part 2) and from limited proxies.

use super::map::Coding;

pub use crate::domain::Category;

const ICD10: &str = "http://hl7.org/fhir/sid/icd-10-cm";
const ICD10_WHO: &str = "http://hl7.org/fhir/sid/icd-10";
const SNOMED: &str = "http://snomed.info/sct";
const LOINC: &str = "http://loinc.org";

/// How a rule matches a code.
#[derive(Debug, Clone, Copy)]
pub enum Match {
    Exact(&'static str),
    /// ICD-10 style: the code's first characters fall in `from..=to` (e.g. F10..=F19).
    Range(&'static str, &'static str),
}

/// One rule: codes of `system` that put an item in `category`.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub category: Category,
    pub system: &'static str,
    pub codes: Match,
    /// What the code means (for review; never shown as the item's own display).
    pub note: &'static str,
}

const fn rule(category: Category, system: &'static str, codes: Match, note: &'static str) -> Rule {
    Rule { category, system, codes, note }
}

use Category::*;
use Match::{Exact, Range};

/// The rules. Starting points from DOMAIN.md (ICD-10-CM F10–F19, F20–F99, B20, Z21; SNOMED CT
/// equivalents; LOINC HIV tests), plus the SNOMED CT codes Synthea writes for these conditions.
/// Sites extend this list with their own codes.
pub const RULES: &[Rule] = &[
    // Substance use (checked before the wider mental-health range, which excludes it).
    rule(SubstanceUse, ICD10, Range("F10", "F19"), "mental and behavioural disorders due to psychoactive substance use"),
    rule(SubstanceUse, ICD10_WHO, Range("F10", "F19"), "the same, WHO ICD-10"),
    rule(SubstanceUse, SNOMED, Exact("7200002"), "alcoholism"),
    rule(SubstanceUse, SNOMED, Exact("66590003"), "alcohol dependence"),
    rule(SubstanceUse, SNOMED, Exact("6525002"), "dependent drug abuse"),
    rule(SubstanceUse, SNOMED, Exact("55680006"), "drug overdose"),
    rule(SubstanceUse, SNOMED, Exact("5602001"), "opioid abuse"),
    rule(SubstanceUse, SNOMED, Exact("75544000"), "opioid dependence"),
    rule(SubstanceUse, SNOMED, Exact("724653003"), "opioid misuse"),
    rule(SubstanceUse, SNOMED, Exact("361055000"), "misuses drugs"),
    // Mental health.
    rule(MentalHealth, ICD10, Range("F20", "F99"), "mental, behavioural and neurodevelopmental disorders"),
    rule(MentalHealth, ICD10_WHO, Range("F20", "F99"), "the same, WHO ICD-10"),
    rule(MentalHealth, SNOMED, Exact("35489007"), "depressive disorder"),
    rule(MentalHealth, SNOMED, Exact("36923009"), "major depression, single episode"),
    rule(MentalHealth, SNOMED, Exact("370143000"), "major depressive disorder"),
    rule(MentalHealth, SNOMED, Exact("197480006"), "anxiety disorder"),
    rule(MentalHealth, SNOMED, Exact("58214004"), "schizophrenia"),
    rule(MentalHealth, SNOMED, Exact("13746004"), "bipolar disorder"),
    rule(MentalHealth, SNOMED, Exact("47505003"), "posttraumatic stress disorder"),
    rule(MentalHealth, SNOMED, Exact("191736004"), "recurrent major depression"),
    rule(MentalHealth, SNOMED, Exact("706893006"), "victim of intimate partner abuse"),
    rule(MentalHealth, LOINC, Exact("44249-1"), "PHQ-9 depression screening"),
    rule(MentalHealth, LOINC, Exact("44261-6"), "PHQ-9 total score"),
    rule(MentalHealth, LOINC, Exact("69737-5"), "GAD-7 anxiety screening"),
    rule(MentalHealth, LOINC, Exact("70274-6"), "GAD-7 total score"),
    // HIV and other sexually transmitted infections.
    rule(HivSti, ICD10, Exact("B20"), "HIV disease"),
    rule(HivSti, ICD10, Exact("Z21"), "asymptomatic HIV infection status"),
    rule(HivSti, ICD10, Range("A50", "A64"), "infections with a predominantly sexual mode of transmission"),
    rule(HivSti, SNOMED, Exact("86406008"), "HIV infection"),
    rule(HivSti, SNOMED, Exact("62479008"), "AIDS"),
    rule(HivSti, SNOMED, Exact("165816005"), "HIV positive"),
    rule(HivSti, SNOMED, Exact("76272004"), "syphilis"),
    rule(HivSti, SNOMED, Exact("15628003"), "gonorrhea"),
    rule(HivSti, SNOMED, Exact("105629000"), "chlamydial infection"),
    rule(HivSti, LOINC, Exact("75622-1"), "HIV 1 and 2 tests"),
    rule(HivSti, LOINC, Exact("7917-8"), "HIV 1 antibody"),
    rule(HivSti, LOINC, Exact("56888-1"), "HIV 1+2 antibody and HIV 1 p24 antigen"),
    // Reproductive health.
    rule(ReproductiveHealth, ICD10, Range("O00", "O9A"), "pregnancy, childbirth and the puerperium"),
    rule(ReproductiveHealth, ICD10, Range("Z30", "Z39"), "contraception, pregnancy and reproduction encounters"),
    rule(ReproductiveHealth, SNOMED, Exact("72892002"), "normal pregnancy"),
    rule(ReproductiveHealth, SNOMED, Exact("77386006"), "pregnancy"),
    rule(ReproductiveHealth, SNOMED, Exact("386639001"), "termination of pregnancy"),
    rule(ReproductiveHealth, SNOMED, Exact("169826009"), "single live birth"),
    rule(ReproductiveHealth, SNOMED, Exact("19169002"), "miscarriage in first trimester"),
    rule(ReproductiveHealth, SNOMED, Exact("389095005"), "contraception care"),
    // Genetic information.
    rule(Genetic, ICD10, Range("Z15", "Z15"), "genetic susceptibility to disease"),
    rule(Genetic, SNOMED, Exact("405824009"), "genetic test"),
    rule(Genetic, LOINC, Exact("51969-4"), "genetic analysis report"),
];

fn matches(rule: &Rule, code: &str) -> bool {
    match rule.codes {
        Exact(c) => code.eq_ignore_ascii_case(c) || (rule.system.contains("icd-10") && code.split('.').next() == Some(c)),
        Range(from, to) => {
            let head: String = code.chars().filter(|c| *c != '.').take(from.len()).collect::<String>().to_ascii_uppercase();
            head.len() == from.len() && head.as_str() >= from && head.as_str() <= to
        }
    }
}

/// The categories any of `codes` falls in (sorted, without repeats). Psychotherapy notes and
/// Part 2 records are the site's rules (`access::segment_rules`), applied after import.
pub fn categories<'a>(codes: impl IntoIterator<Item = &'a Coding>) -> Vec<Category> {
    let mut found = Vec::new();
    for coding in codes {
        let (Some(system), Some(code)) = (coding.system.as_deref(), coding.code.as_deref()) else { continue };
        for rule in RULES.iter().filter(|r| r.system == system) {
            if matches(rule, code) && !found.contains(&rule.category) {
                found.push(rule.category);
            }
        }
    }
    found.sort();
    found
}

const CONFIDENTIALITY: &str = "http://terminology.hl7.org/CodeSystem/v3-Confidentiality";

/// The category a resource's security labels put it in: restricted (R) or very restricted (V)
/// confidentiality, the label EHRs put on care a minor consented to on their own.
pub fn security_categories<'a>(labels: impl IntoIterator<Item = &'a Coding>) -> Vec<Category> {
    let restricted = labels.into_iter().any(|c| {
        c.system.as_deref().is_some_and(|s| s == CONFIDENTIALITY || s == "http://hl7.org/fhir/v3/Confidentiality")
            && matches!(c.code.as_deref(), Some("R" | "V"))
    });
    if restricted { vec![Category::Restricted] } else { Vec::new() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn coding(system: &str, code: &str) -> Coding {
        Coding { system: Some(system.into()), code: Some(code.into()), display: None }
    }

    #[test]
    fn icd10_ranges_split_substance_use_from_other_mental_health() {
        assert_eq!(categories(&[coding(ICD10, "F10.20")]), vec![SubstanceUse]);
        assert_eq!(categories(&[coding(ICD10, "F19")]), vec![SubstanceUse]);
        assert_eq!(categories(&[coding(ICD10, "F32.9")]), vec![MentalHealth]);
        assert_eq!(categories(&[coding(ICD10, "F09")]), Vec::<Category>::new());
        assert_eq!(categories(&[coding(ICD10, "B20")]), vec![HivSti]);
        assert_eq!(categories(&[coding(ICD10, "O09.90")]), vec![ReproductiveHealth]);
        assert_eq!(categories(&[coding(ICD10, "J45.909")]), Vec::<Category>::new());
    }

    #[test]
    fn snomed_and_loinc_codes_are_tagged() {
        assert_eq!(categories(&[coding(SNOMED, "86406008")]), vec![HivSti]);
        assert_eq!(categories(&[coding(LOINC, "44261-6")]), vec![MentalHealth]);
        assert_eq!(categories(&[coding(SNOMED, "36923009"), coding(SNOMED, "7200002")]), vec![SubstanceUse, MentalHealth]);
        // The same code under another system is not the same concept.
        assert_eq!(categories(&[coding(LOINC, "86406008")]), Vec::<Category>::new());
    }

    #[test]
    fn a_restricted_confidentiality_label_marks_a_resource_for_no_limited_proxy() {
        assert_eq!(security_categories(&[coding(CONFIDENTIALITY, "R")]), vec![Restricted]);
        assert_eq!(security_categories(&[coding(CONFIDENTIALITY, "V")]), vec![Restricted]);
        assert_eq!(security_categories(&[coding(CONFIDENTIALITY, "N")]), Vec::<Category>::new());
        assert_eq!(security_categories(&[coding("http://example.org/other", "R")]), Vec::<Category>::new());
        assert_eq!(Category::parse("restricted"), Some(Restricted));
    }

    #[test]
    fn category_names_round_trip() {
        for c in Category::ALL {
            assert_eq!(Category::parse(c.as_str()), Some(c));
        }
    }
}
