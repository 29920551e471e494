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
    let beside = || prop_oneof![Just(Value::Null), number(), value()];
    (feature_key, timestamp, metrics, beside(), beside()).prop_map(|(feature_key, timestamp, metrics, errors, external)| {
        json!({"feature_key": feature_key, "timestamp": timestamp, "metrics": metrics, "error_count": errors, "external_cost_usd": external})
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
                    prop_assert!(amount.is_finite() && *amount > 0.0);
                    let sent = body["metrics"][metric.telemetry_name()].as_f64().unwrap_or(0.0);
                    // `error_count` and `external_cost_usd` ride beside the metrics and count as
                    // theirs: one amount, however many of the two places carry it.
                    let beside = match metric {
                        Metric::Errors => parsed.error_count as f64,
                        Metric::ExternalCostUsd => parsed.external_cost_usd,
                        _ => 0.0,
                    };
                    prop_assert!(sent <= MAX_AMOUNT && beside <= MAX_AMOUNT);
                    if sent > 0.0 && beside > 0.0 {
                        prop_assert_eq!(sent, beside, "an amount sent twice is the same amount");
                    }
                    prop_assert_eq!(*amount, sent.max(beside), "counted as sent");
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

mod graphql {
    //! Answers of the GraphQL Analytics API, shaped like each dataset's own selection, with every
    //! field drawn from what may arrive: the parser never panics, and what it accepts is every
    //! hour asked for, once, with finite amounts that are not negative.

    use super::*;
    use crate::account::attribution::Attribution;
    use crate::account::datasets::{Dataset, Filter, DATASETS};
    use crate::time::iso8601;

    const HOUR: u64 = 3_600_000;
    /// The start of a UTC day.
    const FROM: u64 = 1_795_305_600_000;

    /// `sum { a b } avg { c }` as an object whose leaves come from `leaf`.
    fn shaped(selection: &str, leaf: &mut dyn FnMut() -> Value) -> Value {
        let mut stack = vec![Map::new()];
        let mut names: Vec<String> = Vec::new();
        let mut last: Option<String> = None;
        for token in selection.split_whitespace() {
            match token {
                "{" => {
                    names.push(last.take().unwrap_or_default());
                    stack.push(Map::new());
                }
                "}" => {
                    if let Some(name) = last.take() {
                        stack.last_mut().unwrap().insert(name, leaf());
                    }
                    let inner = stack.pop().unwrap();
                    stack
                        .last_mut()
                        .unwrap()
                        .insert(names.pop().unwrap_or_default(), Value::Object(inner));
                }
                name => {
                    if let Some(previous) = last.replace(name.to_owned()) {
                        stack.last_mut().unwrap().insert(previous, leaf());
                    }
                }
            }
        }
        if let Some(name) = last {
            stack[0].insert(name, leaf());
        }
        Value::Object(stack.swap_remove(0))
    }

    fn when_of(dataset: &Dataset, hour: u64) -> String {
        match dataset.filter {
            Filter::Datetime => iso8601(FROM + hour * HOUR),
            Filter::Date => iso8601(FROM + hour * HOUR)[..10].to_owned(),
        }
    }

    /// A group: mostly well formed, its numbers and times drawn wide.
    fn group(dataset: &'static Dataset) -> impl Strategy<Value = Value> {
        let numbers = proptest::collection::vec(number(), 16);
        let when = prop_oneof![
            4 => (0..30u64).prop_map(move |hour| Value::String(when_of(dataset, hour))),
            1 => value(),
        ];
        (when, text(10), numbers, number(), value()).prop_map(
            move |(when, resource, numbers, interval, extra)| {
                let mut drawn = numbers.into_iter().cycle();
                let mut leaf = || drawn.next().unwrap_or(Value::Null);
                let mut dimensions = Map::new();
                dimensions.insert(dataset.when.to_owned(), when);
                if let Some(name) = dataset.resource {
                    dimensions.insert(name.to_owned(), Value::String(resource.clone()));
                }
                for name in dataset.dimensions.split_whitespace() {
                    dimensions.insert(name.to_owned(), Value::String(resource.clone()));
                }
                let mut group = match shaped(dataset.selection, &mut leaf) {
                    Value::Object(map) => map,
                    _ => Map::new(),
                };
                group.insert("dimensions".into(), Value::Object(dimensions));
                group.insert("avg".into(), json!({ "sampleInterval": interval }));
                group.insert("extra".into(), extra);
                Value::Object(group)
            },
        )
    }

    fn answer() -> impl Strategy<Value = (&'static Dataset, Value)> {
        proptest::sample::select(DATASETS.iter().collect::<Vec<_>>()).prop_flat_map(|dataset| {
            let groups = prop_oneof![
                6 => proptest::collection::vec(group(dataset), 0..12).prop_map(Value::Array),
                1 => value(),
            ];
            let errors = prop_oneof![
                4 => Just(Value::Null),
                1 => Just(json!([{ "message": "unknown field", "path": ["viewer", "accounts", 0, dataset.id] }])),
                1 => Just(json!([{ "message": "elsewhere", "path": ["viewer", "accounts", 0, "other"] }])),
                1 => value(),
            ];
            (groups, errors).prop_map(move |(groups, errors)| {
                (dataset, json!({ "data": { "viewer": { "accounts": [{ dataset.id: groups }] } }, "errors": errors }))
            })
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        #[test]
        fn a_graphql_answer_is_every_hour_asked_for_once_or_refused_with_a_reason((dataset, body) in answer(), hours in 1..30u64) {
            let owners = Attribution::from_pairs([("api", "shop")]);
            let (from, to) = (FROM, FROM + hours * HOUR);
            match dataset.parse(&body, from, to, &owners) {
                Ok(parsed) => {
                    let starts: Vec<u64> = parsed.hours.iter().map(|h| h.start).collect();
                    prop_assert!(starts.windows(2).all(|w| w[0] < w[1]), "each hour once, in order: {:?}", starts);
                    prop_assert!(starts.iter().all(|s| *s >= from && *s < to && s % HOUR == 0), "{:?}", starts);
                    prop_assert_eq!(starts.len() as u64, hours, "an hour without usage is collected all the same");
                    for hour in &parsed.hours {
                        for line in &hour.lines {
                            prop_assert!(line.amount.is_finite() && line.amount >= 0.0, "{:?}", line);
                        }
                    }
                }
                Err(reason) => prop_assert!(!reason.trim().is_empty()),
            }
        }
    }
}
