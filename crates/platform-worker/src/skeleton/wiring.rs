//! The declaration against the worker's wrangler config: every declared cron is in
//! `[triggers] crons` and every cron there has a handler; each queue handler's var is in `[vars]`
//! and names a queue of `[[queues.consumers]]`, and each consumed queue has a handler; required
//! vars, KV, D1, queue-producer and service bindings are configured. Checked at the top level and
//! in each `[env.*]`: triggers are inherited by environments, vars and bindings are not.
//!
//! The check works on the config as JSON; [`against_wrangler`], for native tests only, reads and
//! converts the worker's `wrangler/<crate>.toml`, so no toml parser is in the wasm.

use serde_json::Value;

use super::triggers::{interval_ms, Trigger};
use super::WorkerSpec;
use crate::Binding;

/// Every way the declaration and the config disagree; empty when they agree.
pub fn mismatches(spec: &WorkerSpec, config: &Value) -> Vec<String> {
    let mut found = Vec::new();
    if let Some(fallback) = spec.unexpected_queue {
        if !matches!(fallback.trigger, Trigger::Queue { .. }) {
            found.push(format!(
                "the unexpected-queue handler {} is not a queue handler",
                fallback.name
            ));
        }
    }
    for handler in spec.handlers {
        if let Trigger::Cron(expression) = handler.trigger {
            if interval_ms(expression).is_none() {
                found.push(format!(
                    "handler {}: cron {expression:?} has no interval /health can hold it to",
                    handler.name
                ));
            }
        }
    }
    check(spec, config, None, "top level", &mut found);
    if let Some(envs) = config.get("env").and_then(Value::as_object) {
        for (name, env) in envs {
            check(spec, config, Some(env), &format!("[env.{name}]"), &mut found);
        }
    }
    found
}

/// The strings at `field` of each table of the array at `path`.
fn names<'a>(section: &'a Value, path: &[&str], field: &str) -> Vec<&'a str> {
    let array = path
        .iter()
        .try_fold(section, |value, key| value.get(key))
        .and_then(Value::as_array);
    array
        .map(|tables| {
            tables
                .iter()
                .filter_map(|table| table.get(field).and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default()
}

fn check(spec: &WorkerSpec, top: &Value, env: Option<&Value>, place: &str, found: &mut Vec<String>) {
    let section = env.unwrap_or(top);
    let triggers = env
        .and_then(|e| e.get("triggers"))
        .or_else(|| top.get("triggers"));
    let crons: Vec<&str> = triggers
        .and_then(|t| t.get("crons"))
        .and_then(Value::as_array)
        .map(|crons| crons.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let declared: Vec<(&str, &str)> = spec
        .handlers
        .iter()
        .filter_map(|h| match h.trigger {
            Trigger::Cron(expression) => Some((h.name, expression)),
            _ => None,
        })
        .collect();
    for (name, expression) in &declared {
        if !crons.contains(expression) {
            found.push(format!(
                "{place}: handler {name} runs at cron {expression:?}, which [triggers] crons does not have"
            ));
        }
    }
    for cron in &crons {
        if !declared.iter().any(|(_, expression)| expression == cron) {
            found.push(format!(
                "{place}: [triggers] crons has {cron:?}, which no handler runs"
            ));
        }
    }

    let var = |name: &str| {
        section
            .get("vars")
            .and_then(|vars| vars.get(name))
            .and_then(Value::as_str)
    };
    let consumers = names(section, &["queues", "consumers"], "queue");
    let mut handled = Vec::new();
    for handler in spec.handlers {
        let Trigger::Queue { var: name } = handler.trigger else {
            continue;
        };
        match var(name) {
            None => found.push(format!(
                "{place}: var {name} (the queue of handler {}) is not in [vars]",
                handler.name
            )),
            Some(queue) => {
                handled.push(queue);
                if !consumers.contains(&queue) {
                    found.push(format!(
                        "{place}: {name} = {queue:?} (handler {}), but no [[queues.consumers]] consumes it",
                        handler.name
                    ));
                }
            }
        }
    }
    for queue in &consumers {
        if !handled.contains(queue) {
            found.push(format!(
                "{place}: [[queues.consumers]] consumes {queue:?}, which no handler's var names"
            ));
        }
    }

    for binding in spec.info.bindings {
        let present = match *binding {
            Binding::Var(name) => var(name).is_some(),
            Binding::Kv(name) => names(section, &["kv_namespaces"], "binding").contains(&name),
            Binding::D1(name) => names(section, &["d1_databases"], "binding").contains(&name),
            Binding::Queue(name) => names(section, &["queues", "producers"], "binding").contains(&name),
            Binding::Service(name) => names(section, &["services"], "binding").contains(&name),
            // Secrets are set with `wrangler secret put`, not in the config.
            Binding::Secret(_) => true,
            Binding::Ai(name) => {
                section
                    .get("ai")
                    .and_then(|ai| ai.get("binding"))
                    .and_then(|b| b.as_str())
                    == Some(name)
            }
        };
        if !present {
            found.push(format!("{place}: {binding:?} is declared but not configured"));
        }
    }
}

/// The mismatches between a declaration and its `wrangler/<crate>.toml` (native tests only). A
/// config that cannot be read is one mismatch that says why.
#[cfg(not(target_arch = "wasm32"))]
pub fn against_wrangler(spec: &WorkerSpec) -> Vec<String> {
    let path = format!(
        "{}/../../wrangler/{}.toml",
        env!("CARGO_MANIFEST_DIR"),
        spec.info.id.crate_name()
    );
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(error) => return vec![format!("{path}: {error}")],
    };
    match toml::from_str::<toml::Table>(&text).map(serde_json::to_value) {
        Ok(Ok(config)) => mismatches(spec, &config),
        Ok(Err(error)) => vec![format!("{path}: {error}")],
        Err(error) => vec![format!("{path}: {error}")],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::skeleton::{Batch, Handler, LocalFuture, Outcome};
    use crate::{bindings, WorkerInfo};
    use platform_kv::PlatformWorker;

    fn idle(_: worker::Env, _: u64) -> LocalFuture<Outcome> {
        Box::pin(async { Outcome::default() })
    }

    fn settle(_: Batch) -> LocalFuture<Outcome> {
        Box::pin(async { Outcome::default() })
    }

    const SWEEP: Handler = Handler::cron("sweep", "*/5 * * * *", idle);
    const TELEMETRY: Handler = Handler::queue("telemetry", "TELEMETRY_QUEUE", settle).stamps_itself();
    const SPEC: WorkerSpec = WorkerSpec {
        info: WorkerInfo {
            id: PlatformWorker::PlatformUsage,
            version: "0.1.0",
            bindings: &[
                bindings::COMMON[0],
                bindings::COMMON[1],
                Binding::Queue("PLATFORM_TELEMETRY"),
            ],
            optional: &[],
        },
        routes: &[],
        handlers: &[SWEEP, TELEMETRY],
        unexpected_queue: Some(&TELEMETRY),
    };

    const CONFIG: &str = r#"
        name = "platform-usage"
        [triggers]
        crons = ["*/5 * * * *"]
        [vars]
        TELEMETRY_QUEUE = "platform-telemetry"
        [[queues.producers]]
        binding = "PLATFORM_TELEMETRY"
        queue = "platform-telemetry"
        [[queues.consumers]]
        queue = "platform-telemetry"
        [[kv_namespaces]]
        binding = "PLATFORM_CACHE"
        id = "x"
        [[d1_databases]]
        binding = "PLATFORM_DB"
        database_id = "y"

        [env.staging]
        name = "platform-usage-staging"
        [env.staging.vars]
        TELEMETRY_QUEUE = "platform-telemetry-staging"
        [[env.staging.queues.producers]]
        binding = "PLATFORM_TELEMETRY"
        queue = "platform-telemetry-staging"
        [[env.staging.queues.consumers]]
        queue = "platform-telemetry-staging"
        [[env.staging.kv_namespaces]]
        binding = "PLATFORM_CACHE"
        id = "x"
        [[env.staging.d1_databases]]
        binding = "PLATFORM_DB"
        database_id = "y"
    "#;

    fn check(config: &str) -> Vec<String> {
        let table: toml::Table = match toml::from_str(config) {
            Ok(table) => table,
            Err(error) => panic!("{error}"),
        };
        mismatches(&SPEC, &serde_json::to_value(table).unwrap_or_default())
    }

    #[test]
    fn a_config_that_matches_has_no_mismatches() {
        assert_eq!(check(CONFIG), Vec::<String>::new());
    }

    #[test]
    fn a_mismatched_cron_is_caught_at_every_level() {
        let problems = check(&CONFIG.replace("*/5 * * * *", "*/10 * * * *"));
        for expected in [
            "top level: handler sweep runs at cron \"*/5 * * * *\", which [triggers] crons does not have",
            "top level: [triggers] crons has \"*/10 * * * *\", which no handler runs",
            // Inherited by the environment.
            "[env.staging]: handler sweep runs at cron \"*/5 * * * *\", which [triggers] crons does not have",
        ] {
            assert!(
                problems.iter().any(|p| p == expected),
                "{expected} not in {problems:#?}"
            );
        }
        let staging_only = CONFIG.replace(
            "[env.staging.vars]",
            "[env.staging.triggers]\n crons = [\"*/6 * * * *\"]\n[env.staging.vars]",
        );
        assert_eq!(
            check(&staging_only),
            vec![
                "[env.staging]: handler sweep runs at cron \"*/5 * * * *\", which [triggers] crons does not have",
                "[env.staging]: [triggers] crons has \"*/6 * * * *\", which no handler runs",
            ]
        );
    }

    #[test]
    fn queues_vars_and_bindings_are_checked_per_environment() {
        let problems = check(&CONFIG.replace(
            "TELEMETRY_QUEUE = \"platform-telemetry-staging\"",
            "TELEMETRY_QUEUE = \"platform-telemetry\"",
        ));
        assert_eq!(
            problems,
            vec![
                "[env.staging]: TELEMETRY_QUEUE = \"platform-telemetry\" (handler telemetry), but no [[queues.consumers]] consumes it",
                "[env.staging]: [[queues.consumers]] consumes \"platform-telemetry-staging\", which no handler's var names",
            ]
        );
        let problems = check(&CONFIG.replace("[env.staging.vars]", "[env.staging.other]"));
        assert!(
            problems.contains(
                &"[env.staging]: var TELEMETRY_QUEUE (the queue of handler telemetry) is not in [vars]"
                    .to_owned()
            ),
            "{problems:#?}"
        );
        let problems = check(&CONFIG.replace("[[env.staging.d1_databases]]", "[[env.staging.other]]"));
        assert_eq!(
            problems,
            vec!["[env.staging]: D1(\"PLATFORM_DB\") is declared but not configured"]
        );
    }
}
