//! `platform init`: from an API token and an account id to an account holding the platform's
//! resources, with their ids written into the wrangler configs. Each resource is found by name
//! before it is created, so running it again changes nothing.

use std::path::{Path, PathBuf};

use clap::Args;
use serde_json::{json, Value};

use super::cloudflare::Api;
use super::render::Output;
use super::target::{self, DEFAULT_ENV};
use super::wire::{self, Change, Format, Want};
use super::{Exit, Failure};

#[derive(Debug, Args)]
pub struct InitArgs {
    /// The Cloudflare account (the id in the dashboard's URL).
    #[arg(long, env = "CLOUDFLARE_ACCOUNT_ID", value_name = "ID")]
    pub account_id: String,
    /// The platform's wrangler configs, whose ids are written.
    #[arg(long, default_value = "wrangler", value_name = "DIR")]
    pub wrangler_dir: PathBuf,
}

/// One resource the platform needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resource {
    pub kind: Kind,
    pub name: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Kv,
    D1,
    Queue,
}

impl Kind {
    fn label(self) -> &'static str {
        match self {
            Kind::Kv => "KV namespace",
            Kind::D1 => "D1 database",
            Kind::Queue => "queue",
        }
    }

    /// Collection path, the create body's name field, and the answer's id and name fields.
    fn api(self) -> (&'static str, &'static str, &'static str, &'static str) {
        match self {
            Kind::Kv => ("storage/kv/namespaces", "title", "id", "title"),
            Kind::D1 => ("d1/database", "name", "uuid", "name"),
            Kind::Queue => ("queues", "queue_name", "queue_id", "queue_name"),
        }
    }
}

/// The configs of `dir`, each read as data, in file-name order.
pub fn configs(dir: &Path) -> Result<Vec<(PathBuf, Value)>, Failure> {
    let entries = std::fs::read_dir(dir).map_err(|e| {
        Failure::usage(format!("cannot read {}: {e}", dir.display()))
            .hint("run from the platform's repository, or pass --wrangler-dir")
    })?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path)
                .map_err(|e| Failure::usage(format!("cannot read {}: {e}", path.display())))?;
            let data =
                toml::from_str(&text).map_err(|e| Failure::usage(format!("{}: {e}", path.display())))?;
            Ok((path, data))
        })
        .collect()
}

/// A config's section for an environment: the top level, or `[env.NAME]`.
pub fn section<'a>(config: &'a Value, environment: &str) -> &'a Value {
    if environment == DEFAULT_ENV {
        config
    } else {
        &config["env"][environment]
    }
}

/// The resources the configs of one environment name: the namespace, the database and every queue.
pub fn resources(configs: &[(PathBuf, Value)], environment: &str) -> Vec<Resource> {
    let suffix = if environment == DEFAULT_ENV {
        String::new()
    } else {
        format!("-{environment}")
    };
    let mut found = vec![Resource {
        kind: Kind::Kv,
        name: format!("platform-cache{suffix}"),
    }];
    let mut add = |kind: Kind, name: &str| {
        let resource = Resource {
            kind,
            name: name.to_owned(),
        };
        if !found.contains(&resource) {
            found.push(resource);
        }
    };
    for (_, config) in configs {
        let section = section(config, environment);
        for db in section["d1_databases"].as_array().into_iter().flatten() {
            if let Some(name) = db["database_name"].as_str() {
                add(Kind::D1, name);
            }
        }
        for role in ["producers", "consumers"] {
            for queue in section["queues"][role].as_array().into_iter().flatten() {
                for field in ["queue", "dead_letter_queue"] {
                    if let Some(name) = queue[field].as_str() {
                        add(Kind::Queue, name);
                    }
                }
            }
        }
    }
    found
}

/// The resource's id: found by name, or created.
fn find_or_create(api: &Api, account: &str, resource: &Resource) -> Result<(String, bool), Failure> {
    let (path, field, id_field, name_field) = resource.kind.api();
    let collection = format!("/accounts/{account}/{path}");
    let what = format!("looking for the {} {}", resource.kind.label(), resource.name);
    let query = if resource.kind == Kind::D1 {
        format!("{collection}?name={}", resource.name)
    } else {
        collection.clone()
    };
    let existing = api.list(&query, &what)?;
    if let Some(found) = existing
        .iter()
        .find(|item| item[name_field] == resource.name.as_str())
    {
        return id_of(found, id_field, &what).map(|id| (id, false));
    }
    let what = format!("creating the {} {}", resource.kind.label(), resource.name);
    let created = api.call("POST", &collection, Some(&json!({ field: resource.name })), &what)?;
    id_of(&created["result"], id_field, &what).map(|id| (id, true))
}

fn id_of(item: &Value, field: &str, what: &str) -> Result<String, Failure> {
    item[field]
        .as_str()
        .map(str::to_owned)
        .ok_or_else(|| Failure::new(Exit::Unavailable, format!("{what}: the answer has no {field}")))
}

/// `Workers Paid` when the account subscribes to it, else `Free`; `None` when the token may not
/// read subscriptions.
fn plan(api: &Api, account: &str) -> Option<String> {
    let answer = api
        .call(
            "GET",
            &format!("/accounts/{account}/subscriptions"),
            None,
            "reading the plan",
        )
        .ok()?;
    let paid = answer["result"].as_array().into_iter().flatten().any(|s| {
        s["rate_plan"]["id"]
            .as_str()
            .is_some_and(|id| id.contains("workers_paid"))
    });
    Some(if paid { "Workers Paid" } else { "Free" }.to_owned())
}

/// Writes the namespace and database ids into every config of `dir` that binds them, in the
/// environment's section; returns the files changed.
fn write_ids(
    dir: &Path,
    environment: &str,
    kv_id: &str,
    d1_id: Option<&str>,
) -> Result<Vec<String>, Failure> {
    let base: Vec<String> = if environment == DEFAULT_ENV {
        vec![]
    } else {
        vec!["env".into(), environment.into()]
    };
    let mut wants = vec![Want {
        list: vec!["kv_namespaces".into()],
        key: ("binding".into(), "PLATFORM_CACHE".into()),
        fields: vec![("id".into(), kv_id.into())],
    }];
    if let Some(d1_id) = d1_id {
        wants.push(Want {
            list: vec!["d1_databases".into()],
            key: ("binding".into(), "PLATFORM_DB".into()),
            fields: vec![("database_id".into(), d1_id.into())],
        });
    }
    let mut changed = Vec::new();
    for (path, data) in configs(dir)? {
        // Only the ids of bindings a config has: a worker without the database gets none.
        let changes: Vec<Change> = wire::plan(&data, &base, &wants)?
            .into_iter()
            .filter(|c| matches!(c, Change::Set { .. }))
            .collect();
        if changes.is_empty() {
            continue;
        }
        let text = std::fs::read_to_string(&path)
            .map_err(|e| Failure::usage(format!("cannot read {}: {e}", path.display())))?;
        let updated = wire::apply(Format::Toml, &text, &changes)
            .map_err(|e| Failure::usage(format!("{}: {e}", path.display())))?;
        std::fs::write(&path, updated)
            .map_err(|e| Failure::usage(format!("cannot write {}: {e}", path.display())))?;
        changed.push(path.display().to_string());
    }
    Ok(changed)
}

/// 32 random bytes, hex: the admin token.
fn new_token() -> Result<String, Failure> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| Failure::usage(format!("no randomness for the admin token: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

pub fn run(args: InitArgs, environment: Option<&str>, out: &Output) -> Result<(), Failure> {
    let environment = environment.unwrap_or(DEFAULT_ENV);
    let account = args.account_id.trim();
    if account.is_empty() || !account.chars().all(|c| c.is_ascii_alphanumeric()) {
        return Err(Failure::usage(format!(
            "{account:?} is not an account id (32 hex characters, from the dashboard's URL)"
        )));
    }
    let api = Api::from_env()?;
    api.call("GET", "/user/tokens/verify", None, "checking the API token")?;
    let plan = plan(&api, account);
    let configs = configs(&args.wrangler_dir)?;
    let mut rows = Vec::new();
    let (mut kv_id, mut d1_id) = (None, None);
    for resource in resources(&configs, environment) {
        let (id, created) = find_or_create(&api, account, &resource)?;
        match resource.kind {
            Kind::Kv => kv_id = Some(id.clone()),
            Kind::D1 if d1_id.is_none() => d1_id = Some(id.clone()),
            _ => {}
        }
        rows.push((resource, id, created));
    }
    let kv_id = kv_id.ok_or_else(|| Failure::usage("no KV namespace to create"))?;
    let files = write_ids(&args.wrangler_dir, environment, &kv_id, d1_id.as_deref())?;

    let subdomain = api
        .call(
            "GET",
            &format!("/accounts/{account}/workers/subdomain"),
            None,
            "reading the workers.dev subdomain",
        )
        .ok()
        .and_then(|a| a["result"]["subdomain"].as_str().map(str::to_owned));
    let existing_token = target::Platform::resolve(Some(environment)).ok().map(|p| p.token);
    let mut remembered = vec![("account_id", account.to_owned())];
    if let Some(subdomain) = &subdomain {
        remembered.push(("workers_subdomain", subdomain.clone()));
    }
    let generated = existing_token.is_none();
    if generated {
        remembered.push(("admin_token", new_token()?));
    }
    let saved = target::remember(environment, &remembered)?;

    let resources: Vec<Value> = rows
        .iter()
        .map(|(r, id, created)| json!({"kind": r.kind.label(), "name": r.name, "id": id, "action": if *created { "created" } else { "found" }}))
        .collect();
    let report = json!({
        "account_id": account, "environment": environment, "plan": plan, "resources": resources,
        "wrangler_files_updated": files, "settings_file": saved.display().to_string(),
        "admin_token_generated": generated, "workers_subdomain": subdomain,
    });
    out.emit(&report, || {
        println!("account {account} ({} plan), environment {environment}", plan.as_deref().unwrap_or("unknown: the token may not read subscriptions"));
        let table: Vec<Vec<String>> = rows
            .iter()
            .map(|(r, id, created)| vec![r.kind.label().to_owned(), r.name.clone(), id.clone(), if *created { "created" } else { "found" }.to_owned()])
            .collect();
        out.table(&["resource", "name", "id", ""], &table);
        if files.is_empty() {
            println!("\nthe wrangler configs already hold these ids");
        } else {
            println!("\nids written into: {}", files.join(", "));
        }
        let token = if generated { "a new admin token, " } else { "" };
        println!("saved {token}the account id and the workers.dev subdomain in {}", saved.display());
        if plan.as_deref() == Some("Free") {
            println!("note: on the Free plan, KV allows 1,000 writes a day; the platform writes on transitions only");
        }
        println!("next: platform deploy{}", if environment == DEFAULT_ENV { String::new() } else { format!(" --env {environment}") });
    });
    Ok(())
}
