//! Building and running the server: database, migrations, router, listener, background tasks and
//! graceful shutdown. Used alike by `portal serve` and by the integration tests.

use app::backend::access::SystemContext;
use crate::error::StartupError;
use crate::security::{self, SecurityHeaders};
use crate::settings::{Environment, Settings};
use crate::{database, health, telemetry};
use app::backend::auth::Auth;
use app::backend::session_store::SeaOrmSessionStore;
use app::backend::state::AppState;
use app::{App, shell};
use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use leptos::config::{Env, LeptosOptions};
use leptos_axum::{LeptosRoutes, generate_route_list};
use sea_orm::DatabaseConnection;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_sessions::cookie::SameSite;
use tower_sessions::session_store::ExpiredDeletion;
use tower_sessions::{Expiry, SessionManagerLayer};

/// The session cookie's name.
pub const SESSION_COOKIE: &str = "portal_session";

/// The session cookie's name over https: the `__Host-` prefix makes the browser refuse it unless
/// it is `Secure`, has `Path=/` and no `Domain`, so a sibling subdomain cannot plant or widen it.
pub const SECURE_SESSION_COOKIE: &str = "__Host-portal_session";

/// A server that is bound to its address and connected to its database, ready to run.
pub struct Application {
    settings: Settings,
    listener: TcpListener,
    local_addr: SocketAddr,
    db: DatabaseConnection,
    router: Router,
    /// The mail outbox's sender and the address links in mail point at.
    mailer: app::backend::mail::Mailer,
    base_url: String,
}

/// How often the mail outbox is emptied (request notifications).
const OUTBOX_INTERVAL: Duration = Duration::from_secs(10);
/// How often the audit sealer looks for committed events: the window in which a new event is
/// unsealed (guarded by the triggers only) stays a fraction of a second.
const AUDIT_SEAL_INTERVAL: Duration = Duration::from_millis(250);
/// How often a server checks whether today's caregiver age and expiry rules have run (the first
/// server to claim the day runs them; the check itself is one small query).
const DAILY_JOB_CHECK: Duration = Duration::from_secs(600);

impl Application {
    /// Connects to the database, applies pending migrations, binds the listener and builds the
    /// router. Every failure is a one-line [`StartupError`] naming the setting to change.
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        let db = database::connect(&settings).await?;
        database::migrate_up(&db).await?;
        let listener = TcpListener::bind(settings.addr).await.map_err(|e| StartupError::Bind {
            addr: settings.addr,
            reason: match e.kind() {
                std::io::ErrorKind::AddrInUse => "address already in use".to_string(),
                _ => e.to_string(),
            },
        })?;
        let local_addr = listener.local_addr().map_err(|e| StartupError::Bind {
            addr: settings.addr,
            reason: e.to_string(),
        })?;
        // The sealer appends its checkpoints there: find out now, not at the first checkpoint.
        if let Some(path) = settings.audit_sealer().checkpoint_file {
            app::backend::audit::open_checkpoint_file(&path).map_err(|e| StartupError::AuditCheckpointFile { path, reason: e.to_string() })?;
        }
        let auth = Auth::new(settings.auth_config()).map_err(|e| StartupError::PasswordHashing(e.to_string()))?;
        if settings.demo {
            app::backend::demo::ensure(&db, &auth, &settings.file_keys(), &settings.site_code)
                .await
                .map_err(|e| StartupError::Demo(e.to_string()))?;
        } else {
            // The demo accounts' passwords are published: outside demo mode none may sign in.
            let active = app::backend::demo::active_accounts(&db).await.map_err(|e| StartupError::Demo(e.to_string()))?;
            if !active.is_empty() {
                return Err(StartupError::DemoAccountsActive(format!(
                    "demo accounts can still sign in ({}) and their passwords are published; disable them with `portal admin purge-demo` (audited), or set demo = true",
                    active.join(", ")
                )));
            }
        }
        use secrecy::ExposeSecret;
        let mailer = app::backend::mail::Mailer::new(
            settings.smtp_url.as_ref().map(|u| u.expose_secret()),
            &settings.mail_from,
            settings.environment == Environment::Development,
        )
        .map_err(|e| StartupError::Mail(e.to_string()))?;
        // The Direct relay, when the site has one: a second mail transport, to the HISP.
        let direct = match (&settings.direct_smtp_url, &settings.direct_from) {
            (Some(url), Some(from)) => Some(app::backend::mail::Mailer::new(Some(url.expose_secret()), from, false).map_err(|e| StartupError::Mail(e.to_string()))?),
            _ => None,
        };
        let base_url = match &settings.public_url {
            Some(url) => url.as_str().trim_end_matches('/').to_string(),
            None => format!("http://{local_addr}"),
        };
        let (outbox_mailer, outbox_base) = (mailer.clone(), base_url.clone());
        let state = AppState {
            open_app_registration: settings.open_app_registration,
            leptos_options: leptos_options(&settings, local_addr),
            db: db.clone(),
            auth,
            site_code: settings.site_code.clone(),
            demo: settings.demo,
            oidc: app::backend::auth::oidc::Oidc::new(settings.oidc_config(), &base_url)
                .map_err(|e| StartupError::Oidc(e.to_string()))?,
            import_limits: settings.import_limits(),
            request_response_days: settings.request_response_days,
            self_copy_fee_cents: settings.self_copy_fee_cents,
            third_party_copy_fee_cents: settings.third_party_copy_fee_cents,
            third_party_response_days: settings.third_party_response_days,
            copy_fee_cap_cents: settings.copy_fee_cap_cents,
            file_keys: settings.file_keys(),
            release_download_days: settings.release_download_days,
            letterhead: settings.letterhead(),
            caregivers: settings.caregiver_settings(),
            clock: settings.clock(),
            mailer,
            direct,
            base_url,
            audit: app::backend::audit::AuditSink::start(db.clone()),
        };
        let router = router(&settings, state);
        Ok(Application { settings, listener, local_addr, db, router, mailer: outbox_mailer, base_url: outbox_base })
    }

    /// The bound address (the real port when the settings asked for port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The connection pool the server uses.
    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Serves until `shutdown` completes, then lets in-flight requests finish for at most
    /// `shutdown_grace_secs`. Runs the expired-session clean-up in the background meanwhile.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), StartupError> {
        let cleanup = tokio::spawn(delete_expired_sessions(
            SeaOrmSessionStore::new(self.db.clone(), self.settings.file_keys().derive(app::backend::session_store::SESSION_ID_PURPOSE)),
            self.settings.auth_config(),
            Duration::from_secs(self.settings.session_cleanup_interval_secs),
        ));
        let outbox = {
            let (system, mailer, base_url) = (SystemContext::jobs(self.db.clone(), self.settings.site_code.clone()), self.mailer.clone(), self.base_url.clone());
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(OUTBOX_INTERVAL);
                loop {
                    tick.tick().await;
                    if let Err(e) = system.send_pending_notifications(&mailer, &base_url).await {
                        tracing::warn!(error = %e, "the mail outbox could not be read");
                    }
                }
            })
        };
        let daily = {
            let (system, ages) = (SystemContext::jobs(self.db.clone(), self.settings.site_code.clone()), self.settings.caregiver_settings().ages);
            // Birthdays and expiries turn over at the hospital's midnight.
            let clock = self.settings.clock();
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(DAILY_JOB_CHECK);
                loop {
                    tick.tick().await;
                    match system.run_daily_age_rules(ages, clock.today()).await {
                        Ok(Some(run)) => tracing::info!(narrowed = run.narrowed, ended_at_majority = run.ended_at_majority, expired = run.expired, "caregiver age and expiry rules applied"),
                        Ok(None) => {}
                        Err(e) => tracing::warn!(error = %e, "the caregiver age rules could not run; trying again later"),
                    }
                }
            })
        };
        // Chains committed audit events under audit_key; on several servers, one at a time.
        let sealer = self.settings.audit_sealer().spawn(self.db.clone(), AUDIT_SEAL_INTERVAL);
        let grace = Duration::from_secs(self.settings.shutdown_grace_secs);
        let (stopping_tx, stopping_rx) = tokio::sync::oneshot::channel::<()>();
        let serve = axum::serve(
            self.listener,
            self.router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            shutdown.await;
            tracing::info!("shutting down: finishing requests in flight");
            let _ = stopping_tx.send(());
        });
        let result = tokio::select! {
            result = serve => result.map_err(|e| StartupError::Serve(e.to_string())),
            () = async move {
                if stopping_rx.await.is_ok() {
                    tokio::time::sleep(grace).await;
                } else {
                    std::future::pending::<()>().await;
                }
            } => {
                tracing::warn!(grace_secs = grace.as_secs(), "requests still running after the grace period; stopping anyway");
                Ok(())
            }
        };
        cleanup.abort();
        outbox.abort();
        daily.abort();
        sealer.abort();
        self.db.close_by_ref().await.ok();
        result
    }
}

/// The Leptos options, from our settings rather than from cargo-leptos' environment variables,
/// so the binary behaves the same however it was started.
fn leptos_options(settings: &Settings, addr: SocketAddr) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name("portal")
        .site_root(settings.site_root.display().to_string())
        .site_pkg_dir("pkg")
        // A release build by cargo-leptos names its assets by their content (`hash-files` in
        // Cargo.toml) and leaves the names in `hash.txt` beside the binary; when that file is
        // there, pages link the hashed names, which are cached for a year (security.rs).
        .hash_files(hash_file().is_some_and(|p| p.exists()))
        .site_addr(addr)
        .env(match settings.environment {
            Environment::Development => Env::DEV,
            Environment::Production => Env::PROD,
        })
        .build()
}

/// Where Leptos looks for the asset names of a hashed build: `hash.txt` beside the binary.
pub fn hash_file() -> Option<std::path::PathBuf> {
    Some(std::env::current_exe().ok()?.parent()?.join("hash.txt"))
}

/// The application's routes, generated once per process. Generating renders the app with
/// resource loading switched off through a process-wide flag (leptos_server's
/// `SuppressResourceLoad`), which would stall any page being rendered at that moment by another
/// server in the same process (the integration tests run many); the routes never change, so once
/// is enough.
fn route_list() -> Vec<leptos_axum::AxumRouteListing> {
    static ROUTES: std::sync::OnceLock<Vec<leptos_axum::AxumRouteListing>> = std::sync::OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

/// The whole HTTP surface: health checks, server functions, pages and static files, wrapped in
/// sessions, security headers, compression and request logging.
pub fn router(settings: &Settings, state: AppState) -> Router {
    let routes = route_list();
    let sessions = SessionManagerLayer::new(SeaOrmSessionStore::new(state.db.clone(), state.file_keys.derive(app::backend::session_store::SESSION_ID_PURPOSE)))
        .with_name(if settings.secure_cookies() { SECURE_SESSION_COOKIE } else { SESSION_COOKIE })
        .with_path("/")
        .with_http_only(true)
        // Lax, not Strict: Strict would drop the cookie on the identity provider's redirect back.
        .with_same_site(SameSite::Lax)
        .with_secure(settings.secure_cookies())
        // The sign-in's own idle and absolute limits are enforced on its `login_session` row. The
        // cookie session lives longer (the absolute limit, counted from the last request), so a
        // browser coming back after an idle time-out is told why it was signed out, and the
        // time-out is audited.
        .with_expiry(Expiry::OnInactivity(time::Duration::hours(i64::from(
            settings.session_absolute_hours,
        ))));
    let headers = Arc::new(SecurityHeaders {
        hsts: settings.served_over_tls(),
        dev_reload: settings.environment == Environment::Development,
        form_targets: security::origins(settings.oidc_providers.iter().map(|p| p.issuer.as_str())),
    });
    let leptos_options = state.leptos_options.clone();

    // Operational figures, for whoever holds the token (none set: no route at all).
    let metrics = settings.metrics_token.clone().map(|token| {
        let token = Arc::new(token);
        get(move |state, headers| crate::metrics::serve(state, headers, token.clone()))
    });
    let router = Router::new();
    let router = match metrics {
        Some(handler) => router.route("/metrics", handler),
        None => router,
    };
    router
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/admin/audit.csv", get(app::backend::export::audit_csv))
        .route("/staff/desk.csv", get(app::backend::export::desk_csv))
        .route("/record/documents/{id}/download", get(app::backend::export::document_download))
        .route("/record/download/file", get(app::backend::export::download_now))
        .route("/record/send", axum::routing::post(app::backend::export::send_now))
        .route("/oauth/authorize/decision", axum::routing::post(app::backend::smart::routes::decide))
        .route(
            "/verify/file",
            axum::routing::post(app::backend::export::verify_file)
                // Hashed as it streams: the limit is the largest copy, not memory.
                .layer(axum::extract::DefaultBodyLimit::max(app::backend::export::VERIFY_MAX_BYTES + 64 * 1024)),
        )
        .route("/requests/{id}/files/{kind}", get(app::backend::export::release_file_download).post(app::backend::export::release_file_download))
        .route("/shared/{token}", axum::routing::post(app::backend::export::shared_open))
        .route("/disclosures.pdf", get(app::backend::export::accounting_pdf))
        .route("/representatives/{id}/documents/{doc}", get(app::backend::export::representative_document))
        .route(
            "/representatives/new",
            axum::routing::post(app::backend::upload::representative)
                // Five documents at the largest accepted size, plus the form's own bytes: a larger
                // body (a 200 MB upload) is cut off and answered with the size limit.
                .layer(axum::extract::DefaultBodyLimit::max(usize::try_from(settings.representative_document_max_bytes.saturating_mul(5)).unwrap_or(usize::MAX).saturating_add(64 * 1024))),
        )
        .route(
            "/staff/intake/new",
            axum::routing::post(app::backend::upload::intake)
                // Ten scans at the largest accepted size, plus the form's own bytes.
                .layer(axum::extract::DefaultBodyLimit::max(usize::try_from(settings.representative_document_max_bytes.saturating_mul(10)).unwrap_or(usize::MAX).saturating_add(64 * 1024))),
        )
        .route(app::backend::auth::oidc::CALLBACK_PATH, get(app::backend::oidc_routes::callback))
        .route(
            "/staff/import/upload",
            axum::routing::post(app::backend::upload::upload)
                // The largest accepted file plus the form's own bytes.
                .layer(axum::extract::DefaultBodyLimit::max(usize::try_from(settings.import_max_file_bytes).unwrap_or(usize::MAX).saturating_add(64 * 1024))),
        )
        .leptos_routes_with_context(&state, routes, security::provide_request_nonce, move || {
            shell(leptos_options.clone())
        })
        .fallback(leptos_axum::file_and_error_handler_with_context::<AppState, _>(
            security::provide_request_nonce,
            shell,
        ))
        .with_state(state.clone())
        .layer(sessions)
        // Arguments that do not decode are the caller's mistake: 400 naming the field, not 500.
        .layer(axum::middleware::from_fn(crate::api_errors::argument_errors))
        .layer(axum::middleware::from_fn(security::same_origin_writes))
        // What apps call (the FHIR API, SMART discovery, the token and revocation endpoints):
        // bearer tokens and client credentials, no cookies, so outside the session and the
        // same-site check, and open to other origins (a browser app lives on its own site).
        .merge(app::backend::smart::fhir::routes().with_state(state))
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(security::RateLimit::per_minute(settings.auth_rate_limit_per_minute)),
            security::rate_limit,
        ))
        .layer(CatchPanicLayer::custom(panic_page))
        .layer(axum::middleware::from_fn_with_state(headers, security::headers))
        .layer(CompressionLayer::new())
        // Decided before anything reads the client's address (the rate limit above all).
        .layer(axum::middleware::from_fn_with_state(Arc::new(settings.trusted_proxies()), crate::proxy::client_address))
        .layer(axum::middleware::from_fn(telemetry::request_span))
}

/// The answer when a handler panics: a plain page with no detail (the panic is logged).
fn panic_page(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    let body = "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
        <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
        <title>Something went wrong · Patient portal</title></head><body>\
        <h1>Something went wrong</h1><p>Please try again in a moment.</p>\
        <p><a href=\"/\">Go to the home page</a></p></body></html>";
    let mut response = (StatusCode::INTERNAL_SERVER_ERROR, body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    response
}

/// Deletes expired cookie sessions and ends (and audits) sign-ins that went idle or reached their
/// absolute limit while nobody came back to them.
async fn delete_expired_sessions(store: SeaOrmSessionStore, auth: app::backend::auth::AuthConfig, period: Duration) {
    let mut interval = tokio::time::interval(period);
    loop {
        interval.tick().await;
        if let Err(error) = store.delete_expired().await {
            tracing::warn!(%error, "deleting expired sessions failed; will retry");
        }
        match app::backend::auth::sessions::sweep(store.db(), &auth).await {
            Ok(0) => {}
            Ok(ended) => tracing::info!(ended, "ended timed-out sign-ins"),
            Err(error) => tracing::warn!(%error, "ending timed-out sign-ins failed; will retry"),
        }
    }
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
