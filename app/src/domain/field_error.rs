//! One invalid form field, the unit of every validation answer: the server and the browser
//! build the same list, so a form shows the same messages before and after hydration.

use serde::{Deserialize, Serialize};

/// One invalid form field, with a message written for the person filling the form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        FieldError { field: field.into(), message: message.into() }
    }
}

/// The longest free-text search any list accepts. A longer one is not a search a person types,
/// and SQLite refuses a LIKE pattern past 50,000 bytes ("pattern too complex") with a 500.
pub const MAX_SEARCH_CHARS: usize = 100;

/// A search box's text: trimmed, `None` when empty, an error naming `field` when too long.
pub fn search_text(field: &str, text: Option<&str>) -> Result<Option<String>, FieldError> {
    match text.map(str::trim).filter(|t| !t.is_empty()) {
        Some(t) if t.chars().count() > MAX_SEARCH_CHARS => Err(FieldError::new(field, format!("Search with at most {MAX_SEARCH_CHARS} characters."))),
        other => Ok(other.map(str::to_string)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn searches_are_trimmed_and_capped() {
        assert_eq!(search_text("q", Some("  Ana ")), Ok(Some("Ana".into())));
        assert_eq!(search_text("q", Some("   ")), Ok(None));
        assert_eq!(search_text("q", None), Ok(None));
        assert_eq!(search_text("q", Some(&"x".repeat(200_000))).map_err(|e| e.field), Err("q".to_string()));
    }
}
