//! The one authorization policy: a pure function from (who, what, on what, under which grants) to
//! allow or deny. No I/O, so it is tested exhaustively by tables. Deny by default: an action or
//! target that no rule names is refused (ONC 170.315(d)(1): access by role).
//!
//! Minimum necessary (45 CFR 164.502(b)): administrators manage accounts and read the audit trail
//! but get no access to clinical records through that role alone.

use crate::domain::Role;
use crate::domain::caregiver::{AgeBand, GrantKind, GrantScope, ViewScope, effective_scope};
use std::collections::BTreeSet;

/// Who is asking: a signed-in user with their roles and, for a patient, their own record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub user_id: String,
    pub roles: BTreeSet<Role>,
    /// The patient record this user is (set only once HIM staff verified the identity).
    pub patient_id: Option<String>,
}

impl Principal {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

/// What they want to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Read a patient's record (demographics now; clinical data later).
    ReadPatientRecord,
    /// Search the patient registry.
    SearchPatients,
    /// Create a patient record by hand.
    CreatePatient,
    /// Issue an activation code for a patient record.
    IssueActivationCode,
    /// Verify a self-registered account's identity and link it to a record.
    VerifyIdentity,
    /// Create users, grant and revoke roles.
    ManageUsers,
    /// Read the audit report and export it.
    ReadAuditReport,
    /// Decide a reviewable denial (45 CFR 164.524(a)(4): a licensed reviewer).
    DecideReviewableDenial,
    /// Import FHIR files (the upload page; the command line runs as the system).
    ImportRecords,
    /// Work the list of possible duplicate patient records.
    ReviewDuplicates,
    /// Ask for a copy of a record (45 CFR 164.524): the patient for themselves.
    RequestCopy,
    /// Work the release-of-information queue.
    WorkRequests,
    /// Read the parts of a record a limited proxy may not see: notes, sensitive categories, items
    /// marked adolescent-confidential (45 CFR 164.502(g)(3); DOMAIN.md, personal representatives).
    ReadSensitive,
    /// See a patient's copy requests and follow them.
    TrackRequests,
    /// Invite, revoke and list a patient's caregivers: the patient alone. A caregiver never
    /// grants access onward.
    ManageCaregivers,
    /// Verify representatives' documents and approve, refuse or end them (HIM staff).
    VerifyRepresentatives,
    /// Set the fee schedule for copies (administrators; the state's cap is a setting).
    SetFees,
    /// Assign and reassign requests to colleagues, and read the desk's dashboard (HIM leads).
    LeadDesk,
    /// Edit the site's segmentation rules: what marks psychotherapy notes, which programs are
    /// Part 2 (administrators; every record is re-tagged with the change).
    SetSegmentRules,
}

impl Action {
    pub const ALL: [Action; 19] = [
        Action::ReadPatientRecord,
        Action::SearchPatients,
        Action::CreatePatient,
        Action::IssueActivationCode,
        Action::VerifyIdentity,
        Action::ManageUsers,
        Action::ReadAuditReport,
        Action::DecideReviewableDenial,
        Action::ImportRecords,
        Action::ReviewDuplicates,
        Action::RequestCopy,
        Action::WorkRequests,
        Action::ReadSensitive,
        Action::TrackRequests,
        Action::ManageCaregivers,
        Action::VerifyRepresentatives,
        Action::SetFees,
        Action::LeadDesk,
        Action::SetSegmentRules,
    ];
}

/// What it is done to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a> {
    /// One patient's data, by internal id.
    Patient(&'a str),
    /// The portal as a whole (registry, users, audit trail).
    Site,
}

/// A caregiver's access to another patient, granted by the patient or established by HIM.
/// Callers pass only grants that are in force now (not revoked, not expired); the age band is
/// the patient's today, so the age rules apply on every request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub patient_id: String,
    pub kind: GrantKind,
    pub scope: GrantScope,
    pub band: AgeBand,
}

impl Grant {
    /// What this grant allows today.
    pub fn effective(&self) -> Option<GrantScope> {
        effective_scope(self.kind, self.scope, self.band)
    }
}

/// What all of a caregiver's grants for `patient` allow together; `None` without the caregiver
/// role (a grant means nothing without it) or without a grant in force.
pub fn proxy_scope(principal: &Principal, patient: &str, grants: &[Grant]) -> Option<GrantScope> {
    if !principal.has(Role::Caregiver) {
        return None;
    }
    grants.iter().filter(|g| g.patient_id == patient).filter_map(Grant::effective).reduce(|a, b| GrantScope {
        view: a.view.max(b.view),
        request_copies: a.request_copies || b.request_copies,
        track_requests: a.track_requests || b.track_requests,
    })
}

/// What ties the person to the target patient beyond their roles, read from the database on
/// every check: their caregiver grants in force, and whether a denial of that patient's request
/// is waiting for review (a reviewer reads what they review, nothing else).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Relations {
    pub grants: Vec<Grant>,
    pub reviewing: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny,
}

/// Decides one request. Every `Allow` is a rule below; everything else is `Deny`.
pub fn decide(principal: &Principal, action: Action, target: Target<'_>, relations: &Relations) -> Decision {
    use Action::*;
    let grants = relations.grants.as_slice();
    let staff = principal.has(Role::HimStaff);
    // 45 CFR 164.514(d) minimum necessary: a licensed reviewer reads a record only while a
    // denial of that patient's request waits for review (45 CFR 164.524(a)(4)).
    let reviewer = principal.has(Role::HimReviewer) && relations.reviewing;
    let own = |patient: &str| principal.has(Role::Patient) && principal.patient_id.as_deref() == Some(patient);
    let proxy = |patient: &str| proxy_scope(principal, patient, grants);
    let allowed = match (action, target) {
        // HIM staff read records to verify identity and process releases; reviewers read what
        // they review (`reviewer` above is only true while a review waits).
        (ReadPatientRecord, Target::Patient(patient)) => own(patient) || proxy(patient).is_some() || staff || reviewer,
        // A limited proxy sees no notes and no sensitive categories (DOMAIN.md).
        (ReadSensitive, Target::Patient(patient)) => {
            own(patient) || proxy(patient).is_some_and(|s| s.view == ViewScope::Full) || staff || reviewer
        }
        (TrackRequests, Target::Patient(patient)) => own(patient) || proxy(patient).is_some_and(|s| s.track_requests) || staff || reviewer,
        (IssueActivationCode, Target::Patient(_)) => staff,
        // 45 CFR 164.502(g): a personal representative exercises the patient's right of access.
        (RequestCopy, Target::Patient(patient)) => own(patient) || proxy(patient).is_some_and(|s| s.request_copies),
        (ManageCaregivers, Target::Patient(patient)) => own(patient),
        (VerifyRepresentatives, Target::Site) => staff,
        (SetFees | SetSegmentRules, Target::Site) => principal.has(Role::Administrator),
        // A lead is HIM staff too: assigning work needs both.
        (LeadDesk, Target::Site) => staff && principal.has(Role::HimLead),
        (WorkRequests, Target::Site) => staff,
        (SearchPatients | CreatePatient | VerifyIdentity | ReviewDuplicates, Target::Site) => staff,
        // The issue names both: HIM staff load records, administrators load them at set-up. The
        // upload page shows counts and the record number, not the record.
        (ImportRecords, Target::Site) => staff || principal.has(Role::Administrator),
        (ManageUsers | ReadAuditReport, Target::Site) => principal.has(Role::Administrator),
        (DecideReviewableDenial, Target::Patient(_)) => reviewer,
        _ => false,
    };
    if allowed { Decision::Allow } else { Decision::Deny }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Action::*;
    use Decision::*;

    /// The policy with caregiver grants only (no review waiting).
    fn decide(principal: &Principal, action: Action, target: Target<'_>, grants: &[Grant]) -> Decision {
        super::decide(principal, action, target, &Relations { grants: grants.to_vec(), reviewing: false })
    }

    const OWN: &str = "patient-own";
    const OTHER: &str = "patient-other";

    fn principal(roles: &[Role]) -> Principal {
        Principal {
            user_id: "user-1".into(),
            roles: roles.iter().copied().collect(),
            patient_id: roles.contains(&Role::Patient).then(|| OWN.to_string()),
        }
    }

    /// Expected decisions for one role: (action, own patient, other patient, site).
    type Row = (Action, Decision, Decision, Decision);

    fn check(roles: &[Role], grants: &[Grant], table: &[Row]) {
        let p = principal(roles);
        assert_eq!(table.len(), Action::ALL.len(), "every action has a row for {roles:?}");
        for &(action, own, other, site) in table {
            assert_eq!(decide(&p, action, Target::Patient(OWN), grants), own, "{roles:?} {action:?} own");
            assert_eq!(decide(&p, action, Target::Patient(OTHER), grants), other, "{roles:?} {action:?} other");
            assert_eq!(decide(&p, action, Target::Site, grants), site, "{roles:?} {action:?} site");
        }
    }

    #[test]
    fn a_patient_reads_only_their_own_record() {
        check(&[Role::Patient], &[], &[
            (ReadPatientRecord, Allow, Deny, Deny),
            (SearchPatients, Deny, Deny, Deny),
            (CreatePatient, Deny, Deny, Deny),
            (IssueActivationCode, Deny, Deny, Deny),
            (VerifyIdentity, Deny, Deny, Deny),
            (ManageUsers, Deny, Deny, Deny),
            (ReadAuditReport, Deny, Deny, Deny),
            (DecideReviewableDenial, Deny, Deny, Deny),
            (ImportRecords, Deny, Deny, Deny),
            (ReviewDuplicates, Deny, Deny, Deny),
            (RequestCopy, Allow, Deny, Deny),
            (WorkRequests, Deny, Deny, Deny),
            (ReadSensitive, Allow, Deny, Deny),
            (TrackRequests, Allow, Deny, Deny),
            (ManageCaregivers, Allow, Deny, Deny),
            (VerifyRepresentatives, Deny, Deny, Deny),
            (SetFees, Deny, Deny, Deny),
            (SetSegmentRules, Deny, Deny, Deny),
            (LeadDesk, Deny, Deny, Deny),
        ]);
    }

    fn grant(patient: &str, kind: GrantKind, scope: GrantScope, band: AgeBand) -> Grant {
        Grant { patient_id: patient.into(), kind, scope, band }
    }

    #[test]
    fn a_caregiver_acts_only_for_granted_patients() {
        let grants = [grant(OTHER, GrantKind::Guardian, GrantScope::FULL, AgeBand::Adult)];
        // "own" is not granted here: a caregiver without the patient role has no own record.
        check(&[Role::Caregiver], &grants, &[
            (ReadPatientRecord, Deny, Allow, Deny),
            (SearchPatients, Deny, Deny, Deny),
            (CreatePatient, Deny, Deny, Deny),
            (IssueActivationCode, Deny, Deny, Deny),
            (VerifyIdentity, Deny, Deny, Deny),
            (ManageUsers, Deny, Deny, Deny),
            (ReadAuditReport, Deny, Deny, Deny),
            (DecideReviewableDenial, Deny, Deny, Deny),
            (ImportRecords, Deny, Deny, Deny),
            (ReviewDuplicates, Deny, Deny, Deny),
            (RequestCopy, Deny, Allow, Deny),
            (WorkRequests, Deny, Deny, Deny),
            (ReadSensitive, Deny, Allow, Deny),
            (TrackRequests, Deny, Allow, Deny),
            // Never onward: only the patient manages who sees their record.
            (ManageCaregivers, Deny, Deny, Deny),
            (VerifyRepresentatives, Deny, Deny, Deny),
            (SetFees, Deny, Deny, Deny),
            (SetSegmentRules, Deny, Deny, Deny),
            (LeadDesk, Deny, Deny, Deny),
        ]);
        check(&[Role::Caregiver], &[], &[
            (ReadPatientRecord, Deny, Deny, Deny),
            (SearchPatients, Deny, Deny, Deny),
            (CreatePatient, Deny, Deny, Deny),
            (IssueActivationCode, Deny, Deny, Deny),
            (VerifyIdentity, Deny, Deny, Deny),
            (ManageUsers, Deny, Deny, Deny),
            (ReadAuditReport, Deny, Deny, Deny),
            (DecideReviewableDenial, Deny, Deny, Deny),
            (ImportRecords, Deny, Deny, Deny),
            (ReviewDuplicates, Deny, Deny, Deny),
            (RequestCopy, Deny, Deny, Deny),
            (WorkRequests, Deny, Deny, Deny),
            (ReadSensitive, Deny, Deny, Deny),
            (TrackRequests, Deny, Deny, Deny),
            (ManageCaregivers, Deny, Deny, Deny),
            (VerifyRepresentatives, Deny, Deny, Deny),
            (SetFees, Deny, Deny, Deny),
            (SetSegmentRules, Deny, Deny, Deny),
            (LeadDesk, Deny, Deny, Deny),
        ]);
    }

    /// What a grant allows today, by kind and age band (DOMAIN.md, personal representatives):
    /// `Some(true)` the granted scope, `Some(false)` at most the limited view, `None` nothing.
    const AGE_TABLE: [(GrantKind, AgeBand, Option<bool>); 15] = [
        (GrantKind::ParentOfMinor, AgeBand::Child, Some(true)),
        (GrantKind::ParentOfMinor, AgeBand::Adolescent, Some(false)),
        (GrantKind::ParentOfMinor, AgeBand::Adult, None),
        (GrantKind::Invitation, AgeBand::Child, Some(true)),
        (GrantKind::Invitation, AgeBand::Adolescent, Some(true)),
        (GrantKind::Invitation, AgeBand::Adult, Some(true)),
        (GrantKind::Guardian, AgeBand::Child, Some(true)),
        (GrantKind::Guardian, AgeBand::Adolescent, Some(true)),
        (GrantKind::Guardian, AgeBand::Adult, Some(true)),
        (GrantKind::PowerOfAttorney, AgeBand::Child, Some(true)),
        (GrantKind::PowerOfAttorney, AgeBand::Adolescent, Some(true)),
        (GrantKind::PowerOfAttorney, AgeBand::Adult, Some(true)),
        (GrantKind::Executor, AgeBand::Child, Some(true)),
        (GrantKind::Executor, AgeBand::Adolescent, Some(true)),
        (GrantKind::Executor, AgeBand::Adult, Some(true)),
    ];

    #[test]
    fn every_grant_kind_scope_and_age_band_decides_every_action() {
        let p = principal(&[Role::Caregiver]);
        let mut cases = 0;
        for (kind, band, rule) in AGE_TABLE {
            for scope in GrantScope::all() {
                let grants = [grant(OTHER, kind, scope, band)];
                for action in Action::ALL {
                    // The expected answer, from the table and the scope alone.
                    let expected = match (rule, action) {
                        (None, _) => false,
                        (Some(_), ReadPatientRecord) => true,
                        (Some(keeps_view), ReadSensitive) => keeps_view && scope.view == ViewScope::Full,
                        (Some(_), RequestCopy) => scope.request_copies,
                        (Some(_), TrackRequests) => scope.track_requests,
                        (Some(_), _) => false,
                    };
                    let expected = if expected { Allow } else { Deny };
                    assert_eq!(decide(&p, action, Target::Patient(OTHER), &grants), expected, "{kind:?} {band:?} {scope:?} {action:?}");
                    // Nothing for anyone else, nothing site-wide.
                    assert_eq!(decide(&p, action, Target::Patient(OWN), &grants), Deny, "{kind:?} {band:?} {scope:?} {action:?} other patient");
                    assert_eq!(decide(&p, action, Target::Site, &grants), Deny, "{kind:?} {band:?} {scope:?} {action:?} site");
                    cases += 1;
                }
            }
        }
        assert_eq!(cases, GrantKind::ALL.len() * AgeBand::ALL.len() * GrantScope::all().len() * Action::ALL.len());
    }

    #[test]
    fn several_grants_for_one_patient_add_up() {
        let p = principal(&[Role::Caregiver]);
        let limited = GrantScope { view: ViewScope::Limited, request_copies: false, track_requests: true };
        let copies = GrantScope { view: ViewScope::Limited, request_copies: true, track_requests: false };
        let grants = [grant(OTHER, GrantKind::Invitation, limited, AgeBand::Adult), grant(OTHER, GrantKind::PowerOfAttorney, copies, AgeBand::Adult)];
        assert_eq!(decide(&p, RequestCopy, Target::Patient(OTHER), &grants), Allow);
        assert_eq!(decide(&p, TrackRequests, Target::Patient(OTHER), &grants), Allow);
        assert_eq!(decide(&p, ReadSensitive, Target::Patient(OTHER), &grants), Deny);
    }

    #[test]
    fn grants_mean_nothing_without_the_caregiver_role() {
        let grants = [grant(OTHER, GrantKind::Guardian, GrantScope::FULL, AgeBand::Adult)];
        let p = principal(&[Role::Patient]);
        for action in Action::ALL {
            assert_eq!(decide(&p, action, Target::Patient(OTHER), &grants), Deny, "{action:?}");
        }
    }

    #[test]
    fn him_staff_work_the_registry() {
        check(&[Role::HimStaff], &[], &[
            (ReadPatientRecord, Allow, Allow, Deny),
            (SearchPatients, Deny, Deny, Allow),
            (CreatePatient, Deny, Deny, Allow),
            (IssueActivationCode, Allow, Allow, Deny),
            (VerifyIdentity, Deny, Deny, Allow),
            (ManageUsers, Deny, Deny, Deny),
            (ReadAuditReport, Deny, Deny, Deny),
            (DecideReviewableDenial, Deny, Deny, Deny),
            (ImportRecords, Deny, Deny, Allow),
            (ReviewDuplicates, Deny, Deny, Allow),
            (RequestCopy, Deny, Deny, Deny),
            (WorkRequests, Deny, Deny, Allow),
            (ReadSensitive, Allow, Allow, Deny),
            (TrackRequests, Allow, Allow, Deny),
            (ManageCaregivers, Deny, Deny, Deny),
            (VerifyRepresentatives, Deny, Deny, Allow),
            (SetFees, Deny, Deny, Deny),
            (SetSegmentRules, Deny, Deny, Deny),
            (LeadDesk, Deny, Deny, Deny),
        ]);
    }

    #[test]
    fn reviewers_read_and_decide_reviews_only() {
        check(&[Role::HimReviewer], &[], &[
            (ReadPatientRecord, Deny, Deny, Deny),
            (SearchPatients, Deny, Deny, Deny),
            (CreatePatient, Deny, Deny, Deny),
            (IssueActivationCode, Deny, Deny, Deny),
            (VerifyIdentity, Deny, Deny, Deny),
            (ManageUsers, Deny, Deny, Deny),
            (ReadAuditReport, Deny, Deny, Deny),
            (DecideReviewableDenial, Deny, Deny, Deny),
            (ImportRecords, Deny, Deny, Deny),
            (ReviewDuplicates, Deny, Deny, Deny),
            (RequestCopy, Deny, Deny, Deny),
            (WorkRequests, Deny, Deny, Deny),
            (ReadSensitive, Deny, Deny, Deny),
            (TrackRequests, Deny, Deny, Deny),
            (ManageCaregivers, Deny, Deny, Deny),
            (VerifyRepresentatives, Deny, Deny, Deny),
            (SetFees, Deny, Deny, Deny),
            (SetSegmentRules, Deny, Deny, Deny),
            (LeadDesk, Deny, Deny, Deny),
        ]);
        // While a denial of the patient's request waits for review: that record, and deciding.
        let p = principal(&[Role::HimReviewer]);
        let reviewing = Relations { grants: Vec::new(), reviewing: true };
        for action in Action::ALL {
            let expected = if matches!(action, ReadPatientRecord | ReadSensitive | TrackRequests | DecideReviewableDenial) { Allow } else { Deny };
            assert_eq!(super::decide(&p, action, Target::Patient(OTHER), &reviewing), expected, "{action:?}");
            assert_eq!(super::decide(&p, action, Target::Site, &reviewing), Deny, "{action:?} site");
        }
        // Staff without the reviewer role never decide a review, whatever waits.
        assert_eq!(super::decide(&principal(&[Role::HimStaff]), DecideReviewableDenial, Target::Patient(OTHER), &reviewing), Deny);
    }

    #[test]
    fn administrators_manage_accounts_but_read_no_records() {
        check(&[Role::Administrator], &[], &[
            (ReadPatientRecord, Deny, Deny, Deny),
            (SearchPatients, Deny, Deny, Deny),
            (CreatePatient, Deny, Deny, Deny),
            (IssueActivationCode, Deny, Deny, Deny),
            (VerifyIdentity, Deny, Deny, Deny),
            (ManageUsers, Deny, Deny, Allow),
            (ReadAuditReport, Deny, Deny, Allow),
            (DecideReviewableDenial, Deny, Deny, Deny),
            (ImportRecords, Deny, Deny, Allow),
            (ReviewDuplicates, Deny, Deny, Deny),
            (RequestCopy, Deny, Deny, Deny),
            (WorkRequests, Deny, Deny, Deny),
            (ReadSensitive, Deny, Deny, Deny),
            (TrackRequests, Deny, Deny, Deny),
            (ManageCaregivers, Deny, Deny, Deny),
            (VerifyRepresentatives, Deny, Deny, Deny),
            (SetFees, Deny, Deny, Allow),
            (SetSegmentRules, Deny, Deny, Allow),
            (LeadDesk, Deny, Deny, Deny),
        ]);
    }

    #[test]
    fn a_user_with_no_roles_gets_nothing() {
        // A self-registered account before HIM verified it.
        check(&[], &[], &[
            (ReadPatientRecord, Deny, Deny, Deny),
            (SearchPatients, Deny, Deny, Deny),
            (CreatePatient, Deny, Deny, Deny),
            (IssueActivationCode, Deny, Deny, Deny),
            (VerifyIdentity, Deny, Deny, Deny),
            (ManageUsers, Deny, Deny, Deny),
            (ReadAuditReport, Deny, Deny, Deny),
            (DecideReviewableDenial, Deny, Deny, Deny),
            (ImportRecords, Deny, Deny, Deny),
            (ReviewDuplicates, Deny, Deny, Deny),
            (RequestCopy, Deny, Deny, Deny),
            (WorkRequests, Deny, Deny, Deny),
            (ReadSensitive, Deny, Deny, Deny),
            (TrackRequests, Deny, Deny, Deny),
            (ManageCaregivers, Deny, Deny, Deny),
            (VerifyRepresentatives, Deny, Deny, Deny),
            (SetFees, Deny, Deny, Deny),
            (SetSegmentRules, Deny, Deny, Deny),
            (LeadDesk, Deny, Deny, Deny),
        ]);
    }

    #[test]
    fn roles_combine() {
        let p = principal(&[Role::Patient, Role::Administrator]);
        assert_eq!(decide(&p, ReadPatientRecord, Target::Patient(OWN), &[]), Allow);
        assert_eq!(decide(&p, ReadPatientRecord, Target::Patient(OTHER), &[]), Deny);
        assert_eq!(decide(&p, ManageUsers, Target::Site, &[]), Allow);
    }

    #[test]
    fn the_patient_role_without_a_linked_record_reads_nothing() {
        let mut p = principal(&[Role::Patient]);
        p.patient_id = None;
        assert_eq!(decide(&p, ReadPatientRecord, Target::Patient(OWN), &[]), Deny);
    }
}
