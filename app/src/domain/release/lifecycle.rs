//! The lifecycle of a request for a copy as a typed state machine: where a request stands, who
//! may move it and how (DOMAIN.md, "Release of information"). Pure: the service layer records
//! each transition with its actor, time and note.

crate::domain::text_enum! {
    /// Where a request stands.
    pub enum Status {
        Submitted = "submitted",
        /// HIM verifies the requester's identity and, for a representative, their authority.
        IdentityCheck = "identity_check",
        /// HIM reviews the scope: what is included, what is excluded and on what basis.
        InReview = "in_review",
        Approved = "approved",
        /// Some of the record is withheld on a denial ground; the rest must still be released
        /// (164.524(d)(2)).
        PartiallyApproved = "partially_approved",
        Denied = "denied",
        /// A reviewable denial sent by the requester to a licensed reviewer (164.524(a)(4), (d)(4)).
        DenialUnderReview = "denial_under_review",
        /// The copy is produced and ready.
        Released = "released",
        /// Downloaded, or the third party opened its link.
        Delivered = "delivered",
        Closed = "closed",
        /// Withdrawn by the requester before release.
        Cancelled = "cancelled",
    }
}

impl Status {
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

    /// The legal clock has stopped: the copy is made available (released, delivered) or the
    /// denial is sent, or the request is withdrawn. Approving is not providing: an approved
    /// request whose copy is not yet made is still running late (45 CFR 164.524(b)(2)).
    pub fn clock_stopped(self) -> bool {
        !Self::CLOCK_RUNNING.contains(&self)
    }

    /// The statuses in which the clock runs (the queue's overdue filter uses the same list).
    pub const CLOCK_RUNNING: [Status; 5] = [Status::Submitted, Status::IdentityCheck, Status::InReview, Status::Approved, Status::PartiallyApproved];

    /// Nothing more can happen.
    pub fn is_final(self) -> bool {
        matches!(self, Status::Closed | Status::Cancelled)
    }
}

crate::domain::text_enum! {
    /// Who causes a transition.
    pub enum Actor {
        /// The patient, or a caregiver acting for them.
        Requester = "requester",
        HimStaff = "him_staff",
        /// A licensed reviewer who took no part in the denial.
        Reviewer = "reviewer",
        /// The portal itself (the copy is produced, a link is opened).
        System = "system",
    }
}

crate::domain::text_enum! {
    /// What happens to a request (the names are what forms post).
    pub enum Event {
        StartIdentityCheck = "start_identity_check",
        IdentityVerified = "identity_verified",
        Approve = "approve",
        ApprovePartially = "approve_partially",
        Deny = "deny",
        RequestDenialReview = "request_denial_review",
        /// The reviewer upholds the denial.
        UpholdDenial = "uphold_denial",
        /// The reviewer overturns it: the copy is released after all.
        OverturnDenial = "overturn_denial",
        /// The copy is produced.
        Release = "release",
        /// Downloaded, or the recipient's link opened.
        Deliver = "deliver",
        Close = "close",
        Cancel = "cancel",
    }
}

/// The steps HIM staff take by a plain button (decisions and releases have their own forms),
/// with the button's text.
const STAFF_STEPS: [(Event, &str); 3] =
    [(Event::StartIdentityCheck, "Start the identity check"), (Event::IdentityVerified, "Identity verified"), (Event::Close, "Close")];

impl Status {
    /// The plain-button steps HIM staff may take from here, as [`transition`] allows them.
    pub fn staff_steps(self) -> Vec<(Event, &'static str)> {
        STAFF_STEPS.into_iter().filter(|(event, _)| transition(self, *event, Actor::HimStaff, false).is_ok()).collect()
    }
}

/// Whether `event` is taken with the plain step form (`advance_request`): the requester's
/// cancel, or one of HIM's plain steps.
pub fn is_plain_step(event: Event) -> bool {
    event == Event::Cancel || STAFF_STEPS.iter().any(|(e, _)| *e == event)
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::release::denial::{DenialGround, denial_reviewable};
    use Actor::*;
    use Status::*;

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
    fn statuses_round_trip() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
            assert!(!s.label().is_empty());
        }
    }

    #[test]
    fn staff_steps_follow_the_transition_table() {
        assert_eq!(Submitted.staff_steps().iter().map(|(e, _)| *e).collect::<Vec<_>>(), vec![Event::StartIdentityCheck]);
        assert_eq!(IdentityCheck.staff_steps().iter().map(|(e, _)| *e).collect::<Vec<_>>(), vec![Event::IdentityVerified]);
        assert_eq!(Delivered.staff_steps().iter().map(|(e, _)| *e).collect::<Vec<_>>(), vec![Event::Close]);
        assert_eq!(Denied.staff_steps().iter().map(|(e, _)| *e).collect::<Vec<_>>(), vec![Event::Close]);
        assert!(InReview.staff_steps().is_empty() && Approved.staff_steps().is_empty() && Closed.staff_steps().is_empty());
        assert!(is_plain_step(Event::Cancel) && is_plain_step(Event::Close) && !is_plain_step(Event::Approve));
    }
}
