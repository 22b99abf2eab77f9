//! The one authorization policy: a pure function from (who, what, on what, under which grants) to
//! allow or deny. No I/O, so it is tested exhaustively by tables. Deny by default: an action or
//! target that no rule names is refused (ONC 170.315(d)(1): access by role).
//!
//! Minimum necessary (45 CFR 164.502(b)): administrators manage accounts and read the audit trail
//! but get no access to clinical records through that role alone.

use crate::domain::Role;
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
}

impl Action {
    pub const ALL: [Action; 12] = [
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

/// A caregiver's access to another patient (granted by the patient or HIM; a later feature).
/// Callers pass only grants that are in force now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    pub patient_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny,
}

/// Decides one request. Every `Allow` is a rule below; everything else is `Deny`.
pub fn decide(principal: &Principal, action: Action, target: Target<'_>, grants: &[Grant]) -> Decision {
    use Action::*;
    let staff = principal.has(Role::HimStaff);
    let allowed = match (action, target) {
        (ReadPatientRecord, Target::Patient(patient)) => {
            let own = principal.has(Role::Patient) && principal.patient_id.as_deref() == Some(patient);
            let proxy = principal.has(Role::Caregiver) && grants.iter().any(|g| g.patient_id == patient);
            // HIM staff read records to verify identity and process releases; reviewers read
            // what they review.
            own || proxy || staff || principal.has(Role::HimReviewer)
        }
        (IssueActivationCode, Target::Patient(_)) => staff,
        // Caregivers ask on a patient's behalf through their grants (a later feature).
        (RequestCopy, Target::Patient(patient)) => principal.has(Role::Patient) && principal.patient_id.as_deref() == Some(patient),
        (WorkRequests, Target::Site) => staff,
        (SearchPatients | CreatePatient | VerifyIdentity | ReviewDuplicates, Target::Site) => staff,
        // The issue names both: HIM staff load records, administrators load them at set-up. The
        // upload page shows counts and the record number, not the record.
        (ImportRecords, Target::Site) => staff || principal.has(Role::Administrator),
        (ManageUsers | ReadAuditReport, Target::Site) => principal.has(Role::Administrator),
        (DecideReviewableDenial, Target::Patient(_)) => principal.has(Role::HimReviewer),
        _ => false,
    };
    if allowed { Decision::Allow } else { Decision::Deny }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Action::*;
    use Decision::*;

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
        ]);
    }

    #[test]
    fn a_caregiver_reads_only_granted_patients() {
        let grants = [Grant { patient_id: OTHER.into() }];
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
            (RequestCopy, Deny, Deny, Deny),
            (WorkRequests, Deny, Deny, Deny),
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
        ]);
    }

    #[test]
    fn grants_mean_nothing_without_the_caregiver_role() {
        let grants = [Grant { patient_id: OTHER.into() }];
        let p = principal(&[Role::Patient]);
        assert_eq!(decide(&p, ReadPatientRecord, Target::Patient(OTHER), &grants), Deny);
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
        ]);
    }

    #[test]
    fn reviewers_read_and_decide_reviews_only() {
        check(&[Role::HimReviewer], &[], &[
            (ReadPatientRecord, Allow, Allow, Deny),
            (SearchPatients, Deny, Deny, Deny),
            (CreatePatient, Deny, Deny, Deny),
            (IssueActivationCode, Deny, Deny, Deny),
            (VerifyIdentity, Deny, Deny, Deny),
            (ManageUsers, Deny, Deny, Deny),
            (ReadAuditReport, Deny, Deny, Deny),
            (DecideReviewableDenial, Allow, Allow, Deny),
            (ImportRecords, Deny, Deny, Deny),
            (ReviewDuplicates, Deny, Deny, Deny),
            (RequestCopy, Deny, Deny, Deny),
            (WorkRequests, Deny, Deny, Deny),
        ]);
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
