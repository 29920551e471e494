//! `platform doctor`: every check an operator would make by hand, each finding with its fix: the
//! config valid, the wrangler configs holding the account's ids, every worker reachable and
//! healthy with its secrets and bindings, its handlers running, no telemetry gone silent, and
//! every mapped script's tail events reaching the error collector.

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use clap::Args;
use platform_core::config::Config;
use platform_kv::PlatformWorker;
use serde_json::{json, Value};

use super::http::Client;
use super::init::{configs, section};
use super::render::{self, Output, Tone};
use super::target::{Platform, DEFAULT_ENV};
use super::{config_cmd, Failure};

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// The directory with services.yaml and budgets.yaml.
    #[arg(long = "config", default_value = "config", value_name = "DIR")]
    pub config_dir: PathBuf,
    #[arg(long, default_value = "wrangler", value_name = "DIR")]
    pub wrangler_dir: PathBuf,
}

/// One check and, when it found something, the fix.
struct Check {
    what: String,
    finding: Option<String>,
    fix: String,
}

impl Check {
    fn ok(what: impl Into<String>) -> Self {
        Self {
            what: what.into(),
            finding: None,
            fix: String::new(),
        }
    }

    fn found(what: impl Into<String>, finding: impl Into<String>, fix: impl Into<String>) -> Self {
        Self {
            what: what.into(),
            finding: Some(finding.into()),
            fix: fix.into(),
        }
    }
}

/// Ids `wrangler/` is committed with, for local runs: a deploy with them fails.
const PLACEHOLDERS: &[&str] = &[
    "platform-cache",
    "platform-db",
    "platform-cache-staging",
    "platform-db-staging",
];

fn wrangler_checks(args: &DoctorArgs, environment: &str, checks: &mut Vec<Check>) {
    let Ok(configs) = configs(&args.wrangler_dir) else {
        checks.push(Check::found(
            "wrangler configs",
            format!("{} cannot be read", args.wrangler_dir.display()),
            "run from the platform's repository, or pass --wrangler-dir",
        ));
        return;
    };
    let placeholders: Vec<String> = configs
        .iter()
        .filter(|(_, c)| {
            let s = section(c, environment);
            let kv = s["kv_namespaces"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|k| k["id"].as_str());
            let d1 = s["d1_databases"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|d| d["database_id"].as_str());
            kv.chain(d1).any(|id| PLACEHOLDERS.contains(&id))
        })
        .filter_map(|(p, _)| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .collect();
    checks.push(if placeholders.is_empty() {
        Check::ok("wrangler configs hold the account's ids")
    } else {
        let env = if environment == DEFAULT_ENV {
            String::new()
        } else {
            format!(" --env {environment}")
        };
        Check::found(
            "wrangler configs hold the account's ids",
            format!("local placeholder ids in {}", placeholders.join(", ")),
            format!("platform init{env}"),
        )
    });
}

/// The bindings a worker's /health reports missing, with the fix of each.
fn binding_checks(name: &str, crate_name: &str, body: &Value, environment: &str, checks: &mut Vec<Check>) {
    let env = if environment == DEFAULT_ENV {
        String::new()
    } else {
        format!(" --env {environment}")
    };
    let missing: Vec<&str> = body["bindings"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(_, present)| **present == Value::Bool(false))
        .map(|(binding, _)| binding.as_str())
        .collect();
    for binding in missing {
        let secret = binding.chars().all(|c| c.is_ascii_uppercase() || c == '_')
            && (binding.ends_with("TOKEN") || binding.ends_with("SECRET") || binding.ends_with("URL"));
        let fix = if secret {
            format!("npx wrangler secret put {binding} -c wrangler/{crate_name}.toml{env} (or set it and run `platform deploy`)")
        } else {
            format!("set {binding} in wrangler/{crate_name}.toml (docs/workers/{crate_name}.md) and deploy")
        };
        checks.push(Check::found(format!("{name}: {binding}"), "not set", fix));
    }
}

fn worker_checks(client: &Client, platform: &Platform, checks: &mut Vec<Check>) {
    for worker in PlatformWorker::ALL {
        let name = platform.script_name(worker);
        let body = match client.health(worker) {
            Ok((_, body)) if body.is_object() => body,
            Ok((status, _)) => {
                checks.push(Check::found(
                    format!("{name} healthy"),
                    format!("/health answered {status} without its report"),
                    "platform deploy",
                ));
                continue;
            }
            Err(failure) => {
                checks.push(Check::found(
                    format!("{name} reachable"),
                    failure.message,
                    "platform deploy; check the worker's URL (docs/cli.md)",
                ));
                continue;
            }
        };
        binding_checks(&name, worker.crate_name(), &body, &platform.environment, checks);
        let handlers = body["handlers"].as_array().cloned().unwrap_or_default();
        let troubled: Vec<String> = handlers
            .iter()
            .filter(|h| {
                matches!(
                    h["condition"].as_str(),
                    Some("failing" | "stale" | "late" | "unhealthy")
                )
            })
            .map(|h| {
                format!(
                    "{} {} ({})",
                    h["name"].as_str().unwrap_or("?"),
                    h["condition"].as_str().unwrap_or("?"),
                    h["last_error"].as_str().unwrap_or("no error recorded")
                )
            })
            .collect();
        checks.push(if troubled.is_empty() {
            Check::ok(format!("{name} handlers running"))
        } else {
            Check::found(
                format!("{name} handlers running"),
                troubled.join("; "),
                format!("npx wrangler tail {name} shows the failing runs; `platform health` their state"),
            )
        });
    }
}

fn telemetry_checks(client: &Client, checks: &mut Vec<Check>) {
    match client.get(PlatformWorker::Sentinel, "/gaps") {
        Ok(body) => {
            let open = body["open"].as_array().cloned().unwrap_or_default();
            if open.is_empty() {
                checks.push(Check::ok("every mapped script and feature sends telemetry"));
            }
            for gap in open {
                let subject = ["feature", "script", "project", "subject"]
                    .iter()
                    .find_map(|f| gap[*f].as_str())
                    .unwrap_or("a subject")
                    .to_owned();
                checks.push(Check::found(
                    format!("telemetry from {subject}"),
                    gap["reason"].as_str().or(gap["kind"].as_str()).unwrap_or("silent").to_owned(),
                    "check the application is wired (`platform wire --check PATH`) and calls completeTracking",
                ));
            }
        }
        Err(failure) => checks.push(Check::found(
            "telemetry gaps",
            failure.message,
            "platform deploy (the sentinel answers GET /gaps)",
        )),
    }
}

/// A script whose last tail event is older than this is asked about: still deployed and wired?
const TAIL_QUIET_DAYS: i64 = 7;

/// Every script services.yaml maps sends tail events to the error collector: one that never did
/// is not wired as a tail producer (its errors are lost), one quiet for a week may be gone.
fn tail_checks(client: &Client, config: Option<&Config>, checks: &mut Vec<Check>) {
    let Some(config) = config else {
        return;
    };
    let mapped: Vec<(&str, &str)> = config
        .services
        .projects
        .iter()
        .flat_map(|(project, p)| p.scripts.iter().map(move |s| (project.as_str(), s.as_str())))
        .collect();
    if mapped.is_empty() {
        return;
    }
    let body = match client.get(PlatformWorker::ErrorCollector, "/scripts") {
        Ok(body) => body,
        Err(failure) => {
            checks.push(Check::found(
                "tail events from every mapped script",
                failure.message,
                "platform deploy (the error collector answers GET /scripts)",
            ));
            return;
        }
    };
    let heard: Vec<(&str, Option<DateTime<Utc>>)> = body["scripts"]
        .as_array()
        .map(|all| {
            all.iter()
                .filter_map(|s| Some((s["script"].as_str()?, render::instant(&s["last_event_at"]))))
                .collect()
        })
        .unwrap_or_default();
    let now = Utc::now();
    let mut quiet = 0;
    for (project, script) in mapped {
        let last = heard.iter().find(|(name, _)| *name == script).map(|(_, at)| *at);
        let finding = match last {
            None => Some((
                "no tail event ever reached the error collector".to_owned(),
                format!(
                    "name it as the script's tail consumer (`platform wire PATH` on {script}'s wrangler config), then deploy {script}"
                ),
            )),
            Some(Some(at)) if now.signed_duration_since(at).num_days() >= TAIL_QUIET_DAYS => Some((
                format!("no tail event since {} ({})", at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true), render::relative(at, now)),
                format!("check {script} is still deployed and still names the error collector as its tail consumer"),
            )),
            _ => None,
        };
        if let Some((finding, fix)) = finding {
            quiet += 1;
            checks.push(Check::found(
                format!("tail events from {script} (project {project})"),
                finding,
                fix,
            ));
        }
    }
    if quiet == 0 {
        checks.push(Check::ok("every mapped script sends tail events"));
    }
}

pub fn run(args: DoctorArgs, environment: Option<&str>, out: &Output) -> Result<(), Failure> {
    let environment_name = environment.unwrap_or(DEFAULT_ENV);
    let mut checks = Vec::new();
    let config = config_cmd::load(&args.config_dir);
    checks.push(match &config {
        Ok(config) => Check::ok(format!("config {} valid", config.version())),
        Err(failure) => Check::found(
            "config valid",
            failure.message.clone(),
            "fix the files; `platform config validate` lists each problem",
        ),
    });
    wrangler_checks(&args, environment_name, &mut checks);
    match Platform::resolve(environment) {
        Ok(platform) => {
            let client = Client::new(&platform);
            worker_checks(&client, &platform, &mut checks);
            telemetry_checks(&client, &mut checks);
            tail_checks(&client, config.as_ref().ok(), &mut checks);
        }
        Err(failure) => checks.push(Check::found(
            "endpoints and admin token",
            failure.message,
            failure.hint.unwrap_or_default(),
        )),
    }
    let findings = checks.iter().filter(|c| c.finding.is_some()).count();
    let report: Vec<Value> = checks
        .iter()
        .map(|c| json!({"check": c.what, "ok": c.finding.is_none(), "finding": c.finding, "fix": if c.fix.is_empty() { Value::Null } else { json!(c.fix) }}))
        .collect();
    out.emit(&json!({"findings": findings, "checks": report}), || {
        for check in &checks {
            match &check.finding {
                None => println!("{} {}", out.paint("ok", Tone::Good), check.what),
                Some(finding) => {
                    println!("{} {}: {finding}", out.paint("!!", Tone::Bad), check.what);
                    println!("    fix: {}", check.fix);
                }
            }
        }
    });
    if findings == 0 {
        out.line("\nno findings");
        Ok(())
    } else {
        Err(Failure::findings(format!(
            "{findings} finding(s); each is listed with its fix"
        )))
    }
}
