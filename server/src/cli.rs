//! The `portal` command line. `serve` is the default; `migrate` drives the schema by hand. Later
//! features add their own subcommands (`import`, `admin`, `verify-audit`) as new `Command` arms.

use crate::error::StartupError;
use crate::settings::{self, Settings};
use crate::startup::{Application, shutdown_signal};
use crate::{database, telemetry};
use clap::{Parser, Subcommand};
use migrations::{Migrator, MigratorTrait};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(name = "portal", version, about = "Patient-access portal: records, copies, release of information")]
pub struct Cli {
    /// TOML settings file; environment variables override what it says.
    #[arg(long, short, global = true, env = "PORTAL_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the portal (the default when no command is given).
    #[command(after_help = settings::help_text())]
    Serve,
    /// Apply, roll back or list database migrations.
    Migrate {
        #[command(subcommand)]
        action: MigrateAction,
    },
    /// Manage accounts from the command line (the first administrator, emergencies).
    Admin {
        #[command(subcommand)]
        action: AdminAction,
    },
    /// Register and list the apps patients may connect to the FHIR API (SMART on FHIR).
    Apps {
        #[command(subcommand)]
        action: AppsAction,
    },
    /// Check the audit trail: its seals under audit_key, its checkpoints (in the database and the
    /// checkpoint file) and its guards; name the first altered or missing event.
    VerifyAudit,
    /// Import FHIR R4 files (Bundles, or NDJSON with one resource per line), or folders of them.
    /// Each file is imported whole or not at all; the others go on. Exits 1 if any file failed.
    Import {
        /// Files and folders (folders are read recursively: *.json, *.ndjson).
        #[arg(required = true, value_name = "PATH")]
        paths: Vec<PathBuf>,
    },
    /// The keys of `file_keys`.
    Keys {
        #[command(subcommand)]
        action: KeysAction,
    },
    /// Benchmarks (figures for the README, not tests).
    Bench {
        #[command(subcommand)]
        action: BenchAction,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeysAction {
    /// Seal everything sealed under an older key again under the first key of `file_keys`
    /// (released files, passcode links, representatives' documents, authenticator secrets), so
    /// the old key can be dropped. Resumable; audited; exits 1 if a value could not be opened.
    Reseal,
}

#[derive(Debug, Subcommand)]
pub enum BenchAction {
    /// Import one FHIR file into a fresh SQLite database and compare with a plain JSON parse of
    /// the same bytes (default: the largest shared fixture).
    Import {
        #[arg(value_name = "FILE", default_value = "tests/fixtures/fhir/synthea/057aa36e-b892-9964-75b9-ffb46b097e34.json")]
        file: PathBuf,
    },
    /// Render the full-record PDF of one patient file, and compare with headless Chromium
    /// printing the same content from HTML (default: the largest shared fixture).
    Pdf {
        #[arg(value_name = "FILE", default_value = "tests/fixtures/fhir/synthea/057aa36e-b892-9964-75b9-ffb46b097e34.json")]
        file: PathBuf,
        /// The Chromium to compare with.
        #[arg(long, default_value = "/usr/bin/chromium")]
        chromium: PathBuf,
    },
    /// Seed a fresh SQLite database with this many release requests (five years of a busy desk)
    /// and time the HIM lead's dashboard on it (target: under 200 ms with 1,000,000).
    Desk {
        #[arg(long, default_value_t = 1_000_000)]
        requests: u64,
    },
    /// The portal under load beside a bare axum "hello": wrk drives each endpoint of a fixed mix
    /// (record summary, a section page, the HIM queue and its search, an audit-report day, a copy
    /// request), signed in; prints req/s, p50, p99 and the ratio to bare axum. Needs `wrk`.
    Http {
        #[arg(value_name = "FILE", default_value = "tests/fixtures/fhir/synthea/ab5537a3-8608-5f56-53f5-d10b00eb4680.json")]
        file: PathBuf,
        /// Seconds per endpoint.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        #[arg(long, default_value_t = 64)]
        connections: u32,
        /// Run on this PostgreSQL database (in a fresh schema, dropped afterwards) instead of a
        /// fresh SQLite file.
        #[arg(long, value_name = "URL")]
        postgres: Option<String>,
        /// Only the endpoints whose name contains this text (e.g. `summary`).
        #[arg(long, value_name = "TEXT")]
        only: Option<String>,
        /// Portal servers in this process sharing the database (the connections split among them).
        #[arg(long, default_value_t = 1)]
        servers: usize,
        /// Milliseconds added to every round trip to PostgreSQL by a proxy in between (what a
        /// database on another machine costs); needs --postgres.
        #[arg(long, value_name = "MS", default_value_t = 0)]
        db_latency_ms: u64,
        /// Before measuring, seed this many more patients copied from the shared fixtures
        /// (as `bench seed` does).
        #[arg(long, default_value_t = 0)]
        patients: u64,
        /// Before measuring, seed this many release requests for the seeded patients.
        #[arg(long, default_value_t = 0)]
        requests: u64,
    },
    /// Build a scale database in the configured database (DATABASE_URL, or the data directory's
    /// SQLite file): the shared fixtures imported, then this many patients copied from them under
    /// new ids, names and dates, and this many release requests, with a progress bar.
    Seed {
        #[arg(long, default_value_t = 100_000)]
        patients: u64,
        #[arg(long, default_value_t = 1_000_000)]
        requests: u64,
        /// The FHIR files the patients are copied from.
        #[arg(long, value_name = "DIR", default_value = crate::seed::FIXTURES)]
        fixtures: PathBuf,
    },
    /// Time "Download now" of one patient's whole record, as the patient, in each format:
    /// server time from the access check to the finished file (default: the largest shared fixture).
    Download {
        #[arg(value_name = "FILE", default_value = "tests/fixtures/fhir/synthea/057aa36e-b892-9964-75b9-ffb46b097e34.json")]
        file: PathBuf,
        /// Only one part: a format, or the PDF of the record with scanned pages (for a heap
        /// profile of one download: `scripts/heap_download.py`).
        #[arg(long, value_parser = ["pdf", "fhir", "ccda", "zip", "scanned"])]
        only: Option<String>,
    },
    /// Time the FHIR API as an app with `patient/*.rs` reads one patient's record: a search page
    /// of 50 observations and `Patient/$everything`, server time from the access check to the
    /// JSON text (default: the largest shared fixture).
    Fhir {
        #[arg(value_name = "FILE", default_value = "tests/fixtures/fhir/synthea/057aa36e-b892-9964-75b9-ffb46b097e34.json")]
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
pub enum AdminAction {
    /// Create an account. Without --password-stdin a random temporary password is printed once.
    CreateUser {
        #[arg(long)]
        email: String,
        /// The name shown in the portal and in audit reports.
        #[arg(long)]
        name: String,
        /// A role to grant (repeat for several): patient, caregiver, him_staff, him_reviewer, administrator, him_lead.
        #[arg(long = "role", required = true, value_parser = parse_role)]
        roles: Vec<app::domain::Role>,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Grant a role to an existing account (its sessions end: it signs in again).
    GrantRole {
        #[arg(long)]
        email: String,
        #[arg(long, value_parser = parse_role)]
        role: app::domain::Role,
    },
    /// Revoke a role from an account (its sessions end).
    RevokeRole {
        #[arg(long)]
        email: String,
        #[arg(long, value_parser = parse_role)]
        role: app::domain::Role,
    },
    /// Disable the demo accounts (published passwords) so the server starts outside demo mode.
    PurgeDemo,
}

fn parse_role(input: &str) -> Result<app::domain::Role, String> {
    app::domain::Role::parse(input).ok_or_else(|| {
        let names: Vec<&str> = app::domain::Role::ALL.iter().map(|r| r.as_str()).collect();
        format!("unknown role `{input}`; use one of {}", names.join(", "))
    })
}

#[derive(Debug, Subcommand)]
pub enum AppsAction {
    /// Register an app: prints its client_id (and, for a confidential app, its secret, once).
    Register {
        /// Its name as patients see it when they are asked to connect it.
        #[arg(long)]
        name: String,
        /// A redirect URI it will use, exactly (repeat for several): https, or http to localhost.
        #[arg(long = "redirect-uri", required = true)]
        redirect_uris: Vec<String>,
        /// It keeps a secret on its own server (otherwise public: PKCE alone).
        #[arg(long)]
        confidential: bool,
    },
    /// List the registered apps.
    List,
}

#[derive(Debug, Subcommand)]
pub enum MigrateAction {
    /// Apply every pending migration.
    Up,
    /// Roll back the most recent migrations.
    Down {
        /// How many to roll back.
        #[arg(long, default_value_t = 1)]
        steps: u32,
    },
    /// List every migration and whether it is applied.
    Status,
}

/// Entry point for the binary: runs the command and turns any failure into one line on stderr
/// and exit code 1 (no panic, no backtrace).
pub fn main() -> ExitCode {
    main_from(std::env::args_os())
}

/// [`main`] with the arguments given (the first names the program): the fault suite runs the
/// portal as its own child process this way, so it can kill it with SIGKILL.
pub fn main_from<I, T>(args: I) -> ExitCode
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = Cli::parse_from(args);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs one command.
pub async fn run(cli: Cli) -> Result<(), StartupError> {
    let settings = Settings::load(cli.config.as_deref())?;
    if matches!(cli.command, Some(Command::Bench { .. })) {
        // A benchmark measures the portal, not its terminal: warnings only (one line per
        // request at 10,000 requests a second would be the figure).
        telemetry::init(&Settings { log_level: "warn".into(), ..settings.clone() });
    } else {
        telemetry::init(&settings);
    }
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings).await,
        Command::Migrate { action } => migrate(&settings, action).await.map(|report| println!("{report}")),
        Command::Admin { action } => {
            let password = match &action {
                AdminAction::CreateUser { password_stdin: true, .. } => {
                    let mut line = String::new();
                    std::io::stdin()
                        .read_line(&mut line)
                        .map_err(|e| StartupError::Admin(format!("cannot read the password from standard input: {e}")))?;
                    Some(line.trim_end_matches(['\r', '\n']).to_string())
                }
                _ => None,
            };
            admin(&settings, action, password).await.map(|report| println!("{report}"))
        }
        Command::Apps { action } => apps(&settings, action).await.map(|report| println!("{report}")),
        Command::Import { paths } => {
            let report = crate::import::import(&settings, &paths).await?;
            println!("{}", report.text);
            if report.failed > 0 {
                return Err(StartupError::Import(format!("{} of {} file(s) failed (see above)", report.failed, report.files)));
            }
            Ok(())
        }
        Command::Bench { action: BenchAction::Pdf { file, chromium } } => {
            println!("{}", crate::import::bench_pdf(&settings, &file, &chromium).await?);
            Ok(())
        }
        Command::Bench { action: BenchAction::Desk { requests } } => {
            println!("{}", crate::import::bench_desk(&settings, requests).await?);
            Ok(())
        }
        Command::Bench { action: BenchAction::Http { file, seconds, connections, postgres, only, servers, db_latency_ms, patients, requests } } => {
            let scale = crate::seed::Scale { patients, requests };
            let run = crate::bench_http::Run { seconds, connections, postgres: postgres.as_deref(), only: only.as_deref(), servers, db_latency_ms, scale };
            println!("{}", crate::bench_http::bench_http(&settings, &file, run).await?);
            Ok(())
        }
        Command::Bench { action: BenchAction::Seed { patients, requests, fixtures } } => {
            println!("{}", crate::seed::bench_seed(&settings, &fixtures, crate::seed::Scale { patients, requests }).await?);
            Ok(())
        }
        Command::Bench { action: BenchAction::Download { file, only } } => {
            println!("{}", crate::import::bench_download(&settings, &file, only.as_deref()).await?);
            Ok(())
        }
        Command::Bench { action: BenchAction::Fhir { file } } => {
            println!("{}", crate::import::bench_fhir(&settings, &file).await?);
            Ok(())
        }
        Command::Bench { action: BenchAction::Import { file } } => {
            println!("{}", crate::import::bench(&settings, &file).await?);
            Ok(())
        }
        Command::Keys { action: KeysAction::Reseal } => {
            let report = reseal(&settings, true).await?;
            println!("{}", report.text);
            if report.unreadable > 0 {
                return Err(StartupError::Admin(format!(
                    "{} value(s) could not be opened with any key of file_keys: keep the key that sealed them until they are dealt with",
                    report.unreadable
                )));
            }
            Ok(())
        }
        Command::VerifyAudit => {
            let report = verify_audit(&settings).await?;
            println!("{report}");
            match report {
                app::backend::audit::ChainReport::Intact { .. } => Ok(()),
                _ => Err(StartupError::AuditBroken),
            }
        }
    }
}

/// Runs an account command and returns what to print. `password` is the one read from stdin.
/// `portal apps`: registers an app (audited) or lists them.
pub async fn apps(settings: &Settings, action: AppsAction) -> Result<String, StartupError> {
    use app::backend::smart::apps;
    let db = database::connect(settings).await?;
    database::migrate_up(&db).await?;
    let fail = |e: app::error::AppError| match e {
        app::error::AppError::Validation { fields } => {
            StartupError::Admin(fields.iter().map(|f| format!("--{}: {}", f.field.replace('_', "-"), f.message)).collect::<Vec<_>>().join("; "))
        }
        other => StartupError::Admin(other.to_string()),
    };
    let report = match action {
        AppsAction::Register { name, redirect_uris, confidential } => {
            let app = apps::register(&db, &name, &redirect_uris, confidential, None, &app::backend::request::RequestMeta::command_line()).await.map_err(fail)?;
            match app.secret {
                Some(secret) => format!("Registered {name} (confidential).\nclient_id: {}\nclient_secret: {secret}\nThe secret is shown only now; only its hash is kept.", app.client_id),
                None => format!("Registered {name} (public: PKCE alone).\nclient_id: {}", app.client_id),
            }
        }
        AppsAction::List => {
            let rows = apps::list(&db).await.map_err(fail)?;
            if rows.is_empty() {
                "No app is registered.".to_string()
            } else {
                rows.iter()
                    .map(|a| format!("{}  {}  {}{}  {}", a.client_id, a.name, if a.confidential { "confidential" } else { "public" }, if a.disabled { " (disabled)" } else { "" }, a.redirect_uris.join(" ")))
                    .collect::<Vec<_>>()
                    .join("\n")
            }
        }
    };
    db.close_by_ref().await.ok();
    Ok(report)
}

pub async fn admin(settings: &Settings, action: AdminAction, password: Option<String>) -> Result<String, StartupError> {
    use app::backend::auth::{Auth, users};
    use app::backend::request::RequestMeta;
    use app::domain::EmailAddress;
    let db = database::connect(settings).await?;
    database::migrate_up(&db).await?;
    let fail = |e: &dyn std::fmt::Display| StartupError::Admin(e.to_string());
    let request = RequestMeta::command_line();
    let email_of = |input: &str| EmailAddress::parse(input).map_err(|e| StartupError::Admin(format!("--email: {e}")));
    let granting = matches!(action, AdminAction::GrantRole { .. });
    let report = match action {
        AdminAction::PurgeDemo => {
            let disabled = app::backend::demo::purge(&db).await.map_err(|e| fail(&e))?;
            if disabled.is_empty() {
                "No demo account can sign in; nothing changed.".to_string()
            } else {
                format!("Disabled the demo accounts {} (audited); their sessions were ended. If no administrator is left, make one with `portal admin create-user --role administrator`.", disabled.join(", "))
            }
        }
        AdminAction::CreateUser { email, name, roles, .. } => {
            let auth = Auth::new(settings.auth_config()).map_err(|e| StartupError::PasswordHashing(e.to_string()))?;
            let email = email_of(&email)?;
            let (password, generated) = match password {
                Some(p) => (p, false),
                None => (random_password(), true),
            };
            let new = users::NewUser {
                email,
                display_name: name,
                password: Some(password.clone()),
                roles: roles.into_iter().collect(),
                patient_id: None,
            };
            let user = users::create(&db, &auth, new, None, &request).await.map_err(|e| fail(&e))?;
            let roles: Vec<&str> = user.roles.iter().map(|r| r.as_str()).collect();
            let mut report = format!("Created {} with role(s) {}.", user.email, roles.join(", "));
            if generated {
                report.push_str(&format!(
                    "\nTemporary password (shown once; change it after signing in): {password}"
                ));
            }
            report
        }
        AdminAction::GrantRole { email, role } | AdminAction::RevokeRole { email, role } => {
            let granted = granting;
            let email = email_of(&email)?;
            let user = users::find_by_email(&db, &email)
                .await
                .map_err(|e| fail(&e))?
                .ok_or_else(|| StartupError::Admin(format!("no account has the email address {email}")))?;
            let changed = users::set_role(&db, &user.id, role, granted, None, &request).await.map_err(|e| fail(&e))?;
            match (changed, granted) {
                (true, true) => format!("Granted {role} to {email}; their sessions were ended."),
                (true, false) => format!("Revoked {role} from {email}; their sessions were ended."),
                (false, true) => format!("{email} already has {role}; nothing changed."),
                (false, false) => format!("{email} does not have {role}; nothing changed."),
            }
        }
    };
    db.close_by_ref().await.ok();
    Ok(report)
}

/// What `portal keys reseal` did.
pub struct ResealReport {
    pub text: String,
    pub resealed: u64,
    pub unreadable: u64,
}

/// `portal keys reseal`: each table in turn, with a progress bar on a terminal (`bars`).
pub async fn reseal(settings: &Settings, bars: bool) -> Result<ResealReport, StartupError> {
    use app::backend::access::reseal::SealedTable;
    use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
    let db = database::connect(settings).await?;
    database::migrate_up(&db).await?;
    let keys = settings.file_keys();
    let system = app::backend::access::SystemContext::command_line(db.clone(), settings.site_code.clone());
    let fail = |e: sea_orm::DbErr| StartupError::Admin(format!("resealing failed (run it again to resume): {e}"));
    let style = ProgressStyle::with_template("{prefix:>28} [{bar:30}] {pos}/{len}").unwrap_or_else(|_| ProgressStyle::default_bar()).progress_chars("=> ");
    let mut report = ResealReport { text: format!("Sealing under key {}:", keys.current_id()), resealed: 0, unreadable: 0 };
    for table in SealedTable::ALL {
        let bar = ProgressBar::new(0).with_style(style.clone()).with_prefix(table.label());
        if !bars {
            bar.set_draw_target(ProgressDrawTarget::hidden());
        }
        let progress = |done: u64, total: u64| {
            bar.set_length(total);
            bar.set_position(done);
        };
        let count = system.reseal(&keys, table, &progress).await.map_err(fail)?;
        bar.finish_and_clear();
        report.text.push_str(&format!("\n  {}: {} resealed, {} unreadable", table.label(), count.resealed, count.unreadable));
        report.resealed += count.resealed;
        report.unreadable += count.unreadable;
    }
    db.close_by_ref().await.ok();
    Ok(report)
}

/// A random temporary password: 20 characters from an alphabet without look-alikes.
fn random_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzACDEFGHJKLMNPQRSTUVWXYZ23456789";
    (0..20).map(|_| ALPHABET[usize::from(rand::random::<u8>()) % ALPHABET.len()] as char).collect()
}

/// Checks the audit trail: the seals under `audit_key`, the checkpoints (the newest one in
/// `audit_checkpoint_file` too) and the triggers, in one snapshot (safe beside a running server).
pub async fn verify_audit(settings: &Settings) -> Result<app::backend::audit::ChainReport, StartupError> {
    let db = database::connect(settings).await?;
    let sealer = settings.audit_sealer();
    let report = app::backend::audit::verify(&db, &sealer.key, sealer.checkpoint_file.as_deref()).await.map_err(|e| StartupError::Admin(e.to_string()))?;
    db.close_by_ref().await.ok();
    Ok(report)
}

async fn serve(settings: Settings) -> Result<(), StartupError> {
    if settings.environment == settings::Environment::Development {
        tracing::warn!("development mode: cookies are not marked Secure; set PORTAL_ENVIRONMENT=production to deploy");
    }
    let app = Application::build(settings).await?;
    tracing::info!(addr = %app.local_addr(), "portal listening on http://{}", app.local_addr());
    app.run_until_stopped(shutdown_signal()).await?;
    tracing::info!("portal stopped");
    Ok(())
}

/// Runs a migration command and returns what to print.
pub async fn migrate(settings: &Settings, action: MigrateAction) -> Result<String, StartupError> {
    let db = database::connect(settings).await?;
    let failed = |e: sea_orm::DbErr| StartupError::Migration(e.to_string());
    let report = match action {
        MigrateAction::Up => {
            let pending = Migrator::get_pending_migrations(&db).await.map_err(failed)?;
            database::migrate_up(&db).await?;
            if pending.is_empty() {
                "The database is up to date; nothing to apply.".to_string()
            } else {
                let names: Vec<&str> = pending.iter().map(|m| m.name()).collect();
                format!("Applied {} migration(s): {}", names.len(), names.join(", "))
            }
        }
        MigrateAction::Down { steps } => {
            let applied = Migrator::get_applied_migrations(&db).await.map_err(failed)?;
            if applied.is_empty() {
                "No migrations are applied; nothing to roll back.".to_string()
            } else {
                let count = steps.min(applied.len() as u32);
                let names: Vec<&str> = applied.iter().rev().take(count as usize).map(|m| m.name()).collect();
                Migrator::down(&db, Some(count)).await.map_err(failed)?;
                format!("Rolled back {} migration(s): {}", names.len(), names.join(", "))
            }
        }
        MigrateAction::Status => {
            let all = Migrator::get_migration_with_status(&db).await.map_err(failed)?;
            let mut lines = vec![format!("{} migration(s):", all.len())];
            lines.extend(all.iter().map(|m| format!("  {:<8} {}", m.status().to_string(), m.name())));
            lines.join("\n")
        }
    };
    db.close_by_ref().await.ok();
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn serve_is_the_default() {
        let cli = Cli::try_parse_from(["portal"]).expect("parses");
        assert!(cli.command.is_none());
    }

    #[test]
    fn serve_help_lists_every_setting() {
        let mut command = Cli::command();
        let serve = command.find_subcommand_mut("serve").expect("serve exists");
        let help = serve.render_long_help().to_string();
        for doc in settings::DOCS {
            assert!(help.contains(&settings::env_name(doc.key)), "missing {}", doc.key);
        }
    }
}

