//! HIM pages for imports and possible duplicates. The upload itself is a plain multipart route
//! (`backend::upload`); these read the list of imports and work the duplicates list, all through
//! the access context.

use crate::domain::{DuplicatePair, ImportRunRow};
use crate::error::AppError;
use leptos::prelude::*;
#[cfg(feature = "ssr")]
use super::ssr;

/// The latest imports, newest first.
#[server(prefix = "/api", endpoint = "import_runs")]
pub async fn import_runs() -> Result<Vec<ImportRunRow>, AppError> {
    use self::ssr::*;
    with_status(async move { access().await?.import_runs(20).await }.await)
}

/// Open pairs of records that may be the same person.
#[server(prefix = "/api", endpoint = "duplicates")]
pub async fn duplicates() -> Result<Vec<DuplicatePair>, AppError> {
    use self::ssr::*;
    with_status(async move { access().await?.duplicates().await }.await)
}

/// HIM's decision on a pair: `distinct` or `same_person` (merged in the source system).
#[server(prefix = "/api", endpoint = "resolve_duplicate")]
pub async fn resolve_duplicate(id: String, decision: String) -> Result<(), AppError> {
    use self::ssr::*;
    use crate::domain::DuplicateDecision;
    with_status(async move {
        let decision = DuplicateDecision::parse(&decision).ok_or_else(AppError::bad_request)?;
        access().await?.resolve_duplicate(&id, decision).await
    }.await)
}
