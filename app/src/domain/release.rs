//! Release of information, the pure rules (issue "Release of information", DOMAIN.md): the
//! lifecycle of a request for a copy as a typed state machine, its legal clock (30 days, one
//! extension), the denial grounds of 45 CFR 164.524(a), the fee rule and the authorization a
//! release to someone else needs (45 CFR 164.508). No I/O: the service layer records each
//! transition (actor, time, note) and the pages show them.

use crate::domain::IsoDate;
use serde::{Deserialize, Serialize};

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    Submitted,
    /// HIM verifies the requester's identity and, for a representative, their authority.
    IdentityCheck,
    /// HIM reviews the scope: what is included, what is excluded and on what basis.
    InReview,
    Approved,
    /// Some of the record is withheld on a denial ground; the rest must still be released
    /// (164.524(d)(2)).
    PartiallyApproved,
    Denied,
    /// A reviewable denial sent by the requester to a licensed reviewer (164.524(a)(4), (d)(4)).
    DenialUnderReview,
    /// The copy is produced and ready.
    Released,
    /// Downloaded, or the third party opened its link.
    Delivered,
    Closed,
    /// Withdrawn by the requester before release.
    Cancelled,
}

impl Status {
    pub const ALL: [Status; 11] = [
        Status::Submitted,
        Status::IdentityCheck,
        Status::InReview,
        Status::Approved,
        Status::PartiallyApproved,
        Status::Denied,
        Status::DenialUnderReview,
        Status::Released,
        Status::Delivered,
        Status::Closed,
        Status::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Submitted => "submitted",
            Status::IdentityCheck => "identity_check",
            Status::InReview => "in_review",
            Status::Approved => "approved",
            Status::PartiallyApproved => "partially_approved",
            Status::Denied => "denied",
            Status::DenialUnderReview => "denial_under_review",
            Status::Released => "released",
            Status::Delivered => "delivered",
            Status::Closed => "closed",
            Status::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// What the patient reads on the tracking page.
    pub fn label(self) -> &'static str {
        match self {
            Status::Submitted => "Received",
            Status::IdentityCheck => "Checking identity",
            Status::InReview => "In review",
            Status::Approved => "Approved",
            Status::PartiallyApproved => "Partly approved",
            Status::Denied => "Denied",
            Status::DenialUnderReview => "Denial under review",
            Status::Released => "Ready to download",
            Status::Delivered => "Delivered",
            Status::Closed => "Closed",
            Status::Cancelled => "Cancelled",
        }
    }

    /// HIM has acted on the request within the meaning of 164.524(b)(2): decided it (a denial
    /// counts) or withdrawn. The legal clock stops here.
    pub fn acted_on(self) -> bool {
        !matches!(self, Status::Submitted | Status::IdentityCheck | Status::InReview)
    }

    /// Nothing more can happen.
    pub fn is_final(self) -> bool {
        matches!(self, Status::Closed | Status::Cancelled)
    }
}

/// Who causes a transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Actor {
    /// The patient, or a caregiver acting for them.
    Requester,
    HimStaff,
    /// A licensed reviewer who took no part in the denial.
    Reviewer,
    /// The portal itself (the copy is produced, a link is opened).
    System,
}

/// What happens to a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Event {
    StartIdentityCheck,
    IdentityVerified,
    Approve,
    ApprovePartially,
    Deny,
    RequestDenialReview,
    /// The reviewer upholds the denial.
    UpholdDenial,
    /// The reviewer overturns it: the copy is released after all.
    OverturnDenial,
    /// The copy is produced.
    Release,
    /// Downloaded, or the recipient's link opened.
    Deliver,
    Close,
    Cancel,
}

/// Why a transition is not allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("a request that is {from} cannot be {event}")]
    NotAllowed { from: &'static str, event: &'static str },
    #[error("only {who} can do this")]
    WrongActor { who: &'static str },
    #[error("this denial is not reviewable (45 CFR 164.524(a)(2))")]
    NotReviewable,
}

fn event_name(event: Event) -> &'static str {
    match event {
        Event::StartIdentityCheck => "checked for identity",
        Event::IdentityVerified => "verified",
        Event::Approve => "approved",
        Event::ApprovePartially => "partly approved",
        Event::Deny => "denied",
        Event::RequestDenialReview => "sent for review",
        Event::UpholdDenial => "upheld",
        Event::OverturnDenial => "overturned",
        Event::Release => "released",
        Event::Deliver => "delivered",
        Event::Close => "closed",
        Event::Cancel => "cancelled",
    }
}

/// The next status after `event`, or why not. `reviewable` says whether the request's denial (if
/// any) may be reviewed. Pure: the caller records the transition with actor, time and note.
pub fn transition(from: Status, event: Event, actor: Actor, reviewable: bool) -> Result<Status, TransitionError> {
    use Status::*;
    let not_allowed = || TransitionError::NotAllowed { from: from.as_str(), event: event_name(event) };
    let staff = |next: Status| if actor == Actor::HimStaff { Ok(next) } else { Err(TransitionError::WrongActor { who: "HIM staff" }) };
    match (from, event) {
        (Submitted, Event::StartIdentityCheck) => staff(IdentityCheck),
        (IdentityCheck, Event::IdentityVerified) => staff(InReview),
        (InReview, Event::Approve) => staff(Approved),
        (InReview, Event::ApprovePartially) => staff(PartiallyApproved),
        // A request can be denied at the identity step too (authority not shown).
        (IdentityCheck | InReview, Event::Deny) => staff(Denied),
        (Denied, Event::RequestDenialReview) => {
            if actor != Actor::Requester {
                Err(TransitionError::WrongActor { who: "the requester" })
            } else if !reviewable {
                Err(TransitionError::NotReviewable)
            } else {
                Ok(DenialUnderReview)
            }
        }
        (DenialUnderReview, Event::UpholdDenial | Event::OverturnDenial) => {
            if actor != Actor::Reviewer {
                return Err(TransitionError::WrongActor { who: "an HIM reviewer who took no part in the denial" });
            }
            Ok(if event == Event::UpholdDenial { Closed } else { Approved })
        }
        (Approved | PartiallyApproved, Event::Release) => {
            if matches!(actor, Actor::HimStaff | Actor::System) { Ok(Released) } else { Err(TransitionError::WrongActor { who: "HIM staff" }) }
        }
        (Released, Event::Deliver) => {
            if matches!(actor, Actor::System | Actor::Requester) { Ok(Delivered) } else { Err(not_allowed()) }
        }
        (Delivered | Denied, Event::Close) => staff(Closed).or_else(|e| if actor == Actor::System { Ok(Closed) } else { Err(e) }),
        // Withdrawn by the requester at any point before the copy exists (164.524 has no rule
        // against it; released copies cannot be unreleased).
        (Submitted | IdentityCheck | InReview | Approved | PartiallyApproved, Event::Cancel) => {
            if actor == Actor::Requester { Ok(Cancelled) } else { Err(TransitionError::WrongActor { who: "the requester" }) }
        }
        _ => Err(not_allowed()),
    }
}

/// The legal clock of one request (164.524(b)(2)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Clock {
    pub received: IsoDate,
    /// Received + the response period (setting, default 30 days), or the extended date.
    pub due: IsoDate,
    pub extended: bool,
}

/// Why an extension is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtensionError {
    #[error("a request can be extended only once (45 CFR 164.524(b)(2)(iii))")]
    AlreadyExtended,
    #[error("the extension must be sent before the original deadline ({due})")]
    TooLate { due: IsoDate },
    #[error("the new date must be after the current deadline and at most {max_days} days after it")]
    BadDate { max_days: i64 },
    #[error("the patient must be told why: give a reason")]
    NoReason,
    #[error("a request that was already acted on needs no extension")]
    AlreadyActedOn,
}

impl Clock {
    /// A new request's clock: due `response_days` calendar days after receipt.
    pub fn start(received: IsoDate, response_days: i64) -> Option<Clock> {
        Some(Clock { received, due: received.add_days(response_days)?, extended: false })
    }

    /// Past its due date and not yet acted on: shown as overdue to patient and staff.
    pub fn overdue(&self, status: Status, today: IsoDate) -> bool {
        !status.acted_on() && today > self.due
    }

    /// Days left until the due date (negative when overdue).
    pub fn days_left(&self, today: IsoDate) -> i64 {
        today.days_until(self.due)
    }

    /// The one extension 164.524(b)(2)(iii) allows: before the deadline, with a written reason
    /// and the new date, by at most `max_days` (default 30). The caller sends the notice.
    pub fn extend(&self, status: Status, today: IsoDate, new_due: IsoDate, reason: &str, max_days: i64) -> Result<Clock, ExtensionError> {
        if status.acted_on() {
            return Err(ExtensionError::AlreadyActedOn);
        }
        if self.extended {
            return Err(ExtensionError::AlreadyExtended);
        }
        if today >= self.due {
            return Err(ExtensionError::TooLate { due: self.due });
        }
        if reason.trim().is_empty() {
            return Err(ExtensionError::NoReason);
        }
        let added = self.due.days_until(new_due);
        if added < 1 || added > max_days {
            return Err(ExtensionError::BadDate { max_days });
        }
        Ok(Clock { received: self.received, due: new_due, extended: true })
    }
}

/// The grounds on which access may be denied (45 CFR 164.524(a)(2) without review, (a)(3) with).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DenialGround {
    PsychotherapyNotes,
    LitigationPreparation,
    InmateSafety,
    ResearchSuspended,
    ConfidentialSource,
    DangerToLifeOrSafety,
    ReferencesAnotherPerson,
    RepresentativeHarm,
}

impl DenialGround {
    pub const ALL: [DenialGround; 8] = [
        DenialGround::PsychotherapyNotes,
        DenialGround::LitigationPreparation,
        DenialGround::InmateSafety,
        DenialGround::ResearchSuspended,
        DenialGround::ConfidentialSource,
        DenialGround::DangerToLifeOrSafety,
        DenialGround::ReferencesAnotherPerson,
        DenialGround::RepresentativeHarm,
    ];

    /// The code forms and storage use.
    pub fn code(self) -> &'static str {
        match self {
            DenialGround::PsychotherapyNotes => "psychotherapy_notes",
            DenialGround::LitigationPreparation => "litigation_preparation",
            DenialGround::InmateSafety => "inmate_safety",
            DenialGround::ResearchSuspended => "research_suspended",
            DenialGround::ConfidentialSource => "confidential_source",
            DenialGround::DangerToLifeOrSafety => "danger_to_life_or_safety",
            DenialGround::ReferencesAnotherPerson => "references_another_person",
            DenialGround::RepresentativeHarm => "representative_harm",
        }
    }

    pub fn parse(code: &str) -> Option<DenialGround> {
        DenialGround::ALL.into_iter().find(|g| g.code() == code)
    }

    /// Whether the patient may have the denial reviewed by a licensed professional who took no
    /// part in it (164.524(a)(3) grounds are reviewable; (a)(2) grounds are not).
    pub fn reviewable(self) -> bool {
        matches!(self, DenialGround::DangerToLifeOrSafety | DenialGround::ReferencesAnotherPerson | DenialGround::RepresentativeHarm)
    }

    pub fn citation(self) -> &'static str {
        match self {
            DenialGround::PsychotherapyNotes => "45 CFR 164.524(a)(1)(i)",
            DenialGround::LitigationPreparation => "45 CFR 164.524(a)(1)(ii)",
            DenialGround::InmateSafety => "45 CFR 164.524(a)(2)(ii)",
            DenialGround::ResearchSuspended => "45 CFR 164.524(a)(2)(iii)",
            DenialGround::ConfidentialSource => "45 CFR 164.524(a)(2)(v)",
            DenialGround::DangerToLifeOrSafety => "45 CFR 164.524(a)(3)(i)",
            DenialGround::ReferencesAnotherPerson => "45 CFR 164.524(a)(3)(ii)",
            DenialGround::RepresentativeHarm => "45 CFR 164.524(a)(3)(iii)",
        }
    }

    /// The basis in plain language, as the denial letter states it (164.524(d)(2)(i)).
    pub fn plain_language(self) -> &'static str {
        match self {
            DenialGround::PsychotherapyNotes => "The request includes psychotherapy notes, which the law lets us withhold.",
            DenialGround::LitigationPreparation => "The information was prepared for a lawsuit or legal proceeding.",
            DenialGround::InmateSafety => "You are in a correctional institution and a copy could endanger safety there.",
            DenialGround::ResearchSuspended => "The information is part of a research study you agreed not to see until it ends.",
            DenialGround::ConfidentialSource => "The information was given to us by someone else under a promise of confidentiality.",
            DenialGround::DangerToLifeOrSafety => "A licensed health professional judged that access is reasonably likely to endanger your life or physical safety, or someone else's.",
            DenialGround::ReferencesAnotherPerson => "The information refers to another person, and a licensed health professional judged that access is reasonably likely to cause them substantial harm.",
            DenialGround::RepresentativeHarm => "A licensed health professional judged that access by the representative is reasonably likely to cause substantial harm.",
        }
    }
}

/// Whether a denial on these grounds may be reviewed: only if every ground is reviewable (a
/// non-reviewable ground cannot be reopened by a review of the others).
pub fn denial_reviewable(grounds: &[DenialGround]) -> bool {
    !grounds.is_empty() && grounds.iter().all(|g| g.reviewable())
}

/// The most the portal may charge a patient for an electronic copy of their own record without
/// calculating actual costs: the flat fee HHS allows (in cents).
pub const MAX_FLAT_ELECTRONIC_FEE_CENTS: u32 = 650;

/// Who receives the copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RecipientKind {
    Myself,
    ThirdParty,
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

/// The fee schedule and the deadline, as the request form states them before sending.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CopyTerms {
    pub self_fee: String,
    pub third_party_fee: String,
    pub response_days: u32,
}

/// The authorization form for a release to someone else, as typed (45 CFR 164.508(c)).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationForm {
    /// A specific description of the information (164.508(c)(1)(i)).
    pub description: String,
    pub recipient_name: String,
    pub recipient_address: String,
    pub purpose: String,
    /// An expiration date (YYYY-MM-DD) ...
    pub expires_on: String,
    /// ... or an expiration event.
    pub expiry_event: String,
    /// The signature: the typed full name ...
    pub signature_name: String,
    /// ... and the box "I sign this authorization" ticked.
    pub consent: bool,
    /// The required statements, each acknowledged (164.508(c)(2)).
    pub ack_revocation: bool,
    pub ack_no_conditioning: bool,
    pub ack_redisclosure: bool,
    /// Set when a representative signs: their authority (164.508(c)(1)(vi)).
    pub representative_authority: Option<String>,
}

/// A complete, valid authorization. Only `AuthorizationForm::check` makes one, so an invalid
/// form cannot be submitted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authorization {
    pub form: AuthorizationForm,
    pub signed_on: IsoDate,
}

impl AuthorizationForm {
    /// Checks every element of 164.508(c); each missing one is named in plain language.
    /// `expected_signer` is the requester's name on the account (the signature must match it).
    pub fn check(self, today: IsoDate, expected_signer: &str) -> Result<Authorization, Vec<crate::error::FieldError>> {
        let mut errors = Vec::new();
        let mut need = |field: &str, ok: bool, message: &str| {
            if !ok {
                errors.push(crate::error::FieldError { field: field.into(), message: message.into() });
            }
        };
        let filled = |s: &str, max: usize| !s.trim().is_empty() && s.chars().count() <= max;
        need("description", filled(&self.description, 2000), "Describe the information to be released (up to 2,000 characters).");
        need("recipient_name", filled(&self.recipient_name, 200), "Name the person or organization who will receive it.");
        need("recipient_address", filled(&self.recipient_address, 500), "Give the recipient's address or email.");
        // An address with an "@" is meant as an email: it must be one (the link goes there).
        let address = self.recipient_address.trim();
        need(
            "recipient_address",
            !address.contains('@') || crate::domain::EmailAddress::parse(address).is_ok() || address.is_empty(),
            "That email address is not valid. Check it, or give a postal address instead.",
        );
        need("purpose", filled(&self.purpose, 500), "Say why (\"at my request\" is enough).");
        let expiry_date = IsoDate::parse(&self.expires_on).ok();
        let has_event = filled(&self.expiry_event, 200);
        need(
            "expires_on",
            expiry_date.is_some_and(|d| d > today) || (self.expires_on.trim().is_empty() && has_event),
            "Give a future expiration date, or an event that ends this authorization.",
        );
        let typed = self.signature_name.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
        let expected = expected_signer.split_whitespace().collect::<Vec<_>>().join(" ").to_lowercase();
        need("signature_name", !typed.is_empty() && typed == expected, "Type your full name exactly as on your account to sign.");
        need("consent", self.consent, "Tick the box to sign this authorization.");
        need("ack_revocation", self.ack_revocation, "Confirm you understand you may revoke this authorization in writing.");
        need("ack_no_conditioning", self.ack_no_conditioning, "Confirm you understand your care does not depend on signing.");
        need("ack_redisclosure", self.ack_redisclosure, "Confirm you understand the recipient may share the information further.");
        if let Some(authority) = &self.representative_authority {
            need("representative_authority", filled(authority, 200), "Describe your authority to act for the patient.");
        }
        if errors.is_empty() { Ok(Authorization { form: self, signed_on: today }) } else { Err(errors) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Actor::*;
    use Status::*;

    fn day(s: &str) -> IsoDate {
        IsoDate::parse(s).unwrap_or_else(|_| panic!("{s}"))
    }

    fn all_events() -> Vec<Event> {
        vec![
            Event::StartIdentityCheck,
            Event::IdentityVerified,
            Event::Approve,
            Event::ApprovePartially,
            Event::Deny,
            Event::RequestDenialReview,
            Event::UpholdDenial,
            Event::OverturnDenial,
            Event::Release,
            Event::Deliver,
            Event::Close,
            Event::Cancel,
        ]
    }

    /// Every allowed transition, with the actor that may make it. Everything else is refused.
    const ALLOWED: &[(Status, &str, Actor, Status)] = &[
        (Submitted, "StartIdentityCheck", HimStaff, IdentityCheck),
        (IdentityCheck, "IdentityVerified", HimStaff, InReview),
        (IdentityCheck, "Deny", HimStaff, Denied),
        (InReview, "Approve", HimStaff, Approved),
        (InReview, "ApprovePartially", HimStaff, PartiallyApproved),
        (InReview, "Deny", HimStaff, Denied),
        (Denied, "RequestDenialReview", Requester, DenialUnderReview),
        (DenialUnderReview, "UpholdDenial", Reviewer, Closed),
        (DenialUnderReview, "OverturnDenial", Reviewer, Approved),
        (Approved, "Release", HimStaff, Released),
        (Approved, "Release", System, Released),
        (PartiallyApproved, "Release", HimStaff, Released),
        (PartiallyApproved, "Release", System, Released),
        (Released, "Deliver", System, Delivered),
        (Released, "Deliver", Requester, Delivered),
        (Delivered, "Close", HimStaff, Closed),
        (Delivered, "Close", System, Closed),
        (Denied, "Close", HimStaff, Closed),
        (Denied, "Close", System, Closed),
        (Submitted, "Cancel", Requester, Cancelled),
        (IdentityCheck, "Cancel", Requester, Cancelled),
        (InReview, "Cancel", Requester, Cancelled),
        (Approved, "Cancel", Requester, Cancelled),
        (PartiallyApproved, "Cancel", Requester, Cancelled),
    ];

    fn name(event: Event) -> &'static str {
        match event {
            Event::StartIdentityCheck => "StartIdentityCheck",
            Event::IdentityVerified => "IdentityVerified",
            Event::Approve => "Approve",
            Event::ApprovePartially => "ApprovePartially",
            Event::Deny => "Deny",
            Event::RequestDenialReview => "RequestDenialReview",
            Event::UpholdDenial => "UpholdDenial",
            Event::OverturnDenial => "OverturnDenial",
            Event::Release => "Release",
            Event::Deliver => "Deliver",
            Event::Close => "Close",
            Event::Cancel => "Cancel",
        }
    }

    #[test]
    fn lifecycle_every_status_event_and_actor_is_allowed_or_refused_as_the_table_says() {
        let mut checked = 0;
        for from in Status::ALL {
            for event in all_events() {
                for actor in [Requester, HimStaff, Reviewer, System] {
                    let expected = ALLOWED.iter().find(|(f, e, a, _)| *f == from && *e == name(event) && *a == actor).map(|(_, _, _, to)| *to);
                    let got = transition(from, event, actor, true).ok();
                    assert_eq!(got, expected, "{from:?} --{}--> as {actor:?}", name(event));
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 11 * 12 * 4);
    }

    #[test]
    fn rule_164_524_a_2_non_reviewable_denials_cannot_be_sent_for_review() {
        assert_eq!(transition(Denied, Event::RequestDenialReview, Requester, false), Err(TransitionError::NotReviewable));
        assert!(denial_reviewable(&[DenialGround::DangerToLifeOrSafety, DenialGround::RepresentativeHarm]));
        assert!(!denial_reviewable(&[DenialGround::DangerToLifeOrSafety, DenialGround::PsychotherapyNotes]));
        assert!(!denial_reviewable(&[]));
        let reviewable: Vec<_> = DenialGround::ALL.into_iter().filter(|g| g.reviewable()).collect();
        assert_eq!(reviewable, vec![DenialGround::DangerToLifeOrSafety, DenialGround::ReferencesAnotherPerson, DenialGround::RepresentativeHarm]);
        for g in DenialGround::ALL {
            assert!(g.citation().starts_with("45 CFR 164.524(a)"));
            assert!(!g.plain_language().is_empty());
        }
    }

    #[test]
    fn rule_a_cancelled_or_closed_request_takes_no_further_event() {
        for from in [Cancelled, Closed] {
            assert!(from.is_final());
            for event in all_events() {
                for actor in [Requester, HimStaff, Reviewer, System] {
                    assert!(transition(from, event, actor, true).is_err(), "{from:?} {event:?} {actor:?}");
                }
            }
        }
        // Releasing twice is refused: a released request is not approved any more.
        assert!(transition(Released, Event::Release, HimStaff, true).is_err());
        // A cancelled request cannot be approved.
        assert!(transition(Cancelled, Event::Approve, HimStaff, true).is_err());
    }

    #[test]
    fn rule_164_524_b_2_due_30_days_after_receipt_and_overdue_only_until_acted_on() {
        let clock = Clock::start(day("2026-01-15"), 30).expect("clock");
        assert_eq!(clock.due, day("2026-02-14"));
        assert_eq!(clock.days_left(day("2026-02-10")), 4);
        assert!(!clock.overdue(InReview, day("2026-02-14")), "due on the day itself");
        assert!(clock.overdue(InReview, day("2026-02-15")));
        assert!(clock.overdue(Submitted, day("2026-03-01")));
        assert!(!clock.overdue(Denied, day("2026-03-01")), "a denial is acting on the request");
        assert!(!clock.overdue(Released, day("2026-03-01")));
        // A stricter state's 15 days is a setting.
        assert_eq!(Clock::start(day("2026-01-15"), 15).map(|c| c.due), Some(day("2026-01-30")));
    }

    #[test]
    fn rule_164_524_b_2_iii_one_extension_before_day_30_with_reason_and_new_date() {
        let clock = Clock::start(day("2026-01-15"), 30).expect("clock");
        let extended = clock.extend(InReview, day("2026-02-10"), day("2026-03-16"), "Records are stored off site", 30).expect("allowed");
        assert_eq!(extended.due, day("2026-03-16"));
        assert!(extended.extended);
        assert!(!extended.overdue(InReview, day("2026-03-01")));
        assert_eq!(extended.extend(InReview, day("2026-02-11"), day("2026-03-20"), "again", 30), Err(ExtensionError::AlreadyExtended));
        assert_eq!(clock.extend(InReview, day("2026-02-14"), day("2026-03-01"), "late", 30), Err(ExtensionError::TooLate { due: day("2026-02-14") }));
        assert_eq!(clock.extend(InReview, day("2026-02-01"), day("2026-03-20"), "too far", 30), Err(ExtensionError::BadDate { max_days: 30 }));
        assert_eq!(clock.extend(InReview, day("2026-02-01"), day("2026-02-10"), "earlier", 30), Err(ExtensionError::BadDate { max_days: 30 }));
        assert_eq!(clock.extend(InReview, day("2026-02-01"), day("2026-03-01"), "  ", 30), Err(ExtensionError::NoReason));
        assert_eq!(clock.extend(Approved, day("2026-02-01"), day("2026-03-01"), "why", 30), Err(ExtensionError::AlreadyActedOn));
    }

    #[test]
    fn rule_164_524_c_4_fees_are_capped_for_a_patients_own_electronic_copy() {
        assert_eq!(fee_cents(RecipientKind::Myself, 0, 2500), 0, "default: free to oneself");
        assert_eq!(fee_cents(RecipientKind::Myself, 2000, 2500), MAX_FLAT_ELECTRONIC_FEE_CENTS);
        assert_eq!(fee_cents(RecipientKind::ThirdParty, 0, 2500), 2500);
    }

    fn complete_form() -> AuthorizationForm {
        AuthorizationForm {
            description: "All lab results from 2020".into(),
            recipient_name: "Dr. Ana Gomez".into(),
            recipient_address: "ana.gomez@clinic.example".into(),
            purpose: "At my request".into(),
            expires_on: "2027-01-01".into(),
            expiry_event: String::new(),
            signature_name: "lucas  León".into(),
            consent: true,
            ack_revocation: true,
            ack_no_conditioning: true,
            ack_redisclosure: true,
            representative_authority: None,
        }
    }

    #[test]
    fn rule_164_508_c_a_complete_authorization_is_valid() {
        let auth = complete_form().check(day("2026-11-24"), "Lucas León").expect("valid");
        assert_eq!(auth.signed_on, day("2026-11-24"));
        let mut by_event = complete_form();
        by_event.expires_on = String::new();
        by_event.expiry_event = "When my claim is settled".into();
        assert!(by_event.check(day("2026-11-24"), "Lucas León").is_ok());
    }

    #[test]
    fn rule_164_508_b_2_a_form_missing_any_element_is_refused_naming_it() {
        type Breaker = fn(&mut AuthorizationForm);
        let cases: [(&str, Breaker); 11] = [
            ("description", |f| f.description.clear()),
            ("recipient_name", |f| f.recipient_name = " ".into()),
            ("recipient_address", |f| f.recipient_address.clear()),
            ("purpose", |f| f.purpose.clear()),
            ("expires_on", |f| f.expires_on = "2020-01-01".into()),
            ("signature_name", |f| f.signature_name = "Someone Else".into()),
            ("consent", |f| f.consent = false),
            ("ack_revocation", |f| f.ack_revocation = false),
            ("ack_no_conditioning", |f| f.ack_no_conditioning = false),
            ("ack_redisclosure", |f| f.ack_redisclosure = false),
            ("representative_authority", |f| f.representative_authority = Some(String::new())),
        ];
        for (field, breaker) in cases {
            let mut form = complete_form();
            breaker(&mut form);
            let errors = form.check(day("2026-11-24"), "Lucas León").expect_err(field);
            assert_eq!(errors.iter().map(|e| e.field.as_str()).collect::<Vec<_>>(), vec![field]);
        }
        let mut neither = complete_form();
        neither.expires_on.clear();
        assert!(neither.check(day("2026-11-24"), "Lucas León").is_err(), "an expiry date or event is required");
    }

    #[test]
    fn a_recipient_email_must_be_an_email_and_a_postal_address_is_fine() {
        for bad in ["ana@", "@clinic.example", "ana gomez@clinic.example", "ana@@clinic.example"] {
            let mut form = complete_form();
            form.recipient_address = bad.into();
            let errors = form.check(day("2026-11-24"), "Lucas León").expect_err(bad);
            assert_eq!(errors[0].field, "recipient_address", "{bad}");
            assert!(errors[0].message.contains("not valid"), "{bad}");
        }
        let mut postal = complete_form();
        postal.recipient_address = "12 Harbour Road, Springfield, IL 62701".into();
        assert!(postal.check(day("2026-11-24"), "Lucas León").is_ok());
    }

    #[test]
    fn statuses_round_trip() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
            assert!(!s.label().is_empty());
        }
    }
}

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
    pub status: String,
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

/// The legal bases on which HIM may withhold a sensitive category from a copy, with the text the
/// cover page and the patient read ("Every release records what was left out and why").
pub const WITHHOLD_BASES: [(&str, &str); 7] = [
    ("psychotherapy_notes", "45 CFR 164.524(a)(1)(i): psychotherapy notes are not part of the right of access"),
    ("part2_no_consent", "42 CFR 2.31: no Part 2 consent from the patient covers this release"),
    ("danger_to_life_or_safety", "45 CFR 164.524(a)(3)(i): a licensed professional judged access likely to endanger life or safety"),
    ("references_another_person", "45 CFR 164.524(a)(3)(ii): it refers to another person who could be substantially harmed"),
    ("confidential_source", "45 CFR 164.524(a)(2)(v): obtained from someone else under a promise of confidentiality"),
    ("litigation_preparation", "45 CFR 164.524(a)(1)(ii): compiled for a legal proceeding"),
    ("limited_representative", "45 CFR 164.502(g)(3): outside a limited personal representative's access (a minor's own care, or the scope the patient granted)"),
];

/// The text of a withholding basis, or `None` for an unknown code.
pub fn withhold_basis(code: &str) -> Option<&'static str> {
    WITHHOLD_BASES.iter().find(|(c, _)| *c == code).map(|(_, text)| *text)
}

/// A sensitive category left out of a release, and why (stored with the decision).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Withheld {
    /// A sensitive-category code (`mental_health`, `substance_use`, ...).
    pub category: String,
    /// A `WITHHOLD_BASES` code.
    pub basis: String,
}

/// What HIM decided in review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DecisionKind {
    Approve,
    ApprovePartially,
    Deny,
}

/// A checked decision, ready to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub kind: DecisionKind,
    pub withheld: Vec<Withheld>,
    pub grounds: Vec<DenialGround>,
    pub note: Option<String>,
}

impl Decision {
    /// Checks a decision as the review form sends it: a partial approval withholds something,
    /// each withheld category has a known basis, a denial names its ground (164.524(d)(2)(i)).
    /// Psychotherapy notes are withheld from every release without asking (164.524(a)(1)(i)).
    pub fn check(kind: DecisionKind, withheld: Vec<(String, String)>, ground: Option<&str>, note: Option<String>) -> Result<Decision, Vec<crate::error::FieldError>> {
        let mut errors = Vec::new();
        let mut fail = |field: &str, message: String| errors.push(crate::error::FieldError { field: field.into(), message });
        let mut out = Vec::new();
        for (category, basis) in withheld {
            if basis.is_empty() {
                continue;
            }
            if withhold_basis(&basis).is_none() {
                fail(&category, "Choose a legal basis from the list.".into());
            } else if !out.iter().any(|w: &Withheld| w.category == category) {
                out.push(Withheld { category, basis });
            }
        }
        let grounds = match (kind, ground.map(str::trim).filter(|g| !g.is_empty())) {
            (DecisionKind::Deny, None) => {
                fail("ground", "A denial must state its ground (45 CFR 164.524(d)(2)(i)).".into());
                Vec::new()
            }
            (DecisionKind::Deny, Some(g)) => match DenialGround::parse(g) {
                Some(g) => vec![g],
                None => {
                    fail("ground", "Choose a ground from the list.".into());
                    Vec::new()
                }
            },
            _ => Vec::new(),
        };
        if kind == DecisionKind::ApprovePartially && out.is_empty() {
            fail("withheld", "A partial approval withholds at least one category; otherwise approve.".into());
        }
        if kind == DecisionKind::Approve && !out.is_empty() {
            fail("withheld", "Withholding part of the record is a partial approval.".into());
        }
        let note = note.map(|n| n.trim().chars().take(2000).collect::<String>()).filter(|n| !n.is_empty());
        if errors.is_empty() { Ok(Decision { kind, withheld: out, grounds, note }) } else { Err(errors) }
    }
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

/// A checked request for a copy to oneself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewRequest {
    pub scope: Scope,
    pub formats: Formats,
}

impl RequestForm {
    /// Checks the scope (known sections, or the whole record), the dates (real, not in the
    /// future, from not after to) and that at least one format is chosen.
    pub fn check(&self, today: IsoDate) -> Result<NewRequest, Vec<crate::error::FieldError>> {
        let mut errors = Vec::new();
        let mut fail = |field: &str, message: &str| errors.push(crate::error::FieldError { field: field.into(), message: message.into() });
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

#[cfg(test)]
mod request_form_tests {
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
}

#[cfg(test)]
mod decision_tests {
    use super::*;

    fn w(category: &str, basis: &str) -> (String, String) {
        (category.into(), basis.into())
    }

    #[test]
    fn an_approval_withholds_nothing_and_a_partial_one_withholds_something() {
        let ok = Decision::check(DecisionKind::Approve, vec![w("mental_health", "")], None, Some("  fine ".into())).expect("approve");
        assert!(ok.withheld.is_empty());
        assert_eq!(ok.note.as_deref(), Some("fine"));
        let refused = Decision::check(DecisionKind::Approve, vec![w("mental_health", "part2_no_consent")], None, None).expect_err("withholding is partial");
        assert_eq!(refused[0].field, "withheld");
        let refused = Decision::check(DecisionKind::ApprovePartially, vec![w("genetic", "")], None, None).expect_err("nothing withheld");
        assert_eq!(refused[0].field, "withheld");
        let partial = Decision::check(DecisionKind::ApprovePartially, vec![w("substance_use", "part2_no_consent"), w("genetic", "")], None, None).expect("partial");
        assert_eq!(partial.withheld, vec![Withheld { category: "substance_use".into(), basis: "part2_no_consent".into() }]);
    }

    #[test]
    fn every_withheld_category_needs_a_known_basis() {
        let refused = Decision::check(DecisionKind::ApprovePartially, vec![w("hiv_sti", "because")], None, None).expect_err("unknown basis");
        assert_eq!(refused[0].field, "hiv_sti");
        for (code, text) in WITHHOLD_BASES {
            assert_eq!(withhold_basis(code), Some(text));
            assert!(text.contains("CFR"), "each basis cites its rule: {text}");
        }
    }

    #[test]
    fn a_denial_states_one_known_ground() {
        // 45 CFR 164.524(d)(2)(i): the letter states the basis.
        let refused = Decision::check(DecisionKind::Deny, vec![], None, None).expect_err("no ground");
        assert_eq!(refused[0].field, "ground");
        assert_eq!(Decision::check(DecisionKind::Deny, vec![], Some("whim"), None).expect_err("unknown")[0].field, "ground");
        for g in DenialGround::ALL {
            let d = Decision::check(DecisionKind::Deny, vec![], Some(g.code()), None).expect("denial");
            assert_eq!(d.grounds, vec![g]);
            assert_eq!(DenialGround::parse(g.code()), Some(g));
        }
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
}

/// One in-portal message about a request (no health information: the number and the status).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationView {
    pub message: String,
    pub at: String,
    pub request_id: Option<String>,
    pub unread: bool,
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

/// The earliest date of an accounting: six years before `today` (164.528(a)).
pub fn accounting_start(today: IsoDate) -> IsoDate {
    // 2192 days is six years of which at most two are leap years: the start is never later
    // than six years back.
    today.add_days(-2192).unwrap_or(today)
}

#[cfg(test)]
mod accounting_tests {
    use super::*;

    #[test]
    fn rule_164_528_a_the_accounting_covers_six_years() {
        let today = IsoDate::parse("2026-11-24").unwrap_or_else(|_| unreachable!());
        let start = accounting_start(today);
        assert_eq!(start.to_string(), "2020-11-23", "six years back (and one day: never short of six years)");
        assert!(start.days_until(today) > 6 * 365);
    }
}
