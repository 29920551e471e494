//! Properties of the parsers of outside input, over generated input: each never panics, and
//! either accepts with the documented meaning or refuses with a reason.

use proptest::prelude::*;
use serde_json::{json, Map, Value};

use crate::config::validate;
use crate::feature::{FeatureKey, MAX_FEATURE_KEY_BYTES};
use crate::limits::MAX_LIMIT;
use crate::metric::Metric;
use crate::telemetry::{Telemetry, MAX_AGE_MS, MAX_AHEAD_MS, MAX_AMOUNT};

const RECEIVED: u64 = 1_795_311_370_000;

/// Text with the characters that matter here: separators, whitespace, controls, invisible
/// formatting characters, non-ASCII letters.
fn text(max: usize) -> impl Strategy<Value = String> {
    let chars = prop_oneof![
        4 => proptest::char::range('a', 'z'),
        1 => Just(':'),
        1 => Just(' '),
        1 => Just('\u{202E}'),
        1 => Just('\u{200B}'),
        1 => Just('\u{0007}'),
        1 => Just('é'),
        1 => any::<char>(),
    ];
    proptest::collection::vec(chars, 0..max).prop_map(|chars| chars.into_iter().collect())
}

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        (0.0..2e15f64).prop_map(|f| json!(f)),
        Just(json!(1e308)),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        number(),
        text(12).prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 40, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            proptest::collection::btree_map(text(8), inner, 0..5)
                .prop_map(|map| Value::Object(map.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn metric_name() -> impl Strategy<Value = String> {
    prop_oneof![
        proptest::sample::select(Metric::ALL).prop_map(|m| m.telemetry_name().to_owned()),
        text(10),
    ]
}

/// Messages shaped like the consumers' with every field drawn from what may arrive.
fn message() -> impl Strategy<Value = Value> {
    let feature_key = prop_oneof![
        (text(12), text(12), text(12)).prop_map(|(p, c, f)| Value::String(format!("{p}:{c}:{f}"))),
        (1..300usize).prop_map(|n| Value::String(format!("app:api:{}", "x".repeat(n)))),
        value(),
    ];
    let timestamp = prop_oneof![
        Just(Value::Null),
        (RECEIVED - 40 * 86_400_000..RECEIVED + 2 * 3_600_000).prop_map(Value::from),
        Just(Value::from(RECEIVED / 1000)),
        number(),
    ];
    let metrics = proptest::collection::btree_map(metric_name(), prop_oneof![number(), value()], 0..6)
        .prop_map(|map| Value::Object(map.into_iter().collect()));
    (feature_key, timestamp, metrics, value()).prop_map(|(feature_key, timestamp, metrics, extra)| {
        json!({"feature_key": feature_key, "timestamp": timestamp, "metrics": metrics, "error_count": extra})
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn a_telemetry_message_is_counted_as_documented_or_refused_with_a_reason(body in prop_oneof![message(), value()]) {
        match Telemetry::parse(&body, RECEIVED) {
            Ok(parsed) => {
                prop_assert!(parsed.feature.as_str().len() <= MAX_FEATURE_KEY_BYTES);
                prop_assert_eq!(Some(parsed.feature.as_str()), body["feature_key"].as_str());
                prop_assert!(parsed.timestamp >= RECEIVED - MAX_AGE_MS && parsed.timestamp <= RECEIVED + MAX_AHEAD_MS);
                for (metric, amount) in &parsed.metrics {
                    prop_assert!(amount.is_finite() && *amount > 0.0 && *amount <= MAX_AMOUNT);
                    let sent = body["metrics"][metric.telemetry_name()].as_f64();
                    prop_assert_eq!(sent, Some(*amount), "counted as sent");
                }
                for name in &parsed.ignored {
                    prop_assert!(Metric::from_telemetry_name(name).is_none());
                }
            }
            Err(rejection) => {
                prop_assert!(!rejection.field.is_empty() && !rejection.reason.is_empty());
            }
        }
    }

    #[test]
    fn a_feature_key_is_kept_exactly_or_refused_with_a_reason(raw in prop_oneof![text(40), (1..400usize).prop_map(|n| format!("a:b:{}", "é".repeat(n)))]) {
        match FeatureKey::parse(&raw) {
            Ok(key) => {
                prop_assert_eq!(key.as_str(), raw.as_str());
                prop_assert!(raw.len() <= MAX_FEATURE_KEY_BYTES);
                prop_assert_eq!(format!("{}:{}:{}", key.project(), key.category(), key.feature()), raw.clone());
                let unclear = ['\u{202E}', '\u{200B}'];
                let printable = !raw.chars().any(|c| c.is_control() || c.is_whitespace() || unclear.contains(&c));
                prop_assert!(printable);
                prop_assert!(key.project().as_str().is_ascii());
            }
            Err(error) => prop_assert!(!error.to_string().is_empty()),
        }
    }

    #[test]
    fn config_documents_validate_or_list_their_problems(services in config_services(), budgets in config_budgets()) {
        match validate(&services, &budgets) {
            Ok(config) => {
                let mut slugs: Vec<String> = config.services.projects.keys().map(|p| p.as_str().to_ascii_uppercase()).collect();
                let count = slugs.len();
                slugs.sort();
                slugs.dedup();
                prop_assert_eq!(slugs.len(), count, "project slugs unique once upper-cased");
                for (_, limits) in config.feature_budgets() {
                    for limit in limits.daily.0.values().chain(limits.monthly.0.values()) {
                        prop_assert!(limit.0 <= MAX_LIMIT);
                    }
                }
            }
            Err(problems) => {
                prop_assert!(!problems.is_empty());
                for problem in problems {
                    prop_assert!(!problem.reason.is_empty());
                }
            }
        }
    }

    #[test]
    fn strict_json_reads_what_serde_writes_and_never_panics(value in value(), noise in text(30)) {
        let written = serde_json::to_string(&value).unwrap();
        let plain: Value = serde_json::from_str(&written).unwrap();
        prop_assert_eq!(crate::json::parse(&written).unwrap(), plain);
        let _ = crate::json::parse(&noise);
    }
}

fn config_services() -> impl Strategy<Value = Value> {
    let slug = prop_oneof![
        Just("casey".to_owned()),
        Just("CASEY".to_owned()),
        Just("shop".to_owned()),
        text(8)
    ];
    let project = (text(6), prop_oneof![Just(json!({"main": {}})), value()])
        .prop_map(|(category, features)| json!({"repository": "acme/app", "features": {category: features}}));
    prop_oneof![
        proptest::collection::btree_map(slug, project, 0..4)
            .prop_map(|projects| json!({"projects": projects})),
        value(),
    ]
}

fn config_budgets() -> impl Strategy<Value = Value> {
    let limits = proptest::collection::btree_map(
        prop_oneof![
            proptest::sample::select(Metric::ALL).prop_map(|m| m.budget_name().to_owned()),
            text(6)
        ],
        prop_oneof![number(), value()],
        0..4,
    );
    prop_oneof![
        limits.prop_map(|daily| json!({"defaults": {"daily": daily}})),
        value(),
    ]
}
