//! Download now and send now (ONC 45 CFR 170.315(e)(1)(i)(B) and (C); the information-blocking
//! rule, 45 CFR 171): the form of the instant path and its one validation step. What the patient
//! can see in the portal they can take or send at once, without HIM review; the request for a
//! copy stays for what needs a person.
//!
//! The form is a plain HTML form (it works before any script): `range` (`all` or `dates`),
//! `from`, `to`, `part` (`all` or `some`), `section` (repeated), `format` (repeated: `pdf`,
//! `fhir`, `ccda`) and, to send, `email`. The same pairs come back to the page with the errors,
//! so the page shows what was typed and why it was refused.

use super::form::Scope;
use crate::domain::{EmailAddress, FieldError, IsoDate, Section};
use serde::{Deserialize, Serialize};

/// The formats of an instant copy.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstantFormats {
    /// The PDF for people.
    pub pdf: bool,
    /// FHIR R4 JSON (a `collection` Bundle).
    pub fhir: bool,
    /// C-CDA R2.1 CCD (XML).
    pub ccda: bool,
}

impl InstantFormats {
    /// The formats as stored and audited: `pdf,fhir,ccda`.
    pub fn codes(&self) -> String {
        [self.pdf.then_some("pdf"), self.fhir.then_some("fhir"), self.ccda.then_some("ccda")].into_iter().flatten().collect::<Vec<_>>().join(",")
    }

    /// The formats as people read them.
    pub fn describe(&self) -> String {
        [self.pdf.then_some("PDF"), self.fhir.then_some("FHIR data"), self.ccda.then_some("C-CDA summary")].into_iter().flatten().collect::<Vec<_>>().join(", ")
    }

    pub fn count(&self) -> usize {
        usize::from(self.pdf) + usize::from(self.fhir) + usize::from(self.ccda)
    }
}

/// A checked instant copy: what, in which formats, and for a transmit, to whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstantCopy {
    pub scope: Scope,
    pub formats: InstantFormats,
    pub email: Option<EmailAddress>,
    /// To a Direct address, through the site's Direct relay (`via=direct`), not by link.
    pub direct: bool,
}

/// What the download page shows: the form as last sent (so nothing typed is lost), its errors
/// (only after a refused attempt), and whose view it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstantFormView {
    pub pairs: Vec<(String, String)>,
    pub errors: Vec<FieldError>,
    /// A limited proxy's view: no sensitive categories, no notes (45 CFR 164.502(g)(3)).
    pub limited: bool,
    /// A caregiver acting for the patient.
    pub acting: bool,
    /// Whether this person may send copies (a caregiver's grant may not allow it).
    pub can_send: bool,
    /// The errors are those of a "Send now".
    pub sending: bool,
    /// The site has a Direct relay: a copy can go to a Direct address.
    pub direct_available: bool,
}

impl InstantFormView {
    pub fn value(&self, name: &str) -> Option<String> {
        field(&self.pairs, name).map(str::to_string)
    }

    /// Whether a radio or checkbox was chosen; with nothing sent yet, `default`.
    pub fn chosen(&self, name: &str, value: &str, default: bool) -> bool {
        if self.pairs.is_empty() { default } else { values(&self.pairs, name).any(|v| v == value) }
    }

    pub fn error(&self, name: &str) -> Option<String> {
        self.errors.iter().find(|e| e.field == name).map(|e| e.message.clone())
    }
}

/// What `/verify` says about a copy this portal produced: when, how, and its files. Never
/// who the patient is, nor anything of the record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifiedCopy {
    pub made: String,
    /// "Downloaded by the patient in the portal", "Released by the records team for request R-1001".
    pub how: String,
    pub code: String,
    /// (name, size in bytes, SHA-256) of each file of the copy.
    pub files: Vec<(String, i64, String)>,
    /// The file that was checked, when a file was dropped.
    pub matched: Option<String>,
}

/// The answer of `/verify`: nothing asked yet, a genuine copy, or not one of ours.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum VerifyOutcome {
    NotAsked,
    Genuine(VerifiedCopy),
    Unknown { what: String },
    Invalid { field: String, message: String },
}

/// The first value of a field, trimmed; empty is none.
pub fn field<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.trim()).filter(|v| !v.is_empty())
}

/// Every value of a repeated field.
pub fn values<'a>(pairs: &'a [(String, String)], name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
    pairs.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.trim())
}

/// Checks the form: dates real, not in the future and in order; the sections known and, when
/// the patient chose "some", at least one; at least one format; for a transmit, an email
/// address. Every problem comes back at once, each naming its field.
pub fn check_instant(pairs: &[(String, String)], today: IsoDate, sending: bool) -> Result<InstantCopy, Vec<FieldError>> {
    let mut errors = Vec::new();
    let (mut from, mut to) = (None, None);
    if field(pairs, "range") == Some("dates") {
        let mut date = |name: &str| match field(pairs, name) {
            None => None,
            Some(v) => match IsoDate::parse(v) {
                Ok(d) if d > today => {
                    errors.push(FieldError::new(name, "Dates cannot be in the future."));
                    None
                }
                Ok(d) => Some(d),
                Err(_) => {
                    errors.push(FieldError::new(name, "Use a date like 2020-01-31."));
                    None
                }
            },
        };
        from = date("from");
        to = date("to");
        if field(pairs, "from").is_none() && field(pairs, "to").is_none() {
            errors.push(FieldError::new("from", "Enter a start date, an end date, or both (or choose the whole record)."));
        }
        if let (Some(f), Some(t)) = (from, to)
            && f > t
        {
            errors.push(FieldError::new("to", "The end date is before the start date."));
        }
    }
    let mut sections = Vec::new();
    if field(pairs, "part") == Some("some") {
        for slug in values(pairs, "section").filter(|s| !s.is_empty()) {
            match Section::parse(slug) {
                Some(s) if !sections.contains(&s) => sections.push(s),
                Some(_) => {}
                None => {
                    errors.push(FieldError::new("section", "One of the chosen parts of the record does not exist."));
                    break;
                }
            }
        }
        if sections.is_empty() && !errors.iter().any(|e| e.field == "section") {
            errors.push(FieldError::new("section", "Choose at least one part of the record, or the whole record."));
        }
        // Sections in the record's own order, whatever order the form sent them in.
        sections.sort_by_key(|s| Section::ALL.iter().position(|a| a == s));
    }
    let mut formats = InstantFormats::default();
    for f in values(pairs, "format") {
        match f {
            "pdf" => formats.pdf = true,
            "fhir" => formats.fhir = true,
            "ccda" => formats.ccda = true,
            _ => {
                errors.push(FieldError::new("format", "Choose PDF, FHIR data or the C-CDA summary."));
                break;
            }
        }
    }
    if formats.count() == 0 && !errors.iter().any(|e| e.field == "format") {
        errors.push(FieldError::new("format", "Choose at least one format."));
    }
    let email = if sending {
        match EmailAddress::parse(field(pairs, "email").unwrap_or_default()) {
            Ok(e) => Some(e),
            Err(e) => {
                let message = match e {
                    crate::domain::EmailError::Empty => "Enter the email address to send the copy to.".to_string(),
                    other => other.to_string(),
                };
                errors.push(FieldError::new("email", message));
                None
            }
        }
    } else {
        None
    };
    let direct = sending && field(pairs, "via") == Some("direct");
    if errors.is_empty() { Ok(InstantCopy { scope: Scope { sections, from, to }, formats, email, direct }) } else { Err(errors) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn today() -> IsoDate {
        IsoDate::parse("2026-12-02").unwrap_or_else(|_| panic!("date"))
    }

    fn fields(list: &[(&str, &str)], sending: bool) -> Vec<String> {
        check_instant(&pairs(list), today(), sending).err().unwrap_or_default().into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn a_date_range_and_sections_in_the_records_order() {
        let copy = check_instant(
            &pairs(&[("range", "dates"), ("from", "2020-01-01"), ("to", "2021-01-01"), ("part", "some"), ("section", "labs"), ("section", "problems"), ("format", "pdf"), ("format", "ccda")]),
            today(),
            false,
        )
        .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(copy.scope.sections, vec![Section::Problems, Section::Labs]);
        assert_eq!(copy.formats.codes(), "pdf,ccda");
        assert_eq!(copy.scope.from.map(|d| d.to_string()).as_deref(), Some("2020-01-01"));
    }

    #[test]
    fn the_whole_record_ignores_stray_dates_and_sections() {
        let copy = check_instant(&pairs(&[("range", "all"), ("from", "nonsense"), ("part", "all"), ("section", "nope"), ("format", "fhir")]), today(), false)
            .unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(copy.scope, Scope { sections: vec![], from: None, to: None });
    }

    #[test]
    fn bad_input_names_its_field() {
        assert_eq!(fields(&[("range", "dates"), ("from", "2021-01-01"), ("to", "2020-01-01"), ("format", "pdf")], false), vec!["to"], "reversed");
        assert_eq!(fields(&[("range", "dates"), ("from", "2027-01-01"), ("format", "pdf")], false), vec!["from"], "future");
        assert_eq!(fields(&[("range", "dates"), ("format", "pdf")], false), vec!["from"], "no dates");
        assert_eq!(fields(&[("part", "some"), ("section", "secrets"), ("format", "pdf")], false), vec!["section"], "unknown section");
        assert_eq!(fields(&[("part", "some"), ("format", "pdf")], false), vec!["section"], "empty selection");
        assert_eq!(fields(&[("part", "all")], false), vec!["format"], "no format");
        assert_eq!(fields(&[("format", "docx")], false), vec!["format"], "unknown format");
        assert_eq!(fields(&[("format", "pdf"), ("email", "not-an-address")], true), vec!["email"], "not an email");
        assert_eq!(fields(&[("format", "pdf")], true), vec!["email"], "no address");
        assert!(fields(&[("format", "pdf"), ("email", "Doc@Example.org")], true).is_empty());
    }
}
