//! The telemetry message consumers send to `PLATFORM_TELEMETRY`, exactly as the consumer SDK writes
//! it: snake_case top level, camelCase `metrics`, `timestamp` in ms. Unknown fields are ignored, and
//! so are unknown metrics (named in [`Telemetry::ignored`], so a newer SDK's additions are seen, not
//! lost with the usage beside them); a message that cannot be used is refused with a reason naming
//! the field. Everything that later becomes a key, a total or a period is bounded here.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};

use crate::feature::FeatureKey;
use crate::metric::Metric;
use crate::time::EpochMs;

/// A usable telemetry message.
#[derive(Debug, Clone, PartialEq)]
pub struct Telemetry {
    pub feature: FeatureKey,
    /// When the consumer flushed it; the day it counts towards.
    pub timestamp: EpochMs,
    pub kind: Kind,
    /// Known metrics, each finite and non-negative; zero values are left out.
    pub metrics: BTreeMap<Metric, f64>,
    pub error_count: u64,
    pub error_category: Option<String>,
    pub error_codes: Vec<String>,
    pub correlation_id: Option<String>,
    pub external_cost_usd: f64,
    /// The `metrics` entries not understood (unknown names), left out of every total.
    pub ignored: Vec<String>,
}

/// The largest amount one message may report for a metric (1e15; messages say so), an error count or a cost: far beyond
/// any one flush, and small enough that no sum of them overflows a total.
pub const MAX_AMOUNT: f64 = 1e15;
/// How far before its receipt a message's `timestamp` may be (a dead letter replayed weeks later
/// still counts in its own day; a 1970 date does not).
pub const MAX_AGE_MS: EpochMs = 35 * 86_400_000;
/// How far after its receipt a message's `timestamp` may be (clock skew).
pub const MAX_AHEAD_MS: EpochMs = 3_600_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Usage,
    Heartbeat,
}

/// Why a message was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// The offending field, as a path (`metrics.kvReads`), or `$` for the whole message.
    pub field: String,
    pub reason: String,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.reason)
    }
}

impl std::error::Error for Rejection {}

fn reject(field: impl Into<String>, reason: impl Into<String>) -> Rejection {
    Rejection {
        field: field.into(),
        reason: reason.into(),
    }
}

/// Metric-like fields that are not budget metrics (latency summaries, per-model breakdowns).
const NON_BUDGET_METRICS: &[&str] = &[
    "doAvgLatencyMs",
    "doMaxLatencyMs",
    "doP99LatencyMs",
    "aiModelBreakdown",
];

impl Telemetry {
    /// Parses a message body. `enqueued_at` stands in for a missing `timestamp`.
    pub fn parse(body: &Value, enqueued_at: EpochMs) -> Result<Self, Rejection> {
        let object = body
            .as_object()
            .ok_or_else(|| reject("$", format!("expected a JSON object, found {}", kind_of(body))))?;
        let feature = match object.get("feature_key") {
            Some(Value::String(raw)) => {
                FeatureKey::parse(raw).map_err(|e| reject("feature_key", e.to_string()))?
            }
            Some(other) => {
                return Err(reject(
                    "feature_key",
                    format!("expected a string, found {}", kind_of(other)),
                ))
            }
            None => return Err(reject("feature_key", "missing")),
        };
        let timestamp = match object.get("timestamp") {
            None | Some(Value::Null) => enqueued_at,
            Some(value) => value
                .as_f64()
                .filter(|ms| ms.is_finite() && *ms >= 0.0)
                .map(|ms| ms as EpochMs)
                .ok_or_else(|| {
                    reject(
                        "timestamp",
                        format!("expected milliseconds since the epoch, found {value}"),
                    )
                })
                .and_then(|ms| plausible(ms, enqueued_at))?,
        };
        let kind = if object.get("is_heartbeat") == Some(&Value::Bool(true)) {
            Kind::Heartbeat
        } else {
            Kind::Usage
        };
        let (mut metrics, ignored) = parse_metrics(object.get("metrics"))?;
        let error_count = optional_count(object, "error_count")?;
        let external_cost_usd = optional_amount(object, "external_cost_usd")?;
        // Counted like any metric, so the ledger keeps them and budgets can limit them. Sent both
        // beside and inside `metrics`, an amount is one amount: counted once, refused if they differ.
        for (field, metric, amount) in [
            ("error_count", Metric::Errors, error_count as f64),
            ("external_cost_usd", Metric::ExternalCostUsd, external_cost_usd),
        ] {
            if amount <= 0.0 {
                continue;
            }
            match metrics.insert(metric, amount) {
                Some(inside) if inside != amount => {
                    return Err(reject(
                        field,
                        format!(
                            "is {amount} but metrics.{} is {inside}: send the amount once",
                            metric.telemetry_name()
                        ),
                    ))
                }
                _ => {}
            }
        }
        Ok(Self {
            feature,
            timestamp,
            kind,
            metrics,
            ignored,
            error_count,
            error_category: optional_string(object, "error_category")?,
            error_codes: string_list(object, "error_codes")?,
            correlation_id: optional_string(object, "correlation_id")?,
            external_cost_usd,
        })
    }
}

/// The timestamp, if it can be when the message was flushed: within [`MAX_AGE_MS`] before and
/// [`MAX_AHEAD_MS`] after its receipt. Seconds or microseconds sent for milliseconds are named.
fn plausible(ms: EpochMs, received: EpochMs) -> Result<EpochMs, Rejection> {
    let earliest = received.saturating_sub(MAX_AGE_MS);
    let latest = received.saturating_add(MAX_AHEAD_MS);
    if (earliest..=latest).contains(&ms) {
        return Ok(ms);
    }
    let at = crate::time::iso8601;
    let slip = if (earliest..=latest).contains(&ms.saturating_mul(1000)) {
        "; it looks like seconds: send milliseconds since the epoch"
    } else if (earliest..=latest).contains(&(ms / 1000)) {
        "; it looks like microseconds: send milliseconds since the epoch"
    } else {
        ""
    };
    Err(reject(
        "timestamp",
        format!(
            "{ms} ({}) is not within 35 days before or an hour after the message was received ({}){slip}",
            at(ms),
            at(received)
        ),
    ))
}

type Metrics = (BTreeMap<Metric, f64>, Vec<String>);

fn parse_metrics(metrics: Option<&Value>) -> Result<Metrics, Rejection> {
    let object = match metrics {
        None | Some(Value::Null) => return Ok((BTreeMap::new(), Vec::new())),
        Some(Value::Object(object)) => object,
        Some(other) => {
            return Err(reject(
                "metrics",
                format!("expected an object, found {}", kind_of(other)),
            ))
        }
    };
    let mut parsed = BTreeMap::new();
    let mut ignored = Vec::new();
    for (name, value) in object {
        if NON_BUDGET_METRICS.contains(&name.as_str()) {
            continue;
        }
        let Some(metric) = Metric::from_telemetry_name(name) else {
            ignored.push(name.chars().take(64).collect());
            continue;
        };
        let number = amount(value).map_err(|reason| reject(format!("metrics.{name}"), reason))?;
        // The cost is derived from the others, never taken from the sender.
        if number > 0.0 && metric != Metric::CostUsd {
            parsed.insert(metric, number);
        }
    }
    Ok((parsed, ignored))
}

/// A finite, non-negative number no larger than [`MAX_AMOUNT`].
fn amount(value: &Value) -> Result<f64, String> {
    match value.as_f64() {
        // Named, not printed: a number this large prints as hundreds of digits.
        Some(n) if n > MAX_AMOUNT => Err("is more than one message may report (1e15)".to_owned()),
        Some(n) if n.is_finite() && n >= 0.0 => Ok(n),
        Some(n) => Err(format!("{n} is negative")),
        None => Err(format!("expected a number, found {}", kind_of(value))),
    }
}

fn optional_amount(object: &Map<String, Value>, field: &str) -> Result<f64, Rejection> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(0.0),
        Some(value) => amount(value).map_err(|reason| reject(field, reason)),
    }
}

fn optional_count(object: &Map<String, Value>, field: &str) -> Result<u64, Rejection> {
    optional_amount(object, field).map(|n| n.round() as u64)
}

fn optional_string(object: &Map<String, Value>, field: &str) -> Result<Option<String>, Rejection> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(other) => Err(reject(
            field,
            format!("expected a string, found {}", kind_of(other)),
        )),
    }
}

fn string_list(object: &Map<String, Value>, field: &str) -> Result<Vec<String>, Rejection> {
    match object.get(field) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                item.as_str().map(str::to_owned).ok_or_else(|| {
                    reject(
                        format!("{field}[{i}]"),
                        format!("expected a string, found {}", kind_of(item)),
                    )
                })
            })
            .collect(),
        Some(other) => Err(reject(
            field,
            format!("expected an array of strings, found {}", kind_of(other)),
        )),
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const ENQUEUED: EpochMs = 1_795_311_370_000;

    #[test]
    fn parses_the_message_consumers_send() {
        let body = json!({"feature_key":"demo-app:api:main","project":"demo-app","category":"api","feature":"main",
            "metrics":{"kvReads":1,"kvWrites":1,"kvDeletes":1,"kvLists":1,"doAvgLatencyMs":2.5,
                       "aiModelBreakdown":{"@cf/llama":2},"futureMetric":3},
            "timestamp":1795311370424_u64,"correlation_id":"corr-123","request_duration_ms":81,
            "trace_id":"cc0604a4a5d01154b0f38aa2998dc986","span_id":"ddf015342f028420","unknown":{"x":1}});
        let parsed = Telemetry::parse(&body, ENQUEUED).unwrap();
        assert_eq!(parsed.feature.as_str(), "demo-app:api:main");
        assert_eq!(parsed.timestamp, 1_795_311_370_424);
        assert_eq!(parsed.kind, Kind::Usage);
        assert_eq!(parsed.metrics.len(), 4);
        assert_eq!(parsed.metrics[&Metric::KvReads], 1.0);
        assert_eq!(parsed.correlation_id.as_deref(), Some("corr-123"));
    }

    #[test]
    fn an_amount_sent_both_beside_and_inside_the_metrics_counts_once_or_is_refused() {
        let mirrored = json!({"feature_key":"a:b:c","error_count":3,"external_cost_usd":0.5,
            "metrics":{"errorCount":3,"externalCostUsd":0.5,"kvReads":2}});
        let parsed = Telemetry::parse(&mirrored, ENQUEUED).unwrap();
        assert_eq!(parsed.metrics[&Metric::Errors], 3.0, "not 6");
        assert_eq!(parsed.metrics[&Metric::ExternalCostUsd], 0.5, "not 1.0");
        let errors = json!({"feature_key":"a:b:c","error_count":3,"metrics":{"errorCount":2}});
        let refused = Telemetry::parse(&errors, ENQUEUED).unwrap_err();
        assert_eq!(refused.field, "error_count");
        assert_eq!(
            refused.reason,
            "is 3 but metrics.errorCount is 2: send the amount once"
        );
        let cost = json!({"feature_key":"a:b:c","external_cost_usd":0.25,"metrics":{"externalCostUsd":1}});
        let refused = Telemetry::parse(&cost, ENQUEUED).unwrap_err();
        assert_eq!(refused.field, "external_cost_usd");
        assert!(
            refused.reason.contains("0.25") && refused.reason.contains("is 1"),
            "{}",
            refused.reason
        );
    }

    #[test]
    fn parses_heartbeats_and_error_reports() {
        let heartbeat =
            json!({"feature_key":"a:b:c","metrics":{},"timestamp":ENQUEUED - 1,"is_heartbeat":true});
        assert_eq!(
            Telemetry::parse(&heartbeat, ENQUEUED).unwrap().kind,
            Kind::Heartbeat
        );
        let error = json!({"feature_key":"a:b:c","metrics":{"kvReads":1},"error_count":1,
            "error_category":"EXTERNAL_API","error_codes":["HTTP_502"]});
        let parsed = Telemetry::parse(&error, ENQUEUED).unwrap();
        assert_eq!((parsed.error_count, parsed.error_codes.len()), (1, 1));
        assert_eq!(
            parsed.metrics[&Metric::Errors],
            1.0,
            "errors are counted as a metric"
        );
        let costly = json!({"feature_key":"a:b:c","external_cost_usd":0.25,"metrics":{"costUsd":9}});
        let parsed = Telemetry::parse(&costly, ENQUEUED).unwrap();
        assert_eq!(parsed.metrics[&Metric::ExternalCostUsd], 0.25);
        assert!(
            !parsed.metrics.contains_key(&Metric::CostUsd),
            "the cost is never taken as sent"
        );
        assert_eq!(
            parsed.timestamp, ENQUEUED,
            "a missing timestamp falls back to the enqueue time"
        );
    }

    #[test]
    fn refuses_unusable_messages_naming_the_field() {
        for (body, expected) in [
            (json!("text"), "$: expected a JSON object, found a string"),
            (json!({"metrics":{}}), "feature_key: missing"),
            (
                json!({"feature_key":":api:main"}),
                "feature_key: feature key \":api:main\" has an empty project",
            ),
            (
                json!({"feature_key":"a:b"}),
                "feature_key: feature key \"a:b\" has 2 part(s)",
            ),
            (
                json!({"feature_key":"a:b:c","metrics":{"kvReads":-1}}),
                "metrics.kvReads: -1 is negative",
            ),
            (
                json!({"feature_key":"a:b:c","metrics":{"kvReads":"1"}}),
                "metrics.kvReads: expected a number, found a string",
            ),
            (
                json!({"feature_key":"a:b:c","metrics":{"kvReads":1e308}}),
                "metrics.kvReads: is more than one message may report (1e15)",
            ),
            (
                json!({"feature_key":"a:b:c","error_count":1e300}),
                "error_count: is more than one message may report",
            ),
            (
                json!({"feature_key":"a:b:c","metrics":[1]}),
                "metrics: expected an object, found an array",
            ),
            (
                json!({"feature_key":"a:b:c","timestamp":"now"}),
                "timestamp: expected milliseconds",
            ),
            (
                json!({"feature_key":"a:b:c","error_codes":["x",1]}),
                "error_codes[1]: expected a string",
            ),
            (
                json!({"feature_key":"a:b:c","external_cost_usd":-0.5}),
                "external_cost_usd: -0.5 is negative",
            ),
        ] {
            let rejection = Telemetry::parse(&body, ENQUEUED).unwrap_err().to_string();
            assert!(rejection.starts_with(expected), "{body}: {rejection}");
        }
    }

    #[test]
    fn ignores_and_names_unknown_metrics_while_the_known_ones_count() {
        let body = json!({"feature_key":"a:b:c","metrics":{"kvReads":2,"futureBreakdown":{"x":1},
            "futureList":[1,2],"futureNegative":-3,"futureText":"many"}});
        let parsed = Telemetry::parse(&body, ENQUEUED).unwrap();
        assert_eq!(parsed.metrics[&Metric::KvReads], 2.0);
        assert_eq!(
            parsed.ignored,
            ["futureBreakdown", "futureList", "futureNegative", "futureText"]
        );
    }

    #[test]
    fn refuses_implausible_timestamps_and_names_a_seconds_slip() {
        let day = 86_400_000;
        for (timestamp, expected) in [
            (
                json!(0),
                "timestamp: 0 (1970-01-01T00:00:00.000Z) is not within 35 days",
            ),
            (
                json!(32_503_680_000_000_u64),
                "(3000-01-01T00:00:00.000Z) is not within",
            ),
            (json!(ENQUEUED / 1000), "it looks like seconds: send milliseconds"),
            (
                json!(ENQUEUED * 1000),
                "it looks like microseconds: send milliseconds",
            ),
            (json!(ENQUEUED - 36 * day), "is not within 35 days before"),
            (json!(ENQUEUED + 2 * 3_600_000), "or an hour after"),
        ] {
            let body = json!({"feature_key":"a:b:c","metrics":{"kvReads":1},"timestamp":timestamp});
            let rejection = Telemetry::parse(&body, ENQUEUED).unwrap_err().to_string();
            assert!(rejection.contains(expected), "{timestamp}: {rejection}");
        }
        for ok in [ENQUEUED - 35 * day, ENQUEUED + 3_600_000, ENQUEUED] {
            let body = json!({"feature_key":"a:b:c","timestamp":ok});
            assert_eq!(Telemetry::parse(&body, ENQUEUED).unwrap().timestamp, ok);
        }
    }
}
