//! Element ids that browser tests rely on, in one place. `tests/e2e/ids.json` mirrors this list;
//! a unit test keeps the two equal, so renaming an id here fails fast instead of in a browser.

pub const MAIN: &str = "main";
pub const SITE_HEADER: &str = "site-header";
pub const SITE_NAV: &str = "site-nav";
pub const SITE_FOOTER: &str = "site-footer";
pub const HOME_HEADING: &str = "home-heading";
pub const NOT_FOUND_HEADING: &str = "not-found-heading";
pub const ERROR_HEADING: &str = "error-heading";
pub const PRIVACY_NOTICE: &str = "privacy-notice";
pub const PRIVACY_NOTICE_DISMISS: &str = "privacy-notice-dismiss";
pub const PRIVACY_NOTICE_ERROR: &str = "privacy-notice-error";

/// Every id above, by the name the browser tests use.
pub const ALL: &[(&str, &str)] = &[
    ("MAIN", MAIN),
    ("SITE_HEADER", SITE_HEADER),
    ("SITE_NAV", SITE_NAV),
    ("SITE_FOOTER", SITE_FOOTER),
    ("HOME_HEADING", HOME_HEADING),
    ("NOT_FOUND_HEADING", NOT_FOUND_HEADING),
    ("ERROR_HEADING", ERROR_HEADING),
    ("PRIVACY_NOTICE", PRIVACY_NOTICE),
    ("PRIVACY_NOTICE_DISMISS", PRIVACY_NOTICE_DISMISS),
    ("PRIVACY_NOTICE_ERROR", PRIVACY_NOTICE_ERROR),
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
