//! The privacy reminder on the home page ("use a device you trust, sign out when done"), which a
//! person may hide for the rest of their session. It is also the portal's smallest form: it proves
//! that forms work before hydration (a plain POST answered by a redirect) and that sessions persist.

use crate::error::AppError;
use leptos::prelude::*;
#[cfg(feature = "ssr")]
use super::ssr;

/// Whether the privacy reminder should be shown in this browser session.
#[server(prefix = "/api", endpoint = "privacy_notice_visible")]
pub async fn privacy_notice_visible() -> Result<bool, AppError> {
    use self::ssr::*;
    with_status(async {
        let session = PortalSession::current().await?;
        let dismissed: Option<bool> = session.get(Key::PrivacyNoticeDismissed).await?;
        Ok(!dismissed.unwrap_or(false))
    }.await)
}

/// Hides the privacy reminder for the rest of this session.
#[server(prefix = "/api", endpoint = "dismiss_privacy_notice")]
pub async fn dismiss_privacy_notice() -> Result<(), AppError> {
    use self::ssr::*;
    with_status(async {
        let session = PortalSession::current().await?;
        session.insert(Key::PrivacyNoticeDismissed, true).await
    }.await)
}
