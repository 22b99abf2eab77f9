//! FHIR R4 import, the pure half: reading a file into resources (`parse`), checking dates
//! (`dates`), mapping each resource to the rows the portal shows (`map`) and tagging sensitive
//! categories from codes (`sensitive`). The database half is `backend::access::import`, behind
//! the access context like every other write of patient data.

pub mod dates;
pub mod map;
pub mod parse;
pub mod sensitive;
