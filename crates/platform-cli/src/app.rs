//! The command line's definition and dispatch. Each command lives in its own module; this one
//! parses arguments, picks the output style and turns a [`Failure`] into its message and exit code.

mod admin;
mod cloudflare;
mod config_cmd;
mod deploy;
mod doctor;
mod failure;
mod http;
mod init;
mod render;
#[cfg(test)]
mod routes;
mod schema;
mod target;
mod wire;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

pub use failure::{Exit, Failure};
pub use render::Output;

/// Operate the Workers cost guard: check and plan its config, drive its admin API, wire
/// applications to it.
///
/// Endpoints and the admin token come from the environment's section of the config file
/// ($PLATFORM_CONFIG, default ~/.config/platform/config.toml) or from environment variables
/// (PLATFORM_ADMIN_TOKEN, PLATFORM_WORKERS_SUBDOMAIN, PLATFORM_USAGE_URL, ...), never from the
/// command line. Exit status: 0 done, 1 a finding (invalid config, drift, unhealthy), 2 a usage
/// or setup mistake, 3 the platform refused the request, 4 the platform could not be reached.
#[derive(Debug, Parser)]
#[command(name = "platform", version, about, long_about, max_term_width = 100)]
pub struct Cli {
    /// Answer with the platform's JSON (for scripts) instead of tables.
    #[arg(long, global = true)]
    json: bool,
    /// The environment to act on: a section of the config file, e.g. `staging`.
    #[arg(long = "env", global = true, env = "PLATFORM_ENV", value_name = "NAME")]
    environment: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Create (or find) the account's KV namespace, D1 database and queues, and write their ids
    /// into the wrangler configs; make the admin token. Needs CLOUDFLARE_API_TOKEN.
    Init(init::InitArgs),
    /// Migrate D1, set the secrets, deploy every worker in dependency order, check each /health.
    Deploy(deploy::DeployArgs),
    /// Check everything an operator would, and say how to fix what is wrong.
    Doctor(doctor::DoctorArgs),
    /// Check, plan and apply services.yaml and budgets.yaml.
    #[command(subcommand)]
    Config(config_cmd::ConfigCommand),
    /// The global stop, paused projects and open breakers with today's usage against budget.
    Status,
    /// A feature's daily usage, newest day first, against its daily budget.
    Usage(admin::UsageArgs),
    /// The account's cost, as platform-usage reports it (`GET /cost`).
    Cost(admin::CostArgs),
    /// Every worker's /health: handlers, crons, bindings.
    Health,
    /// Breaker transitions, newest first.
    Events(admin::EventsArgs),
    /// Trip a feature's breaker by hand, or close it.
    #[command(subcommand)]
    Features(admin::FeatureCommand),
    /// Pause a project's consumers by hand, or resume them.
    #[command(subcommand)]
    Projects(admin::ProjectCommand),
    /// Stop every consumer of the account (a global stop). Ingestion goes on.
    Stop(admin::ReasonArgs),
    /// Release the global stop.
    Resume,
    /// Error groups the error collector files as GitHub issues.
    #[command(subcommand)]
    Errors(admin::ErrorCommand),
    /// Transient-error patterns proposed by pattern discovery.
    #[command(subcommand)]
    Patterns(admin::PatternCommand),
    /// Telemetry gaps the sentinel sees: features and scripts gone silent; `gaps file` files one.
    Gaps(admin::GapsArgs),
    /// The scripts whose tail events reach the error collector, and when the last one did.
    Scripts,
    /// Cost anomalies the sentinel found, open first.
    Anomalies(admin::AnomaliesArgs),
    /// Silence the sentinel's alerts for a project, feature or kind for a while.
    #[command(subcommand)]
    Silences(admin::SilenceCommand),
    /// The account's own usage from Cloudflare's analytics, and its backfill.
    #[command(subcommand)]
    Account(admin::AccountCommand),
    /// platform-usage's operator settings.
    #[command(subcommand)]
    Settings(admin::SettingsCommand),
    /// Telemetry that was rejected or dead-lettered.
    #[command(subcommand)]
    Dlq(admin::DlqCommand),
    /// The people who receive in-app notifications.
    #[command(subcommand)]
    Notifications(admin::NotificationCommand),
    /// Connect an application Worker: add the platform's KV binding, telemetry queue producer and
    /// tail consumer to its wrangler config, and print the SDK lines to add.
    Wire(wire::WireArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions { shell: clap_complete::Shell },
}

/// Where the operator's files are, for the commands that read them.
#[derive(Debug, clap::Args)]
pub struct ConfigDir {
    /// The directory with services.yaml and budgets.yaml.
    #[arg(long = "config", default_value = "config", value_name = "DIR")]
    pub dir: PathBuf,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let output = Output::new(cli.json, color_wanted());
    match run(cli, &output) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            output.failure(&failure);
            ExitCode::from(failure.code as u8)
        }
    }
}

/// Colour only on a terminal, and never when NO_COLOR is set to anything (no-color.org).
fn color_wanted() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()) && std::io::stdout().is_terminal()
}

fn run(cli: Cli, output: &Output) -> Result<(), Failure> {
    let env = cli.environment.as_deref();
    match cli.command {
        Command::Config(command) => config_cmd::run(command, env, output),
        Command::Wire(args) => wire::run(args, env, output),
        Command::Init(args) => init::run(args, env, output),
        Command::Deploy(args) => deploy::run(args, env, output),
        Command::Doctor(args) => doctor::run(args, env, output),
        Command::Completions { shell } => {
            clap_complete::generate(shell, &mut Cli::command(), "platform", &mut std::io::stdout());
            Ok(())
        }
        command => {
            let platform = target::Platform::resolve(env)?;
            admin::run(admin_command(command)?, &platform, output)
        }
    }
}

fn admin_command(command: Command) -> Result<admin::Command, Failure> {
    Ok(match command {
        Command::Status => admin::Command::Status,
        Command::Usage(args) => admin::Command::Usage(args),
        Command::Cost(args) => admin::Command::Cost(args),
        Command::Health => admin::Command::Health,
        Command::Events(args) => admin::Command::Events(args),
        Command::Features(c) => admin::Command::Features(c),
        Command::Projects(c) => admin::Command::Projects(c),
        Command::Stop(args) => admin::Command::Stop(args),
        Command::Resume => admin::Command::Resume,
        Command::Errors(c) => admin::Command::Errors(c),
        Command::Patterns(c) => admin::Command::Patterns(c),
        Command::Gaps(args) => admin::Command::Gaps(args),
        Command::Scripts => admin::Command::Scripts,
        Command::Anomalies(args) => admin::Command::Anomalies(args),
        Command::Silences(c) => admin::Command::Silences(c),
        Command::Account(c) => admin::Command::Account(c),
        Command::Settings(c) => admin::Command::Settings(c),
        Command::Dlq(c) => admin::Command::Dlq(c),
        Command::Notifications(c) => admin::Command::Notifications(c),
        Command::Config(_)
        | Command::Completions { .. }
        | Command::Wire(_)
        | Command::Init(_)
        | Command::Deploy(_)
        | Command::Doctor(_) => return Err(Failure::usage("not an admin command")),
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_is_well_formed() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
