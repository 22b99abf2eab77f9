//! What the pages show of a request: its timeline, the tracking and queue view, shared links,
//! released files, messages, the accounting of disclosures and the activity history. Wire
//! types only; the rules that fill them live beside them in this module.

use serde::{Deserialize, Serialize};

/// One step of a request's timeline.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineRow {
    pub at: String,
    pub who: String,
    pub status: String,
    pub note: Option<String>,
}

/// A request as the patient's tracking page and the HIM queue show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestView {
    pub id: String,
    /// `R-1042`.
    pub number: String,
    pub patient_id: String,
    pub status: crate::domain::release::lifecycle::Status,
    pub status_label: String,
    pub received: String,
    pub due: String,
    pub days_left: i64,
    pub overdue: bool,
    pub scope: String,
    pub formats: String,
    pub fee: String,
    pub can_cancel: bool,
    pub timeline: Vec<TimelineRow>,
    /// The released files (with their SHA-256), newest decision's withholdings and grounds.
    pub files: Vec<FileView>,
    pub withheld: Vec<String>,
    pub grounds: Vec<String>,
    /// Denied on reviewable grounds only: the requester may ask for a review.
    pub can_request_review: bool,
    /// To someone else: where it went ("Dr. Gomez, clinic@example.org"), empty for oneself.
    pub recipient: String,
    /// The HIM staff member working it (queue and staff pages), and whether that is the viewer.
    pub assignee: Option<String>,
    /// The account it is assigned to (a lead's form says who held it when drawn).
    pub assignee_id: Option<String>,
    pub assigned_to_me: bool,
    /// The patient's name and record number (staff pages only; empty for patients).
    pub patient_label: String,
    /// Whether the one extension was used, and why (the patient's notice).
    pub extended: bool,
    pub extension_reason: Option<String>,
    /// The passcode link, for the requester only.
    pub share: Option<ShareView>,
    /// Asked by a representative: who, and in what capacity (HIM verify their authority).
    pub representative: Option<String>,
    /// How it arrived ("Fax") and who asked, as the clerk reads it ("Smith & Lee LLP
    /// (subpoena)", "Lucas León (patient)").
    pub channel: String,
    pub requester_type: crate::domain::release::RequesterType,
    pub requester: String,
    /// The clerk's checklist for this requester type (logged requests), and what the request
    /// waits for while it is incomplete.
    pub checklist: Vec<crate::domain::release::intake::ChecklistRow>,
    pub waiting_for: Option<String>,
    /// The fee was paid (when there is one).
    pub paid: bool,
    /// Whether the disclosure goes in the accounting (164.528).
    pub accountable: bool,
    /// Staff review: the sensitive categories present in the scope, each with its default.
    pub segments: Vec<crate::domain::release::Segment>,
    /// Who receives it, as the segmentation rules see it (staff pages).
    pub receiver: Option<crate::domain::release::Receiver>,
    /// What the review form starts from: the categories the authorization signed in the portal
    /// names, and the Part 2 consent elements it shows (all of them when it names Part 2 records:
    /// the portal's form carries every 42 CFR 2.31 element).
    pub named: Vec<String>,
    pub consent: Vec<String>,
    /// The authorization: "Revoked on 2026-12-01 by the patient", "Expired on …" (it blocks the
    /// release and closes its links); and whether the viewer may revoke it now.
    pub authorization_state: Option<String>,
    pub can_revoke: bool,
}


/// The link a recipient opens, and the passcode the patient passes on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareView {
    pub recipient: String,
    pub url: String,
    /// Eight digits, shown as two groups of four.
    pub passcode: String,
    pub expires: String,
    pub expired: bool,
    pub opened: i32,
}

/// A file a release produced, as the tracking page and the queue show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileView {
    /// `pdf`, `fhir` or `denial_letter`.
    pub kind: String,
    pub label: String,
    pub file_name: String,
    pub size: i64,
    pub sha256: String,
    pub pages: Option<i32>,
    pub expires: String,
    pub expired: bool,
    pub href: String,
}

/// One in-portal message about a request (no health information: the number and the status).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationView {
    pub message: String,
    pub at: String,
    pub request_id: Option<String>,
    pub unread: bool,
}

/// A request as people say it: "Request R-1042".
pub fn format_number(number: i64) -> String {
    format!("Request R-{number}")
}

/// A message the mail outbox gave up on, for HIM staff to follow up another way: the address,
/// the request it was about, the attempts and the relay's last answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UndeliveredMail {
    pub id: String,
    pub to: String,
    pub request_id: Option<String>,
    pub request: Option<String>,
    pub attempts: u32,
    pub error: String,
    pub given_up: String,
}

/// One entry of the accounting of disclosures (45 CFR 164.528(b)(2)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisclosureRow {
    pub id: String,
    pub date: String,
    pub recipient: String,
    pub address: Option<String>,
    pub description: String,
    pub purpose: String,
    /// Whether 164.528 requires it in the accounting (releases under an authorization do not;
    /// the portal lists them anyway).
    pub accountable: bool,
    /// `automatic` (written by a release), `manual` (added by HIM) or `correction`.
    pub kind: String,
    /// A correction names the entry it corrects.
    pub corrects: Option<String>,
}

/// The accounting a patient sees: six years back from today.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Accounting {
    pub from: String,
    pub to: String,
    pub entries: Vec<DisclosureRow>,
}

/// One line of the activity history (ONC 170.315(e)(1)): a view, download or transmit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActivityRow {
    pub at: String,
    /// `View`, `Download` or `Transmit`.
    pub action: String,
    /// The patient ("You"), a representative by name, HIM staff, or the recipient of a link.
    pub who: String,
    pub what: String,
    /// For transmits, the addressee.
    pub addressee: Option<String>,
}
