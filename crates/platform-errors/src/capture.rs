//! From tail events to occurrences (one per error an invocation reports), and from occurrences to
//! one aggregate per fingerprint per batch.

use std::collections::BTreeMap;

use crate::event::{ErrorKind, TailEvent};
use crate::fingerprint::{fingerprint, Components};
use crate::normalize::{core_message, normalize, route};
use crate::patterns::Patterns;
use crate::redact::{bounded, redact, redact_url};
use crate::render::title;
use crate::transient;

/// The project of events whose script has no `SCRIPT_MAP` entry.
pub const UNMAPPED_PROJECT: &str = "unmapped";
/// The script of events without a script name.
pub const UNKNOWN_SCRIPT: &str = "unknown-script";
/// Log lines kept per occurrence, and characters per line.
const KEPT_LOGS: usize = 10;
const LOG_CHARS: usize = 500;
/// Error and warning logs of one event that may each become an occurrence: a loop that logs
/// 10,000 distinct errors is one incident, and each occurrence costs a D1 write.
pub const MAX_LOG_OCCURRENCES: usize = 20;
/// Error and warning logs of one event that are examined at all.
const MAX_LOGS_EXAMINED: usize = 1_000;

/// Where a script's errors go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptInfo {
    pub project: String,
    /// `owner/name`; `None` when nobody said where to file issues.
    pub repository: Option<String>,
    /// The project's tier; `None` when unmapped.
    pub tier: Option<u8>,
}

impl ScriptInfo {
    pub fn unmapped(default_repository: Option<String>) -> Self {
        Self {
            project: UNMAPPED_PROJECT.to_owned(),
            repository: default_repository,
            tier: None,
        }
    }
}

/// One error of one invocation, already redacted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occurrence {
    pub fingerprint: String,
    pub script: String,
    pub kind: ErrorKind,
    pub exception: Option<String>,
    pub category: Option<String>,
    /// The normalised message.
    pub message: String,
    pub title: String,
    /// The last raw message, redacted and cut.
    pub sample: String,
    /// Request/cron/queue context, version: redacted.
    pub context: String,
    pub logs: Vec<String>,
    pub at: u64,
}

/// A log line cut before redaction: only its first [`LOG_CHARS`] characters are kept.
fn bounded_chars(text: &str) -> &str {
    let end = text
        .char_indices()
        .nth(LOG_CHARS * 2)
        .map_or(text.len(), |(i, _)| i);
    bounded(&text[..end])
}

fn cut(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

fn context(event: &TailEvent) -> String {
    let t = &event.trigger;
    let mut parts = Vec::new();
    if let Some(url) = &t.url {
        parts.push(format!(
            "{} {}",
            t.method.as_deref().unwrap_or("GET"),
            redact_url(url)
        ));
    }
    if let Some(status) = t.status {
        parts.push(format!("status {status}"));
    }
    if let Some(cron) = &t.cron {
        parts.push(format!("cron {cron}"));
    }
    if let Some(queue) = &t.queue {
        parts.push(format!("queue {queue}"));
    }
    if let Some(version) = &event.version {
        parts.push(format!("version {}", cut(version, 40)));
    }
    parts.push(format!(
        "outcome {}",
        if event.outcome.is_empty() {
            "?"
        } else {
            &event.outcome
        }
    ));
    redact(&parts.join(", "))
}

/// The occurrences an event reports. `script` is the event's script (or [`UNKNOWN_SCRIPT`]).
pub fn capture(event: &TailEvent, script: &str, patterns: &Patterns, now: u64) -> Vec<Occurrence> {
    let at = event.timestamp.unwrap_or(now);
    let logs: Vec<String> = event
        .logs
        .iter()
        .rev()
        .take(KEPT_LOGS)
        .rev()
        .map(|log| {
            format!(
                "[{}] {}",
                log.level,
                cut(&redact(bounded_chars(&log.text)), LOG_CHARS)
            )
        })
        .collect();
    let context = context(event);
    let route = route(event.trigger.url.as_deref());
    let make = |kind: ErrorKind, exception: Option<&str>, raw: &str| -> Occurrence {
        // Nothing past the bound is shown, so nothing past it is classified or scanned.
        let raw = bounded(raw);
        let limit = matches!(kind, ErrorKind::CpuLimit | ErrorKind::MemoryLimit);
        let category = if limit {
            None
        } else {
            transient::classify(raw, exception)
                .map(str::to_owned)
                .or_else(|| {
                    // The text pattern discovery backtests and shadow-tests: a JSON log line's
                    // `.message`, as the stored sample.
                    (!transient::is_programming_error(exception))
                        .then(|| patterns.classify(&core_message(raw)).map(str::to_owned))
                        .flatten()
                })
        };
        // Redacted before normalising: a secret never shapes the fingerprint nor reaches an issue.
        let message = if limit {
            String::new()
        } else {
            normalize(&redact(&core_message(raw)))
        };
        let with_route = matches!(kind, ErrorKind::Exception | ErrorKind::SoftError);
        let fingerprint = fingerprint(&Components {
            script,
            kind: kind.as_str(),
            exception,
            category_or_message: category.as_deref().unwrap_or(&message),
            route: if with_route { route.as_deref() } else { None },
        });
        let sample = cut(&redact(&core_message(raw)), LOG_CHARS);
        Occurrence {
            title: title(script, kind, exception, &sample),
            fingerprint,
            script: script.to_owned(),
            kind,
            exception: exception.map(str::to_owned),
            category,
            message,
            sample,
            context: context.clone(),
            logs: logs.clone(),
            at,
        }
    };

    let mut found: Vec<Occurrence> = Vec::new();
    if let Some(kind) = ErrorKind::of_outcome(&event.outcome) {
        let failure = match (event.exceptions.first(), kind) {
            (Some(e), _) => make(kind, Some(&e.name), &e.message),
            (None, ErrorKind::Exception | ErrorKind::UnknownOutcome) => {
                let log = event.logs.iter().find(|l| l.level == "error");
                make(
                    kind,
                    None,
                    log.map_or(event.outcome.as_str(), |l| l.first.as_str()),
                )
            }
            (None, _) => make(kind, None, ""),
        };
        found.push(failure);
    }
    let mut from_logs = 0;
    let mut examined = 0;
    for log in &event.logs {
        if from_logs == MAX_LOG_OCCURRENCES || examined == MAX_LOGS_EXAMINED {
            break;
        }
        let kind = match log.level.as_str() {
            "error" => ErrorKind::SoftError,
            "warn" => ErrorKind::Warning,
            _ => continue,
        };
        examined += 1;
        let occurrence = make(kind, None, &log.first);
        let repeats_failure = found.first().is_some_and(|f| f.message == occurrence.message);
        if !repeats_failure && !found.iter().any(|o| o.fingerprint == occurrence.fingerprint) {
            found.push(occurrence);
            from_logs += 1;
        }
    }
    found
}

/// One fingerprint's occurrences within a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aggregate {
    pub count: u64,
    pub first_at: u64,
    /// The latest occurrence: its context becomes the fingerprint's last context.
    pub last: Occurrence,
}

/// Groups occurrences by fingerprint.
pub fn aggregate(occurrences: Vec<Occurrence>) -> BTreeMap<String, Aggregate> {
    let mut groups: BTreeMap<String, Aggregate> = BTreeMap::new();
    for occurrence in occurrences {
        match groups.get_mut(&occurrence.fingerprint) {
            Some(group) => {
                group.count += 1;
                group.first_at = group.first_at.min(occurrence.at);
                if occurrence.at >= group.last.at {
                    group.last = occurrence;
                }
            }
            None => {
                groups.insert(
                    occurrence.fingerprint.clone(),
                    Aggregate {
                        count: 1,
                        first_at: occurrence.at,
                        last: occurrence,
                    },
                );
            }
        }
    }
    groups
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(value: serde_json::Value) -> TailEvent {
        TailEvent::from_json(&value).unwrap()
    }

    fn exception(message: &str, url: &str) -> TailEvent {
        event(json!({
            "scriptName": "shop", "outcome": "exception", "eventTimestamp": 5,
            "event": {"request": {"url": url, "method": "POST"}},
            "exceptions": [{"name": "Error", "message": message}], "logs": []
        }))
    }

    #[test]
    fn identical_errors_share_a_fingerprint_and_distinct_ones_do_not() {
        let p = Patterns::default();
        let a = capture(
            &exception("order 17 failed", "https://shop.example/orders/17?t=secret"),
            "shop",
            &p,
            0,
        );
        let b = capture(
            &exception("order 99 failed", "https://shop.example/orders/99"),
            "shop",
            &p,
            0,
        );
        let c = capture(
            &exception("cart exploded", "https://shop.example/orders/99"),
            "shop",
            &p,
            0,
        );
        assert_eq!(a[0].fingerprint, b[0].fingerprint);
        assert_ne!(a[0].fingerprint, c[0].fingerprint);
        assert!(!a[0].context.contains("secret"));
        let groups = aggregate([a, b, c.clone()].concat());
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[&c[0].fingerprint].count, 1);
    }

    #[test]
    fn nothing_shown_carries_a_secret() {
        let p = Patterns::default();
        let o = &capture(
            &exception(
                "login failed for jane@example.com password=hunter2",
                "https://s.example/a?k=v",
            ),
            "s",
            &p,
            0,
        )[0];
        for shown in [&o.message, &o.sample, &o.title, &o.context] {
            assert!(
                !shown.contains("jane@example.com") && !shown.contains("hunter2"),
                "{shown}"
            );
        }
    }

    #[test]
    fn transient_errors_group_by_category() {
        let p = Patterns::default();
        let a = capture(
            &exception("upstream said 503 at 12:00", "https://s.example/a"),
            "shop",
            &p,
            0,
        );
        let b = capture(
            &exception("Service Unavailable (try later)", "https://s.example/a"),
            "shop",
            &p,
            0,
        );
        assert_eq!(a[0].category.as_deref(), Some("service-unavailable"));
        assert_eq!(a[0].fingerprint, b[0].fingerprint);
    }

    #[test]
    fn every_outcome_and_log_level_is_captured() {
        let p = Patterns::default();
        for outcome in [
            "exceededCpu",
            "exceededMemory",
            "canceled",
            "scriptNotFound",
            "responseStreamDisconnected",
            "brandNew",
        ] {
            let found = capture(&event(json!({"scriptName": "s", "outcome": outcome})), "s", &p, 0);
            assert_eq!(found.len(), 1, "{outcome}");
        }
        let ok = event(json!({"outcome": "ok", "logs": [
            {"level": "error", "message": [r#"{"message":"db write failed id 7"}"#]},
            {"level": "error", "message": [r#"{"message":"db write failed id 8"}"#]},
            {"level": "warn", "message": ["slow query"]},
            {"level": "log", "message": ["fine"]}
        ]}));
        let found = capture(&ok, UNKNOWN_SCRIPT, &p, 0);
        let kinds: Vec<_> = found.iter().map(|o| o.kind).collect();
        assert_eq!(kinds, [ErrorKind::SoftError, ErrorKind::Warning]);
        assert!(capture(&event(json!({"outcome": "ok"})), "s", &p, 0).is_empty());
    }

    #[test]
    fn a_flood_of_error_logs_makes_a_bounded_number_of_occurrences() {
        let logs: Vec<_> = (0..10_000)
            .map(|i: u32| {
                // Distinct words (numbers would be normalised away): aaa, aab, ...
                let word: String = [i / 676, i / 26 % 26, i % 26]
                    .iter()
                    .map(|d| char::from(b'a' + *d as u8 % 26))
                    .collect();
                json!({"level": "error", "message": [format!("step {word} failed")]})
            })
            .collect();
        let huge = "y".repeat(1_000_000);
        let flood = event(
            json!({"outcome": "exception", "exceptions": [{"name": "Error", "message": huge}], "logs": logs}),
        );
        let started = std::time::Instant::now();
        let found = capture(&flood, "s", &Patterns::default(), 0);
        assert!(
            found.len() <= 1 + MAX_LOG_OCCURRENCES,
            "{} occurrences",
            found.len()
        );
        assert!(found.len() > 1);
        assert!(found[0].sample.chars().count() <= LOG_CHARS);
        assert!(started.elapsed().as_secs() < 5, "{:?}", started.elapsed());
    }

    #[test]
    fn approved_patterns_classify_but_not_programming_errors() {
        let p =
            Patterns::parse(&[json!({"type": "contains", "value": "vendor flaky", "category": "vendor"})]);
        let soft =
            event(json!({"outcome": "ok", "logs": [{"level": "error", "message": ["vendor is flaky"]}]}));
        assert_eq!(capture(&soft, "s", &p, 0)[0].category.as_deref(), Some("vendor"));
        let bug = event(
            json!({"outcome": "exception", "exceptions": [{"name": "TypeError", "message": "vendor flaky"}]}),
        );
        assert_eq!(capture(&bug, "s", &p, 0)[0].category, None);
    }
}
