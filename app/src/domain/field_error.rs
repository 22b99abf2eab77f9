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
