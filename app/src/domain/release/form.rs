//! Asking for a copy: the request form and its one validation step, what a copy covers and in
//! which formats, the fee rule (45 CFR 164.524(c)(4)), and the HIM queue's filters.

use super::authorization::AuthorizationForm;
use super::lifecycle::Status;
use crate::domain::{FieldError, IsoDate};
use serde::{Deserialize, Serialize};

/// The most the portal may charge a patient for an electronic copy of their own record without
/// calculating actual costs: the flat fee HHS allows (in cents).
pub const MAX_FLAT_ELECTRONIC_FEE_CENTS: u32 = 650;

crate::domain::text_enum! {
    /// Who receives the copy (stored with the request).
    pub enum RecipientKind {
        Myself = "myself",
        ThirdParty = "third_party",
    }
}

/// The fee estimate shown before submitting (164.524(c)(4): cost-based only, never for search
/// or retrieval). The schedule's self-request fee is capped at the flat electronic fee.
pub fn fee_cents(recipient: RecipientKind, self_fee_cents: u32, third_party_fee_cents: u32) -> u32 {
    match recipient {
        RecipientKind::Myself => self_fee_cents.min(MAX_FLAT_ELECTRONIC_FEE_CENTS),
        RecipientKind::ThirdParty => third_party_fee_cents,
    }
}

/// A fee as people read it: "Free" or "$6.50".
pub fn fee_text(cents: u32) -> String {
    if cents == 0 { "Free".into() } else { format!("${}.{:02}", cents / 100, cents % 100) }
}

/// A form's idempotency key as posted: `None` when absent or blank; up to 64 letters, digits
/// and dashes (the portal hands out UUIDs), anything else refused on its field.
pub fn idempotency_key(posted: Option<&str>) -> Result<Option<String>, FieldError> {
    let key = posted.map(str::trim).unwrap_or_default();
    if key.is_empty() {
        return Ok(None);
    }
    if key.len() > 64 || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        return Err(FieldError::new("idempotency_key", "The form's key is not valid: reload the page and send it again."));
    }
    Ok(Some(key.to_string()))
}

/// The fee schedule and the deadline, as the request form states them before sending.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CopyTerms {
    pub self_fee: String,
    pub third_party_fee: String,
    pub response_days: u32,
    /// A fresh key for the form's hidden `idempotency_key`: a post retried after its answer was
    /// lost (a dropped connection, a server restart) files the request once.
    pub request_key: String,
}

/// What a copy covers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    /// Empty: the whole record. Otherwise these sections only.
    pub sections: Vec<crate::domain::Section>,
    pub from: Option<IsoDate>,
    pub to: Option<IsoDate>,
}

/// The formats of a copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Formats {
    /// A PDF for people.
    pub pdf: bool,
    /// FHIR R4 JSON for machines.
    pub fhir: bool,
}

impl Scope {
    /// The scope as a cover page and a timeline say it: "Lab results, from 2020-01-01".
    pub fn describe(&self) -> String {
        let what = if self.sections.is_empty() {
            "The whole record".to_string()
        } else {
            self.sections.iter().map(|s| s.title()).collect::<Vec<_>>().join(", ")
        };
        match (self.from, self.to) {
            (Some(f), Some(t)) => format!("{what}, {f} to {t}"),
            (Some(f), None) => format!("{what}, from {f}"),
            (None, Some(t)) => format!("{what}, until {t}"),
            (None, None) => what,
        }
    }
}

/// A request for a copy, as the form sends it (a copy for oneself; releases to someone else add
/// the authorization).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestForm {
    /// `all`, or section slugs separated by commas.
    pub scope: String,
    pub from: Option<String>,
    pub to: Option<String>,
    pub pdf: Option<String>,
    pub fhir: Option<String>,
}

/// The whole request form as the page posts it: what to copy and, for a copy sent to someone
/// else (`recipient=someone_else`), the authorization as typed. Checkboxes arrive as `on` or not
/// at all. The server function takes it as one argument (flattened, so the field names are the
/// form's own).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CopyRequestForm {
    pub scope: String,
    pub from: Option<String>,
    pub to: Option<String>,
    pub pdf: Option<String>,
    pub fhir: Option<String>,
    /// `myself` (the default) or `someone_else`.
    pub recipient: Option<String>,
    pub recipient_name: Option<String>,
    pub recipient_address: Option<String>,
    pub purpose: Option<String>,
    pub expires_on: Option<String>,
    pub expiry_event: Option<String>,
    pub signature_name: Option<String>,
    pub consent: Option<String>,
    pub ack_revocation: Option<String>,
    pub ack_no_conditioning: Option<String>,
    pub ack_redisclosure: Option<String>,
    /// The form's one-time key (see [`CopyTerms::request_key`]).
    pub idempotency_key: Option<String>,
}

impl CopyRequestForm {
    /// The copy asked for and, for someone else, the authorization as typed; `None` when the
    /// recipient is neither of the two choices the form offers (a malformed post).
    pub fn split(self) -> Option<(RequestForm, Option<AuthorizationForm>)> {
        let copy = RequestForm { scope: self.scope, from: self.from, to: self.to, pdf: self.pdf, fhir: self.fhir };
        let authorization = match self.recipient.as_deref().unwrap_or("myself") {
            "myself" => None,
            "someone_else" => Some(AuthorizationForm {
                description: String::new(),
                recipient_name: self.recipient_name.unwrap_or_default(),
                recipient_address: self.recipient_address.unwrap_or_default(),
                purpose: self.purpose.unwrap_or_default(),
                expires_on: self.expires_on.unwrap_or_default(),
                expiry_event: self.expiry_event.unwrap_or_default(),
                signature_name: self.signature_name.unwrap_or_default(),
                consent: self.consent.is_some(),
                ack_revocation: self.ack_revocation.is_some(),
                ack_no_conditioning: self.ack_no_conditioning.is_some(),
                ack_redisclosure: self.ack_redisclosure.is_some(),
                representative_authority: None,
                sensitive: Vec::new(),
            }),
            _ => return None,
        };
        Some((copy, authorization))
    }
}

/// A checked request for a copy to oneself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewRequest {
    pub scope: Scope,
    pub formats: Formats,
}

impl RequestForm {
    /// Checks the scope (known sections, or the whole record), the dates (real, not in the
    /// future, from not after to) and that at least one format is chosen.
    pub fn check(&self, today: IsoDate) -> Result<NewRequest, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut fail = |field: &str, message: &str| errors.push(FieldError { field: field.into(), message: message.into() });
        let scope_text = self.scope.trim();
        let mut sections = Vec::new();
        if scope_text.is_empty() {
            fail("scope", "Choose the whole record or the parts you want.");
        } else if scope_text != "all" {
            for slug in scope_text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                match crate::domain::Section::parse(slug) {
                    Some(s) if !sections.contains(&s) => sections.push(s),
                    Some(_) => {}
                    None => {
                        fail("scope", "One of the chosen parts of the record does not exist.");
                        break;
                    }
                }
            }
        }
        let mut date = |field: &str, value: &Option<String>| match value.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            None => None,
            Some(v) => match IsoDate::parse(v) {
                Ok(d) if d > today => {
                    fail(field, "Dates cannot be in the future.");
                    None
                }
                Ok(d) => Some(d),
                Err(_) => {
                    fail(field, "Use a date like 2020-01-31.");
                    None
                }
            },
        };
        let from = date("from", &self.from);
        let to = date("to", &self.to);
        if let (Some(f), Some(t)) = (from, to)
            && f > t
        {
            fail("to", "The end date is before the start date.");
        }
        let formats = Formats { pdf: self.pdf.is_some(), fhir: self.fhir.is_some() };
        if !formats.pdf && !formats.fhir {
            fail("formats", "Choose at least one format: PDF, FHIR data, or both.");
        }
        if errors.is_empty() { Ok(NewRequest { scope: Scope { sections, from, to }, formats }) } else { Err(errors) }
    }
}

/// Requests per page of the HIM queue: what a clerk scans on a phone, and what a desk with
/// thousands open can answer quickly (issue 21: 500 at once was 670 KB per load).
pub const QUEUE_PAGE: u64 = 50;
/// The last page the queue goes to (10,000 pages of 50 is more than any desk holds open).
pub const QUEUE_MAX_PAGE: u64 = 10_000;

/// The SQL condition of a request still in the queue (not closed or cancelled: see
/// [`Status::is_final`]), word for word the condition of the partial index that pages the queue
/// (migration 14): SQLite uses a partial index only for a query that repeats its condition.
pub const OPEN_REQUESTS: &str = "status NOT IN ('closed', 'cancelled')";

/// The HIM queue's filters, checked: what the queue query uses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct QueueQuery {
    /// One status; `None`: every open one.
    pub status: Option<Status>,
    /// Due within this many days (overdue ones included).
    pub due_within: Option<i64>,
    /// Overdue only.
    pub overdue: bool,
    /// Assigned to the signed-in worker only.
    pub mine: bool,
    pub recipient: Option<RecipientKind>,
    /// Patient name, record number, request number (R-1042) or id; trimmed, never empty.
    pub q: Option<String>,
    /// Which page of [`QUEUE_PAGE`] requests, from 1.
    pub page: u64,
}

impl QueueFilter {
    /// Checks the filters in one step: a value that is set but not understood is a field error
    /// (an unknown recipient is no filter, as before); an empty one is no filter.
    pub fn check(&self) -> Result<QueueQuery, Vec<FieldError>> {
        let text = |v: &Option<String>| v.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string);
        let mut errors = Vec::new();
        let status = match text(&self.status) {
            None => None,
            Some(s) => match Status::parse(&s) {
                Some(status) => Some(status),
                None => {
                    errors.push(FieldError::new("status", "Choose a status from the list."));
                    None
                }
            },
        };
        let due_within = match text(&self.due_within) {
            None => None,
            Some(d) => match d.parse::<i64>().ok().filter(|d| (0..=366).contains(d)) {
                Some(days) => Some(days),
                None => {
                    errors.push(FieldError::new("due_within", "Enter a number of days from 0 to 366."));
                    None
                }
            },
        };
        let q = crate::domain::search_text("q", self.q.as_deref()).unwrap_or_else(|e| {
            errors.push(e);
            None
        });
        let page = match text(&self.page) {
            None => 1,
            Some(p) => p.parse::<u64>().ok().filter(|p| (1..=QUEUE_MAX_PAGE).contains(p)).unwrap_or_else(|| {
                errors.push(FieldError::new("page", format!("Enter a page number from 1 to {QUEUE_MAX_PAGE}.")));
                1
            }),
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(QueueQuery {
            status,
            due_within,
            overdue: self.overdue.is_some(),
            mine: self.mine.is_some(),
            recipient: self.recipient.as_deref().and_then(RecipientKind::parse),
            q,
            page,
        })
    }
}

/// The HIM queue's filters, as its GET form sends them (every one optional).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueFilter {
    /// A status code, or empty for every open one.
    pub status: Option<String>,
    /// Due within this many days (overdue ones included).
    pub due_within: Option<String>,
    /// `on`: overdue only.
    pub overdue: Option<String>,
    /// `on`: assigned to me only.
    pub mine: Option<String>,
    /// `myself` or `third_party`.
    pub recipient: Option<String>,
    /// Patient name, record number, request number (R-1042) or id.
    pub q: Option<String>,
    /// The page, from 1 (empty: the first).
    pub page: Option<String>,
}

/// A disclosure HIM records by hand (made outside the portal: by fax, by mail, to a public
/// health authority), or a correction of an earlier entry, as the form posts it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisclosureForm {
    pub disclosed_on: String,
    pub recipient_name: String,
    pub recipient_address: Option<String>,
    pub description: String,
    pub purpose: String,
    /// `on`: counts in the accounting (164.528(a)).
    pub accountable: Option<String>,
    /// The id of the entry this one corrects.
    pub corrects: Option<String>,
}

/// A checked manual disclosure, ready to store (45 CFR 164.528(b)(2): date, recipient, what, why).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManualDisclosure {
    pub disclosed_on: IsoDate,
    pub recipient_name: String,
    pub recipient_address: Option<String>,
    pub description: String,
    pub purpose: String,
    pub accountable: bool,
    pub corrects: Option<String>,
}

impl DisclosureForm {
    /// Checks every field in one step; a disclosure cannot be dated after `today`.
    pub fn check(self, today: IsoDate) -> Result<ManualDisclosure, Vec<FieldError>> {
        let mut fields = Vec::new();
        let date = IsoDate::parse(&self.disclosed_on).ok();
        match date {
            None => fields.push(FieldError::new("disclosed_on", "Enter the date of the disclosure as YYYY-MM-DD.")),
            Some(d) if d > today => fields.push(FieldError::new("disclosed_on", "A disclosure cannot be in the future.")),
            _ => {}
        }
        let text = |v: &str, max: usize| !v.trim().is_empty() && v.chars().count() <= max;
        if !text(&self.recipient_name, 200) {
            fields.push(FieldError::new("recipient_name", "Name the recipient (up to 200 characters)."));
        }
        if !text(&self.description, 2000) {
            fields.push(FieldError::new("description", "Describe what was disclosed."));
        }
        if !text(&self.purpose, 500) {
            fields.push(FieldError::new("purpose", "State the purpose (or attach the request)."));
        }
        let Some(disclosed_on) = date.filter(|_| fields.is_empty()) else { return Err(fields) };
        Ok(ManualDisclosure {
            disclosed_on,
            recipient_name: self.recipient_name.trim().into(),
            recipient_address: self.recipient_address.map(|a| a.trim().to_string()).filter(|a| !a.is_empty()),
            description: self.description.trim().into(),
            purpose: self.purpose.trim().into(),
            accountable: self.accountable.is_some(),
            corrects: self.corrects.map(|c| c.trim().to_string()).filter(|c| !c.is_empty()),
        })
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_open_requests_condition_names_every_final_status_and_no_other() {
        let finals: Vec<String> = Status::ALL.iter().filter(|s| s.is_final()).map(|s| format!("'{}'", s.as_str())).collect();
        assert_eq!(OPEN_REQUESTS, format!("status NOT IN ({})", finals.join(", ")));
    }

    #[test]
    fn a_queue_page_is_a_number_from_one_to_the_last() {
        let page = |p: &str| QueueFilter { page: Some(p.into()), ..Default::default() }.check().map(|q| q.page);
        assert_eq!(QueueFilter::default().check().map(|q| q.page), Ok(1));
        assert_eq!(page(" 2 "), Ok(2));
        assert_eq!(page(&QUEUE_MAX_PAGE.to_string()), Ok(QUEUE_MAX_PAGE));
        for bad in ["0", "-1", "two", "10001"] {
            assert!(page(bad).is_err_and(|e| e.iter().any(|f| f.field == "page")), "{bad}");
        }
    }

    use super::*;

    fn day(s: &str) -> IsoDate {
        IsoDate::parse(s).unwrap_or_else(|_| panic!("{s}"))
    }

    fn form(scope: &str, from: Option<&str>, to: Option<&str>, pdf: bool, fhir: bool) -> RequestForm {
        RequestForm {
            scope: scope.into(),
            from: from.map(Into::into),
            to: to.map(Into::into),
            pdf: pdf.then(|| "on".into()),
            fhir: fhir.then(|| "on".into()),
        }
    }

    #[test]
    fn a_whole_record_or_chosen_sections_in_a_date_range() {
        let today = day("2026-11-24");
        let all = form("all", None, None, true, false).check(today).expect("valid");
        assert!(all.scope.sections.is_empty());
        let some = form("labs,problems,labs", Some("2020-01-01"), Some("2020-12-31"), true, true).check(today).expect("valid");
        assert_eq!(some.scope.sections, vec![crate::domain::Section::Labs, crate::domain::Section::Problems]);
        assert_eq!(some.scope.from, Some(day("2020-01-01")));
    }

    #[test]
    fn bad_requests_name_their_field() {
        let today = day("2026-11-24");
        let field = |f: RequestForm| f.check(today).expect_err("refused").into_iter().map(|e| e.field).collect::<Vec<_>>();
        assert_eq!(field(form("", None, None, true, false)), vec!["scope"], "an empty scope");
        assert_eq!(field(form("labs,x-rays", None, None, true, false)), vec!["scope"]);
        assert_eq!(field(form("all", Some("2027-01-01"), None, true, false)), vec!["from"], "in the future");
        assert_eq!(field(form("all", Some("2020-02-01"), Some("2020-01-01"), true, false)), vec!["to"], "reversed");
        assert_eq!(field(form("all", Some("2020-02-30"), None, true, false)), vec!["from"]);
        assert_eq!(field(form("all", None, None, false, false)), vec!["formats"]);
    }

    #[test]
    fn rule_164_524_c_4_fees_are_capped_for_a_patients_own_electronic_copy() {
        assert_eq!(fee_cents(RecipientKind::Myself, 0, 2500), 0, "default: free to oneself");
        assert_eq!(fee_cents(RecipientKind::Myself, 2000, 2500), MAX_FLAT_ELECTRONIC_FEE_CENTS);
        assert_eq!(fee_cents(RecipientKind::ThirdParty, 0, 2500), 2500);
    }

    #[test]
    fn queue_filters_are_checked_in_one_step() {
        let typed = |status: &str, due: &str| QueueFilter { status: Some(status.into()), due_within: Some(due.into()), ..QueueFilter::default() }.check();
        let fields = |r: Result<QueueQuery, Vec<FieldError>>| r.err().unwrap_or_default().into_iter().map(|f| f.field).collect::<Vec<_>>();
        assert_eq!(fields(typed("nonsense", "400")), vec!["status", "due_within"]);
        let query = typed(" in_review ", "7").expect("valid");
        assert_eq!((query.status, query.due_within), (Some(Status::InReview), Some(7)));
        let open = QueueFilter { overdue: Some("on".into()), recipient: Some("third_party".into()), q: Some("  ".into()), ..QueueFilter::default() }.check().expect("valid");
        assert!(open.overdue && !open.mine && open.status.is_none() && open.q.is_none());
        assert_eq!(open.recipient, Some(RecipientKind::ThirdParty));
    }

    #[test]
    fn rule_164_528_b_2_a_manual_disclosure_needs_date_recipient_what_and_why() {
        let today = IsoDate::parse("2026-11-24").expect("date");
        let empty = DisclosureForm::default().check(today).expect_err("nothing typed");
        let fields: Vec<&str> = empty.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, vec!["disclosed_on", "recipient_name", "description", "purpose"]);
        let future = DisclosureForm { disclosed_on: "2026-11-25".into(), ..DisclosureForm::default() }.check(today).expect_err("future");
        assert!(future.iter().any(|f| f.field == "disclosed_on" && f.message.contains("future")));
        let ok = DisclosureForm {
            disclosed_on: "2026-11-20".into(),
            recipient_name: " County health department ".into(),
            recipient_address: Some("  ".into()),
            description: "Immunization record".into(),
            purpose: "Public health reporting".into(),
            accountable: Some("on".into()),
            corrects: None,
        }
        .check(today)
        .expect("valid");
        assert_eq!((ok.recipient_name.as_str(), ok.recipient_address, ok.accountable), ("County health department", None, true));
    }
}
