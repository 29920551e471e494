//! `platform config validate|plan|emit-bulk|schema|apply`. The first four are offline: the files
//! are read from YAML here and checked and planned by the very code the sync-config worker runs
//! (`platform_core::config::validate`, `platform_sync`). `apply` posts them to the worker.

use std::path::{Path, PathBuf};

use clap::Subcommand;
use platform_core::config::{validate, Config, ConfigFile, Problem};
use platform_kv::{block_on, ManualClock, MemoryKv, PlatformWorker, Store};
use platform_sync::state::{self, Action};
use platform_sync::{plan_from_nothing, Desired, Plan, Summary};
use serde_json::{json, Value};

use super::render::Output;
use super::{http, schema, target, ConfigDir, Exit, Failure};

#[derive(Debug, Subcommand)]
pub enum ConfigCommand {
    /// Check both files offline; every problem is listed with its file and path.
    Validate(ConfigDir),
    /// The keys and rows the files derive, as a fresh platform would receive them (offline).
    Plan {
        #[command(flatten)]
        files: ConfigDir,
        /// List every key and row (default: the first 40 of each kind).
        #[arg(long)]
        verbose: bool,
    },
    /// Write the KV part of the plan as a `wrangler kv bulk put` file (offline).
    EmitBulk {
        /// The file to write.
        file: PathBuf,
        #[command(flatten)]
        files: ConfigDir,
    },
    /// Write the JSON Schemas of both files (for editors) into DIR.
    Schema {
        #[arg(long, default_value = "config/schema", value_name = "DIR")]
        out: PathBuf,
    },
    /// Send both files to the sync-config worker, which validates, plans and applies them.
    Apply {
        #[command(flatten)]
        files: ConfigDir,
        /// Plan on the platform (against what it holds) without writing anything.
        #[arg(long)]
        dry_run: bool,
    },
    /// The config the platform holds: its version, apply progress and last drift check.
    Show,
    /// The configs applied before the current one, newest first.
    History,
}

pub fn run(command: ConfigCommand, env: Option<&str>, out: &Output) -> Result<(), Failure> {
    match command {
        ConfigCommand::Validate(files) => {
            let config = load(&files.dir)?;
            let (desired, plan) = derive(&config)?;
            let summary = Summary::of(&config, &desired, &plan);
            out.emit(&json!({"valid": true, "version": config.version(), "summary": summary}), || {
                println!(
                    "config {} is valid: {} project(s), {} script(s), {} feature(s) ({} guarded), {} KV key(s)",
                    config.version(),
                    summary.projects,
                    summary.scripts,
                    summary.features,
                    summary.guarded_features,
                    summary.kv_keys
                );
            });
            Ok(())
        }
        ConfigCommand::Plan { files, verbose } => {
            let config = load(&files.dir)?;
            let (desired, plan) = derive(&config)?;
            let summary = Summary::of(&config, &desired, &plan);
            let body = json!({"version": config.version(), "summary": summary, "plan": plan});
            out.emit(&body, || print_plan(&config.version(), &plan, verbose));
            Ok(())
        }
        ConfigCommand::EmitBulk { file, files } => {
            let config = load(&files.dir)?;
            let (desired, plan) = derive(&config)?;
            let entries = bulk_entries(&desired, &plan, now_ms())?;
            let mut text = serde_json::to_string_pretty(&entries).unwrap_or_default();
            text.push('\n');
            std::fs::write(&file, text)
                .map_err(|e| Failure::usage(format!("cannot write {}: {e}", file.display())))?;
            let shown = file.display();
            out.emit(&json!({"file": shown.to_string(), "keys": entries.len()}), || {
                println!("wrote {} key(s) of config {} to {shown}", entries.len(), config.version());
                println!("  npx wrangler kv bulk put {shown} --binding PLATFORM_CACHE -c wrangler/sync-config.toml --remote");
                println!("note: keys an earlier config derived are not removed, and the D1 rows (settings, registries)");
                println!("      are not in the file: `platform config apply` does both.");
            });
            Ok(())
        }
        ConfigCommand::Schema { out: dir } => {
            std::fs::create_dir_all(&dir)
                .map_err(|e| Failure::usage(format!("cannot create {}: {e}", dir.display())))?;
            for (name, schema) in schema::files() {
                let path = dir.join(name);
                std::fs::write(&path, schema::render(&schema))
                    .map_err(|e| Failure::usage(format!("cannot write {}: {e}", path.display())))?;
                out.line(&format!("wrote {}", path.display()));
            }
            Ok(())
        }
        ConfigCommand::Apply { files, dry_run } => apply(&files.dir, dry_run, env, out),
        ConfigCommand::Show | ConfigCommand::History => {
            let platform = target::Platform::resolve(env)?;
            let client = http::Client::new(&platform);
            let show = matches!(command, ConfigCommand::Show);
            let body = client.get(
                PlatformWorker::SyncConfig,
                if show { "/config" } else { "/history" },
            )?;
            out.emit(&body, || {
                let mut shown = body.clone();
                // The document is the files themselves: `config plan` reads them better.
                if let Some(fields) = shown.as_object_mut() {
                    fields.remove("document");
                }
                super::admin::print_generic(&shown, out, chrono::Utc::now());
            });
            Ok(())
        }
    }
}

fn now_ms() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0)
}

/// One file's YAML text as the JSON document it means; an empty file (or comments only) is
/// `null`, as the worker reads a missing document.
pub fn parse_yaml(file: ConfigFile, text: &str) -> Result<Value, Problem> {
    let problem = |reason: String| {
        let first = reason.lines().next().unwrap_or_default().to_owned();
        Problem::new(file, "", format!("not valid YAML: {first}"))
    };
    // Read as YAML's own value first: its mappings refuse a key given twice, as the JS tooling does.
    let yaml: Option<serde_yaml_ng::Value> =
        serde_yaml_ng::from_str(text).map_err(|e| problem(e.to_string()))?;
    match yaml {
        None => Ok(Value::Null),
        Some(yaml) => serde_json::to_value(yaml).map_err(|e| problem(e.to_string())),
    }
}

/// Both files of `dir`, read, parsed and validated; problems are a [`Exit::Findings`] failure that
/// lists each.
pub fn load(dir: &Path) -> Result<Config, Failure> {
    let (services, budgets) = documents(dir)?;
    validate(&services, &budgets).map_err(|problems| refused(&problems))
}

/// Both files of `dir` as JSON documents (what `POST /sync` takes).
pub fn documents(dir: &Path) -> Result<(Value, Value), Failure> {
    let read = |file: ConfigFile| {
        let path = dir.join(file.name());
        std::fs::read_to_string(&path)
            .map_err(|e| {
                Failure::usage(format!("cannot read {}: {e}", path.display()))
                    .hint("pass --config DIR, the directory with services.yaml and budgets.yaml")
            })
            .map(|text| parse_yaml(file, &text))
    };
    let services = read(ConfigFile::Services)?;
    let budgets = read(ConfigFile::Budgets)?;
    match (services, budgets) {
        (Ok(services), Ok(budgets)) => Ok((services, budgets)),
        (services, budgets) => {
            let problems: Vec<Problem> = [services.err(), budgets.err()].into_iter().flatten().collect();
            Err(refused(&problems))
        }
    }
}

fn refused(problems: &[Problem]) -> Failure {
    let count = problems.len();
    let mut message = format!(
        "the config has {count} problem{}; nothing was written",
        if count == 1 { "" } else { "s" }
    );
    for problem in problems {
        message.push_str(&format!("\n  {problem}"));
    }
    Failure::new(Exit::Findings, message)
}

fn derive(config: &Config) -> Result<(Desired, Plan), Failure> {
    plan_from_nothing(config)
        .map_err(|e| Failure::findings(format!("the config derives no valid state: {e}")))
}

/// The entries of a `wrangler kv bulk put` file: each key as the worker's own run writes it
/// (value, and metadata with writer, time and digest), made by that run against an in-memory KV.
pub fn bulk_entries(desired: &Desired, plan: &Plan, now: u64) -> Result<Vec<Value>, Failure> {
    let clock = ManualClock::at(now);
    let kv = MemoryKv::new(clock.clone());
    let store = Store::new(kv.clone(), PlatformWorker::SyncConfig, clock);
    let budget = u32::try_from(plan.kv.operations()).unwrap_or(u32::MAX);
    let report = block_on(state::run(&store, desired, &plan.kv, budget));
    if let Some(failure) = report.failed.first() {
        return Err(Failure::findings(format!(
            "{} cannot be written: {}",
            failure.key, failure.error
        )));
    }
    let mut entries = Vec::new();
    for (key, _) in &report.written {
        let stored = block_on(platform_kv::Kv::get_with_metadata(&kv, key))
            .map_err(|e| Failure::findings(format!("{key}: {e}")))?;
        if let Some(stored) = stored {
            entries.push(json!({"key": key, "value": stored.value, "metadata": stored.metadata}));
        }
    }
    Ok(entries)
}

const SHOWN: usize = 40;

fn list(lines: Vec<String>, verbose: bool) {
    let count = lines.len();
    for line in lines.iter().take(if verbose { count } else { SHOWN }) {
        println!("{line}");
    }
    if !verbose && count > SHOWN {
        println!("    ... and {} more (--verbose lists them all)", count - SHOWN);
    }
}

fn clip(text: &str, verbose: bool) -> String {
    if verbose || text.chars().count() <= 100 {
        return text.to_owned();
    }
    let head: String = text.chars().take(97).collect();
    format!("{head}...")
}

pub fn print_plan(version: &str, plan: &Plan, verbose: bool) {
    let kv = &plan.kv;
    let adds = kv.put.iter().filter(|p| p.action == Action::Add).count();
    println!("config {version}");
    println!(
        "KV: {adds} to add, {} to change, {} to remove, {} unchanged",
        kv.put.len() - adds,
        kv.delete.len(),
        kv.unchanged.len()
    );
    let mut lines: Vec<String> = kv
        .put
        .iter()
        .map(|put| {
            let sign = if put.action == Action::Add { '+' } else { '~' };
            format!("  {sign} {}  {}", put.key, clip(&put.value, verbose))
        })
        .collect();
    lines.extend(kv.delete.iter().map(|key| format!("  - {key}")));
    list(lines, verbose);
    let d1 = &plan.d1;
    println!("D1: {} row(s) to write or remove", d1.changes());
    let tables: [(&str, Vec<String>, &[String], usize); 3] = [
        (
            "settings",
            d1.settings
                .upsert
                .iter()
                .map(|r| format!("{} = {}", r.key, r.value))
                .collect(),
            &d1.settings.delete,
            d1.settings.unchanged,
        ),
        (
            "projects",
            d1.projects
                .upsert
                .iter()
                .map(|r| format!("{} ({}, tier {})", r.project_id, r.repository, r.tier))
                .collect(),
            &d1.projects.delete,
            d1.projects.unchanged,
        ),
        (
            "features",
            d1.features
                .upsert
                .iter()
                .map(|r| {
                    let guard = if r.circuit_breaker { "" } else { " (no breaker)" };
                    format!("{}{guard}", r.feature_key)
                })
                .collect(),
            &d1.features.delete,
            d1.features.unchanged,
        ),
    ];
    for (name, upserts, deletes, unchanged) in tables {
        if upserts.is_empty() && deletes.is_empty() {
            continue;
        }
        println!(
            "  {name}: {} to write, {} to remove, {unchanged} unchanged",
            upserts.len(),
            deletes.len()
        );
        let mut lines: Vec<String> = upserts.iter().map(|row| format!("    ~ {row}")).collect();
        lines.extend(deletes.iter().map(|key| format!("    - {key}")));
        list(lines, verbose);
    }
}

/// How long `apply` follows an apply the worker continues in the background.
const FOLLOW_LIMIT_SECS: u64 = 600;

fn apply(dir: &Path, dry_run: bool, env: Option<&str>, out: &Output) -> Result<(), Failure> {
    // Checked here first: the operator sees problems without a round trip, in the same words.
    load(dir)?;
    let (services, budgets) = documents(dir)?;
    let platform = target::Platform::resolve(env)?;
    let client = http::Client::new(&platform);
    let path = if dry_run { "/sync?dry_run=1" } else { "/sync" };
    let body = client.post(
        PlatformWorker::SyncConfig,
        path,
        &json!({"services": services, "budgets": budgets}),
    )?;
    let plan: Plan = serde_json::from_value(body["plan"].clone()).map_err(|e| {
        Failure::new(
            Exit::Unavailable,
            format!("POST /sync answered an unreadable plan: {e}"),
        )
    })?;
    let version = body["version"].as_str().unwrap_or("?").to_owned();
    if out.json && (dry_run || body["result"]["complete"] == json!(true)) {
        out.emit(&body, || {});
        return Ok(());
    }
    if !out.json {
        let current = body["current_version"].as_str().unwrap_or("nothing applied yet");
        println!("platform holds: {current}");
        print_plan(&version, &plan, false);
    }
    if dry_run {
        return Ok(());
    }
    let result = &body["result"];
    if result["recorded"] == json!(false) && result["kv_ops"] == json!(0) && result["d1_changes"] == json!(0)
    {
        out.line(&format!("\nnothing to do: {version} is applied"));
        return Ok(());
    }
    for failure in result["failed"].as_array().into_iter().flatten() {
        out.line(&format!(
            "  ! {}: {}",
            failure["key"].as_str().unwrap_or("?"),
            failure["error"].as_str().unwrap_or("?")
        ));
    }
    if result["complete"] == json!(true) {
        out.line(&format!(
            "\napplied {version}: {} key(s) written, {} removed, {} row(s) changed",
            result["kv_written"], result["kv_deleted"], result["d1_changes"]
        ));
        return Ok(());
    }
    follow(&client, &version, out)
}

/// Polls `GET /config` with a progress bar until the worker has applied `version`.
fn follow(client: &http::Client, version: &str, out: &Output) -> Result<(), Failure> {
    let started = std::time::Instant::now();
    let mut bar = super::render::Progress::new(out, &format!("applying {version}"));
    loop {
        std::thread::sleep(std::time::Duration::from_millis(500));
        let current = client.get(PlatformWorker::SyncConfig, "/config")?;
        if current["version"].as_str() != Some(version) {
            return Err(Failure::findings(format!(
                "another config ({}) was applied meanwhile",
                current["version"].as_str().unwrap_or("?")
            )));
        }
        let progress = &current["progress"];
        let done = progress["kv_done"].as_u64().unwrap_or(0);
        let total = progress["kv_total"].as_u64().unwrap_or(0);
        bar.update(done, total);
        if current["status"] == json!("applied") {
            bar.finish();
            out.emit(&current, || println!("applied {version}: {done} KV operation(s)"));
            return Ok(());
        }
        if started.elapsed().as_secs() > FOLLOW_LIMIT_SECS {
            bar.finish();
            return Err(Failure::new(
                Exit::Unavailable,
                format!("{version} is still being applied after {FOLLOW_LIMIT_SECS} s"),
            )
            .hint(
                "`platform config apply` again resumes it; GET /config on sync-config shows its progress",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture() -> PathBuf {
        PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../config"))
    }

    #[test]
    fn the_example_config_is_valid_and_plans_every_derived_key() {
        let config = load(&fixture()).unwrap();
        let (desired, plan) = derive(&config).unwrap();
        assert_eq!(plan.kv.put.len(), desired.len());
        assert!(plan.kv.put.iter().all(|p| p.action == Action::Add));
        assert!(plan.kv.put.iter().any(|p| p.key == "CONFIG:BUDGETS"));
        assert!(plan.d1.changes() > 0);
    }

    #[test]
    fn bulk_entries_carry_the_value_and_the_metadata_the_worker_writes() {
        let config = load(&fixture()).unwrap();
        let (desired, plan) = derive(&config).unwrap();
        let entries = bulk_entries(&desired, &plan, 1_772_460_306_789).unwrap();
        assert_eq!(entries.len(), plan.kv.put.len());
        for (entry, put) in entries.iter().zip(&plan.kv.put) {
            assert_eq!(entry["key"], json!(put.key));
            assert_eq!(entry["value"], json!(put.value));
            assert_eq!(entry["metadata"]["digest"], json!(put.digest));
            assert_eq!(entry["metadata"]["writer"], json!("platform-sync-config"));
            assert_eq!(entry["metadata"]["written_at"], json!(1_772_460_306_789_u64));
        }
    }

    #[test]
    fn yaml_problems_name_their_file() {
        let problem = parse_yaml(ConfigFile::Budgets, "defaults: [unclosed").unwrap_err();
        assert_eq!(problem.file, ConfigFile::Budgets);
        assert!(problem.reason.starts_with("not valid YAML"), "{problem:?}");
        let duplicate = parse_yaml(ConfigFile::Services, "projects: {}\nprojects: {}\n").unwrap_err();
        assert!(duplicate.reason.contains("duplicate"), "{duplicate:?}");
        assert_eq!(
            parse_yaml(ConfigFile::Services, "# nothing yet\n").unwrap(),
            Value::Null
        );
        assert_eq!(parse_yaml(ConfigFile::Services, "").unwrap(), Value::Null);
    }

    #[test]
    fn numbers_with_separators_read_as_the_worker_reads_them() {
        let budgets = parse_yaml(ConfigFile::Budgets, "defaults:\n  daily: {d1_writes: 100_000}\n").unwrap();
        let services = json!({"projects": {}});
        let config = validate(&services, &budgets).unwrap();
        let posted = validate(
            &services,
            &json!({"defaults": {"daily": {"d1_writes": "100_000"}}}),
        )
        .unwrap();
        assert_eq!(config.version(), posted.version());
    }
}
