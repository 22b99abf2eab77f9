//! What an audit event says happened: one list, shared by the audit trail that writes it, the
//! report that filters by it and the page that offers it in a select list.

crate::domain::text_enum! {
    /// What happened. Stored by [`AuditAction::as_str`]; never renamed once shipped.
    pub enum AuditAction {
        Login = "login",
        Logout = "logout",
        SessionTimeout = "session_timeout",
        SignOutEverywhere = "sign_out_everywhere",
        SessionRevoke = "session_revoke",
        MfaEnroll = "mfa_enroll",
        MfaChallenge = "mfa_challenge",
        MfaDisable = "mfa_disable",
        PasswordChange = "password_change",
        PasswordResetRequest = "password_reset_request",
        PasswordReset = "password_reset",
        UserCreate = "user_create",
        UserDisable = "user_disable",
        RoleGrant = "role_grant",
        RoleRevoke = "role_revoke",
        PatientCreate = "patient_create",
        PatientRead = "patient_read",
        PatientSearch = "patient_search",
        ActivationIssue = "activation_issue",
        ActivationRedeem = "activation_redeem",
        IdentityVerify = "identity_verify",
        IdentityLink = "identity_link",
        IdentityUnlink = "identity_unlink",
        RecordImport = "record_import",
        DuplicateReview = "duplicate_review",
        ReleaseRequest = "release_request",
        AuditReportRead = "audit_report_read",
        AuditExport = "audit_export",
        CaregiverInvite = "caregiver_invite",
        CaregiverAccept = "caregiver_accept",
        CaregiverRevoke = "caregiver_revoke",
        CaregiverSwitch = "caregiver_switch",
        RepresentativeRequest = "representative_request",
        RepresentativeDecide = "representative_decide",
        /// The administrator changes the fee schedule.
        FeeSchedule = "fee_schedule",
        /// Everything sealed under an older file key was sealed again under the first
        /// (`portal keys reseal`).
        KeyReseal = "key_reseal",
        /// HIM staff list the mail the outbox gave up on, or send one again.
        MailOutbox = "mail_outbox",
        /// An administrator changes the segmentation rules (records re-tagged with it).
        SegmentRules = "segment_rules",
        /// A link mailed to an account's address was opened: the address is the owner's.
        EmailVerify = "email_verify",
        /// Staff read a list that shows patients or their requests (the queue, its search, the
        /// review and representative queues, pending verifications, user lists, import runs);
        /// the detail names the list and how many rows it showed, never a searched name.
        ListRead = "list_read",
        /// Someone other than the requester (HIM staff, a reviewer, a caregiver) opened a
        /// request's page.
        RequestRead = "release_request_read",
        /// An administrator registered an app for the FHIR API (issue 22).
        AppRegister = "app_register",
        /// A patient (or a caregiver for them) let an app read the record, or refused it.
        AppAuthorize = "app_authorize",
        /// An app's access ended: revoked by the person, or because a code or refresh token was
        /// used twice.
        AppRevoke = "app_revoke",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn action_names_round_trip_and_are_unique() {
        let mut names: Vec<&str> = AuditAction::ALL.iter().map(|a| a.as_str()).collect();
        for action in AuditAction::ALL {
            assert_eq!(AuditAction::parse(action.as_str()), Some(action));
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), AuditAction::ALL.len());
    }
}
