//! Caregivers: people who act for a patient (45 CFR 164.502(g), personal representatives, and
//! adults the patient invites). A grant has a kind (why it exists), a scope (what it allows) and,
//! for a parent, an age band of the patient that narrows it. The rules here are pure; the policy
//! function applies them to every caregiver action.

use super::email::EmailAddress;
use super::date::IsoDate;
use crate::domain::FieldError;
use serde::{Deserialize, Serialize};

crate::domain::text_enum! {
    /// On what basis a caregiver holds access.
    pub enum GrantKind {
        /// The patient invited them (adult-to-adult proxy, DOMAIN.md: granted by the patient, with an
        /// expiry, revocable at any time).
        Invitation = "invitation",
        /// Parent of an unemancipated minor (45 CFR 164.502(g)(3)); narrowed by the child's age.
        ParentOfMinor = "parent",
        /// Court-appointed guardian (164.502(g)(2)).
        Guardian = "guardian",
        /// Holder of a health-care power of attorney (164.502(g)(2)).
        PowerOfAttorney = "power_of_attorney",
        /// Executor or administrator of a deceased patient's estate (164.502(g)(4)).
        Executor = "executor",
    }
}

impl GrantKind {
    /// The kinds HIM staff establish from documents (everything but an invitation).
    pub const REPRESENTATIVE: [GrantKind; 4] = [GrantKind::ParentOfMinor, GrantKind::Guardian, GrantKind::PowerOfAttorney, GrantKind::Executor];

    /// The caregiver's relationship, as the banner and the lists name it.
    pub fn label(self) -> &'static str {
        match self {
            GrantKind::Invitation => "Invited by the patient",
            GrantKind::ParentOfMinor => "Parent",
            GrantKind::Guardian => "Guardian",
            GrantKind::PowerOfAttorney => "Health-care power of attorney",
            GrantKind::Executor => "Executor of the estate",
        }
    }

    /// What a person asking for access says about themselves.
    pub fn claim(self) -> &'static str {
        match self {
            GrantKind::Invitation => "The patient invited me",
            GrantKind::ParentOfMinor => "I am the parent of a child under 18",
            GrantKind::Guardian => "I am the court-appointed guardian",
            GrantKind::PowerOfAttorney => "I hold a health-care power of attorney",
            GrantKind::Executor => "I am the executor of the patient's estate",
        }
    }
}

crate::domain::text_enum! {
    /// How much of the record a caregiver sees.
    pub enum ViewScope {
        /// No notes, no sensitive categories, nothing marked adolescent-confidential.
        Limited = "limited",
        Full = "full",
    }
}

/// What a grant allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct GrantScope {
    pub view: ViewScope,
    /// Ask for copies of the record on the patient's behalf (45 CFR 164.524 through 164.502(g)).
    pub request_copies: bool,
    /// See the patient's copy requests and follow them.
    pub track_requests: bool,
}

impl GrantScope {
    pub const FULL: GrantScope = GrantScope { view: ViewScope::Full, request_copies: true, track_requests: true };

    /// Every combination, for tables.
    pub fn all() -> Vec<GrantScope> {
        let mut out = Vec::new();
        for view in [ViewScope::Limited, ViewScope::Full] {
            for request_copies in [false, true] {
                for track_requests in [false, true] {
                    out.push(GrantScope { view, request_copies, track_requests });
                }
            }
        }
        out
    }

    /// True when `self` allows nothing that `holder` does not.
    pub fn within(self, holder: GrantScope) -> bool {
        self.view <= holder.view && (!self.request_copies || holder.request_copies) && (!self.track_requests || holder.track_requests)
    }

    /// One line for lists: "Full record · can request copies · can follow requests".
    pub fn describe(self) -> String {
        let mut parts = vec![match self.view {
            ViewScope::Full => "Full record",
            ViewScope::Limited => "Limited record (no notes or sensitive information)",
        }];
        if self.request_copies {
            parts.push("can request copies");
        }
        if self.track_requests {
            parts.push("can follow requests");
        }
        parts.join(" · ")
    }
}

crate::domain::text_enum! {
    /// The patient's age band, which narrows a parent's access.
    pub enum AgeBand {
        Child = "child",
        Adolescent = "adolescent",
        Adult = "adult",
    }
}

/// The ages at which a parent's access narrows and ends (settings; DOMAIN.md defaults 12 and 18).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AgeThresholds {
    /// From this birthday a parent's view is limited (adolescent confidentiality).
    pub limited_from: u8,
    /// From this birthday a parent's access ends, unless the adult patient grants it anew.
    pub adult_from: u8,
}

impl Default for AgeThresholds {
    fn default() -> Self {
        AgeThresholds { limited_from: 12, adult_from: 18 }
    }
}

impl AgeThresholds {
    pub fn band(self, birth_date: IsoDate, today: IsoDate) -> AgeBand {
        let age = birth_date.age_on(today);
        if age >= i64::from(self.adult_from) {
            AgeBand::Adult
        } else if age >= i64::from(self.limited_from) {
            AgeBand::Adolescent
        } else {
            AgeBand::Child
        }
    }
}

/// What a grant allows today, given the patient's age band; `None` when it allows nothing.
///
/// A parent's access (45 CFR 164.502(g)(3)) is the granted scope for a child, at most the limited
/// view for an adolescent (items a minor consented to are not the parent's, 164.502(g)(3)(i)),
/// and nothing once the patient is an adult. Other kinds do not depend on age: a guardian or an
/// agent holds what the court or the patient gave, an invited caregiver what the patient chose.
pub fn effective_scope(kind: GrantKind, granted: GrantScope, band: AgeBand) -> Option<GrantScope> {
    match (kind, band) {
        (GrantKind::ParentOfMinor, AgeBand::Adult) => None,
        (GrantKind::ParentOfMinor, AgeBand::Adolescent) => Some(GrantScope { view: ViewScope::Limited, ..granted }),
        _ => Some(granted),
    }
}

/// The patient's invitation form, as typed (an unticked box is simply absent).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct InviteForm {
    pub email: String,
    /// "full" or "limited".
    pub view: String,
    pub request_copies: bool,
    pub track_requests: bool,
    /// How long the access lasts, in days.
    pub days: String,
}

/// A checked invitation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invite {
    pub email: EmailAddress,
    pub scope: GrantScope,
    pub days: u32,
}

fn field(name: &str, message: &str) -> FieldError {
    FieldError { field: name.into(), message: message.into() }
}

impl InviteForm {
    /// Checks the form against the inviter's own email (no self-invitation) and the settings'
    /// longest grant. Every problem is returned, each on its field.
    pub fn check(&self, own_email: &str, max_days: u32) -> Result<Invite, Vec<FieldError>> {
        let mut errors = Vec::new();
        let email = match EmailAddress::parse(&self.email) {
            Ok(e) if e.as_str().eq_ignore_ascii_case(own_email.trim()) => {
                errors.push(field("email", "This is your own email address. Invite someone else."));
                None
            }
            Ok(e) => Some(e),
            Err(e) => {
                errors.push(field("email", &e.to_string()));
                None
            }
        };
        let view = ViewScope::parse(self.view.trim());
        if view.is_none() {
            errors.push(field("view", "Choose what they may see: the full record or the limited record."));
        }
        let days = match self.days.trim().parse::<u32>() {
            Ok(d) if (1..=max_days).contains(&d) => Some(d),
            _ => {
                errors.push(field("days", &format!("Enter a number of days from 1 to {max_days}.")));
                None
            }
        };
        match (email, view, days) {
            (Some(email), Some(view), Some(days)) if errors.is_empty() => Ok(Invite {
                email,
                scope: GrantScope { view, request_copies: self.request_copies, track_requests: self.track_requests },
                days,
            }),
            _ => Err(errors),
        }
    }
}

/// One caregiver grant as a list shows it (to the patient, the caregiver or HIM staff).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GrantView {
    pub id: String,
    pub patient_id: String,
    pub patient_name: String,
    pub caregiver_name: String,
    pub caregiver_email: String,
    pub kind: GrantKind,
    /// What was granted.
    pub scope: GrantScope,
    /// What it allows today (the age rules applied); `None` when nothing.
    pub effective: Option<GrantScope>,
    pub granted_by: String,
    pub starts_on: String,
    pub expires_on: Option<String>,
    /// Active, or why it ended: "Revoked by the patient", "Expired", "Ended at 18", ...
    pub status: String,
    pub active: bool,
    pub ended_on: Option<String>,
    /// When the caregiver last acted on the record ("Who can see my records" only).
    #[serde(default)]
    pub last_used: Option<String>,
}

/// An invitation the patient sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationView {
    pub id: String,
    pub email: String,
    pub scope: GrantScope,
    pub days: u32,
    pub sent_on: String,
    pub expires_on: String,
    /// pending, accepted, withdrawn, expired
    pub status: String,
}

/// What the patient sees right after inviting: the link, to give in person as well (the
/// invitation was also mailed). Only the invited email can accept it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationSent {
    pub invitation: InvitationView,
    pub link: String,
}

/// The invitation as the invited person sees it before accepting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationPreview {
    pub patient_name: String,
    pub scope: GrantScope,
    pub days: u32,
    pub expires_on: String,
    /// The invitation was addressed to the signed-in account's email.
    pub for_you: bool,
}

/// A supporting document attached to a representative request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentLink {
    pub id: String,
    pub file_name: String,
    pub content_type: String,
    pub size: i64,
}

/// A request to be recognised as a personal representative, as HIM staff and the requester see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepresentativeView {
    pub id: String,
    pub requester_name: String,
    pub requester_email: String,
    pub kind: GrantKind,
    pub patient_name: String,
    pub birth_date: String,
    pub mrn: String,
    pub statement: String,
    pub submitted_on: String,
    /// pending, approved, refused
    pub status: String,
    pub reason: Option<String>,
    pub documents: Vec<DocumentLink>,
}

/// Everything on the patient's "Who can see my records" page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CaregiversOverview {
    pub active: Vec<GrantView>,
    pub invitations: Vec<InvitationView>,
    /// Ended grants, newest first (the history).
    pub history: Vec<GrantView>,
    pub representatives: Vec<RepresentativeView>,
    /// Passcode links to copies sent to someone else that still open (issue 22).
    pub links: Vec<SharedLinkView>,
    /// Authorizations the patient signed for copies to third parties, still in force.
    pub authorizations: Vec<AuthorizationView>,
    pub default_days: u32,
    pub max_days: u32,
}

/// A live passcode link: a copy someone else can still open (45 CFR 164.524(c)(3) sends and
/// releases under an authorization). Closing it stops the next opening; it does not revoke
/// the authorization behind it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SharedLinkView {
    pub id: String,
    pub request_id: String,
    /// "R-12"
    pub request: String,
    pub recipient: String,
    pub what: String,
    pub sent: String,
    pub until: String,
    pub opened: i32,
    pub last_opened: Option<String>,
}

/// An authorization in force (45 CFR 164.508): who may receive what, why, until when; the
/// patient may revoke it (164.508(b)(5)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationView {
    pub request_id: String,
    pub request: String,
    pub recipient: String,
    pub what: String,
    pub purpose: String,
    pub signed: String,
    pub expires_on: String,
    /// The day a copy last went out under it.
    pub last_sent: Option<String>,
}

/// A person the signed-in caregiver may act for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActingChoice {
    pub patient_id: String,
    pub name: String,
    pub kind: GrantKind,
    pub scope: GrantScope,
    pub expires_on: Option<String>,
}

/// Whose record is on screen, for the banner and the switcher.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Acting {
    /// The person being acted for, when not oneself.
    pub acting_for: Option<ActingChoice>,
    /// The switcher was set to someone whose grant has since ended.
    pub lost: bool,
    /// Everyone the user may act for now.
    pub choices: Vec<ActingChoice>,
}

/// Shown on a caregiver's copy request: the representative, and in what capacity.
pub fn representative_line(caregiver_name: &str, kind: GrantKind) -> String {
    format!("{caregiver_name} ({}), on the patient's behalf", kind.label().to_lowercase())
}

/// HIM staff's decision on a representative request, as the form posts it: `approve` (matched
/// to the record number, with the scope and the expiry they verified) or a refusal with a reason.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepresentativeDecisionForm {
    pub decision: String,
    #[serde(default)]
    pub mrn: String,
    /// `limited` or `full`: required to approve (no default; the clerk chooses from the
    /// documents what the representative may see).
    #[serde(default)]
    pub view: String,
    #[serde(default)]
    pub request_copies: Option<String>,
    #[serde(default)]
    pub track_requests: Option<String>,
    /// Days until the grant ends; empty for no end date.
    #[serde(default)]
    pub days: String,
    #[serde(default)]
    pub reason: String,
}

/// A representative decision whose fields have been read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RepresentativeDecision {
    pub approve: bool,
    pub mrn: String,
    pub scope: GrantScope,
    pub days: Option<u32>,
    pub reason: String,
}

impl RepresentativeDecisionForm {
    /// Reads the form in one step (the record number and the reason are checked against the
    /// request by the service, which knows it).
    pub fn check(self) -> Result<RepresentativeDecision, Vec<FieldError>> {
        let mut errors = Vec::new();
        let approve = match self.decision.trim() {
            "approve" => true,
            "refuse" => false,
            _ => {
                errors.push(field("decision", "Choose to approve or to refuse."));
                false
            }
        };
        let days = match self.days.trim() {
            "" => None,
            d => d.parse::<u32>().map_err(|_| errors.push(field("days", "Enter a number of days, or leave it empty for no end date."))).ok(),
        };
        // Never a default on approval: full access is the clerk's explicit choice.
        let view = match (ViewScope::parse(self.view.trim()), approve) {
            (Some(view), _) => view,
            (None, false) => ViewScope::Limited,
            (None, true) => {
                errors.push(field("view", "Choose what they may see: the full record or the limited record."));
                ViewScope::Limited
            }
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(RepresentativeDecision {
            approve,
            mrn: self.mrn,
            scope: GrantScope {
                view,
                request_copies: self.request_copies.is_some(),
                track_requests: self.track_requests.is_some(),
            },
            days,
            reason: self.reason,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> IsoDate {
        IsoDate::parse(s).unwrap()
    }

    #[test]
    fn approving_a_representative_needs_an_explicit_view() {
        let form = |decision: &str, view: &str| RepresentativeDecisionForm { decision: decision.into(), view: view.into(), ..Default::default() };
        let fields = |r: Result<RepresentativeDecision, Vec<FieldError>>| r.err().unwrap_or_default().into_iter().map(|e| e.field).collect::<Vec<_>>();
        assert_eq!(fields(form("approve", "").check()), ["view"]);
        assert_eq!(form("approve", "limited").check().map(|d| d.scope.view), Ok(ViewScope::Limited));
        assert_eq!(form("approve", "full").check().map(|d| d.scope.view), Ok(ViewScope::Full));
        assert!(form("refuse", "").check().is_ok_and(|d| !d.approve));
        assert_eq!(fields(form("maybe", "full").check()), ["decision"]);
    }

    #[test]
    fn age_bands_turn_on_the_birthday() {
        let t = AgeThresholds::default();
        let born = date("2014-06-15");
        assert_eq!(t.band(born, date("2026-06-14")), AgeBand::Child, "11 the day before the 12th birthday");
        assert_eq!(t.band(born, date("2026-06-15")), AgeBand::Adolescent, "12 on the birthday");
        assert_eq!(t.band(born, date("2032-06-14")), AgeBand::Adolescent);
        assert_eq!(t.band(born, date("2032-06-15")), AgeBand::Adult, "18 ends a parent's access");
        let custom = AgeThresholds { limited_from: 13, adult_from: 19 };
        assert_eq!(custom.band(born, date("2026-06-15")), AgeBand::Child);
        assert_eq!(custom.band(born, date("2032-06-15")), AgeBand::Adolescent);
        assert_eq!(date("2008-02-29").age_on(date("2026-02-28")), 17);
        assert_eq!(date("2008-02-29").age_on(date("2026-03-01")), 18);
    }

    #[test]
    fn a_parent_is_full_then_limited_then_ends_other_kinds_do_not_depend_on_age() {
        for kind in GrantKind::ALL {
            for granted in GrantScope::all() {
                for band in AgeBand::ALL {
                    let got = effective_scope(kind, granted, band);
                    let expected = match (kind, band) {
                        (GrantKind::ParentOfMinor, AgeBand::Child) => Some(granted),
                        (GrantKind::ParentOfMinor, AgeBand::Adolescent) => Some(GrantScope { view: ViewScope::Limited, ..granted }),
                        (GrantKind::ParentOfMinor, AgeBand::Adult) => None,
                        _ => Some(granted),
                    };
                    assert_eq!(got, expected, "{kind:?} {granted:?} {band:?}");
                    if let Some(s) = got {
                        assert!(s.within(granted), "the age rules never widen a grant");
                    }
                }
            }
        }
    }

    #[test]
    fn an_invitation_names_every_problem_and_refuses_self_invitation() {
        let form = InviteForm { email: "me@example.org".into(), view: "everything".into(), days: "0".into(), ..Default::default() };
        let errors = form.check("Me@Example.org", 365).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["email", "view", "days"]);
        assert!(errors[0].message.contains("your own"));
        let too_long = InviteForm { email: "carer@example.org".into(), view: "limited".into(), days: "400".into(), ..Default::default() };
        assert!(too_long.check("me@example.org", 365).unwrap_err()[0].message.contains("1 to 365"));
        let ok = InviteForm { email: " carer@example.org ".into(), view: "limited".into(), request_copies: true, track_requests: false, days: "30".into() };
        let invite = ok.check("me@example.org", 365).unwrap();
        assert_eq!(invite.email.as_str(), "carer@example.org");
        assert_eq!(invite.scope, GrantScope { view: ViewScope::Limited, request_copies: true, track_requests: false });
        assert_eq!(invite.days, 30);
    }

    #[test]
    fn a_scope_is_within_another_only_when_it_allows_nothing_more() {
        let limited = GrantScope { view: ViewScope::Limited, request_copies: false, track_requests: true };
        assert!(limited.within(GrantScope::FULL));
        assert!(!GrantScope::FULL.within(limited));
        assert!(!GrantScope { view: ViewScope::Limited, request_copies: true, track_requests: true }.within(limited));
        assert_eq!(GrantKind::parse("power_of_attorney"), Some(GrantKind::PowerOfAttorney));
        assert_eq!(GrantKind::parse("friend"), None);
    }
}
