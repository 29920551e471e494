//! Properties of the collector's parsers of outside input (tail events, webhook payloads and
//! signatures), over generated input: each never panics, and either reads the input or refuses it
//! with a reason.

use platform_errors::capture::capture;
use platform_errors::event::TailEvent;
use platform_errors::patterns::Patterns;
use platform_errors::webhook::{issue_change, signature_valid};
use proptest::prelude::*;
use serde_json::{json, Value};

/// Any JSON value, nested a few levels, with the strings that matter to the collector.
fn value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,24}".prop_map(Value::from),
        Just(json!("https://user:pass@app.example/x?token=abc")),
        Just(json!("@everyone [link](https://evil.example)")),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map(
                prop_oneof![
                    Just("scriptName".to_owned()),
                    Just("outcome".to_owned()),
                    Just("exceptions".to_owned()),
                    Just("logs".to_owned()),
                    Just("event".to_owned()),
                    Just("message".to_owned()),
                    Just("level".to_owned()),
                    Just("issue".to_owned()),
                    Just("action".to_owned()),
                    ".{0,6}".prop_map(String::from),
                ],
                inner,
                0..5
            )
            .prop_map(|map| Value::Object(map.into_iter().collect())),
        ]
    })
}

/// Event-shaped objects, so the readers get past their first field.
fn event() -> impl Strategy<Value = Value> {
    (value(), value(), value(), value()).prop_map(|(outcome, exceptions, logs, request)| {
        json!({
            "scriptName": "shop-api",
            "outcome": outcome,
            "eventTimestamp": 1_795_311_370_000_u64,
            "event": {"request": request},
            "exceptions": exceptions,
            "logs": logs,
        })
    })
}

proptest! {
    #[test]
    fn a_tail_event_is_read_or_refused_with_a_reason_and_capture_never_panics(
        value in prop_oneof![value(), event()], garble in any::<bool>(),
    ) {
        let mut text = value.to_string();
        if garble {
            let half = (0..=text.len() / 2).rev().find(|&i| text.is_char_boundary(i)).unwrap_or(0);
            text.truncate(half);
        }
        match TailEvent::from_json_text(&text) {
            Ok(event) => {
                for occurrence in capture(&event, "shop-api", &Patterns::default(), 1_795_311_370_000) {
                    prop_assert!(!occurrence.fingerprint.is_empty());
                    prop_assert_eq!(occurrence.script.as_str(), "shop-api");
                }
            }
            Err(reason) => prop_assert!(!reason.is_empty()),
        }
    }

    #[test]
    fn a_webhook_payload_is_read_or_refused_with_a_reason(payload in value(), action in ".{0,10}") {
        let shaped = json!({"action": action, "issue": payload.clone()});
        for payload in [payload, shaped] {
            if let Err(reason) = issue_change(&payload) {
                prop_assert!(!reason.is_empty());
            }
        }
    }

    #[test]
    fn a_signature_is_checked_without_panicking(body in prop::collection::vec(any::<u8>(), 0..64), signature in ".{0,80}") {
        prop_assert!(!signature_valid("secret", &body, &signature) || signature.starts_with("sha256="));
    }
}
