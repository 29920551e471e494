//! Which platform a command talks to: each worker's URL and the admin token, for one environment,
//! from the config file or the environment, never from the command line (where `ps` and shell
//! history would show the token).
//!
//! The file (`$PLATFORM_CONFIG`, default `~/.config/platform/config.toml`) has one table per
//! environment; `default` is used without `--env`:
//!
//! ```toml
//! [default]
//! admin_token = "..."              # or PLATFORM_ADMIN_TOKEN
//! workers_subdomain = "acme"       # https://<worker>.acme.workers.dev; or PLATFORM_WORKERS_SUBDOMAIN
//! [default.urls]                   # per worker, over the subdomain; or PLATFORM_USAGE_URL, ...
//! platform-usage = "https://usage.example.com"
//! ```

use std::collections::BTreeMap;
use std::path::PathBuf;

use platform_kv::PlatformWorker;
use serde::Deserialize;

use super::Failure;

/// The environment's table in the config file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct Section {
    admin_token: Option<String>,
    /// Written by `platform init`; `platform deploy` hands it to wrangler.
    account_id: Option<String>,
    workers_subdomain: Option<String>,
    #[serde(default)]
    urls: BTreeMap<String, String>,
}

/// The resolved target of admin commands.
#[derive(Debug, Clone)]
pub struct Platform {
    pub environment: String,
    pub token: String,
    pub account_id: Option<String>,
    urls: BTreeMap<PlatformWorker, String>,
    subdomain: Option<String>,
    /// Where the settings came from, for error messages.
    source: String,
}

pub const DEFAULT_ENV: &str = "default";

/// The file's path: `$PLATFORM_CONFIG`, else `$XDG_CONFIG_HOME/platform/config.toml`, else
/// `~/.config/platform/config.toml`.
pub fn config_path() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PLATFORM_CONFIG").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".config")))?;
    Some(base.join("platform").join("config.toml"))
}

/// `PLATFORM_USAGE_URL` for platform-usage, `PLATFORM_ERROR_COLLECTOR_URL` for
/// platform-error-collector: the deployed name in upper snake case, `PLATFORM_` once.
pub fn url_variable(worker: PlatformWorker) -> String {
    let name = worker.script_name().trim_start_matches("platform-");
    format!("PLATFORM_{}_URL", name.to_uppercase().replace('-', "_"))
}

fn variable(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

impl Platform {
    pub fn resolve(environment: Option<&str>) -> Result<Self, Failure> {
        let environment = environment.unwrap_or(DEFAULT_ENV).to_owned();
        let path = config_path();
        let section = match &path {
            Some(path) if path.exists() => read_section(path, &environment)?,
            _ => Section::default(),
        };
        let source = path.map_or_else(
            || "the environment".to_owned(),
            |p| format!("[{environment}] of {} or the environment", p.display()),
        );
        let token = variable("PLATFORM_ADMIN_TOKEN")
            .or(section.admin_token)
            .ok_or_else(|| {
                Failure::usage(format!("no admin token for environment {environment:?}")).hint(format!(
                    "set PLATFORM_ADMIN_TOKEN, or admin_token in {source} (docs/cli.md)"
                ))
            })?;
        let mut urls = BTreeMap::new();
        for worker in PlatformWorker::ALL {
            let url =
                variable(&url_variable(worker)).or_else(|| section.urls.get(worker.script_name()).cloned());
            if let Some(url) = url {
                urls.insert(worker, url.trim_end_matches('/').to_owned());
            }
        }
        for name in section.urls.keys() {
            if !PlatformWorker::ALL.iter().any(|w| w.script_name() == name) {
                return Err(
                    Failure::usage(format!("urls.{name} in {source}: not a platform worker"))
                        .hint(format!("the workers: {}", script_names().join(", "))),
                );
            }
        }
        let subdomain = variable("PLATFORM_WORKERS_SUBDOMAIN").or(section.workers_subdomain);
        Ok(Self {
            environment,
            token: token.trim().to_owned(),
            account_id: variable("CLOUDFLARE_ACCOUNT_ID").or(section.account_id),
            urls,
            subdomain,
            source,
        })
    }

    /// The deployed name of a worker in this environment (`platform-usage-staging`).
    pub fn script_name(&self, worker: PlatformWorker) -> String {
        if self.environment == DEFAULT_ENV {
            worker.script_name().to_owned()
        } else {
            format!("{}-{}", worker.script_name(), self.environment)
        }
    }

    /// The account's workers.dev subdomain, when known.
    pub fn subdomain(&self) -> Option<&str> {
        self.subdomain.as_deref()
    }

    /// The base URL of a worker: its own, or its workers.dev address.
    pub fn url(&self, worker: PlatformWorker) -> Result<String, Failure> {
        if let Some(url) = self.urls.get(&worker) {
            return Ok(url.clone());
        }
        match &self.subdomain {
            Some(subdomain) => Ok(format!(
                "https://{}.{subdomain}.workers.dev",
                self.script_name(worker)
            )),
            None => Err(Failure::usage(format!(
                "no URL for {} in environment {:?}",
                worker.script_name(),
                self.environment
            ))
            .hint(format!(
                "set {} or workers_subdomain (PLATFORM_WORKERS_SUBDOMAIN), in {}",
                url_variable(worker),
                self.source
            ))),
        }
    }
}

/// Sets `values` in the environment's table of the config file (made if missing, private to its
/// owner), keeping everything else in it as it was. Returns the file's path.
pub fn remember(environment: &str, values: &[(&str, String)]) -> Result<PathBuf, Failure> {
    edit(environment, |table| {
        for (key, value) in values {
            table.insert(key, toml_edit::value(value.as_str()));
        }
        Ok(())
    })
}

/// Sets workers' URLs in the environment's `urls` table of the config file, as [`remember`] does.
pub fn remember_urls(environment: &str, urls: &[(&str, &str)]) -> Result<PathBuf, Failure> {
    edit(environment, |table| {
        let urls_table = table
            .entry("urls")
            .or_insert_with(toml_edit::table)
            .as_table_mut()
            .ok_or_else(|| Failure::usage(format!("[{environment}.urls] is not a table")))?;
        for (worker, url) in urls {
            urls_table.insert(worker, toml_edit::value(*url));
        }
        Ok(())
    })
}

fn edit(
    environment: &str,
    change: impl FnOnce(&mut toml_edit::Table) -> Result<(), Failure>,
) -> Result<PathBuf, Failure> {
    let path = config_path()
        .ok_or_else(|| Failure::usage("no place for the config file: set PLATFORM_CONFIG or HOME"))?;
    let shown = path.display().to_string();
    let text = if path.exists() {
        std::fs::read_to_string(&path).map_err(|e| Failure::usage(format!("cannot read {shown}: {e}")))?
    } else {
        String::from(
            "# The platform command line's environments (docs/cli.md). Keep it private: chmod 600.\n",
        )
    };
    let mut doc: toml_edit::DocumentMut = text
        .parse()
        .map_err(|e| Failure::usage(format!("{shown} is not valid TOML: {e}")))?;
    let table = doc
        .as_table_mut()
        .entry(environment)
        .or_insert_with(toml_edit::table)
        .as_table_mut()
        .ok_or_else(|| Failure::usage(format!("[{environment}] in {shown} is not a table")))?;
    change(table)?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| Failure::usage(format!("cannot create {}: {e}", dir.display())))?;
    }
    std::fs::write(&path, doc.to_string())
        .map_err(|e| Failure::usage(format!("cannot write {shown}: {e}")))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
    }
    Ok(path)
}

fn script_names() -> Vec<&'static str> {
    PlatformWorker::ALL.iter().map(|w| w.script_name()).collect()
}

fn read_section(path: &std::path::Path, environment: &str) -> Result<Section, Failure> {
    let shown = path.display();
    let text =
        std::fs::read_to_string(path).map_err(|e| Failure::usage(format!("cannot read {shown}: {e}")))?;
    warn_if_readable_by_others(path, &text);
    let mut tables: BTreeMap<String, toml::Value> =
        toml::from_str(&text).map_err(|e| Failure::usage(format!("{shown} is not valid TOML: {e}")))?;
    let Some(table) = tables.remove(environment) else {
        return Ok(Section::default());
    };
    table
        .try_into()
        .map_err(|e| Failure::usage(format!("[{environment}] in {shown}: {e}")))
}

/// A token in a file others may read is worth a warning, not a refusal.
fn warn_if_readable_by_others(path: &std::path::Path, text: &str) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let open = std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o077 != 0);
        if open && text.contains("admin_token") {
            eprintln!(
                "warning: {} holds an admin token and others may read it: chmod 600 it",
                path.display()
            );
        }
    }
    #[cfg(not(unix))]
    let _ = (path, text);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_worker_has_its_own_url_variable() {
        let names: Vec<String> = PlatformWorker::ALL.iter().map(|w| url_variable(*w)).collect();
        assert_eq!(
            names,
            [
                "PLATFORM_USAGE_URL",
                "PLATFORM_ERROR_COLLECTOR_URL",
                "PLATFORM_SENTINEL_URL",
                "PLATFORM_NOTIFICATIONS_URL",
                "PLATFORM_SYNC_CONFIG_URL",
                "PLATFORM_PATTERN_DISCOVERY_URL",
            ]
        );
    }

    #[test]
    fn workers_dev_urls_name_the_script_of_the_environment() {
        let platform = |environment: &str| Platform {
            environment: environment.into(),
            token: "t".into(),
            account_id: None,
            urls: BTreeMap::from([(PlatformWorker::Sentinel, "http://127.0.0.1:9".to_owned())]),
            subdomain: Some("acme".into()),
            source: String::new(),
        };
        let usage = PlatformWorker::PlatformUsage;
        assert_eq!(
            platform(DEFAULT_ENV).url(usage).unwrap(),
            "https://platform-usage.acme.workers.dev"
        );
        assert_eq!(
            platform("staging").url(usage).unwrap(),
            "https://platform-usage-staging.acme.workers.dev"
        );
        assert_eq!(
            platform("staging").url(PlatformWorker::Sentinel).unwrap(),
            "http://127.0.0.1:9"
        );
    }
}
