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
    let cli = Cli::parse();
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
    telemetry::init(&settings);
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(settings).await,
        Command::Migrate { action } => migrate(&settings, action).await.map(|report| println!("{report}")),
    }
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
