//! A patient record's demographics as HIM staff enter them by hand (the clinical-records import
//! fills the same fields from FHIR). Validation returns every problem at once, per field.

use super::date::IsoDate;
use super::email::EmailAddress;
use crate::domain::FieldError;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A medical record number: letters, digits and `-`, 1 to 64 characters (EHR exports often use UUIDs), unique within a site.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Mrn(String);

impl Mrn {
    pub fn parse(input: &str) -> Result<Self, &'static str> {
        let s = input.trim();
        if s.is_empty() {
            return Err("Enter the medical record number.");
        }
        if s.len() > 64 || !s.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
            return Err("A medical record number has up to 64 letters, digits or dashes.");
        }
        Ok(Mrn(s.to_ascii_uppercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Mrn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// FHIR R4 AdministrativeGender.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    Female,
    Male,
    Other,
    Unknown,
}

impl Sex {
    pub const ALL: [Sex; 4] = [Sex::Female, Sex::Male, Sex::Other, Sex::Unknown];

    pub fn as_str(self) -> &'static str {
        match self {
            Sex::Female => "female",
            Sex::Male => "male",
            Sex::Other => "other",
            Sex::Unknown => "unknown",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Sex::Female => "Female",
            Sex::Male => "Male",
            Sex::Other => "Other",
            Sex::Unknown => "Unknown",
        }
    }

    pub fn parse(input: &str) -> Option<Sex> {
        Sex::ALL.into_iter().find(|s| s.as_str() == input.trim())
    }
}

/// The form fields, as typed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatientForm {
    pub mrn: String,
    pub family_name: String,
    pub given_names: String,
    pub birth_date: String,
    pub sex: String,
    pub phone: String,
    pub email: String,
    pub deceased_date: String,
}

/// A validated new patient record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewPatient {
    pub mrn: Mrn,
    pub family_name: String,
    pub given_names: String,
    pub birth_date: IsoDate,
    pub sex: Sex,
    pub phone: Option<String>,
    pub email: Option<EmailAddress>,
    pub deceased_date: Option<IsoDate>,
}

fn name(value: &str, field: &str, label: &str, errors: &mut Vec<FieldError>) -> String {
    let v = value.trim();
    if v.is_empty() {
        errors.push(FieldError { field: field.into(), message: format!("Enter the {label}.") });
    } else if v.chars().count() > 100 || v.chars().any(char::is_control) {
        errors.push(FieldError { field: field.into(), message: format!("The {label} has at most 100 characters.") });
    }
    v.to_string()
}

impl NewPatient {
    /// Validates every field; `today` bounds the dates (no birth in the future).
    pub fn parse(form: &PatientForm, today: IsoDate) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut fail = |field: &str, message: &str| {
            errors.push(FieldError { field: field.into(), message: message.into() });
        };
        let mrn = Mrn::parse(&form.mrn).map_err(|m| fail("mrn", m)).ok();
        let birth_date = match IsoDate::parse(&form.birth_date) {
            Ok(d) if d > today => {
                fail("birth_date", "The date of birth cannot be in the future.");
                None
            }
            Ok(d) => Some(d),
            Err(e) => {
                fail("birth_date", &e.to_string());
                None
            }
        };
        let sex = Sex::parse(&form.sex);
        if sex.is_none() {
            fail("sex", "Choose the administrative sex recorded for the patient.");
        }
        let phone = form.phone.trim();
        let phone = if phone.is_empty() {
            None
        } else if phone.len() > 32 || !phone.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c)) {
            fail("phone", "Enter a phone number with digits, spaces, +, - or brackets.");
            None
        } else {
            Some(phone.to_string())
        };
        let email = if form.email.trim().is_empty() {
            None
        } else {
            EmailAddress::parse(&form.email).map_err(|e| fail("email", &e.to_string())).ok()
        };
        let deceased_date = if form.deceased_date.trim().is_empty() {
            None
        } else {
            match IsoDate::parse(&form.deceased_date) {
                Ok(d) if d > today || birth_date.is_some_and(|b| d < b) => {
                    fail("deceased_date", "The date of death must fall between birth and today.");
                    None
                }
                Ok(d) => Some(d),
                Err(e) => {
                    fail("deceased_date", &e.to_string());
                    None
                }
            }
        };
        let family_name = name(&form.family_name, "family_name", "family name", &mut errors);
        let given_names = name(&form.given_names, "given_names", "given names", &mut errors);
        match (mrn, birth_date, sex) {
            (Some(mrn), Some(birth_date), Some(sex)) if errors.is_empty() => Ok(NewPatient {
                mrn,
                family_name,
                given_names,
                birth_date,
                sex,
                phone,
                email,
                deceased_date,
            }),
            _ => Err(errors),
        }
    }
}

/// What the portal shows about a patient record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PatientSummary {
    pub id: String,
    pub mrn: String,
    pub family_name: String,
    pub given_names: String,
    pub birth_date: String,
    pub sex: String,
    pub deceased_date: Option<String>,
}

/// A self-registered account waiting for HIM staff to verify who it belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingVerification {
    pub user_id: String,
    pub email: String,
    pub full_name: String,
    pub birth_date: String,
    pub phone: Option<String>,
    pub registered: String,
}

/// What HIM staff compare before linking an account to a record (45 CFR 164.514(h)): the
/// account's registered name, birth date and contact beside the record's, and which differ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkPreview {
    pub user_id: String,
    pub mrn: String,
    pub account: LinkFacts,
    pub record: LinkFacts,
    /// `family_name` and/or `birth_date`: linking anyway needs a written reason.
    pub differs: Vec<String>,
}

/// One side of the comparison.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkFacts {
    pub name: String,
    pub birth_date: String,
    pub contact: String,
}

/// Which identifying facts of the account and the record differ: the family name (letters only,
/// case and accents aside: "León" is "Leon"; given names are often shortened, so they are shown
/// but not compared) and the birth date.
pub fn link_differences(account_name: &str, account_birth: &str, record_family: &str, record_birth: &str) -> Vec<String> {
    fn letters(s: &str) -> String {
        s.chars()
            .filter_map(|c| match c {
                'á' | 'à' | 'â' | 'ä' | 'ã' | 'Á' | 'À' | 'Â' | 'Ä' | 'Ã' => Some('a'),
                'é' | 'è' | 'ê' | 'ë' | 'É' | 'È' | 'Ê' | 'Ë' => Some('e'),
                'í' | 'ì' | 'î' | 'ï' | 'Í' | 'Ì' | 'Î' | 'Ï' => Some('i'),
                'ó' | 'ò' | 'ô' | 'ö' | 'õ' | 'Ó' | 'Ò' | 'Ô' | 'Ö' | 'Õ' => Some('o'),
                'ú' | 'ù' | 'û' | 'ü' | 'Ú' | 'Ù' | 'Û' | 'Ü' => Some('u'),
                'ñ' | 'Ñ' => Some('n'),
                'ç' | 'Ç' => Some('c'),
                c if c.is_alphanumeric() => Some(c.to_ascii_lowercase()),
                _ => None,
            })
            .collect()
    }
    let family = letters(record_family);
    let mut differs = Vec::new();
    let words: Vec<String> = account_name.split_whitespace().map(letters).collect();
    // The record's family name is one or more of the account name's words, in order.
    let joined: Vec<String> = (0..words.len()).flat_map(|i| (i + 1..=words.len()).map(move |j| (i, j))).map(|(i, j)| words[i..j].concat()).collect();
    if family.is_empty() || !joined.contains(&family) {
        differs.push("family_name".to_string());
    }
    if account_birth.trim() != record_birth.trim() {
        differs.push("birth_date".to_string());
    }
    differs
}

/// An activation letter's content: what HIM staff print and hand or post to the patient. The
/// code is shown this once; the portal keeps only its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivationLetter {
    pub patient_id: String,
    pub patient_name: String,
    pub mrn: String,
    pub code: String,
    pub expires_on: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_164_514_h_a_link_compares_the_family_name_and_the_birth_date() {
        assert!(link_differences("Lucas León", "1984-03-07", "Leon", "1984-03-07").is_empty(), "accents aside");
        assert!(link_differences("Ben Nguyen", "1990-01-01", "Nguyen", "1990-01-01").is_empty(), "given names are not compared");
        assert!(link_differences("Ana de la Cruz", "1990-01-01", "De La Cruz", "1990-01-01").is_empty(), "a family name of several words");
        assert_eq!(link_differences("Ben Ngyuen", "1990-01-02", "Nguyen", "1990-01-01"), ["family_name", "birth_date"]);
    }

    fn today() -> IsoDate {
        IsoDate::parse("2026-11-24").expect("valid")
    }

    fn form() -> PatientForm {
        PatientForm {
            mrn: " mrn-0042 ".into(),
            family_name: "Lopez".into(),
            given_names: "Ana Maria".into(),
            birth_date: "1984-03-07".into(),
            sex: "female".into(),
            ..PatientForm::default()
        }
    }

    #[test]
    fn a_complete_form_makes_a_patient() {
        let p = NewPatient::parse(&form(), today()).expect("valid");
        assert_eq!(p.mrn.as_str(), "MRN-0042");
        assert_eq!(p.birth_date.to_string(), "1984-03-07");
        assert_eq!(p.email, None);
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let bad = PatientForm { mrn: "a b".into(), birth_date: "2030-01-01".into(), sex: "x".into(),
            family_name: " ".into(), email: "nope".into(), ..form() };
        let errors = NewPatient::parse(&bad, today()).expect_err("invalid");
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, vec!["mrn", "birth_date", "sex", "email", "family_name"]);
    }

    #[test]
    fn death_cannot_precede_birth() {
        let bad = PatientForm { deceased_date: "1980-01-01".into(), ..form() };
        let errors = NewPatient::parse(&bad, today()).expect_err("invalid");
        assert_eq!(errors[0].field, "deceased_date");
    }
}
