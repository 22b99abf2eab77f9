//! Roles a portal user can hold. Roles combine: an HIM reviewer is usually HIM staff too, and a
//! staff member may also be a patient here. ONC 170.315(d)(1): access by role.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Linked to exactly one patient record; sees that record.
    Patient,
    /// Acts for other patients within the grants they hold (a later feature).
    Caregiver,
    /// Health Information Management staff: the patient registry and the release queue.
    HimStaff,
    /// May decide reviewable denials (45 CFR 164.524(a)(4)).
    HimReviewer,
    /// Manages staff accounts and roles, reads audit reports.
    Administrator,
    /// Leads the release desk: assigns requests to colleagues, reads the dashboard (with HIM staff).
    HimLead,
}

impl Role {
    pub const ALL: [Role; 6] =
        [Role::Patient, Role::Caregiver, Role::HimStaff, Role::HimReviewer, Role::Administrator, Role::HimLead];

    /// The stored and command-line name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Patient => "patient",
            Role::Caregiver => "caregiver",
            Role::HimStaff => "him_staff",
            Role::HimReviewer => "him_reviewer",
            Role::Administrator => "administrator",
            Role::HimLead => "him_lead",
        }
    }

    /// The name people read.
    pub fn label(self) -> &'static str {
        match self {
            Role::Patient => "Patient",
            Role::Caregiver => "Caregiver",
            Role::HimStaff => "HIM staff",
            Role::HimReviewer => "HIM reviewer",
            Role::Administrator => "Administrator",
            Role::HimLead => "HIM lead",
        }
    }

    pub fn parse(input: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == input.trim())
    }

    /// Staff roles must use multi-factor authentication (ONC 170.315(d)(13), issue 3).
    pub fn is_staff(self) -> bool {
        matches!(self, Role::HimStaff | Role::HimReviewer | Role::Administrator | Role::HimLead)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("root"), None);
    }

    #[test]
    fn only_staff_roles_are_staff() {
        let staff: Vec<Role> = Role::ALL.into_iter().filter(|r| r.is_staff()).collect();
        assert_eq!(staff, vec![Role::HimStaff, Role::HimReviewer, Role::Administrator, Role::HimLead]);
    }
}
