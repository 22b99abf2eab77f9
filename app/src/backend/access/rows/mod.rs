//! The access context's private row types (sea-orm entities of patient data). They never leave
//! `backend::access`: its methods map rows to domain types, so nothing else can reach a patient's
//! rows without going through the door.

mod caregivers;
mod clinical;
pub(super) mod patient_row;
mod release;

pub(super) use caregivers::*;
pub(super) use clinical::*;
pub(super) use release::*;
