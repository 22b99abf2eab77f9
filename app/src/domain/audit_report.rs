//! The audit report's filters and rows (ONC 170.315(d)(3): a report over a chosen period, sortable
//! and filterable by user, patient and action). Pure types shared by the page, the CSV export and
//! the backend.

use super::date::IsoDate;
use crate::domain::FieldError;
use serde::{Deserialize, Serialize};

crate::domain::text_enum! {
    /// The columns the report sorts by.
    pub enum AuditSort {
        Time = "time",
        User = "user",
        Patient = "patient",
        Action = "action",
        Outcome = "outcome",
    }
}

/// The filters as typed (query-string fields, all optional).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct AuditReportForm {
    pub from: String,
    pub to: String,
    pub user: String,
    pub patient: String,
    pub action: String,
    pub sort: String,
    pub dir: String,
}

/// Validated filters. Dates are whole days of the hospital's time zone, `to` included.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditReportQuery {
    pub from: Option<IsoDate>,
    pub to: Option<IsoDate>,
    /// A user's email address.
    pub user: Option<String>,
    /// A patient's medical record number.
    pub patient: Option<String>,
    pub action: Option<String>,
    pub sort: AuditSort,
    pub descending: bool,
}

impl AuditReportQuery {
    pub fn parse(form: &AuditReportForm) -> Result<Self, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut date = |value: &str, field: &str| -> Option<IsoDate> {
            if value.trim().is_empty() {
                return None;
            }
            IsoDate::parse(value)
                .map_err(|e| errors.push(FieldError { field: field.into(), message: e.to_string() }))
                .ok()
        };
        let from = date(&form.from, "from");
        let to = date(&form.to, "to");
        if let (Some(f), Some(t)) = (from, to)
            && f > t
        {
            errors.push(FieldError { field: "to".into(), message: "The end date must not be before the start date.".into() });
        }
        let text = |value: &str| {
            let v = value.trim();
            (!v.is_empty()).then(|| v.chars().take(254).collect::<String>())
        };
        let action = text(&form.action);
        if action.as_deref().is_some_and(|a| !a.chars().all(|c| c.is_ascii_lowercase() || c == '_')) {
            errors.push(FieldError { field: "action".into(), message: "Choose an action from the list.".into() });
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(AuditReportQuery {
            from,
            to,
            user: text(&form.user).map(|u| u.to_lowercase()),
            patient: text(&form.patient).map(|p| p.to_ascii_uppercase()),
            action,
            sort: AuditSort::parse(form.sort.trim()).unwrap_or(AuditSort::Time),
            // Newest first unless asked otherwise.
            descending: form.dir.trim() != "asc",
        })
    }
}

/// One event as the report shows it: names resolved, times in the hospital's zone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditReportRow {
    pub seq: i64,
    pub time: String,
    pub user: Option<String>,
    pub on_behalf_of: Option<String>,
    pub patient: Option<String>,
    pub action: String,
    pub entity: Option<String>,
    pub outcome: String,
    pub detail: Option<String>,
    pub client_address: Option<String>,
    pub request_id: Option<String>,
}

/// The CSV header and one line per row (RFC 4180 quoting). Cells that a spreadsheet would run as
/// a formula get a leading apostrophe (OWASP "CSV injection").
pub fn to_csv(rows: &[AuditReportRow]) -> String {
    fn cell(value: &str) -> String {
        let guarded = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) { format!("'{value}") } else { value.to_string() };
        if guarded.contains([',', '"', '\n', '\r']) {
            format!("\"{}\"", guarded.replace('"', "\"\""))
        } else {
            guarded
        }
    }
    let mut out = String::from("sequence,time_utc,user,on_behalf_of,patient_mrn,action,entity,outcome,detail,client_address,request_id\r\n");
    for r in rows {
        let fields = [
            r.seq.to_string(),
            r.time.clone(),
            r.user.clone().unwrap_or_default(),
            r.on_behalf_of.clone().unwrap_or_default(),
            r.patient.clone().unwrap_or_default(),
            r.action.clone(),
            r.entity.clone().unwrap_or_default(),
            r.outcome.clone(),
            r.detail.clone().unwrap_or_default(),
            r.client_address.clone().unwrap_or_default(),
            r.request_id.clone().unwrap_or_default(),
        ];
        out.push_str(&fields.iter().map(|f| cell(f)).collect::<Vec<_>>().join(","));
        out.push_str("\r\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_and_default_to_newest_first() {
        let q = AuditReportQuery::parse(&AuditReportForm { from: "2026-11-01".into(), user: " Ana@Example.org ".into(), patient: "mrn-1".into(), ..Default::default() })
            .expect("valid");
        assert_eq!(q.from.map(|d| d.to_string()).as_deref(), Some("2026-11-01"));
        assert_eq!(q.user.as_deref(), Some("ana@example.org"));
        assert_eq!(q.patient.as_deref(), Some("MRN-1"));
        assert_eq!((q.sort, q.descending), (AuditSort::Time, true));
    }

    #[test]
    fn a_period_that_ends_before_it_starts_is_refused() {
        let errors = AuditReportQuery::parse(&AuditReportForm { from: "2026-11-02".into(), to: "2026-11-01".into(), ..Default::default() })
            .expect_err("invalid");
        assert_eq!(errors[0].field, "to");
        let errors = AuditReportQuery::parse(&AuditReportForm { from: "yesterday".into(), action: "DROP TABLE".into(), ..Default::default() })
            .expect_err("invalid");
        assert_eq!(errors.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(), vec!["from", "action"]);
    }

    #[test]
    fn csv_quotes_and_defuses_formulas() {
        let row = AuditReportRow {
            seq: 1,
            time: "2026-11-24 09:30:00".into(),
            user: Some("=HYPERLINK(\"x\")".into()),
            on_behalf_of: None,
            patient: Some("MRN-1".into()),
            action: "patient_read".into(),
            entity: Some("patient 1, 2".into()),
            outcome: "success".into(),
            detail: None,
            client_address: Some("127.0.0.1".into()),
            request_id: None,
        };
        let csv = to_csv(&[row]);
        let line = csv.lines().nth(1).expect("a data line");
        assert!(line.starts_with("1,2026-11-24 09:30:00,\"'=HYPERLINK(\"\"x\"\")\",,MRN-1,patient_read,\"patient 1, 2\",success,"), "{line}");
        assert!(csv.starts_with("sequence,time_utc,user,"));
    }
}
