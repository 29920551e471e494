//! `platform deploy`: the D1 migrations, the secrets it knows, every worker deployed with wrangler
//! in dependency order (a worker after those its service bindings name), then each `/health`.
//! Each step is safe to repeat. `--dry-run` runs `wrangler deploy --dry-run` for every worker (the
//! configs and bundles checked, nothing sent) and lists the other steps without running them.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use clap::Args;
use platform_kv::PlatformWorker;
use serde_json::{json, Value};

use super::init::{configs, section};
use super::render::Output;
use super::target::{Platform, DEFAULT_ENV};
use super::{Exit, Failure};

#[derive(Debug, Args)]
pub struct DeployArgs {
    /// Check every worker's config and bundle with wrangler's dry run; run nothing else.
    #[arg(long)]
    pub dry_run: bool,
    #[arg(long, default_value = "wrangler", value_name = "DIR")]
    pub wrangler_dir: PathBuf,
}

/// The secrets each worker reads, beside ADMIN_TOKEN (docs/deploy.md), set when the operator's
/// environment has them.
const SECRETS: &[(&str, &[&str])] = &[
    (
        "SLACK_WEBHOOK_URL",
        &[
            "platform-usage",
            "error-collector",
            "notifications",
            "pattern-discovery",
        ],
    ),
    ("GITHUB_TOKEN", &["error-collector"]),
    ("GITHUB_WEBHOOK_SECRET", &["error-collector"]),
    (
        "NOTIFY_TOKEN",
        &["notifications", "platform-usage", "error-collector"],
    ),
];

/// Where a deployed worker answers, as its wrangler config says: the admin API, `/health` and the
/// dashboard answer at the root of a host, so a route must take a whole host (`host/*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// `https://<name>.<subdomain>.workers.dev`.
    WorkersDev,
    /// `https://<host>`, from the config's first host-wide route.
    Route(String),
}

/// A key wrangler lets `[env.NAME]` inherit from the top level.
fn inherited<'a>(config: &'a Value, environment: &str, key: &str) -> &'a Value {
    match &section(config, environment)[key] {
        Value::Null => &config[key],
        value => value,
    }
}

/// The address of one worker's config, or why it has none.
pub fn address(config: &Value, environment: &str) -> Result<Address, String> {
    let routes: Vec<&str> = match inherited(config, environment, "routes") {
        Value::Array(routes) => routes
            .iter()
            .filter_map(|r| r.as_str().or(r["pattern"].as_str()))
            .collect(),
        _ => Vec::new(),
    };
    for pattern in &routes {
        let (host, path) = pattern.split_once('/').unwrap_or((pattern, ""));
        if !host.is_empty() && !host.contains('*') && matches!(path, "" | "*") {
            return Ok(Address::Route(format!("https://{host}")));
        }
    }
    // wrangler's default: workers.dev when the config names no route.
    match inherited(config, environment, "workers_dev") {
        Value::Bool(true) => Ok(Address::WorkersDev),
        Value::Null if routes.is_empty() => Ok(Address::WorkersDev),
        _ if routes.is_empty() => Err("workers_dev = false and no routes: it would have no URL".into()),
        _ => Err(format!(
            "no host-wide route (host/*) among {}, and workers_dev is off: the admin API answers at a host's root",
            routes.join(", ")
        )),
    }
}

/// Each worker's deployed name, the name its URL is kept under in the settings file and its
/// address, in the order of `configs`; every worker without one refused at once, before anything
/// is deployed.
pub fn addresses(
    configs: &[(PathBuf, Value)],
    environment: &str,
) -> Result<Vec<(String, String, Address)>, Failure> {
    let mut found = Vec::new();
    let mut refused = Vec::new();
    for (path, config) in configs {
        let name = section(config, environment)["name"]
            .as_str()
            .or(config["name"].as_str())
            .unwrap_or_default()
            .to_owned();
        let crate_name = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
        let key = PlatformWorker::ALL
            .iter()
            .find(|w| w.crate_name() == crate_name)
            .map_or(crate_name, |w| w.script_name())
            .to_owned();
        match address(config, environment) {
            Ok(address) => found.push((name, key, address)),
            Err(why) => refused.push(format!("{}: {why}", path.display())),
        }
    }
    if refused.is_empty() {
        Ok(found)
    } else {
        Err(Failure::usage(format!(
            "a worker would have no URL:\n{}",
            refused.join("\n")
        ))
        .hint("set workers_dev = true or a host-wide route (routes = [\"usage.example.com/*\"]) in its config"))
    }
}

/// One command of the deploy.
#[derive(Debug, Clone)]
pub struct Step {
    pub what: String,
    pub args: Vec<String>,
    /// Given on standard input (a secret's value), never on the command line.
    pub input: Option<String>,
    /// Run in a dry run too.
    pub checks: bool,
}

/// The workers of `dir` in dependency order: each after the workers its `services` name.
pub fn order(configs: &[(PathBuf, Value)], environment: &str) -> Vec<(String, String)> {
    let workers: Vec<(String, String, Vec<String>)> = configs
        .iter()
        .filter_map(|(path, config)| {
            let crate_name = path.file_stem()?.to_str()?.to_owned();
            let section = section(config, environment);
            let name = section["name"].as_str().or(config["name"].as_str())?.to_owned();
            let needs = section["services"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| s["service"].as_str().map(str::to_owned))
                .collect();
            Some((crate_name, name, needs))
        })
        .collect();
    let mut ordered: Vec<(String, String)> = Vec::new();
    while ordered.len() < workers.len() {
        let before = ordered.len();
        for (crate_name, name, needs) in &workers {
            let placed = ordered.iter().any(|(c, _)| c == crate_name);
            let ready = needs.iter().all(|need| {
                ordered.iter().any(|(_, n)| n == need) || !workers.iter().any(|(_, n, _)| n == need)
            });
            if !placed && ready {
                ordered.push((crate_name.clone(), name.clone()));
            }
        }
        if ordered.len() == before {
            // A cycle: the rest in file order (wrangler deploys them; the bindings resolve once all exist).
            for (crate_name, name, _) in &workers {
                if !ordered.iter().any(|(c, _)| c == crate_name) {
                    ordered.push((crate_name.clone(), name.clone()));
                }
            }
        }
    }
    ordered
}

pub fn steps(
    dir: &Path,
    environment: &str,
    admin_token: Option<&str>,
    dry_run: bool,
) -> Result<Vec<Step>, Failure> {
    let configs = configs(dir)?;
    let env_args: Vec<String> = if environment == DEFAULT_ENV {
        vec![]
    } else {
        vec!["--env".into(), environment.into()]
    };
    let config_arg = |crate_name: &str| dir.join(format!("{crate_name}.toml")).display().to_string();
    let mut steps = Vec::new();
    let database = configs.iter().find_map(|(path, c)| {
        let name = section(c, environment)["d1_databases"][0]["database_name"].as_str()?;
        Some((path.file_stem()?.to_str()?.to_owned(), name.to_owned()))
    });
    if let Some((crate_name, name)) = database {
        let mut args = vec![
            "d1".into(),
            "migrations".into(),
            "apply".into(),
            name.clone(),
            "--remote".into(),
            "-c".into(),
            config_arg(&crate_name),
        ];
        args.extend(env_args.clone());
        steps.push(Step {
            what: format!("apply the D1 migrations to {name}"),
            args,
            input: None,
            checks: false,
        });
    }
    for (crate_name, name) in order(&configs, environment) {
        let mut secrets: Vec<(&str, String)> = Vec::new();
        if let Some(token) = admin_token {
            secrets.push(("ADMIN_TOKEN", token.to_owned()));
        }
        for (secret, workers) in SECRETS {
            if let Some(value) = std::env::var(secret).ok().filter(|v| !v.is_empty()) {
                if workers.contains(&crate_name.as_str()) {
                    secrets.push((secret, value));
                }
            }
        }
        let mut deploy = vec!["deploy".into(), "-c".into(), config_arg(&crate_name)];
        deploy.extend(env_args.clone());
        if dry_run {
            // Absolute: wrangler reads a relative --outdir from the config's directory.
            let outdir = std::env::current_dir()
                .map(|cwd| cwd.join("target").join("dry-run").join(&crate_name))
                .map_err(|e| Failure::usage(format!("no current directory: {e}")))?;
            deploy.extend([
                "--dry-run".into(),
                "--outdir".into(),
                outdir.display().to_string(),
            ]);
        }
        steps.push(Step {
            what: format!("deploy {name}"),
            args: deploy,
            input: None,
            checks: true,
        });
        // After the deploy: a secret needs its worker to exist.
        for (secret, value) in secrets {
            let mut args = vec![
                "secret".into(),
                "put".into(),
                secret.into(),
                "-c".into(),
                config_arg(&crate_name),
            ];
            args.extend(env_args.clone());
            steps.push(Step {
                what: format!("set {secret} on {name}"),
                args,
                input: Some(value),
                checks: false,
            });
        }
    }
    Ok(steps)
}

/// wrangler: `$WRANGLER`, else `npx wrangler`.
fn wrangler() -> (String, Vec<String>) {
    match std::env::var("WRANGLER").ok().filter(|w| !w.is_empty()) {
        Some(path) => (path, vec![]),
        None => ("npx".into(), vec!["wrangler".into()]),
    }
}

fn run_step(step: &Step, account: Option<&str>) -> Result<(), Failure> {
    let (program, mut args) = wrangler();
    args.extend(step.args.iter().cloned());
    let mut command = Command::new(&program);
    command
        .args(&args)
        .env("WRANGLER_SEND_METRICS", "false")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(account) = account {
        command.env("CLOUDFLARE_ACCOUNT_ID", account);
    }
    command.stdin(if step.input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    let mut child = command.spawn().map_err(|e| {
        Failure::usage(format!("{}: cannot run {program}: {e}", step.what))
            .hint("install wrangler (`npm ci`) or set WRANGLER to its path")
    })?;
    if let (Some(input), Some(mut stdin)) = (&step.input, child.stdin.take()) {
        let _ = stdin.write_all(input.as_bytes());
    }
    let output = child
        .wait_with_output()
        .map_err(|e| Failure::usage(format!("{}: {e}", step.what)))?;
    if output.status.success() {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&output.stderr).to_string() + &String::from_utf8_lossy(&output.stdout);
    let tail: Vec<&str> = text.lines().rev().take(15).collect();
    Err(Failure::new(
        Exit::Unavailable,
        format!(
            "{} failed:\n{}",
            step.what,
            tail.into_iter().rev().collect::<Vec<_>>().join("\n")
        ),
    )
    .hint("fix what wrangler says and run `platform deploy` again: every step is safe to repeat"))
}

/// The command as shown: secrets never appear (they go on standard input).
fn shown(step: &Step) -> String {
    let (program, prefix) = wrangler();
    let mut parts = vec![program];
    parts.extend(prefix);
    parts.extend(step.args.iter().cloned());
    let text = parts.join(" ");
    if step.input.is_some() {
        format!("{text} < (the value)")
    } else {
        text
    }
}

pub fn run(args: DeployArgs, environment: Option<&str>, out: &Output) -> Result<(), Failure> {
    let environment_name = environment.unwrap_or(DEFAULT_ENV);
    let platform = Platform::resolve(environment);
    let (token, account) = match &platform {
        Ok(p) => (Some(p.token.clone()), p.account_id.clone()),
        Err(_) if args.dry_run => (None, None),
        Err(failure) => {
            return Err(failure
                .clone()
                .hint("run `platform init` first: it makes the admin token deploy sets"))
        }
    };
    let subdomain = platform.as_ref().ok().and_then(Platform::subdomain);
    let addresses = addresses(&configs(&args.wrangler_dir)?, environment_name)?;
    let urls: Vec<(String, String)> = addresses
        .iter()
        .map(|(name, _, address)| {
            let url = match (address, subdomain) {
                (Address::Route(url), _) => Ok(url.clone()),
                (Address::WorkersDev, Some(sub)) => Ok(format!("https://{name}.{sub}.workers.dev")),
                (Address::WorkersDev, None) => Err(name.clone()),
            };
            (name.clone(), url)
        })
        .map(|(name, url)| match url {
            Ok(url) => Ok((name, url)),
            Err(_) if args.dry_run => Ok((
                name.clone(),
                format!("https://{name}.<workers.dev subdomain>.workers.dev"),
            )),
            Err(name) => Err(Failure::usage(format!(
                "{name} answers on workers.dev, and the account's subdomain is not known"
            ))
            .hint("run `platform init` (it saves the subdomain) or set PLATFORM_WORKERS_SUBDOMAIN")),
        })
        .collect::<Result<_, _>>()?;
    let steps = steps(
        &args.wrangler_dir,
        environment_name,
        token.as_deref(),
        args.dry_run,
    )?;
    for (name, url) in &urls {
        out.line(&format!("  {name} will answer on {url}"));
    }
    let mut record = Vec::new();
    for step in &steps {
        let run = !args.dry_run || step.checks;
        out.line(&format!(
            "{} {}: {}",
            if run { "→" } else { "·" },
            step.what,
            shown(step)
        ));
        if run {
            run_step(step, account.as_deref())?;
        }
        record.push(json!({"step": step.what, "command": shown(step), "ran": run}));
    }
    let url_record: serde_json::Map<String, Value> = urls
        .iter()
        .map(|(name, url)| (name.clone(), json!(url)))
        .collect();
    if args.dry_run {
        out.emit(&json!({"dry_run": true, "steps": record, "urls": url_record}), || {
            println!("\ndry run: every worker's config and bundle checked; the steps marked · run without --dry-run");
        });
        return Ok(());
    }
    // A route's host is not derived from anything the CLI knows: remember it for the commands.
    let routed: Vec<(&str, &str)> = addresses
        .iter()
        .filter_map(|(_, key, address)| match address {
            Address::Route(url) => Some((key.as_str(), url.as_str())),
            Address::WorkersDev => None,
        })
        .collect();
    if !routed.is_empty() {
        let saved = super::target::remember_urls(environment_name, &routed)?;
        out.line(&format!("saved the routed workers' URLs in {}", saved.display()));
    }
    let platform = Platform::resolve(environment)?;
    let client = super::http::Client::new(&platform);
    let mut table = Vec::new();
    let mut unhealthy = Vec::new();
    for worker in PlatformWorker::ALL {
        let url = platform
            .url(worker)
            .unwrap_or_else(|_| "(no URL: set workers_dev = true or routes)".into());
        let condition = match client.health(worker) {
            Ok((200, body)) => body["status"].as_str().unwrap_or("healthy").to_owned(),
            Ok((status, _)) => format!("HTTP {status}"),
            Err(_) => "unreachable".to_owned(),
        };
        if condition != "healthy" {
            unhealthy.push(platform.script_name(worker));
        }
        table.push(vec![platform.script_name(worker), url, condition]);
    }
    out.emit(
        &json!({"dry_run": false, "steps": record, "urls": url_record, "health": table}),
        || {
            println!();
            out.table(&["worker", "url", "health"], &table);
        },
    );
    if unhealthy.is_empty() {
        Ok(())
    } else {
        Err(
            Failure::findings(format!("deployed, but not healthy: {}", unhealthy.join(", ")))
                .hint("`platform doctor` says what each needs"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dir() -> PathBuf {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../wrangler"))
    }

    #[test]
    fn workers_deploy_after_the_workers_they_bind() {
        let configs = configs(&dir()).unwrap();
        let order: Vec<String> = order(&configs, DEFAULT_ENV).into_iter().map(|(c, _)| c).collect();
        let at = |name: &str| order.iter().position(|c| c == name).unwrap();
        assert_eq!(order.len(), 6, "{order:?}");
        // The dashboard binds platform-usage and error-collector from notifications, which they
        // bind in turn: a cycle, so only the bindings outside it order the deploys.
        assert!(at("sync-config") < at("sentinel"), "{order:?}");
        assert!(at("platform-usage") < at("sentinel"), "{order:?}");
    }

    #[test]
    fn every_committed_worker_answers_on_workers_dev_in_every_environment() {
        let configs = configs(&dir()).unwrap();
        for environment in [DEFAULT_ENV, "staging"] {
            let found = addresses(&configs, environment).unwrap();
            assert_eq!(found.len(), 6);
            assert!(
                found.iter().all(|(_, _, a)| *a == Address::WorkersDev),
                "{found:?}"
            );
        }
    }

    #[test]
    fn a_host_wide_route_is_the_url_and_a_worker_without_one_is_refused() {
        let toml = |text: &str| -> Value { toml::from_str(text).unwrap() };
        let routed = toml(
            "workers_dev = false\nroutes = [{ pattern = \"usage.example.com/*\", zone_name = \"example.com\" }]",
        );
        assert_eq!(
            address(&routed, DEFAULT_ENV),
            Ok(Address::Route("https://usage.example.com".into()))
        );
        let custom =
            toml("routes = [\"*.example.com/*\", { pattern = \"u.example.com\", custom_domain = true }]");
        assert_eq!(
            address(&custom, DEFAULT_ENV),
            Ok(Address::Route("https://u.example.com".into()))
        );
        // Inherited by [env.staging] as wrangler inherits it, and overridden there.
        let staging = toml("workers_dev = false\n[env.staging]\nworkers_dev = true");
        assert_eq!(address(&staging, "staging"), Ok(Address::WorkersDev));
        assert!(address(&staging, DEFAULT_ENV).unwrap_err().contains("no URL"));
        let under_a_path = toml("workers_dev = false\nroutes = [\"example.com/usage/*\"]");
        assert!(address(&under_a_path, DEFAULT_ENV)
            .unwrap_err()
            .contains("example.com/usage/*"));
        assert_eq!(
            address(&toml("name = \"x\""), DEFAULT_ENV),
            Ok(Address::WorkersDev)
        );
    }

    #[test]
    fn the_steps_migrate_first_and_put_secrets_on_standard_input() {
        let steps = steps(&dir(), "staging", Some("s3cret"), false).unwrap();
        assert!(
            steps[0].args.starts_with(&[
                "d1".into(),
                "migrations".into(),
                "apply".into(),
                "platform-staging".into()
            ]),
            "{:?}",
            steps[0]
        );
        let secret = steps
            .iter()
            .find(|s| s.args.contains(&"ADMIN_TOKEN".into()))
            .unwrap();
        assert_eq!(secret.input.as_deref(), Some("s3cret"));
        assert!(!shown(secret).contains("s3cret"));
        assert!(steps
            .iter()
            .all(|s| s.args.ends_with(&["--env".into(), "staging".into()])));
    }
}
