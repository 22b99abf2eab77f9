//! Release of information, the pure rules (issue "Release of information", DOMAIN.md): the
//! lifecycle of a request for a copy as a typed state machine ([`lifecycle`]), its legal clock
//! ([`clock`]: 30 days, one extension), the denial grounds of 45 CFR 164.524(a) ([`denial`]),
//! the request form and fee rule ([`form`]), the authorization a release to someone else needs
//! ([`authorization`], 45 CFR 164.508) and what the pages show ([`view`]). No I/O: the service
//! layer records each transition (actor, time, note) and the pages show them.

pub mod authorization;
pub mod clock;
pub mod dashboard;
pub mod denial;
pub mod form;
pub mod instant;
pub mod intake;
pub mod lifecycle;
pub mod segment;
pub mod view;

pub use authorization::*;
pub use clock::*;
pub use dashboard::{Colleague, Dashboard};
pub use denial::*;
pub use form::*;
pub use intake::{Channel, ChecklistRow, FeeRow, FeeScheduleRow, Intake, IntakeForm, Item, PatientMatch, PatientSearch, RequesterType};
pub use instant::{InstantCopy, InstantFormView, InstantFormats, VerifiedCopy, VerifyOutcome, check_instant};
pub use lifecycle::*;
pub use segment::{Part2Element, Receiver, Segment, SegmentItem};
pub use view::*;
