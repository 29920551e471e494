//! The admin API as commands: one function per route, each answer shown as a table (or as the
//! platform's JSON with `--json`).

use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use platform_core::{FeatureKey, ProjectId};
use platform_kv::PlatformWorker;
use serde_json::{json, Value};

use super::http::Client;
use super::render::{bar, cell, number, when, Output, Tone};
use super::target::Platform;
use super::{Exit, Failure};

const USAGE: PlatformWorker = PlatformWorker::PlatformUsage;
const COLLECTOR: PlatformWorker = PlatformWorker::ErrorCollector;
const PATTERNS: PlatformWorker = PlatformWorker::PatternDiscovery;
const SENTINEL: PlatformWorker = PlatformWorker::Sentinel;
const NOTIFICATIONS: PlatformWorker = PlatformWorker::Notifications;

#[derive(Debug)]
pub enum Command {
    Status,
    Usage(UsageArgs),
    Cost(CostArgs),
    Health,
    Events(EventsArgs),
    Features(FeatureCommand),
    Projects(ProjectCommand),
    Stop(ReasonArgs),
    Resume,
    Errors(ErrorCommand),
    Patterns(PatternCommand),
    Gaps(GapsArgs),
    Scripts,
    Anomalies(AnomaliesArgs),
    Silences(SilenceCommand),
    Account(AccountCommand),
    Settings(SettingsCommand),
    Dlq(DlqCommand),
    Notifications(NotificationCommand),
}

#[derive(Debug, Args)]
pub struct UsageArgs {
    /// The feature, `project:category:feature`.
    pub feature: String,
    /// How many UTC days, today included.
    #[arg(long, default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..=90))]
    pub days: u32,
}

#[derive(Debug, Args)]
pub struct CostArgs {
    /// The period: `day` (today so far) or `month` (the billing month so far).
    #[arg(long, default_value = "month", value_parser = ["day", "month"])]
    pub period: String,
}

#[derive(Debug, Args)]
pub struct EventsArgs {
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=500))]
    pub limit: u32,
}

#[derive(Debug, Args)]
pub struct ReasonArgs {
    /// Why: kept with the change and shown in /status and alerts.
    #[arg(long)]
    pub reason: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum FeatureCommand {
    /// Trip the breaker by hand; it stays open until `features enable`.
    Disable {
        feature: String,
        #[command(flatten)]
        reason: ReasonArgs,
    },
    /// Close the breaker, manual or automatic.
    Enable { feature: String },
}

#[derive(Debug, Subcommand)]
pub enum ProjectCommand {
    /// Pause every feature of the project until `projects resume`.
    Pause {
        project: String,
        #[command(flatten)]
        reason: ReasonArgs,
    },
    Resume {
        project: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ErrorCommand {
    /// Error groups, most recent first.
    List {
        #[arg(long)]
        project: Option<String>,
        #[arg(long)]
        script: Option<String>,
        /// open, resolved or muted.
        #[arg(long, value_parser = ["open", "resolved", "muted"])]
        status: Option<String>,
        /// P0 to P4.
        #[arg(long)]
        priority: Option<String>,
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=500))]
        limit: u32,
    },
    /// One error group with its sample, context and issue.
    Show {
        fingerprint: String,
    },
    /// Stop commenting on the group's issue (its occurrences are still counted).
    Mute {
        fingerprint: String,
    },
    Unmute {
        fingerprint: String,
    },
    /// Close the group's issue; a new occurrence reopens it as a regression.
    Resolve {
        fingerprint: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum PatternCommand {
    /// Proposed, shadow-tested and approved patterns.
    List,
    Show {
        id: String,
    },
    /// Let the pattern classify matching errors as transient.
    Approve {
        id: String,
    },
    Reject {
        id: String,
        #[command(flatten)]
        reason: ReasonArgs,
    },
    /// Withdraw an approved pattern.
    Disable {
        id: String,
        #[command(flatten)]
        reason: ReasonArgs,
    },
    /// Run discovery now (bounded as the daily run is) and show its report.
    Discover,
    /// Rewrite the approved and shadow pattern lists in KV from D1.
    RefreshCache,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct GapsArgs {
    #[command(subcommand)]
    pub command: Option<GapCommand>,
}

#[derive(Debug, Subcommand)]
pub enum GapCommand {
    /// File a coverage-gap issue for a project now (at most one per project per UTC day).
    File {
        project: String,
        /// `owner/name`; default: the repository the project's errors go to.
        #[arg(long)]
        repository: Option<String>,
        /// The share of the project's features sending telemetry, 0 to 1.
        #[arg(long)]
        coverage: Option<f64>,
        /// What is missing, in a sentence: kept in the issue.
        #[arg(long)]
        details: Option<String>,
    },
}

#[derive(Debug, Args)]
pub struct AnomaliesArgs {
    #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=200))]
    pub limit: u32,
}

#[derive(Debug, Subcommand)]
pub enum SilenceCommand {
    /// The silences in force.
    List,
    /// Record matching alerts without sending them, for a while (at least one matcher).
    Add {
        #[arg(long)]
        project: Option<String>,
        #[arg(long)]
        feature: Option<String>,
        /// gap, heartbeat, anomaly or platform.
        #[arg(long, value_parser = ["gap", "heartbeat", "anomaly", "platform"])]
        kind: Option<String>,
        /// How long, in hours (at most 30 days).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=720))]
        hours: u32,
        #[command(flatten)]
        reason: ReasonArgs,
    },
    /// End a silence now (it stays on record).
    End { id: u64 },
}

#[derive(Debug, Subcommand)]
pub enum AccountCommand {
    /// The account's own usage collected from Cloudflare's analytics, per hour range.
    Usage {
        /// From (`YYYY-MM-DD` or ISO 8601, UTC); default: the last 24 settled hours.
        #[arg(long)]
        from: Option<String>,
        /// To, exclusive (at most 31 days after `from`).
        #[arg(long)]
        to: Option<String>,
        #[arg(long, default_value = "product", value_parser = ["product", "project", "script"])]
        by: String,
    },
    /// Collect settled hours again (at most 24), replacing what was collected.
    Backfill {
        #[arg(long)]
        from: String,
        #[arg(long)]
        to: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum SettingsCommand {
    /// The effective settings (stored over the defaults) and any problem with them.
    Show,
    /// Change settings: each `KEY=VALUE` (a number, true/false or text), all validated first.
    Set {
        #[arg(required = true, value_name = "KEY=VALUE")]
        pairs: Vec<String>,
    },
}

#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// Messages still pending.
    List,
    /// Send the stored message back onto the telemetry queue, unchanged.
    Replay {
        id: u64,
    },
    Discard {
        id: u64,
    },
}

#[derive(Debug, Subcommand)]
pub enum NotificationCommand {
    /// The people the notifications worker knows.
    Users,
    /// Register a person: who may read the inbox and the dashboard.
    Add {
        id: String,
        /// `admin` may act from the dashboard; any other role reads.
        #[arg(long)]
        role: String,
        /// The Access email that signs in as them.
        #[arg(long)]
        email: Option<String>,
        #[arg(long = "name")]
        display_name: Option<String>,
    },
    /// Remove a person and revoke their tokens.
    Remove { id: String },
    /// A person's personal tokens (never the token itself).
    Tokens { id: String },
    /// Issue a personal token; it is shown once.
    IssueToken {
        id: String,
        #[arg(long)]
        label: Option<String>,
    },
    /// Revoke one of a person's tokens, by the id `tokens` lists.
    RevokeToken { id: String, token: String },
}

/// A path segment: the platform's ids never need escaping, but a typo with `/` or `?` must not
/// reach another route.
fn segment(raw: &str, what: &str) -> Result<String, Failure> {
    let plain = !raw.is_empty()
        && raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c));
    if plain {
        Ok(raw.to_owned())
    } else {
        Err(Failure::usage(format!("{raw:?} is not a {what}")))
    }
}

fn feature(raw: &str) -> Result<String, Failure> {
    FeatureKey::parse(raw)
        .map(|key| key.as_str().to_owned())
        .map_err(|e| Failure::usage(format!("{e}")).hint("a feature key is project:category:feature"))
}

fn project(raw: &str) -> Result<String, Failure> {
    ProjectId::parse(raw)
        .map(|id| id.as_str().to_owned())
        .map_err(|e| Failure::usage(format!("{e}")))
}

fn reason_body(reason: &ReasonArgs) -> Value {
    match &reason.reason {
        Some(text) => json!({"reason": text}),
        None => json!({}),
    }
}

pub fn run(command: Command, platform: &Platform, out: &Output) -> Result<(), Failure> {
    let client = Client::new(platform);
    let now = Utc::now();
    match command {
        Command::Status => {
            let body = client.get(USAGE, "/status")?;
            out.emit(&body, || print_status(&body, out, now));
        }
        Command::Usage(args) => {
            let key = feature(&args.feature)?;
            let body = client.get(USAGE, &format!("/features/{key}/usage?days={}", args.days))?;
            let status = client.get(USAGE, "/status").unwrap_or(Value::Null);
            out.emit(&body, || print_usage(&body, &status, &key, out));
        }
        Command::Cost(args) => {
            let body = client.get(USAGE, &format!("/cost?period={}", args.period))?;
            out.emit(&body, || print_generic(&body, out, now));
        }
        Command::Health => return health(&client, platform, out, now),
        Command::Events(args) => {
            let body = client.get(USAGE, &format!("/events?limit={}", args.limit))?;
            out.emit(&body, || {
                rows(
                    out,
                    &body["events"],
                    &[
                        ("id", "id"),
                        ("at", "at"),
                        ("scope", "scope"),
                        ("subject", "subject"),
                        ("event", "event"),
                        ("reason", "reason"),
                    ],
                    now,
                    "no breaker events yet",
                )
            });
        }
        Command::Features(FeatureCommand::Disable { feature: raw, reason }) => {
            let key = feature(&raw)?;
            let body = client.post(USAGE, &format!("/features/{key}/disable"), &reason_body(&reason))?;
            out.emit(&body, || {
                println!("{key}: disabled ({})", cell(&body["breaker"]["reason"]))
            });
        }
        Command::Features(FeatureCommand::Enable { feature: raw }) => {
            let key = feature(&raw)?;
            let body = client.post_empty(USAGE, &format!("/features/{key}/enable"))?;
            out.emit(&body, || changed(&body, &key, "enabled", "was not disabled"));
        }
        Command::Projects(ProjectCommand::Pause { project: raw, reason }) => {
            let id = project(&raw)?;
            let body = client.post(USAGE, &format!("/projects/{id}/pause"), &reason_body(&reason))?;
            out.emit(&body, || changed(&body, &id, "paused", "was paused already"));
        }
        Command::Projects(ProjectCommand::Resume { project: raw }) => {
            let id = project(&raw)?;
            let body = client.post_empty(USAGE, &format!("/projects/{id}/resume"))?;
            out.emit(&body, || changed(&body, &id, "resumed", "was not paused"));
        }
        Command::Stop(reason) => {
            let mut body = reason_body(&reason);
            body["enabled"] = json!(true);
            let answer = client.post(USAGE, "/global-stop", &body)?;
            out.emit(&answer, || {
                let label = out.paint("every consumer is stopped", Tone::Bad);
                println!(
                    "{label}: {} (release with `platform resume`)",
                    cell(&answer["reason"])
                );
            });
        }
        Command::Resume => {
            let answer = client.post(USAGE, "/global-stop", &json!({"enabled": false}))?;
            out.emit(&answer, || println!("the global stop is released"));
        }
        Command::Errors(command) => errors(command, &client, out, now)?,
        Command::Patterns(command) => patterns(command, &client, out, now)?,
        Command::Gaps(GapsArgs { command: None }) => {
            let body = client.get(SENTINEL, "/gaps")?;
            out.emit(&body, || print_generic(&body, out, now));
        }
        Command::Gaps(GapsArgs {
            command:
                Some(GapCommand::File {
                    project: raw,
                    repository,
                    coverage,
                    details,
                }),
        }) => {
            let mut request = json!({"project": project(&raw)?});
            if let Some(repository) = repository {
                request["repository"] = json!(repository);
            }
            if let Some(coverage) = coverage {
                if !(0.0..=1.0).contains(&coverage) {
                    return Err(Failure::usage(format!(
                        "--coverage {coverage}: a share from 0 to 1"
                    )));
                }
                request["coverage"] = json!(coverage);
            }
            if let Some(details) = details {
                request["details"] = json!(details);
            }
            let body = client.post(COLLECTOR, "/gap-alerts", &request)?;
            out.emit(&body, || print_record(&body, out, now));
        }
        Command::Scripts => {
            let body = client.get(COLLECTOR, "/scripts")?;
            out.emit(&body, || print_generic(&body, out, now));
        }
        Command::Anomalies(args) => {
            let body = client.get(SENTINEL, &format!("/anomalies?limit={}", args.limit))?;
            out.emit(&body, || print_generic(&body, out, now));
        }
        Command::Silences(command) => silences(command, &client, out, now)?,
        Command::Account(AccountCommand::Usage { from, to, by }) => {
            let mut query = format!("by={by}");
            for (name, value) in [("from", from), ("to", to)] {
                if let Some(value) = value {
                    query.push_str(&format!("&{name}={}", segment(&value, name)?));
                }
            }
            let body = client.get(USAGE, &format!("/usage/account?{query}"))?;
            out.emit(&body, || print_generic(&body, out, now));
        }
        Command::Account(AccountCommand::Backfill { from, to }) => {
            let path = format!(
                "/usage/backfill?from={}&to={}",
                segment(&from, "from")?,
                segment(&to, "to")?
            );
            let body = client.post_empty(USAGE, &path)?;
            out.emit(&body, || print_generic(&body, out, now));
        }
        Command::Settings(SettingsCommand::Show) => {
            let body = client.get(USAGE, "/settings")?;
            out.emit(&body, || print_generic(&body, out, now));
        }
        Command::Settings(SettingsCommand::Set { pairs }) => {
            let body = client.put(USAGE, "/settings", &settings_body(&pairs)?)?;
            out.emit(&body, || print_generic(&body, out, now));
        }
        Command::Dlq(DlqCommand::List) => {
            let body = client.get(USAGE, "/dlq")?;
            out.emit(&body, || {
                rows(
                    out,
                    &body["messages"],
                    &[
                        ("id", "id"),
                        ("kind", "kind"),
                        ("reason", "reason"),
                        ("received", "received_at"),
                        ("status", "status"),
                    ],
                    now,
                    "no rejected telemetry pending",
                )
            });
        }
        Command::Dlq(DlqCommand::Replay { id }) => {
            let body = client.post_empty(USAGE, &format!("/dlq/{id}/replay"))?;
            out.emit(&body, || println!("message {id}: replayed"));
        }
        Command::Dlq(DlqCommand::Discard { id }) => {
            let body = client.post_empty(USAGE, &format!("/dlq/{id}/discard"))?;
            out.emit(&body, || println!("message {id}: discarded"));
        }
        Command::Notifications(command) => notifications(command, &client, out, now)?,
    }
    Ok(())
}

/// `KEY=VALUE` pairs as the settings document: a value that reads as JSON (a number, a boolean)
/// is that, any other is text.
fn settings_body(pairs: &[String]) -> Result<Value, Failure> {
    let mut body = serde_json::Map::new();
    for pair in pairs {
        let Some((key, value)) = pair.split_once('=').filter(|(k, _)| !k.is_empty()) else {
            return Err(Failure::usage(format!("{pair:?} is not KEY=VALUE"))
                .hint("`platform settings show` lists the keys"));
        };
        let value = match serde_json::from_str::<Value>(value) {
            Ok(parsed @ (Value::Number(_) | Value::Bool(_))) => parsed,
            _ => Value::String(value.to_owned()),
        };
        body.insert(key.to_owned(), value);
    }
    Ok(Value::Object(body))
}

fn silences(
    command: SilenceCommand,
    client: &Client,
    out: &Output,
    now: DateTime<Utc>,
) -> Result<(), Failure> {
    let body = match command {
        SilenceCommand::List => {
            let body = client.get(SENTINEL, "/silences")?;
            out.emit(&body, || {
                rows(
                    out,
                    &body["silences"],
                    &[
                        ("id", "id"),
                        ("project", "project"),
                        ("feature", "feature"),
                        ("kind", "kind"),
                        ("until", "expires_at"),
                        ("reason", "reason"),
                    ],
                    now,
                    "no silences in force",
                )
            });
            return Ok(());
        }
        SilenceCommand::Add {
            project: raw_project,
            feature: raw_feature,
            kind,
            hours,
            reason,
        } => {
            if raw_project.is_none() && raw_feature.is_none() && kind.is_none() {
                return Err(Failure::usage("a silence needs a matcher")
                    .hint("give --project, --feature or --kind (or several)"));
            }
            let mut request = reason_body(&reason);
            request["expires_at"] = json!((now + chrono::Duration::hours(i64::from(hours)))
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, true));
            if let Some(raw) = raw_project {
                request["project"] = json!(project(&raw)?);
            }
            if let Some(raw) = raw_feature {
                request["feature"] = json!(feature(&raw)?);
            }
            if let Some(kind) = kind {
                request["kind"] = json!(kind);
            }
            client.post(SENTINEL, "/silences", &request)?
        }
        SilenceCommand::End { id } => client.delete(SENTINEL, &format!("/silences/{id}"))?,
    };
    out.emit(&body, || print_generic(&body, out, now));
    Ok(())
}

fn notifications(
    command: NotificationCommand,
    client: &Client,
    out: &Output,
    now: DateTime<Utc>,
) -> Result<(), Failure> {
    let body = match command {
        NotificationCommand::Users => client.get(NOTIFICATIONS, "/users")?,
        NotificationCommand::Add {
            id,
            role,
            email,
            display_name,
        } => {
            let mut person = json!({"id": id, "role": role});
            if let Some(email) = email {
                person["email"] = json!(email);
            }
            if let Some(name) = display_name {
                person["display_name"] = json!(name);
            }
            client.post(NOTIFICATIONS, "/users", &person)?
        }
        NotificationCommand::Remove { id } => {
            client.delete(NOTIFICATIONS, &format!("/users/{}", segment(&id, "person id")?))?
        }
        NotificationCommand::Tokens { id } => {
            let body = client.get(
                NOTIFICATIONS,
                &format!("/users/{}/tokens", segment(&id, "person id")?),
            )?;
            out.emit(&body, || {
                rows(
                    out,
                    &body["tokens"],
                    &[
                        ("id", "id"),
                        ("label", "label"),
                        ("created", "created_at"),
                        ("revoked", "revoked_at"),
                    ],
                    now,
                    "no tokens issued",
                )
            });
            return Ok(());
        }
        NotificationCommand::IssueToken { id, label } => {
            let request = label.map_or_else(|| json!({}), |label| json!({"label": label}));
            let path = format!("/users/{}/tokens", segment(&id, "person id")?);
            let body = client.post(NOTIFICATIONS, &path, &request)?;
            out.emit(&body, || {
                println!("{}", cell(&body["token"]));
                eprintln!(
                    "token {} for {}: shown once, only its hash is stored",
                    cell(&body["id"]),
                    cell(&body["user"])
                );
            });
            return Ok(());
        }
        NotificationCommand::RevokeToken { id, token } => client.delete(
            NOTIFICATIONS,
            &format!(
                "/users/{}/tokens/{}",
                segment(&id, "person id")?,
                segment(&token, "token id")?
            ),
        )?,
    };
    out.emit(&body, || print_generic(&body, out, now));
    Ok(())
}

fn changed(body: &Value, subject: &str, done: &str, unchanged: &str) {
    if body["changed"] == json!(false) {
        println!("{subject}: nothing to do, it {unchanged}");
    } else {
        println!("{subject}: {done}");
    }
}

fn errors(command: ErrorCommand, client: &Client, out: &Output, now: DateTime<Utc>) -> Result<(), Failure> {
    let (path, action) = match command {
        ErrorCommand::List {
            project,
            script,
            status,
            priority,
            limit,
        } => {
            let mut query = format!("limit={limit}");
            for (name, value) in [
                ("project", project),
                ("script", script),
                ("status", status),
                ("priority", priority),
            ] {
                if let Some(value) = value {
                    query.push_str(&format!("&{name}={}", segment(&value, name)?));
                }
            }
            let body = client.get(COLLECTOR, &format!("/errors?{query}"))?;
            out.emit(&body, || {
                rows(
                    out,
                    &body["errors"],
                    &[
                        ("fingerprint", "fingerprint"),
                        ("priority", "priority"),
                        ("status", "status"),
                        ("count", "occurrences"),
                        ("last seen", "last_seen"),
                        ("script", "script"),
                        ("title", "title"),
                        ("issue", "issue_number"),
                    ],
                    now,
                    "no errors recorded",
                )
            });
            return Ok(());
        }
        ErrorCommand::Show { fingerprint } => {
            (format!("/errors/{}", segment(&fingerprint, "fingerprint")?), None)
        }
        ErrorCommand::Mute { fingerprint } => (
            format!("/errors/{}/mute", segment(&fingerprint, "fingerprint")?),
            Some("muted"),
        ),
        ErrorCommand::Unmute { fingerprint } => (
            format!("/errors/{}/unmute", segment(&fingerprint, "fingerprint")?),
            Some("unmuted"),
        ),
        ErrorCommand::Resolve { fingerprint } => (
            format!("/errors/{}/resolve", segment(&fingerprint, "fingerprint")?),
            Some("resolved"),
        ),
    };
    let body = match action {
        None => client.get(COLLECTOR, &path)?,
        Some(_) => client.post_empty(COLLECTOR, &path)?,
    };
    out.emit(&body, || match action {
        Some(done) => println!(
            "{}: {done} (status {})",
            cell(&body["fingerprint"]),
            cell(&body["status"])
        ),
        None => print_record(&body, out, now),
    });
    Ok(())
}

fn patterns(
    command: PatternCommand,
    client: &Client,
    out: &Output,
    now: DateTime<Utc>,
) -> Result<(), Failure> {
    let (path, body, done) = match command {
        PatternCommand::List => {
            let body = client.get(PATTERNS, "/patterns")?;
            out.emit(&body, || {
                rows(
                    out,
                    &body["patterns"],
                    &[
                        ("id", "id"),
                        ("status", "status"),
                        ("class", "class"),
                        ("matches", "matches"),
                        ("rule", "rule"),
                        ("proposed", "created_at"),
                    ],
                    now,
                    "no patterns proposed yet",
                )
            });
            return Ok(());
        }
        PatternCommand::Show { id } => {
            let body = client.get(PATTERNS, &format!("/patterns/{}", segment(&id, "pattern id")?))?;
            out.emit(&body, || print_record(&body, out, now));
            return Ok(());
        }
        PatternCommand::Approve { id } => (
            format!("/patterns/{}/approve", segment(&id, "pattern id")?),
            json!({}),
            "approved",
        ),
        PatternCommand::Reject { id, reason } => (
            format!("/patterns/{}/reject", segment(&id, "pattern id")?),
            reason_body(&reason),
            "rejected",
        ),
        PatternCommand::Discover => ("/discover".to_owned(), json!({}), "run"),
        PatternCommand::RefreshCache => ("/cache/refresh".to_owned(), json!({}), "refreshed"),
        PatternCommand::Disable { id, reason } => (
            format!("/patterns/{}/disable", segment(&id, "pattern id")?),
            reason_body(&reason),
            "disabled",
        ),
    };
    let answer = client.post(PATTERNS, &path, &body)?;
    if path == "/discover" || path == "/cache/refresh" {
        out.emit(&answer, || print_generic(&answer, out, now));
        return Ok(());
    }
    out.emit(&answer, || {
        let pattern = if answer["pattern"].is_object() {
            &answer["pattern"]
        } else {
            &answer
        };
        println!(
            "{}: {done} (status {})",
            cell(&pattern["id"]),
            cell(&pattern["status"])
        );
    });
    Ok(())
}

/// Every worker's `/health`, as a table; exit 1 when one is not healthy.
fn health(client: &Client, platform: &Platform, out: &Output, now: DateTime<Utc>) -> Result<(), Failure> {
    let mut answers = serde_json::Map::new();
    let mut table = Vec::new();
    let mut unhealthy = Vec::new();
    for worker in PlatformWorker::ALL {
        let name = platform.script_name(worker);
        let (condition, detail, answer) = match client.health(worker) {
            Ok((status, body)) => {
                let condition = body["status"]
                    .as_str()
                    .or(body["condition"].as_str())
                    .unwrap_or(if status == 200 { "healthy" } else { "unhealthy" })
                    .to_owned();
                let detail = format!("HTTP {status}; {}", handler_summary(&body["handlers"]));
                (
                    if status == 200 {
                        condition
                    } else {
                        format!("unhealthy ({condition})")
                    },
                    detail,
                    body,
                )
            }
            Err(failure) => (
                "unreachable".to_owned(),
                failure.message.clone(),
                json!({"error": failure.message}),
            ),
        };
        if condition != "healthy" && condition != "ok" {
            unhealthy.push(name.clone());
        }
        let tone = if unhealthy.last() == Some(&name) {
            Tone::Bad
        } else {
            Tone::Good
        };
        table.push(vec![name.clone(), out.paint(&condition, tone), detail]);
        answers.insert(name, answer);
    }
    let _ = now;
    out.emit(&Value::Object(answers), || {
        out.table(&["worker", "condition", "detail"], &table)
    });
    if unhealthy.is_empty() {
        Ok(())
    } else {
        Err(
            Failure::new(Exit::Findings, format!("not healthy: {}", unhealthy.join(", ")))
                .hint("each worker's /health lists its handlers, crons and bindings"),
        )
    }
}

/// `4 handler(s): 3 healthy, 1 never-run`.
fn handler_summary(handlers: &Value) -> String {
    let handlers = handlers.as_array().map(Vec::as_slice).unwrap_or_default();
    let mut counts: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
    for handler in handlers {
        *counts.entry(cell(&handler["condition"])).or_default() += 1;
    }
    let parts: Vec<String> = counts
        .iter()
        .map(|(condition, n)| format!("{n} {condition}"))
        .collect();
    format!("{} handler(s): {}", handlers.len(), parts.join(", "))
}

fn is_time_field(name: &str) -> bool {
    name == "at" || name == "since" || name == "until" || name.ends_with("_at") || name.ends_with("_seen")
}

/// An array of objects as a table of the given (header, field) columns; times readable.
fn rows(out: &Output, list: &Value, columns: &[(&str, &str)], now: DateTime<Utc>, empty: &str) {
    let items = list.as_array().map(Vec::as_slice).unwrap_or_default();
    if items.is_empty() {
        println!("{empty}");
        return;
    }
    let header: Vec<&str> = columns.iter().map(|(h, _)| *h).collect();
    let table: Vec<Vec<String>> = items
        .iter()
        .map(|item| {
            columns
                .iter()
                .map(|(_, field)| {
                    let value = &item[*field];
                    let text = if is_time_field(field) {
                        when(value, now)
                    } else {
                        cell(value)
                    };
                    text.chars().take(72).collect()
                })
                .collect()
        })
        .collect();
    out.table(&header, &table);
}

/// One object as `field: value` lines.
fn print_record(record: &Value, out: &Output, now: DateTime<Utc>) {
    let Some(fields) = record.as_object() else {
        println!("{}", cell(record));
        return;
    };
    let width = fields.keys().map(String::len).max().unwrap_or(0);
    for (name, value) in fields {
        let text = if is_time_field(name) {
            when(value, now)
        } else if value.as_array().is_some_and(Vec::is_empty) {
            "none".to_owned()
        } else if value.is_array() || value.is_object() {
            serde_json::to_string(value).unwrap_or_default()
        } else {
            cell(value)
        };
        println!("{}  {text}", out.paint(&format!("{name:<width$}"), Tone::Dim));
    }
}

/// Any answer: each array of objects as a table of its fields, the scalars as `field: value`.
pub fn print_generic(body: &Value, out: &Output, now: DateTime<Utc>) {
    let Some(fields) = body.as_object() else {
        println!("{}", cell(body));
        return;
    };
    let (lists, scalars): (Vec<_>, Vec<_>) = fields.iter().partition(|(_, v)| {
        v.as_array().is_some_and(|a| a.iter().all(Value::is_object))
            && v.as_array().is_some_and(|a| !a.is_empty())
    });
    let record: serde_json::Map<String, Value> =
        scalars.into_iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    if !record.is_empty() {
        print_record(&Value::Object(record), out, now);
    }
    for (name, list) in lists {
        let items = list.as_array().map(Vec::as_slice).unwrap_or_default();
        let mut columns: Vec<&str> = Vec::new();
        for item in items {
            for key in item.as_object().into_iter().flat_map(|o| o.keys()) {
                if !columns.contains(&key.as_str()) && !item[key].is_object() && !item[key].is_array() {
                    columns.push(key);
                }
            }
        }
        println!("\n{name}:");
        let pairs: Vec<(&str, &str)> = columns.iter().map(|c| (*c, *c)).collect();
        rows(out, list, &pairs, now, "");
    }
}

fn print_status(body: &Value, out: &Output, now: DateTime<Utc>) {
    let global = &body["global"];
    if global["stopped"] == json!(true) {
        println!(
            "{} since {}: {}",
            out.paint("GLOBAL STOP", Tone::Bad),
            when(&global["since"], now),
            cell(&global["reason"])
        );
    } else {
        println!("global: {}", out.paint("running", Tone::Good));
    }
    let projects = body["projects"].as_array().map(Vec::as_slice).unwrap_or_default();
    if projects.is_empty() {
        println!("projects: all active");
    } else {
        println!("\nprojects not active:");
        let table: Vec<Vec<String>> = projects
            .iter()
            .map(|p| {
                let manual = if p["manual"] == json!(true) {
                    " (by hand)"
                } else {
                    ""
                };
                vec![
                    cell(&p["project"]),
                    format!("{}{manual}", out.paint(&cell(&p["level"]), Tone::Warn)),
                    when(&p["since"], now),
                    when(&p["until"], now),
                    cell(&p["reason"]),
                ]
            })
            .collect();
        out.table(&["project", "level", "since", "resets", "reason"], &table);
    }
    let features = body["features"].as_array().map(Vec::as_slice).unwrap_or_default();
    if features.is_empty() {
        println!("breakers: all closed");
    } else {
        println!("\nopen breakers:");
        let table: Vec<Vec<String>> = features
            .iter()
            .map(|f| {
                let resets = if f["manual"] == json!(true) {
                    "when enabled by hand".to_owned()
                } else {
                    when(&f["until"], now)
                };
                vec![
                    cell(&f["feature"]),
                    when(&f["since"], now),
                    resets,
                    cell(&f["reason"]),
                ]
            })
            .collect();
        out.table(&["feature", "since", "resets", "reason"], &table);
        for f in features {
            let usage = usage_lines(&f["usage_today"], &f["daily_budget"]);
            if !usage.is_empty() {
                println!("\n{} today (UTC), against its daily budget:", cell(&f["feature"]));
                out.table(&["metric", "used", "budget", ""], &usage);
            }
        }
    }
    let alerts = &body["alerts"];
    let webhook = if alerts["webhook_configured"] == json!(true) {
        "Slack webhook set"
    } else {
        "no Slack webhook (SLACK_WEBHOOK_URL)"
    };
    println!("\nalerts: {webhook}, {} pending", cell(&alerts["pending"]));
}

/// One row per metric: used, budget and a bar.
fn usage_lines(used: &Value, budget: &Value) -> Vec<Vec<String>> {
    let Some(used) = used.as_object() else {
        return Vec::new();
    };
    used.iter()
        .map(|(metric, value)| {
            let amount = value.as_f64().unwrap_or(0.0);
            let limit = budget[metric].as_f64();
            vec![
                metric.clone(),
                number(amount),
                limit.map_or_else(|| "-".to_owned(), number),
                limit.map_or_else(String::new, |l| bar(amount, l, 20)),
            ]
        })
        .collect()
}

fn print_usage(body: &Value, status: &Value, feature: &str, out: &Output) {
    let budget = status["features"]
        .as_array()
        .and_then(|fs| fs.iter().find(|f| f["feature"] == json!(feature)))
        .map(|f| f["daily_budget"].clone())
        .unwrap_or(Value::Null);
    let days = body["days"].as_array().map(Vec::as_slice).unwrap_or_default();
    if days.is_empty() {
        println!("{feature}: no usage recorded in this period");
        return;
    }
    for day in days {
        println!("{} (UTC day)", cell(&day["day"]));
        out.table(
            &["metric", "used", "budget", ""],
            &usage_lines(&day["metrics"], &budget),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_that_would_reach_another_route_are_refused_before_asking() {
        assert!(segment("0123abcd", "fingerprint").is_ok());
        for bad in ["a/b", "x?y=1", "", "../status"] {
            assert_eq!(
                segment(bad, "fingerprint").unwrap_err().code,
                Exit::Usage,
                "{bad}"
            );
        }
        assert_eq!(feature("nope:x").unwrap_err().code, Exit::Usage);
        assert_eq!(feature("app:api:render").unwrap(), "app:api:render");
    }

    #[test]
    fn usage_rows_bar_each_metric_against_its_budget() {
        let lines = usage_lines(&json!({"kv_writes": 50.0}), &json!({"kv_writes": 100}));
        assert_eq!(
            lines,
            vec![vec![
                "kv_writes".to_owned(),
                "50".into(),
                "100".into(),
                bar(50.0, 100.0, 20)
            ]]
        );
    }
}
