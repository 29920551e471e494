//! JSON Schemas of services.yaml and budgets.yaml, for editors (the example files name them in a
//! `yaml-language-server` comment). Built from the domain's own lists (metrics, cost tiers, cost
//! services, the settings' descriptions), and tested against the validator: every field the
//! schemas declare is one `platform_core::config::validate` accepts, and any other is refused. The
//! validator stays the authority (cross-file rules such as "a budget names a declared feature" are
//! its alone); the schemas catch typos while typing.

use platform_core::metric::Metric;
use platform_core::services::{CostTier, MAX_TIER};
use platform_core::settings::SETTINGS;
use platform_core::thresholds::CostService;
use serde_json::{json, Map, Value};

const DIALECT: &str = "https://json-schema.org/draft/2020-12/schema";

/// The schema files, by the name they are committed under (`config/schema/`).
pub fn files() -> [(&'static str, Value); 2] {
    [
        ("services.schema.json", services()),
        ("budgets.schema.json", budgets()),
    ]
}

fn setting_description(key: &str) -> &'static str {
    SETTINGS
        .iter()
        .find(|spec| spec.key == key)
        .map_or("", |spec| spec.description)
}

/// A mapping with exactly these properties.
fn closed(description: &str, properties: Value) -> Value {
    json!({
        "type": "object",
        "description": description,
        "additionalProperties": false,
        "properties": properties,
    })
}

/// A whole number of 0 or more, written as a number or as text with `_` separators.
fn whole(description: &str, maximum: Option<u64>) -> Value {
    let mut number = json!({"type": "integer", "minimum": 0});
    if let Some(max) = maximum {
        number["maximum"] = json!(max);
    }
    json!({
        "description": description,
        "anyOf": [number, {"type": "string", "pattern": "^\\s*[0-9][0-9_]*\\s*$"}],
    })
}

fn usd(description: &str) -> Value {
    json!({
        "description": description,
        "anyOf": [
            {"type": "number", "minimum": 0},
            {"type": "string", "pattern": "^\\s*[0-9][0-9_]*(\\.[0-9]+)?\\s*$"},
        ],
    })
}

/// `daily` or `monthly` limits: one per metric, by its budget name.
fn metric_limits(period: &str) -> Value {
    let properties: Map<String, Value> = Metric::ALL
        .iter()
        .map(|metric| {
            let name = metric.budget_name();
            (
                name.to_owned(),
                whole(&format!("Limit of {name} per UTC {period}"), None),
            )
        })
        .collect();
    closed(
        &format!("Limits per metric for one UTC {period}"),
        Value::Object(properties),
    )
}

fn period_limits(description: &str) -> Value {
    closed(
        description,
        json!({"daily": {"$ref": "#/$defs/daily"}, "monthly": {"$ref": "#/$defs/monthly"}}),
    )
}

fn services() -> Value {
    let tiers: Vec<&str> = CostTier::ALL.iter().map(|t| t.name()).collect();
    let feature = json!({
        "description": "A feature; `{}` or nothing leaves every field to its default",
        "type": ["object", "null"],
        "additionalProperties": false,
        "properties": {
            "display_name": {"type": "string", "description": "Shown in alerts; defaults to the feature name"},
            "circuit_breaker": {"type": "boolean", "default": true,
                "description": "Whether a breaker guards the feature (and budgets apply to it)"},
            "cost_tier": {"enum": tiers, "default": "medium", "description": "What the feature's spend costs"},
            "expect": {"type": "string", "pattern": "^(traffic|every [0-9]+[mhd])$",
                "description": "How often the feature is heard from: `traffic`, or `every 15m`, `every 24h`, `every 7d`"},
        },
    });
    let project = json!({
        "type": "object",
        "additionalProperties": false,
        "required": ["repository"],
        "properties": {
            "display_name": {"type": "string", "description": "Defaults to the slug"},
            "repository": {"type": "string", "pattern": "^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$",
                "description": "GitHub owner/repo where the project's errors are filed"},
            "tier": {"anyOf": [{"type": "integer", "minimum": 0, "maximum": MAX_TIER}, {"type": "string"}],
                "default": MAX_TIER, "description": "Priority of the project's errors: 0 (P0) to 2"},
            "scripts": {"type": "array", "uniqueItems": true,
                "items": {"type": "string", "pattern": "^[a-z0-9_-]{1,63}$"},
                "description": "Worker script names (as deployed) whose errors belong to this project"},
            "features": {"type": "object", "description": "Features by category, then by name",
                "propertyNames": {"pattern": "^[^:\\s]+$"},
                "additionalProperties": {"type": "object", "propertyNames": {"pattern": "^[^:\\s]+$"},
                    "additionalProperties": {"$ref": "#/$defs/feature"}}},
        },
    });
    json!({
        "$schema": DIALECT,
        "title": "services.yaml",
        "description": "The account's projects, their Worker scripts and their features (docs/config.md)",
        "type": "object",
        "additionalProperties": false,
        "required": ["projects"],
        "properties": {
            "projects": {"type": "object", "description": "Projects by slug (no ':' and no spaces)",
                "propertyNames": {"pattern": "^[^:\\s]+$"},
                "additionalProperties": {"$ref": "#/$defs/project"}},
        },
        "$defs": {"project": project, "feature": feature},
    })
}

fn budgets() -> Value {
    let services: Map<String, Value> = CostService::ALL
        .iter()
        .map(|service| {
            (
                service.name().to_owned(),
                json!({"$ref": "#/$defs/cost_threshold"}),
            )
        })
        .collect();
    let percent = |what: &str| json!({"anyOf": [{"type": "integer", "minimum": 1, "maximum": 100}, {"type": "string"}], "description": what});
    let cost_threshold = closed(
        "Merged over the service's defaults",
        json!({
            "warning_pct": percent("Percent of absolute_max_usd that raises a warning"),
            "high_pct": percent("Percent of absolute_max_usd that raises a high alert"),
            "critical_pct": percent("Percent of absolute_max_usd that raises a critical alert"),
            "absolute_max_usd": usd("The month's overage, in USD, that counts as the maximum"),
            "enabled": {"type": "boolean"},
        }),
    );
    let defaults = closed(
        "What every guarded feature may use",
        json!({
            "daily": {"$ref": "#/$defs/daily"},
            "monthly": {"$ref": "#/$defs/monthly"},
            "warning_thresholds": {
                "description": setting_description("budget_warning_thresholds"),
                "anyOf": [
                    {"type": "array", "items": {"type": "integer", "minimum": 1, "maximum": 99}},
                    {"type": "string", "pattern": "^\\s*[0-9]+(\\s*,\\s*[0-9]+)*\\s*$"},
                ],
            },
            "circuit_breaker": closed("Breaker timings", json!({
                "cooldown_seconds": whole(setting_description("cb_cooldown_seconds"), Some(u64::from(u32::MAX))),
                "max_consecutive_trips": whole(setting_description("cb_max_consecutive_trips"), Some(1000)),
            })),
        }),
    );
    json!({
        "$schema": DIALECT,
        "title": "budgets.yaml",
        "description": "Limits per metric, warning thresholds, breaker timings, alert settings and cost thresholds (docs/config.md)",
        "type": "object",
        "additionalProperties": false,
        "properties": {
            "defaults": defaults,
            "projects": {"type": "object", "description": "Limits on a project's total, by project slug",
                "additionalProperties": period_limits("A project's limits (not merged with the defaults)")},
            "features": {"type": "object", "description": "Per-feature overrides, merged over the defaults metric by metric",
                "propertyNames": {"pattern": "^[^:\\s]+:[^:\\s]+:[^:\\s]+$"},
                "additionalProperties": period_limits("A feature's overrides")},
            "alerts": closed("Alert settings", json!({
                "soft_limit_usd": usd(setting_description("budget_soft_limit")),
            })),
            "cost_thresholds": {
                "type": "object", "additionalProperties": false,
                "description": "The sentinel's per-service cost thresholds",
                "properties": services,
            },
        },
        "$defs": {
            "daily": metric_limits("day"),
            "monthly": metric_limits("month"),
            "cost_threshold": cost_threshold,
        },
    })
}

/// The schema files as committed: pretty JSON with a final newline.
pub fn render(schema: &Value) -> String {
    let mut text = serde_json::to_string_pretty(schema).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use platform_core::config::validate;
    use serde_json::json;

    use super::*;

    fn committed(name: &str) -> String {
        let path = format!("{}/../../config/schema/{name}", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(&path).unwrap_or_default()
    }

    #[test]
    fn the_committed_schemas_are_current() {
        for (name, schema) in files() {
            assert!(
                committed(name) == render(&schema),
                "config/schema/{name} is stale: run `cargo run -p platform-cli -- config schema`"
            );
        }
    }

    /// A document that uses every field the schemas declare.
    fn everything() -> (Value, Value) {
        let metrics: Map<String, Value> = Metric::ALL
            .iter()
            .map(|m| (m.budget_name().to_owned(), json!(1000)))
            .collect();
        let services = json!({"projects": {"app": {
            "display_name": "App", "repository": "acme/app", "tier": 1, "scripts": ["app-api"],
            "features": {"api": {"render": {"display_name": "Render", "circuit_breaker": true,
                "cost_tier": "high", "expect": "every 24h"}, "plain": null}},
        }}});
        let thresholds: Map<String, Value> = CostService::ALL
            .iter()
            .map(|s| {
                (
                    s.name().to_owned(),
                    json!({"enabled": true, "absolute_max_usd": 50}),
                )
            })
            .collect();
        let budgets = json!({
            "defaults": {"daily": metrics.clone(), "monthly": metrics.clone(), "warning_thresholds": [70, 90],
                "circuit_breaker": {"cooldown_seconds": 300, "max_consecutive_trips": 3}},
            "projects": {"app": {"daily": metrics.clone(), "monthly": metrics.clone()}},
            "features": {"app:api:render": {"daily": metrics.clone(), "monthly": metrics}},
            "alerts": {"soft_limit_usd": 25},
            "cost_thresholds": thresholds,
        });
        (services, budgets)
    }

    #[test]
    fn every_declared_field_is_accepted_by_the_validator() {
        let (services, budgets) = everything();
        if let Err(problems) = validate(&services, &budgets) {
            panic!("{problems:#?}");
        }
    }

    /// Each closed mapping of the schemas, at its place in `everything()`: a field it does not
    /// declare is refused by the validator too.
    #[test]
    fn a_field_the_schemas_leave_out_is_refused_by_the_validator() {
        let places: [(&str, &[&str]); 9] = [
            ("services", &[]),
            ("services", &["projects", "app"]),
            ("services", &["projects", "app", "features", "api", "render"]),
            ("budgets", &[]),
            ("budgets", &["defaults"]),
            ("budgets", &["defaults", "daily"]),
            ("budgets", &["defaults", "circuit_breaker"]),
            ("budgets", &["alerts"]),
            ("budgets", &["cost_thresholds", "d1"]),
        ];
        for (file, path) in places {
            let (mut services, mut budgets) = everything();
            let document = if file == "services" {
                &mut services
            } else {
                &mut budgets
            };
            let mut at = document;
            for part in path {
                at = &mut at[*part];
            }
            at["surely_unknown"] = json!(1);
            let problems = validate(&services, &budgets).unwrap_err();
            assert!(
                problems.iter().any(|p| p.path.ends_with("surely_unknown")
                    || p.reason.contains("surely_unknown")
                    || p.reason.contains("unknown")),
                "{file} {path:?}: {problems:#?}"
            );
        }
    }
}
