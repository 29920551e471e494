//! Events the collector could not record in the invocation that received them: the tail runtime
//! never delivers an event twice, so the events D1 refused (or those past one invocation's
//! write budget) wait on the collector's own queue, one event a message, until a later run
//! records them through the same pipeline.

use std::collections::BTreeSet;

use platform_core::sorted::CollectSorted;
use serde_json::{json, Value};

use crate::capture::Occurrence;
use crate::event::TailEvent;
use crate::redact::MAX_SCAN;

/// Fingerprints one invocation records: each costs a D1 statement and, at worst, a few more
/// for its issue, well under the 1,000 queries an invocation may make.
pub const MAX_GROUPS_PER_RUN: usize = 100;

/// Log lines a deferred event keeps: the last ones (shown in the issue) and the first error and
/// warning lines (that become occurrences); characters per argument kept.
const LAST_LOGS: usize = 10;
const FIRST_ERROR_LOGS: usize = 40;
const LOG_CHARS: usize = 500;

fn cut(text: &str, max: usize) -> String {
    text.chars().take(max).collect()
}

/// How many of `captured` (each event's occurrences, in order) fit one run's budget: at least
/// one event, then as long as the distinct fingerprints stay within `max`.
pub fn within_budget(captured: &[Vec<Occurrence>], max: usize) -> usize {
    let mut seen = BTreeSet::new();
    for (i, occurrences) in captured.iter().enumerate() {
        let new = occurrences
            .iter()
            .filter(|o| !seen.contains(o.fingerprint.as_str()))
            .count();
        if i > 0 && seen.len() + new > max {
            return i;
        }
        seen.extend(occurrences.iter().map(|o| o.fingerprint.as_str()));
    }
    captured.len()
}

/// `event` as a `TraceItem` that [`TailEvent::from_json`] reads back to what the collector
/// uses of it, bounded to fit a queue message (128 KB): the first exception, the last and the
/// first error and warning log lines, cut.
pub fn trace_item(event: &TailEvent) -> Value {
    let errors = event
        .logs
        .iter()
        .enumerate()
        .filter(|(_, log)| matches!(log.level.as_str(), "error" | "warn"))
        .take(FIRST_ERROR_LOGS)
        .map(|(i, _)| i);
    let last = event.logs.len().saturating_sub(LAST_LOGS)..event.logs.len();
    let kept: BTreeSet<usize> = errors.chain(last).collect_set();
    let logs: Vec<Value> = kept
        .into_iter()
        .filter_map(|i| event.logs.get(i))
        .map(|log| {
            // `first` and the rest: read back, their join is the line's text again.
            let rest = log
                .text
                .strip_prefix(log.first.as_str())
                .unwrap_or("")
                .trim_start_matches(' ');
            let mut message = vec![json!(cut(&log.first, LOG_CHARS))];
            if !rest.is_empty() {
                message.push(json!(cut(rest, LOG_CHARS)));
            }
            json!({ "level": log.level, "message": message })
        })
        .collect();
    let exceptions: Vec<Value> = event
        .exceptions
        .first()
        .map(|e| json!({ "name": e.name, "message": cut(&e.message, MAX_SCAN) }))
        .into_iter()
        .collect();
    let t = &event.trigger;
    json!({
        "scriptName": event.script, "outcome": event.outcome, "eventTimestamp": event.timestamp,
        "scriptVersion": { "id": event.version },
        "event": {
            "request": { "url": t.url.as_deref().map(|u| cut(u, 2_000)), "method": t.method },
            "response": { "status": t.status }, "cron": t.cron, "queue": t.queue,
        },
        "exceptions": exceptions, "logs": logs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::capture::{aggregate, capture};
    use crate::patterns::Patterns;

    fn event(logs: usize) -> TailEvent {
        shifted(logs, 0)
    }

    fn shifted(logs: usize, shift: usize) -> TailEvent {
        let logs: Vec<_> = (shift..shift + logs)
            .map(|i| {
                let word: String = [i / 676, i / 26 % 26, i % 26].iter().map(|d| char::from(b'a' + (*d % 26) as u8)).collect();
                json!({"level": if i % 3 == 0 { "log" } else { "error" }, "message": [format!("{word} failed"), {"id": i}, "x".repeat(2_000)]})
            })
            .collect();
        TailEvent::from_json(&json!({
            "scriptName": "shop", "outcome": "exception", "eventTimestamp": 7, "scriptVersion": {"id": "v9"},
            "event": {"request": {"url": "https://shop.example/a", "method": "POST"}, "response": {"status": 500}},
            "exceptions": [{"name": "TypeError", "message": "y".repeat(1_000_000)}],
            "logs": logs,
        }))
        .unwrap()
    }

    #[test]
    fn a_deferred_event_reads_back_to_the_same_occurrences_and_fits_a_message() {
        let p = Patterns::default();
        for original in [event(3), event(5_000)] {
            let item = trace_item(&original);
            assert!(
                item.to_string().len() < 128_000,
                "{} bytes",
                item.to_string().len()
            );
            let back = TailEvent::from_json_text(&item.to_string()).unwrap();
            assert_eq!(
                aggregate(capture(&back, "shop", &p, 0)),
                aggregate(capture(&original, "shop", &p, 0))
            );
        }
    }

    #[test]
    fn events_are_kept_while_their_fingerprints_fit_the_budget() {
        let p = Patterns::default();
        let captured: Vec<_> = (0..10).map(|_| capture(&event(30), "shop", &p, 0)).collect();
        let distinct = captured[0].len();
        assert!(distinct > 10);
        // The same fingerprints again cost nothing: every event fits.
        assert_eq!(within_budget(&captured, distinct), 10);
        let varied: Vec<_> = (0..10)
            .map(|i| capture(&shifted(30, i * 30), "shop", &p, 0))
            .collect();
        assert!(within_budget(&varied, distinct) < 10);
        // One event always goes, whatever it costs.
        assert_eq!(within_budget(&varied[..1], 1), 1);
        assert_eq!(within_budget(&[], 1), 0);
    }
}
