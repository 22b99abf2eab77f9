//! What the HIM pages show about imports and possible duplicate records.

use serde::{Deserialize, Serialize};

/// One import, as the upload page lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportRunRow {
    pub id: String,
    pub source: String,
    pub finished: String,
    /// `imported` or `failed`.
    pub status: String,
    /// One line: counts, or the error.
    pub outcome: String,
    pub warnings: Vec<String>,
    /// The record it went into, when there was one.
    pub patient_id: Option<String>,
}

/// A pair of records that may be the same person, side by side.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DuplicatePair {
    pub id: String,
    pub reason: String,
    pub found: String,
    pub status: String,
    pub new_record: crate::domain::PatientSummary,
    pub existing_record: crate::domain::PatientSummary,
    /// Identifiers (system: value) of each, for comparison.
    pub new_identifiers: Vec<String>,
    pub existing_identifiers: Vec<String>,
}

/// What HIM decided about a pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum DuplicateDecision {
    /// Two different people: the records stay apart.
    Distinct,
    /// The same person: to be merged in the source system (the portal never merges on its own).
    SamePerson,
}

impl DuplicateDecision {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "distinct" => Some(DuplicateDecision::Distinct),
            "same_person" => Some(DuplicateDecision::SamePerson),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            DuplicateDecision::Distinct => "distinct",
            DuplicateDecision::SamePerson => "same_person",
        }
    }
}
