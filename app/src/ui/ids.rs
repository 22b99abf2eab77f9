//! Element ids that browser tests rely on, in one place. `tests/e2e/ids.json` mirrors this list;
//! a unit test keeps the two equal, so renaming an id here fails fast instead of in a browser.

pub const MAIN: &str = "main";
pub const SITE_HEADER: &str = "site-header";
pub const SITE_NAV: &str = "site-nav";
pub const SITE_MENU: &str = "site-menu";
pub const SITE_MENU_TOGGLE: &str = "site-menu-toggle";
pub const SITE_FOOTER: &str = "site-footer";
pub const HOME_HEADING: &str = "home-heading";
pub const NOT_FOUND_HEADING: &str = "not-found-heading";
pub const ERROR_HEADING: &str = "error-heading";
pub const PRIVACY_NOTICE: &str = "privacy-notice";
pub const PRIVACY_NOTICE_DISMISS: &str = "privacy-notice-dismiss";
pub const PRIVACY_NOTICE_ERROR: &str = "privacy-notice-error";
pub const OIDC_OUTCOME: &str = "oidc-outcome";
pub const OIDC_PROVIDERS: &str = "oidc-providers";
pub const OIDC_SIGN_IN_ERROR: &str = "oidc-sign-in-error";
pub const IDENTITY_LIST: &str = "identity-list";
pub const OIDC_LINK_ERROR: &str = "oidc-link-error";
pub const ACTIVATION_OIDC: &str = "activation-oidc";
pub const SIGN_IN_HEADING: &str = "sign-in-heading";
pub const SIGN_IN_EMAIL: &str = "sign-in-email";
pub const SIGN_IN_PASSWORD: &str = "sign-in-password";
pub const SIGN_IN_SUBMIT: &str = "sign-in-submit";
pub const SIGN_IN_ERROR: &str = "sign-in-error";
pub const TIMED_OUT_NOTICE: &str = "timed-out-notice";
pub const DEMO_CREDENTIALS: &str = "demo-credentials";
pub const SIGNED_IN_AS: &str = "signed-in-as";
pub const SIGN_OUT: &str = "sign-out";
pub const IDLE_WARNING: &str = "idle-warning";
pub const IDLE_WARNING_STAY: &str = "idle-warning-stay";
pub const ACCOUNT_HEADING: &str = "account-heading";
pub const SESSION_LIST: &str = "session-list";
pub const SIGN_OUT_EVERYWHERE: &str = "sign-out-everywhere";
pub const PASSWORD_CHANGED: &str = "password-changed";
pub const CURRENT_PASSWORD: &str = "current-password";
pub const NEW_PASSWORD: &str = "new-password";
pub const CHANGE_PASSWORD_ERROR: &str = "change-password-error";
pub const RECORD_HEADING: &str = "record-heading";
pub const RECORD_DEMOGRAPHICS: &str = "record-demographics";
pub const RECORD_PENDING: &str = "record-pending";
pub const REQUESTS_HEADING: &str = "requests-heading";
pub const REQUEST_FROM: &str = "request-from";
pub const REQUEST_TO: &str = "request-to";
pub const REQUEST_ERROR: &str = "request-error";
pub const REQUEST_SUBMIT: &str = "request-submit";
pub const REQUEST_LIST: &str = "request-list";
pub const REQUEST_STATUS: &str = "request-status";
pub const REQUEST_TIMELINE: &str = "request-timeline";
pub const QUEUE_HEADING: &str = "queue-heading";
pub const QUEUE_LIST: &str = "queue-list";
pub const QUEUE_UNDELIVERED: &str = "queue-undelivered";
pub const REQUEST_FILES: &str = "request-files";
pub const REVIEW_FORM: &str = "review-form";
pub const REVIEW_ERROR: &str = "review-error";
pub const RELEASE_BUTTON: &str = "release-button";
pub const RELEASE_ERROR: &str = "release-error";
pub const DENIAL_REVIEW_ERROR: &str = "denial-review-error";
pub const AUTHORIZATION_STATE: &str = "authorization-state";
pub const REVOKE_ERROR: &str = "revoke-error";
pub const REVOKE_BUTTON: &str = "revoke-button";
pub const REVIEW_NO_SEGMENTS: &str = "review-no-segments";
pub const RULES_HEADING: &str = "rules-heading";
pub const RULES_LIST: &str = "rules-list";
pub const RULES_ERROR: &str = "rules-error";
pub const SHARED_HEADING: &str = "shared-heading";
pub const SHARED_PASSCODE: &str = "shared-passcode";
pub const REQUEST_SHARE: &str = "request-share";
pub const DISCLOSURES_HEADING: &str = "disclosures-heading";
pub const DISCLOSURE_LIST: &str = "disclosure-list";
pub const ACTIVITY_LIST: &str = "activity-list";
pub const NOTIFICATIONS: &str = "notifications";
pub const REQUEST_FEES: &str = "request-fees";
pub const IMPORT_HEADING: &str = "import-heading";
pub const IMPORT_FILE: &str = "import-file";
pub const IMPORT_SUBMIT: &str = "import-submit";
pub const IMPORT_RUNS: &str = "import-runs";
pub const DUPLICATES_HEADING: &str = "duplicates-heading";
pub const DUPLICATES_LIST: &str = "duplicates-list";
pub const RECORD_FROM: &str = "record-from";
pub const RECORD_TO: &str = "record-to";
pub const RECORD_COUNT: &str = "record-count";
pub const RECORD_NOTE: &str = "record-note";
pub const RECORD_CHART: &str = "record-chart";
pub const PATIENTS_HEADING: &str = "patients-heading";
pub const PATIENT_SEARCH_Q: &str = "patient-search-q";
pub const PATIENT_RESULTS: &str = "patient-results";
pub const NEW_PATIENT_MRN: &str = "new-patient-mrn";
pub const NEW_PATIENT_ERROR: &str = "new-patient-error";
pub const NEW_PATIENT_SUBMIT: &str = "new-patient-submit";
pub const PATIENT_HEADING: &str = "patient-heading";
pub const MFA_VERIFY_HEADING: &str = "mfa-verify-heading";
pub const MFA_CODE: &str = "mfa-code";
pub const MFA_ERROR: &str = "mfa-error";
pub const MFA_SUBMIT: &str = "mfa-submit";
pub const MFA_SETUP_HEADING: &str = "mfa-setup-heading";
pub const MFA_MANUAL_KEY: &str = "mfa-manual-key";
pub const MFA_SETUP_CODE: &str = "mfa-setup-code";
pub const MFA_SETUP_CURRENT: &str = "mfa-setup-current";
pub const MFA_SETUP_ERROR: &str = "mfa-setup-error";
pub const MFA_SETUP_SUBMIT: &str = "mfa-setup-submit";
pub const RECOVERY_HEADING: &str = "recovery-heading";
pub const RECOVERY_CODES: &str = "recovery-codes";
pub const MFA_STATUS: &str = "mfa-status";
pub const MFA_SETUP_LINK: &str = "mfa-setup-link";
pub const AUDIT_HEADING: &str = "audit-heading";
pub const AUDIT_USER: &str = "audit-user";
pub const AUDIT_PATIENT: &str = "audit-patient";
pub const AUDIT_ACTION: &str = "audit-action";
pub const AUDIT_SUBMIT: &str = "audit-submit";
pub const AUDIT_CSV: &str = "audit-csv";
pub const AUDIT_TABLE: &str = "audit-table";
pub const LETTER_HEADING: &str = "letter-heading";
pub const ACTIVATION_LETTER: &str = "activation-letter";
pub const ACTIVATION_CODE: &str = "activation-code";
pub const ISSUE_ACTIVATION: &str = "issue-activation";
pub const REGISTER_HEADING: &str = "register-heading";
pub const REGISTER_INVITED: &str = "register-invited";
pub const REGISTER_CODE: &str = "register-code";
pub const REGISTER_BIRTH: &str = "register-birth";
pub const REGISTER_NAME: &str = "register-name";
pub const REGISTER_EMAIL: &str = "register-email";
pub const REGISTER_PASSWORD: &str = "register-password";
pub const REGISTER_ERROR: &str = "register-error";
pub const REGISTER_SUBMIT: &str = "register-submit";
pub const REGISTER_LINK: &str = "register-link";
pub const SELF_NAME: &str = "self-name";
pub const SELF_BIRTH: &str = "self-birth";
pub const SELF_EMAIL: &str = "self-email";
pub const SELF_PASSWORD: &str = "self-password";
pub const SELF_ERROR: &str = "self-error";
pub const SELF_SUBMIT: &str = "self-submit";
pub const VERIFY_HEADING: &str = "verify-heading";
pub const VERIFY_ERROR: &str = "verify-error";
pub const VERIFY_LIST: &str = "verify-list";
pub const USERS_HEADING: &str = "users-heading";
pub const CREATED_ACCOUNT: &str = "created-account";
pub const TEMPORARY_PASSWORD: &str = "temporary-password";
pub const USER_LIST: &str = "user-list";
pub const NEW_STAFF_NAME: &str = "new-staff-name";
pub const NEW_STAFF_EMAIL: &str = "new-staff-email";
pub const NEW_STAFF_ERROR: &str = "new-staff-error";
pub const NEW_STAFF_SUBMIT: &str = "new-staff-submit";
pub const FORGOT_HEADING: &str = "forgot-heading";
pub const FORGOT_SENT: &str = "forgot-sent";
pub const FORGOT_EMAIL: &str = "forgot-email";
pub const FORGOT_SUBMIT: &str = "forgot-submit";
pub const RESET_HEADING: &str = "reset-heading";
pub const RESET_PASSWORD: &str = "reset-password";
pub const RESET_ERROR: &str = "reset-error";
pub const RESET_SUBMIT: &str = "reset-submit";
pub const REGISTER_SENT: &str = "register-sent";
pub const VERIFY_EMAIL_HEADING: &str = "verify-email-heading";
pub const VERIFY_EMAIL_ERROR: &str = "verify-email-error";
pub const VERIFY_EMAIL_SUBMIT: &str = "verify-email-submit";
pub const FORGOT_LINK: &str = "forgot-link";
pub const PASSWORD_RESET_NOTICE: &str = "password-reset-notice";

/// Every id above, by the name the browser tests use.
pub const ACCEPT_ERROR: &str = "accept-error";
pub const ACCEPT_HEADING: &str = "accept-heading";
pub const ACCEPT_SIGN_IN: &str = "accept-sign-in";
pub const ACCEPT_SUBMIT: &str = "accept-submit";
pub const ACCEPT_SUMMARY: &str = "accept-summary";
pub const ACTING_BANNER: &str = "acting-banner";
pub const CAREGIVERS_ACTIVE: &str = "caregivers-active";
pub const CAREGIVERS_HEADING: &str = "caregivers-heading";
pub const CAREGIVERS_HISTORY: &str = "caregivers-history";
pub const CAREGIVERS_INVITATIONS: &str = "caregivers-invitations";
pub const INVITE_COPIES: &str = "invite-copies";
pub const INVITE_DAYS: &str = "invite-days";
pub const INVITE_EMAIL: &str = "invite-email";
pub const INVITE_ERROR: &str = "invite-error";
pub const INVITE_FULL: &str = "invite-full";
pub const INVITE_LIMITED: &str = "invite-limited";
pub const INVITE_LINK: &str = "invite-link";
pub const INVITE_SENT: &str = "invite-sent";
pub const INVITE_SUBMIT: &str = "invite-submit";
pub const INVITE_TRACK: &str = "invite-track";
pub const PEOPLE_HEADING: &str = "people-heading";
pub const PEOPLE_LIST: &str = "people-list";
pub const REPRESENTATIVE_BIRTH: &str = "representative-birth";
pub const REPRESENTATIVE_ERROR: &str = "representative-error";
pub const REPRESENTATIVE_FILES: &str = "representative-files";
pub const REPRESENTATIVE_HEADING: &str = "representative-heading";
pub const REPRESENTATIVE_KIND: &str = "representative-kind";
pub const REPRESENTATIVE_NAME: &str = "representative-name";
pub const REPRESENTATIVE_SENT: &str = "representative-sent";
pub const REPRESENTATIVE_SUBMIT: &str = "representative-submit";
pub const STAFF_REPRESENTATIVES_HEADING: &str = "staff-representatives-heading";
pub const STAFF_REPRESENTATIVES_LIST: &str = "staff-representatives-list";

pub const RECORD_LIMITED: &str = "record-limited";
pub const REQUEST_REPRESENTATIVE: &str = "request-representative";
pub const DOWNLOAD_HEADING: &str = "download-heading";
pub const DOWNLOAD_FORM: &str = "download-form";
pub const DOWNLOAD_ERRORS: &str = "download-errors";
pub const DOWNLOAD_SUBMIT: &str = "download-submit";
pub const DOWNLOAD_FROM: &str = "download-from";
pub const DOWNLOAD_TO: &str = "download-to";
pub const RECORD_DOWNLOAD_LINK: &str = "record-download-link";
pub const COPY_CHECK_HEADING: &str = "copy-check-heading";
pub const COPY_CHECK_RESULT: &str = "copy-check-result";
pub const COPY_CHECK_FILE: &str = "copy-check-file";
pub const COPY_CHECK_CODE: &str = "copy-check-code";
pub const COPY_CHECK_FILE_SUBMIT: &str = "copy-check-file-submit";
pub const COPY_CHECK_CODE_SUBMIT: &str = "copy-check-code-submit";
pub const DOWNLOAD_EMAIL: &str = "download-email";
pub const SEND_SUBMIT: &str = "send-submit";
// The HIM release desk (issue 17).
pub const INTAKE_HEADING: &str = "intake-heading";
pub const INTAKE_ERROR: &str = "intake-error";
pub const INTAKE_TYPE: &str = "intake-type";
pub const INTAKE_NAME: &str = "intake-name";
pub const INTAKE_BIRTH: &str = "intake-birth";
pub const INTAKE_MRN: &str = "intake-mrn";
pub const INTAKE_FIND: &str = "intake-find";
pub const INTAKE_MATCHES: &str = "intake-matches";
pub const INTAKE_CHANNEL: &str = "intake-channel";
pub const INTAKE_RECEIVED: &str = "intake-received";
pub const INTAKE_REQUESTER: &str = "intake-requester";
pub const INTAKE_ADDRESS: &str = "intake-address";
pub const INTAKE_CHECKLIST: &str = "intake-checklist";
pub const INTAKE_SCANS: &str = "intake-scans";
pub const INTAKE_SUBMIT: &str = "intake-submit";
pub const REQUEST_WAITING: &str = "request-waiting";
pub const CHECKLIST_ERROR: &str = "checklist-error";
pub const CHECKLIST_SAVE: &str = "checklist-save";
pub const REQUEST_PAID: &str = "request-paid";
pub const ASSIGN_SELECT: &str = "assign-select";
pub const ASSIGN_ERROR: &str = "assign-error";
pub const ASSIGN_SUBMIT: &str = "assign-submit";
pub const DESK_HEADING: &str = "desk-heading";
pub const DESK_OPEN: &str = "desk-open";
pub const DESK_OVERDUE: &str = "desk-overdue";
pub const DESK_MONTHS: &str = "desk-months";
pub const DESK_TYPES: &str = "desk-types";
pub const REQUEST_PATIENT: &str = "request-patient";
pub const REQUEST_REQUESTER: &str = "request-requester";

pub const VERIFY_COMPARE: &str = "verify-compare";

pub const FEES_HEADING: &str = "fees-heading";
pub const FEES_ERROR: &str = "fees-error";
pub const FEES_LIST: &str = "fees-list";

// Apps of the patient's choice (issue 22).
pub const APP_CONSENT_HEADING: &str = "app-consent-heading";
pub const APP_CONSENT_WHO: &str = "app-consent-who";
pub const APP_CONSENT_FORM: &str = "app-consent-form";
pub const APP_CONSENT_ERROR: &str = "app-consent-error";
pub const APP_CONSENT_REFUSED: &str = "app-consent-refused";
pub const APP_CONSENT_ALLOW: &str = "app-consent-allow";
pub const APP_CONSENT_DENY: &str = "app-consent-deny";
pub const CONNECTED_APPS: &str = "connected-apps";
pub const CONNECTED_APPS_NOTICE: &str = "connected-apps-notice";
pub const SHARED_LINKS: &str = "shared-links";
pub const SHARED_LINKS_NOTICE: &str = "shared-links-notice";
pub const AUTHORIZATIONS: &str = "authorizations-in-force";
pub const AUTHORIZATIONS_NOTICE: &str = "authorizations-notice";

pub const ALL: &[(&str, &str)] = &[
    ("MAIN", MAIN),
    ("SITE_HEADER", SITE_HEADER),
    ("SITE_NAV", SITE_NAV),
    ("SITE_MENU", SITE_MENU),
    ("SITE_MENU_TOGGLE", SITE_MENU_TOGGLE),
    ("SITE_FOOTER", SITE_FOOTER),
    ("HOME_HEADING", HOME_HEADING),
    ("NOT_FOUND_HEADING", NOT_FOUND_HEADING),
    ("ERROR_HEADING", ERROR_HEADING),
    ("PRIVACY_NOTICE", PRIVACY_NOTICE),
    ("PRIVACY_NOTICE_DISMISS", PRIVACY_NOTICE_DISMISS),
    ("PRIVACY_NOTICE_ERROR", PRIVACY_NOTICE_ERROR),
    ("SIGN_IN_HEADING", SIGN_IN_HEADING),
    ("SIGN_IN_EMAIL", SIGN_IN_EMAIL),
    ("SIGN_IN_PASSWORD", SIGN_IN_PASSWORD),
    ("SIGN_IN_SUBMIT", SIGN_IN_SUBMIT),
    ("SIGN_IN_ERROR", SIGN_IN_ERROR),
    ("TIMED_OUT_NOTICE", TIMED_OUT_NOTICE),
    ("DEMO_CREDENTIALS", DEMO_CREDENTIALS),
    ("SIGNED_IN_AS", SIGNED_IN_AS),
    ("SIGN_OUT", SIGN_OUT),
    ("IDLE_WARNING", IDLE_WARNING),
    ("IDLE_WARNING_STAY", IDLE_WARNING_STAY),
    ("ACCOUNT_HEADING", ACCOUNT_HEADING),
    ("SESSION_LIST", SESSION_LIST),
    ("SIGN_OUT_EVERYWHERE", SIGN_OUT_EVERYWHERE),
    ("PASSWORD_CHANGED", PASSWORD_CHANGED),
    ("CURRENT_PASSWORD", CURRENT_PASSWORD),
    ("NEW_PASSWORD", NEW_PASSWORD),
    ("CHANGE_PASSWORD_ERROR", CHANGE_PASSWORD_ERROR),
    ("RECORD_HEADING", RECORD_HEADING),
    ("RECORD_DEMOGRAPHICS", RECORD_DEMOGRAPHICS),
    ("RECORD_PENDING", RECORD_PENDING),
    ("REQUESTS_HEADING", REQUESTS_HEADING),
    ("REQUEST_FROM", REQUEST_FROM),
    ("REQUEST_TO", REQUEST_TO),
    ("REQUEST_ERROR", REQUEST_ERROR),
    ("REQUEST_SUBMIT", REQUEST_SUBMIT),
    ("REQUEST_LIST", REQUEST_LIST),
    ("REQUEST_STATUS", REQUEST_STATUS),
    ("REQUEST_TIMELINE", REQUEST_TIMELINE),
    ("QUEUE_HEADING", QUEUE_HEADING),
    ("QUEUE_LIST", QUEUE_LIST),
    ("REQUEST_FILES", REQUEST_FILES),
    ("REVIEW_FORM", REVIEW_FORM),
    ("REVIEW_ERROR", REVIEW_ERROR),
    ("RELEASE_BUTTON", RELEASE_BUTTON),
    ("RELEASE_ERROR", RELEASE_ERROR),
    ("DENIAL_REVIEW_ERROR", DENIAL_REVIEW_ERROR),
    ("AUTHORIZATION_STATE", AUTHORIZATION_STATE),
    ("REVOKE_ERROR", REVOKE_ERROR),
    ("REVOKE_BUTTON", REVOKE_BUTTON),
    ("REVIEW_NO_SEGMENTS", REVIEW_NO_SEGMENTS),
    ("RULES_HEADING", RULES_HEADING),
    ("RULES_LIST", RULES_LIST),
    ("RULES_ERROR", RULES_ERROR),
    ("SHARED_HEADING", SHARED_HEADING),
    ("SHARED_PASSCODE", SHARED_PASSCODE),
    ("REQUEST_SHARE", REQUEST_SHARE),
    ("DISCLOSURES_HEADING", DISCLOSURES_HEADING),
    ("DISCLOSURE_LIST", DISCLOSURE_LIST),
    ("ACTIVITY_LIST", ACTIVITY_LIST),
    ("NOTIFICATIONS", NOTIFICATIONS),
    ("REQUEST_FEES", REQUEST_FEES),
    ("IMPORT_HEADING", IMPORT_HEADING),
    ("IMPORT_FILE", IMPORT_FILE),
    ("IMPORT_SUBMIT", IMPORT_SUBMIT),
    ("IMPORT_RUNS", IMPORT_RUNS),
    ("DUPLICATES_HEADING", DUPLICATES_HEADING),
    ("DUPLICATES_LIST", DUPLICATES_LIST),
    ("RECORD_FROM", RECORD_FROM),
    ("RECORD_TO", RECORD_TO),
    ("RECORD_COUNT", RECORD_COUNT),
    ("RECORD_NOTE", RECORD_NOTE),
    ("RECORD_CHART", RECORD_CHART),
    ("PATIENTS_HEADING", PATIENTS_HEADING),
    ("PATIENT_SEARCH_Q", PATIENT_SEARCH_Q),
    ("PATIENT_RESULTS", PATIENT_RESULTS),
    ("NEW_PATIENT_MRN", NEW_PATIENT_MRN),
    ("NEW_PATIENT_ERROR", NEW_PATIENT_ERROR),
    ("NEW_PATIENT_SUBMIT", NEW_PATIENT_SUBMIT),
    ("PATIENT_HEADING", PATIENT_HEADING),
    ("MFA_VERIFY_HEADING", MFA_VERIFY_HEADING),
    ("MFA_CODE", MFA_CODE),
    ("MFA_ERROR", MFA_ERROR),
    ("MFA_SUBMIT", MFA_SUBMIT),
    ("MFA_SETUP_HEADING", MFA_SETUP_HEADING),
    ("MFA_MANUAL_KEY", MFA_MANUAL_KEY),
    ("MFA_SETUP_CODE", MFA_SETUP_CODE),
    ("MFA_SETUP_CURRENT", MFA_SETUP_CURRENT),
    ("MFA_SETUP_ERROR", MFA_SETUP_ERROR),
    ("MFA_SETUP_SUBMIT", MFA_SETUP_SUBMIT),
    ("RECOVERY_HEADING", RECOVERY_HEADING),
    ("RECOVERY_CODES", RECOVERY_CODES),
    ("MFA_STATUS", MFA_STATUS),
    ("MFA_SETUP_LINK", MFA_SETUP_LINK),
    ("AUDIT_HEADING", AUDIT_HEADING),
    ("AUDIT_USER", AUDIT_USER),
    ("AUDIT_PATIENT", AUDIT_PATIENT),
    ("AUDIT_ACTION", AUDIT_ACTION),
    ("AUDIT_SUBMIT", AUDIT_SUBMIT),
    ("AUDIT_CSV", AUDIT_CSV),
    ("AUDIT_TABLE", AUDIT_TABLE),
    ("LETTER_HEADING", LETTER_HEADING),
    ("ACTIVATION_LETTER", ACTIVATION_LETTER),
    ("ACTIVATION_CODE", ACTIVATION_CODE),
    ("ISSUE_ACTIVATION", ISSUE_ACTIVATION),
    ("REGISTER_HEADING", REGISTER_HEADING),
    ("REGISTER_INVITED", REGISTER_INVITED),
    ("REGISTER_CODE", REGISTER_CODE),
    ("REGISTER_BIRTH", REGISTER_BIRTH),
    ("REGISTER_NAME", REGISTER_NAME),
    ("REGISTER_EMAIL", REGISTER_EMAIL),
    ("REGISTER_PASSWORD", REGISTER_PASSWORD),
    ("REGISTER_ERROR", REGISTER_ERROR),
    ("REGISTER_SUBMIT", REGISTER_SUBMIT),
    ("REGISTER_LINK", REGISTER_LINK),
    ("SELF_NAME", SELF_NAME),
    ("SELF_BIRTH", SELF_BIRTH),
    ("SELF_EMAIL", SELF_EMAIL),
    ("SELF_PASSWORD", SELF_PASSWORD),
    ("SELF_ERROR", SELF_ERROR),
    ("SELF_SUBMIT", SELF_SUBMIT),
    ("VERIFY_HEADING", VERIFY_HEADING),
    ("VERIFY_ERROR", VERIFY_ERROR),
    ("VERIFY_LIST", VERIFY_LIST),
    ("USERS_HEADING", USERS_HEADING),
    ("CREATED_ACCOUNT", CREATED_ACCOUNT),
    ("TEMPORARY_PASSWORD", TEMPORARY_PASSWORD),
    ("USER_LIST", USER_LIST),
    ("NEW_STAFF_NAME", NEW_STAFF_NAME),
    ("NEW_STAFF_EMAIL", NEW_STAFF_EMAIL),
    ("NEW_STAFF_ERROR", NEW_STAFF_ERROR),
    ("NEW_STAFF_SUBMIT", NEW_STAFF_SUBMIT),
    ("FORGOT_HEADING", FORGOT_HEADING),
    ("FORGOT_SENT", FORGOT_SENT),
    ("FORGOT_EMAIL", FORGOT_EMAIL),
    ("FORGOT_SUBMIT", FORGOT_SUBMIT),
    ("RESET_HEADING", RESET_HEADING),
    ("RESET_PASSWORD", RESET_PASSWORD),
    ("RESET_ERROR", RESET_ERROR),
    ("RESET_SUBMIT", RESET_SUBMIT),
    ("REGISTER_SENT", REGISTER_SENT),
    ("VERIFY_EMAIL_HEADING", VERIFY_EMAIL_HEADING),
    ("VERIFY_EMAIL_ERROR", VERIFY_EMAIL_ERROR),
    ("VERIFY_EMAIL_SUBMIT", VERIFY_EMAIL_SUBMIT),
    ("QUEUE_UNDELIVERED", QUEUE_UNDELIVERED),
    ("FORGOT_LINK", FORGOT_LINK),
    ("PASSWORD_RESET_NOTICE", PASSWORD_RESET_NOTICE),
    ("OIDC_OUTCOME", OIDC_OUTCOME),
    ("OIDC_PROVIDERS", OIDC_PROVIDERS),
    ("OIDC_SIGN_IN_ERROR", OIDC_SIGN_IN_ERROR),
    ("IDENTITY_LIST", IDENTITY_LIST),
    ("OIDC_LINK_ERROR", OIDC_LINK_ERROR),
    ("ACTIVATION_OIDC", ACTIVATION_OIDC),
    ("ACCEPT_ERROR", ACCEPT_ERROR),
    ("ACCEPT_HEADING", ACCEPT_HEADING),
    ("ACCEPT_SIGN_IN", ACCEPT_SIGN_IN),
    ("ACCEPT_SUBMIT", ACCEPT_SUBMIT),
    ("ACCEPT_SUMMARY", ACCEPT_SUMMARY),
    ("ACTING_BANNER", ACTING_BANNER),
    ("CAREGIVERS_ACTIVE", CAREGIVERS_ACTIVE),
    ("CAREGIVERS_HEADING", CAREGIVERS_HEADING),
    ("CAREGIVERS_HISTORY", CAREGIVERS_HISTORY),
    ("CAREGIVERS_INVITATIONS", CAREGIVERS_INVITATIONS),
    ("INVITE_COPIES", INVITE_COPIES),
    ("INVITE_DAYS", INVITE_DAYS),
    ("INVITE_EMAIL", INVITE_EMAIL),
    ("INVITE_ERROR", INVITE_ERROR),
    ("INVITE_FULL", INVITE_FULL),
    ("INVITE_LIMITED", INVITE_LIMITED),
    ("INVITE_LINK", INVITE_LINK),
    ("INVITE_SENT", INVITE_SENT),
    ("INVITE_SUBMIT", INVITE_SUBMIT),
    ("INVITE_TRACK", INVITE_TRACK),
    ("PEOPLE_HEADING", PEOPLE_HEADING),
    ("PEOPLE_LIST", PEOPLE_LIST),
    ("REPRESENTATIVE_BIRTH", REPRESENTATIVE_BIRTH),
    ("REPRESENTATIVE_ERROR", REPRESENTATIVE_ERROR),
    ("REPRESENTATIVE_FILES", REPRESENTATIVE_FILES),
    ("REPRESENTATIVE_HEADING", REPRESENTATIVE_HEADING),
    ("REPRESENTATIVE_KIND", REPRESENTATIVE_KIND),
    ("REPRESENTATIVE_NAME", REPRESENTATIVE_NAME),
    ("REPRESENTATIVE_SENT", REPRESENTATIVE_SENT),
    ("REPRESENTATIVE_SUBMIT", REPRESENTATIVE_SUBMIT),
    ("STAFF_REPRESENTATIVES_HEADING", STAFF_REPRESENTATIVES_HEADING),
    ("STAFF_REPRESENTATIVES_LIST", STAFF_REPRESENTATIVES_LIST),
    ("RECORD_LIMITED", RECORD_LIMITED),
    ("REQUEST_REPRESENTATIVE", REQUEST_REPRESENTATIVE),
    ("DOWNLOAD_HEADING", DOWNLOAD_HEADING),
    ("DOWNLOAD_FORM", DOWNLOAD_FORM),
    ("DOWNLOAD_ERRORS", DOWNLOAD_ERRORS),
    ("DOWNLOAD_SUBMIT", DOWNLOAD_SUBMIT),
    ("DOWNLOAD_FROM", DOWNLOAD_FROM),
    ("DOWNLOAD_TO", DOWNLOAD_TO),
    ("RECORD_DOWNLOAD_LINK", RECORD_DOWNLOAD_LINK),
    ("COPY_CHECK_HEADING", COPY_CHECK_HEADING),
    ("COPY_CHECK_RESULT", COPY_CHECK_RESULT),
    ("COPY_CHECK_FILE", COPY_CHECK_FILE),
    ("COPY_CHECK_CODE", COPY_CHECK_CODE),
    ("COPY_CHECK_FILE_SUBMIT", COPY_CHECK_FILE_SUBMIT),
    ("COPY_CHECK_CODE_SUBMIT", COPY_CHECK_CODE_SUBMIT),
    ("DOWNLOAD_EMAIL", DOWNLOAD_EMAIL),
    ("SEND_SUBMIT", SEND_SUBMIT),
    ("INTAKE_HEADING", INTAKE_HEADING),
    ("INTAKE_ERROR", INTAKE_ERROR),
    ("INTAKE_TYPE", INTAKE_TYPE),
    ("INTAKE_NAME", INTAKE_NAME),
    ("INTAKE_BIRTH", INTAKE_BIRTH),
    ("INTAKE_MRN", INTAKE_MRN),
    ("INTAKE_FIND", INTAKE_FIND),
    ("INTAKE_MATCHES", INTAKE_MATCHES),
    ("INTAKE_CHANNEL", INTAKE_CHANNEL),
    ("INTAKE_RECEIVED", INTAKE_RECEIVED),
    ("INTAKE_REQUESTER", INTAKE_REQUESTER),
    ("INTAKE_ADDRESS", INTAKE_ADDRESS),
    ("INTAKE_CHECKLIST", INTAKE_CHECKLIST),
    ("INTAKE_SCANS", INTAKE_SCANS),
    ("INTAKE_SUBMIT", INTAKE_SUBMIT),
    ("REQUEST_WAITING", REQUEST_WAITING),
    ("CHECKLIST_ERROR", CHECKLIST_ERROR),
    ("CHECKLIST_SAVE", CHECKLIST_SAVE),
    ("REQUEST_PAID", REQUEST_PAID),
    ("ASSIGN_SELECT", ASSIGN_SELECT),
    ("ASSIGN_ERROR", ASSIGN_ERROR),
    ("ASSIGN_SUBMIT", ASSIGN_SUBMIT),
    ("DESK_HEADING", DESK_HEADING),
    ("DESK_OPEN", DESK_OPEN),
    ("DESK_OVERDUE", DESK_OVERDUE),
    ("DESK_MONTHS", DESK_MONTHS),
    ("DESK_TYPES", DESK_TYPES),
    ("REQUEST_PATIENT", REQUEST_PATIENT),
    ("REQUEST_REQUESTER", REQUEST_REQUESTER),
    ("VERIFY_COMPARE", VERIFY_COMPARE),
    ("FEES_HEADING", FEES_HEADING),
    ("FEES_ERROR", FEES_ERROR),
    ("FEES_LIST", FEES_LIST),
    ("APP_CONSENT_HEADING", APP_CONSENT_HEADING),
    ("APP_CONSENT_WHO", APP_CONSENT_WHO),
    ("APP_CONSENT_FORM", APP_CONSENT_FORM),
    ("APP_CONSENT_ERROR", APP_CONSENT_ERROR),
    ("APP_CONSENT_REFUSED", APP_CONSENT_REFUSED),
    ("APP_CONSENT_ALLOW", APP_CONSENT_ALLOW),
    ("APP_CONSENT_DENY", APP_CONSENT_DENY),
    ("CONNECTED_APPS", CONNECTED_APPS),
    ("CONNECTED_APPS_NOTICE", CONNECTED_APPS_NOTICE),
    ("SHARED_LINKS", SHARED_LINKS),
    ("SHARED_LINKS_NOTICE", SHARED_LINKS_NOTICE),
    ("AUTHORIZATIONS", AUTHORIZATIONS),
    ("AUTHORIZATIONS_NOTICE", AUTHORIZATIONS_NOTICE),
];

#[cfg(test)]
mod tests {
    use super::ALL;
    use std::collections::BTreeMap;

    #[test]
    fn browser_tests_use_the_same_ids() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/e2e/ids.json");
        let text = std::fs::read_to_string(path).expect("tests/e2e/ids.json exists");
        let json: BTreeMap<String, String> = serde_json::from_str(&text).expect("ids.json is a flat object");
        let rust: BTreeMap<String, String> =
            ALL.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        assert_eq!(json, rust, "tests/e2e/ids.json must mirror app/src/ui/ids.rs");
    }

    #[test]
    fn ids_are_unique() {
        let mut values: Vec<&str> = ALL.iter().map(|(_, v)| *v).collect();
        values.sort_unstable();
        values.dedup();
        assert_eq!(values.len(), ALL.len());
    }
}
